//! `cargo xtask collect DIR`: merges the shards of a grid (`DIR/shards/*/`, written by
//! `cargo xtask run CONFIG --shard I/N`) into the experiment's files, as if one process had
//! run the whole grid: `runs.csv`, `epochs.csv`, `examples.csv`, `topology.csv`,
//! `input_degree.csv`, then `summary.csv`, `paired_vs_dense.csv` and the figures.
//!
//! It refuses a run that two shards both finished (naming the shards) and names the cells of
//! the grid that no shard finished yet, so a cluster job that lost a task is noticed, not
//! silently summarised. Rows are written sorted by run key, so the merged files do not depend
//! on which shard finished first.

use crate::config::ExperimentConfig;
use crate::grid::expand;
use crate::results::{
    read_rows, write_all_rows, RunFileVisitor, RunFiles, RunKeyed, RunRow, StudyRows, StudyTable,
};
use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// What `collect` merged.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Shard folders read.
    pub shards: Vec<PathBuf>,
    /// Runs merged.
    pub runs: usize,
}

fn write_sorted<T: RunKeyed>(path: &Path, mut rows: Vec<T>) -> Result<()> {
    // Stable sort: rows of one run keep their order (epochs, examples).
    rows.sort_by(|a, b| a.run_id().cmp(b.run_id()));
    write_all_rows(path, &rows)
}

/// Reads one kind of file from every shard.
fn gather<T: RunKeyed>(shards: &[PathBuf], name: &str, done: &HashSet<String>) -> Result<Vec<T>> {
    let mut all = Vec::new();
    for s in shards {
        let rows: Vec<T> = read_rows(&s.join(name))?;
        // Rows of a run that shard did not finish (interrupted) are not part of the result.
        all.extend(rows.into_iter().filter(|r| done.contains(r.run_id())));
    }
    Ok(all)
}

/// [`merge`] for a protocol study's file, read as CSV records.
fn merge_study_file(
    shards: &[PathBuf],
    name: &str,
    done: &HashSet<String>,
    dir: &Path,
) -> Result<()> {
    let mut tables = Vec::new();
    for s in shards {
        if let Some(t) = StudyTable::read(&s.join(name))? {
            tables.push(t.of_runs(|id| done.contains(id))?);
        }
    }
    let path = dir.join(name);
    match tables.iter().find(|t| !t.is_empty()) {
        Some(first) => StudyTable::merged(first.header(), &tables)?.write(&path),
        None => {
            if path.exists() {
                std::fs::remove_file(&path)?;
            }
            Ok(())
        }
    }
}

/// Merges one kind of file of every shard into `dir`, sorted by run; a kind no shard wrote is
/// removed from `dir` (so a stale file from an earlier collect does not linger).
fn merge<T: RunKeyed>(
    shards: &[PathBuf],
    name: &str,
    done: &HashSet<String>,
    dir: &Path,
) -> Result<()> {
    let rows: Vec<T> = gather(shards, name, done)?;
    let path = dir.join(name);
    if rows.is_empty() {
        if path.exists() {
            std::fs::remove_file(&path)?;
        }
        return Ok(());
    }
    write_sorted(&path, rows)
}

/// Merges the shards of `dir` (see the module docs).
pub fn collect(dir: &Path) -> Result<Collected> {
    let text = std::fs::read_to_string(dir.join("config.toml")).with_context(|| {
        format!(
            "{}: no config.toml; run the shards with `cargo xtask run CONFIG --out {} --shard I/N` first",
            dir.display(),
            dir.display()
        )
    })?;
    let cfg: ExperimentConfig =
        toml::from_str(&text).with_context(|| format!("{}", dir.join("config.toml").display()))?;
    let shard_root = dir.join("shards");
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&shard_root)
        .with_context(|| format!("{}: no shards to collect", shard_root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    shards.sort();
    let mut owner: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut runs: Vec<RunRow> = Vec::new();
    for s in &shards {
        for r in read_rows::<RunRow>(&s.join("runs.csv"))? {
            if let Some(other) = owner.insert(r.run_id.clone(), s.clone()) {
                bail!(
                    "run {} was finished by two shards, {} and {}; remove one shard's rows (or \
                     its folder) and collect again",
                    r.run_id,
                    other.display(),
                    s.display()
                );
            }
            runs.push(r);
        }
    }
    let grid = expand(&cfg);
    let missing: Vec<&str> = grid
        .iter()
        .map(|r| r.run_id.as_str())
        .filter(|id| !owner.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).copied().collect();
        bail!(
            "{} of {} runs of the grid are not finished in any shard of {}, e.g.:\n  {}\nrerun \
             their shards (a shard resumes where it stopped), then collect again",
            missing.len(),
            grid.len(),
            shard_root.display(),
            shown.join("\n  ")
        );
    }
    let ids: HashSet<&str> = grid.iter().map(|r| r.run_id.as_str()).collect();
    if let Some(extra) = runs.iter().find(|r| !ids.contains(r.run_id.as_str())) {
        bail!(
            "run {} in {} is not a run of the grid in {}; was the config changed between shards?",
            extra.run_id,
            owner[&extra.run_id].display(),
            dir.join("config.toml").display()
        );
    }
    let done: HashSet<String> = owner.keys().cloned().collect();
    let n = runs.len();
    write_sorted(&dir.join("runs.csv"), runs)?;
    struct Merge<'a> {
        shards: &'a [PathBuf],
        done: &'a HashSet<String>,
        dir: &'a Path,
    }
    impl RunFileVisitor for Merge<'_> {
        fn visit<T: RunKeyed>(&mut self, name: &str, _: &[T]) -> Result<()> {
            merge::<T>(self.shards, name, self.done, self.dir)
        }
        fn visit_study(&mut self, name: &str, _: Option<&StudyRows>) -> Result<()> {
            merge_study_file(self.shards, name, self.done, self.dir)
        }
    }
    RunFiles::each_file(&mut Merge {
        shards: &shards,
        done: &done,
        dir,
    })?;
    let rows: Vec<RunRow> = read_rows(&dir.join("runs.csv"))?;
    crate::summary::write_summary(dir, &rows)?;
    Ok(Collected { shards, runs: n })
}
