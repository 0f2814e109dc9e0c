//! MEST, Memory-Economic Sparse Training (Yuan et al., NeurIPS 2021, §3; the EM schedule of
//! the authors' `MEST+EM` scripts), as a [`sparse_core::DstMethod`].
//!
//! Every `update_every` epochs, each dynamic layer removes its connections with the lowest
//! importance `|w| + lambda |g|` (`g` the gradient of the last batch) and regrows as many at
//! uniformly random empty positions with weight and momentum 0, so its number of connections
//! is constant. The *elastic mutation* schedule lowers how much is mutated over training: the
//! reference prunes to 92%, then 91%, then 90% sparsity and regrows to 90%, i.e. it mutates
//! 2, then 1, then 0 points of the layer's dense size, switching at epochs 90 and 120 of 160.
//!
//! Here the stages are (fraction of training, mutated share), the share of the layer's
//! connections by default (`nnz_stages`: the reference schedule at its 90% sparsity, 20%, then
//! 10%, then 0% of the connections), so that a sparser layer mutates as large a part of itself.
//! The reference's own numbers, shares of the dense size, are `stages`; at 98% sparsity and
//! beyond its 2% would be every connection at every update.

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
    /// Elastic mutation schedule as shares of the layer's *dense size*:
    /// `(from_fraction_of_training, mutated_share)`, sorted by fraction; the reference EM
    /// schedule is `[(0, 0.02), (0.5625, 0.01), (0.75, 0)]`. When given, it replaces
    /// `nnz_stages` (configs written before `nnz_stages` existed keep their meaning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<(f64, f64)>>,
    /// Elastic mutation schedule as shares of the layer's *connections*, used unless `stages`
    /// is given; default [`MestConfig::REFERENCE_NNZ_STAGES`]. Left out of the run key at its
    /// default.
    #[serde(skip_serializing_if = "MestConfig::is_reference_nnz")]
    pub nnz_stages: Vec<(f64, f64)>,
}

impl Default for MestConfig {
    fn default() -> Self {
        MestConfig {
            lambda: 0.0,
            update_every: 5,
            stages: None,
            nnz_stages: MestConfig::REFERENCE_NNZ_STAGES.to_vec(),
        }
    }
}

impl MestConfig {
    /// The reference EM schedule at its 90% sparsity, as shares of the connections: 2 and 1
    /// points of the dense size are 20% and 10% of a layer at density 0.1.
    pub const REFERENCE_NNZ_STAGES: [(f64, f64); 3] = [(0.0, 0.2), (0.5625, 0.1), (0.75, 0.0)];

    fn is_reference_nnz(stages: &[(f64, f64)]) -> bool {
        stages == Self::REFERENCE_NNZ_STAGES
    }

    /// The schedule in force, with the name of its key and what its shares are of.
    fn schedule(&self) -> (&'static str, &[(f64, f64)], MutationOf) {
        match &self.stages {
            Some(s) => ("stages", s, MutationOf::DenseSize),
            None => ("nnz_stages", &self.nnz_stages, MutationOf::Connections),
        }
    }

    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        let bad = |name, reason: String| Err(SparseError::Parameter { name, reason });
        if !(self.lambda >= 0.0 && self.lambda.is_finite()) {
            return bad("lambda", format!("{} must be >= 0", self.lambda));
        }
        if self.update_every == 0 {
            return bad("update_every", "must be at least 1".into());
        }
        if self.stages.is_some() && !Self::is_reference_nnz(&self.nnz_stages) {
            return bad(
                "stages",
                "give `stages` (shares of the dense size) or `nnz_stages` (shares of the \
                 connections), not both"
                    .into(),
            );
        }
        let (name, stages, _) = self.schedule();
        if stages.is_empty() {
            return bad(name, "give at least one (fraction, mutation) stage".into());
        }
        for w in stages.windows(2) {
            if w[0].0 >= w[1].0 {
                return bad(name, "fractions must increase".into());
            }
        }
        if let Some(s) = stages
            .iter()
            .find(|s| !(0.0..=1.0).contains(&s.0) || !(0.0..=1.0).contains(&s.1))
        {
            return bad(
                name,
                format!("{s:?}: fraction and mutation must be in [0, 1]"),
            );
        }
        Ok(())
    }
}

/// What a mutation share is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MutationOf {
    /// The layer's dense size `n_in x n_out` (the reference's `stages`).
    DenseSize,
    /// The layer's connections (`nnz_stages`).
    Connections,
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

    /// Share mutated by an update at the end of `clock.epoch` and what it is a share of, or
    /// `None` when this epoch has no update.
    pub fn mutation(&self, clock: &TrainingClock) -> Option<(f64, MutationOf)> {
        let done = clock.epoch + 1;
        if clock.is_last_epoch() || !done.is_multiple_of(self.config.update_every) {
            return None;
        }
        let progress = done as f64 / clock.epochs as f64;
        let (_, stages, of) = self.config.schedule();
        stages
            .iter()
            .rev()
            .find(|s| progress >= s.0)
            .map(|s| s.1)
            .filter(|&m| m > 0.0)
            .map(|m| (m, of))
    }
}

impl sparse_core::NamedMethod for Mest {
    const NAME: &'static str = "mest";
    type Config = MestConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        Mest::new(config)
    }
    /// An update after every epoch (the default waits 5) and a mutation share of 5% of the dense
    /// size, so a run of 6 epochs sees several.
    fn conformance_config() -> Self::Config {
        MestConfig {
            update_every: 1,
            stages: Some(vec![(0.0, 0.05)]),
            ..Default::default()
        }
    }
}

impl DstMethod for Mest {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let Some((mutation, of)) = self.mutation(&ctx.clock) else {
            return HookOutcome::none();
        };
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let size = match of {
                MutationOf::DenseSize => layer.n_in() as f64 * layer.n_out() as f64,
                MutationOf::Connections => layer.nnz() as f64,
            };
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

    fn reference_dense_size() -> MestConfig {
        MestConfig {
            stages: Some(vec![(0.0, 0.02), (0.5625, 0.01), (0.75, 0.0)]),
            ..MestConfig::default()
        }
    }

    #[test]
    fn elastic_schedule_of_the_reference() {
        use MutationOf::{Connections, DenseSize};
        let m = Mest::new(reference_dense_size()).unwrap();
        assert_eq!(m.mutation(&clock(3)), None, "not an update epoch");
        assert_eq!(m.mutation(&clock(4)), Some((0.02, DenseSize)));
        assert_eq!(
            m.mutation(&clock(89)),
            Some((0.01, DenseSize)),
            "epoch 90 of 160 starts stage 2"
        );
        assert_eq!(m.mutation(&clock(84)), Some((0.02, DenseSize)));
        assert_eq!(m.mutation(&clock(119)), None, "epoch 120: no more mutation");
        assert_eq!(m.mutation(&clock(159)), None, "never after the last epoch");
        let by_default = Mest::new(MestConfig::default()).unwrap();
        assert_eq!(by_default.mutation(&clock(4)), Some((0.2, Connections)));
        assert_eq!(by_default.mutation(&clock(89)), Some((0.1, Connections)));
        assert_eq!(by_default.mutation(&clock(119)), None);
        let bad = MestConfig {
            stages: Some(vec![(0.5, 0.1), (0.2, 0.0)]),
            ..MestConfig::default()
        };
        assert!(Mest::new(bad).is_err());
        let both = MestConfig {
            stages: Some(vec![(0.0, 0.02)]),
            nnz_stages: vec![(0.0, 0.3)],
            ..MestConfig::default()
        };
        let e = Mest::new(both).unwrap_err().to_string();
        assert!(e.contains("nnz_stages"), "{e}");
    }

    /// The serialised form of a config that names `stages` is what it was before
    /// `nnz_stages` existed (so its runs keep their keys), and the default adds nothing.
    #[test]
    fn serialised_forms_keep_old_keys() {
        let json = serde_json::to_string(&reference_dense_size()).unwrap();
        assert_eq!(
            json,
            r#"{"lambda":0.0,"update_every":5,"stages":[[0.0,0.02],[0.5625,0.01],[0.75,0.0]]}"#
        );
        let json = serde_json::to_string(&MestConfig::default()).unwrap();
        assert_eq!(json, r#"{"lambda":0.0,"update_every":5}"#);
    }

    /// At 98% sparsity the dense-size schedule's 2% is every connection; the default mutates
    /// a fifth of them, whatever the sparsity.
    #[test]
    fn connection_shares_follow_the_layer_not_its_dense_size() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let sparse = SparseLayer::new(
            random_pattern(50, 50, 50, &mut rng).unwrap(),
            WeightSampler::Uniform { limit: 1.0 },
            true,
        );
        for (cfg, want) in [(reference_dense_size(), 50), (MestConfig::default(), 10)] {
            let mut layers = vec![sparse.clone()];
            let out = Mest::new(cfg).unwrap().end_of_epoch(&mut DstContext {
                layers: &mut layers,
                clock: clock(4),
                rng: &mut rng,
                gradients: None,
            });
            assert_eq!(out.edits[0].removed, want);
            assert_eq!(layers[0].nnz(), 50);
        }
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
                ..reference_dense_size()
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
