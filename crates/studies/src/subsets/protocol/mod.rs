//! Part II, subset selection (part2-subsets), its protocol (the `[subsets]` section, a
//! [`ProtocolStudy`]): can a subset of the training data, chosen by
//! how hard its examples are to memorize or how easily they are forgotten, train dense, static
//! sparse and SET networks as well as all of it?
//!
//! Each run with a subset variant (`el2n@0.3`: rule `el2n`, 30% of the training
//! split) first trains a short *scoring run* on the seed's whole training split (same split,
//! so example ids match), reads per-example statistics from it, keeps the rows a selection
//! rule ranks first, and then trains its own model on those rows only, for the configured
//! epochs (fewer steps; Toneva et al. and Paul et al. keep the epochs too). The rules
//! ([`keep_order`]) are pure functions of the statistics ([`ExampleScore`]):
//!
//! - `random`: a uniform random subset (stream `subset` of the run seed);
//! - `toneva`: Toneva et al. 2019's removal: the least-forgotten examples are dropped first
//!   (never-learned ones count as forgotten most, `presentations + 1`); ties, above all the many
//!   unforgettable examples, in random order (stream `subset`), as their sorted removal leaves
//!   equal counts in arbitrary order;
//! - `forgetting`: keep the highest forgetting counts (Paul et al. 2021's keep-max on
//!   forgetting scores), ties by the higher EL2N, then the smaller example id;
//! - `el2n`: keep the highest EL2N (Paul et al. 2021, `run_keep_max_scores.py`), ties by the
//!   higher forgetting count, then the smaller example id;
//! - `prac`: Zhang et al. 2021's PrAC set, A ∪ B, where A = examples forgotten at least once or
//!   never learned in the short *sparse* run (their `zero_out` keeps counts > 0) and B =
//!   training examples whose evaluation-mode prediction by a short *dense* run (same seed,
//!   data order and epochs) differs from the sparse run's. PrAC defines its own size; at a
//!   given fraction we rank B first, then A \ B, then the rest, each by forgetting count, EL2N
//!   and example id, and keep the top fraction. The natural |A ∪ B| is recorded per run
//!   (`subset_runs.csv`, `prac_size`) and its share per cell (`subsets.csv`, `prac_share`).
//!
//! Fraction 1 is the same full set for every rule and runs once, as variant `all@1`. Every
//! rule's subsets are nested across fractions (a prefix of one ranking).
//!
//! The scores come from one scoring method and sparsity (`[subsets.scoring]`) for every
//! trained method, so for one seed dense, static and SET train on the same subset. EL2N is
//! taken from the training forward pass of the chosen epoch (the tracker's definition in
//! `examples.csv`, dropout on), where Paul et al. evaluate a checkpoint and average 10 runs.
//!
//! The rules are in [`rules`], the scoring runs and the subset of a run in [`scoring`];
//! `subsets.csv`, the figure and the README table are the analysis (the parent module).
//!
//! Writes `subset_runs.csv` (one row per run: rule, fraction, realised size, PrAC sizes),
//! `subsets.csv` (one row per method x sparsity x rule x fraction: accuracy mean and 95% CI
//! over seeds, paired difference to `random` at the same fraction) and a figure of test
//! accuracy against the data fraction.

pub mod rules;
pub mod scoring;

pub use rules::{keep_order, select, subset_size, ExampleScore};
pub use scoring::{restrict, SubsetRunRow};

use anyhow::Result;
use experiments::pipeline::PreparedData;
use experiments::protocol::{ProtocolSection, ProtocolStudy, RunContext, Variant};
use experiments::results::RunResult;
use experiments::results::StudyRows;
use experiments::run::{self, PlainHooks, Prepared};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// File of the per-run subset facts, beside `runs.csv`.
pub const SUBSET_RUNS: &str = "subset_runs.csv";

/// File of the per-cell summary.
pub const SUBSETS: &str = "subsets.csv";

/// How a subset of the training rows is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubsetRule {
    /// Uniformly at random.
    Random,
    /// Drop the least-forgotten first, ties at random (Toneva et al. 2019).
    Toneva,
    /// Keep the highest EL2N (Paul et al. 2021).
    El2n,
    /// Keep the highest forgetting counts, ties by EL2N.
    Forgetting,
    /// PrAC: disagreements with dense, then forgotten or never learned (Zhang et al. 2021).
    Prac,
    /// Every training row (fraction 1, run once; not a rule to list in the config).
    All,
}

impl SubsetRule {
    /// The name used in configs, variant names and tables.
    pub fn name(self) -> &'static str {
        match self {
            SubsetRule::Random => "random",
            SubsetRule::Toneva => "toneva",
            SubsetRule::El2n => "el2n",
            SubsetRule::Forgetting => "forgetting",
            SubsetRule::Prac => "prac",
            SubsetRule::All => "all",
        }
    }

    /// Whether the rule needs the scoring run's statistics.
    pub fn needs_scores(self) -> bool {
        !matches!(self, SubsetRule::Random | SubsetRule::All)
    }
}

/// One value of the protocol axis of part2-subsets: a rule at a data fraction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SubsetVariant {
    /// How the rows are chosen.
    pub rule: SubsetRule,
    /// Share of the training rows kept, in (0, 1].
    pub fraction: f64,
}

impl SubsetVariant {
    /// `rule@fraction`, e.g. `el2n@0.3` or `all@1`.
    pub fn name(&self) -> String {
        format!("{}@{}", self.rule.name(), self.fraction)
    }
}

/// `[subsets]`: the rules and fractions compared (a grid axis) and the scoring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsetsConfig {
    /// Rules compared at every fraction below 1.
    pub rules: Vec<SubsetRule>,
    /// Data fractions in (0, 1]; 1 runs once, as `all@1`.
    pub fractions: Vec<f64>,
    /// The short run whose statistics rank the examples.
    #[serde(default)]
    pub scoring: ScoringConfig,
}

/// `[subsets.scoring]`: the short run on the whole training split that scores the examples.
/// Its model is `[model]` and its optimizer `[training]`; only these differ. Part of the run
/// key (the rules and fractions are axes and are not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    /// The sparse method of the scoring run (its `[methods]` parameters apply); PrAC's A and
    /// B are defined on a sparse model.
    #[serde(default = "ScoringConfig::default_method")]
    pub method: String,
    /// Its sparsity.
    #[serde(default = "ScoringConfig::default_sparsity")]
    pub sparsity: f64,
    /// Its epochs (also those of PrAC's dense run).
    #[serde(default = "ScoringConfig::default_epochs")]
    pub epochs: usize,
    /// The 1-based epoch whose EL2N ranks the examples (Paul et al. score early).
    #[serde(default = "ScoringConfig::default_el2n_epoch")]
    pub el2n_epoch: usize,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            method: Self::default_method(),
            sparsity: Self::default_sparsity(),
            epochs: Self::default_epochs(),
            el2n_epoch: Self::default_el2n_epoch(),
        }
    }
}

impl ScoringConfig {
    fn default_method() -> String {
        "set".into()
    }
    fn default_sparsity() -> f64 {
        0.9
    }
    fn default_epochs() -> usize {
        10
    }
    fn default_el2n_epoch() -> usize {
        5
    }
}

impl SubsetsConfig {
    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((format!("subsets.{f}"), r));
        if self.rules.is_empty() {
            return fail("rules", "list at least one rule".into());
        }
        if self.rules.contains(&SubsetRule::All) {
            return fail(
                "rules",
                "`all` is not a rule: fraction 1 runs the full set once, as `all@1`".into(),
            );
        }
        if has_duplicates(&self.rules) {
            return fail("rules", "rules must be distinct".into());
        }
        if self.fractions.is_empty() {
            return fail("fractions", "list at least one fraction".into());
        }
        if let Some(f) = self.fractions.iter().find(|f| !(**f > 0.0 && **f <= 1.0)) {
            return fail("fractions", format!("{f} is not in (0, 1]"));
        }
        let permille: Vec<i64> = self.fractions.iter().map(|f| permille(*f)).collect();
        if has_duplicates(&permille) {
            return fail("fractions", "fractions must be distinct".into());
        }
        let s = &self.scoring;
        if !experiments::registry::is_known(&s.method) || s.method == experiments::registry::DENSE {
            return fail(
                "scoring.method",
                format!(
                    "`{}` is not a sparse method; known: {}",
                    s.method,
                    experiments::registry::names().join(", ")
                ),
            );
        }
        if !(0.0..1.0).contains(&s.sparsity) {
            return fail(
                "scoring.sparsity",
                format!("{} is not in [0, 1)", s.sparsity),
            );
        }
        if s.epochs == 0 {
            return fail("scoring.epochs", "must be at least 1".into());
        }
        if !(1..=s.epochs).contains(&s.el2n_epoch) {
            return fail(
                "scoring.el2n_epoch",
                format!("{} is not in 1..={}", s.el2n_epoch, s.epochs),
            );
        }
        Ok(())
    }
}

fn has_duplicates<T: Ord + Clone>(v: &[T]) -> bool {
    let mut s = v.to_vec();
    s.sort();
    s.windows(2).any(|w| w[0] == w[1])
}

/// A fraction as an integer key (per mille), so that 0.3 read back from a CSV groups with 0.3.
pub fn permille(f: f64) -> i64 {
    (f * 1000.0).round() as i64
}

/// The variants of `cfg`: every rule at every fraction below 1, rule by rule, then `all@1`
/// once when the fractions include 1.
pub fn variants(cfg: &SubsetsConfig) -> Vec<SubsetVariant> {
    let mut out = Vec::new();
    for &rule in &cfg.rules {
        for &fraction in cfg.fractions.iter().filter(|f| permille(**f) < 1000) {
            out.push(SubsetVariant { rule, fraction });
        }
    }
    if cfg.fractions.iter().any(|f| permille(*f) == 1000) {
        out.push(SubsetVariant {
            rule: SubsetRule::All,
            fraction: 1.0,
        });
    }
    out
}

/// The subset protocol as the runner sees it: the `[subsets]` section, its rules x fractions
/// and `subset_runs.csv`.
pub struct SubsetsProtocol;

impl ProtocolStudy for SubsetsProtocol {
    fn section(&self) -> &'static str {
        "subsets"
    }

    fn parse(&self, section: &toml::Value) -> Result<Arc<dyn ProtocolSection>, (String, String)> {
        let config: SubsetsConfig = section
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ("subsets".to_string(), e.message().to_string()))?;
        config.validate()?;
        Ok(Arc::new(config))
    }

    fn files(&self) -> &'static [&'static str] {
        &[SUBSET_RUNS]
    }
}

impl ProtocolSection for SubsetsConfig {
    /// The scoring run only: rules and fractions are an axis, in the key as the variant.
    fn key(&self) -> (&'static str, String) {
        let json = serde_json::to_string(&self.scoring).expect("a plain struct serialises");
        ("subset_scoring", json)
    }

    fn variants(self: Arc<Self>) -> Vec<Arc<dyn Variant>> {
        variants(&self)
            .into_iter()
            .map(|variant| {
                Arc::new(SubsetRun {
                    config: Arc::clone(&self),
                    variant,
                }) as Arc<dyn Variant>
            })
            .collect()
    }
}

/// One rule at one fraction of a `[subsets]` section: a plain run on the rows the rule keeps.
#[derive(Debug)]
struct SubsetRun {
    config: Arc<SubsetsConfig>,
    variant: SubsetVariant,
}

impl Variant for SubsetRun {
    fn name(&self) -> String {
        self.variant.name()
    }

    fn execute(&self, run: RunContext<'_>) -> Result<RunResult> {
        let (cfg, spec, full) = (run.cfg, run.spec, run.full);
        let prepare = move |prepared: &mut PreparedData| -> Result<Prepared> {
            let row = restrict(&self.config, cfg, spec, self.variant, full, prepared)?;
            Ok(Prepared {
                diverged: row.scoring_diverged,
                files: vec![StudyRows::of(SUBSET_RUNS, &[row])?],
            })
        };
        let hooks = PlainHooks {
            policies: None,
            prepare: Some(Box::new(prepare)),
        };
        run::execute_plain(run, hooks)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use experiments::config::ExperimentConfig;

    /// The config's `[subsets]` section, parsed.
    pub(crate) fn section(c: &ExperimentConfig) -> SubsetsConfig {
        c.sections["subsets"].clone().try_into().unwrap()
    }

    /// A WDBC config with every rule at `fractions` and a 3-epoch scoring run.
    pub(crate) fn cfg(fractions: &str) -> ExperimentConfig {
        crate::install();
        toml::from_str(&format!(
            r#"
            name = "s"
            [data]
            dataset = "wdbc"
            [model]
            layers = [30, 4, 2]
            [training]
            epochs = 2
            batch_size = 10
            learning_rate = 0.01
            [grid]
            methods = ["dense", "static", "set"]
            sparsity = [0.9]
            seeds = 2
            [subsets]
            rules = ["random", "toneva", "el2n", "forgetting", "prac"]
            fractions = {fractions}
            [subsets.scoring]
            epochs = 3
            el2n_epoch = 2
            "#
        ))
        .unwrap()
    }

    #[test]
    fn expansion_runs_the_full_set_once_with_unique_keys() {
        let c = cfg("[0.1, 0.3, 0.5, 0.7, 1.0]");
        c.validate().unwrap();
        let v = variants(&section(&c));
        assert_eq!(v.len(), 5 * 4 + 1);
        let names: Vec<String> = v.iter().map(SubsetVariant::name).collect();
        assert_eq!(names.iter().filter(|n| n.ends_with("@1")).count(), 1);
        assert!(names.contains(&"all@1".to_string()));
        assert!(names.contains(&"el2n@0.3".to_string()));
        let runs = experiments::grid::expand(&c);
        assert_eq!(runs.len(), 3 * 21 * 2);
        let mut ids: Vec<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), runs.len());
        assert!(
            runs[0].run_id.contains("/variant=random@0.1/"),
            "{}",
            runs[0].run_id
        );
        // Adding a fraction keeps every existing key: fractions are an axis, not a setting.
        let fewer = experiments::grid::expand(&cfg("[0.1, 1.0]"));
        assert!(fewer
            .iter()
            .all(|r| runs.iter().any(|q| q.run_id == r.run_id)));
    }

    #[test]
    fn config_errors_name_the_field() {
        let check = |edit: &dyn Fn(&mut SubsetsConfig), field: &str| {
            let mut s = section(&cfg("[0.5]"));
            edit(&mut s);
            let err = s.validate().unwrap_err();
            assert_eq!(err.0, format!("subsets.{field}"), "{err:?}");
        };
        check(&|s| s.rules.push(SubsetRule::All), "rules");
        check(&|s| s.rules.push(SubsetRule::El2n), "rules");
        check(&|s| s.fractions = vec![0.0], "fractions");
        check(&|s| s.fractions = vec![0.5, 0.5], "fractions");
        check(&|s| s.scoring.method = "dense".into(), "scoring.method");
        check(&|s| s.scoring.el2n_epoch = 4, "scoring.el2n_epoch");
    }
}
