//! Scan positions from a sidecar text file, as stages and beamline scripts write them: CSV or
//! whitespace-separated columns under a header that names each column and its unit
//! (`x_m,y_m`, `x_um,y_um`, `x_nm,y_nm`, `x_px,y_px`; x = object columns, y = rows). Lines
//! starting with `#` are comments.

use std::path::Path;

/// The unit of a positions file's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionUnit {
    /// Metres.
    Metre,
    /// Micrometres.
    Micrometre,
    /// Nanometres.
    Nanometre,
    /// Object pixels.
    Pixel,
}

impl PositionUnit {
    /// Metres per unit; `None` for pixels.
    pub fn metres(self) -> Option<f64> {
        match self {
            Self::Metre => Some(1.0),
            Self::Micrometre => Some(1e-6),
            Self::Nanometre => Some(1e-9),
            Self::Pixel => None,
        }
    }

    fn parse(suffix: &str) -> Option<Self> {
        match suffix.to_ascii_lowercase().as_str() {
            "m" => Some(Self::Metre),
            "um" | "µm" | "μm" | "micron" => Some(Self::Micrometre),
            "nm" => Some(Self::Nanometre),
            "px" | "pixel" | "pixels" => Some(Self::Pixel),
            _ => None,
        }
    }
}

/// Positions read from a sidecar file.
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarPositions {
    /// `[x, y]` in `unit`, one per line.
    pub values: Vec<[f64; 2]>,
    /// Their unit.
    pub unit: PositionUnit,
}

/// Reads `path`; errors name the file, the line and what was expected.
pub fn read_positions(path: &Path) -> Result<SidecarPositions, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse_positions(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn split(line: &str) -> Vec<&str> {
    line.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Parses a positions file's text (see the module's documentation).
pub fn parse_positions(text: &str) -> Result<SidecarPositions, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (header_line, header) = lines
        .next()
        .ok_or("no header: expected a first line such as x_um,y_um")?;
    let names = split(header);
    let column = |axis: char| -> Option<(usize, PositionUnit)> {
        names.iter().enumerate().find_map(|(i, name)| {
            let lower = name.to_ascii_lowercase();
            let (head, unit) = lower.split_once('_')?;
            (head == axis.to_string())
                .then(|| PositionUnit::parse(unit))
                .flatten()
                .map(|u| (i, u))
        })
    };
    let expected = "columns named x_<unit> and y_<unit> with unit m, um, nm or px";
    let ((xi, xu), (yi, yu)) = column('x')
        .zip(column('y'))
        .ok_or_else(|| format!("line {header_line}: header {header:?}: expected {expected}"))?;
    if xu != yu {
        return Err(format!(
            "line {header_line}: x and y are in different units ({xu:?}, {yu:?})"
        ));
    }
    let mut values = Vec::new();
    for (number, line) in lines {
        let fields = split(line);
        let get = |i: usize| -> Result<f64, String> {
            let field = fields.get(i).ok_or_else(|| {
                format!(
                    "line {number}: {} fields, column {} missing",
                    fields.len(),
                    i + 1
                )
            })?;
            let v: f64 = field
                .parse()
                .map_err(|_| format!("line {number}: {field:?} is not a number"))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("line {number}: {field:?} is not finite"))
            }
        };
        values.push([get(xi)?, get(yi)?]);
    }
    if values.is_empty() {
        return Err("a header but no positions".into());
    }
    Ok(SidecarPositions { values, unit: xu })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_and_whitespace_with_units() {
        let csv = parse_positions("x_um,y_um\n1.5,2\n3,4e-1\n").unwrap();
        assert_eq!(csv.unit, PositionUnit::Micrometre);
        assert_eq!(csv.values, vec![[1.5, 2.0], [3.0, 0.4]]);
        let ws = parse_positions("# stage log\nframe y_px x_px\n0 10 20\n1 11 21\n").unwrap();
        assert_eq!(ws.unit, PositionUnit::Pixel);
        assert_eq!(ws.values, vec![[20.0, 10.0], [21.0, 11.0]]);
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let e = parse_positions("a,b\n1,2\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("x_<unit>"), "{e}");
        let e = parse_positions("x_m,y_m\n1,2\n3,oops\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("oops"), "{e}");
        let e = parse_positions("x_m,y_nm\n1,2\n").unwrap_err();
        assert!(e.contains("different units"), "{e}");
    }
}
