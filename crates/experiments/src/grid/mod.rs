//! Expansion of a config's axes into runs, each with a stable key.
//!
//! The key (`run_id`) is the resolved grid cell plus seed plus a hash of the settings that are
//! not grid axes. Adding a value to an axis therefore adds runs without invalidating finished
//! ones, while changing a fixed setting (epochs, learning rate, a method's parameter) gives
//! new keys, so stale results are never reused.

use crate::config::ExperimentConfig;
use crate::hash::fnv1a;
pub mod protocol;

use crate::registry::{self, DENSE};
use data::imputation::Imputation;
use data::missingness::Mechanism;
use protocol::Protocol;
use serde::Serialize;

/// One run: a grid cell and a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// The run's key.
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Target sparsity of the sparse layers (0 for dense; derived from epsilon when given).
    pub sparsity: f64,
    /// SET's epsilon, when the topology is given by it.
    pub epsilon: Option<f64>,
    /// Missingness mechanism simulated on the data.
    pub missing_mechanism: Mechanism,
    /// Target fraction of feature cells removed.
    pub missing_rate: f64,
    /// How missing values are fed to the model.
    pub imputation: Imputation,
    /// The run's seed.
    pub seed: u64,
    /// How the run uses its data (plain training, or a Part II variant).
    pub protocol: Protocol,
    /// Hash of the settings that are not grid axes.
    pub config_hash: String,
}

/// Hash of everything in `cfg` that is not a grid axis or another method's parameters.
pub fn fixed_settings_hash(cfg: &ExperimentConfig, method: &str) -> String {
    #[derive(Serialize)]
    struct Fixed<'a> {
        data: &'a crate::config::DataConfig,
        model: &'a crate::config::ModelConfig,
        training: &'a crate::config::TrainingConfig,
        missing: &'a crate::config::MissingConfig,
        method: String,
    }
    let fixed = Fixed {
        data: &cfg.data,
        model: &cfg.model,
        training: &cfg.training,
        missing: &cfg.missing,
        method: registry::params_json(method, &cfg.methods),
    };
    let mut json = serde_json::to_string(&fixed).expect("plain structs serialise");
    // A protocol study's section, as the field it was when the section was typed here: the
    // last member of the object (a config has at most one Part II section), so the keys of
    // runs written before the study moved to its own crate stay the same.
    for (_, section) in protocol::sections(cfg) {
        let (name, settings) = section.key();
        json.pop();
        json.push_str(&format!(",\"{name}\":{settings}}}"));
    }
    format!("{:08x}", fnv1a(json.as_bytes()) as u32)
}

/// The (mechanism, rate) pairs of the grid: `none` takes rate 0 once, whatever the rates.
fn missingness_levels(cfg: &ExperimentConfig) -> Vec<(Mechanism, f64)> {
    let mut out = Vec::new();
    for &m in &cfg.grid.missing_mechanism {
        if m == Mechanism::None {
            if !out.contains(&(m, 0.0)) {
                out.push((m, 0.0));
            }
        } else {
            out.extend(cfg.grid.missing_rate.iter().map(|&r| (m, r)));
        }
    }
    out
}

/// Every run of `cfg`, in a deterministic order (method, sparsity, missingness, imputation,
/// protocol variant, seed). Variants that change nothing for a method are left out.
pub fn expand(cfg: &ExperimentConfig) -> Vec<RunSpec> {
    let mut runs = Vec::new();
    let variants = protocol::variants(cfg);
    for method in &cfg.grid.methods {
        let hash = fixed_settings_hash(cfg, method);
        // (sparsity, epsilon) pairs of this method; dense has exactly one.
        let levels: Vec<(f64, Option<f64>)> = if method == DENSE {
            vec![(0.0, None)]
        } else if !cfg.grid.epsilon.is_empty() {
            cfg.grid
                .epsilon
                .iter()
                .map(|&e| (f64::NAN, Some(e)))
                .collect()
        } else {
            cfg.grid.sparsity.iter().map(|&s| (s, None)).collect()
        };
        for (sparsity, epsilon) in levels {
            for (mechanism, rate) in missingness_levels(cfg) {
                for imputation in &cfg.grid.imputation {
                    for protocol in &variants {
                        if !protocol.applies_to(method, &cfg.methods) {
                            continue;
                        }
                        let variant = match protocol.name() {
                            v if v.is_empty() => v,
                            v => format!("/variant={v}"),
                        };
                        for seed in cfg.grid.seeds.to_vec() {
                            let level = match epsilon {
                                Some(e) => format!("epsilon={e}"),
                                None => format!("sparsity={sparsity}"),
                            };
                            runs.push(RunSpec {
                                run_id: format!(
                                    "{}/{method}/{level}/missing={}:{rate}/imputation={imputation}{variant}/seed={seed}/{hash}",
                                    cfg.name,
                                    mechanism.name()
                                ),
                                method: method.clone(),
                                sparsity,
                                epsilon,
                                missing_mechanism: mechanism,
                                missing_rate: rate,
                                imputation: imputation.clone(),
                                seed,
                                protocol: protocol.clone(),
                                config_hash: hash.clone(),
                            });
                        }
                    }
                }
            }
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sparsity: &str, zeta: f64) -> ExperimentConfig {
        toml::from_str(&format!(
            r#"
            name = "g"
            [data]
            dataset = "wdbc"
            [model]
            layers = [30, 4, 2]
            [training]
            epochs = 1
            batch_size = 2
            learning_rate = 0.1
            [grid]
            methods = ["dense", "static", "set"]
            sparsity = {sparsity}
            seeds = [1, 2]
            [methods.set]
            zeta = {zeta}
            "#
        ))
        .unwrap()
    }

    #[test]
    fn dense_ignores_sparsity_and_keys_are_unique() {
        let runs = expand(&cfg("[0.5, 0.9]", 0.1));
        assert_eq!(runs.len(), 2 + 2 * 2 + 2 * 2);
        let mut ids: Vec<_> = runs.iter().map(|r| r.run_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), runs.len());
    }

    /// The key of a run of `results/part1-paper/runs.csv` (the study as configured for the
    /// round's regeneration: dense fan-in, SET's reference regrowth, MEST's `nnz_stages`): a
    /// config section added for other studies (a Part II protocol, ...) must leave the keys of
    /// studies without it unchanged, or every finished run would be redone.
    #[test]
    fn keys_of_committed_results_stay_stable() {
        let path = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../experiments/studies/part1-paper.toml"
        ));
        let (cfg, _) = ExperimentConfig::load(path).unwrap();
        let want =
            "part1-paper/mest/sparsity=0.99/missing=mcar:0.9/imputation=absent/seed=1/6c4e9837";
        assert!(
            expand(&cfg).iter().any(|r| r.run_id == want),
            "{want} is no longer a run of part1-paper"
        );
    }

    #[test]
    fn adding_a_grid_value_keeps_existing_keys_and_a_parameter_change_does_not() {
        let a = expand(&cfg("[0.5]", 0.1));
        let b = expand(&cfg("[0.5, 0.9]", 0.1));
        assert!(a.iter().all(|r| b.iter().any(|q| q.run_id == r.run_id)));
        let c = expand(&cfg("[0.5]", 0.3));
        // Changing SET's zeta changes SET's keys only.
        for (x, y) in a.iter().zip(&c) {
            assert_eq!(
                x.run_id == y.run_id,
                x.method != "set",
                "{} / {}",
                x.run_id,
                y.run_id
            );
        }
    }
}
