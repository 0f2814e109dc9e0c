//! Executing one run: prepare the seed's split of the data ([`crate::pipeline`]), build the
//! model the method asks for, train it, and turn the outcome into result rows.

use crate::checkpoint::{self, CheckpointPolicy, CheckpointRef, RunCheckpoint};
use crate::config::ExperimentConfig;
use crate::grid::RunSpec;
use crate::pipeline::{prepare, PreparedData};
use crate::protocol::{Protocol, RunContext};
use crate::recording::{self, FinishedRun, Recorder};
use crate::registry::{self, MethodKind};
use crate::results::{
    DegreeRow, EpochRow, PredictionRow, RunFiles, RunResult, RunRow, StudyRows, TopologyRow,
};
use anyhow::{Context, Result};
use data::dynamics::{ExampleTracker, Source};
use data::Dataset;
use models::rngs::stream;
use models::train::TrainObserver;
use models::{
    Classifier, DataPolicies, DenseMlp, EpochRecord, Examples, LoopState, PlainData, RunData,
    RunRngs, SgdParams, SparseInit, SparseMlp, SparseNetwork, TrainOptions,
};
use serde::{Deserialize, Serialize};
use sparse_core::init::{erdos_renyi_density, layer_densities};
use sparse_core::TrainingClock;

/// Layer widths of a run's MLP. `model.layers` is checked against the dataset as loaded: its
/// first width must equal the number of feature columns and its last the number of classes.
/// The network's actual input width is `inputs`, the width after one-hot encoding and
/// missing-indicator features.
pub fn layer_sizes(cfg: &ExperimentConfig, raw: &Dataset, inputs: usize) -> Result<Vec<usize>> {
    let mut sizes = cfg.model.layers.clone();
    let (first, last) = (sizes[0], *sizes.last().expect("validated non-empty"));
    if first != raw.n_features() {
        anyhow::bail!(
            "model.layers: input width {first} does not match the {} features of dataset `{}`",
            raw.n_features(),
            raw.name
        );
    }
    if last != raw.n_classes() {
        anyhow::bail!(
            "model.layers: output width {last} does not match the {} classes of dataset `{}`",
            raw.n_classes(),
            raw.name
        );
    }
    sizes[0] = inputs;
    Ok(sizes)
}

/// The sparse initialisation of a run: per-layer densities from its sparsity or epsilon.
fn sparse_init(cfg: &ExperimentConfig, spec: &RunSpec, sizes: &[usize]) -> Result<SparseInit> {
    let n = sizes.len() - 1;
    let shapes: Vec<(usize, usize)> = sizes.windows(2).map(|w| (w[0], w[1])).collect();
    let sparse: Vec<bool> = (0..n)
        .map(|l| l + 1 < n || cfg.model.sparse_output)
        .collect();
    let densities = match spec.epsilon {
        Some(eps) => (0..n)
            .map(|l| {
                if sparse[l] {
                    erdos_renyi_density(eps, shapes[l].0, shapes[l].1)
                } else {
                    1.0
                }
            })
            .collect(),
        None => layer_densities(&shapes, &sparse, spec.sparsity, cfg.model.distribution)?,
    };
    Ok(SparseInit {
        densities,
        dynamic: sparse,
        init: cfg.model.init,
        fan: cfg.model.fan,
    })
}

/// A model for `spec`, initialised from the seed's `topology-init` and `weight-init` streams:
/// for one seed, static sparse and every DST method start from the same topology and weights,
/// and the dense model from the same weight scheme.
pub fn build_model(
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    sizes: &[usize],
) -> Result<Box<dyn Classifier>> {
    let sgd = SgdParams {
        learning_rate: cfg.training.learning_rate,
        momentum: cfg.training.momentum,
        weight_decay: cfg.training.weight_decay,
    };
    let mut kind = registry::build(&spec.method, &cfg.methods)?;
    let init = match &mut kind {
        MethodKind::Dense => SparseInit {
            densities: vec![1.0; sizes.len() - 1],
            dynamic: vec![false; sizes.len() - 1],
            init: cfg.model.init,
            fan: cfg.model.fan,
        },
        MethodKind::Sparse(method) => {
            let mut init = sparse_init(cfg, spec, sizes)?;
            init.densities = method.initial_densities(&init.densities);
            init
        }
    };
    let mlp = SparseMlp::new(
        sizes,
        &init,
        cfg.model.dropout,
        sgd,
        &mut stream(spec.seed, "topology-init"),
        &mut stream(spec.seed, "weight-init"),
    )?
    .with_activation(cfg.model.activation);
    Ok(match kind {
        MethodKind::Dense => Box::new(
            DenseMlp::from_params(&mlp.to_dense_params(), cfg.model.dropout, sgd)
                .with_activation(cfg.model.activation),
        ),
        MethodKind::Sparse(method) => Box::new(SparseNetwork { mlp, method }),
    })
}

/// The training loop's options for `cfg`.
pub fn train_options(cfg: &ExperimentConfig) -> TrainOptions {
    TrainOptions {
        epochs: cfg.training.epochs,
        batch_size: cfg.training.batch_size,
        track_topology: true,
    }
}

/// `data` as the training loop reads it: with its observation mask when missing inputs are
/// fed as absent.
pub fn examples(data: &Dataset, absent: bool) -> Examples<'_> {
    Examples {
        x: &data.values,
        observed: absent.then_some(data.observed.as_slice()),
        labels: &data.labels,
        n_features: data.n_features(),
    }
}

/// Forwards epoch records to a callback (the progress display) and, when tracking, every
/// training forward pass to the per-example tracker and the loop's steps, topology updates
/// and epochs to the studies' recorders; writes the run's checkpoints.
struct RunObserver<'a> {
    on_epoch: &'a mut (dyn FnMut(&EpochRecord) + Send),
    tracker: Option<ExampleTracker>,
    /// The second source: end-of-epoch evaluation passes over `train` (`tracking.epoch_eval`).
    eval: Option<(ExampleTracker, Examples<'a>)>,
    /// The installed studies' recordings the config asks for, each with its file.
    recorders: Vec<(&'static str, Box<dyn Recorder>)>,
    n_classes: usize,
    checkpoints: Option<(&'a CheckpointPolicy, &'a RunSpec)>,
    epochs: usize,
}

/// The observer's records beyond the per-example tracker, as a checkpoint stores them.
#[derive(Serialize)]
struct ObserverRecords<'a> {
    eval: Option<&'a ExampleTracker>,
    /// Each recorder's file and saved state, in the order the recorders were started.
    recorders: Vec<(&'static str, Vec<u8>)>,
}

/// [`ObserverRecords`] read back.
#[derive(Deserialize)]
struct SavedRecords {
    eval: Option<ExampleTracker>,
    recorders: Vec<(String, Vec<u8>)>,
}

impl TrainObserver for RunObserver<'_> {
    fn on_batch(&mut self, epoch: usize, ids: &[usize], labels: &[u32], probs: &[f32]) {
        if let Some(t) = &mut self.tracker {
            t.record(epoch, ids, labels, probs, self.n_classes);
        }
    }

    fn on_step(&mut self, _clock: &TrainingClock, rows: &[usize], forgot: &[bool]) {
        for (_, r) in &mut self.recorders {
            r.on_step(rows, forgot);
        }
    }

    fn on_topology_update(&mut self, step: usize) {
        for (_, r) in &mut self.recorders {
            r.on_topology_update(step);
        }
    }

    fn on_epoch(&mut self, record: &EpochRecord) {
        (self.on_epoch)(record)
    }

    fn after_epoch(&mut self, epoch: usize, model: &mut dyn Classifier) {
        for (_, r) in &mut self.recorders {
            r.after_epoch(epoch, model);
        }
        let Some((tracker, train)) = &mut self.eval else {
            return;
        };
        let probs = models::predict_proba_all(model, train);
        let ids = tracker.example_ids().to_vec();
        tracker.record(epoch, &ids, train.labels, &probs, self.n_classes);
    }

    fn checkpoint_due(&mut self, epochs_done: usize) -> bool {
        self.checkpoints
            .is_some_and(|(policy, _)| policy.due(epochs_done, self.epochs))
    }

    /// A failed write costs only the ability to resume from here: the run goes on.
    fn on_checkpoint(&mut self, state: &LoopState, model: &dyn Classifier, rngs: &RunRngs) {
        let Some((policy, spec)) = self.checkpoints else {
            return;
        };
        let path = policy.path(&spec.run_id);
        let written = checkpoint::write(
            &path,
            &CheckpointRef {
                run_id: &spec.run_id,
                config_hash: &spec.config_hash,
                loop_state: state,
                rngs: rngs.positions(),
                model: &model.save_state(),
                examples: self.tracker.as_ref(),
                records: &sparse_core::state::encode(&ObserverRecords {
                    eval: self.eval.as_ref().map(|(t, _)| t),
                    recorders: self.recorders.iter().map(|(f, r)| (*f, r.save())).collect(),
                }),
            },
        );
        if let Err(e) = written {
            eprintln!(
                "warning: run {}: checkpoint after epoch {} not written: {e:#}",
                spec.run_id, state.epochs_done
            );
        }
    }
}

/// Every test example's evaluation-mode prediction by the trained model.
fn predictions(
    model: &mut dyn Classifier,
    test: &Examples,
    ids: &[usize],
    missing: &[usize],
    run_id: &str,
) -> Vec<PredictionRow> {
    let k = model.n_classes();
    let probs = models::predict_proba_all(model, test);
    let predicted = models::batch::argmax_rows(&probs, k);
    (0..test.rows())
        .map(|r| {
            let label = test.labels[r];
            PredictionRow {
                run_id: run_id.to_string(),
                example_id: ids[r],
                label,
                predicted: predicted[r],
                p_true: f64::from(probs[r * k + label as usize]),
                missing_features: missing.get(r).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// Restores `model`, `rngs` and the observer's records from `ckpt` and returns the loop state to continue
/// from, or why the checkpoint does not fit this run (then nothing was changed).
fn restore(
    ckpt: RunCheckpoint,
    model: &mut dyn Classifier,
    rngs: &mut RunRngs,
    observer: &mut RunObserver,
    rows: usize,
    opts: &TrainOptions,
) -> Result<LoopState> {
    ckpt.loop_state
        .check(model, rows, opts)
        .map_err(anyhow::Error::msg)?;
    let same_tracking = match (&ckpt.examples, &observer.tracker) {
        (None, None) => true,
        (Some(saved), Some(fresh)) => {
            saved.example_ids() == fresh.example_ids() && saved.el2n_epochs() == fresh.el2n_epochs()
        }
        _ => false,
    };
    let saved: SavedRecords = sparse_core::state::decode(&ckpt.records, "observer records")?;
    let same_recorders = saved.recorders.len() == observer.recorders.len()
        && saved
            .recorders
            .iter()
            .zip(&observer.recorders)
            .all(|((a, _), (b, _))| a == b);
    if !same_tracking || !same_recorders || saved.eval.is_some() != observer.eval.is_some() {
        anyhow::bail!("its per-example tracking differs from the config's `tracking`");
    }
    let mut restored = rngs.clone();
    restored.restore(&ckpt.rngs)?;
    // Nothing changes before every part fits; the model last: on error it is left as it was.
    let recorders = saved
        .recorders
        .iter()
        .zip(&observer.recorders)
        .map(|((_, bytes), (file, r))| Ok((*file, r.restored(bytes)?)))
        .collect::<Result<Vec<_>>>()?;
    model.load_state(&ckpt.model)?;
    *rngs = restored;
    observer.tracker = ckpt.examples;
    observer.recorders = recorders;
    if let (Some((e, _)), Some(saved)) = (&mut observer.eval, saved.eval) {
        *e = saved;
    }
    Ok(ckpt.loop_state)
}

/// Runs `spec` to the end on `full`. With `checkpoints`, the run checkpoints on that policy
/// and, if it finds a checkpoint of its own, continues from it (see [`checkpoint`]).
pub fn execute(
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    full: &Dataset,
    commit: &str,
    on_epoch: &mut (dyn FnMut(&EpochRecord) + Send),
    checkpoints: Option<&CheckpointPolicy>,
) -> Result<RunResult> {
    let run = RunContext {
        cfg,
        spec,
        full,
        commit,
        on_epoch,
        checkpoints,
    };
    match &spec.protocol {
        Protocol::Study(variant) => variant.execute(run),
        Protocol::Plain => execute_plain(run, PlainHooks::default()),
    }
}

/// What a protocol study changes in a plain run ([`execute_plain`]); nothing by default.
#[derive(Default)]
pub struct PlainHooks<'a> {
    /// The loop's data policies (data-aware DST: which rows each epoch and batch present,
    /// which rows score growth); plain ones when `None`.
    pub policies: Option<DataPolicies<'a>>,
    /// Edits the prepared data before the model is built (subset selection keeps a share of
    /// the training rows, after scoring runs of its own).
    pub prepare: Option<PrepareHook<'a>>,
}

/// See [`PlainHooks::prepare`].
pub type PrepareHook<'a> = Box<dyn FnOnce(&mut PreparedData) -> Result<Prepared> + 'a>;

/// What a [`PrepareHook`] adds to its run.
#[derive(Debug, Default)]
pub struct Prepared {
    /// The run's rows of the study's per-run files (`subset_runs.csv`).
    pub files: Vec<StudyRows>,
    /// Whether a run the hook trained diverged: the run then counts as diverged.
    pub diverged: bool,
}

/// Trains `run` plainly (every training row once per epoch), changed by a protocol study's
/// `hooks`; checkpoints and resumes as [`execute`] says.
pub fn execute_plain(run: RunContext<'_>, hooks: PlainHooks<'_>) -> Result<RunResult> {
    let RunContext {
        cfg,
        spec,
        full,
        commit,
        on_epoch,
        checkpoints,
    } = run;
    let mut prepared = prepare(full, cfg, spec)
        .with_context(|| format!("preparing data for run {}", spec.run_id))?;
    let PlainHooks { policies, prepare } = hooks;
    let added = match prepare {
        Some(hook) => hook(&mut prepared)?,
        None => Prepared::default(),
    };
    let sizes = layer_sizes(cfg, full, prepared.train.n_features())?;
    let mut model = build_model(cfg, spec, &sizes)
        .with_context(|| format!("building the model of run {}", spec.run_id))?;
    let (tr, te) = (&prepared.train, &prepared.test);
    let absent = spec.imputation.feeds_absent();
    let train_set = examples(tr, absent);
    let test_set = examples(te, absent);
    let mut observer = RunObserver {
        on_epoch,
        tracker: cfg
            .tracking
            .examples
            .then(|| ExampleTracker::new(&tr.row_ids, &cfg.tracking.el2n_epochs)),
        eval: cfg.tracking.epoch_eval.then(|| {
            (
                ExampleTracker::new(&tr.row_ids, &cfg.tracking.el2n_epochs),
                train_set,
            )
        }),
        recorders: recording::start(cfg, tr),
        n_classes: tr.n_classes(),
        checkpoints: checkpoints.map(|p| (p, spec)),
        epochs: cfg.training.epochs,
    };
    let opts = train_options(cfg);
    let mut rngs = RunRngs::from_seed(spec.seed);
    let mut resume = None;
    if let Some(ckpt) =
        checkpoints.and_then(|p| checkpoint::find(p, &spec.run_id, &spec.config_hash))
    {
        let rows = train_set.rows();
        match restore(ckpt, model.as_mut(), &mut rngs, &mut observer, rows, &opts) {
            Ok(state) => {
                eprintln!(
                    "run {}: resuming from its checkpoint after epoch {}/{}",
                    spec.run_id, state.epochs_done, opts.epochs
                );
                resume = Some(state);
            }
            Err(e) => eprintln!(
                "warning: the checkpoint of run {} does not fit it ({e:#}); ignored, the run \
                 starts from epoch 1",
                spec.run_id
            ),
        }
    }
    let validation_set = prepared.validation.as_ref().map(|v| examples(v, absent));
    let (mut sampler, mut growth) = (PlainData, PlainData);
    let mut given = policies;
    let mut policies = match &mut given {
        Some(p) => DataPolicies {
            sampler: &mut *p.sampler,
            growth: &mut *p.growth,
        },
        None => DataPolicies {
            sampler: &mut sampler,
            growth: &mut growth,
        },
    };
    let outcome = models::train_with(
        model.as_mut(),
        &RunData {
            train: train_set,
            ids: &tr.row_ids,
            test: test_set,
            validation: validation_set,
        },
        opts,
        &mut rngs,
        &mut observer,
        &mut policies,
        resume,
    );
    let mut examples = observer
        .tracker
        .map(|t| t.rows(&spec.run_id, Source::TrainPass))
        .unwrap_or_default();
    if let Some((t, _)) = &observer.eval {
        examples.extend(t.rows(&spec.run_id, Source::EpochEval));
    }
    let predictions = if cfg.tracking.predictions {
        predictions(
            model.as_mut(),
            &test_set,
            &te.row_ids,
            &prepared.test_missing,
            &spec.run_id,
        )
    } else {
        Vec::new()
    };
    let last = outcome.epochs.last().expect("at least one epoch");
    // Realised densities at the end (a dense-to-sparse method starts denser).
    let densities = model.layer_densities();
    let shapes: Vec<usize> = sizes.windows(2).map(|w| w[0] * w[1]).collect();
    let params_dense: usize = shapes.iter().sum();
    // Realised sparsity of the layers that were made sparse.
    let sparsity = if spec.method == registry::DENSE {
        0.0
    } else {
        let (mut zeros, mut size) = (0.0, 0.0);
        for (l, &d) in densities.iter().enumerate() {
            if l + 2 < sizes.len() || cfg.model.sparse_output {
                zeros += (1.0 - d) * shapes[l] as f64;
                size += shapes[l] as f64;
            }
        }
        match spec.epsilon {
            Some(_) => zeros / size.max(1.0),
            None => spec.sparsity,
        }
    };
    let row = RunRow {
        experiment: cfg.name.clone(),
        dataset: full.name.clone(),
        method: spec.method.clone(),
        sparsity,
        epsilon: spec.epsilon,
        nnz: last.nnz,
        params_dense,
        missing_mechanism: spec.missing_mechanism.name().to_string(),
        missing_rate: spec.missing_rate,
        missing_rate_realized: prepared.missing_rate_realized,
        missing_rate_realized_train: Some(prepared.missing_rate_realized_train),
        missing_rate_realized_test: Some(prepared.missing_rate_realized_test),
        missing_rate_in_columns: prepared.missing_rate_in_columns,
        imputation: spec.imputation.to_string(),
        variant: spec.protocol.name(),
        seed: spec.seed,
        epochs: outcome.epochs.len(),
        diverged: outcome.diverged_epoch.is_some() || added.diverged,
        diverged_epoch: outcome.diverged_epoch,
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy,
        train_seconds: outcome.train_seconds,
        train_flops: outcome.train_flops,
        layer_density: densities
            .iter()
            .map(|d| format!("{d:.4}"))
            .collect::<Vec<_>>()
            .join(";"),
        run_id: spec.run_id.clone(),
        config_hash: spec.config_hash.clone(),
        numerics: Some(crate::numerics::VERSION),
        commit: commit.to_string(),
    };
    let epochs = outcome
        .epochs
        .iter()
        .map(|e| EpochRow {
            run_id: spec.run_id.clone(),
            method: spec.method.clone(),
            sparsity,
            seed: spec.seed,
            epoch: e.epoch,
            train_loss: e.train_loss,
            train_accuracy: e.train_accuracy,
            test_loss: e.test_loss,
            test_accuracy: e.test_accuracy,
            validation_accuracy: e.validation_accuracy,
            nnz: e.nnz,
            removed: e.edits.iter().map(|s| s.removed).sum(),
            grown: e.edits.iter().map(|s| s.grown).sum(),
            seconds: e.seconds,
            flops: e.flops,
        })
        .collect();
    let every = cfg.tracking.degree_every.max(1);
    let n_epochs = outcome.epochs.len();
    let mut topology = Vec::new();
    let mut input_degree = Vec::new();
    for e in &outcome.epochs {
        topology.extend(e.topology.iter().map(|t| TopologyRow {
            run_id: spec.run_id.clone(),
            method: spec.method.clone(),
            sparsity,
            seed: spec.seed,
            epoch: e.epoch,
            layer: t.layer,
            nnz: t.nnz,
            density: t.density,
            removed: t.removed,
            grown: t.grown,
            turnover: t.turnover,
            itop_rate: t.itop_rate,
        }));
        if e.epoch % every == 0 || e.epoch == n_epochs {
            input_degree.extend(e.input_degree.iter().enumerate().map(|(j, &d)| DegreeRow {
                run_id: spec.run_id.clone(),
                method: spec.method.clone(),
                sparsity,
                seed: spec.seed,
                epoch: e.epoch,
                feature: tr.feature_names.get(j).cloned().unwrap_or_default(),
                feature_index: j,
                degree: d,
                missing_rate: prepared.feature_missing.get(j).copied().unwrap_or(0.0),
            }));
        }
    }
    let finished = FinishedRun {
        spec,
        sparsity,
        forgetting: &outcome.forgetting,
    };
    let mut study = observer
        .recorders
        .into_iter()
        .map(|(_, r)| r.finish(&finished))
        .collect::<Result<Vec<_>>>()?;
    study.extend(added.files);
    Ok(RunResult {
        row,
        files: RunFiles {
            epochs,
            examples,
            topology,
            input_degree,
            predictions,
            study,
        },
    })
}
