//! The results files of an experiment folder (`runs.csv`, `epochs.csv`) and their durability.
//!
//! A finished run appends its epoch rows, then its run row, each write flushed and fsynced.
//! The run row marks the run as finished: on resume, runs listed in `runs.csv` are skipped,
//! and epoch rows of runs without a run row (a crash between the two writes) are dropped, as
//! is a torn last line. Ctrl-C or a crash therefore loses at most the runs in progress.

mod io;
mod rows;
mod table;

pub use io::{read_rows, write_all_rows};
pub use rows::{
    DegreeRow, EpochRow, PredictionRow, RunKeyed, RunRow, TopologyRow, EXAMPLES, INPUT_DEGREE,
    PREDICTIONS, TOPOLOGY,
};
pub use table::{register_study_files, study_files, StudyRows, StudyTable};

use anyhow::{bail, Context, Result};
use data::dynamics::ExampleRow;
use io::{append_rows, current_header, prune, remove_if_present};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The runs that trained to the end, and how many of `rows` diverged: every mean and
/// analysis reads the first, and reports the second.
pub fn converged(rows: &[RunRow]) -> (Vec<RunRow>, usize) {
    let kept: Vec<RunRow> = rows.iter().filter(|r| !r.diverged).cloned().collect();
    let diverged = rows.len() - kept.len();
    (kept, diverged)
}

/// Everything a finished run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Its `runs.csv` row.
    pub row: RunRow,
    /// Its rows of the other files.
    pub files: RunFiles,
}

/// The rows one finished run adds to the files beside `runs.csv`.
#[derive(Debug, Clone, Default)]
pub struct RunFiles {
    /// `epochs.csv` rows.
    pub epochs: Vec<EpochRow>,
    /// `examples.csv` rows (empty when tracking is off).
    pub examples: Vec<ExampleRow>,
    /// `topology.csv` rows (DST runs).
    pub topology: Vec<TopologyRow>,
    /// `input_degree.csv` rows (DST runs).
    pub input_degree: Vec<DegreeRow>,
    /// `predictions.csv` rows (with `tracking.predictions`).
    pub predictions: Vec<PredictionRow>,
    /// Rows of the files of studies, whose types the runner does not know: their recordings'
    /// (`step_forgetting.csv`, [`crate::recording`]) and their protocols' (`continual.csv`).
    pub study: Vec<StudyRows>,
}

/// Something done to every kind of per-run file beside `runs.csv` (recording, pruning,
/// deleting, merging shards), with each kind's row type; the files of studies are
/// visited as CSV records.
pub trait RunFileVisitor {
    /// One kind: its file name and, when visiting one run's files, that run's rows of it.
    fn visit<T: RunKeyed>(&mut self, name: &str, rows: &[T]) -> Result<()>;
    /// One study's file, with that run's rows when visiting one run's files.
    fn visit_study(&mut self, name: &str, rows: Option<&StudyRows>) -> Result<()>;
}

impl RunFiles {
    /// Visits every kind of per-run file, in the order a run records them. The one list of
    /// the kinds: a new kind of file is a field of [`RunFiles`] and a line here.
    pub fn each_kind(&self, v: &mut impl RunFileVisitor) -> Result<()> {
        v.visit("epochs.csv", &self.epochs)?;
        v.visit(EXAMPLES, &self.examples)?;
        v.visit(TOPOLOGY, &self.topology)?;
        v.visit(INPUT_DEGREE, &self.input_degree)?;
        v.visit(PREDICTIONS, &self.predictions)?;
        for rows in &self.study {
            v.visit_study(rows.file, Some(rows))?;
        }
        Ok(())
    }

    /// Visits every kind of per-run file without rows (for work on whole files), the files of
    /// every installed recording and protocol study included.
    pub fn each_file(v: &mut impl RunFileVisitor) -> Result<()> {
        RunFiles::default().each_kind(v)?;
        for name in study_files() {
            v.visit_study(name, None)?;
        }
        Ok(())
    }
}

/// The results folder of one experiment.
#[derive(Debug)]
pub struct ResultStore {
    dir: PathBuf,
    done: HashSet<String>,
    stale: Vec<(u32, usize)>,
    unversioned: usize,
}

impl ResultStore {
    /// Opens (or creates) `dir`; with `fresh`, previous results are deleted. Repairs what an
    /// interrupted run may have left and remembers which runs are finished. Runs computed by
    /// another numerics version ([`crate::numerics::VERSION`]) are removed with their rows in
    /// every file, so that they run again ([`ResultStore::stale`] says how many); rows from
    /// before the fingerprint existed are kept ([`ResultStore::unversioned`]).
    pub fn open(dir: &Path, fresh: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let runs_path = dir.join("runs.csv");
        if fresh {
            struct Delete<'a>(&'a Path);
            impl RunFileVisitor for Delete<'_> {
                fn visit<T: RunKeyed>(&mut self, name: &str, _: &[T]) -> Result<()> {
                    remove_if_present(&self.0.join(name))
                }
                fn visit_study(&mut self, name: &str, _: Option<&StudyRows>) -> Result<()> {
                    remove_if_present(&self.0.join(name))
                }
            }
            RunFiles::each_file(&mut Delete(dir))?;
            remove_if_present(&runs_path)?;
            remove_if_present(&dir.join("summary.csv"))?;
        }
        let mut runs: Vec<RunRow> = read_rows(&runs_path)?;
        let ids: HashSet<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        if ids.len() != runs.len() {
            bail!("{}: a run_id appears twice", runs_path.display());
        }
        let mut stale = std::collections::BTreeMap::new();
        runs.retain(|r| match r.numerics {
            Some(v) if v != crate::numerics::VERSION => {
                *stale.entry(v).or_insert(0) += 1;
                false
            }
            _ => true,
        });
        let unversioned = runs.iter().filter(|r| r.numerics.is_none()).count();
        let done: HashSet<String> = runs.iter().map(|r| r.run_id.clone()).collect();
        // Rows of runs without a run row (interrupted between the writes) and torn last
        // lines must go before anything is appended.
        struct Prune<'a>(&'a Path, &'a HashSet<String>);
        impl RunFileVisitor for Prune<'_> {
            fn visit<T: RunKeyed>(&mut self, name: &str, _: &[T]) -> Result<()> {
                prune::<T>(&self.0.join(name), self.1)
            }
            fn visit_study(&mut self, name: &str, _: Option<&StudyRows>) -> Result<()> {
                let path = self.0.join(name);
                let Some(table) = StudyTable::read(&path)? else {
                    return Ok(());
                };
                let had = table.records.len();
                let kept = table.of_runs(|id| self.1.contains(id))?;
                if table.torn || kept.records.len() != had {
                    kept.write(&path)?;
                }
                Ok(())
            }
        }
        RunFiles::each_file(&mut Prune(dir, &done))?;
        if runs_path.exists() {
            let text = std::fs::read_to_string(&runs_path)?;
            if !text.ends_with('\n') || !current_header(&text, &runs)? || !stale.is_empty() {
                write_all_rows(&runs_path, &runs)?;
            }
        }
        Ok(ResultStore {
            dir: dir.to_path_buf(),
            done,
            stale: stale.into_iter().collect(),
            unversioned,
        })
    }

    /// The runs removed on opening because another numerics version computed them: each
    /// version with its number of runs.
    pub fn stale(&self) -> &[(u32, usize)] {
        &self.stale
    }

    /// Finished runs without a numerics fingerprint (written before it existed): kept, since
    /// nothing tells whether this code would compute the same numbers.
    pub fn unversioned(&self) -> usize {
        self.unversioned
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the run with this key is finished.
    pub fn is_done(&self, run_id: &str) -> bool {
        self.done.contains(run_id)
    }

    /// Records a finished run durably: the rows of its other files first, then the run row
    /// (which marks it finished).
    pub fn record(&mut self, row: &RunRow, files: &RunFiles) -> Result<()> {
        struct Append<'a>(&'a Path);
        impl RunFileVisitor for Append<'_> {
            fn visit<T: RunKeyed>(&mut self, name: &str, rows: &[T]) -> Result<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                append_rows(&self.0.join(name), rows)
            }
            fn visit_study(&mut self, name: &str, rows: Option<&StudyRows>) -> Result<()> {
                match rows {
                    Some(rows) if !rows.records.is_empty() => {
                        StudyTable::append(&self.0.join(name), rows)
                    }
                    _ => Ok(()),
                }
            }
        }
        files.each_kind(&mut Append(&self.dir))?;
        append_rows(&self.dir.join("runs.csv"), std::slice::from_ref(row))?;
        self.done.insert(row.run_id.clone());
        Ok(())
    }

    /// Every finished run row.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        read_rows(&self.dir.join("runs.csv"))
    }

    /// Every epoch row.
    pub fn epochs(&self) -> Result<Vec<EpochRow>> {
        read_rows(&self.dir.join("epochs.csv"))
    }
}

/// A run row with plausible values, for tests (of this crate and of the studies).
pub fn sample_row(method: &str, seed: u64, acc: f64) -> RunRow {
    RunRow {
        experiment: "e".into(),
        dataset: "d".into(),
        method: method.into(),
        sparsity: if method == "dense" { 0.0 } else { 0.5 },
        epsilon: None,
        nnz: 10,
        params_dense: 20,
        missing_mechanism: "none".into(),
        missing_rate: 0.0,
        missing_rate_realized: 0.0,
        missing_rate_realized_train: Some(0.0),
        missing_rate_realized_test: Some(0.0),
        missing_rate_in_columns: None,
        imputation: "none".into(),
        variant: String::new(),
        seed,
        epochs: 2,
        diverged: false,
        diverged_epoch: None,
        test_accuracy: acc,
        test_loss: 0.3,
        train_loss: 0.2,
        train_accuracy: 0.95,
        train_seconds: 0.1,
        train_flops: 100,
        layer_density: "0.5;1".into(),
        run_id: format!("{method}{seed}"),
        config_hash: "h".into(),
        numerics: Some(crate::numerics::VERSION),
        commit: "abc".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::fs::OpenOptions;
    use std::io::Write;

    fn row(id: &str) -> RunRow {
        RunRow {
            run_id: id.into(),
            ..sample_row("set", 1, 0.9)
        }
    }

    fn epoch(id: &str, e: usize) -> EpochRow {
        EpochRow {
            run_id: id.into(),
            method: "set".into(),
            sparsity: 0.5,
            seed: 1,
            epoch: e,
            train_loss: 0.1,
            train_accuracy: 0.9,
            test_loss: 0.2,
            test_accuracy: 0.8,
            validation_accuracy: None,
            nnz: 10,
            removed: 1,
            grown: 1,
            seconds: 0.0,
            flops: 5,
        }
    }

    #[test]
    fn resume_drops_orphans_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ResultStore::open(dir.path(), false).unwrap();
        s.record(
            &row("a"),
            &RunFiles {
                epochs: vec![epoch("a", 1), epoch("a", 2)],
                ..RunFiles::default()
            },
        )
        .unwrap();
        // A crash after the epoch rows of run b, in the middle of writing its run row.
        append_rows(&dir.path().join("epochs.csv"), &[epoch("b", 1)]).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("runs.csv"))
            .unwrap();
        f.write_all(b"e,d,set,0.5,,10,20,none,0").unwrap();
        drop(f);
        let s = ResultStore::open(dir.path(), false).unwrap();
        assert!(s.is_done("a") && !s.is_done("b"));
        assert_eq!(s.runs().unwrap(), vec![row("a")]);
        assert_eq!(s.epochs().unwrap().len(), 2);
        // Fresh starts over.
        let s = ResultStore::open(dir.path(), true).unwrap();
        assert!(!s.is_done("a"));
        assert!(s.runs().unwrap().is_empty());
    }

    #[test]
    fn a_foreign_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("runs.csv"), "x,y\n1,2\n").unwrap();
        let err = ResultStore::open(dir.path(), false).unwrap_err();
        assert!(format!("{err:#}").contains("runs.csv: line 2"), "{err:#}");
    }

    /// A protocol study's rows, stored without their type: the same text a typed writer
    /// writes, finished runs kept and a torn line dropped by pruning, an older header
    /// rearranged by column name, shards merged sorted by run.
    #[test]
    fn study_rows_are_stored_like_typed_rows() {
        #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
        struct Cell {
            run_id: String,
            task: usize,
            accuracy: f64,
        }
        impl RunKeyed for Cell {
            fn run_id(&self) -> &str {
                &self.run_id
            }
        }
        let cell = |id: &str, task, accuracy| Cell {
            run_id: id.into(),
            task,
            accuracy,
        };
        let dir = tempfile::tempdir().unwrap();
        let (typed, erased) = (dir.path().join("typed.csv"), dir.path().join("erased.csv"));
        let runs = [
            vec![cell("b", 1, 0.5), cell("b", 2, 0.25)],
            vec![cell("a", 1, 1.0 / 3.0)],
        ];
        for rows in &runs {
            append_rows(&typed, rows).unwrap();
            StudyTable::append(&erased, &StudyRows::of("erased.csv", rows).unwrap()).unwrap();
        }
        let text = std::fs::read_to_string(&erased).unwrap();
        assert_eq!(text, std::fs::read_to_string(&typed).unwrap());

        // Pruning: run a unfinished, and a torn line.
        std::fs::write(&erased, format!("{text}c,1,0.")).unwrap();
        let table = StudyTable::read(&erased).unwrap().unwrap();
        assert!(table.torn);
        let kept = table.of_runs(|id| id == "b").unwrap();
        kept.write(&erased).unwrap();
        let rows: Vec<Cell> = read_rows(&erased).unwrap();
        assert_eq!(rows, runs[0]);

        // A newer row type: the old rows rearranged by column name, a new column empty.
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Wider {
            task: usize,
            run_id: String,
            note: Option<String>,
            accuracy: f64,
        }
        impl RunKeyed for Wider {
            fn run_id(&self) -> &str {
                &self.run_id
            }
        }
        let new = Wider {
            task: 3,
            run_id: "a".into(),
            note: Some("n".into()),
            accuracy: 0.75,
        };
        let wider = StudyRows::of("erased.csv", std::slice::from_ref(&new)).unwrap();
        StudyTable::append(&erased, &wider).unwrap();
        let rows: Vec<Wider> = read_rows(&erased).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].task, rows[0].note.as_deref()), (1, None));
        assert_eq!(rows[2], new);

        // Shards merged: sorted by run, stable within a run.
        let shards = [
            StudyTable::read(&typed).unwrap().unwrap(),
            StudyTable::read(&erased).unwrap().unwrap(),
        ];
        let merged = StudyTable::merged(shards[1].header(), &shards).unwrap();
        let ids: Vec<&str> = merged.records.iter().map(|r| &r[1]).collect();
        assert_eq!(ids, ["a", "a", "b", "b", "b", "b"]);
        assert_eq!(&merged.records[1][0], "3", "a's own order kept");
    }
}
