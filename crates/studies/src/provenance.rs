//! Where a study's results came from, for results/README.md: the *code version* of its runs
//! and the wall time of the `reproduce` calls that trained them.
//!
//! Results are regenerated study by study, committing each as it finishes, so the runs of
//! results/ carry several commits; what must be one is the code that computed them. A commit's
//! code version is its git tree of the paths that decide numbers ([`CODE_PATHS`]): commits that
//! only add results or documentation share it. The wall time is not in the runs (each has its
//! own `train_seconds`, not the parallel wall clock), so `reproduce` keeps it per study in
//! [`FILE`], summed over the calls that trained runs.

use anyhow::{Context, Result};
use experiments::results::RunRow;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// The per-study record, next to its `runs.csv`.
pub const FILE: &str = "reproduce.toml";

/// The paths whose content decides a run's numbers (results and documentation excluded).
pub const CODE_PATHS: [&str; 6] = [
    "crates",
    "xtask",
    "experiments",
    "datasets",
    "Cargo.toml",
    "Cargo.lock",
];

/// What [`FILE`] holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyTime {
    /// Wall seconds of the `reproduce` calls that trained this study's runs (training,
    /// analyses and figures), summed; a call that trained nothing adds nothing.
    pub wall_seconds: f64,
    /// The CPU and thread count of the last call that trained runs.
    pub machine: String,
}

/// Adds a call's `seconds` to the study's record in `dir` (replaces it when the call started
/// over with `--fresh`).
pub fn record(dir: &Path, seconds: f64, machine: &str, fresh: bool) -> Result<()> {
    let before = if fresh { None } else { read(dir)? };
    let time = StudyTime {
        // A tenth of a second is as much as a wall clock tells here.
        wall_seconds: ((before.map_or(0.0, |t| t.wall_seconds) + seconds) * 10.0).round() / 10.0,
        machine: machine.to_string(),
    };
    let text = format!(
        "# Written by `cargo xtask reproduce`: wall time of the calls that trained this study.\n{}",
        toml::to_string(&time)?
    );
    let path = dir.join(FILE);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// The study's record in `dir`, if `reproduce` wrote one.
pub fn read(dir: &Path) -> Result<Option<StudyTime>> {
    let path = dir.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let time = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    Ok(Some(time))
}

/// The code version of `commit` (a run's `commit` column): 12 hex digits of a hash of its git
/// tree entries for [`CODE_PATHS`], taken from the repository's root
/// ([`experiments::repo::root`]: `git ls-tree` reads paths from the folder it runs in); `None`
/// for a dirty tree (`...-dirty`), `unknown`, or a commit this repository does not have.
pub fn code_version(commit: &str) -> Option<String> {
    if commit.ends_with("-dirty") || commit == "unknown" {
        return None;
    }
    let out = std::process::Command::new("git")
        .args(["ls-tree", commit, "--"])
        .args(CODE_PATHS)
        .current_dir(experiments::repo::root())
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty())?;
    Some(format!(
        "{:012x}",
        experiments::hash::fnv1a(&out.stdout) & 0xffff_ffff_ffff
    ))
}

/// The README's lines on where the runs shown came from: their code version(s) and the wall
/// time of the calls that trained the studies, summed, for `(name, folder, runs)` of each.
pub fn readme_lines<'a>(
    studies: impl IntoIterator<Item = (&'a str, &'a Path, &'a [RunRow])>,
) -> Result<String> {
    let studies: Vec<_> = studies.into_iter().collect();
    let mut versions: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for &(name, _, rows) in &studies {
        let commits: BTreeSet<&str> = rows.iter().map(|r| r.commit.as_str()).collect();
        for c in commits {
            let v = seen
                .entry(c)
                .or_insert_with(|| code_version(c).unwrap_or_else(|| format!("unknown ({c})")));
            let studies = versions.entry(v.clone()).or_default();
            if studies.last() != Some(&name) {
                studies.push(name);
            }
        }
    }
    let mut s = String::new();
    let paths = CODE_PATHS.join(", ");
    match versions.len() {
        0 => {}
        1 => {
            let v = versions.keys().next().expect("one version");
            let _ = writeln!(
                s,
                "Code version: every run shown was computed by code version `{v}` (a hash of \
                 the git tree of {paths} at the runs' commits, which commits adding only \
                 results or documentation share).\n"
            );
        }
        n => {
            let list: Vec<String> = versions
                .iter()
                .map(|(v, studies)| format!("`{v}` ({})", studies.join(", ")))
                .collect();
            let _ = writeln!(
                s,
                "Code versions: the runs shown were computed by {n} versions of the code (hashes \
                 of the git tree of {paths} at the runs' commits): {}.\n",
                list.join("; ")
            );
        }
    }
    let mut wall = 0.0;
    let mut machines = BTreeSet::new();
    let mut unrecorded = Vec::new();
    for &(name, dir, _) in &studies {
        match read(dir)? {
            Some(t) => {
                wall += t.wall_seconds;
                machines.insert(t.machine);
            }
            None => unrecorded.push(name),
        }
    }
    if unrecorded.len() < studies.len() {
        let machines: Vec<String> = machines.into_iter().collect();
        let _ = writeln!(
            s,
            "Wall time of the `reproduce` calls that trained these studies, summed over the \
             studies: {wall:.0} s ({:.0} min) on {}{}.\n",
            wall / 60.0,
            machines.join("; "),
            if unrecorded.is_empty() {
                String::new()
            } else {
                format!(" (no record for {})", unrecorded.join(", "))
            }
        );
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_adds_up_over_calls_and_starts_over_when_fresh() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(read(dir).unwrap(), None);
        record(dir, 10.0, "cpu A", false).unwrap();
        record(dir, 2.5, "cpu B", false).unwrap();
        let t = read(dir).unwrap().unwrap();
        assert_eq!((t.wall_seconds, t.machine.as_str()), (12.5, "cpu B"));
        record(dir, 4.0, "cpu A", true).unwrap();
        assert_eq!(read(dir).unwrap().unwrap().wall_seconds, 4.0);
    }

    #[test]
    fn readme_names_one_code_version_for_commits_that_share_it_and_sums_wall_times() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        for d in [&a, &b] {
            std::fs::create_dir_all(d).unwrap();
        }
        record(&a, 60.0, "cpu", false).unwrap();
        record(&b, 30.0, "cpu", false).unwrap();
        let at = |commit: &str| {
            let mut r = experiments::results::sample_row("set", 1, 0.9);
            r.commit = commit.into();
            vec![r]
        };
        // Two names of one commit: one code version.
        let (head, parent) = (at("HEAD"), at("HEAD~0"));
        let one = readme_lines([
            ("a", a.as_path(), &head[..]),
            ("b", b.as_path(), &parent[..]),
        ])
        .unwrap();
        assert!(one.starts_with("Code version: every run shown"), "{one}");
        assert!(
            one.contains("summed over the studies: 90 s (2 min) on cpu."),
            "{one}"
        );
        let dirty = at("0123456789ab-dirty");
        let two = readme_lines([
            ("a", a.as_path(), &head[..]),
            ("b", b.as_path(), &dirty[..]),
        ])
        .unwrap();
        assert!(two.contains("by 2 versions of the code"), "{two}");
        assert!(two.contains("`unknown (0123456789ab-dirty)` (b)"), "{two}");
        let c = tmp.path().join("c");
        let none =
            readme_lines([("a", a.as_path(), &head[..]), ("c", c.as_path(), &head[..])]).unwrap();
        assert!(
            none.contains("60 s (1 min) on cpu (no record for c)."),
            "{none}"
        );
    }

    /// The hash covers the workspace's code from the repository's root, whatever folder the
    /// process runs in (run from this crate's folder, `git ls-tree` took the paths below it:
    /// `crates/studies/Cargo.toml` alone). `ebd3cb7` changed the kernels; `b9a8f36` added
    /// only results to `eeccb17`.
    #[test]
    fn code_versions_follow_the_code_of_the_whole_workspace() {
        assert_ne!(code_version("ebd3cb7"), code_version("ebd3cb7~1"));
        assert_eq!(code_version("b9a8f36"), code_version("eeccb17"));
        assert!(code_version("ebd3cb7").is_some());
    }

    #[test]
    fn code_version_needs_a_clean_known_commit() {
        let head = code_version("HEAD").expect("the repository's HEAD has a code version");
        assert_eq!(head.len(), 12);
        assert!(head.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(code_version("HEAD"), Some(head));
        assert_eq!(code_version("0123456789ab-dirty"), None);
        assert_eq!(code_version("unknown"), None);
        assert_eq!(
            code_version("ffffffffffffffffffffffffffffffffffffffff"),
            None
        );
    }
}
