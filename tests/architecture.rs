//! The crate's files import one another one way only: no file imports another that imports it
//! back, directly or round a longer circle.
//!
//! How the graph is built, from the source text of `src/`:
//! - every `use` path and every path written inline (`crate::a::b`, `super::x`, `child::f`) is
//!   an edge from the file it is written in to the file that defines what it names;
//! - a path through a module's `pub use` re-export is followed to the file that defines the item
//!   (so `use crate::train::TrainError` points at `train/error.rs`, not at `train/mod.rs`);
//! - a module's `mod` declarations and the `pub use` lines by which it re-exports its own children
//!   (its facade) are not imports.
//!
//! A circle is then a strongly connected component of more than one file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// One token of Rust source after comments and literals are dropped.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

/// Where a raw string `r#"…"#` starting at `i` ends, if one starts there.
fn raw_string_end(b: &[u8], i: usize) -> Option<usize> {
    if b[i] != b'r' {
        return None;
    }
    let mut j = i + 1;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    let hashes = j - i - 1;
    if b.get(j) != Some(&b'"') || (hashes == 0 && b.get(i + 1) != Some(&b'"')) {
        return None;
    }
    j += 1;
    while j < b.len() {
        if b[j] == b'"'
            && b[j + 1..]
                .iter()
                .take(hashes)
                .filter(|&&h| h == b'#')
                .count()
                == hashes
        {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(b.len())
}

/// Where a char literal starting at `i` ends (`None` for a lifetime).
fn char_literal_end(src: &str, i: usize) -> Option<usize> {
    let b = src.as_bytes();
    if b.get(i + 1) == Some(&b'\\') {
        // The escaped character may itself be a quote: the literal closes after it.
        b.get(i + 3..)?
            .iter()
            .position(|&x| x == b'\'')
            .map(|p| i + 3 + p + 1)
    } else {
        let len = src[i + 1..].chars().next().map_or(1, char::len_utf8);
        (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
    }
}

fn tokens(src: &str) -> Vec<Token> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(end) = raw_string_end(b, i) {
            i = end;
            out.push(Token::Other);
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Other);
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\'') or a lifetime ('a).
            i = char_literal_end(src, i).unwrap_or(i + 1);
            out.push(Token::Other);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(src[start..i].to_owned()));
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b':' && b.get(i + 1) == Some(&b':') {
            out.push(Token::PathSep);
            i += 2;
        } else {
            out.push(match c {
                b'{' => Token::Open,
                b'}' => Token::Close,
                b',' => Token::Comma,
                b';' => Token::Semi,
                _ => Token::Other,
            });
            i += if c.is_ascii() {
                1
            } else {
                src[i..].chars().next().map_or(1, char::len_utf8)
            };
        }
    }
    out
}

/// Expands a `use` tree (the tokens between `use` and `;`) into full paths, each with the name
/// it binds (its alias, or its last segment).
fn expand_use(t: &[Token], prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut i = 0;
    let mut path = prefix.to_vec();
    while i < t.len() {
        match &t[i] {
            Token::Ident(s) if s == "as" => {
                if let (Some(Token::Ident(alias)), Some(_)) = (t.get(i + 1), path.last()) {
                    out.push((path.clone(), alias.clone()));
                    path.clear();
                }
                return;
            }
            Token::Ident(s) => path.push(s.clone()),
            Token::PathSep | Token::Other => {}
            Token::Open => {
                // Split the group at its top-level commas.
                let mut depth = 0;
                let mut start = i + 1;
                let mut j = i + 1;
                while j < t.len() {
                    match t[j] {
                        Token::Open => depth += 1,
                        Token::Close if depth == 0 => break,
                        Token::Close => depth -= 1,
                        Token::Comma if depth == 0 => {
                            expand_use(&t[start..j], &path, out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                expand_use(&t[start..j], &path, out);
                return;
            }
            Token::Close | Token::Comma | Token::Semi => break,
        }
        i += 1;
    }
    if path.len() > prefix.len()
        && let Some(last) = path.last().cloned()
    {
        let name = if last == "self" {
            path.pop();
            path.last().cloned().unwrap_or_default()
        } else {
            last
        };
        out.push((path, name));
    }
}

/// A path written in a file, and how many inline modules (`mod tests { … }`) it sits in.
#[derive(Debug, Clone)]
struct Written {
    path: Vec<String>,
    inline_depth: usize,
}

/// A `use` path: whether it is `pub`, the path and the name it binds.
#[derive(Debug, Clone)]
struct Use {
    public: bool,
    written: Written,
    binds: String,
}

/// What one file says: its `use` paths and its inline paths.
struct FileSyntax {
    uses: Vec<Use>,
    inline: Vec<Written>,
}

fn parse(src: &str) -> FileSyntax {
    let t = tokens(src);
    let pub_ = Token::Ident("pub".into());
    let mut uses = Vec::new();
    let mut inline = Vec::new();
    // Brace depths at which the inline modules around the current token close.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < t.len() {
        match &t[i] {
            Token::Open => {
                depth += 1;
                if i >= 2 && t[i - 2] == Token::Ident("mod".into()) {
                    inline_mods.push(depth);
                }
            }
            Token::Close => {
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        if t[i] == Token::Ident("use".into()) {
            // `pub use`, `pub(crate) use`, `pub(super) use`.
            let public = (i >= 1 && t[i - 1] == pub_)
                || (i >= 4 && t[i - 1] == Token::Other && t[i - 4] == pub_);
            let end = t[i..]
                .iter()
                .position(|x| *x == Token::Semi)
                .map_or(t.len(), |p| i + p);
            let mut paths = Vec::new();
            expand_use(&t[i + 1..end], &[], &mut paths);
            uses.extend(paths.into_iter().map(|(path, binds)| Use {
                public,
                written: Written {
                    path,
                    inline_depth: inline_mods.len(),
                },
                binds,
            }));
            i = end + 1;
            continue;
        }
        if let Token::Ident(first) = &t[i]
            && t.get(i + 1) == Some(&Token::PathSep)
            && (i == 0 || t[i - 1] != Token::PathSep)
        {
            let mut path = vec![first.clone()];
            let mut j = i + 1;
            while t.get(j) == Some(&Token::PathSep) {
                match t.get(j + 1) {
                    Some(Token::Ident(s)) => path.push(s.clone()),
                    _ => break,
                }
                j += 2;
            }
            inline.push(Written {
                path,
                inline_depth: inline_mods.len(),
            });
            i = j;
            continue;
        }
        i += 1;
    }
    FileSyntax { uses, inline }
}

struct Crate {
    files: BTreeMap<ModPath, PathBuf>,
    syntax: BTreeMap<ModPath, FileSyntax>,
}

impl Crate {
    fn read(src: &Path) -> Self {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src/") {
                let path = entry.expect("dir entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path
                        .strip_prefix(src)
                        .expect("under src/")
                        .with_extension("");
                    let mut m: ModPath = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    if m.last().is_some_and(|l| l == "mod" || l == "lib") {
                        m.pop();
                    }
                    if m == ["main"] {
                        m = vec!["<main>".into()];
                    }
                    files.insert(m, path);
                }
            }
        }
        let syntax = files
            .iter()
            .map(|(m, p)| {
                let text = std::fs::read_to_string(p).expect("read a source file");
                (m.clone(), parse(&text))
            })
            .collect();
        Self { files, syntax }
    }

    /// The module a path starts from and the segments after it, or `None` for another crate.
    /// Inside `inline_depth` inline modules, the first that many `super`s stay in the file.
    fn anchor(&self, me: &ModPath, written: &Written) -> Option<(ModPath, Vec<String>)> {
        let path = &written.path;
        let first = path.first()?;
        let mut base = if *me == ["<main>"] {
            vec![]
        } else {
            me.clone()
        };
        let mut rest = path.clone();
        match first.as_str() {
            "crate" | "ptychostudio" => {
                base.clear();
                rest.remove(0);
            }
            "super" => {
                let mut inside = written.inline_depth;
                while rest.first().is_some_and(|s| s == "super") {
                    if inside > 0 {
                        inside -= 1;
                    } else {
                        base.pop();
                    }
                    rest.remove(0);
                }
            }
            "self" => {
                rest.remove(0);
            }
            _ if written.inline_depth > 0 => return None,
            child => {
                let mut candidate = base.clone();
                candidate.push(child.to_owned());
                if !self.files.contains_key(&candidate) {
                    return None;
                }
            }
        }
        Some((base, rest))
    }

    /// The file that defines what `path`, written in `me`, names.
    fn resolve(&self, me: &ModPath, written: &Written, depth: usize) -> Option<ModPath> {
        let (base, rest) = self.anchor(me, written)?;
        let mut full = base;
        full.extend(rest);
        for k in (0..=full.len()).rev() {
            let module = full[..k].to_vec();
            if !self.files.contains_key(&module) {
                continue;
            }
            let tail = &full[k..];
            if let Some(name) = tail.first()
                && depth < 16
                && let Some(reexport) = self.syntax[&module]
                    .uses
                    .iter()
                    .find(|u| u.public && u.written.inline_depth == 0 && u.binds == *name)
            {
                let mut next = reexport.written.clone();
                next.path.extend(tail[1..].iter().cloned());
                if let Some(found) = self.resolve(&module, &next, depth + 1) {
                    return Some(found);
                }
            }
            return Some(module);
        }
        None
    }

    fn edges(&self) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
        let mut edges = BTreeMap::new();
        for (me, syntax) in &self.syntax {
            let mut to = BTreeSet::new();
            // `pub use child::…` in a module's own file: its facade.
            let facade = |u: &Use| {
                let first = u.written.path.first().cloned().unwrap_or_default();
                let mut child = me.clone();
                child.push(first.clone());
                u.public && first != "super" && self.files.contains_key(&child)
            };
            let paths = syntax
                .uses
                .iter()
                .filter(|u| !facade(u))
                .map(|u| &u.written)
                .chain(&syntax.inline);
            for path in paths {
                if let Some(target) = self.resolve(me, path, 0)
                    && target != *me
                {
                    to.insert(target);
                }
            }
            edges.insert(me.clone(), to);
        }
        edges
    }
}

/// Strongly connected components of more than one node (Tarjan).
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a ModPath) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            let edges = self.edges;
            for w in edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn name(m: &ModPath) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let krate = Crate::read(&src);
    let edges = krate.edges();
    assert!(
        krate.files.len() > 50,
        "found only {} files",
        krate.files.len()
    );
    let found = circles(&edges);
    let report: Vec<String> = found
        .iter()
        .map(|component| {
            let members: BTreeSet<&ModPath> = component.iter().collect();
            let arrows: Vec<String> = component
                .iter()
                .flat_map(|a| {
                    edges[a]
                        .iter()
                        .filter(|b| members.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            arrows.join(", ")
        })
        .collect();
    assert!(report.is_empty(), "import circles: {report:#?}");
}

#[test]
fn the_checker_finds_a_circle_and_follows_re_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").expect("write");
    // a/mod.rs re-exports its child: a facade, not an import.
    std::fs::write(src.join("a/mod.rs"), "pub mod x;\npub use x::Thing;\n").expect("write");
    // x uses b through the crate root; b uses a::Thing, which is x's: x <-> b.
    std::fs::write(
        src.join("a/x.rs"),
        "// use crate::nothing;\nlet s = \"crate::b::fake\";\npub struct Thing;\nfn f() { crate::b::g(); }\n\
         const Q: [char; 2] = ['\\'', '\"']; fn l<'a>(x: &'a str) -> &'a str { x }\n\
         const R: &str = r#\"crate::q \" crate::q\"#;\n\
         #[cfg(test)]\nmod tests {\n    use super::*;\n    fn h() { super::f(); }\n}\n",
    )
    .expect("write");
    std::fs::write(
        src.join("b.rs"),
        "use crate::a::{Thing as T, self};\npub fn g() {}\n",
    )
    .expect("write");
    let krate = Crate::read(src);
    let edges = krate.edges();
    let x: ModPath = vec!["a".into(), "x".into()];
    let b: ModPath = vec!["b".into()];
    assert!(
        edges[&b].contains(&x),
        "b's use of a::Thing points at a/x.rs: {edges:?}"
    );
    assert!(edges[&x].contains(&b));
    assert_eq!(
        edges[&x].len(),
        1,
        "comments, strings and the file's own tests are not imports: {edges:?}"
    );
    let found = circles(&edges);
    assert_eq!(found.len(), 1);
    let members: BTreeSet<ModPath> = found[0].iter().cloned().collect();
    assert_eq!(members, BTreeSet::from([x, b]));
}
