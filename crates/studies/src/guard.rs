//! The behaviour guard: digests of every CSV file that `cargo xtask reproduce --quick` writes,
//! committed in `experiments/reference/quick-guard.toml` and checked by CI after its own
//! `reproduce --quick`, so that a change meant to keep every number (a refactor, a move) is
//! seen to keep them, file by file.
//!
//! A digest covers a file's header and rows, rows sorted (runs finish in any order), with the
//! columns that measure time (`*seconds*`) or name the commit left out. A change of numbers on
//! purpose rewrites the reference with one command, together with a numerics-fingerprint bump
//! (`experiments::numerics::VERSION`, recorded in the file):
//!
//! ```sh
//! cargo xtask reproduce --quick --out /tmp/quick --fresh && cargo xtask guard /tmp/quick --write
//! ```

use anyhow::{bail, Context, Result};
use experiments::hash::fnv1a;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The committed reference.
pub fn reference_path() -> PathBuf {
    experiments::repo::root().join("experiments/reference/quick-guard.toml")
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Reference {
    /// The numerics version the digests were taken at.
    numerics: u32,
    /// `<study>/<file>.csv` -> digest.
    digests: BTreeMap<String, String>,
}

/// Whether a column is left out of the digest: it measures time or names the commit.
fn volatile(column: &str) -> bool {
    column == "commit" || column.contains("seconds")
}

/// The digest of one CSV file (see the module docs).
pub fn file_digest(path: &Path) -> Result<String> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|&i| !volatile(&headers[i]))
        .collect();
    let join = |r: &csv::StringRecord| {
        keep.iter()
            .map(|&i| r.get(i).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\u{1f}")
    };
    let mut rows = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("{}: row {}", path.display(), line + 1))?;
        rows.push(join(&record));
    }
    rows.sort_unstable();
    let text = format!("{}\n{}", join(&headers), rows.join("\n"));
    Ok(format!("{:016x}", fnv1a(text.as_bytes())))
}

/// The digest of every `*.csv` in every study folder of the results folder `dir`, by
/// `<study>/<file>`.
pub fn digests(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let read = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .with_context(|| format!("listing {}", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    for study in read(dir)?.into_iter().filter(|p| p.is_dir()) {
        let name = study.file_name().unwrap_or_default().to_string_lossy();
        for file in read(&study)? {
            if file.extension().is_some_and(|e| e == "csv") {
                let key = format!(
                    "{name}/{}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                );
                out.insert(key, file_digest(&file)?);
            }
        }
    }
    Ok(out)
}

/// Compares the results folder `dir` (a `reproduce --quick` output) with the reference: an
/// error lists every file that differs, is missing or is new.
pub fn check(dir: &Path) -> Result<usize> {
    let path = reference_path();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let reference: Reference =
        toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let now = digests(dir)?;
    let mut problems = Vec::new();
    if reference.numerics != experiments::numerics::VERSION {
        problems.push(format!(
            "the reference was taken at numerics version {}, this code is version {}",
            reference.numerics,
            experiments::numerics::VERSION
        ));
    }
    for (file, digest) in &reference.digests {
        match now.get(file) {
            None => problems.push(format!("{file}: not written")),
            Some(d) if d != digest => problems.push(format!("{file}: differs")),
            Some(_) => {}
        }
    }
    for file in now.keys().filter(|f| !reference.digests.contains_key(*f)) {
        problems.push(format!("{file}: new"));
    }
    if !problems.is_empty() {
        bail!(
            "the CSV files of {} differ from {} (timing and commit columns aside):\n  {}\n\
             If the numbers changed on purpose, bump the numerics version and rewrite the \
             reference: cargo xtask reproduce --quick --out /tmp/quick --fresh && cargo xtask \
             guard /tmp/quick --write",
            dir.display(),
            path.display(),
            problems.join("\n  ")
        );
    }
    Ok(now.len())
}

/// Rewrites the reference from the results folder `dir`.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let reference = Reference {
        numerics: experiments::numerics::VERSION,
        digests: digests(dir)?,
    };
    let path = reference_path();
    let header = "# Digests of the CSV files of `cargo xtask reproduce --quick` (crates/experiments/src/guard.rs).\n\
                  # Rewritten only when numbers change on purpose, with a numerics version bump.\n";
    std::fs::write(&path, format!("{header}{}", toml::to_string(&reference)?))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_ignore_row_order_timings_and_commits_but_see_every_number() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            file_digest(&p).unwrap()
        };
        let a = file(
            "a.csv",
            "run,acc,train_seconds,commit\nx,0.5,1.2,abc\ny,0.7,3.4,abc\n",
        );
        let shuffled = file(
            "b.csv",
            "run,acc,train_seconds,commit\ny,0.7,9.9,def\nx,0.5,0.1,def\n",
        );
        assert_eq!(a, shuffled);
        let changed = file(
            "c.csv",
            "run,acc,train_seconds,commit\nx,0.5,1.2,abc\ny,0.71,3.4,abc\n",
        );
        assert_ne!(a, changed);
        let renamed = file(
            "d.csv",
            "run,accuracy,train_seconds,commit\nx,0.5,1.2,abc\ny,0.7,3.4,abc\n",
        );
        assert_ne!(a, renamed);
    }
}
