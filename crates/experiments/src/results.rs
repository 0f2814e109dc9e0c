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

/// File of the test predictions of every run (`tracking.predictions`).
pub const PREDICTIONS: &str = "predictions.csv";

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

impl RunKeyed for DegreeRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// A study's file read as CSV records (see [`StudyRows`]).
#[derive(Debug, Clone)]
pub struct StudyTable {
    header: csv::StringRecord,
    records: Vec<csv::StringRecord>,
    /// Whether the file ended in a torn (unterminated) line, dropped on reading.
    torn: bool,
}

impl StudyTable {
    /// Reads `path`, dropping a torn last line; `None` when there is no file or no header.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let mut text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        if torn {
            text.truncate(text.rfind('\n').map_or(0, |p| p + 1));
        }
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let header = rdr.headers()?.clone();
        if header.is_empty() {
            return Ok(None);
        }
        let records = rdr
            .records()
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(StudyTable {
            header,
            records,
            torn,
        }))
    }

    /// The records whose `run_id` column passes `keep`, in file order.
    pub fn of_runs(&self, keep: impl Fn(&str) -> bool) -> Result<Self> {
        let id = self
            .header
            .iter()
            .position(|h| h == "run_id")
            .context("a per-run file without a run_id column")?;
        Ok(StudyTable {
            header: self.header.clone(),
            records: self
                .records
                .iter()
                .filter(|r| r.get(id).is_some_and(&keep))
                .cloned()
                .collect(),
            torn: false,
        })
    }

    /// Rows of one file gathered from several tables (the shards of a grid), stably sorted
    /// by run, under the header of `header` (columns matched by name; one a table lacks is
    /// empty).
    pub fn merged(header: &csv::StringRecord, tables: &[StudyTable]) -> Result<Self> {
        let mut records: Vec<csv::StringRecord> = Vec::new();
        for t in tables {
            records.extend(t.under(header));
        }
        let id = header
            .iter()
            .position(|h| h == "run_id")
            .context("a per-run file without a run_id column")?;
        records.sort_by(|a, b| a.get(id).cmp(&b.get(id)));
        Ok(StudyTable {
            header: header.clone(),
            records,
            torn: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records rearranged under `header`, columns matched by name.
    fn under(&self, header: &csv::StringRecord) -> Vec<csv::StringRecord> {
        if &self.header == header {
            return self.records.clone();
        }
        let from: Vec<Option<usize>> = header
            .iter()
            .map(|h| self.header.iter().position(|o| o == h))
            .collect();
        self.records
            .iter()
            .map(|r| {
                from.iter()
                    .map(|i| i.and_then(|i| r.get(i)).unwrap_or(""))
                    .collect()
            })
            .collect()
    }

    /// Writes the table atomically (see [`write_all_rows`]).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomically(path, |w| {
            w.write_record(&self.header)?;
            for r in &self.records {
                w.write_record(r)?;
            }
            Ok(())
        })
    }

    /// Appends `rows` to `path` durably; a file written under another header (an older
    /// version of the row type) is first rewritten under the new one, columns matched by name.
    fn append(path: &Path, rows: &StudyRows) -> Result<()> {
        if let Some(old) = StudyTable::read(path)? {
            if old.header != rows.header || old.torn {
                let mut all = StudyTable {
                    records: old.under(&rows.header),
                    header: rows.header.clone(),
                    torn: false,
                };
                all.records.extend(rows.records.iter().cloned());
                return all.write(path);
            }
        }
        append_durably(path, false, |w, new| {
            if new {
                w.write_record(&rows.header)?;
            }
            for r in &rows.records {
                w.write_record(r)?;
            }
            Ok(())
        })
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
    write_atomically(path, |w| {
        for r in rows {
            w.serialize(r)?;
        }
        Ok(())
    })
}

/// Writes a CSV file through `fill` into a temporary file, synced, then renamed over `path`.
fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<File>) -> Result<()>,
) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut w =
            csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        fill(&mut w)?;
        w.flush()?;
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

fn append_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    append_durably(path, true, |w, _| {
        for r in rows {
            w.serialize(r)?;
        }
        Ok(())
    })
}

/// Appends to the CSV file `path` through `fill` (told whether the file is new) and syncs it;
/// with `typed_header`, the writer itself adds the header of a new file from the first row.
fn append_durably(
    path: &Path,
    typed_header: bool,
    fill: impl FnOnce(&mut csv::Writer<File>, bool) -> Result<()>,
) -> Result<()> {
    let new = !path.exists() || std::fs::metadata(path)?.len() == 0;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(new && typed_header)
        .from_writer(file);
    fill(&mut w, new)?;
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
    /// Rows of the files of studies, whose types the runner does not know: their recordings'
    /// (`step_forgetting.csv`, [`crate::recording`]) and their protocols' (`continual.csv`).
    pub study: Vec<StudyRows>,
}

/// Rows of a per-run file a study adds (a [`crate::recording::Recording`]'s or a protocol's),
/// held as CSV records under their header: the runner appends, prunes and merges them by
/// their `run_id` column without knowing their type, and writes the text a typed writer would.
#[derive(Debug, Clone)]
pub struct StudyRows {
    /// The file, beside `runs.csv`.
    pub file: &'static str,
    header: csv::StringRecord,
    records: Vec<csv::StringRecord>,
}

impl StudyRows {
    /// The rows as the csv crate writes them (a header from the row type's field names).
    pub fn of<T: RunKeyed>(file: &'static str, rows: &[T]) -> Result<Self> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in rows {
            w.serialize(r)?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut rdr = csv::Reader::from_reader(bytes.as_slice());
        let header = rdr.headers()?.clone();
        let records = rdr.records().collect::<Result<_, _>>()?;
        Ok(StudyRows {
            file,
            header,
            records,
        })
    }
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
        for name in crate::recording::files().chain(crate::protocol::study_files()) {
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
