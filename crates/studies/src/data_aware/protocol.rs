//! Data-aware dynamic sparse training (part2-data-aware), its protocol (the `[data_aware]`
//! section, a [`ProtocolStudy`]): DST methods extended to accommodate
//! hard-to-memorize and easy-to-forget examples, the aim of the seed paper's Part II. Each
//! option is a data policy of the training loop ([`models::policy`]), not a special case in it:
//!
//! - `removal`: MEST's data-efficient mode (Yuan et al. 2021): at a chosen point of training,
//!   drop the least-forgotten examples and train on the rest;
//! - `hard-growth`: RigL-style growth scored on a batch drawn from the currently most
//!   forgettable examples instead of the step's random batch ([`GrowthBatchSource`](models::policy::GrowthBatchSource));
//! - `rehearsal`: for the steps right after a topology update, the most forgettable examples
//!   are added to each batch ([`DataSampler::extra_rows`](models::policy::DataSampler::extra_rows));
//! - `plain`: the method as published, the control.
//!
//! "Forgettable" is ranked by the loop's online Toneva statistics
//! ([`OnlineForgetting::most_forgettable_first`](models::policy::OnlineForgetting::most_forgettable_first)): forgetting events so far, never-learned
//! rows first, ties by the latest EL2N.

use super::policy::{DataAwareSampler, HardGrowth};
use anyhow::Result;
use experiments::config::MethodsConfig;
use experiments::protocol::{ProtocolSection, ProtocolStudy, RunContext, Variant};
use experiments::registry::{self, MethodKind};
use experiments::results::RunResult;
use experiments::run::{self, PlainHooks};
use models::rngs::stream;
use models::DataPolicies;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One data-aware option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataAwareOption {
    /// The method as published.
    Plain,
    /// Drop the least-forgotten examples at `remove_at` of training (MEST's data-efficient
    /// mode).
    Removal,
    /// Growth scored on the most forgettable examples.
    HardGrowth,
    /// The most forgettable examples added to the batches right after a topology update.
    Rehearsal,
}

impl DataAwareOption {
    /// The name used in configs, run keys and tables.
    pub fn name(self) -> &'static str {
        match self {
            DataAwareOption::Plain => "plain",
            DataAwareOption::Removal => "removal",
            DataAwareOption::HardGrowth => "hard-growth",
            DataAwareOption::Rehearsal => "rehearsal",
        }
    }

    /// Every option, in table order.
    pub const ALL: [DataAwareOption; 4] = [
        DataAwareOption::Plain,
        DataAwareOption::Removal,
        DataAwareOption::HardGrowth,
        DataAwareOption::Rehearsal,
    ];

    /// Whether the option changes anything for `method` (with its `[methods]` parameters):
    /// rehearsal needs topology updates, hard-growth a method that grows by gradient.
    pub fn applies_to(self, method: &str, methods: &MethodsConfig) -> bool {
        let built = registry::build(method, methods);
        let (rewires, by_gradient) = match &built {
            Ok(MethodKind::Sparse(m)) => (m.rewires(), m.grows_by_gradient()),
            _ => (false, false),
        };
        match self {
            DataAwareOption::Plain | DataAwareOption::Removal => true,
            DataAwareOption::HardGrowth => by_gradient,
            DataAwareOption::Rehearsal => rewires,
        }
    }
}

/// `[data_aware]`: the options compared (a grid axis) and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataAwareConfig {
    /// Options to run for every method (an option that changes nothing for a method is
    /// skipped for it, see [`DataAwareOption::applies_to`]).
    pub options: Vec<DataAwareOption>,
    /// `removal`: the fraction of the epochs after which examples are dropped (MEST drops at
    /// epoch 70 of 160, 0.44).
    #[serde(default = "DataAwareConfig::default_remove_at")]
    pub remove_at: f64,
    /// `removal`: the fraction of the training examples dropped, least forgotten first.
    #[serde(default = "DataAwareConfig::default_remove_fraction")]
    pub remove_fraction: f64,
    /// `hard-growth` and `rehearsal`: the pool of the most forgettable examples drawn from,
    /// as a fraction of the training examples.
    #[serde(default = "DataAwareConfig::default_hard_pool")]
    pub hard_pool: f64,
    /// `hard-growth`: examples in the growth batch; default the training batch size.
    #[serde(default)]
    pub growth_rows: Option<usize>,
    /// `rehearsal`: steps after each topology update whose batches get rehearsal rows.
    #[serde(default = "DataAwareConfig::default_rehearsal_steps")]
    pub rehearsal_steps: usize,
    /// `rehearsal`: rows added to each of those batches.
    #[serde(default = "DataAwareConfig::default_rehearsal_rows")]
    pub rehearsal_rows: usize,
}

impl Default for DataAwareConfig {
    /// No options, every setting at its default.
    fn default() -> Self {
        DataAwareConfig {
            options: Vec::new(),
            remove_at: Self::default_remove_at(),
            remove_fraction: Self::default_remove_fraction(),
            hard_pool: Self::default_hard_pool(),
            growth_rows: None,
            rehearsal_steps: Self::default_rehearsal_steps(),
            rehearsal_rows: Self::default_rehearsal_rows(),
        }
    }
}

impl DataAwareConfig {
    fn default_remove_at() -> f64 {
        0.5
    }
    fn default_remove_fraction() -> f64 {
        0.3
    }
    fn default_hard_pool() -> f64 {
        0.2
    }
    fn default_rehearsal_steps() -> usize {
        10
    }
    fn default_rehearsal_rows() -> usize {
        5
    }

    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((format!("data_aware.{f}"), r));
        if self.options.is_empty() {
            return fail("options", "list at least one option".into());
        }
        if !(self.remove_at > 0.0 && self.remove_at < 1.0) {
            return fail("remove_at", format!("{} is not in (0, 1)", self.remove_at));
        }
        if !(self.remove_fraction > 0.0 && self.remove_fraction < 1.0) {
            return fail(
                "remove_fraction",
                format!("{} is not in (0, 1)", self.remove_fraction),
            );
        }
        if !(self.hard_pool > 0.0 && self.hard_pool <= 1.0) {
            return fail("hard_pool", format!("{} is not in (0, 1]", self.hard_pool));
        }
        if self.growth_rows == Some(0) {
            return fail("growth_rows", "must be at least 1".into());
        }
        Ok(())
    }
}

/// The data-aware protocol as the runner sees it: the `[data_aware]` section and its options.
pub struct DataAwareProtocol;

impl ProtocolStudy for DataAwareProtocol {
    fn section(&self) -> &'static str {
        "data_aware"
    }

    fn parse(&self, section: &toml::Value) -> Result<Arc<dyn ProtocolSection>, (String, String)> {
        let config: DataAwareConfig = section
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ("data_aware".to_string(), e.message().to_string()))?;
        config.validate()?;
        Ok(Arc::new(config))
    }

    fn files(&self) -> &'static [&'static str] {
        &[]
    }
}

impl ProtocolSection for DataAwareConfig {
    fn key(&self) -> (&'static str, String) {
        let json = serde_json::to_string(self).expect("a plain struct serialises");
        ("data_aware", json)
    }

    fn variants(self: Arc<Self>) -> Vec<Arc<dyn Variant>> {
        self.options
            .iter()
            .map(|&option| {
                Arc::new(DataAwareVariant {
                    config: Arc::clone(&self),
                    option,
                }) as Arc<dyn Variant>
            })
            .collect()
    }
}

/// One option of a `[data_aware]` section: a plain run under the option's data policies,
/// seeded from the run's `data-sampler` and `growth-batch` streams.
#[derive(Debug)]
struct DataAwareVariant {
    config: Arc<DataAwareConfig>,
    option: DataAwareOption,
}

impl Variant for DataAwareVariant {
    fn name(&self) -> String {
        self.option.name().to_string()
    }

    fn applies_to(&self, method: &str, methods: &MethodsConfig) -> bool {
        self.option.applies_to(method, methods)
    }

    fn execute(&self, run: RunContext<'_>) -> Result<RunResult> {
        let (cfg, seed) = (run.cfg, run.spec.seed);
        let mut sampler = DataAwareSampler::new(
            self.option,
            &self.config,
            cfg.training.epochs,
            stream(seed, "data-sampler"),
        );
        let mut growth = HardGrowth::new(
            self.option,
            &self.config,
            cfg.training.batch_size,
            stream(seed, "growth-batch"),
        );
        let hooks = PlainHooks {
            policies: Some(DataPolicies {
                sampler: &mut sampler,
                growth: &mut growth,
            }),
            prepare: None,
        };
        run::execute_plain(run, hooks)
    }
}
