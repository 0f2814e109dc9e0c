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
    let (mut x, y) = toy_data(120, 8, 3, 1);
    if let Some(o) = observed {
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
        observed,
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

#[test]
fn absent_inputs_equal_zero_filled_inputs() {
    let obs: Vec<bool> = (0..120 * 8).map(|i| (i * 7) % 5 != 0).collect();
    let (absent, _) = run(Box::new(StaticSparse), Some(&obs), 3);
    // Same data with zeros and no mask: same function, fewer multiply-adds skipped.
    let (mut x, y) = toy_data(120, 8, 3, 1);
    for (v, &o) in x.iter_mut().zip(&obs) {
        if !o {
            *v = 0.0;
        }
    }
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
    };
    let mut net = SparseNetwork {
        mlp: sparse_mlp(&[8, 32, 32, 3], &[0.5, 0.5, 1.0], 0.1, sgd, 3),
        method: Box::new(StaticSparse),
    };
    let data = Examples {
        x: &x,
        observed: None,
        labels: &y,
        n_features: 8,
    };
    let zero = fit(&mut net, data, 8, 10, 3);
    for (a, z) in absent.epochs.iter().zip(&zero.epochs) {
        assert!(
            (a.train_loss - z.train_loss).abs() < 1e-5 * (1.0 + z.train_loss),
            "{} vs {}",
            a.train_loss,
            z.train_loss
        );
        assert!((a.test_accuracy - z.test_accuracy).abs() < 1e-9);
    }
    assert!(
        absent.train_flops < zero.train_flops,
        "absent inputs must cost fewer multiply-adds"
    );
}

#[test]
fn save_and_load_round_trip() {
    let (_, net) = run(Box::new(Set::new(SetConfig::default()).unwrap()), None, 2);
    let mut mlp = net.mlp;
    let json = mlp.to_json().unwrap();
    let mut back = SparseMlp::from_json(&json).unwrap();
    // Gradients are scratch state of the last step and are not saved.
    for l in mlp.layers_mut() {
        l.grad.fill(0.0);
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
