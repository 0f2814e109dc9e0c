//! Tidiness of the workspace's code that no compiler checks: within each crate, the top-level
//! modules import each other without a cycle, so each module's job can be read on its own and
//! the crate could be cut along its modules; and no source file grows past [`LONG`] lines of
//! code (tests apart) unless it is listed in [`LONG_FILES`] with the one job it holds. An import is a `crate::<module>` path in code
//! (comments and `#[cfg(test)]` modules left out: tests may reach anywhere); a module
//! re-exported at the crate root (`pub use grid::protocol;`) counts as its parent's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files of a crate's `src`, by top-level module (`lib`/`main` excluded).
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for path in rust_files(src) {
        let rel = path.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = first.trim_end_matches(".rs").to_string();
        if top != "lib" && top != "main" && top != "bin" {
            out.entry(top).or_default().push(path);
        }
    }
    out
}

/// Re-exported modules at the crate root: `pub use parent::child;` maps `child` to `parent`.
fn root_aliases(src: &Path) -> BTreeMap<String, String> {
    let Ok(lib) = std::fs::read_to_string(src.join("lib.rs")) else {
        return BTreeMap::new();
    };
    lib.lines()
        .filter_map(|l| l.trim().strip_prefix("pub use ")?.strip_suffix(';'))
        .filter_map(|path| {
            let (parent, child) = path.split_once("::")?;
            let plain = |s: &str| s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            (plain(parent) && plain(child)).then(|| (child.to_string(), parent.to_string()))
        })
        .collect()
}

/// Every `crate::<name>` in the code of `text` (before its first `#[cfg(test)]`, comments
/// left out), with its line number.
fn crate_paths(text: &str) -> Vec<(String, usize)> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or_default();
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && !line[..at].ends_with('$') {
                out.push((name, n + 1));
            }
        }
    }
    out
}

/// A cycle of `graph`, if it has one, as the modules along it (first = last).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The import graph of the crate at `src` and, per edge, where it is made.
type Imports = (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<(String, String), String>,
);

fn imports(src: &Path) -> Imports {
    let modules = modules(src);
    let aliases = root_aliases(src);
    let (mut graph, mut at) = (BTreeMap::new(), BTreeMap::new());
    for (module, files) in &modules {
        for file in files {
            let text = std::fs::read_to_string(file).unwrap();
            for (name, line) in crate_paths(&text) {
                let target = aliases.get(&name).cloned().unwrap_or(name);
                if &target != module && modules.contains_key(&target) {
                    graph
                        .entry(module.clone())
                        .or_insert_with(BTreeSet::new)
                        .insert(target.clone());
                    at.entry((module.clone(), target))
                        .or_insert_with(|| format!("{}:{line}", file.display()));
                }
            }
        }
    }
    (graph, at)
}

/// Lines of code (before a file's `#[cfg(test)]` module) past which a file is split by job.
const LONG: usize = 700;

/// Files over [`LONG`] lines that hold one job, each with that job: splitting them would cut
/// one algorithm in two.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/models/src/sparse_mlp.rs",
        "the sparse MLP: its buffers, forward, backward, step and saved state",
    ),
    (
        "crates/sparse-core/src/kernels.rs",
        "the sparse-layer products and their parallel drivers",
    ),
];

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn no_source_file_is_longer_than_its_job_needs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut long = Vec::new();
    for dir in ["crates", "xtask/src", "python/src"] {
        for file in rust_files(&root.join(dir)) {
            let rel = file
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if rel.contains("/tests/") || rel.ends_with("/tests.rs") || rel.contains("/benches/") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let lines = code.lines().count();
            if lines > LONG && !LONG_FILES.iter().any(|(f, _)| *f == rel) {
                long.push(format!("  {rel}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "files over {LONG} lines of code: split them by job, or list the one job they hold in \
         LONG_FILES:\n{}",
        long.join("\n")
    );
    for (file, _) in LONG_FILES {
        assert!(
            root.join(file).exists(),
            "LONG_FILES lists {file}, which is gone"
        );
    }
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.extend([root.join("xtask/src"), root.join("python/src")]);
    assert!(
        crates.len() > 10,
        "the crates were not found under {root:?}"
    );
    for src in crates {
        let (graph, at) = imports(&src);
        if let Some(cycle) = find_cycle(&graph) {
            let edges: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    format!(
                        "  {} -> {} ({})",
                        w[0],
                        w[1],
                        at[&(w[0].clone(), w[1].clone())]
                    )
                })
                .collect();
            panic!(
                "{}: its modules import each other in a cycle:\n{}",
                src.display(),
                edges.join("\n")
            );
        }
    }
}

/// The check sees a cycle, and where each of its imports is made.
#[test]
fn a_cycle_is_found_and_located() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\npub use a::c;\n").unwrap();
    std::fs::create_dir(src.join("a")).unwrap();
    std::fs::write(src.join("a/mod.rs"), "pub mod c;\n").unwrap();
    std::fs::write(src.join("a/c.rs"), "use crate::b::X; // crate::nothing\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub struct X;\n// use crate::a;\nfn f() { crate::c::g(); }\n",
    )
    .unwrap();
    let (graph, at) = imports(src);
    let cycle = find_cycle(&graph).expect("a -> b -> a");
    assert_eq!(cycle.len(), 3, "{cycle:?}");
    assert!(at[&("b".to_string(), "a".to_string())].ends_with("b.rs:3"));
    std::fs::write(src.join("b.rs"), "pub struct X;\n// use crate::a;\n").unwrap();
    assert_eq!(find_cycle(&imports(src).0), None);
}
