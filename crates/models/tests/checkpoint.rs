//! Checkpoint state of the models: a partial or foreign state is refused, and a resume that
//! does not restore the random streams gives another run. That every method (and the dense
//! model) resumes bit for bit is the conformance kit's check (`crates/conformance`), run over
//! the whole registry by `crates/experiments/tests/conformance.rs`.

mod common;

use common::{sparse_mlp, toy_data};
use models::train::TrainObserver;
use models::{
    train, train_from, Classifier, DenseMlp, EpochRecord, Examples, LoopState, RngPositions,
    RunData, RunRngs, SgdParams, SparseNetwork, TrainOptions, TrainOutcome,
};
use sparse_core::DstMethod;

const SIZES: [usize; 4] = [8, 24, 16, 3];
const TARGETS: [f64; 3] = [0.4, 0.5, 1.0];
const ROWS: usize = 60;
const EPOCHS: usize = 6;
const SEED: u64 = 7;

fn sgd() -> SgdParams {
    SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 1e-4,
    }
}

/// A model as a run builds it: same seed, same streams, whatever happens later.
fn build(method: Option<Box<dyn DstMethod>>) -> Box<dyn Classifier> {
    let Some(mut method) = method else {
        let mlp = sparse_mlp(&SIZES, &[1.0; 3], 0.2, sgd(), SEED);
        return Box::new(DenseMlp::from_params(&mlp.to_dense_params(), 0.2, sgd()));
    };
    let densities = method.initial_densities(&TARGETS);
    let mlp = sparse_mlp(&SIZES, &densities, 0.2, sgd(), SEED);
    Box::new(SparseNetwork { mlp, method })
}

fn set() -> Box<dyn Classifier> {
    build(Some(Box::new(
        dst_set::Set::new(Default::default()).unwrap(),
    )))
}

fn rigl() -> Box<dyn Classifier> {
    build(Some(Box::new(
        dst_rigl::RigL::new(Default::default()).unwrap(),
    )))
}

fn dense() -> Box<dyn Classifier> {
    build(None)
}

/// With `keep_after`, checkpoints after every epoch (as `--checkpoint-every 1` does) and keeps
/// the checkpoint taken after that many epochs; records every batch the loop reports.
struct Recorder {
    keep_after: Option<usize>,
    saved: Option<(LoopState, Vec<u8>, RngPositions)>,
    batches: Vec<(usize, Vec<usize>, Vec<u32>)>,
}

impl Recorder {
    fn new(keep_after: Option<usize>) -> Self {
        Recorder {
            keep_after,
            saved: None,
            batches: Vec::new(),
        }
    }
}

impl TrainObserver for Recorder {
    fn on_batch(&mut self, epoch: usize, ids: &[usize], _labels: &[u32], probs: &[f32]) {
        let bits = probs.iter().map(|p| p.to_bits()).collect();
        self.batches.push((epoch, ids.to_vec(), bits));
    }

    fn checkpoint_due(&mut self, _epochs_done: usize) -> bool {
        self.keep_after.is_some()
    }

    fn on_checkpoint(&mut self, state: &LoopState, model: &dyn Classifier, rngs: &RunRngs) {
        if Some(state.epochs_done) == self.keep_after {
            self.saved = Some((state.clone(), model.save_state(), rngs.positions()));
        }
    }
}

fn no_time(mut o: TrainOutcome) -> TrainOutcome {
    o.train_seconds = 0.0;
    o.epochs.iter_mut().for_each(|e: &mut EpochRecord| {
        e.seconds = 0.0;
        e.topology_seconds = 0.0;
    });
    o
}

fn opts() -> TrainOptions {
    TrainOptions {
        epochs: EPOCHS,
        batch_size: 8,
        track_topology: true,
    }
}

/// Without the momentum, the method's state or the stream positions the run would diverge:
/// the restore is what makes the runs equal, and foreign state is refused.
#[test]
fn partial_or_foreign_state_is_refused_or_diverges() {
    let state = set().save_state();
    assert!(rigl().load_state(&state).is_err());
    assert!(dense().load_state(&state).is_err());
    let dense_state = dense().save_state();
    assert!(set().load_state(&dense_state).is_err());
    assert!(set().load_state(&state[..state.len() / 2]).is_err());
    let other = RunRngs::from_seed(SEED + 1).positions();
    assert!(RunRngs::from_seed(SEED).restore(&other).is_err());

    // Resuming with fresh streams (positions not restored) gives another run.
    let (x, y) = toy_data(ROWS, SIZES[0], SIZES[3], 3);
    let ex = Examples {
        x: &x,
        observed: None,
        labels: &y,
        n_features: SIZES[0],
    };
    let ids: Vec<usize> = (0..ROWS).collect();
    let data = RunData {
        train: ex,
        ids: &ids,
        test: ex,
        validation: None,
    };
    let mut a = set();
    let mut rec = Recorder::new(Some(2));
    let full = no_time(train(
        a.as_mut(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut rec,
    ));
    let (loop_state, model_state, _) = rec.saved.unwrap();
    let mut b = set();
    b.load_state(&model_state).unwrap();
    let wrong = no_time(train_from(
        b.as_mut(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut Recorder::new(None),
        Some(loop_state.clone()),
    ));
    assert_ne!(full, wrong);
    let mut short = loop_state;
    short.order.pop();
    assert!(short.check(b.as_ref(), ROWS, &opts()).is_err());
}

/// Without momentum burn's optimizer keeps no state; its empty record still round-trips.
#[test]
fn dense_without_momentum_round_trips() {
    let plain = SgdParams {
        momentum: 0.0,
        ..sgd()
    };
    let params = sparse_mlp(&SIZES, &[1.0; 3], 0.0, plain, SEED).to_dense_params();
    let mut a = DenseMlp::from_params(&params, 0.0, plain);
    let (x, y) = toy_data(8, SIZES[0], SIZES[3], 1);
    a.train_batch(&x, 8, &y, &[]);
    let mut b = DenseMlp::from_params(&params, 0.0, plain);
    Classifier::load_state(&mut b, &Classifier::save_state(&a)).unwrap();
    assert_eq!(a.params(), b.params());
    a.train_batch(&x, 8, &y, &[]);
    b.train_batch(&x, 8, &y, &[]);
    assert_eq!(a.params(), b.params());
}
