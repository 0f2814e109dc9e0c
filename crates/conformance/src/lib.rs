//! The DST method conformance kit: what every method must satisfy, checked on a short training
//! run of the models crate, so that a new method is checked by registering it and nothing else.
//!
//! [`check`] trains a small sparse MLP with the method (`M::conformance_config()`, settings
//! under which it edits its topology within a few dozen steps) and checks, after every epoch:
//!
//! - **well-formed layers**: each layer's pattern is valid CSR (sorted, in range, no duplicate),
//!   its per-connection state aligned with it, its shape unchanged ([`fixtures::check_layer`]);
//! - **the connection budget**: the network never holds more connections than it started with,
//!   and ends with the budget of its target densities (what every method of the registry
//!   promises, whether it keeps the count, moves it between layers or prunes down to it);
//! - **rewiring as declared**: a method with `REWIRES` edits the topology in the run (so the
//!   other checks are not vacuous), one without never does;
//!
//! and, between runs:
//!
//! - **determinism**: the same seed gives the same run, bit for bit (epoch records, every
//!   batch's outputs, final weights, momentum and topology);
//! - **gradients as declared**: a method that says it reads no gradients
//!   (`DstMethod::reads_gradients`, whose layers then keep none and whose `after_backward` is
//!   not called) trains exactly as when its layers keep them and its `after_backward` is
//!   called;
//! - **checkpoint and resume**: a run saved after some epochs and continued by a freshly built
//!   model, method and random streams ends exactly like the uninterrupted run.
//!
//! The registry's test (`crates/experiments/tests/conformance.rs`) runs [`check`] over every
//! registered method; [`check_resume`] is the same resume check for any model (the dense one
//! included). [`fixtures`] holds the layer fixtures the method crates' own tests share.

pub mod fixtures;
mod network;

use models::{Classifier, SparseNetwork, TrainOutcome};
use network::{Recorder, ShortRun};
use sparse_core::{DstContext, DstMethod, HookOutcome, NamedMethod, SparseError, TrainingClock};
use std::fmt;

/// A property a method failed, with what was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The method's registered name (or the model's, for [`check_resume`]).
    pub method: String,
    /// Which property failed.
    pub property: Property,
    /// What was seen, in words.
    pub detail: String,
}

/// The properties of the kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// The method's conformance settings are refused by its own validation.
    Builds,
    /// Training with the method panicked (a layer it left unusable, for instance).
    Trains,
    /// A layer is not valid CSR, its state is not aligned, or its shape changed.
    WellFormedLayers,
    /// More connections than at the start, or not the target budget at the end.
    ConnectionBudget,
    /// A rewiring method never edited the topology, or a static one did.
    RewiresAsDeclared,
    /// Two runs with one seed differ.
    Determinism,
    /// A method that says it reads no gradients trains otherwise when its layers keep them
    /// and its `after_backward` is called.
    GradientsAsDeclared,
    /// A run resumed from a checkpoint differs from the uninterrupted one.
    Resume,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}: {}", self.method, self.property, self.detail)
    }
}

impl std::error::Error for Violation {}

/// What a conforming method did in the kit's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Connections the network started with (hidden and output layers together).
    pub initial_connections: usize,
    /// Connections at the end of the run.
    pub final_connections: usize,
    /// Connections removed and grown over the run, summed over layers and updates.
    pub edits: usize,
}

/// Checks every property of the kit for the method `M`, built from
/// `M::conformance_config()`; the first property that fails is the error.
///
/// The complete method of the README's "Adding a DST method" (kept identical by
/// `tests/readme_example.rs`), checked by the kit:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use sparse_core::{init::sample_free_positions, topology::magnitude_removal};
/// use sparse_core::{DstContext, DstMethod, HookOutcome, NamedMethod, SparseError};
///
/// #[derive(Debug, Clone, Copy, Serialize, Deserialize)]
/// #[serde(deny_unknown_fields, default)]
/// pub struct MagRandConfig {
///     /// Fraction of each layer replaced per epoch.
///     pub fraction: f64,
/// }
///
/// impl Default for MagRandConfig {
///     fn default() -> Self {
///         MagRandConfig { fraction: 0.1 }
///     }
/// }
///
/// #[derive(Debug)]
/// pub struct MagRand(MagRandConfig);
///
/// impl NamedMethod for MagRand {
///     const NAME: &'static str = "magrand";
///     type Config = MagRandConfig;
///     fn from_config(c: MagRandConfig) -> Result<Self, SparseError> {
///         if !(0.0..=1.0).contains(&c.fraction) {
///             return Err(SparseError::Parameter { name: "fraction", reason: "not in [0, 1]".into() });
///         }
///         Ok(MagRand(c))
///     }
/// }
///
/// impl DstMethod for MagRand {
///     fn name(&self) -> &'static str {
///         Self::NAME
///     }
///
///     fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
///         let mut edits = Vec::new();
///         for (l, layer) in ctx.layers.iter_mut().enumerate().filter(|(_, l)| l.dynamic) {
///             let n = (self.0.fraction * layer.nnz() as f64) as usize;
///             let keep = magnitude_removal(layer.weights.values(), n);
///             edits.push(layer.rewire(
///                 l,
///                 &keep,
///                 &mut *ctx.rng,
///                 |pattern, k, rng| sample_free_positions(pattern, k, rng).expect("room"),
///                 |sampler, rng| sampler.sample(rng),
///             ));
///         }
///         HookOutcome { skip_optimizer_step: false, edits }
///     }
/// }
///
/// # fn main() {
/// let report = conformance::check::<MagRand>().expect("MagRand conforms");
/// assert!(report.edits > 0);
/// # }
/// ```
pub fn check<M: NamedMethod>() -> Result<Report, Violation> {
    let fail = |property, detail: String| Violation {
        method: M::NAME.to_string(),
        property,
        detail,
    };
    let build = || -> Result<Box<dyn Classifier>, Violation> {
        let method = M::from_config(M::conformance_config())
            .map_err(|e| fail(Property::Builds, e.to_string()))?;
        Ok(Box::new(ShortRun::sparse_network(Box::new(method))))
    };
    let run = ShortRun::default();
    let mut first = build()?;
    let initial = connections(first.as_ref());
    let mut recorder = Recorder::watching(initial);
    let outcome = run
        .train(first.as_mut(), &mut recorder)
        .map_err(|e| fail(Property::Trains, e))?;
    if let Some((property, detail)) = recorder.violation.take() {
        return Err(fail(property, detail));
    }
    let budget = run.target_budget();
    let last = connections(first.as_ref());
    if last != budget {
        return Err(fail(
            Property::ConnectionBudget,
            format!("ends with {last} connections, its target densities allow {budget}"),
        ));
    }
    let edits = edits(&outcome);
    if M::REWIRES != (edits > 0) {
        let seen = if edits > 0 {
            format!("edited {edits} connections but declares REWIRES = false")
        } else {
            "never edited the topology in the run: its conformance_config() must make it \
             rewire within a few dozen steps"
                .to_string()
        };
        return Err(fail(Property::RewiresAsDeclared, seen));
    }

    let mut second = build()?;
    let mut again = Recorder::quiet();
    let repeat = run
        .train(second.as_mut(), &mut again)
        .map_err(|e| fail(Property::Trains, e))?;
    if (
        &outcome,
        state_bits(first.as_mut(), &run),
        &recorder.batches,
    ) != (&repeat, state_bits(second.as_mut(), &run), &again.batches)
    {
        return Err(fail(
            Property::Determinism,
            "two runs with one seed differ".to_string(),
        ));
    }
    let method = M::from_config(M::conformance_config())
        .map_err(|e| fail(Property::Builds, e.to_string()))?;
    if !method.reads_gradients() {
        let mut kept: Box<dyn Classifier> =
            Box::new(ShortRun::sparse_network(Box::new(KeepsGradients(method))));
        let mut seen = Recorder::quiet();
        let with_gradients = run
            .train(kept.as_mut(), &mut seen)
            .map_err(|e| fail(Property::Trains, e))?;
        if (
            &outcome,
            state_bits(first.as_mut(), &run),
            &recorder.batches,
        ) != (
            &with_gradients,
            state_bits(kept.as_mut(), &run),
            &seen.batches,
        ) {
            return Err(fail(
                Property::GradientsAsDeclared,
                "says it reads no gradients (reads_gradients() is false) but trains otherwise \
                 when its layers keep them and its after_backward is called"
                    .to_string(),
            ));
        }
    }
    check_resume(M::NAME, || build().expect("built once already"))?;
    Ok(Report {
        initial_connections: initial,
        final_connections: last,
        edits,
    })
}

/// A method as it is, but saying it reads gradients: its layers keep them and its
/// `after_backward` is called, the way a method that reads none must train alike.
#[derive(Debug)]
struct KeepsGradients<M>(M);

impl<M: DstMethod> DstMethod for KeepsGradients<M> {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn initial_densities(&mut self, targets: &[f64]) -> Vec<f64> {
        self.0.initial_densities(targets)
    }
    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.0.wants_gradients(clock)
    }
    fn rewires(&self) -> bool {
        self.0.rewires()
    }
    fn grows_by_gradient(&self) -> bool {
        self.0.grows_by_gradient()
    }
    fn reads_gradients(&self) -> bool {
        true
    }
    fn after_backward(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.0.after_backward(ctx)
    }
    fn after_step(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.0.after_step(ctx)
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.0.end_of_epoch(ctx)
    }
    fn save_state(&self) -> Vec<u8> {
        self.0.save_state()
    }
    fn load_state(&mut self, state: &[u8]) -> Result<(), SparseError> {
        self.0.load_state(state)
    }
}

/// Checkpoints a run of the model `build` makes after some epochs, builds everything afresh
/// ("a new process"), restores the model, the loop and the random streams, and checks that the
/// continued run ends exactly like the uninterrupted one and presents the same later batches;
/// checkpointing itself must change nothing.
pub fn check_resume(name: &str, build: impl Fn() -> Box<dyn Classifier>) -> Result<(), Violation> {
    let fail = |detail: &str| Violation {
        method: name.to_string(),
        property: Property::Resume,
        detail: detail.to_string(),
    };
    let run = ShortRun::default();
    let mut plain = build();
    let mut quiet = Recorder::quiet();
    let a = run
        .train(plain.as_mut(), &mut quiet)
        .map_err(|e| fail(&e))?;

    let mut checkpointed = build();
    let mut saving = Recorder::saving_after(run.checkpoint_after);
    let b = run
        .train(checkpointed.as_mut(), &mut saving)
        .map_err(|e| fail(&e))?;
    if (&a, state_bits(plain.as_mut(), &run)) != (&b, state_bits(checkpointed.as_mut(), &run)) {
        return Err(fail("checkpointing changed the run"));
    }
    let Some(saved) = saving.saved.take() else {
        return Err(fail("no checkpoint was offered"));
    };
    let mut resumed = build();
    let mut after = Recorder::quiet();
    let c = run
        .resume(resumed.as_mut(), saved, &mut after)
        .map_err(|e| fail(&e))?;
    if a != c {
        return Err(fail("the resumed run's epoch records differ"));
    }
    if state_bits(plain.as_mut(), &run) != state_bits(resumed.as_mut(), &run) {
        return Err(fail("the resumed run ends with other weights"));
    }
    let later: Vec<_> = quiet
        .batches
        .iter()
        .filter(|b| b.0 > run.checkpoint_after)
        .cloned()
        .collect();
    if after.batches != later {
        return Err(fail("the resumed run presents other batches"));
    }
    Ok(())
}

/// Connections of every sparse layer (0 for a dense model).
fn connections(model: &dyn Classifier) -> usize {
    model
        .sparse_layers()
        .map_or(0, |layers| layers.iter().map(|l| l.nnz()).sum())
}

/// Connections removed and grown over the run.
fn edits(outcome: &TrainOutcome) -> usize {
    outcome
        .epochs
        .iter()
        .flat_map(|e| &e.edits)
        .map(|e| e.grown + e.removed)
        .sum()
}

/// What a run leaves behind, as bits: a sparse network's saved state (weights, biases,
/// momentum, topology, the method's own state); for a model without sparse layers, its
/// outputs on the kit's rows (a dense model's saved state also holds burn's parameter ids,
/// which differ between two models built alike).
fn state_bits(model: &mut dyn Classifier, run: &ShortRun) -> Vec<u8> {
    if model.sparse_layers().is_some() {
        return model.save_state();
    }
    run.outputs(model)
        .iter()
        .flat_map(|p| p.to_bits().to_le_bytes())
        .collect()
}

/// The sparse network the kit trains with `method`, as the runner would build it.
pub fn sparse_network(method: Box<dyn sparse_core::DstMethod>) -> SparseNetwork {
    ShortRun::sparse_network(method)
}

/// The dense model of the kit's widths, for [`check_resume`] on the dense model.
pub fn dense_network() -> models::DenseMlp {
    ShortRun::dense_network()
}
