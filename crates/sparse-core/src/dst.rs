//! The dynamic sparse training (DST) method trait: the one extension point every method
//! (SET, RigL, SNFS, ...) implements, in its own crate.
//!
//! A method is network-level: it sees every layer (some methods move capacity between layers).
//! The training loop calls it at three points of each step or epoch:
//! 1. [`DstMethod::after_backward`]: gradients at the connections are in each layer's `grad`;
//!    the method may edit the topology and may take over the step (RigL skips the optimizer
//!    update on an update step); a method that says it reads no gradients
//!    ([`DstMethod::reads_gradients`]) is not called here, and its layers keep none;
//! 2. [`DstMethod::after_step`]: after the optimizer update (DeepR's rewiring);
//! 3. [`DstMethod::end_of_epoch`]: after the last batch of an epoch (SET).
//!
//! Methods that grow by gradient ask for [`GradientSource`] scores of empty positions, streamed
//! a block of rows at a time; the model provides them, in both step hooks, only when
//! [`DstMethod::wants_gradients`] says so.

use crate::error::SparseError;
use crate::layer::{EditStats, SparseLayer};
use crate::topology::ScoreSource;
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Where training stands when a hook is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingClock {
    /// Current epoch, 0-based.
    pub epoch: usize,
    /// Total number of epochs of the run.
    pub epochs: usize,
    /// Optimizer steps taken before this one (0-based index of the current step).
    pub step: usize,
    /// Steps (batches) per epoch.
    pub steps_per_epoch: usize,
}

impl TrainingClock {
    /// Total number of steps of the run.
    pub fn total_steps(&self) -> usize {
        self.epochs * self.steps_per_epoch
    }

    /// Whether the current epoch is the last one.
    pub fn is_last_epoch(&self) -> bool {
        self.epoch + 1 >= self.epochs
    }
}

/// Dense-gradient magnitudes of a layer at any position, from the current batch, streamed by
/// blocks of rows (for layer `l`, position `(i, j)` scores `|Σ_b X[b,i] dZ[b,j]|`).
pub trait GradientSource {
    /// Writes the scores of rows `rows` of layer `layer` into `out` (`rows.len() x n_out`).
    fn fill_rows(&mut self, layer: usize, rows: Range<usize>, out: &mut [f32]);
}

/// Adapts one layer of a [`GradientSource`] to the [`ScoreSource`] of the growth rules.
pub struct LayerScores<'a> {
    /// The network-wide source.
    pub source: &'a mut dyn GradientSource,
    /// The layer whose positions are scored.
    pub layer: usize,
}

impl ScoreSource for LayerScores<'_> {
    fn fill_rows(&mut self, rows: Range<usize>, out: &mut [f32]) {
        self.source.fill_rows(self.layer, rows, out)
    }
}

/// What a method may touch in a hook.
pub struct DstContext<'a> {
    /// Every layer of the network, input side first; only `dynamic` layers may be edited.
    pub layers: &'a mut [SparseLayer],
    /// Where training stands.
    pub clock: TrainingClock,
    /// The run's topology random stream (derived from the run seed by name).
    pub rng: &'a mut dyn RngCore,
    /// Streamed gradient scores of the current batch, when the method asked for them.
    pub gradients: Option<&'a mut dyn GradientSource>,
}

/// What a hook did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookOutcome {
    /// Skip this step's optimizer update (only meaningful from `after_backward`).
    pub skip_optimizer_step: bool,
    /// One entry per edited layer; empty when the topology did not change.
    pub edits: Vec<EditStats>,
}

impl HookOutcome {
    /// Nothing happened.
    pub fn none() -> Self {
        Self::default()
    }
}

/// A dynamic sparse training method. Implementations live in their own crates (`dst-set`,
/// ...) and are registered by name in the `experiments` crate.
pub trait DstMethod: Send + std::fmt::Debug {
    /// The method's registered name (`static`, `set`, ...).
    fn name(&self) -> &'static str;

    /// Density each layer starts at, given the run's target densities (input side first).
    /// Sparse-to-sparse methods start at the target (the default); a dense-to-sparse method
    /// (gradual magnitude pruning) starts denser, remembers the targets and prunes down to them.
    fn initial_densities(&mut self, targets: &[f64]) -> Vec<f64> {
        targets.to_vec()
    }

    /// Whether the model must provide streamed gradient scores to `after_backward` at this step.
    fn wants_gradients(&self, _clock: &TrainingClock) -> bool {
        false
    }

    /// Whether the method ever edits the topology (false for static sparse training), so
    /// that data-aware options tied to topology updates can tell it apart.
    fn rewires(&self) -> bool {
        true
    }

    /// Whether the method grows connections by dense-gradient scores (RigL, SNFS), so that
    /// the examples those scores are computed on can change what it grows.
    fn grows_by_gradient(&self) -> bool {
        false
    }

    /// Whether the method reads the connections' gradients (each layer's `grad`) in any hook,
    /// or acts in [`DstMethod::after_backward`]. When false, the model may apply each layer's
    /// optimizer update as soon as the backward pass has that layer's gradient (after the
    /// layer's input gradient, so every number is the same) and keep one gradient buffer for
    /// all layers instead of one per layer: 4 bytes per connection less. It then leaves every
    /// layer's `grad` empty and does not call `after_backward`. The default, true, is always
    /// correct; SET and static sparse training say false.
    fn reads_gradients(&self) -> bool {
        true
    }

    /// After the backward pass of a step, before the optimizer update.
    fn after_backward(&mut self, _ctx: &mut DstContext<'_>) -> HookOutcome {
        HookOutcome::none()
    }

    /// After the optimizer update of a step.
    fn after_step(&mut self, _ctx: &mut DstContext<'_>) -> HookOutcome {
        HookOutcome::none()
    }

    /// After the last step of an epoch.
    fn end_of_epoch(&mut self, _ctx: &mut DstContext<'_>) -> HookOutcome {
        HookOutcome::none()
    }

    /// What the method carries from one step to the next beyond its configuration (DSR's
    /// threshold, GMP's targets, ...), for a checkpoint; empty for a method without such
    /// state (the default). Encode it with [`crate::state::encode`] so floats round-trip
    /// exactly: a run resumed from a checkpoint must continue bit for bit.
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`DstMethod::save_state`] returned, on a method built from the same
    /// configuration. The default accepts only the empty state of a stateless method.
    fn load_state(&mut self, state: &[u8]) -> Result<(), SparseError> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(SparseError::State(format!(
                "method `{}` keeps no state but was given {} bytes of it",
                self.name(),
                state.len()
            )))
        }
    }
}

/// A method that experiment configs can name: its name, its hyper-parameters (the
/// `[methods.<NAME>]` table of a config) and how to build it from them. Registering a method
/// crate is then one line in the experiments registry.
///
/// The README's "Adding a DST method" example implements it: that method is the doc test of
/// `conformance::check` (`crates/conformance`), which runs it through the conformance kit.
pub trait NamedMethod: DstMethod + Sized + 'static {
    /// The name configs and results files use (`set`, `rigl`, ...).
    const NAME: &'static str;
    /// Whether the method changes the connectivity during training. Static sparse training
    /// does not: figures draw it dashed, and the update-forgetting analysis pairs the methods
    /// that rewire with it.
    const REWIRES: bool = true;
    /// The hyper-parameters, with the paper's defaults; `#[serde(deny_unknown_fields)]` so a
    /// misspelt key is an error naming it.
    type Config: Default + Serialize + DeserializeOwned;
    /// Builds the method, validating the hyper-parameters (errors name the field).
    fn from_config(config: Self::Config) -> Result<Self, SparseError>;
    /// Settings under which the method edits its topology within a run of a few dozen steps
    /// (6 epochs of 8 steps): what the conformance kit (`crates/conformance`) trains it with,
    /// so that its checks of the layers, the budget and resuming see the method at work. The
    /// defaults, unless they update too rarely for so short a run.
    fn conformance_config() -> Self::Config {
        Self::Config::default()
    }
}

/// The configuration of a method without hyper-parameters (static sparse training).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}
