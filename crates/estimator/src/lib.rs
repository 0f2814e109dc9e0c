//! One model fitted on rows handed in by a caller instead of a config's dataset: the engine
//! behind the Python package's scikit-learn estimator.
//!
//! A config that describes exactly one run (one method, sparsity, imputation and seed) fixes
//! everything but the data; the caller's rows are the training split. They go through the
//! run's [`Preprocessing`], the model is the one [`run::build_model`] makes for the run, and the
//! training loop, its options, data policies and seed streams are the run's. So a fit on the
//! rows of a run's training split (in the split's order) gives that run's model bit for bit,
//! and its predictions on the run's test rows are the run's (`tests/estimator.rs`).

use data::dynamics::{ExampleStats, ExampleTracker};
use data::imputation::Strategy;
use data::Dataset;
use experiments::config::ExperimentConfig;
use experiments::grid::{self, RunSpec};
use experiments::pipeline::Preprocessing;
use experiments::protocol::Protocol;
use experiments::run;
use models::train::TrainObserver;
use models::{Classifier, DataPolicies, EpochRecord, RunData, RunRngs};
use serde::{Deserialize, Serialize};

/// Why a fit or a prediction was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EstimatorError {
    /// A parameter or the data is not valid (scikit-learn raises `ValueError`): the message
    /// names the config field or the data's shape.
    #[error("{0}")]
    Invalid(String),
    /// The engine failed on valid input.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// A trained model with the preprocessing fitted on its training rows, and what training
/// recorded.
pub struct FittedModel {
    config: ExperimentConfig,
    spec: RunSpec,
    preprocessing: Preprocessing,
    model: Box<dyn Classifier>,
    raw_features: usize,
    sizes: Vec<usize>,
    /// One record per epoch trained (fewer than configured when training diverged).
    pub epochs: Vec<EpochRecord>,
    /// Per training row, in the order given: forgetting events, first-learned epoch, EL2N,
    /// never learned, ... over the training passes (empty when `tracking.examples` is off).
    pub examples: Vec<ExampleStats>,
    /// The 1-based epoch in which training diverged, when it did.
    pub diverged_epoch: Option<usize>,
}

/// Records every training forward pass for the per-example statistics (of `n_classes`
/// probabilities per row).
struct Tracking {
    tracker: Option<ExampleTracker>,
    n_classes: usize,
}

impl TrainObserver for Tracking {
    fn on_batch(&mut self, epoch: usize, ids: &[usize], labels: &[u32], probs: &[f32]) {
        if let Some(t) = &mut self.tracker {
            t.record(epoch, ids, labels, probs, self.n_classes);
        }
    }
}

impl FittedModel {
    /// Fits the one run `cfg` describes on `train` (its `data` section only contributes the
    /// scaling; `model.layers` must start with `train`'s feature count and end with its class
    /// count).
    pub fn fit(cfg: &ExperimentConfig, train: &Dataset) -> Result<FittedModel, EstimatorError> {
        let invalid = |m: String| EstimatorError::Invalid(m);
        cfg.validate()
            .map_err(|(field, reason)| invalid(format!("{field}: {reason}")))?;
        let spec = one_run(cfg)?;
        train
            .validate()
            .map_err(|e| invalid(format!("training data: {e}")))?;
        if train.n_rows() == 0 {
            return Err(invalid("training data: no rows".into()));
        }
        if spec.imputation.strategy == Strategy::None && train.missing_fraction() > 0.0 {
            return Err(invalid(format!(
                "imputation: the training data has missing values ({:.1}% of cells) but the \
                 imputation is `none`",
                100.0 * train.missing_fraction()
            )));
        }
        let (preprocessing, prepared, _) =
            Preprocessing::fit(train, cfg.data.scaling, &spec.imputation);
        let sizes = run::layer_sizes(cfg, train, prepared.n_features())
            .map_err(|e| invalid(format!("{e:#}")))?;
        let mut model = run::build_model(cfg, &spec, &sizes)?;
        let absent = preprocessing.feeds_absent();
        let empty = Dataset::numeric(
            "none",
            prepared.feature_names.clone(),
            prepared.class_names.clone(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let mut tracking = Tracking {
            tracker: cfg
                .tracking
                .examples
                .then(|| ExampleTracker::new(&prepared.row_ids, &cfg.tracking.el2n_epochs)),
            n_classes: prepared.n_classes(),
        };
        // Plain training only (a protocol variant is refused in `one_run`).
        let (mut sampler, mut growth) = (models::PlainData, models::PlainData);
        let outcome = models::train_with(
            model.as_mut(),
            &RunData {
                train: run::examples(&prepared, absent),
                ids: &prepared.row_ids,
                test: run::examples(&empty, absent),
                validation: None,
            },
            run::train_options(cfg),
            &mut RunRngs::from_seed(spec.seed),
            &mut tracking,
            &mut DataPolicies {
                sampler: &mut sampler,
                growth: &mut growth,
            },
            None,
        );
        Ok(FittedModel {
            config: cfg.clone(),
            spec,
            preprocessing,
            model,
            raw_features: train.n_features(),
            sizes,
            epochs: outcome.epochs,
            examples: tracking.tracker.map(|t| t.stats()).unwrap_or_default(),
            diverged_epoch: outcome.diverged_epoch,
        })
    }

    /// Class probabilities (`rows x classes`, row-major) of `data`'s rows, in evaluation mode,
    /// after the preprocessing fitted on the training rows. `data`'s labels are ignored.
    pub fn predict_proba(&mut self, data: &Dataset) -> Result<Vec<f32>, EstimatorError> {
        if data.n_features() != self.raw_features {
            return Err(EstimatorError::Invalid(format!(
                "X has {} features, but the model was fitted on {}",
                data.n_features(),
                self.raw_features
            )));
        }
        data.validate()
            .map_err(|e| EstimatorError::Invalid(format!("data: {e}")))?;
        let prepared = self.preprocessing.transform(data);
        let absent = self.preprocessing.feeds_absent();
        Ok(models::predict_proba_all(
            self.model.as_mut(),
            &run::examples(&prepared, absent),
        ))
    }

    /// The run this model is (method, sparsity, imputation, seed, key).
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// Layer widths of the network, model inputs first (after one-hot encoding and
    /// missing-indicator columns).
    pub fn layer_sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Connections of a dense network of the same widths.
    pub fn params_dense(&self) -> usize {
        self.sizes.windows(2).map(|w| w[0] * w[1]).sum()
    }

    /// Out-degree of every model input after training: its connections into the first hidden
    /// layer (every unit of it for a dense model).
    pub fn input_degrees(&self) -> Vec<usize> {
        match self.model.sparse_layers() {
            Some(layers) => layers[0].weights.row_degrees(),
            None => vec![self.sizes[1]; self.sizes[0]],
        }
    }
}

/// What [`FittedModel::to_bytes`] writes: the config (the model is rebuilt from it, then its
/// state loaded), the fitted preprocessing and the training records.
#[derive(Serialize, Deserialize)]
struct Saved {
    /// [`SAVED_FORMAT`] of the writer.
    format: u32,
    /// The writer's numerics fingerprint: a model saved by other numerics is refused.
    numerics: u32,
    config: ExperimentConfig,
    preprocessing: Preprocessing,
    raw_features: usize,
    sizes: Vec<usize>,
    model: Vec<u8>,
    epochs: Vec<EpochRecord>,
    examples: Vec<ExampleStats>,
    diverged_epoch: Option<usize>,
}

/// Version of the [`Saved`] layout.
const SAVED_FORMAT: u32 = 1;

impl FittedModel {
    /// Everything [`FittedModel::from_bytes`] needs to give back this model (its predictions
    /// bit for bit): what Python's pickle stores.
    pub fn to_bytes(&self) -> Vec<u8> {
        sparse_core::state::encode(&Saved {
            format: SAVED_FORMAT,
            numerics: experiments::numerics::VERSION,
            config: self.config.clone(),
            preprocessing: self.preprocessing.clone(),
            raw_features: self.raw_features,
            sizes: self.sizes.clone(),
            model: self.model.save_state(),
            epochs: self.epochs.clone(),
            examples: self.examples.clone(),
            diverged_epoch: self.diverged_epoch,
        })
    }

    /// The model [`FittedModel::to_bytes`] wrote, or why these bytes are not one this engine
    /// can load.
    pub fn from_bytes(bytes: &[u8]) -> Result<FittedModel, EstimatorError> {
        let saved: Saved = sparse_core::state::decode(bytes, "saved model")
            .map_err(|e| EstimatorError::Invalid(e.to_string()))?;
        if saved.format != SAVED_FORMAT || saved.numerics != experiments::numerics::VERSION {
            return Err(EstimatorError::Invalid(format!(
                "a model saved in format {} by numerics version {}; this engine loads format \
                 {SAVED_FORMAT} of numerics version {}: fit it again",
                saved.format,
                saved.numerics,
                experiments::numerics::VERSION
            )));
        }
        let spec = one_run(&saved.config)?;
        let mut model = run::build_model(&saved.config, &spec, &saved.sizes)?;
        model
            .load_state(&saved.model)
            .map_err(|e| EstimatorError::Invalid(format!("saved model: {e}")))?;
        Ok(FittedModel {
            config: saved.config,
            spec,
            preprocessing: saved.preprocessing,
            model,
            raw_features: saved.raw_features,
            sizes: saved.sizes,
            epochs: saved.epochs,
            examples: saved.examples,
            diverged_epoch: saved.diverged_epoch,
        })
    }
}

/// The single run of `cfg`, or why the estimator cannot take it.
fn one_run(cfg: &ExperimentConfig) -> Result<RunSpec, EstimatorError> {
    let mut runs = grid::expand(cfg);
    if runs.len() != 1 {
        return Err(EstimatorError::Invalid(format!(
            "the config describes {} runs; an estimator fits one (one method, sparsity, \
             missingness, imputation and seed)",
            runs.len()
        )));
    }
    let spec = runs.remove(0);
    if spec.protocol != Protocol::Plain {
        return Err(EstimatorError::Invalid(format!(
            "variant `{}`: an estimator trains plainly (no data-aware, continual or subset \
             section)",
            spec.protocol.name()
        )));
    }
    Ok(spec)
}

/// A summary of one epoch for a caller: what scikit-learn users look for in a fitted model's
/// history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochSummary {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training cross-entropy (dropout on, as trained).
    pub loss: f64,
    /// Training accuracy over the epoch's training passes.
    pub accuracy: f64,
    /// Connections replaced during the epoch over the connections at its start, over all
    /// evolving layers (0 for a dense or static model).
    pub turnover: f64,
    /// Connections at the end of the epoch over those of the dense network.
    pub density: f64,
    /// Connections at the end of the epoch.
    pub nnz: usize,
}

impl FittedModel {
    /// [`EpochSummary`] of every epoch trained.
    pub fn history(&self) -> Vec<EpochSummary> {
        let dense = self.params_dense().max(1) as f64;
        self.epochs
            .iter()
            .map(|e| {
                let removed: usize = e.topology.iter().map(|t| t.removed).sum();
                let start: usize = e.topology.iter().map(|t| t.nnz + t.removed - t.grown).sum();
                EpochSummary {
                    epoch: e.epoch,
                    loss: e.train_loss,
                    accuracy: e.train_accuracy,
                    turnover: if start == 0 {
                        0.0
                    } else {
                        removed as f64 / start as f64
                    },
                    density: e.nnz as f64 / dense,
                    nnz: e.nnz,
                }
            })
            .collect()
    }
}
