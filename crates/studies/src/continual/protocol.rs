//! Part II, catastrophic forgetting (part2-continual), its protocol: can a small memory of
//! examples chosen by their forgetting statistics help sparse networks keep what earlier tasks
//! taught them? The runner sees it as a [`ProtocolStudy`] owning the `[continual]` section.
//!
//! One model is trained on a sequence of tasks (by default digits split into the class pairs
//! {0,1}, {2,3}, ...), with the same random streams and the DST method's state carried from task
//! to task; after each task every task's test set is evaluated, giving the accuracy matrix
//! `R[i][j]` (accuracy on task j after training on task i) of GEM (Lopez-Paz & Ranzato 2017).
//! The grid's protocol axis ([`ContinualOption`]) crosses:
//!
//! - the scenario (van de Ven et al. 2019): `class-il`, one 10-way head that must infer the
//!   task, or `task-il`, the task given, so only its classes are scored
//!   ([`models::Classifier::set_active_classes`]) in training and evaluation;
//! - the regime: `multi-epoch` (`training.epochs` passes over each task) or `online` (one pass
//!   over each task's stream);
//! - the memory: `none` (fine-tuning), or rehearsal with `memory_per_task` examples of each
//!   finished task mixed into every later task's training set, chosen at `random`, by
//!   `forgetting` (the task's most forgettable examples by its own training passes: never
//!   learned first, then forgetting events, ties by EL2N; Toneva et al. 2019) or by `hardness`
//!   (highest EL2N at the last presentation; Paul et al. 2021).
//!
//! In `task-il` every training example, the current task's and the replayed ones alike, is
//! scored over its own task's classes ([`models::Classifier::set_class_groups`]), as van de
//! Ven's replay computes the loss of replayed data with their own task's `allowed_classes`.
//!
//! `epochs.csv` numbers a run's epochs over the whole sequence (task t's first epoch follows
//! task t-1's last), its test accuracy being the current task's.
//!
//! Writes `continual.csv` (the matrix of every run); the analysis (the parent module) writes
//! `continual_summary.csv` (ACC, BWT and Chaudhry's forgetting per cell, mean and 95% CI over
//! seeds) and two kinds of figures.

use anyhow::{bail, Context, Result};
use data::Dataset;
use experiments::protocol::{ProtocolSection, ProtocolStudy, RunContext, Variant};
use experiments::registry::DENSE;
use experiments::results::RunResult;
use experiments::results::{EpochRow, RunFiles, RunKeyed, RunRow, StudyRows};
use experiments::run::{self, examples};
use models::policy::OnlineForgetting;
use models::rngs::stream;
use models::train::TrainObserver;
use models::{
    Batch, Classifier, EpochRecord, GrowthBatch, RunData, RunRngs, StepReport, TrainOptions,
};
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};
use sparse_core::{EditStats, SparseLayer, TrainingClock};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::config::{ContinualConfig, ContinualOption, MemoryPolicy, Regime, Scenario};
use super::metrics::acc;

/// File of the accuracy matrices of every continual run.
pub const CONTINUAL: &str = "continual.csv";

/// File of the per-cell continual-learning metrics.
pub const SUMMARY: &str = "continual_summary.csv";

/// The continual protocol as the runner sees it: the `[continual]` section, its variants and
/// `continual.csv`.
pub struct ContinualProtocol;

impl ProtocolStudy for ContinualProtocol {
    fn section(&self) -> &'static str {
        "continual"
    }

    fn parse(&self, section: &toml::Value) -> Result<Arc<dyn ProtocolSection>, (String, String)> {
        let config: ContinualConfig = section
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ("continual".to_string(), e.message().to_string()))?;
        config.validate()?;
        Ok(Arc::new(config))
    }

    fn files(&self) -> &'static [&'static str] {
        &[CONTINUAL]
    }
}

impl ProtocolSection for ContinualConfig {
    fn key(&self) -> (&'static str, String) {
        let json = serde_json::to_string(self).expect("a plain struct serialises");
        ("continual", json)
    }

    fn variants(self: Arc<Self>) -> Vec<Arc<dyn Variant>> {
        self.options()
            .into_iter()
            .map(|option| {
                Arc::new(ContinualVariant {
                    config: Arc::clone(&self),
                    option,
                }) as Arc<dyn Variant>
            })
            .collect()
    }
}

/// One scenario x regime x memory of a `[continual]` section.
#[derive(Debug)]
struct ContinualVariant {
    config: Arc<ContinualConfig>,
    option: ContinualOption,
}

impl Variant for ContinualVariant {
    fn name(&self) -> String {
        self.option.name()
    }

    fn execute(&self, run: RunContext<'_>) -> Result<RunResult> {
        execute(&self.config, &self.option, run)
    }
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// The `k` rows (positions in a task's training rows, whose classes are `labels`) that
/// `policy` keeps, from the task's training statistics `stats`; `rng` draws the random memory.
/// Class-balanced, as GEM's and iCaRL's memories are: each class of the task gets `k / classes`
/// rows (the first classes one more when `k` does not divide), so that the rules differ in
/// which examples of a class they keep, not in how many of each class. Sorted by position.
pub fn select_memory(
    policy: MemoryPolicy,
    stats: &OnlineForgetting,
    labels: &[u32],
    k: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<usize> {
    assert_eq!(labels.len(), stats.len(), "one label per row");
    if policy == MemoryPolicy::None {
        return Vec::new();
    }
    // Rows from the most to the least worth keeping (random: in position order).
    let ranked = match policy {
        MemoryPolicy::None | MemoryPolicy::Random => (0..stats.len()).collect(),
        MemoryPolicy::Forgetting => stats.most_forgettable_first(),
        MemoryPolicy::Hardness => {
            let mut rows: Vec<usize> = (0..stats.len()).collect();
            rows.sort_by(|&a, &b| {
                stats
                    .last_el2n(b)
                    .total_cmp(&stats.last_el2n(a))
                    .then(a.cmp(&b))
            });
            rows
        }
    };
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for r in ranked {
        by_class.entry(labels[r]).or_default().push(r);
    }
    let classes = by_class.len().max(1);
    let mut rows = Vec::with_capacity(k);
    for (i, candidates) in by_class.into_values().enumerate() {
        let quota = (k / classes + usize::from(i < k % classes)).min(candidates.len());
        if policy == MemoryPolicy::Random {
            let picked = sample(rng, candidates.len(), quota);
            rows.extend(picked.into_iter().map(|p| candidates[p]));
        } else {
            rows.extend_from_slice(&candidates[..quota]);
        }
    }
    rows.sort_unstable();
    rows
}

// ---------------------------------------------------------------------------------------------
// Training.

/// A model seen through one continual run's clock: each task's training loop counts its own
/// epochs and steps, the model sees them as part of one run over every task, so a DST method's
/// schedule (and its rule of not rewiring after the last epoch) spans the whole sequence.
struct SequenceClock<'a> {
    inner: &'a mut dyn Classifier,
    epoch_offset: usize,
    total_epochs: usize,
    step_offset: usize,
}

impl SequenceClock<'_> {
    fn map(&self, c: TrainingClock) -> TrainingClock {
        TrainingClock {
            epoch: c.epoch + self.epoch_offset,
            epochs: self.total_epochs,
            step: c.step + self.step_offset,
            steps_per_epoch: c.steps_per_epoch,
        }
    }
}

impl Classifier for SequenceClock<'_> {
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    fn train_step(
        &mut self,
        batch: &Batch,
        labels: &[u32],
        clock: TrainingClock,
        rngs: &mut RunRngs,
        growth: Option<GrowthBatch>,
    ) -> StepReport {
        let clock = self.map(clock);
        self.inner.train_step(batch, labels, clock, rngs, growth)
    }
    fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        self.inner.set_active_classes(classes)
    }
    fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        self.inner.set_class_groups(groups)
    }
    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.inner.wants_gradients(&self.map(*clock))
    }
    fn parameters_finite(&self) -> bool {
        self.inner.parameters_finite()
    }
    fn end_of_epoch(&mut self, clock: TrainingClock, rngs: &mut RunRngs) -> Vec<EditStats> {
        let clock = self.map(clock);
        self.inner.end_of_epoch(clock, rngs)
    }
    fn predict_proba(&mut self, batch: &Batch) -> Vec<f32> {
        self.inner.predict_proba(batch)
    }
    fn nnz(&self) -> usize {
        self.inner.nnz()
    }
    fn layer_densities(&self) -> Vec<f64> {
        self.inner.layer_densities()
    }
    fn input_strengths(&self) -> Vec<f64> {
        self.inner.input_strengths()
    }
    fn sparse_layers(&self) -> Option<&[SparseLayer]> {
        self.inner.sparse_layers()
    }
    fn save_state(&self) -> Vec<u8> {
        self.inner.save_state()
    }
    fn load_state(&mut self, state: &[u8]) -> Result<(), models::ModelError> {
        self.inner.load_state(state)
    }
}

/// Forwards epochs to the progress display, on the sequence's epoch scale.
struct TaskObserver<'a> {
    on_epoch: &'a mut (dyn FnMut(&EpochRecord) + Send),
    epoch_offset: usize,
    /// Epochs of the whole sequence and of the progress display (sized for
    /// `training.epochs`), so that the display fills once over every task.
    total_epochs: usize,
    display_epochs: usize,
}

impl TrainObserver for TaskObserver<'_> {
    fn on_epoch(&mut self, record: &EpochRecord) {
        let mut r = record.clone();
        r.epoch = ((r.epoch + self.epoch_offset) * self.display_epochs).div_ceil(self.total_epochs);
        (self.on_epoch)(&r)
    }
}

/// One row of `continual.csv`: one cell of one run's accuracy matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinualRow {
    /// The run's key.
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Sparsity of the run.
    pub sparsity: f64,
    /// Seed of the run.
    pub seed: u64,
    /// `<scenario>/<regime>/<memory>`.
    pub variant: String,
    /// The task just trained (1-based).
    pub after_task: usize,
    /// The task evaluated (1-based).
    pub task: usize,
    /// Test accuracy on that task's examples (its classes alone scored in `task-il`).
    pub accuracy: f64,
}

impl RunKeyed for ContinualRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// Positions of the rows of `ds` whose class is in `classes`.
fn rows_of(ds: &Dataset, classes: &[u32]) -> Vec<usize> {
    (0..ds.labels.len())
        .filter(|&r| classes.contains(&ds.labels[r]))
        .collect()
}

/// Runs the continual run `spec` (protocol `option`) to the end on `full`.
fn execute(
    c: &ContinualConfig,
    option: &ContinualOption,
    run: RunContext<'_>,
) -> Result<RunResult> {
    // Continual runs resume at run granularity only: a checkpoint policy is not used.
    let RunContext {
        cfg,
        spec,
        full,
        commit,
        on_epoch,
        checkpoints: _,
    } = run;
    if spec.epsilon.is_some() {
        bail!("continual runs take grid.sparsity, not grid.epsilon");
    }
    let prepared = experiments::pipeline::prepare(full, cfg, spec)
        .with_context(|| format!("preparing data for run {}", spec.run_id))?;
    let k = full.n_classes();
    if let Some(bad) = c.tasks.iter().flatten().find(|&&cl| cl as usize >= k) {
        bail!(
            "continual.tasks: class {bad}, but dataset `{}` has {k} classes",
            full.name
        );
    }
    let sizes = run::layer_sizes(cfg, full, prepared.train.n_features())?;
    let mut model = run::build_model(cfg, spec, &sizes)
        .with_context(|| format!("building the model of run {}", spec.run_id))?;
    let absent = spec.imputation.feeds_absent();
    let (train, test) = (&prepared.train, &prepared.test);
    let tests: Vec<Dataset> = c
        .tasks
        .iter()
        .map(|cl| test.subset(&rows_of(test, cl)))
        .collect();
    let per_task = match option.regime {
        Regime::MultiEpoch => cfg.training.epochs,
        Regime::Online => 1,
    };
    let n_tasks = c.tasks.len();
    let mut rngs = RunRngs::from_seed(spec.seed);
    let mut memory_rng = stream(spec.seed, "continual-memory");
    let sparsity = if spec.method == DENSE {
        0.0
    } else {
        spec.sparsity
    };
    let mut memory = Vec::<usize>::new();
    if option.scenario == Scenario::TaskIl {
        // Each class's task; classes in no task never occur.
        let mut groups = vec![u32::MAX; k];
        for (t, classes) in c.tasks.iter().enumerate() {
            for &cl in classes {
                groups[cl as usize] = t as u32;
            }
        }
        model.set_class_groups(Some(&groups));
    }
    let (mut epochs, mut matrix) = (Vec::new(), Vec::new());
    let (mut seconds, mut flops, mut steps) = (0.0, 0u64, 0usize);
    let mut last_epoch: Option<EpochRecord> = None;
    // The first divergence, in epochs of the whole sequence. Later tasks still train (a
    // diverged model stops at their first step), so the accuracy matrix stays complete.
    let mut diverged_epoch = None;
    for (t, classes) in c.tasks.iter().enumerate() {
        let own = rows_of(train, classes);
        let rows: Vec<usize> = own.iter().chain(&memory).copied().collect();
        let task_train = train.subset(&rows);
        if option.scenario == Scenario::TaskIl {
            // The epochs' test accuracy is the current task's, among its classes.
            model.set_active_classes(Some(classes));
        }
        let mut observer = TaskObserver {
            on_epoch: &mut *on_epoch,
            epoch_offset: t * per_task,
            total_epochs: n_tasks * per_task,
            display_epochs: cfg.training.epochs,
        };
        let opts = TrainOptions {
            epochs: per_task,
            batch_size: cfg.training.batch_size,
            track_topology: false,
        };
        let mut clocked = SequenceClock {
            inner: model.as_mut(),
            epoch_offset: t * per_task,
            total_epochs: n_tasks * per_task,
            step_offset: steps,
        };
        let outcome = models::train(
            &mut clocked,
            &RunData {
                train: examples(&task_train, absent),
                ids: &task_train.row_ids,
                test: examples(&tests[t], absent),
                validation: None,
            },
            opts,
            &mut rngs,
            &mut observer,
        );
        diverged_epoch = diverged_epoch.or(outcome.diverged_epoch.map(|e| e + t * per_task));
        steps += per_task * task_train.labels.len().div_ceil(opts.batch_size.max(1));
        seconds += outcome.train_seconds;
        flops += outcome.train_flops;
        for e in &outcome.epochs {
            epochs.push(EpochRow {
                run_id: spec.run_id.clone(),
                method: spec.method.clone(),
                sparsity,
                seed: spec.seed,
                epoch: e.epoch + t * per_task,
                train_loss: e.train_loss,
                train_accuracy: e.train_accuracy,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
                validation_accuracy: None,
                nnz: e.nnz,
                removed: e.edits.iter().map(|s| s.removed).sum(),
                grown: e.edits.iter().map(|s| s.grown).sum(),
                seconds: e.seconds,
                flops: e.flops,
            });
        }
        last_epoch = outcome.epochs.last().cloned();
        let picked = select_memory(
            option.memory,
            // The task's own rows come first in its training set; replayed rows are not
            // candidates for its memory.
            &outcome.forgetting.head(own.len()),
            &own.iter().map(|&r| train.labels[r]).collect::<Vec<_>>(),
            c.memory_per_task,
            &mut memory_rng,
        );
        memory.extend(picked.iter().map(|&p| own[p]));
        let mut row = Vec::with_capacity(n_tasks);
        for (j, task_test) in tests.iter().enumerate() {
            if option.scenario == Scenario::TaskIl {
                model.set_active_classes(Some(&c.tasks[j]));
            }
            row.push(models::evaluate(
                model.as_mut(),
                &examples(task_test, absent),
            ));
        }
        model.set_active_classes(None);
        matrix.push(row);
    }
    let accuracy: Vec<Vec<f64>> = matrix
        .iter()
        .map(|row| row.iter().map(|(a, _)| *a).collect())
        .collect();
    let last = last_epoch.expect("at least one epoch");
    let final_loss = matrix[n_tasks - 1].iter().map(|(_, l)| l).sum::<f64>() / n_tasks as f64;
    let densities = model.layer_densities();
    let variant = option.name();
    let row = RunRow {
        experiment: cfg.name.clone(),
        dataset: full.name.clone(),
        method: spec.method.clone(),
        sparsity,
        epsilon: None,
        nnz: model.nnz(),
        params_dense: sizes.windows(2).map(|w| w[0] * w[1]).sum(),
        missing_mechanism: spec.missing_mechanism.name().to_string(),
        missing_rate: spec.missing_rate,
        missing_rate_realized: prepared.missing_rate_realized,
        missing_rate_realized_train: Some(prepared.missing_rate_realized_train),
        missing_rate_realized_test: Some(prepared.missing_rate_realized_test),
        missing_rate_in_columns: prepared.missing_rate_in_columns,
        imputation: spec.imputation.to_string(),
        variant: variant.clone(),
        seed: spec.seed,
        epochs: n_tasks * per_task,
        diverged: diverged_epoch.is_some(),
        diverged_epoch,
        test_accuracy: acc(&accuracy),
        test_loss: final_loss,
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy,
        train_seconds: seconds,
        train_flops: flops,
        layer_density: densities
            .iter()
            .map(|d| format!("{d:.4}"))
            .collect::<Vec<_>>()
            .join(";"),
        run_id: spec.run_id.clone(),
        config_hash: spec.config_hash.clone(),
        numerics: Some(experiments::numerics::VERSION),
        commit: commit.to_string(),
    };
    let mut continual = Vec::with_capacity(n_tasks * n_tasks);
    for (i, r) in accuracy.iter().enumerate() {
        for (j, &a) in r.iter().enumerate() {
            continual.push(ContinualRow {
                run_id: spec.run_id.clone(),
                method: spec.method.clone(),
                sparsity,
                seed: spec.seed,
                variant: variant.clone(),
                after_task: i + 1,
                task: j + 1,
                accuracy: a,
            });
        }
    }
    Ok(RunResult {
        row,
        files: RunFiles {
            epochs,
            study: vec![StudyRows::of(CONTINUAL, &continual)?],
            ..RunFiles::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows 0..6 of classes 0 (rows 0..3) and 1 (rows 3..6): row 5 never learned; rows 1
    /// and 3 forgotten once; row 4 learned for good with the highest EL2N of class 1 after row
    /// 5, row 2 the lowest of all.
    fn stats() -> (OnlineForgetting, Vec<u32>) {
        let mut s = OnlineForgetting::new(6);
        s.record(0, true, 0.2);
        s.record(2, true, 0.05);
        s.record(4, true, 0.6);
        for (r, e) in [(1, 0.3), (3, 0.5)] {
            s.record(r, true, 0.1);
            s.record(r, false, e);
        }
        s.record(5, false, 0.9);
        s.record(5, false, 0.4);
        (s, vec![0, 0, 0, 1, 1, 1])
    }

    #[test]
    fn each_memory_rule_on_hand_made_statistics() {
        let ((s, y), mut rng) = (stats(), stream(1, "m"));
        let pick = |p, k, rng: &mut rand_chacha::ChaCha8Rng| select_memory(p, &s, &y, k, rng);
        assert!(pick(MemoryPolicy::None, 4, &mut rng).is_empty());
        // Class 0: forgotten row 1, then the higher EL2N of rows 0 and 2 (row 0); class 1:
        // never-learned row 5, then forgotten row 3.
        assert_eq!(
            pick(MemoryPolicy::Forgetting, 4, &mut rng),
            vec![0, 1, 3, 5]
        );
        // An odd budget: the first class gets the extra row.
        assert_eq!(pick(MemoryPolicy::Forgetting, 3, &mut rng), vec![0, 1, 5]);
        assert_eq!(pick(MemoryPolicy::Forgetting, 2, &mut rng), vec![1, 5]);
        // Highest last EL2N per class: rows 1 (0.3) and 0 (0.2); rows 4 (0.6) and 3 (0.5).
        assert_eq!(pick(MemoryPolicy::Hardness, 4, &mut rng), vec![0, 1, 3, 4]);
        let random = pick(MemoryPolicy::Random, 4, &mut stream(1, "m"));
        assert_eq!(random.len(), 4);
        assert_eq!(random.iter().filter(|&&r| r < 3).count(), 2, "{random:?}");
        assert!(random.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(random, pick(MemoryPolicy::Random, 4, &mut stream(1, "m")));
        assert_eq!(pick(MemoryPolicy::Random, 10, &mut rng).len(), 6);
    }

    #[test]
    fn option_names_round_trip_and_the_config_validates() {
        let c: ContinualConfig = toml::from_str(
            "scenarios = [\"class-il\", \"task-il\"]\nregimes = [\"online\"]\n\
             memory = [\"none\", \"forgetting\"]",
        )
        .unwrap();
        assert_eq!(c.tasks.len(), 5);
        assert_eq!(c.tasks[4], vec![8, 9]);
        let names: Vec<String> = c.options().iter().map(|o| o.name()).collect();
        assert_eq!(names[0], "class-il/online/none");
        assert_eq!(names.len(), 4);
        for o in c.options() {
            assert_eq!(ContinualOption::parse(&o.name()), Some(o));
        }
        assert_eq!(ContinualOption::parse("class-il/online"), None);
        assert_eq!(ContinualOption::parse("class-il/online/none/x"), None);
        assert!(c.validate().is_ok());
        let mut bad = c.clone();
        bad.tasks = vec![vec![0, 1], vec![1, 2]];
        assert_eq!(bad.validate().unwrap_err().0, "continual.tasks");
        bad = c;
        bad.memory_per_task = 0;
        assert_eq!(bad.validate().unwrap_err().0, "continual.memory_per_task");
    }
}
