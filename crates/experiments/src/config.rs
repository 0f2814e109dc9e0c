//! Experiment definitions: plain serde structs read from TOML, with defaults in one place and a
//! `validate` that names the offending field.
//!
//! A config fixes the dataset, model, optimizer and methods' hyper-parameters, and lists the
//! values of the grid axes (methods, sparsities, seeds); the runner expands the lists into runs.

use data::imputation::Imputation;
use data::missingness::{AmputationParams, Mechanism};
use data::ScalingKind;
use models::Activation;
use serde::{Deserialize, Serialize};
use sparse_core::{DensityDistribution, FanMode, WeightInit};

/// One experiment definition (one TOML file).
///
/// Its own fields are typed; the sections of studies with a protocol of their own
/// (`[continual]`) are kept as TOML in [`ExperimentConfig::sections`] and parsed by the study
/// ([`crate::protocol::ProtocolStudy`]). A top-level name that is neither a field nor an
/// installed study's section is refused by [`ExperimentConfig::validate`], naming it (serde's
/// `deny_unknown_fields` cannot be combined with that catch-all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Name of the experiment; also the default output folder name.
    pub name: String,
    /// Free text: what the experiment asks and why its settings are what they are.
    #[serde(default)]
    pub description: String,
    /// Where the data comes from and how it is prepared.
    pub data: DataConfig,
    /// The network.
    pub model: ModelConfig,
    /// The optimizer and schedule.
    pub training: TrainingConfig,
    /// The grid axes.
    pub grid: GridConfig,
    /// Per-method hyper-parameters.
    #[serde(default)]
    pub methods: MethodsConfig,
    /// Where and how missingness is simulated.
    #[serde(default)]
    pub missing: MissingConfig,
    /// Per-example statistics.
    #[serde(default)]
    pub tracking: TrackingConfig,
    /// The reduced grid `reproduce --quick` runs instead.
    #[serde(default)]
    pub quick: QuickConfig,
    /// What `reproduce` draws and tabulates for this study.
    #[serde(default)]
    pub report: ReportConfig,
    /// Sections owned by installed protocol studies (`[continual]`, `[data_aware]`,
    /// `[subsets]`: Part II), by name.
    #[serde(flatten)]
    pub sections: toml::Table,
}

/// Overrides applied by `cargo xtask reproduce --quick`: fewer epochs, seeds and grid points,
/// the same code paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QuickConfig {
    /// Epochs instead of `training.epochs`.
    pub epochs: Option<usize>,
    /// Seeds instead of `grid.seeds`.
    pub seeds: Option<Seeds>,
    /// Methods instead of `grid.methods`.
    pub methods: Option<Vec<String>>,
    /// Sparsities instead of `grid.sparsity`.
    pub sparsity: Option<Vec<f64>>,
    /// Mechanisms instead of `grid.missing_mechanism`.
    pub missing_mechanism: Option<Vec<Mechanism>>,
    /// Rates instead of `grid.missing_rate`.
    pub missing_rate: Option<Vec<f64>>,
    /// Imputations instead of `grid.imputation`.
    pub imputation: Option<Vec<Imputation>>,
}

/// What `reproduce` produces for a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The analyses to run and figures to draw, by name (`figure2`, `forgetting`, ...): the
    /// registered studies' kinds, checked by the `studies` crate, which draws them.
    #[serde(default)]
    pub figures: Vec<String>,
}

impl ExperimentConfig {
    /// The config with its `[quick]` overrides applied.
    pub fn quick(&self) -> ExperimentConfig {
        let mut c = self.clone();
        let q = &self.quick;
        if let Some(e) = q.epochs {
            c.training.epochs = e;
        }
        if let Some(s) = &q.seeds {
            c.grid.seeds = s.clone();
        }
        if let Some(m) = &q.methods {
            c.grid.methods = m.clone();
        }
        if let Some(s) = &q.sparsity {
            c.grid.sparsity = s.clone();
        }
        if let Some(m) = &q.missing_mechanism {
            c.grid.missing_mechanism = m.clone();
        }
        if let Some(r) = &q.missing_rate {
            c.grid.missing_rate = r.clone();
        }
        if let Some(i) = &q.imputation {
            c.grid.imputation = i.clone();
        }
        c
    }
}

/// Dataset and preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A bundled dataset name (`wdbc`, `digits`, `madelon`, `penguins`) or a path to a CSV
    /// file (relative paths are resolved from the config file's folder).
    pub dataset: String,
    /// Label column; default: the bundled dataset's, or the last column.
    #[serde(default)]
    pub label: Option<String>,
    /// Fraction of each class held out for testing.
    #[serde(default = "DataConfig::default_test_fraction")]
    pub test_fraction: f64,
    /// Seed of the train/test split for every run, instead of each run's own seed: Part II
    /// compares populations of models on the same test examples (sparsity-identified
    /// exemplars need a modal label over seeds per example). Default: the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
    /// Fraction of each class of the training split held out for validation (evaluated after
    /// every epoch, `validation_accuracy` in `epochs.csv`); 0 = none.
    #[serde(default)]
    pub validation_fraction: f64,
    /// Feature scaling fitted on the observed training values.
    #[serde(default = "DataConfig::default_scaling")]
    pub scaling: ScalingKind,
    /// Columns read as categorical (one-hot encoded with the training split's levels); the
    /// bundled datasets declare theirs.
    #[serde(default)]
    pub categorical: Option<Vec<String>>,
}

impl DataConfig {
    fn default_test_fraction() -> f64 {
        0.2
    }
    fn default_scaling() -> ScalingKind {
        ScalingKind::Standard
    }
}

/// The MLP: layer widths (input and output checked against the data), dropout, weight init,
/// and which layers are sparse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Widths of all layers, input first: `[30, 100, 100, 100, 2]` is the seed paper's
    /// 30-100-100-100-2 MLP. The first must equal the data's feature count and the last its
    /// class count.
    pub layers: Vec<usize>,
    /// Inverted-dropout rate on hidden activations.
    #[serde(default)]
    pub dropout: f32,
    /// Weight distribution (`{ kind = "he-uniform" }`, `{ kind = "normal", std = 0.1 }`, ...).
    #[serde(default)]
    pub init: WeightInit,
    /// Scale the init by the sparse fan-in (default) or the dense one (the SET reference code).
    #[serde(default)]
    pub fan: FanMode,
    /// Whether the output layer is sparse (and evolves) too. Default false: it stays dense, as
    /// in the code the seed paper built on (Curci's SET evolves all but the output layer), and
    /// as SET's Erdős–Rényi rule makes it anyway for any epsilon >= 2 on a 2-class output.
    #[serde(default)]
    pub sparse_output: bool,
    /// How a target sparsity is spread over the sparse layers.
    #[serde(default)]
    pub distribution: DensityDistribution,
    /// Hidden-layer activation: `{ kind = "relu" }` (default) or
    /// `{ kind = "all-relu", alpha = 0.6 }` (Curci et al. 2021). Left out of the run key when
    /// it is the default, so results from before the option existed still resume.
    #[serde(default, skip_serializing_if = "is_default_activation")]
    pub activation: Activation,
}

fn is_default_activation(a: &Activation) -> bool {
    *a == Activation::default()
}

/// Optimizer and schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per step; the last partial batch is trained.
    pub batch_size: usize,
    /// SGD step size.
    pub learning_rate: f32,
    /// SGD momentum (no dampening).
    #[serde(default)]
    pub momentum: f32,
    /// Coupled L2 weight decay. Default 0: the seed paper states none (the SET reference code
    /// uses 0.0002).
    #[serde(default)]
    pub weight_decay: f32,
}

/// Seeds: an explicit list, or a count `n` meaning seeds `1..=n`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    /// Seeds `1..=n`.
    Count(u64),
    /// These seeds.
    List(Vec<u64>),
}

impl Seeds {
    /// The seeds as a list.
    pub fn to_vec(&self) -> Vec<u64> {
        match self {
            Seeds::Count(n) => (1..=*n).collect(),
            Seeds::List(v) => v.clone(),
        }
    }
}

/// The grid axes; every combination is run with every seed. `dense` ignores the sparsity axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Method names (`dense`, `static`, `set`, ...).
    pub methods: Vec<String>,
    /// Target fractions of zero weights in the sparse layers. Exclusive with `epsilon`.
    #[serde(default)]
    pub sparsity: Vec<f64>,
    /// SET's Erdős–Rényi epsilon per layer (density `eps (n_in + n_out) / (n_in n_out)`).
    /// Exclusive with `sparsity`.
    #[serde(default)]
    pub epsilon: Vec<f64>,
    /// Seeds of every cell.
    pub seeds: Seeds,
    /// Missingness mechanisms simulated on the data (`none`, `mcar`, `mar`, `mnar`,
    /// `mnar-logistic`, `mnar-self-logistic`, `mnar-quantile`); default `none`.
    #[serde(default = "GridConfig::default_mechanisms")]
    pub missing_mechanism: Vec<Mechanism>,
    /// Target fractions of all feature cells removed; `none` ignores them. Default 0.
    #[serde(default = "GridConfig::default_rates")]
    pub missing_rate: Vec<f64>,
    /// How missing values are fed to the model (`zero`, `mean`, `median`, `knn`, `iterative`,
    /// `absent`, each optionally `+indicator`); `none` when the data has no missing values.
    #[serde(default = "GridConfig::default_imputations")]
    pub imputation: Vec<Imputation>,
}

impl GridConfig {
    fn default_mechanisms() -> Vec<Mechanism> {
        vec![Mechanism::None]
    }
    fn default_rates() -> Vec<f64> {
        vec![0.0]
    }
    fn default_imputations() -> Vec<Imputation> {
        vec!["none".parse().expect("`none` is a valid imputation")]
    }
}

/// Where simulated missingness is applied and the mechanisms' parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingConfig {
    /// Remove values in the training split.
    #[serde(default = "yes")]
    pub train: bool,
    /// Remove values in the test split.
    #[serde(default = "yes")]
    pub test: bool,
    /// Mechanism parameters (always-observed share for MAR, logistic inputs for MNAR, quantile),
    /// under `[missing.params]`.
    #[serde(default)]
    pub params: AmputationParams,
    /// Only these features lose values (names as in the data's header, before one-hot
    /// encoding); every feature when absent. `grid.missing_rate` stays the fraction of *all*
    /// feature cells, so Madelon's 20 relevant columns of 500 reach at most 0.04; `runs.csv`
    /// adds the rate within them (`missing_rate_in_columns`). MCAR and `mnar-self-logistic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

impl Default for MissingConfig {
    fn default() -> Self {
        MissingConfig {
            train: true,
            test: true,
            params: AmputationParams::default(),
            columns: None,
        }
    }
}

/// What is recorded beyond the per-epoch rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingConfig {
    /// Write per-example training dynamics (forgetting events, first-learned epoch,
    /// confidence, variability, EL2N) of every run to `examples.csv`.
    #[serde(default = "yes")]
    pub examples: bool,
    /// Epochs (1-based) at which EL2N scores are taken.
    #[serde(default = "TrackingConfig::default_el2n_epochs")]
    pub el2n_epochs: Vec<usize>,
    /// Input-neuron degrees go to `input_degree.csv` every this many epochs and at the last.
    #[serde(default = "TrackingConfig::default_degree_every")]
    pub degree_every: usize,
    /// Write every test example's prediction after the last epoch to `predictions.csv` (for
    /// sparsity-identified exemplars and accuracy on the hardest examples).
    #[serde(default)]
    pub predictions: bool,
    /// Also record every training example's correctness in an evaluation pass after each
    /// epoch (dropout off): the second source of forgetting statistics,
    /// written to `examples.csv` with `source = epoch-eval`. Costs one pass over the training
    /// set per epoch.
    #[serde(default)]
    pub epoch_eval: bool,
    /// Features known to matter (names as in the data's header, as Madelon's 20 relevant
    /// ones): each run then measures how its input layer ranks them, every `degree_every`
    /// epochs and at the last, into `feature_selection.csv`. Used only to measure, never to
    /// train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant_features: Option<Vec<String>>,
}

impl TrackingConfig {
    fn default_el2n_epochs() -> Vec<usize> {
        vec![10]
    }

    fn default_degree_every() -> usize {
        10
    }
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig {
            examples: true,
            el2n_epochs: Self::default_el2n_epochs(),
            degree_every: Self::default_degree_every(),
            predictions: false,
            epoch_eval: false,
            relevant_features: None,
        }
    }
}

/// Hyper-parameters of each method, one table per method under `[methods.<name>]`, read and
/// validated by the method's own config type through the registry.
pub type MethodsConfig = std::collections::BTreeMap<String, toml::Table>;

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        name = "t"
        [data]
        dataset = "wdbc"
        [model]
        layers = [30, 10, 2]
        [training]
        epochs = 2
        batch_size = 5
        learning_rate = 0.01
        [grid]
        methods = ["dense", "set"]
        sparsity = [0.5]
        seeds = 2
    "#;

    fn parse(s: &str) -> Result<ExperimentConfig, String> {
        let c: ExperimentConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.validate().map_err(|(f, r)| format!("{f}: {r}"))?;
        Ok(c)
    }

    #[test]
    fn defaults_are_filled_in() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.grid.seeds.to_vec(), vec![1, 2]);
        assert_eq!(c.data.test_fraction, 0.2);
        assert_eq!(c.training.weight_decay, 0.0);
        assert!(!c.model.sparse_output);
        assert_eq!(
            crate::registry::params_json("set", &c.methods),
            r#"{"zeta":0.3}"#
        );
    }

    #[test]
    fn errors_name_the_field() {
        let unknown = GOOD.replace("\"set\"]", "\"sett\"]");
        assert!(parse(&unknown)
            .unwrap_err()
            .contains("grid.methods: unknown method `sett`"));
        let bad = GOOD.replace("sparsity = [0.5]", "sparsity = [1.5]");
        assert!(parse(&bad).unwrap_err().starts_with("grid.sparsity"));
        let typo = GOOD.replace("epochs = 2", "epoch = 2");
        assert!(parse(&typo).unwrap_err().contains("epoch"));
        let missing = GOOD.replace("batch_size = 5", "");
        assert!(parse(&missing).unwrap_err().contains("batch_size"));
        let both = GOOD.replace("sparsity = [0.5]", "sparsity = [0.5]\nepsilon = [2.0]");
        assert!(parse(&both).unwrap_err().contains("not both"));
    }

    /// A top-level name that is no field and no installed protocol study's section (none is
    /// installed in this crate's tests) is refused by name, as `deny_unknown_fields` did.
    #[test]
    fn unknown_top_level_names_are_refused_by_name() {
        let section = format!("{GOOD}\n[contnual]\nscenarios = [\"class-il\"]\n");
        let field = format!("nmae = \"x\"\n{GOOD}");
        for (text, name) in [(section, "contnual"), (field, "nmae")] {
            let err = parse(&text).unwrap_err();
            assert!(
                err.starts_with(&format!("{name}: unknown field or section")),
                "{err}"
            );
            assert!(err.contains("none installed"), "{err}");
        }
    }
}
