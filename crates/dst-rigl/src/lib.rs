//! RigL, Rigging the Lottery (Evci et al., ICML 2020, §3), as a [`sparse_core::DstMethod`].
//!
//! Every `delta_t` optimizer steps until `end_fraction` of training, each dynamic layer drops
//! the fraction `alpha/2 (1 + cos(pi t / T_end))` of its connections with the smallest
//! magnitude, and grows as many at the empty positions where the dense gradient of the current
//! batch is largest in magnitude. Candidates are all positions not kept after the drop, so a
//! just-dropped position may regrow: it then keeps its weight and momentum, as the reference
//! does with `reinit_when_same = False`; other grown weights and their momentum start at zero.
//! On an update step the ordinary optimizer update is skipped, as in the reference code.
//!
//! Truly sparse: the dense gradient `|Xᵀ dZ|` is never materialised; it is streamed a block
//! of rows at a time through [`sparse_core::topology::top_k_free_positions`], which keeps only
//! the best `k` candidates (a stated deviation from the reference, which builds the dense
//! gradient tensor). The reference adds N(0, 1e-5) noise to the drop scores; here ties are
//! broken by position instead, so updates are deterministic.

use serde::{Deserialize, Serialize};
use sparse_core::topology::{magnitude_removal, top_k_free_positions, SCORE_BLOCK_ELEMS};
use sparse_core::{
    DstContext, DstMethod, HookOutcome, LayerScores, SparseError, SparseLayer, TrainingClock,
};

/// RigL's hyper-parameters, as written in an experiment config (`[methods.rigl]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RigLConfig {
    /// Initial drop fraction α (0.3 in the paper).
    pub alpha: f64,
    /// Steps between topology updates ΔT (100 in the paper).
    pub delta_t: usize,
    /// Fraction of training after which the topology is frozen (0.75 in the paper).
    pub end_fraction: f64,
}

impl Default for RigLConfig {
    fn default() -> Self {
        RigLConfig {
            alpha: 0.3,
            delta_t: 100,
            end_fraction: 0.75,
        }
    }
}

impl RigLConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(SparseError::Parameter {
                name: "alpha",
                reason: format!("{} is not in [0, 1]", self.alpha),
            });
        }
        if self.delta_t == 0 {
            return Err(SparseError::Parameter {
                name: "delta_t",
                reason: "must be at least 1".into(),
            });
        }
        if !(self.end_fraction > 0.0 && self.end_fraction <= 1.0) {
            return Err(SparseError::Parameter {
                name: "end_fraction",
                reason: format!("{} is not in (0, 1]", self.end_fraction),
            });
        }
        Ok(())
    }
}

/// The RigL method (see the crate docs).
#[derive(Debug, Clone)]
pub struct RigL {
    config: RigLConfig,
}

impl RigL {
    /// A RigL method with a validated configuration.
    pub fn new(config: RigLConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(RigL { config })
    }

    /// Last step at which the topology may change, `T_end`.
    fn t_end(&self, clock: &TrainingClock) -> usize {
        (self.config.end_fraction * clock.total_steps() as f64).floor() as usize
    }

    /// Whether step `clock.step` (0-based) updates the topology: a positive multiple of
    /// `delta_t` before `T_end`.
    pub fn is_update_step(&self, clock: &TrainingClock) -> bool {
        let t = clock.step;
        t > 0 && t.is_multiple_of(self.config.delta_t) && t < self.t_end(clock)
    }

    /// The cosine-annealed drop fraction at step `t`: `alpha/2 (1 + cos(pi t / T_end))`.
    pub fn drop_fraction(&self, clock: &TrainingClock) -> f64 {
        let t_end = self.t_end(clock).max(1) as f64;
        let t = (clock.step as f64).min(t_end);
        sparse_core::schedule::cosine_anneal(self.config.alpha, 0.0, t, t_end)
    }
}

impl sparse_core::NamedMethod for RigL {
    const NAME: &'static str = "rigl";
    type Config = RigLConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        RigL::new(config)
    }
    /// The default updates every 100 steps; the kit's run has 48.
    fn conformance_config() -> Self::Config {
        RigLConfig {
            delta_t: 5,
            ..Default::default()
        }
    }
}

impl DstMethod for RigL {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.is_update_step(clock)
    }

    fn grows_by_gradient(&self) -> bool {
        true
    }

    fn after_backward(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if !self.is_update_step(&ctx.clock) {
            return HookOutcome::none();
        }
        let Some(source) = ctx.gradients.as_deref_mut() else {
            // The model did not provide gradients: nothing to grow by, leave the step alone.
            return HookOutcome::none();
        };
        let fraction = self.drop_fraction(&ctx.clock);
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let n_drop = (layer.nnz() as f64 * fraction).floor() as usize;
            let keep = magnitude_removal(layer.weights.values(), n_drop);
            let dropped = dropped_connections(layer, &keep);
            let mut scores = LayerScores {
                source: &mut *source,
                layer: l,
            };
            edits.push(layer.rewire(
                l,
                &keep,
                &mut *ctx.rng,
                |pattern, n, _| top_k_free_positions(pattern, n, &mut scores, SCORE_BLOCK_ELEMS),
                |_, _| 0.0,
            ));
            restore_regrown(layer, &dropped);
        }
        HookOutcome {
            skip_optimizer_step: true,
            edits,
        }
    }
}

/// A connection removed by a drop: its position, weight and momentum.
struct Dropped {
    row: usize,
    col: u32,
    weight: f32,
    momentum: f32,
}

/// The connections with `keep[k]` false, in storage order. `O(nnz)`, holding only the dropped.
fn dropped_connections(layer: &SparseLayer, keep: &[bool]) -> Vec<Dropped> {
    let w = &layer.weights;
    let mut out = Vec::new();
    for row in 0..w.n_rows() {
        for k in w.row_range(row) {
            if !keep[k] {
                out.push(Dropped {
                    row,
                    col: w.col_idx()[k],
                    weight: w.values()[k],
                    momentum: layer.momentum[k],
                });
            }
        }
    }
    out
}

/// Gives every dropped position that was grown again its weight and momentum back (the
/// reference's `reinit_when_same = False`: a connection dropped and regrown in one update is
/// left as it was, not restarted at zero).
fn restore_regrown(layer: &mut SparseLayer, dropped: &[Dropped]) {
    for d in dropped {
        if let Some(k) = layer.weights.position(d.row, d.col) {
            layer.weights.values_mut()[k] = d.weight;
            layer.momentum[k] = d.momentum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use sparse_core::init::random_pattern;
    use sparse_core::{GradientSource, SparseLayer, WeightSampler};
    use std::ops::Range;

    /// Dense gradient scores of every layer, for the brute-force reference.
    struct DenseScores(Vec<(usize, Vec<f32>)>);

    impl GradientSource for DenseScores {
        fn fill_rows(&mut self, layer: usize, rows: Range<usize>, out: &mut [f32]) {
            let (n_out, m) = (&self.0[layer].0, &self.0[layer].1);
            out.copy_from_slice(&m[rows.start * n_out..rows.end * n_out]);
        }
    }

    fn clock(step: usize) -> TrainingClock {
        TrainingClock {
            epoch: 0,
            epochs: 10,
            step,
            steps_per_epoch: 100,
        }
    }

    fn network(seed: u64) -> (Vec<SparseLayer>, DenseScores) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let shapes = [(7usize, 6usize, 20usize, true), (6, 3, 18, false)];
        let mut layers = Vec::new();
        let mut scores = Vec::new();
        for &(r, c, n, dynamic) in &shapes {
            let mut layer = SparseLayer::new(
                random_pattern(r, c, n, &mut rng).unwrap(),
                WeightSampler::Uniform { limit: 1.0 },
                dynamic,
            );
            for v in layer.weights.values_mut() {
                *v = rng.random_range(-1.0..1.0);
            }
            layer.momentum = (0..n).map(|k| k as f32 + 1.0).collect();
            layers.push(layer);
            scores.push((c, (0..r * c).map(|_| rng.random_range(0.0..1.0)).collect()));
        }
        (layers, DenseScores(scores))
    }

    #[test]
    fn schedule_follows_the_paper() {
        let rigl = RigL::new(RigLConfig::default()).unwrap();
        // 1000 steps, T_end = 750: updates at 100, 200, ..., 700.
        let updates: Vec<usize> = (0..1000)
            .filter(|&t| rigl.is_update_step(&clock(t)))
            .collect();
        assert_eq!(updates, (1..=7).map(|k| k * 100).collect::<Vec<_>>());
        assert!((rigl.drop_fraction(&clock(0)) - 0.3).abs() < 1e-12);
        assert!((rigl.drop_fraction(&clock(375)) - 0.15).abs() < 1e-12);
        assert!(rigl.drop_fraction(&clock(750)).abs() < 1e-12);
        assert!(RigL::new(RigLConfig {
            delta_t: 0,
            ..RigLConfig::default()
        })
        .is_err());
    }

    #[test]
    fn update_matches_a_dense_brute_force() {
        let mut regrown_same = 0;
        for seed in 0..20 {
            let (mut layers, mut scores) = network(seed);
            let before = layers.clone();
            let rigl_cfg = RigLConfig::default();
            let mut rigl = RigL::new(rigl_cfg).unwrap();
            let c = clock(200);
            let fraction = rigl.drop_fraction(&c);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut ctx = DstContext {
                layers: &mut layers,
                clock: c,
                rng: &mut rng,
                gradients: Some(&mut scores),
            };
            let out = rigl.after_backward(&mut ctx);
            assert!(out.skip_optimizer_step);
            assert_eq!(out.edits.len(), 1, "only the dynamic layer changes");
            assert_eq!(layers[1], before[1]);

            // Brute force on the dense 7 x 6 grid.
            let (old, new) = (&before[0], &layers[0]);
            let n_out = 6;
            let dense_w = old.weights.to_dense();
            let present: Vec<bool> = dense_w.iter().map(|_| false).collect();
            let mut present = present;
            for (k, &j) in old.weights.col_idx().iter().enumerate() {
                let i = old.weights.row_indices()[k] as usize;
                present[i * n_out + j as usize] = true;
            }
            let n_drop = (old.nnz() as f64 * fraction).floor() as usize;
            let mut order: Vec<usize> = (0..dense_w.len()).filter(|&p| present[p]).collect();
            order.sort_by(|&a, &b| {
                dense_w[a]
                    .abs()
                    .total_cmp(&dense_w[b].abs())
                    .then(a.cmp(&b))
            });
            let kept: Vec<usize> = order[n_drop..].to_vec();
            let g = &scores.0[0].1;
            let mut cands: Vec<usize> = (0..dense_w.len()).filter(|p| !kept.contains(p)).collect();
            cands.sort_by(|&a, &b| g[b].total_cmp(&g[a]).then(a.cmp(&b)));
            let mut want: Vec<usize> = kept.clone();
            want.extend_from_slice(&cands[..n_drop]);
            want.sort();
            let got: Vec<usize> = (0..new.nnz())
                .map(|k| {
                    new.weights.row_indices()[k] as usize * n_out
                        + new.weights.col_idx()[k] as usize
                })
                .collect();
            assert_eq!(got, want, "seed {seed}");
            assert_eq!(new.nnz(), old.nnz());
            // Kept weights, and dropped ones grown again at once, keep value and momentum;
            // other grown ones start at zero.
            let new_dense = new.weights.to_dense();
            let old_momentum: Vec<f32> = {
                let mut m = vec![0.0; dense_w.len()];
                for (k, &j) in old.weights.col_idx().iter().enumerate() {
                    let i = old.weights.row_indices()[k] as usize;
                    m[i * n_out + j as usize] = old.momentum[k];
                }
                m
            };
            for (k, &p) in got.iter().enumerate() {
                if present[p] {
                    assert_eq!(new_dense[p], dense_w[p], "seed {seed}");
                    assert_eq!(new.momentum[k], old_momentum[p], "seed {seed}");
                    regrown_same += usize::from(!kept.contains(&p));
                } else {
                    assert_eq!(new_dense[p], 0.0);
                    assert_eq!(new.momentum[k], 0.0);
                }
            }
        }
        assert!(
            regrown_same > 0,
            "some dropped position is grown again at once"
        );
    }

    #[test]
    fn no_update_off_schedule_or_without_gradients() {
        let (mut layers, mut scores) = network(1);
        let before = layers.clone();
        let mut rigl = RigL::new(RigLConfig::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for (step, grads) in [(150usize, true), (800, true), (200, false)] {
            let mut ctx = DstContext {
                layers: &mut layers,
                clock: clock(step),
                rng: &mut rng,
                gradients: if grads { Some(&mut scores) } else { None },
            };
            assert_eq!(rigl.after_backward(&mut ctx), HookOutcome::none());
        }
        assert_eq!(layers, before);
        assert!(!rigl.wants_gradients(&clock(150)) && rigl.wants_gradients(&clock(300)));
    }
}
