//! SNFS, sparse momentum (Dettmers & Zettlemoyer, "Sparse Networks from Scratch: Faster
//! Training without Losing Performance", arXiv:1907.04840, 2019, §3 and Algorithm 1), as a
//! [`sparse_core::DstMethod`]; the rules follow the authors' `sparselearning/core.py`
//! (`TimDettmers/sparse_learning`).
//!
//! At the end of every epoch but the last (or every `update_every` steps), after the optimizer
//! update, with the prune rate `p` cosine-annealed from `prune_rate` to `prune_rate_min`:
//! 1. each dynamic layer `l` scores itself by the mean `|momentum|` of its connections (before
//!    pruning), and its share of the regrowth is proportional to that score;
//! 2. each dynamic layer removes its `ceil(p nnz_l)` connections of smallest magnitude; `R` is
//!    the total removed;
//! 3. the `R` connections are given back across layers by share, capped by each layer's free
//!    positions, residuals redistributed, rounded so the total is exactly `R`
//!    ([`redistribution::regrowth_counts`]); the number of connections over the dynamic layers
//!    is therefore constant, while each layer's own count moves with its momentum;
//! 4. each layer grows its count at the free positions where the gradient magnitude is largest,
//!    with weight 0 and momentum 0.
//!
//! Deliberate deviations from the reference code:
//! - **Growth score: the gradient of the last full batch, not momentum.** The reference grows
//!   where the *dense* momentum buffer is largest (PyTorch keeps momentum for masked weights
//!   too). A truly sparse model has no momentum at empty positions, so growth uses the
//!   dense-gradient magnitude (`|Xᵀ dZ|`, streamed a block of rows at a time as for RigL) of
//!   the epoch's last *full* batch: the update runs in `after_step` of the epoch's last step,
//!   and when that batch is partial (6 rows on WDBC at batch 10) the training loop scores
//!   growth on the last full batch instead, in evaluation mode
//!   (`GrowthBatchSource` in the `models` crate). An epoch-long average at
//!   empty positions would need a dense buffer. Without a gradient source, growth falls back
//!   to uniformly random free positions ([`sparse_core::init::sample_free_positions`]).
//! - **Exact budget.** The reference caps a layer at `0.99 (zeros + removed)`, resolves residuals
//!   for up to 1000 rounds and carries any mismatch to the next update through an exponentially
//!   smoothed `adjusted_growth`. Here the cap is the full free room, redistribution is exact
//!   (water-filling, at most `L + 1` rounds) and rounding is largest-remainder, so exactly `R`
//!   connections regrow at every update and `adjusted_growth` is always 0.
//! - **No prune-rate adjustment for near-dense layers.** The reference lowers a layer's rate to
//!   `min(sparsity, p)` when its sparsity is below 0.2 and its share is above average
//!   (`adjust_prune_rate`); not done here, every layer uses `p`.
//! - **Momentum of new connections is 0.** The reference's `reset_momentum` (the version read)
//!   sets the momentum of masked positions to the mean active momentum after each update;
//!   here new connections start at 0, as in the rest of this workspace.
//! - **Degenerate shares.** If every dynamic layer has zero mean momentum (nothing to rank by;
//!   the reference divides by zero), each layer regrows what it removed; if the layers with
//!   room left all have zero share, the residual goes to them in proportion to their room.
//! - **Ties** in magnitude and gradient are broken by position, so updates are deterministic.

pub mod redistribution;

use serde::{Deserialize, Serialize};
use sparse_core::init::sample_free_positions;
use sparse_core::topology::{magnitude_removal, top_k_free_positions, SCORE_BLOCK_ELEMS};
use sparse_core::{
    DstContext, DstMethod, EditStats, HookOutcome, LayerScores, SparseError, TrainingClock,
};

use redistribution::regrowth_counts;

/// SNFS's hyper-parameters, as written in an experiment config (`[methods.snfs]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnfsConfig {
    /// Initial prune rate `p`, the fraction of each layer's connections removed per update
    /// (`--death-rate`, 0.5 in the reference).
    pub prune_rate: f64,
    /// Final prune rate of the cosine annealing (`eta_min` of the reference's `CosineDecay`,
    /// 0.005).
    pub prune_rate_min: f64,
    /// Steps between updates; 0 updates at the end of every epoch (the reference default;
    /// `prune_every_k_steps` otherwise).
    pub update_every: usize,
}

impl Default for SnfsConfig {
    fn default() -> Self {
        SnfsConfig {
            prune_rate: 0.5,
            prune_rate_min: 0.005,
            update_every: 0,
        }
    }
}

impl SnfsConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        if !(0.0..=1.0).contains(&self.prune_rate) {
            return Err(SparseError::Parameter {
                name: "prune_rate",
                reason: format!("{} is not in [0, 1]", self.prune_rate),
            });
        }
        if !(0.0..=self.prune_rate).contains(&self.prune_rate_min) {
            return Err(SparseError::Parameter {
                name: "prune_rate_min",
                reason: format!(
                    "{} is not in [0, prune_rate = {}]",
                    self.prune_rate_min, self.prune_rate
                ),
            });
        }
        Ok(())
    }
}

/// The SNFS method (see the crate docs).
#[derive(Debug, Clone)]
pub struct Snfs {
    config: SnfsConfig,
}

impl Snfs {
    /// An SNFS method with a validated configuration.
    pub fn new(config: SnfsConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(Snfs { config })
    }

    /// The configuration in use.
    pub fn config(&self) -> &SnfsConfig {
        &self.config
    }

    /// Whether the topology is updated in `after_step` of step `clock.step` (0-based): the
    /// last step of an epoch (`update_every == 0`) or every `update_every`-th step, never the
    /// final step of training (the reference skips `at_end_of_epoch` after the last epoch).
    pub fn is_update_step(&self, clock: &TrainingClock) -> bool {
        let done = clock.step + 1;
        let period = if self.config.update_every > 0 {
            self.config.update_every
        } else {
            clock.steps_per_epoch
        };
        period > 0 && done.is_multiple_of(period) && done < clock.total_steps()
    }

    /// The prune rate of an update at `clock.step`: PyTorch's `CosineAnnealingLR` over
    /// `T = total_steps`, `p_min + (p_0 - p_min) (1 + cos(pi t / T)) / 2`, evaluated at
    /// `t = clock.step + 1` steps done, because the reference steps its scheduler in
    /// `Masking.step` right before `truncate_weights`.
    pub fn prune_rate(&self, clock: &TrainingClock) -> f64 {
        let total = clock.total_steps().max(1) as f64;
        let t = ((clock.step + 1) as f64).min(total);
        let (p0, p_min) = (self.config.prune_rate, self.config.prune_rate_min);
        sparse_core::schedule::cosine_anneal(p0, p_min, t, total)
    }
}

/// What the update needs of one dynamic layer, gathered before anything changes.
struct LayerPlan {
    index: usize,
    keep: Vec<bool>,
    removed: usize,
}

impl sparse_core::NamedMethod for Snfs {
    const NAME: &'static str = "snfs";
    type Config = SnfsConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        Snfs::new(config)
    }
}

impl DstMethod for Snfs {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.is_update_step(clock)
    }

    fn grows_by_gradient(&self) -> bool {
        true
    }

    fn after_step(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if !self.is_update_step(&ctx.clock) {
            return HookOutcome::none();
        }
        let rate = self.prune_rate(&ctx.clock);
        let mut plans = Vec::new();
        let mut shares = Vec::new();
        let mut caps = Vec::new();
        for (l, layer) in ctx.layers.iter().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let nnz = layer.nnz();
            // Share by mean |momentum| over the existing connections, before pruning (the
            // reference's `gather_statistics` runs first).
            let mean = if nnz > 0 {
                layer
                    .momentum
                    .iter()
                    .map(|m| f64::from(m.abs()))
                    .sum::<f64>()
                    / nnz as f64
            } else {
                0.0
            };
            let removed = ((rate * nnz as f64).ceil() as usize).min(nnz);
            let keep = magnitude_removal(layer.weights.values(), removed);
            shares.push(mean);
            caps.push(layer.n_in() * layer.n_out() - (nnz - removed));
            plans.push(LayerPlan {
                index: l,
                keep,
                removed,
            });
        }
        let total: usize = plans.iter().map(|p| p.removed).sum();
        if total == 0 {
            return HookOutcome::none();
        }
        if !shares.iter().any(|&s| s.is_finite() && s > 0.0) {
            // Nothing to rank layers by: every layer regrows what it lost.
            shares = plans.iter().map(|p| p.removed as f64).collect();
        }
        let counts = regrowth_counts(total, &shares, &caps);
        let mut source = ctx.gradients.as_deref_mut();
        let mut edits = Vec::new();
        for (plan, &count) in plans.iter().zip(&counts) {
            let l = plan.index;
            let stats: EditStats = ctx.layers[l].rewire(
                l,
                &plan.keep,
                &mut *ctx.rng,
                |pattern, _removed, rng| match source.as_deref_mut() {
                    Some(src) => {
                        let mut scores = LayerScores {
                            source: src,
                            layer: l,
                        };
                        top_k_free_positions(pattern, count, &mut scores, SCORE_BLOCK_ELEMS)
                    }
                    None => sample_free_positions(pattern, count, rng)
                        .expect("counts are capped by the free positions"),
                },
                |_, _| 0.0,
            );
            if stats.removed > 0 || stats.grown > 0 {
                edits.push(stats);
            }
        }
        HookOutcome {
            skip_optimizer_step: false,
            edits,
        }
    }
}

#[cfg(test)]
mod tests;
