//! The tree of an HDF5 file: every group and dataset with its shape and type, for `inspect`,
//! the window's picker and finding a lone 3-D stack.

use hdf5_metno::Group;

/// One object in the tree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    /// Its full path, from "/".
    pub path: String,
    /// Dataset shape; `None` for a group.
    pub shape: Option<Vec<usize>>,
    /// Element type in words ("u32", "f64", "complex64", …); empty for a group.
    pub dtype: String,
    /// Why it could not be opened (a dangling external link, an unknown filter…).
    pub problem: Option<String>,
}

impl Node {
    /// Shape and type in words, e.g. "64 × 64 × 64 u32"; empty for a group.
    pub fn describe(&self) -> String {
        let shape = self.shape.as_deref().unwrap_or_default();
        let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
        format!("{} {}", dims.join(" × "), self.dtype)
            .trim()
            .to_owned()
    }
}

/// The datasets of a file a user can pick for a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    /// 3-D datasets: the frames could be any of them.
    pub frames: Vec<Node>,
    /// (k, 2 or 3) datasets: positions in metres could be any of them.
    pub positions: Vec<Node>,
}

/// The frames and positions candidates of the file at `path` (read from its tree).
pub fn candidates(path: &std::path::Path) -> Result<Candidates, super::Hdf5Error> {
    let file = super::open(path)?;
    let mut out = Candidates::default();
    for node in list_tree(&file) {
        match node.shape.as_deref() {
            Some([m, r, c]) if *m > 0 && *r > 0 && *c > 0 => out.frames.push(node),
            Some([m, 2 | 3]) if *m > 0 => out.positions.push(node),
            _ => {}
        }
    }
    Ok(out)
}

/// At most this many objects are listed (a master file can hold thousands of small ones).
const MAX_NODES: usize = 2000;

/// Every group and dataset under `group` (depth first, sorted by name), at most 2000.
pub fn list_tree(group: &Group) -> Vec<Node> {
    let mut out = Vec::new();
    walk(group, "", &mut out);
    out
}

fn walk(group: &Group, prefix: &str, out: &mut Vec<Node>) {
    let Ok(mut names) = group.member_names() else {
        return;
    };
    names.sort();
    for name in names {
        if out.len() >= MAX_NODES {
            return;
        }
        let path = format!("{prefix}/{name}");
        if let Ok(child) = group.group(&name) {
            out.push(Node {
                path: path.clone(),
                shape: None,
                dtype: String::new(),
                problem: None,
            });
            walk(&child, &path, out);
            continue;
        }
        match group.dataset(&name) {
            Ok(ds) => out.push(Node {
                path,
                shape: Some(ds.shape()),
                dtype: ds.dtype().map_or_else(|_| "?".into(), |t| type_name(&t)),
                problem: None,
            }),
            Err(e) => out.push(Node {
                path,
                shape: None,
                dtype: String::new(),
                problem: Some(first_line(&e.to_string())),
            }),
        }
    }
}

/// The first line of an HDF5 error, which is the useful one.
pub(super) fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).trim().to_owned()
}

/// A short name for an HDF5 element type.
pub(super) fn type_name(dtype: &hdf5_metno::Datatype) -> String {
    use hdf5_metno::types::{FloatSize, IntSize, TypeDescriptor as T};
    let bits = |s: IntSize| s as usize * 8;
    match dtype.to_descriptor() {
        Ok(T::Integer(s)) => format!("i{}", bits(s)),
        Ok(T::Unsigned(s)) => format!("u{}", bits(s)),
        Ok(T::Float(FloatSize::U4)) => "f32".into(),
        Ok(T::Float(FloatSize::U8)) => "f64".into(),
        Ok(T::Compound(c)) if c.fields.len() == 2 => "complex (compound)".into(),
        Ok(T::Boolean) => "bool".into(),
        Ok(T::FixedAscii(_) | T::FixedUnicode(_) | T::VarLenAscii | T::VarLenUnicode) => {
            "string".into()
        }
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}
