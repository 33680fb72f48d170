//! Which layout an NPZ file has, judged from its keys.

/// The layouts we read: NPZ by their keys, HDF5 by their groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// PtychoPINN raw NPZ: `diff3d`, `xcoords`, `ycoords`, `probeGuess` (physics.md §1).
    PinnRaw,
    /// PtychoPINN canonical NPZ: the same with `diffraction` in place of `diff3d`.
    PinnCanonical,
    /// ptychodus diffraction file: `patterns` (counts), optional `indexes`, `bad_pixels`.
    PtychodusDiffraction,
    /// ptychodus product file: `probe`, `object`, `probe_position_x_m`, … (a reconstruction).
    PtychodusProduct,
    /// An HDF5 file (CXI, Eiger/NeXus master, a stack of frames).
    Hdf5(crate::io::hdf5::Hdf5Layout),
}

impl Layout {
    /// Detects the layout from the keys present; `None` when none fits.
    pub fn detect<S: AsRef<str>>(keys: &[S]) -> Option<Self> {
        let has = |k: &str| keys.iter().any(|x| x.as_ref() == k);
        if has("diff3d") {
            Some(Self::PinnRaw)
        } else if has("diffraction") {
            Some(Self::PinnCanonical)
        } else if has("patterns") {
            Some(Self::PtychodusDiffraction)
        } else if has("probe") && has("object") && has("probe_position_x_m") {
            Some(Self::PtychodusProduct)
        } else {
            None
        }
    }

    /// The key holding the diffraction stack, for layouts that have one.
    pub fn diffraction_key(self) -> Option<&'static str> {
        match self {
            Self::PinnRaw => Some("diff3d"),
            Self::PinnCanonical => Some("diffraction"),
            Self::PtychodusDiffraction => Some("patterns"),
            Self::PtychodusProduct | Self::Hdf5(_) => None,
        }
    }

    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::PinnRaw => "PtychoPINN raw NPZ (diff3d)",
            Self::PinnCanonical => "PtychoPINN canonical NPZ (diffraction)",
            Self::PtychodusDiffraction => "ptychodus diffraction NPZ (patterns)",
            Self::PtychodusProduct => "ptychodus product NPZ (probe, object, positions)",
            Self::Hdf5(layout) => layout.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_layout() {
        assert_eq!(
            Layout::detect(&["xcoords", "diff3d"]),
            Some(Layout::PinnRaw)
        );
        assert_eq!(
            Layout::detect(&["diffraction"]),
            Some(Layout::PinnCanonical)
        );
        assert_eq!(
            Layout::detect(&["patterns", "indexes"]),
            Some(Layout::PtychodusDiffraction)
        );
        assert_eq!(
            Layout::detect(&["probe", "object", "probe_position_x_m"]),
            Some(Layout::PtychodusProduct)
        );
        assert_eq!(Layout::detect(&["foo"]), None);
    }
}
