//! Sparse Evolutionary Training (SET; Mocanu et al., Nat. Commun. 2018) and the static sparse
//! baseline, as [`sparse_core::DstMethod`]s.
//!
//! SET evolves each dynamic layer after every epoch but the last (as the reference code does,
//! `if i < epochs - 1`): it removes the fraction `zeta` of the positive and of the negative
//! weights closest to zero ([`sparse_core::topology::set_removal`]) and regrows as many
//! connections at uniformly random empty positions, with weights from the layer's initial
//! distribution and zero momentum. A just-removed position may be regrown, as in the reference.
//! The number of connections of each layer is therefore constant.

use serde::{Deserialize, Serialize};
use sparse_core::init::sample_free_positions;
use sparse_core::topology::set_removal;
use sparse_core::{DstContext, DstMethod, HookOutcome, SparseError};

/// SET's hyper-parameters, as written in an experiment config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// Fraction of each sign's weights removed and regrown per evolution; 0.3 in the SET paper
    /// and code, 0.1 in the seed paper's WDBC experiment.
    #[serde(default = "SetConfig::default_zeta")]
    pub zeta: f64,
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
        Ok(())
    }
}

impl Default for SetConfig {
    fn default() -> Self {
        SetConfig {
            zeta: Self::default_zeta(),
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

    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if ctx.clock.is_last_epoch() {
            return HookOutcome::none();
        }
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let keep = set_removal(layer.weights.values(), self.config.zeta);
            edits.push(layer.rewire(
                l,
                &keep,
                &mut *ctx.rng,
                |pattern, n, rng| {
                    sample_free_positions(pattern, n, rng)
                        .expect("the removed positions are free again, so they can be refilled")
                },
                |sampler, rng| sampler.sample(rng),
            ));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use sparse_core::init::random_pattern;
    use sparse_core::{SparseLayer, TrainingClock, WeightSampler};

    fn network(seed: u64, shapes: &[(usize, usize, usize)]) -> Vec<SparseLayer> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        shapes
            .iter()
            .enumerate()
            .map(|(l, &(r, c, n))| {
                let mut layer = SparseLayer::new(
                    random_pattern(r, c, n, &mut rng).unwrap(),
                    WeightSampler::Uniform { limit: 1.0 },
                    l + 1 < shapes.len(),
                );
                let s = layer.sampler;
                s.fill(layer.weights.values_mut(), &mut rng);
                layer
            })
            .collect()
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
        #[test]
        fn evolution_keeps_counts_and_survivors(seed: u64, zeta in 0.0f64..=1.0) {
            let mut layers = network(seed, &[(6, 7, 20), (7, 5, 35), (5, 2, 10)]);
            let before = layers.clone();
            let mut set = Set::new(SetConfig { zeta }).unwrap();
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
        let mut set = Set::new(SetConfig { zeta: 0.5 }).unwrap();
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

    #[test]
    fn zeta_outside_unit_interval_is_rejected() {
        assert!(Set::new(SetConfig { zeta: 1.5 }).is_err());
    }
}
