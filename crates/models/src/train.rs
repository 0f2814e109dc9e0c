//! The minibatch training loop shared by every model: shuffled epochs, the last partial batch
//! trained (not dropped), evaluation on every test row after each epoch.
//!
//! A run that diverges (a non-finite output, weight or bias) stops where it is detected and
//! says so in its outcome, rather than training on NaN: the loss is clamped, so it would not
//! show.
//!
//! Between epochs the observer may take a checkpoint ([`TrainObserver::on_checkpoint`]: the
//! [`LoopState`], the model and the random streams); [`train_from`] continues a run from one,
//! bit for bit.

use crate::batch::GrowthBatch;
use crate::batch::{argmax_rows, cross_entropy, el2n, Batch, Inputs};
use crate::classifier::{Classifier, RunRngs};
use crate::policy::{DataSampler, GrowthBatchSource, OnlineForgetting, PlainData};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sparse_core::telemetry::{LayerTopology, TopologyTracker};
use sparse_core::{EditStats, TrainingClock};
use std::time::Instant;

/// A set of examples: features row-major, optional observation mask, labels.
#[derive(Debug, Clone, Copy)]
pub struct Examples<'a> {
    /// `rows x n_features` values, 0 at missing entries.
    pub x: &'a [f32],
    /// Observation mask, present when missing inputs are fed as absent.
    pub observed: Option<&'a [bool]>,
    /// Class of each example.
    pub labels: &'a [u32],
    /// Number of features.
    pub n_features: usize,
}

impl Examples<'_> {
    /// Number of examples.
    pub fn rows(&self) -> usize {
        self.labels.len()
    }
}

/// How long and in what batches to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Record the topology telemetry of sparse models (per-layer density, edits, turnover,
    /// ITOP rate, input degrees) in every [`EpochRecord`]. Costs 8 bytes per position ever
    /// active, so benchmarks leave it off.
    #[serde(default)]
    pub track_topology: bool,
}

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean cross-entropy of the training forward passes (dropout on, before each step).
    pub train_loss: f64,
    /// Accuracy of the training forward passes (dropout on, before each step).
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test set in evaluation mode after the epoch.
    pub test_loss: f64,
    /// Accuracy on the test set in evaluation mode after the epoch.
    pub test_accuracy: f64,
    /// Accuracy on the validation set after the epoch, when there is one.
    pub validation_accuracy: Option<f64>,
    /// Connections after the epoch (after any end-of-epoch topology update).
    pub nnz: usize,
    /// Wall time of the epoch's training steps and topology updates.
    pub seconds: f64,
    /// Part of `seconds` spent in the end-of-epoch topology update.
    pub topology_seconds: f64,
    /// Multiply-adds of the epoch's training steps.
    pub flops: u64,
    /// Topology edits of the epoch (per layer, summed over the epoch's updates).
    pub edits: Vec<EditStats>,
    /// Per-layer topology at the end of the epoch (sparse models with `track_topology`).
    #[serde(default)]
    pub topology: Vec<LayerTopology>,
    /// Out-degree of every input neuron (connections of each input feature to the first
    /// hidden layer) at the end of the epoch (sparse models with `track_topology`).
    #[serde(default)]
    pub input_degree: Vec<usize>,
}

/// Receives what the loop sees, for statistics beyond the epoch records (Part II tracks every
/// example's correctness at every presentation), and decides when to checkpoint.
pub trait TrainObserver: Send {
    /// After each step: the dataset row ids of the batch, their labels and the softmax outputs
    /// of the training forward pass.
    fn on_batch(&mut self, _epoch: usize, _ids: &[usize], _labels: &[u32], _probs: &[f32]) {}
    /// After each step, with where training stands, the training rows the batch presented
    /// (positions in the training set, added rows included) and which of those presentations
    /// were forgetting events (correct at the row's previous presentation, wrong now).
    fn on_step(&mut self, _clock: &TrainingClock, _rows: &[usize], _forgot: &[bool]) {}
    /// The topology changed; `step` is the index of the first step that trains the new one.
    fn on_topology_update(&mut self, _step: usize) {}
    /// After each epoch.
    fn on_epoch(&mut self, _record: &EpochRecord) {}
    /// After each epoch's record, with the model (for statistics that need an extra
    /// evaluation pass, such as the end-of-epoch correctness of every training example).
    fn after_epoch(&mut self, _epoch: usize, _model: &mut dyn Classifier) {}
    /// Whether to checkpoint now, after `epochs_done` whole epochs (default: never).
    fn checkpoint_due(&mut self, _epochs_done: usize) -> bool {
        false
    }
    /// A checkpoint: the loop's state, the model and the random streams after a whole epoch
    /// (its evaluation and record included), before the next epoch draws anything. Saving
    /// them, and the observer's own state, lets [`train_from`] continue the run bit for bit.
    /// Reading them draws nothing, so checkpointing never changes a run's numbers.
    fn on_checkpoint(&mut self, _state: &LoopState, _model: &dyn Classifier, _rngs: &RunRngs) {}
}

/// An observer that ignores everything.
pub struct NoObserver;
impl TrainObserver for NoObserver {}

/// The result of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// Sum of the epochs' training wall times.
    pub train_seconds: f64,
    /// Sum of the epochs' multiply-adds.
    pub train_flops: u64,
    /// Every training row's forgetting statistics at the end (by row position).
    pub forgetting: OnlineForgetting,
    /// The 1-based epoch in which training diverged (a non-finite output, weight or bias),
    /// when it did: training stopped there, and that epoch's record is the last, covering
    /// the steps up to the divergence. `None` for a run that trained to the end.
    pub diverged_epoch: Option<usize>,
}

/// Rows per evaluation-mode forward pass: bounds the activations of a large set.
const EVAL_CHUNK: usize = 512;

/// Softmax outputs of `model` on every row of `data` in evaluation mode (`rows x n_classes`),
/// computed `EVAL_CHUNK` rows at a time.
pub fn predict_proba_all(model: &mut dyn Classifier, data: &Examples) -> Vec<f32> {
    let (n, d) = (data.rows(), data.n_features);
    let mut out = Vec::with_capacity(n * model.n_classes());
    for start in (0..n).step_by(EVAL_CHUNK) {
        let end = (start + EVAL_CHUNK).min(n);
        let batch = Batch {
            x: Inputs::Rows(&data.x[start * d..end * d]),
            rows: end - start,
            observed: data.observed.map(|o| &o[start * d..end * d]),
        };
        out.extend(model.predict_proba(&batch));
    }
    out
}

/// Test accuracy and loss of `model` on `data` in evaluation mode, in chunks.
pub fn evaluate(model: &mut dyn Classifier, data: &Examples) -> (f64, f64) {
    let (n, k) = (data.rows(), model.n_classes());
    if n == 0 {
        return (0.0, 0.0);
    }
    let all = predict_proba_all(model, data);
    let (mut correct, mut loss) = (0usize, 0.0f64);
    // Summed per chunk, as the chunks were predicted.
    for (probs, labels) in all
        .chunks(EVAL_CHUNK * k)
        .zip(data.labels.chunks(EVAL_CHUNK))
    {
        correct += argmax_rows(probs, k)
            .iter()
            .zip(labels)
            .filter(|(p, y)| p == y)
            .count();
        loss += cross_entropy(probs, labels, k) * labels.len() as f64;
    }
    (correct as f64 / n as f64, loss / n as f64)
}

fn merge_edits(into: &mut Vec<EditStats>, from: &[EditStats]) {
    for e in from {
        match into.iter_mut().find(|x| x.layer == e.layer) {
            Some(x) => {
                x.removed += e.removed;
                x.grown += e.grown;
            }
            None => into.push(*e),
        }
    }
}

/// The examples a run is trained and evaluated on.
#[derive(Debug, Clone, Copy)]
pub struct RunData<'a> {
    /// Training examples.
    pub train: Examples<'a>,
    /// Stable id of each training row (reported to the observer).
    pub ids: &'a [usize],
    /// Test examples, evaluated after every epoch.
    pub test: Examples<'a>,
    /// Validation examples, evaluated after every epoch when present.
    pub validation: Option<Examples<'a>>,
}

/// Where the epoch loop stands between two epochs: everything the remaining epochs depend on
/// besides the model and the random streams. A checkpoint saves it (see
/// [`TrainObserver::on_checkpoint`]); [`train_from`] continues from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Whole epochs trained so far (the next epoch's 0-based index).
    pub epochs_done: usize,
    /// Optimizer steps taken so far.
    pub step: usize,
    /// The last epoch's example order: each epoch shuffles the previous permutation in place,
    /// so the next order depends on it.
    pub order: Vec<usize>,
    /// The records of the epochs done.
    pub records: Vec<EpochRecord>,
    /// The topology telemetry (ever-active positions), when tracked.
    pub topology: Option<TopologyTracker>,
    /// The online forgetting statistics the data policies read.
    pub forgetting: OnlineForgetting,
    /// The data sampler's own state ([`DataSampler::save_state`]).
    #[serde(with = "sparse_core::state::bytes")]
    pub sampler: Vec<u8>,
    /// The growth-batch source's own state ([`GrowthBatchSource::save_state`]).
    #[serde(with = "sparse_core::state::bytes")]
    pub growth: Vec<u8>,
}

impl LoopState {
    /// The state before the first epoch.
    fn start(model: &dyn Classifier, rows: usize, opts: &TrainOptions) -> Self {
        LoopState {
            epochs_done: 0,
            step: 0,
            order: (0..rows).collect(),
            records: Vec::with_capacity(opts.epochs),
            topology: if opts.track_topology {
                model.sparse_layers().map(TopologyTracker::new)
            } else {
                None
            },
            forgetting: OnlineForgetting::new(rows),
            sampler: Vec::new(),
            growth: Vec::new(),
        }
    }

    /// Whether this state can continue a run of `model` on `rows` training rows with `opts`;
    /// the error says what does not fit.
    pub fn check(
        &self,
        model: &dyn Classifier,
        rows: usize,
        opts: &TrainOptions,
    ) -> Result<(), String> {
        let mut sorted = self.order.clone();
        sorted.sort_unstable();
        if !sorted.iter().copied().eq(0..rows) {
            return Err(format!(
                "the saved example order is not a permutation of the {rows} training rows"
            ));
        }
        if self.epochs_done > opts.epochs || self.records.len() != self.epochs_done {
            return Err(format!(
                "{} epochs done with {} records, of a run of {} epochs",
                self.epochs_done,
                self.records.len(),
                opts.epochs
            ));
        }
        // A data sampler may present fewer rows per epoch (removal), so steps can fall short
        // of whole epochs, never exceed them.
        if self.step > self.epochs_done * rows.div_ceil(opts.batch_size.max(1)) {
            return Err(format!(
                "step {} does not follow {} epochs",
                self.step, self.epochs_done
            ));
        }
        if self.forgetting.len() != rows {
            return Err(format!(
                "forgetting statistics of {} rows for {rows} training rows",
                self.forgetting.len()
            ));
        }
        let tracked = opts.track_topology && model.sparse_layers().is_some();
        if self.topology.is_some() != tracked {
            return Err("topology telemetry saved for a run without it, or the reverse".into());
        }
        Ok(())
    }
}

/// Trains `model` for `opts.epochs` epochs on `data.train`, evaluating the test (and
/// validation) examples after each epoch: every row once per epoch, growth scored on the
/// step's batch ([`PlainData`]). A run whose outputs, weights or biases become non-finite
/// stops in that epoch ([`TrainOutcome::diverged_epoch`]) without a topology update or
/// checkpoint after it.
pub fn train(
    model: &mut dyn Classifier,
    data: &RunData,
    opts: TrainOptions,
    rngs: &mut RunRngs,
    observer: &mut dyn TrainObserver,
) -> TrainOutcome {
    train_from(model, data, opts, rngs, observer, None)
}

/// [`train`], continuing from `resume` when given: a [`LoopState`] saved by a checkpoint, with
/// `model` and `rngs` restored from the same checkpoint. The outcome then equals that of the
/// uninterrupted run, bit for bit (timings aside).
///
/// # Panics
/// If `resume` does not fit the run ([`LoopState::check`]).
pub fn train_from(
    model: &mut dyn Classifier,
    data: &RunData,
    opts: TrainOptions,
    rngs: &mut RunRngs,
    observer: &mut dyn TrainObserver,
    resume: Option<LoopState>,
) -> TrainOutcome {
    let policies = &mut DataPolicies {
        sampler: &mut PlainData,
        growth: &mut PlainData,
    };
    train_with(model, data, opts, rngs, observer, policies, resume)
}

/// The data policies of a run: which rows each epoch presents (and what steps add), and on
/// which rows growth is scored.
pub struct DataPolicies<'a> {
    /// Epoch rows and extra batch rows.
    pub sampler: &'a mut dyn DataSampler,
    /// Rows that score gradient growth.
    pub growth: &'a mut dyn GrowthBatchSource,
}

/// Copies the labels and ids of rows `rows` of `set` into the batch buffers, and their
/// values and mask when missing inputs are absent (the sparse-input path reads them whole);
/// [`batch_of`] reads dense values where they are.
fn gather(
    set: &Examples,
    ids: &[usize],
    rows: &[usize],
    x: &mut Vec<f32>,
    observed: &mut Vec<bool>,
    labels: &mut Vec<u32>,
    row_ids: &mut Vec<usize>,
) {
    let d = set.n_features;
    x.clear();
    observed.clear();
    if let Some(o) = set.observed {
        copy_rows(set.x, d, rows, x);
        copy_rows(o, d, rows, observed);
    }
    labels.clear();
    labels.extend(rows.iter().map(|&r| set.labels[r]));
    row_ids.clear();
    row_ids.extend(rows.iter().map(|&r| ids[r]));
}

/// The batch of rows `rows` of `set`: their values in place ([`Inputs::Picked`]), or the
/// copies [`gather`] made of values and mask when missing inputs are absent.
fn batch_of<'a>(
    set: &Examples<'a>,
    rows: &'a [usize],
    x: &'a [f32],
    observed: &'a [bool],
) -> Batch<'a> {
    match set.observed {
        Some(_) => Batch {
            x: Inputs::Rows(x),
            rows: rows.len(),
            observed: Some(observed),
        },
        None => Batch::picked(set.x, rows),
    }
}

/// Values a batch copy must reach before its rows are copied on every thread.
const PAR_COPY_VALUES: usize = 1 << 16;

/// `out` = rows `rows` of the `width`-wide row-major `src`, one after the other. A large
/// batch (100 CIFAR-10 images with absent inputs, 1.2 MB read from rows scattered over the
/// data set) is copied on every thread: one thread's copy held a step for about as long as
/// the first layer's forward product.
fn copy_rows<T: Copy + Default + Send + Sync>(
    src: &[T],
    width: usize,
    rows: &[usize],
    out: &mut Vec<T>,
) {
    out.resize(rows.len() * width, T::default());
    let copy =
        |(dst, &r): (&mut [T], &usize)| dst.copy_from_slice(&src[r * width..(r + 1) * width]);
    if width == 0 {
        return;
    }
    if out.len() < PAR_COPY_VALUES {
        out.chunks_exact_mut(width).zip(rows).for_each(copy);
    } else {
        out.par_chunks_exact_mut(width).zip(rows).for_each(copy);
    }
}

/// [`train_from`] with data policies: data-aware training (in-run removal, rehearsal, growth
/// scored on chosen rows) swaps them, the loop stays the same. The policies' states travel in
/// the [`LoopState`] of a checkpoint.
///
/// The loop runs on a worker of the current rayon pool (`on_pool_worker`).
///
/// # Panics
/// If `resume` does not fit the run ([`LoopState::check`]) or a policy refuses its saved state.
pub fn train_with(
    model: &mut dyn Classifier,
    data: &RunData,
    opts: TrainOptions,
    rngs: &mut RunRngs,
    observer: &mut dyn TrainObserver,
    policies: &mut DataPolicies,
    resume: Option<LoopState>,
) -> TrainOutcome {
    on_pool_worker(|| train_loop(model, data, opts, rngs, observer, policies, resume))
}

/// Runs `f` on a worker of the current rayon pool: `rayon::scope` runs it on the calling
/// thread when that is a worker (a run of the study runner's pool), else on a worker of the
/// global pool while the caller waits.
///
/// Why: the kernels split each product of a step between the pool's threads. From a thread
/// outside the pool (a program's main thread, Python's), every split hands the whole product
/// to a sleeping worker and sleeps until it is handed back: two wake-ups per product, a dozen
/// products per step. On 2 cores that was half of an epoch (3072-1024-512-10 at 1%, batch
/// 100, one rayon thread: 1.83 s outside the pool, 0.92 s on a worker). From a worker the
/// caller computes its own share and idle workers steal the rest. Which thread runs the loop
/// changes no number: the kernels give the same bits for any split.
fn on_pool_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// [`train_with`]'s loop, on the thread it is called from.
fn train_loop(
    model: &mut dyn Classifier,
    data: &RunData,
    opts: TrainOptions,
    rngs: &mut RunRngs,
    observer: &mut dyn TrainObserver,
    policies: &mut DataPolicies,
    resume: Option<LoopState>,
) -> TrainOutcome {
    let (train, ids, test) = (&data.train, data.ids, &data.test);
    let (n, d, k) = (train.rows(), train.n_features, model.n_classes());
    assert_eq!(ids.len(), n, "one id per training row");
    let bs = opts.batch_size.max(1);
    let steps_per_epoch = n.div_ceil(bs);
    let state = match resume {
        Some(s) => {
            if let Err(e) = s.check(model, n, &opts) {
                panic!("cannot resume training: {e}");
            }
            s
        }
        None => LoopState::start(model, n, &opts),
    };
    let LoopState {
        epochs_done,
        mut step,
        mut order,
        mut records,
        topology: mut tracker,
        forgetting: mut stats,
        sampler: sampler_state,
        growth: growth_state,
    } = state;
    if let Err(e) = policies.sampler.load_state(&sampler_state) {
        panic!("cannot resume the data sampler: {e}");
    }
    if let Err(e) = policies.growth.load_state(&growth_state) {
        panic!("cannot resume the growth-batch source: {e}");
    }
    let (mut gx, mut go, mut gy, mut gid) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut batch_rows, mut forgot) = (Vec::with_capacity(bs), Vec::with_capacity(bs));
    let mut xb = Vec::with_capacity(bs * d);
    let mut ob = Vec::with_capacity(bs * d);
    let mut yb = Vec::with_capacity(bs);
    let mut idb = Vec::with_capacity(bs);
    let mut diverged_epoch = None;
    for epoch in epochs_done..opts.epochs {
        let start = Instant::now();
        order.shuffle(&mut rngs.shuffle);
        // The sampler filters a copy: the permutation itself carries over to the next
        // epoch's shuffle, so a sampler never shifts the order of later epochs.
        let mut rows = order.clone();
        policies.sampler.epoch_rows(epoch, &mut rows, &stats);
        let (mut loss_sum, mut correct, mut flops, mut seen) = (0.0f64, 0usize, 0u64, 0usize);
        let mut edits = Vec::new();
        for (index, chunk) in rows.chunks(bs).enumerate() {
            let clock = TrainingClock {
                epoch,
                epochs: opts.epochs,
                step,
                steps_per_epoch,
            };
            let extra = policies.sampler.extra_rows(&clock, &stats);
            batch_rows.clear();
            batch_rows.extend(chunk.iter().chain(&extra));
            gather(train, ids, &batch_rows, &mut xb, &mut ob, &mut yb, &mut idb);
            let batch = batch_of(train, &batch_rows, &xb, &ob);
            let growth_rows = if model.wants_gradients(&clock) {
                policies.growth.growth_rows(&clock, &stats).or_else(|| {
                    // Never scored on a partial batch (an epoch's last, 6 rows on WDBC at
                    // batch 10, is where SNFS updates): on the full one before it instead.
                    (chunk.len() < bs && index > 0)
                        .then(|| rows[(index - 1) * bs..index * bs].to_vec())
                })
            } else {
                None
            };
            if let Some(g) = &growth_rows {
                gather(train, ids, g, &mut gx, &mut go, &mut gy, &mut gid);
            }
            let growth = growth_rows.as_ref().map(|g| GrowthBatch {
                batch: batch_of(train, g, &gx, &go),
                labels: &gy,
            });
            let report = model.train_step(&batch, &yb, clock, rngs, growth);
            loss_sum += cross_entropy(&report.probs, &yb, k) * batch_rows.len() as f64;
            let predicted = argmax_rows(&report.probs, k);
            forgot.clear();
            for (((&r, &y), &p), probs) in batch_rows
                .iter()
                .zip(&yb)
                .zip(&predicted)
                .zip(report.probs.chunks_exact(k))
            {
                correct += (p == y) as usize;
                forgot.push(stats.record(r, p == y, el2n(probs, y)));
            }
            seen += batch_rows.len();
            flops += report.flops;
            merge_edits(&mut edits, &report.edits);
            if !report.edits.is_empty() {
                if let Some(t) = &mut tracker {
                    t.observe(model.sparse_layers().expect("sparse"), &report.edits);
                }
                policies.sampler.on_topology_update(step + 1);
                observer.on_topology_update(step + 1);
            }
            observer.on_batch(epoch + 1, &idb, &yb, &report.probs);
            observer.on_step(&clock, &batch_rows, &forgot);
            step += 1;
            if report.diverged {
                diverged_epoch = Some(epoch + 1);
                break;
            }
        }
        // Before the end-of-epoch topology update, which would drop non-finite weights
        // unseen (the steps checked what they changed; this covers models that check only
        // their outputs per step).
        if diverged_epoch.is_none() && !model.parameters_finite() {
            diverged_epoch = Some(epoch + 1);
        }
        let clock = TrainingClock {
            epoch,
            epochs: opts.epochs,
            step,
            steps_per_epoch,
        };
        let topology_start = Instant::now();
        let epoch_edits = match diverged_epoch {
            None => model.end_of_epoch(clock, rngs),
            Some(_) => Vec::new(),
        };
        let topology_seconds = topology_start.elapsed().as_secs_f64();
        let seconds = start.elapsed().as_secs_f64();
        merge_edits(&mut edits, &epoch_edits);
        if !epoch_edits.is_empty() {
            policies.sampler.on_topology_update(step);
            observer.on_topology_update(step);
        }
        let (topology, input_degree) = match (&mut tracker, model.sparse_layers()) {
            (Some(t), Some(layers)) => {
                t.observe(layers, &epoch_edits);
                (t.end_epoch(layers), layers[0].weights.row_degrees())
            }
            _ => (Vec::new(), Vec::new()),
        };
        let (test_accuracy, test_loss) = evaluate(model, test);
        let validation_accuracy = data.validation.map(|v| evaluate(model, &v).0);
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            test_loss,
            test_accuracy,
            validation_accuracy,
            nnz: model.nnz(),
            seconds,
            topology_seconds,
            flops,
            edits,
            topology,
            input_degree,
        };
        observer.on_epoch(&record);
        observer.after_epoch(epoch + 1, model);
        records.push(record);
        if diverged_epoch.is_some() {
            break;
        }
        if observer.checkpoint_due(epoch + 1) {
            // Moved into the state and back: a checkpoint copies nothing it does not write.
            let state = LoopState {
                epochs_done: epoch + 1,
                step,
                order,
                records,
                topology: tracker,
                forgetting: stats,
                sampler: policies.sampler.save_state(),
                growth: policies.growth.save_state(),
            };
            observer.on_checkpoint(&state, &*model, rngs);
            LoopState {
                order,
                records,
                topology: tracker,
                forgetting: stats,
                ..
            } = state;
        }
    }
    TrainOutcome {
        train_seconds: records.iter().map(|r| r.seconds).sum(),
        train_flops: records.iter().map(|r| r.flops).sum(),
        epochs: records,
        forgetting: stats,
        diverged_epoch,
    }
}
