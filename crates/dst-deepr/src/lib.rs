//! Deep Rewiring, soft DeepR (Bellec, Kappel, Maass and Legenstein, "Deep Rewiring: Training
//! very sparse deep networks", ICLR 2018, §2, Algorithm 1), as re-implemented in the DSR
//! repository (`IntelAI/dynamic-reparameterization`, `main.py` lines 606–625), as a
//! [`sparse_core::DstMethod`].
//!
//! Every connection k has a fixed sign `s_k` and a parameter `θ_k`; it is active with weight
//! `w_k = s_k θ_k` while `θ_k > 0` and dormant otherwise. At every step, after the optimizer's
//! gradient step on the weights (which is the gradient step on θ, since `∂E/∂θ = s ∂E/∂w`),
//! each active θ of a dynamic layer takes the rest of the paper's Langevin update,
//! `θ ← θ − η·l1 + √(2ηT)·ν` with `ν ~ N(0, 1)`; a connection whose θ is now `≤ 0` (its
//! weight crossed zero in the optimizer step, or the shrinkage and noise pushed it there)
//! becomes dormant and is removed. As many uniformly random dormant positions are then
//! activated with `θ = 1e-12`, so every dynamic layer keeps exactly its number of
//! connections. The signs are read in [`DstMethod::after_backward`], just before the
//! optimizer step, and the update runs in [`DstMethod::after_step`].
//!
//! Truly sparse: only the signs of the active connections are kept (one `i8` per connection,
//! for the duration of one step); nothing is stored for dormant positions.
//!
//! Deliberate deviations from the reference code:
//! - **Signs of dormant positions are not stored.** The paper fixes a random sign for each
//!   potential connection; storing it would need a dense `n_in x n_out` array. A position is
//!   given a fair-coin sign from the topology stream when it is activated. For a position
//!   never active before this is the paper's distribution; a position that was active earlier
//!   gets a fresh sign rather than its old one.
//! - **Shrinkage and noise act on θ directly, after the optimizer step** (the paper's
//!   update, with η = `eta`). DSR instead adds `N(0, 2ηT)` noise to the gradient before the
//!   SGD-with-momentum step (so it is scaled by the learning rate and filtered by momentum)
//!   and puts the L1 term in the loss.
//! - **New connections start at `θ = 1e-12`** with their random sign (the authors' script),
//!   not at weight 0 as in DSR, where a new weight takes the sign of its first update.
//! - **A connection is dormant when `θ ≤ 0`** (the paper); DSR prunes only on a strict sign
//!   change. A weight that is exactly 0 when the signs are read has no sign yet and takes the
//!   sign of its weight after the optimizer step (as DSR's zero-initialised weights do); if
//!   that is 0 too, it is dormant. A weight that is not finite after the update is also made
//!   dormant, so the layer keeps only finite weights.
//! - **Temperature schedule by fraction of training**: DSR switches the temperature by epoch
//!   in its YAML schedules (1e-5 -> 1e-8 -> 1e-12 -> 1e-15); the default here switches at
//!   25%, 50% and 75% of the steps (the breakpoint epochs of the YAML were not re-checked).
//! - Candidates for activation are all dormant positions, including those that became
//!   dormant in the same step (the paper activates uniformly among all dormant connections).
//! - DSR's `--stop-rewire-epoch` (default 1000, i.e. never) is not provided.

mod config;

pub use config::DeepRConfig;

use rand::Rng;
use rand_distr::StandardNormal;
use sparse_core::init::sample_free_positions;
use sparse_core::{DstContext, DstMethod, HookOutcome, SparseError};

/// θ of a newly activated connection (the authors' script uses 1e-12: active, but with a
/// weight too small to change the network's output).
pub const NEW_THETA: f32 = 1e-12;

/// The sign of `w` as `+1`, `-1`, or `0` for zero (and NaN): a connection without a sign.
fn sign_of(w: f32) -> i8 {
    if w > 0.0 {
        1
    } else if w < 0.0 {
        -1
    } else {
        0
    }
}

/// The DeepR method (see the crate docs).
#[derive(Debug, Clone)]
pub struct DeepR {
    config: DeepRConfig,
    /// Per layer, the sign of each connection read in `after_backward`, aligned with the
    /// non-zeros; empty for static layers and once `after_step` has used it.
    signs: Vec<Vec<i8>>,
    /// Reused keep-flags buffer of the layer being updated.
    keep: Vec<bool>,
}

impl DeepR {
    /// A DeepR method with a validated configuration.
    pub fn new(config: DeepRConfig) -> Result<Self, SparseError> {
        config.validate()?;
        Ok(DeepR {
            config,
            signs: Vec::new(),
            keep: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &DeepRConfig {
        &self.config
    }
}

impl sparse_core::NamedMethod for DeepR {
    const NAME: &'static str = "deepr";
    type Config = DeepRConfig;
    fn from_config(config: Self::Config) -> Result<Self, SparseError> {
        DeepR::new(config)
    }
    /// Ten times the default noise (1e-5), so that connections change sign within a short run.
    fn conformance_config() -> Self::Config {
        DeepRConfig {
            temperature: 1e-4,
            ..Default::default()
        }
    }
}

impl DstMethod for DeepR {
    fn name(&self) -> &'static str {
        <Self as sparse_core::NamedMethod>::NAME
    }

    /// The sign record. Between steps (where the training loop checkpoints) it is empty, but
    /// saving it keeps a state taken between `after_backward` and `after_step` exact too.
    fn save_state(&self) -> Vec<u8> {
        sparse_core::state::encode(&self.signs)
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), SparseError> {
        self.signs = sparse_core::state::decode(state, "deepr sign record")?;
        Ok(())
    }

    /// Records the sign of every connection of each dynamic layer, before the optimizer step
    /// can flip it.
    fn after_backward(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.signs.resize_with(ctx.layers.len(), Vec::new);
        for (layer, signs) in ctx.layers.iter().zip(self.signs.iter_mut()) {
            signs.clear();
            if layer.dynamic {
                signs.extend(layer.weights.values().iter().map(|&w| sign_of(w)));
            }
        }
        HookOutcome::none()
    }

    /// Shrinks and perturbs θ, removes the dormant connections and activates as many random
    /// dormant positions (see the crate docs). Reports an edit for each layer whose topology
    /// changed.
    fn after_step(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let std = self.config.noise_std(&ctx.clock);
        let shrink = self.config.eta * self.config.l1;
        let mut edits = Vec::new();
        for (l, layer) in ctx.layers.iter_mut().enumerate() {
            if !layer.dynamic {
                continue;
            }
            let recorded: &[i8] = self.signs.get(l).map_or(&[], |s| s.as_slice());
            // Without a record (after_backward not called this step) the current sign is
            // used: no crossing can be detected, the rest of the update still applies.
            assert!(
                recorded.is_empty() || recorded.len() == layer.nnz(),
                "DeepR: layer {l} changed its topology between after_backward and after_step"
            );
            self.keep.clear();
            let values = layer.weights.values_mut();
            for (k, value) in values.iter_mut().enumerate() {
                let w = *value;
                let s = match recorded.get(k) {
                    Some(&s) if s != 0 => s,
                    _ => sign_of(w),
                };
                let mut theta = f64::from(s) * f64::from(w) - shrink;
                if std > 0.0 {
                    // One draw per connection in connection order, dormant or not, so the
                    // stream does not depend on which connections die.
                    let nu: f64 = (*ctx.rng).sample(StandardNormal);
                    theta += std * nu;
                }
                let theta = theta as f32;
                let active = s != 0 && theta > 0.0 && theta.is_finite();
                if active {
                    *value = f32::from(s) * theta;
                }
                self.keep.push(active);
            }
            if let Some(signs) = self.signs.get_mut(l) {
                // Used: the topology is about to change, so the record is stale.
                signs.clear();
            }
            if self.keep.iter().all(|&k| k) {
                continue;
            }
            edits.push(layer.rewire(
                l,
                &self.keep,
                &mut *ctx.rng,
                |pattern, n, rng| {
                    sample_free_positions(pattern, n, rng)
                        .expect("the removed positions are free again")
                },
                |_, rng| {
                    if rng.random::<bool>() {
                        NEW_THETA
                    } else {
                        -NEW_THETA
                    }
                },
            ));
        }
        HookOutcome {
            skip_optimizer_step: false,
            edits,
        }
    }
}

#[cfg(test)]
mod tests;
