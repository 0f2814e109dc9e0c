//! The kit fails a method that breaks one of its properties, and says which: six broken
//! methods, next to static sparse training and SET, which pass. (A layer that is not well
//! formed is caught by `fixtures::check_layer`, tested beside it; through the public layer API
//! a method can only misalign its state, which stops training: `Property::Trains`.)

use conformance::{check, Property};
use sparse_core::{
    Csr, DstContext, DstMethod, EditStats, HookOutcome, NamedMethod, NoParams, SparseError,
    SparseLayer,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The first position of `w` not stored, in row-major order.
fn first_free(w: &Csr) -> (u32, u32) {
    (0..w.n_rows())
        .flat_map(|r| (0..w.n_cols()).map(move |c| (r, c)))
        .find(|&(r, c)| !w.contains(r, c as u32))
        .map(|(r, c)| (r as u32, c as u32))
        .expect("a sparse layer has a free position")
}

/// Replaces the first connection of layer 0 by the first free position.
fn swap_one(ctx: &mut DstContext<'_>) -> HookOutcome {
    let layer: &mut SparseLayer = &mut ctx.layers[0];
    let mut keep = vec![true; layer.nnz()];
    keep[0] = false;
    let edit = layer.rewire(0, &keep, ctx.rng, |w, _, _| vec![first_free(w)], |_, _| 0.5);
    HookOutcome {
        skip_optimizer_step: false,
        edits: vec![edit],
    }
}

macro_rules! named {
    ($ty:ident, $name:literal, $rewires:literal) => {
        impl NamedMethod for $ty {
            const NAME: &'static str = $name;
            const REWIRES: bool = $rewires;
            type Config = NoParams;
            fn from_config(_: NoParams) -> Result<Self, SparseError> {
                Ok($ty::default())
            }
        }
    };
}

/// Adds a connection at every epoch's end: over its budget.
#[derive(Debug, Default)]
struct Grower;
named!(Grower, "grower", true);
impl DstMethod for Grower {
    fn name(&self) -> &'static str {
        "grower"
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let layer = &mut ctx.layers[0];
        let grown = layer.insert(&[first_free(&layer.weights)], &[0.5]).unwrap();
        HookOutcome {
            skip_optimizer_step: false,
            edits: vec![EditStats {
                layer: 0,
                removed: 0,
                grown,
            }],
        }
    }
}

/// Says it rewires, never does.
#[derive(Debug, Default)]
struct Idle;
named!(Idle, "idle", true);
impl DstMethod for Idle {
    fn name(&self) -> &'static str {
        "idle"
    }
}

/// Rewires after its fourth epoch, counted in a field it does not save: a resumed run
/// starts counting afresh.
#[derive(Debug, Default)]
struct Forgetful {
    epochs_seen: usize,
}
named!(Forgetful, "forgetful", true);
impl DstMethod for Forgetful {
    fn name(&self) -> &'static str {
        "forgetful"
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.epochs_seen += 1;
        if self.epochs_seen == 4 {
            swap_one(ctx)
        } else {
            HookOutcome::none()
        }
    }
}

/// Rewires at an epoch that depends on how many were built before it: not a function of
/// the seed.
#[derive(Debug)]
struct Noisy {
    epoch: usize,
}
static BUILT: AtomicUsize = AtomicUsize::new(0);
impl Default for Noisy {
    fn default() -> Self {
        Noisy {
            epoch: BUILT.fetch_add(1, Ordering::Relaxed) % 3,
        }
    }
}
named!(Noisy, "noisy", true);
impl DstMethod for Noisy {
    fn name(&self) -> &'static str {
        "noisy"
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if ctx.clock.epoch == self.epoch {
            swap_one(ctx)
        } else {
            HookOutcome::none()
        }
    }
}

/// Drops one momentum entry when it rewires: the next optimizer step cannot go on.
#[derive(Debug, Default)]
struct Misaligner;
named!(Misaligner, "misaligner", true);
impl DstMethod for Misaligner {
    fn name(&self) -> &'static str {
        "misaligner"
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        let out = swap_one(ctx);
        ctx.layers[0].momentum.pop();
        out
    }
}

/// Says it reads no gradients, yet swaps a connection in `after_backward` at its third step,
/// a hook the model then never calls.
#[derive(Debug, Default)]
struct Peeker;
named!(Peeker, "peeker", false);
impl DstMethod for Peeker {
    fn name(&self) -> &'static str {
        "peeker"
    }
    fn reads_gradients(&self) -> bool {
        false
    }
    fn after_backward(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        if ctx.clock.step == 2 {
            swap_one(ctx)
        } else {
            HookOutcome::none()
        }
    }
}

fn fails_with<M: NamedMethod>(property: Property) {
    let violation = check::<M>().expect_err(M::NAME);
    assert_eq!(violation.property, property, "{violation}");
    assert_eq!(violation.method, M::NAME);
}

#[test]
fn each_broken_property_is_caught_and_named() {
    fails_with::<Grower>(Property::ConnectionBudget);
    fails_with::<Idle>(Property::RewiresAsDeclared);
    fails_with::<Forgetful>(Property::Resume);
    fails_with::<Noisy>(Property::Determinism);
    fails_with::<Misaligner>(Property::Trains);
    fails_with::<Peeker>(Property::GradientsAsDeclared);
}

#[test]
fn registered_methods_pass_and_report_what_they_did() {
    let static_run = check::<dst_set::StaticSparse>().unwrap();
    assert_eq!(static_run.edits, 0);
    assert_eq!(static_run.initial_connections, static_run.final_connections);
    let set = check::<dst_set::Set>().unwrap();
    assert!(set.edits > 0);
    assert_eq!(set.initial_connections, static_run.initial_connections);
}

#[test]
fn the_dense_model_resumes_and_a_sparse_one_refuses_its_state() {
    conformance::check_resume("dense", || Box::new(conformance::dense_network())).unwrap();
    let dense_state = models::Classifier::save_state(&conformance::dense_network());
    let mut sparse = conformance::sparse_network(Box::new(dst_set::StaticSparse));
    assert!(models::Classifier::load_state(&mut sparse, &dense_state).is_err());
}
