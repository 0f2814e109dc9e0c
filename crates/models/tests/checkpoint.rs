//! Checkpoint and resume inside a run: for the dense model, static sparse training and every
//! DST method, a run checkpointed after some epochs and continued by a freshly built model,
//! method and random streams restored from the checkpoint ends exactly like the uninterrupted
//! run (epoch records, what the observer saw, final weights and momentum, bit for bit).

mod common;

use common::{sparse_mlp, toy_data};
use models::train::TrainObserver;
use models::{
    train, train_from, Classifier, DenseMlp, EpochRecord, Examples, LoopState, RngPositions,
    RunData, RunRngs, SgdParams, SparseNetwork, TrainOptions, TrainOutcome,
};
use sparse_core::{DstMethod, NamedMethod};

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

/// A method with settings that make it edit the topology within this short run.
fn method(name: &str) -> Box<dyn DstMethod> {
    match name {
        "static" => Box::new(dst_set::StaticSparse),
        "set" => Box::new(
            dst_set::Set::new(dst_set::SetConfig {
                zeta: 0.3,
                ..Default::default()
            })
            .unwrap(),
        ),
        "rigl" => Box::new(
            dst_rigl::RigL::new(dst_rigl::RigLConfig {
                delta_t: 5,
                ..Default::default()
            })
            .unwrap(),
        ),
        "mest" => Box::new(
            dst_mest::Mest::new(dst_mest::MestConfig {
                update_every: 1,
                stages: Some(vec![(0.0, 0.05)]),
                ..Default::default()
            })
            .unwrap(),
        ),
        "snfs" => Box::new(dst_snfs::Snfs::from_config(Default::default()).unwrap()),
        "dsr" => Box::new(
            dst_dsr::Dsr::new(dst_dsr::DsrConfig {
                period: 3,
                period_doubling_fractions: Vec::new(),
                ..Default::default()
            })
            .unwrap(),
        ),
        "deepr" => Box::new(
            dst_deepr::DeepR::new(dst_deepr::DeepRConfig {
                temperature: 1e-4,
                ..Default::default()
            })
            .unwrap(),
        ),
        "gmp" => Box::new(
            dst_gmp::Gmp::new(dst_gmp::GmpConfig {
                delta_t: 4,
                ..Default::default()
            })
            .unwrap(),
        ),
        other => panic!("no method {other}"),
    }
}

/// A model as a run builds it: same seed, same streams, whatever happens later.
enum Net {
    Sparse(Box<SparseNetwork>),
    Dense(Box<DenseMlp>),
}

impl Net {
    fn build(name: &str) -> Net {
        if name == "dense" {
            let mlp = sparse_mlp(&SIZES, &[1.0; 3], 0.2, sgd(), SEED);
            let dense = DenseMlp::from_params(&mlp.to_dense_params(), 0.2, sgd());
            return Net::Dense(Box::new(dense));
        }
        let mut method = method(name);
        let densities = method.initial_densities(&TARGETS);
        let mlp = sparse_mlp(&SIZES, &densities, 0.2, sgd(), SEED);
        Net::Sparse(Box::new(SparseNetwork { mlp, method }))
    }

    fn model(&mut self) -> &mut dyn Classifier {
        match self {
            Net::Sparse(n) => n.as_mut(),
            Net::Dense(d) => d.as_mut(),
        }
    }

    /// Bits of every weight, bias and (sparse) momentum, with the topology.
    fn weights(&self) -> Vec<u64> {
        let bits = |v: &[f32]| v.iter().map(|x| u64::from(x.to_bits())).collect::<Vec<_>>();
        let mut out = Vec::new();
        match self {
            Net::Sparse(n) => {
                for l in n.mlp.layers() {
                    out.extend(l.weights.col_idx().iter().map(|&c| u64::from(c)));
                    out.extend(l.weights.row_ptr().iter().map(|&p| p as u64));
                    for v in [l.weights.values(), &l.bias, &l.momentum, &l.bias_momentum] {
                        out.extend(bits(v));
                    }
                }
            }
            Net::Dense(d) => {
                for p in d.params() {
                    out.extend(bits(&p.weights));
                    out.extend(bits(&p.bias));
                }
            }
        }
        out
    }
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

/// Uninterrupted, checkpointed, and resumed after `k` epochs: the three outcomes.
fn three_runs(name: &str, k: usize) -> [(TrainOutcome, Vec<u64>, Recorder); 3] {
    let (x, y) = toy_data(ROWS, SIZES[0], SIZES[3], 3);
    let set = Examples {
        x: &x,
        observed: None,
        labels: &y,
        n_features: SIZES[0],
    };
    let ids: Vec<usize> = (100..100 + ROWS).collect();
    let data = RunData {
        train: set,
        ids: &ids,
        test: set,
        validation: Some(set),
    };
    let mut plain = Net::build(name);
    let mut quiet = Recorder::new(None);
    let a = train(
        plain.model(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut quiet,
    );

    let mut checkpointed = Net::build(name);
    let mut recorder = Recorder::new(Some(k));
    let b = train(
        checkpointed.model(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut recorder,
    );

    // "Killed" after epoch k: a new process builds everything afresh and restores.
    let (state, model_state, positions) = recorder.saved.take().expect("checkpoint taken");
    let mut resumed = Net::build(name);
    resumed.model().load_state(&model_state).unwrap();
    let mut rngs = RunRngs::from_seed(SEED);
    rngs.restore(&positions).unwrap();
    let mut after = Recorder::new(None);
    let c = train_from(
        resumed.model(),
        &data,
        opts(),
        &mut rngs,
        &mut after,
        Some(state),
    );
    [
        (no_time(a), plain.weights(), quiet),
        (no_time(b), checkpointed.weights(), recorder),
        (no_time(c), resumed.weights(), after),
    ]
}

fn assert_resumes_exactly(name: &str) {
    let k = 3;
    let [(a, wa, ra), (b, wb, rb), (c, wc, rc)] = three_runs(name, k);
    assert_eq!(a.epochs.len(), EPOCHS);
    assert_eq!(a, b, "{name}: checkpointing changed the run");
    assert_eq!(wa, wb, "{name}: checkpointing changed the weights");
    assert_eq!(a, c, "{name}: the resumed run differs");
    assert_eq!(wa, wc, "{name}: the resumed run ends with other weights");
    assert_eq!(ra.batches, rb.batches);
    let later: Vec<_> = ra.batches.iter().filter(|b| b.0 > k).cloned().collect();
    assert_eq!(
        rc.batches, later,
        "{name}: the resumed run presents other batches"
    );
    if name != "dense" && name != "static" {
        let edits: usize = a
            .epochs
            .iter()
            .flat_map(|e| &e.edits)
            .map(|e| e.grown + e.removed)
            .sum();
        assert!(
            edits > 0,
            "{name} never edited the topology: the test is too weak"
        );
    }
}

#[test]
fn dense_resumes_exactly() {
    assert_resumes_exactly("dense");
}

#[test]
fn static_resumes_exactly() {
    assert_resumes_exactly("static");
}

#[test]
fn set_resumes_exactly() {
    assert_resumes_exactly("set");
}

#[test]
fn rigl_resumes_exactly() {
    assert_resumes_exactly("rigl");
}

#[test]
fn mest_resumes_exactly() {
    assert_resumes_exactly("mest");
}

#[test]
fn snfs_resumes_exactly() {
    assert_resumes_exactly("snfs");
}

#[test]
fn dsr_resumes_exactly() {
    assert_resumes_exactly("dsr");
}

#[test]
fn deepr_resumes_exactly() {
    assert_resumes_exactly("deepr");
}

#[test]
fn gmp_resumes_exactly() {
    assert_resumes_exactly("gmp");
}

/// Without the momentum, the method's state or the stream positions the run would diverge:
/// the restore is what makes the runs equal, and foreign state is refused.
#[test]
fn partial_or_foreign_state_is_refused_or_diverges() {
    let mut set = Net::build("set");
    let state = set.model().save_state();
    assert!(Net::build("rigl").model().load_state(&state).is_err());
    assert!(Net::build("dense").model().load_state(&state).is_err());
    let dense = Net::build("dense").model().save_state();
    assert!(Net::build("set").model().load_state(&dense).is_err());
    assert!(Net::build("set")
        .model()
        .load_state(&state[..state.len() / 2])
        .is_err());
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
    let mut a = Net::build("set");
    let mut rec = Recorder::new(Some(2));
    let full = no_time(train(
        a.model(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut rec,
    ));
    let (loop_state, model_state, _) = rec.saved.unwrap();
    let mut b = Net::build("set");
    b.model().load_state(&model_state).unwrap();
    let wrong = no_time(train_from(
        b.model(),
        &data,
        opts(),
        &mut RunRngs::from_seed(SEED),
        &mut Recorder::new(None),
        Some(loop_state.clone()),
    ));
    assert_ne!(full, wrong);
    let mut short = loop_state;
    short.order.pop();
    assert!(short.check(b.model(), ROWS, &opts()).is_err());
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
