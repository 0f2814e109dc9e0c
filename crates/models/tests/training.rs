//! End-to-end properties of the training loop: learning happens, runs are deterministic,
//! absent inputs equal zero-filled ones, models survive save and load.

mod common;

use common::{fit, sparse_mlp, toy_data};
use dst_set::{Set, SetConfig, StaticSparse};
use models::{Batch, Examples, SgdParams, SparseMlp, SparseNetwork};

fn run(
    method: Box<dyn sparse_core::DstMethod>,
    observed: Option<&[bool]>,
    seed: u64,
) -> (models::TrainOutcome, SparseNetwork) {
    run_zeroed(method, observed, observed.is_some(), seed)
}

/// [`run`] on the toy data with zeros where `mask` is false, the mask fed to the model (absent
/// inputs) only with `feed_mask`.
fn run_zeroed(
    method: Box<dyn sparse_core::DstMethod>,
    mask: Option<&[bool]>,
    feed_mask: bool,
    seed: u64,
) -> (models::TrainOutcome, SparseNetwork) {
    let (mut x, y) = toy_data(120, 8, 3, 1);
    if let Some(o) = mask {
        for (v, &ob) in x.iter_mut().zip(o) {
            if !ob {
                *v = 0.0;
            }
        }
    }
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
    };
    let mlp = sparse_mlp(&[8, 32, 32, 3], &[0.5, 0.5, 1.0], 0.1, sgd, seed);
    let mut net = SparseNetwork { mlp, method };
    let data = Examples {
        x: &x,
        observed: mask.filter(|_| feed_mask),
        labels: &y,
        n_features: 8,
    };
    let out = fit(&mut net, data, 8, 10, seed);
    (out, net)
}

fn strip_time(mut o: models::TrainOutcome) -> models::TrainOutcome {
    o.train_seconds = 0.0;
    for e in &mut o.epochs {
        e.seconds = 0.0;
        e.topology_seconds = 0.0;
    }
    o
}

#[test]
fn set_learns_and_keeps_nnz_constant() {
    let (out, net) = run(
        Box::new(
            Set::new(SetConfig {
                zeta: 0.3,
                ..SetConfig::default()
            })
            .unwrap(),
        ),
        None,
        4,
    );
    let first = &out.epochs[0];
    let last = out.epochs.last().unwrap();
    assert!(
        last.train_loss < first.train_loss,
        "{} !< {}",
        last.train_loss,
        first.train_loss
    );
    assert!(last.test_accuracy > 0.9, "accuracy {}", last.test_accuracy);
    assert!(out.epochs.iter().all(|e| e.nnz == net.mlp.nnz()));
    // Evolution happened after every epoch but the last, on the two hidden layers.
    for e in &out.epochs[..7] {
        assert_eq!(e.edits.len(), 3);
        assert!(e.edits.iter().any(|s| s.removed > 0));
    }
    assert!(out.epochs[7].edits.is_empty());
}

#[test]
fn same_seed_same_numbers_with_parallel_kernels() {
    let a = strip_time(run(Box::new(Set::new(SetConfig::default()).unwrap()), None, 9).0);
    let b = strip_time(run(Box::new(Set::new(SetConfig::default()).unwrap()), None, 9).0);
    assert_eq!(a, b);
    let c = strip_time(run(Box::new(Set::new(SetConfig::default()).unwrap()), None, 10).0);
    assert_ne!(a, c);
}

#[test]
fn static_and_set_start_from_the_same_network() {
    let sgd = SgdParams::default();
    let a = sparse_mlp(&[8, 16, 3], &[0.3, 1.0], 0.1, sgd, 21);
    let b = sparse_mlp(&[8, 16, 3], &[0.3, 1.0], 0.1, sgd, 21);
    assert_eq!(a.layers(), b.layers());
    let (s, _) = run(Box::new(StaticSparse), None, 5);
    assert!(s.epochs.iter().all(|e| e.edits.is_empty()));
}

/// Absent inputs change the cost, never the numbers: the sparse-input kernels give the bits of
/// the dense ones on the zero-filled batch (whichever path serves a batch), so training with
/// the mask equals training on the zeros, bit for bit, topology updates included.
#[test]
fn absent_inputs_equal_zero_filled_inputs() {
    // 80% observed (the dense kernels serve the batch) and 5% (the sparse-input kernels).
    for every in [5usize, 20] {
        let obs: Vec<bool> = (0..120 * 8)
            .map(|i| {
                if every == 5 {
                    (i * 7) % 5 != 0
                } else {
                    (i * 7) % 20 == 0
                }
            })
            .collect();
        let set = || Box::new(Set::new(SetConfig::default()).unwrap());
        let (absent, absent_net) = run_zeroed(set(), Some(&obs), true, 3);
        let (zero, zero_net) = run_zeroed(set(), Some(&obs), false, 3);
        assert_eq!(absent.epochs.len(), zero.epochs.len());
        for (a, z) in absent.epochs.iter().zip(&zero.epochs) {
            assert_eq!(a.train_loss.to_bits(), z.train_loss.to_bits());
            assert_eq!(a.test_accuracy.to_bits(), z.test_accuracy.to_bits());
        }
        assert_eq!(absent_net.mlp.layers(), zero_net.mlp.layers());
        assert!(
            absent.train_flops < zero.train_flops,
            "absent inputs must count fewer multiply-adds"
        );
    }
}

#[test]
fn save_and_load_round_trip() {
    let (_, net) = run(Box::new(Set::new(SetConfig::default()).unwrap()), None, 2);
    let mut mlp = net.mlp;
    let json = mlp.to_json().unwrap();
    let mut back = SparseMlp::from_json(&json).unwrap();
    // Gradients are scratch state of the last step and are not saved (SET's training keeps
    // none; a loaded layer starts with zeros).
    for l in mlp.layers_mut() {
        l.grad = vec![0.0; l.nnz()];
        l.bias_grad.fill(0.0);
    }
    assert_eq!(back.layers(), mlp.layers());
    let (x, _) = toy_data(5, 8, 3, 8);
    assert_eq!(
        back.predict_proba(&Batch::dense(&x, 5)),
        mlp.predict_proba(&Batch::dense(&x, 5))
    );
    // A corrupted file is rejected, not loaded into an invalid matrix.
    let bad = json.replacen("\"col_idx\":[", "\"col_idx\":[999999,", 1);
    assert!(SparseMlp::from_json(&bad).is_err());
}

#[test]
fn rigl_learns_keeps_nnz_and_rewires_on_schedule() {
    use dst_rigl::{RigL, RigLConfig};
    let cfg = RigLConfig {
        alpha: 0.3,
        delta_t: 5,
        end_fraction: 0.75,
    };
    let (out, net) = run(Box::new(RigL::new(cfg).unwrap()), None, 6);
    let last = out.epochs.last().unwrap();
    assert!(last.test_accuracy > 0.9, "accuracy {}", last.test_accuracy);
    assert!(out.epochs.iter().all(|e| e.nnz == net.mlp.nnz()));
    // 12 steps per epoch, 8 epochs: updates at steps 5, 10, ..., 70 (T_end = 72), none after.
    let rewired: usize = out
        .epochs
        .iter()
        .flat_map(|e| e.edits.iter())
        .map(|s| s.grown)
        .sum();
    assert!(rewired > 0);
    assert!(
        out.epochs[7].edits.is_empty(),
        "topology frozen after T_end"
    );
}
