//! The results files of an experiment folder (`runs.csv`, `epochs.csv`) and their durability.
//!
//! A finished run appends its epoch rows, then its run row, each write flushed and fsynced.
//! The run row marks the run as finished: on resume, runs listed in `runs.csv` are skipped,
//! and epoch rows of runs without a run row (a crash between the two writes) are dropped, as
//! is a torn last line. Ctrl-C or a crash therefore loses at most the runs in progress.

use anyhow::{bail, Context, Result};
use data::dynamics::ExampleRow;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// One row of `runs.csv` (the contract of `RESULTS.md`, plus losses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// The config's name.
    pub experiment: String,
    /// Dataset name.
    pub dataset: String,
    /// Method name.
    pub method: String,
    /// Target (or, with epsilon, realised) fraction of zero weights in the sparse layers.
    pub sparsity: f64,
    /// SET's epsilon when the topology was given by it.
    pub epsilon: Option<f64>,
    /// Realised number of weights, all layers, biases excluded.
    pub nnz: usize,
    /// Weights of the same architecture when dense.
    pub params_dense: usize,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Target fraction of feature values removed.
    pub missing_rate: f64,
    /// Measured fraction missing in the data the model saw (all splits).
    pub missing_rate_realized: f64,
    /// Measured fraction missing in the training split; empty in rows written before the
    /// column existed.
    #[serde(default)]
    pub missing_rate_realized_train: Option<f64>,
    /// Measured fraction missing in the test split; empty in rows written before the column
    /// existed.
    #[serde(default)]
    pub missing_rate_realized_test: Option<f64>,
    /// With `missing.columns`: the fraction of the named columns' cells missing in all
    /// splits (`missing_rate` is of all cells); empty otherwise.
    #[serde(default)]
    pub missing_rate_in_columns: Option<f64>,
    /// How missing values were fed.
    pub imputation: String,
    /// The Part II protocol variant (a data-aware option, a subset rule, ...); empty for
    /// plain training. Files written before the column existed read as empty.
    #[serde(default)]
    pub variant: String,
    /// The run's seed.
    pub seed: u64,
    /// Epochs trained (up to and including the one it diverged in, for a diverged run).
    pub epochs: usize,
    /// Whether training stopped because an output, weight or bias became non-finite. A
    /// diverged run is left out of every mean, paired comparison and analysis, and counted
    /// where it was left out (`n_diverged` in `summary.csv` and `paired_vs_dense.csv`). Files
    /// written before the column existed read as false.
    #[serde(default)]
    pub diverged: bool,
    /// The 1-based epoch of training in which it diverged; empty when it did not, or when
    /// only a run it depended on diverged (the scoring run of a subset).
    #[serde(default)]
    pub diverged_epoch: Option<usize>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
    /// Test cross-entropy after the last epoch.
    pub test_loss: f64,
    /// Training-pass loss of the last epoch.
    pub train_loss: f64,
    /// Training-pass accuracy of the last epoch.
    pub train_accuracy: f64,
    /// Wall time of training (evaluation excluded).
    pub train_seconds: f64,
    /// Multiply-adds performed in training.
    pub train_flops: u64,
    /// Realised density of each layer, input side first, `;`-separated.
    pub layer_density: String,
    /// The run's key.
    pub run_id: String,
    /// Hash of the config's settings that are not grid axes (also the last part of `run_id`).
    #[serde(default)]
    pub config_hash: String,
    /// The numerics fingerprint of the code that produced the row
    /// ([`crate::numerics::VERSION`]); empty in rows written before it existed.
    #[serde(default)]
    pub numerics: Option<u32>,
    /// Git commit of the code that produced the row.
    pub commit: String,
}

/// One row of `epochs.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// The run's key (as in `runs.csv`).
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Sparsity of the run.
    pub sparsity: f64,
    /// Seed of the run.
    pub seed: u64,
    /// 1-based epoch.
    pub epoch: usize,
    /// Training-pass loss (dropout on).
    pub train_loss: f64,
    /// Training-pass accuracy (dropout on).
    pub train_accuracy: f64,
    /// Test loss after the epoch.
    pub test_loss: f64,
    /// Test accuracy after the epoch.
    pub test_accuracy: f64,
    /// Validation accuracy after the epoch (empty without a validation split).
    pub validation_accuracy: Option<f64>,
    /// Weights after the epoch.
    pub nnz: usize,
    /// Connections removed by topology updates in the epoch.
    pub removed: usize,
    /// Connections grown by topology updates in the epoch.
    pub grown: usize,
    /// Wall time of the epoch's training.
    pub seconds: f64,
    /// Multiply-adds of the epoch's training.
    pub flops: u64,
}

/// One row of `topology.csv`: one layer of one DST run after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyRow {
    /// The run's key.
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Sparsity of the run.
    pub sparsity: f64,
    /// Seed of the run.
    pub seed: u64,
    /// 1-based epoch.
    pub epoch: usize,
    /// Layer index, input side first.
    pub layer: usize,
    /// Connections at the end of the epoch.
    pub nnz: usize,
    /// Density at the end of the epoch.
    pub density: f64,
    /// Connections removed during the epoch.
    pub removed: usize,
    /// Connections grown during the epoch.
    pub grown: usize,
    /// `removed / nnz` at the start of the epoch.
    pub turnover: f64,
    /// Fraction of all positions of the layer ever active so far (Liu et al. 2021).
    pub itop_rate: f64,
}

/// One row of `input_degree.csv`: one input neuron of one DST run after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegreeRow {
    /// The run's key.
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Sparsity of the run.
    pub sparsity: f64,
    /// Seed of the run.
    pub seed: u64,
    /// 1-based epoch (every `tracking.degree_every`-th and the last).
    pub epoch: usize,
    /// Feature name (after one-hot encoding and missing indicators).
    pub feature: String,
    /// 0-based input index.
    pub feature_index: usize,
    /// Connections from this input to the first hidden layer.
    pub degree: usize,
    /// Fraction of the training rows in which this feature was missing.
    pub missing_rate: f64,
}

/// One row of `predictions.csv`: one test example's prediction after a run's last epoch
/// (evaluation mode), for sparsity-identified exemplars and accuracy on the hardest examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    /// The run's key.
    pub run_id: String,
    /// Stable id of the test example (0-based data row of the dataset file).
    pub example_id: usize,
    /// Its class.
    pub label: u32,
    /// The predicted class (argmax, ties to the lower class).
    pub predicted: u32,
    /// Softmax probability of the true class.
    pub p_true: f64,
    /// Feature values missing in this example as the run saw it (real and simulated).
    pub missing_features: usize,
}

/// One row of `step_forgetting.csv`: when in a run's training the forgetting events fell, step
/// by step, and when its topology changed (for "does rewiring make a network forget?").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepForgettingRow {
    /// The run's key.
    pub run_id: String,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Forgetting events of every step (`;`-separated, step 0 first).
    pub events: String,
    /// Presentations of every step (`;`-separated).
    pub presentations: String,
    /// Presentations of every step whose example was presented before (`;`-separated): the
    /// ones that can be forgetting events.
    pub repeats: String,
    /// Presentations of every step with a topology update between the example's previous
    /// presentation and this one (`;`-separated; all 0 for static and dense).
    pub across_updates: String,
    /// For each step (`;`-separated) the forgetting events' distances in steps back to the
    /// example's previous presentation (space-separated): another method's updates classify
    /// this run's events at the same pairs of steps.
    pub event_gaps: String,
    /// Hash of the presentation schedule (which row at which step): two runs with the same
    /// hash presented the same examples at the same steps.
    pub schedule: String,
    /// Steps that trained a new topology first (`;`-separated; empty for static and dense).
    pub updates: String,
    /// Distinct examples with a forgetting event across a topology update.
    pub after_update_examples: usize,
    /// Their mean forgetting events over the whole run.
    pub after_update_mean_events: f64,
    /// Mean forgetting events of every example forgotten at least once.
    pub forgotten_mean_events: f64,
}

/// File of the test predictions of every run (`tracking.predictions`).
pub const PREDICTIONS: &str = "predictions.csv";

/// File of the per-step forgetting events of every run (with `tracking.examples`).
pub const STEP_FORGETTING: &str = "step_forgetting.csv";

/// File of the topology telemetry of every DST run.
pub const TOPOLOGY: &str = "topology.csv";

/// File of the input-neuron degrees of every DST run.
pub const INPUT_DEGREE: &str = "input_degree.csv";

/// File of the per-example statistics of every run.
pub const EXAMPLES: &str = "examples.csv";

/// A row that belongs to one run.
pub trait RunKeyed: Serialize + for<'de> Deserialize<'de> {
    /// The run's key.
    fn run_id(&self) -> &str;
}

impl RunKeyed for RunRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for EpochRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for ExampleRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for TopologyRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for PredictionRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for StepForgettingRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl RunKeyed for DegreeRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Drops the rows of unfinished runs and a torn last line from `path`, rewriting it
/// atomically only when something must go.
fn prune<T: RunKeyed>(path: &Path, done: &HashSet<String>) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    let torn = !text.ends_with('\n');
    let rows: Vec<T> = read_rows(path)?;
    let had = rows.len();
    let kept: Vec<T> = rows
        .into_iter()
        .filter(|r| done.contains(r.run_id()))
        .collect();
    if torn || kept.len() != had || !current_header(&text, &kept)? {
        write_all_rows(path, &kept)?;
    }
    Ok(())
}

/// Whether `text` (a results file) starts with the header `rows` are written with now, so that
/// appending to it keeps one format; a file from before a column was added is rewritten.
fn current_header<T: Serialize>(text: &str, rows: &[T]) -> Result<bool> {
    let Some(first) = rows.first() else {
        return Ok(true);
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(first)?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let written = String::from_utf8(bytes)?;
    Ok(text.lines().next() == written.lines().next())
}

/// Reads the rows of a results CSV, dropping a torn (unterminated) last line.
pub fn read_rows<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !text.ends_with('\n') {
        let cut = text.rfind('\n').map(|p| p + 1).unwrap_or(0);
        text.truncate(cut);
    }
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in rdr.deserialize().enumerate() {
        let row: T = rec.with_context(|| {
            format!(
                "{}: line {}: not a row of this results format (rerun with --fresh to start over)",
                path.display(),
                i + 2
            )
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes `rows` (with a header) to `path` atomically: a temporary file, synced, then renamed
/// over `path`, so a reader or an interrupted process never sees half a file.
pub fn write_all_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut w =
            csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        for r in rows {
            w.serialize(r)?;
        }
        w.flush()?;
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

fn append_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let new = !path.exists() || std::fs::metadata(path)?.len() == 0;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = csv::WriterBuilder::new().has_headers(new).from_writer(file);
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    let file: File = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    file.sync_all()?;
    Ok(())
}

/// The runs that trained to the end, and how many of `rows` diverged: every mean and
/// analysis reads the first, and reports the second.
pub fn converged(rows: &[RunRow]) -> (Vec<RunRow>, usize) {
    let kept: Vec<RunRow> = rows.iter().filter(|r| !r.diverged).cloned().collect();
    let diverged = rows.len() - kept.len();
    (kept, diverged)
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
    /// The `step_forgetting.csv` row (with `tracking.examples`).
    pub step_forgetting: Vec<StepForgettingRow>,
    /// `continual.csv` rows (continual runs: their accuracy matrix).
    pub continual: Vec<crate::continual::ContinualRow>,
    /// `subset_runs.csv` rows (subset-selection runs).
    pub subsets: Vec<crate::subsets::SubsetRunRow>,
    /// `feature_selection.csv` rows (with `tracking.relevant_features`).
    pub feature_selection: Vec<crate::feature_selection::FeatureSelectionRow>,
}

/// Something done to every kind of per-run file beside `runs.csv` (recording, pruning,
/// deleting, merging shards), with each kind's row type.
pub trait RunFileVisitor {
    /// One kind: its file name and, when visiting one run's files, that run's rows of it.
    fn visit<T: RunKeyed>(&mut self, name: &str, rows: &[T]) -> Result<()>;
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
        v.visit(STEP_FORGETTING, &self.step_forgetting)?;
        v.visit(crate::continual::CONTINUAL, &self.continual)?;
        v.visit(crate::subsets::SUBSET_RUNS, &self.subsets)?;
        v.visit(
            crate::feature_selection::FEATURE_SELECTION,
            &self.feature_selection,
        )
    }

    /// Visits every kind of per-run file without rows (for work on whole files).
    pub fn each_file(v: &mut impl RunFileVisitor) -> Result<()> {
        RunFiles::default().each_kind(v)
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
}
