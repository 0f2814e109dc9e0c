//! The row types of the files every run writes (`runs.csv`, `epochs.csv`, `topology.csv`,
//! `input_degree.csv`, `predictions.csv`; `examples.csv`'s is `data::dynamics::ExampleRow`),
//! each keyed by its run.

use data::dynamics::ExampleRow;
use serde::{Deserialize, Serialize};

/// One row of `runs.csv`: one finished run, its cell, outcome and code version.
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
