//! Gradual magnitude pruning (GMP; Zhu & Gupta, "To prune, or not to prune: exploring the
//! efficacy of pruning for model compression", ICLR Workshop 2018, §3), as a
//! [`sparse_core::DstMethod`]: the dense-to-sparse reference the DST methods are compared to.
//!
//! The network starts denser than its target (dense by default, see
//! [`DstMethod::initial_densities`]). Every `delta_t` steps from `t0 = begin_fraction T` to
//! `t_end = end_fraction T` (`T` the number of steps of the run), each dynamic layer whose target
//! density is below 1 removes its smallest-magnitude connections until it holds
//! `round(d_t n_in n_out)`, with the cubic schedule of Eq. 1,
//! `s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t_end - t0))^3` (`s = 1 - d`; the same curve as
//! GraNet's, Liu et al., NeurIPS 2021). Nothing is ever regrown. Removal is real: the
//! connections leave the CSR together with their momentum and gradient, so memory falls as
//! training goes on, and reaches the target at `t_end`.
//!
//! Deliberate deviations from the references (TensorFlow's `model_pruning`, which the paper
//! describes, and GraNet's `sparselearning/core.py`):
//! - `t_end` is a fraction of the run, not `t0 + n delta_t`; the layer is always pruned at
//!   `t_end` itself, so every layer reaches exactly its target count even when the window is
//!   not a multiple of `delta_t` or `delta_t` exceeds the run (the references prune only on
//!   the grid and can stop short of the final sparsity). `t_end` is clamped to the last step.
//!   Should a hook be missed, the first call after `t_end` prunes to the target.
//! - Each layer follows its own schedule to its own target (as the paper, which prunes every
//!   layer to a given sparsity); GraNet's GMP ranks all layers together by one global
//!   threshold (inferred from its code).
//! - Pruned connections are removed, not masked: a masked weight of the references stays at
//!   0 and keeps a (zeroed) momentum slot; here both disappear. Ties of magnitude are broken by
//!   position (deterministic), where a threshold `|w| > thr` may keep or drop all tied weights.
//! - Counts are rounded (`connection_count`, as TensorFlow's `round(size (1 - s))`); GraNet
//!   truncates with `int(...)`. A layer never drops below one connection.
//! - Pruning happens in `after_step` of the step, after that step's optimizer update (the
//!   TensorFlow mask update runs with the training op of the step; GraNet's after
//!   `optimizer.step()`).

mod schedule;

pub use schedule::{cubic_density, scheduled_count, PruningWindow};

use serde::{Deserialize, Serialize};
use sparse_core::topology::magnitude_removal;
use sparse_core::{DstContext, DstMethod, EditStats, HookOutcome, SparseError, TrainingClock};

/// GMP's hyper-parameters, as written in an experiment config (`[methods.gmp]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GmpConfig {
    /// Density the sparse layers start at, `d_i = 1 - s_i` (1: dense-to-sparse as in the
    /// paper; GraNet's sparse-to-sparse variant uses 0.5). A layer whose target is denser than
    /// this starts at its target and is never pruned.
    pub initial_density: f64,
    /// Steps between pruning steps, `delta_t` (the paper's pruning frequency; 100 here, as
    /// RigL's `delta_t`).
    pub delta_t: usize,
    /// Fraction of training at which pruning starts, `t0 / T`.
    pub begin_fraction: f64,
    /// Fraction of training at which every layer reaches its target, `t_end / T`.
    pub end_fraction: f64,
}

impl Default for GmpConfig {
    fn default() -> Self {
        GmpConfig {
            initial_density: 1.0,
            delta_t: 100,
            begin_fraction: 0.0,
            end_fraction: 0.75,
        }
    }
}

impl GmpConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        let bad = |name, reason: String| Err(SparseError::Parameter { name, reason });
        if !(self.initial_density > 0.0 && self.initial_density <= 1.0) {
            return bad(
                "initial_density",
                format!("{} is not in (0, 1]", self.initial_density),
            );
        }
        if self.delta_t == 0 {
            return bad("delta_t", "must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.begin_fraction) {
            return bad(
                "begin_fraction",
                format!("{} is not in [0, 1]", self.begin_fraction),
            );
        }
        if !(0.0..=1.0).contains(&self.end_fraction) {
            return bad(
                "end_fraction",
                format!("{} is not in [0, 1]", self.end_fraction),
            );
        }
        if self.end_fraction < self.begin_fraction {
            return bad(
                "end_fraction",
                format!(
                    "{} is before begin_fraction {}",
                    self.end_fraction, self.begin_fraction
                ),
            );
        }
        Ok(())
    }
}

/// The gradual magnitude pruning method (see the crate docs).
#[derive(Debug, Clone)]
pub struct Gmp {
    config: GmpConfig,
    /// Per-layer `(initial, target)` densities, set by `initial_densities`.
    layers: Vec<(f64, f64)>,
}

impl Gmp {
    /// A GMP method with a validated configuration. The training loop must then call
    /// [`DstMethod::initial_densities`] with the run's targets before the first hook.
    pub fn new(config: GmpConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(Gmp {
            config,
            layers: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GmpConfig {
        &self.config
    }

    /// The pruning window of the run `clock` belongs to.
    pub fn window(&self, clock: &TrainingClock) -> PruningWindow {
        PruningWindow::new(
            self.config.begin_fraction,
            self.config.end_fraction,
            self.config.delta_t,
            clock.total_steps(),
        )
    }

    /// Connections layer `layer` (of shape `n_in x n_out`) holds after a pruning step at
    /// `clock.step`, or `None` for a layer GMP never prunes (target density 1, or a target at
    /// least as dense as the start). Panics if `initial_densities` was not called.
    pub fn scheduled_count(
        &self,
        layer: usize,
        n_in: usize,
        n_out: usize,
        clock: &TrainingClock,
    ) -> Option<usize> {
        let (initial, target) = *self
            .layers
            .get(layer)
            .expect("Gmp::initial_densities must be called with every layer's target");
        (target < initial).then(|| {
            let progress = self.window(clock).progress(clock.step);
            scheduled_count(n_in, n_out, initial, target, progress)
        })
    }
}

impl sparse_core::NamedMethod for Gmp {
    const NAME: &'static str = "gmp";
    type Config = GmpConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        Gmp::new(config)
    }
    /// The default prunes every 100 steps; the kit's run has 48.
    fn conformance_config() -> Self::Config {
        GmpConfig {
            delta_t: 4,
            ..Default::default()
        }
    }
}

impl DstMethod for Gmp {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    /// The per-layer `(initial, target)` densities: a checkpoint restores them even where the
    /// resumed run would not call `initial_densities` again.
    fn save_state(&self) -> Vec<u8> {
        sparse_core::state::encode(&self.layers)
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), SparseError> {
        self.layers = sparse_core::state::decode(state, "gmp state")?;
        Ok(())
    }

    /// Remembers the targets and starts every layer with a target below 1 at
    /// `max(initial_density, target)`; layers at density 1 stay dense.
    fn initial_densities(&mut self, targets: &[f64]) -> Vec<f64> {
        self.layers = targets
            .iter()
            .map(|&target| {
                let initial = if target >= 1.0 {
                    1.0
                } else {
                    self.config.initial_density.max(target)
                };
                (initial, target)
            })
            .collect();
        self.layers.iter().map(|&(initial, _)| initial).collect()
    }

    /// Prunes on the schedule's steps (and, as a safeguard for a missed `t_end`, on any step
    /// after it where a layer is still above its target).
    fn after_step(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let window = self.window(&ctx.clock);
        let t = ctx.clock.step;
        if !(window.is_pruning_step(t) || t > window.end) {
            return HookOutcome::none();
        }
        assert_eq!(
            self.layers.len(),
            ctx.layers.len(),
            "Gmp::initial_densities must be called with one target per layer"
        );
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let Some(count) = self.scheduled_count(l, layer.n_in(), layer.n_out(), &ctx.clock)
            else {
                continue;
            };
            // Never grows: a layer already at or below the schedule is left alone.
            let n_remove = layer.nnz().saturating_sub(count);
            if n_remove == 0 {
                continue;
            }
            let keep = magnitude_removal(layer.weights.values(), n_remove);
            let removed = layer.retain(&keep);
            edits.push(EditStats {
                layer: l,
                removed,
                grown: 0,
            });
        }
        HookOutcome {
            skip_optimizer_step: false,
            edits,
        }
    }
}

#[cfg(test)]
mod tests;
