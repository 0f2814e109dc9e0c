//! MEST, Memory-Economic Sparse Training (Yuan et al., NeurIPS 2021, §3; the EM schedule of
//! the authors' `MEST+EM` scripts), as a [`sparse_core::DstMethod`].
//!
//! Every `update_every` epochs, each dynamic layer removes its connections with the lowest
//! importance `|w| + lambda |g|` (`g` the gradient of the last batch) and regrows as many at
//! uniformly random empty positions with weight and momentum 0, so its number of connections
//! is constant. The *elastic mutation* schedule lowers how much is mutated over training: the
//! reference prunes to 92%, then 91%, then 90% sparsity and regrows to 90%, i.e. it mutates
//! 2, then 1, then 0 points of the layer's dense size, switching at epochs 90 and 120 of 160.
//! Here the stages are given as (fraction of training, mutated share of the dense size).

use serde::{Deserialize, Serialize};
use sparse_core::init::sample_free_positions;
use sparse_core::topology::magnitude_removal;
use sparse_core::{DstContext, DstMethod, HookOutcome, SparseError, TrainingClock};

/// MEST's hyper-parameters, as written in an experiment config (`[methods.mest]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MestConfig {
    /// Weight of the gradient in the importance score `|w| + lambda |g|` (`--sp-lmd`, 0 in the
    /// reference defaults: plain magnitude).
    pub lambda: f32,
    /// Epochs between mask updates (`--sp-mask-update-freq`, 5).
    pub update_every: usize,
    /// Elastic mutation schedule: `(from_fraction_of_training, mutated_share_of_dense_size)`,
    /// sorted by fraction; the reference EM schedule is `[(0, 0.02), (0.5625, 0.01), (0.75, 0)]`.
    pub stages: Vec<(f64, f64)>,
}

impl Default for MestConfig {
    fn default() -> Self {
        MestConfig {
            lambda: 0.0,
            update_every: 5,
            stages: vec![(0.0, 0.02), (0.5625, 0.01), (0.75, 0.0)],
        }
    }
}

impl MestConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        let bad = |name, reason: String| Err(SparseError::Parameter { name, reason });
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad("lambda", format!("{} must be >= 0", self.lambda));
        }
        if self.update_every == 0 {
            return bad("update_every", "must be at least 1".into());
        }
        if self.stages.is_empty() {
            return bad(
                "stages",
                "give at least one (fraction, mutation) stage".into(),
            );
        }
        for w in self.stages.windows(2) {
            if w[0].0 >= w[1].0 {
                return bad("stages", "fractions must increase".into());
            }
        }
        if let Some(s) = self
            .stages
            .iter()
            .find(|s| !(0.0..=1.0).contains(&s.0) || !(0.0..=1.0).contains(&s.1))
        {
            return bad(
                "stages",
                format!("{s:?}: fraction and mutation must be in [0, 1]"),
            );
        }
        Ok(())
    }
}

/// The MEST method (see the crate docs).
#[derive(Debug, Clone)]
pub struct Mest {
    config: MestConfig,
}

impl Mest {
    /// A MEST method with a validated configuration.
    pub fn new(config: MestConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(Mest { config })
    }

    /// Share of the dense size mutated by an update at the end of `clock.epoch`, or `None`
    /// when this epoch has no update.
    pub fn mutation(&self, clock: &TrainingClock) -> Option<f64> {
        let done = clock.epoch + 1;
        if clock.is_last_epoch() || !done.is_multiple_of(self.config.update_every) {
            return None;
        }
        let progress = done as f64 / clock.epochs as f64;
        self.config
            .stages
            .iter()
            .rev()
            .find(|s| progress >= s.0)
            .map(|s| s.1)
            .filter(|&m| m > 0.0)
    }
}

impl sparse_core::NamedMethod for Mest {
    const NAME: &'static str = "mest";
    type Config = MestConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        Mest::new(config)
    }
}

impl DstMethod for Mest {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let Some(mutation) = self.mutation(&ctx.clock) else {
            return HookOutcome::none();
        };
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let size = layer.n_in() as f64 * layer.n_out() as f64;
            let n_remove = ((mutation * size).round() as usize).min(layer.nnz());
            let lambda = self.config.lambda;
            let importance: Vec<f32> = layer
                .weights
                .values()
                .iter()
                .zip(&layer.grad)
                .map(|(w, g)| w.abs() + lambda * g.abs())
                .collect();
            let keep = magnitude_removal(&importance, n_remove);
            edits.push(layer.rewire(
                l,
                &keep,
                &mut *ctx.rng,
                |pattern, n, rng| {
                    sample_free_positions(pattern, n, rng)
                        .expect("the removed positions are free again")
                },
                |_, _| 0.0,
            ));
        }
        HookOutcome {
            skip_optimizer_step: false,
            edits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use sparse_core::init::random_pattern;
    use sparse_core::{EditStats, SparseLayer, WeightSampler};

    fn clock(epoch: usize) -> TrainingClock {
        TrainingClock {
            epoch,
            epochs: 160,
            step: 0,
            steps_per_epoch: 10,
        }
    }

    #[test]
    fn elastic_schedule_of_the_reference() {
        let m = Mest::new(MestConfig::default()).unwrap();
        assert_eq!(m.mutation(&clock(3)), None, "not an update epoch");
        assert_eq!(m.mutation(&clock(4)), Some(0.02));
        assert_eq!(
            m.mutation(&clock(89)),
            Some(0.01),
            "epoch 90 of 160 starts stage 2"
        );
        assert_eq!(m.mutation(&clock(84)), Some(0.02));
        assert_eq!(m.mutation(&clock(119)), None, "epoch 120: no more mutation");
        assert_eq!(m.mutation(&clock(159)), None, "never after the last epoch");
        let bad = MestConfig {
            stages: vec![(0.5, 0.1), (0.2, 0.0)],
            ..MestConfig::default()
        };
        assert!(Mest::new(bad).is_err());
    }

    #[test]
    fn update_removes_the_least_important_and_regrows_at_zero() {
        for seed in 0..20u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut layer = SparseLayer::new(
                random_pattern(10, 10, 40, &mut rng).unwrap(),
                WeightSampler::Uniform { limit: 1.0 },
                true,
            );
            for v in layer.weights.values_mut() {
                *v = rng.random_range(-1.0..1.0);
            }
            layer.grad = (0..40).map(|_| rng.random_range(-1.0..1.0)).collect();
            layer.momentum = vec![1.0; 40];
            let before = layer.clone();
            let cfg = MestConfig {
                lambda: 0.5,
                ..MestConfig::default()
            };
            let mut mest = Mest::new(cfg).unwrap();
            let mut layers = vec![layer];
            let out = mest.end_of_epoch(&mut DstContext {
                layers: &mut layers,
                clock: clock(4),
                rng: &mut rng,
                gradients: None,
            });
            // 2% of 100 positions.
            assert_eq!(
                out.edits,
                vec![EditStats {
                    layer: 0,
                    removed: 2,
                    grown: 2
                }]
            );
            let after = &layers[0];
            assert_eq!(after.nnz(), 40);
            // Brute force: the two lowest |w| + 0.5 |g| are gone, everything else kept.
            let score: Vec<f32> = before
                .weights
                .values()
                .iter()
                .zip(&before.grad)
                .map(|(w, g)| w.abs() + 0.5 * g.abs())
                .collect();
            let mut order: Vec<usize> = (0..40).collect();
            order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
            let rows = before.weights.row_indices();
            let dense_after = after.weights.to_dense();
            for (rank, &k) in order.iter().enumerate() {
                let p = rows[k] as usize * 10 + before.weights.col_idx()[k] as usize;
                if rank >= 2 {
                    assert_eq!(dense_after[p], before.weights.values()[k], "kept");
                }
            }
            // Grown connections start at zero weight and momentum.
            assert_eq!(after.momentum.iter().filter(|&&m| m == 0.0).count(), 2);
            assert_eq!(
                after.weights.values().iter().filter(|&&w| w == 0.0).count(),
                2
            );
        }
    }
}
