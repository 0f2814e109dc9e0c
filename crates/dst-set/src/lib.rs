//! Sparse Evolutionary Training (SET; Mocanu et al., Nat. Commun. 2018) and the static sparse
//! baseline, as [`sparse_core::DstMethod`]s.
//!
//! SET evolves each dynamic layer after every epoch but the last (as the reference code does,
//! `if i < epochs - 1`): it removes the fraction `zeta` of the positive and of the negative
//! weights closest to zero ([`set_removal`]) and regrows as many
//! connections at uniformly random empty positions with zero momentum. A just-removed position
//! may be regrown, as in the reference. The number of connections of each layer is therefore
//! constant. Regrown weights ([`RegrowInit`]) come from the layer's initial distribution by
//! default; `reference` draws them as the seed paper's code (Curci et al.) does, He-uniform
//! with the *dense* fan-in, and `zero` starts them at 0 as RigL, SNFS and MEST do, so that
//! "random regrowth" and "large new weights" can be told apart.

use serde::{Deserialize, Serialize};
use sparse_core::init::sample_free_positions;
use sparse_core::{
    DstContext, DstMethod, FanMode, HookOutcome, SparseError, WeightInit, WeightSampler,
};

mod removal;
pub use removal::set_removal;

/// SET's hyper-parameters, as written in an experiment config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Fraction of each sign's weights removed and regrown per evolution; 0.3 in the SET paper
    /// and code, 0.1 in the seed paper's WDBC experiment.
    #[serde(default = "SetConfig::default_zeta")]
    pub zeta: f64,
    /// Importance pruning of hidden neurons (Curci et al. 2021), off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance_pruning: Option<ImportancePruning>,
    /// Weights of regrown connections; left out of the run key at its default.
    #[serde(default, skip_serializing_if = "RegrowInit::is_sampler")]
    pub regrow_init: RegrowInit,
}

/// How SET initialises the weights of the connections it regrows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegrowInit {
    /// From the layer's initial distribution ([`sparse_core::WeightSampler`]), scaled by the
    /// fan-in the model's `fan` chose (with `fan = "sparse"` at 99% sparsity that is ten times
    /// the dense limit).
    #[default]
    Sampler,
    /// 0, as RigL, SNFS and MEST grow.
    Zero,
    /// `U(±sqrt(6 / n_in))` with the layer's dense fan-in `n_in`, whatever `fan` says: the
    /// seed paper's code (Curci et al.'s), at initialisation and at regrowth.
    Reference,
}

impl RegrowInit {
    fn is_sampler(&self) -> bool {
        *self == RegrowInit::Sampler
    }

    /// The distribution of regrown weights in an `n_in x n_out` layer with `nnz` connections
    /// and initial distribution `sampler`; `None` for zeros.
    pub fn distribution(
        self,
        sampler: WeightSampler,
        n_in: usize,
        n_out: usize,
        nnz: usize,
    ) -> Option<WeightSampler> {
        match self {
            RegrowInit::Sampler => Some(sampler),
            RegrowInit::Zero => None,
            RegrowInit::Reference => Some(WeightSampler::new(
                WeightInit::HeUniform,
                FanMode::Dense,
                n_in,
                n_out,
                nnz,
            )),
        }
    }
}

/// Importance pruning (Curci, Mocanu & Pechenizkiy 2021, "Truly sparse neural networks at
/// scale", §3.3): at scheduled epochs, every incoming connection of the hidden neurons whose
/// incoming strength `s_j = Σ_i |w_ij|` is at most the `percentile`-th percentile of the
/// layer's strengths is removed, and not regrown (SET's evolution then replaces only a share
/// of what survives, so the network shrinks).
///
/// The original prunes every 10 epochs after epoch 200, which never fires in runs of 100
/// epochs; here both are fractions of the run (a stated deviation): from
/// `ceil(start_fraction x epochs)` every `max(1, round(period_fraction x epochs))` epochs.
/// Defaults 0.4 and 0.02 put the original's 200 and 10 on a 500-epoch run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportancePruning {
    /// Share of training before the first pruning.
    pub start_fraction: f64,
    /// Share of training between prunings.
    pub period_fraction: f64,
    /// Percentile of the strengths at or below which neurons lose their inputs (20 in the
    /// sequential code, 10 in the MPI one).
    pub percentile: f64,
}

impl Default for ImportancePruning {
    fn default() -> Self {
        ImportancePruning {
            start_fraction: 0.4,
            period_fraction: 0.02,
            percentile: 20.0,
        }
    }
}

impl ImportancePruning {
    /// Whether the end of epoch `epoch` (0-based) of `epochs` prunes.
    pub fn prunes_after(&self, epoch: usize, epochs: usize) -> bool {
        let start = (self.start_fraction * epochs as f64).ceil() as usize;
        let period = ((self.period_fraction * epochs as f64).round() as usize).max(1);
        let done = epoch + 1;
        done >= start.max(1) && (done - start.max(1)).is_multiple_of(period)
    }
}

/// The `p`-th percentile of `v` with linear interpolation between order statistics (numpy's
/// default).
fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let pos = p / 100.0 * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
}

/// Keep flags of importance pruning for one layer: false for every incoming connection of a
/// neuron (column) whose strength is at most the percentile. `O(nnz + n_out log n_out)`.
pub fn importance_keep(weights: &sparse_core::Csr, pct: f64) -> Vec<bool> {
    let mut strength = vec![0.0f64; weights.n_cols()];
    for (&c, &w) in weights.col_idx().iter().zip(weights.values()) {
        strength[c as usize] += f64::from(w.abs());
    }
    let t = percentile(&strength, pct);
    weights
        .col_idx()
        .iter()
        .map(|&c| strength[c as usize] > t)
        .collect()
}

impl SetConfig {
    fn default_zeta() -> f64 {
        0.3
    }

    /// Checks that `zeta` is a fraction.
    pub fn validate(&self) -> Result<(), SparseError> {
        if !(0.0..=1.0).contains(&self.zeta) {
            return Err(SparseError::Parameter {
                name: "zeta",
                reason: format!("{} is not in [0, 1]", self.zeta),
            });
        }
        if let Some(ip) = &self.importance_pruning {
            for (name, v, range) in [
                (
                    "importance_pruning.start_fraction",
                    ip.start_fraction,
                    0.0..=1.0,
                ),
                (
                    "importance_pruning.period_fraction",
                    ip.period_fraction,
                    0.0..=1.0,
                ),
                ("importance_pruning.percentile", ip.percentile, 0.0..=100.0),
            ] {
                if !range.contains(&v) {
                    return Err(SparseError::Parameter {
                        name,
                        reason: format!("{v} is not in [{}, {}]", range.start(), range.end()),
                    });
                }
            }
        }
        Ok(())
    }
}

impl Default for SetConfig {
    fn default() -> Self {
        SetConfig {
            zeta: Self::default_zeta(),
            importance_pruning: None,
            regrow_init: RegrowInit::Sampler,
        }
    }
}

/// The SET method (see the crate docs).
#[derive(Debug, Clone)]
pub struct Set {
    config: SetConfig,
}

impl Set {
    /// A SET method with a validated configuration.
    pub fn new(config: SetConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(Set { config })
    }
}

impl sparse_core::NamedMethod for Set {
    const NAME: &'static str = "set";
    type Config = SetConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        Set::new(config)
    }
}

impl DstMethod for Set {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    /// SET prunes by magnitude and grows at random: no hook of it reads a gradient.
    fn reads_gradients(&self) -> bool {
        false
    }

    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if ctx.clock.is_last_epoch() {
            return HookOutcome::none();
        }
        let mut edits = Vec::new();
        let prune = self
            .config
            .importance_pruning
            .filter(|ip| ip.prunes_after(ctx.clock.epoch, ctx.clock.epochs));
        let last = ctx.layers.len().saturating_sub(1);
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            // Importance pruning first (hidden neurons only, never regrown), then evolution.
            let pruned = match prune {
                Some(ip) if l < last => {
                    layer.retain(&importance_keep(&layer.weights, ip.percentile))
                }
                _ => 0,
            };
            let keep = set_removal(layer.weights.values(), self.config.zeta);
            let regrow = self.config.regrow_init.distribution(
                layer.sampler,
                layer.n_in(),
                layer.n_out(),
                layer.nnz(),
            );
            let mut e = layer.rewire(
                l,
                &keep,
                &mut *ctx.rng,
                |pattern, n, rng| {
                    sample_free_positions(pattern, n, rng)
                        .expect("the removed positions are free again, so they can be refilled")
                },
                |_, rng| regrow.map_or(0.0, |d| d.sample(rng)),
            );
            e.removed += pruned;
            edits.push(e);
        }
        HookOutcome {
            skip_optimizer_step: false,
            edits,
        }
    }
}

/// Static sparse training: the topology drawn at initialisation never changes. It is the
/// control every DST method is compared against (same initial topology and weights per seed).
#[derive(Debug, Clone, Copy, Default)]
pub struct StaticSparse;

impl sparse_core::NamedMethod for StaticSparse {
    const REWIRES: bool = false;
    const NAME: &'static str = "static";
    type Config = sparse_core::NoParams;
    fn from_config(_config: Self::Config) -> Result<Self, SparseError> {
        Ok(StaticSparse)
    }
}

impl DstMethod for StaticSparse {
    fn name(&self) -> &'static str {
        "static"
    }

    fn rewires(&self) -> bool {
        false
    }

    fn reads_gradients(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use sparse_core::{SparseLayer, TrainingClock, WeightSampler};

    fn network(seed: u64, shapes: &[(usize, usize, usize)]) -> Vec<SparseLayer> {
        conformance::fixtures::random_network(&mut ChaCha8Rng::seed_from_u64(seed), shapes)
    }

    fn clock(epoch: usize) -> TrainingClock {
        TrainingClock {
            epoch,
            epochs: 5,
            step: 0,
            steps_per_epoch: 3,
        }
    }

    fn evolve(set: &mut Set, layers: &mut [SparseLayer], epoch: usize, seed: u64) -> HookOutcome {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ctx = DstContext {
            layers,
            clock: clock(epoch),
            rng: &mut rng,
            gradients: None,
        };
        set.end_of_epoch(&mut ctx)
    }

    proptest! {
        /// With importance pruning the connection count never grows, falls only at the
        /// scheduled epochs, and the pattern stays valid.
        #[test]
        fn importance_pruning_follows_its_schedule(seed: u64, pct in 0.0f64..60.0) {
            let mut layers = network(seed, &[(6, 7, 30), (7, 5, 25), (5, 2, 10)]);
            let ip = ImportancePruning { start_fraction: 0.2, period_fraction: 0.2, percentile: pct };
            let mut set = Set::new(SetConfig { zeta: 0.3, importance_pruning: Some(ip), ..SetConfig::default() }).unwrap();
            for epoch in 0..5 {
                let before: Vec<usize> = layers.iter().map(|l| l.nnz()).collect();
                evolve(&mut set, &mut layers, epoch, seed ^ epoch as u64);
                for (l, layer) in layers.iter().enumerate() {
                    prop_assert!(layer.weights.validate().is_ok());
                    prop_assert_eq!(layer.momentum.len(), layer.nnz());
                    prop_assert!(layer.nnz() <= before[l]);
                    if !ip.prunes_after(epoch, 5) || epoch == 4 {
                        prop_assert_eq!(layer.nnz(), before[l]);
                    }
                }
            }
        }

        #[test]
        fn evolution_keeps_counts_and_survivors(seed: u64, zeta in 0.0f64..=1.0) {
            let mut layers = network(seed, &[(6, 7, 20), (7, 5, 35), (5, 2, 10)]);
            let before = layers.clone();
            let mut set = Set::new(SetConfig { zeta, ..SetConfig::default() }).unwrap();
            let out = evolve(&mut set, &mut layers, 0, seed ^ 1);
            prop_assert_eq!(out.edits.len(), 2, "the output layer is not dynamic");
            prop_assert_eq!(&layers[2], &before[2]);
            for e in &out.edits {
                let (old, new) = (&before[e.layer], &layers[e.layer]);
                prop_assert_eq!(new.nnz(), old.nnz());
                prop_assert_eq!(e.removed, e.grown);
                let keep = set_removal(old.weights.values(), zeta);
                prop_assert_eq!(e.removed, keep.iter().filter(|k| !**k).count());
                // Every survivor is still there with its weight.
                let rows = old.weights.row_indices();
                for k in 0..old.nnz() {
                    if keep[k] {
                        let (i, j) = (rows[k] as usize, old.weights.col_idx()[k]);
                        let pos = new.weights.row_range(i).find(|&p| new.weights.col_idx()[p] == j);
                        prop_assert!(pos.is_some());
                        prop_assert_eq!(new.weights.values()[pos.unwrap()], old.weights.values()[k]);
                    }
                }
            }
        }
    }

    #[test]
    fn no_evolution_after_the_last_epoch_and_static_never_edits() {
        let mut layers = network(3, &[(6, 7, 20), (7, 2, 14)]);
        let before = layers.clone();
        let mut set = Set::new(SetConfig {
            zeta: 0.5,
            ..SetConfig::default()
        })
        .unwrap();
        assert!(evolve(&mut set, &mut layers, 4, 9).edits.is_empty());
        assert_eq!(layers, before);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut ctx = DstContext {
            layers: &mut layers,
            clock: clock(0),
            rng: &mut rng,
            gradients: None,
        };
        assert_eq!(StaticSparse.end_of_epoch(&mut ctx), HookOutcome::none());
        assert_eq!(layers, before);
    }

    #[test]
    fn same_seed_same_topology() {
        let mut a = network(5, &[(8, 8, 30), (8, 2, 16)]);
        let mut b = a.clone();
        let mut set = Set::new(SetConfig::default()).unwrap();
        evolve(&mut set, &mut a, 0, 42);
        evolve(&mut set, &mut b, 0, 42);
        assert_eq!(a, b);
    }

    /// Regrown weights: the layer's sampler (limit 1 here), zeros, or the seed paper's
    /// He-uniform with the dense fan-in (6 inputs: limit 1), and every survivor unchanged.
    #[test]
    fn regrown_weights_follow_regrow_init() {
        for (init, limit) in [
            (RegrowInit::Sampler, Some(1.0f32)),
            (RegrowInit::Zero, None),
            (RegrowInit::Reference, Some((6.0f32 / 6.0).sqrt())),
        ] {
            let mut layers = network(8, &[(6, 7, 20), (7, 2, 14)]);
            // Survivors of the evolution get a marker no regrown weight can take.
            let keep = set_removal(layers[0].weights.values(), 0.3);
            for (v, k) in layers[0].weights.values_mut().iter_mut().zip(&keep) {
                if *k {
                    *v = 7.0 * v.signum();
                }
            }
            let mut set = Set::new(SetConfig {
                zeta: 0.3,
                regrow_init: init,
                ..SetConfig::default()
            })
            .unwrap();
            let out = evolve(&mut set, &mut layers, 0, 4);
            let grown: Vec<f32> = layers[0]
                .weights
                .values()
                .iter()
                .copied()
                .filter(|v| v.abs() != 7.0)
                .collect();
            assert_eq!(grown.len(), out.edits[0].grown, "{init:?}");
            assert!(!grown.is_empty());
            match limit {
                None => assert!(grown.iter().all(|&w| w == 0.0), "{init:?}"),
                Some(l) => {
                    assert!(grown.iter().all(|&w| w.abs() <= l), "{init:?}");
                    assert!(grown.iter().any(|&w| w != 0.0), "{init:?}");
                }
            }
        }
        // The dense fan-in, not the layer's sampler: with a sampler of limit 10 on 6 inputs
        // `reference` still draws within 1.
        let mut layers = network(9, &[(6, 7, 20), (7, 2, 14)]);
        layers[0].sampler = WeightSampler::Uniform { limit: 10.0 };
        let before = layers[0].weights.values().to_vec();
        let mut set = Set::new(SetConfig {
            zeta: 0.5,
            regrow_init: RegrowInit::Reference,
            ..SetConfig::default()
        })
        .unwrap();
        evolve(&mut set, &mut layers, 0, 5);
        let new: Vec<f32> = layers[0]
            .weights
            .values()
            .iter()
            .copied()
            .filter(|v| !before.contains(v))
            .collect();
        assert!(
            !new.is_empty() && new.iter().all(|w| w.abs() <= 1.0),
            "{new:?}"
        );
    }

    /// The default leaves the serialised form, and so existing run keys, as they were.
    #[test]
    fn regrow_init_is_out_of_the_key_at_its_default() {
        let json = serde_json::to_string(&SetConfig {
            zeta: 0.1,
            ..SetConfig::default()
        })
        .unwrap();
        assert_eq!(json, r#"{"zeta":0.1}"#);
        let zero: SetConfig = toml::from_str("zeta = 0.1\nregrow_init = \"zero\"").unwrap();
        assert_eq!(zero.regrow_init, RegrowInit::Zero);
        assert!(toml::from_str::<SetConfig>("regrow_init = \"large\"").is_err());
    }

    #[test]
    fn zeta_outside_unit_interval_is_rejected() {
        assert!(Set::new(SetConfig {
            zeta: 1.5,
            ..SetConfig::default()
        })
        .is_err());
    }

    /// Importance pruning against a dense brute force: column strengths from the dense
    /// matrix, numpy-style percentile, every incoming connection of the weak neurons gone.
    #[test]
    fn importance_pruning_matches_a_dense_brute_force() {
        for seed in 0..20u64 {
            let mut layers = network(seed, &[(6, 7, 25), (7, 5, 20), (5, 2, 10)]);
            let before = layers.clone();
            let ip = ImportancePruning {
                start_fraction: 0.0,
                period_fraction: 0.0,
                percentile: 30.0,
            };
            // zeta 0: the evolution removes nothing, so only the pruning shows.
            let mut set = Set::new(SetConfig {
                zeta: 0.0,
                importance_pruning: Some(ip),
                ..SetConfig::default()
            })
            .unwrap();
            let out = evolve(&mut set, &mut layers, 0, seed);
            for l in 0..2 {
                let (r, c) = (before[l].n_in(), before[l].n_out());
                let d = before[l].weights.to_dense();
                let mut strength: Vec<f64> = (0..c)
                    .map(|j| (0..r).map(|i| f64::from(d[i * c + j].abs())).sum())
                    .collect();
                let col_strength = strength.clone();
                strength.sort_by(f64::total_cmp);
                let pos = 0.3 * (c - 1) as f64;
                let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
                let t = strength[lo] + (strength[hi] - strength[lo]) * (pos - lo as f64);
                let mut want = d.clone();
                for j in 0..c {
                    if col_strength[j] <= t {
                        for i in 0..r {
                            want[i * c + j] = 0.0;
                        }
                    }
                }
                assert_eq!(layers[l].weights.to_dense(), want, "seed {seed} layer {l}");
                let removed = before[l].nnz() - layers[l].nnz();
                assert_eq!((out.edits[l].removed, out.edits[l].grown), (removed, 0));
                assert!(removed > 0);
            }
            assert_eq!(layers[2], before[2], "the output layer is never pruned");
        }
    }

    #[test]
    fn importance_pruning_schedule_scales_with_the_run() {
        let ip = ImportancePruning::default();
        // 100 epochs: from epoch 40, every 2 epochs (1-based epoch counts).
        let when: Vec<usize> = (0..100)
            .filter(|&e| ip.prunes_after(e, 100))
            .map(|e| e + 1)
            .collect();
        assert_eq!(when.first(), Some(&40));
        assert_eq!(when[1] - when[0], 2);
        assert_eq!(when.len(), 31);
        // 500 epochs: the original's 200 and 10.
        let when: Vec<usize> = (0..500)
            .filter(|&e| ip.prunes_after(e, 500))
            .map(|e| e + 1)
            .collect();
        assert_eq!((when[0], when[1]), (200, 210));
        let bad = SetConfig {
            zeta: 0.1,
            importance_pruning: Some(ImportancePruning {
                percentile: 120.0,
                ..ip
            }),
            ..SetConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("percentile"));
    }
}
