//! Task-incremental learning scores only the current task's classes: masked outputs get
//! probability 0 and gradient 0, in the sparse MLP and in the burn dense MLP alike, and the two
//! still follow the same losses under a mask.

mod common;

use common::{sparse_mlp, toy_data};
use dst_set::StaticSparse;
use models::batch::cross_entropy;
use models::rngs::stream;
use models::{Batch, DenseMlp, SgdParams};
use sparse_core::TrainingClock;

const SIZES: [usize; 4] = [12, 16, 16, 4];
const ACTIVE: [u32; 2] = [1, 2];

fn sgd() -> SgdParams {
    SgdParams {
        learning_rate: 0.1,
        momentum: 0.0,
        weight_decay: 0.0,
    }
}

/// Toy rows whose labels are all in `ACTIVE` (a task's own examples).
fn task_data(n: usize) -> (Vec<f32>, Vec<u32>) {
    let (x, y) = toy_data(n, SIZES[0], 4, 3);
    (x, y.iter().map(|&c| ACTIVE[c as usize % 2]).collect())
}

fn clock(step: usize) -> TrainingClock {
    TrainingClock {
        epoch: 0,
        epochs: 1,
        step,
        steps_per_epoch: 20,
    }
}

/// Output-layer weight columns and biases of `classes`, from dense parameters.
fn output_of(params: &[models::dense::LayerParams], classes: &[usize]) -> Vec<f32> {
    let last = params.last().unwrap();
    let mut v = Vec::new();
    for i in 0..last.n_in {
        for &c in classes {
            v.push(last.weights[i * last.n_out + c]);
        }
    }
    v.extend(classes.iter().map(|&c| last.bias[c]));
    v
}

#[test]
fn sparse_masked_outputs_have_zero_probability_and_zero_gradient() {
    let (x, y) = task_data(8);
    let batch = Batch::dense(&x, 8);
    let mut mlp = sparse_mlp(&SIZES, &[0.5, 0.5, 1.0], 0.0, sgd(), 1);
    mlp.compute_gradients(&batch, &y);
    let unmasked = mlp.layers().last().unwrap().bias_grad.clone();
    assert!(unmasked[0].abs() > 1e-6 && unmasked[3].abs() > 1e-6);
    mlp.set_active_classes(Some(&ACTIVE));
    let probs = mlp.predict_proba(&batch);
    for row in probs.chunks(4) {
        assert_eq!((row[0], row[3]), (0.0, 0.0));
        assert!((row[1] + row[2] - 1.0).abs() < 1e-5);
    }
    mlp.compute_gradients(&batch, &y);
    let g = &mlp.layers().last().unwrap().bias_grad;
    assert_eq!((g[0], g[3]), (0.0, 0.0));
    assert!(g[1].abs() > 1e-6);
    // A step leaves the inactive outputs' weights as they were.
    let before = output_of(&mlp.to_dense_params(), &[0, 3]);
    let (mut d, mut t) = (stream(0, "dropout"), stream(0, "topology"));
    mlp.train_step(&batch, &y, &mut StaticSparse, clock(0), &mut d, &mut t);
    assert_eq!(output_of(&mlp.to_dense_params(), &[0, 3]), before);
    // Unmasking scores every class again.
    mlp.set_active_classes(None);
    assert!(mlp.predict_proba(&batch)[0] > 0.0);
}

#[test]
fn dense_masked_outputs_have_zero_probability_and_zero_gradient() {
    let (x, y) = task_data(8);
    let start = sparse_mlp(&SIZES, &[1.0; 3], 0.0, sgd(), 1).to_dense_params();
    let mut dense = DenseMlp::from_params(&start, 0.0, sgd());
    dense.set_active_classes(Some(&ACTIVE));
    let probs = dense.train_batch(&x, 8, &y, &[]);
    for row in probs.chunks(4) {
        assert_eq!((row[0], row[3]), (0.0, 0.0));
    }
    assert_eq!(
        output_of(&dense.params(), &[0, 3]),
        output_of(&start, &[0, 3])
    );
    assert_ne!(
        output_of(&dense.params(), &[1, 2]),
        output_of(&start, &[1, 2])
    );
    assert_eq!(dense.predict_proba(&x, 8)[3], 0.0);
}

#[test]
fn sparse_at_density_one_matches_burn_under_a_mask() {
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.001,
    };
    let mut sparse = sparse_mlp(&SIZES, &[1.0; 3], 0.0, sgd, 7);
    let mut dense = DenseMlp::from_params(&sparse.to_dense_params(), 0.0, sgd);
    sparse.set_active_classes(Some(&ACTIVE));
    dense.set_active_classes(Some(&ACTIVE));
    let (x, y) = task_data(200);
    let (mut d_rng, mut t_rng) = (stream(0, "dropout"), stream(0, "topology"));
    let d = SIZES[0];
    for step in 0..20 {
        let r0 = step * 10;
        let (xb, yb) = (&x[r0 * d..(r0 + 10) * d], &y[r0..r0 + 10]);
        let ps = sparse
            .train_step(
                &Batch::dense(xb, 10),
                yb,
                &mut StaticSparse,
                clock(step),
                &mut d_rng,
                &mut t_rng,
            )
            .probs;
        let pd = dense.train_batch(xb, 10, yb, &[]);
        let (ls, ld) = (cross_entropy(&ps, yb, 4), cross_entropy(&pd, yb, 4));
        assert!(
            (ls - ld).abs() <= 1e-4 * ld.abs().max(1e-12),
            "step {step}: sparse loss {ls}, burn loss {ld}"
        );
    }
    for (a, b) in sparse.to_dense_params().iter().zip(dense.params()) {
        for (u, v) in a.weights.iter().zip(&b.weights) {
            assert!((u - v).abs() <= 1e-4 * (1.0 + v.abs()), "{u} vs {v}");
        }
    }
}

/// Classes 0, 1 in group 0 and 2, 3 in group 1 (two tasks); a batch with examples of both.
const GROUPS: [u32; 4] = [0, 0, 1, 1];

fn mixed_data(n: usize) -> (Vec<f32>, Vec<u32>) {
    toy_data(n, SIZES[0], 4, 5)
}

#[test]
fn class_groups_score_each_training_example_over_its_own_group() {
    let (x, y) = mixed_data(8);
    let batch = Batch::dense(&x, 8);
    let mut mlp = sparse_mlp(&SIZES, &[0.5, 0.5, 1.0], 0.0, sgd(), 1);
    mlp.set_class_groups(Some(&GROUPS));
    let (mut d, mut t) = (stream(0, "dropout"), stream(0, "topology"));
    let probs = mlp
        .train_step(&batch, &y, &mut StaticSparse, clock(0), &mut d, &mut t)
        .probs;
    for (row, &label) in probs.chunks(4).zip(&y) {
        let own = GROUPS[label as usize];
        for (c, &p) in row.iter().enumerate() {
            assert_eq!(p == 0.0, GROUPS[c] != own, "label {label}: {row:?}");
        }
    }
    // Rows of group 1 only: the outputs of group 0 get no gradient.
    let (x1, y1): (Vec<f32>, Vec<u32>) = {
        let rows: Vec<usize> = (0..8).filter(|&r| y[r] >= 2).collect();
        let d = SIZES[0];
        (
            rows.iter()
                .flat_map(|&r| x[r * d..(r + 1) * d].to_vec())
                .collect(),
            rows.iter().map(|&r| y[r]).collect(),
        )
    };
    mlp.compute_gradients(&Batch::dense(&x1, y1.len()), &y1);
    let g = &mlp.layers().last().unwrap().bias_grad;
    assert_eq!((g[0], g[1]), (0.0, 0.0));
    assert!(g[2].abs() > 1e-6);
    // Prediction is not scoped by groups: every class (or the active ones) is scored.
    assert!(mlp.predict_proba(&batch).iter().all(|&p| p > 0.0));
    mlp.set_active_classes(Some(&[2, 3]));
    assert!(mlp
        .predict_proba(&batch)
        .chunks(4)
        .all(|r| r[0] == 0.0 && r[2] > 0.0));
}

#[test]
fn sparse_at_density_one_matches_burn_with_class_groups() {
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.001,
    };
    let mut sparse = sparse_mlp(&SIZES, &[1.0; 3], 0.0, sgd, 7);
    let mut dense = DenseMlp::from_params(&sparse.to_dense_params(), 0.0, sgd);
    sparse.set_class_groups(Some(&GROUPS));
    dense.set_class_groups(Some(&GROUPS));
    // Prediction masks as well, and differently from training.
    sparse.set_active_classes(Some(&[0, 1]));
    dense.set_active_classes(Some(&[0, 1]));
    let (x, y) = mixed_data(200);
    let (mut d_rng, mut t_rng) = (stream(0, "dropout"), stream(0, "topology"));
    let d = SIZES[0];
    for step in 0..20 {
        let r0 = step * 10;
        let (xb, yb) = (&x[r0 * d..(r0 + 10) * d], &y[r0..r0 + 10]);
        let ps = sparse
            .train_step(
                &Batch::dense(xb, 10),
                yb,
                &mut StaticSparse,
                clock(step),
                &mut d_rng,
                &mut t_rng,
            )
            .probs;
        let pd = dense.train_batch(xb, 10, yb, &[]);
        for (a, b) in ps.iter().zip(&pd) {
            assert!((a - b).abs() <= 1e-4, "step {step}: {a} vs {b}");
        }
    }
    let (ps, pd) = (
        sparse.predict_proba(&Batch::dense(&x[..10 * d], 10)),
        dense.predict_proba(&x[..10 * d], 10),
    );
    for (a, b) in ps.iter().zip(&pd) {
        assert!((a - b).abs() <= 1e-4, "{a} vs {b}");
    }
    assert!(ps.chunks(4).all(|r| r[2] == 0.0 && r[3] == 0.0));
}
