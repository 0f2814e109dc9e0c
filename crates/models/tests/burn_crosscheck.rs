//! The sparse MLP at density 1.0 and the burn dense MLP, started from the same weights and
//! trained without dropout on the same batches, follow the same losses.

mod common;

use common::{sparse_mlp, toy_data};
use dst_set::StaticSparse;
use models::batch::cross_entropy;
use models::rngs::stream;
use models::{Activation, Batch, DenseMlp, SgdParams};
use sparse_core::TrainingClock;

#[test]
fn sparse_at_density_one_matches_burn_for_20_steps() {
    crosscheck(Activation::Relu);
}

#[test]
fn sparse_at_density_one_matches_burn_with_all_relu() {
    crosscheck(Activation::AllRelu { alpha: 0.6 });
}

fn crosscheck(activation: Activation) {
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.001,
    };
    let sizes = [30, 100, 100, 100, 2];
    let mut sparse = sparse_mlp(&sizes, &[1.0; 4], 0.0, sgd, 7).with_activation(activation);
    // Non-zero biases so that their update is checked too.
    for (l, layer) in sparse.layers_mut().iter_mut().enumerate() {
        for (j, b) in layer.bias.iter_mut().enumerate() {
            *b = 0.01 * ((j + l) % 5) as f32 - 0.02;
        }
    }
    let mut dense =
        DenseMlp::from_params(&sparse.to_dense_params(), 0.0, sgd).with_activation(activation);
    let (x, y) = toy_data(200, 30, 2, 5);
    let mut method = StaticSparse;
    let (mut d_rng, mut t_rng) = (stream(0, "dropout"), stream(0, "topology"));
    let mut worst = 0.0f64;
    for step in 0..20 {
        let rows = 10;
        let r0 = (step * rows) % 200;
        let xb = &x[r0 * 30..(r0 + rows) * 30];
        let yb = &y[r0..r0 + rows];
        let clock = TrainingClock {
            epoch: 0,
            epochs: 1,
            step,
            steps_per_epoch: 20,
        };
        let ps = sparse
            .train_step(
                &Batch::dense(xb, rows),
                yb,
                &mut method,
                clock,
                &mut d_rng,
                &mut t_rng,
            )
            .probs;
        let pd = dense.train_batch(xb, rows, yb, &[]);
        let (ls, ld) = (cross_entropy(&ps, yb, 2), cross_entropy(&pd, yb, 2));
        let rel = (ls - ld).abs() / ld.abs().max(1e-12);
        worst = worst.max(rel);
        assert!(rel <= 1e-4, "step {step}: sparse loss {ls}, burn loss {ld}");
    }
    // The weights moved: the comparison is not of two untrained networks.
    let after = sparse.to_dense_params();
    let start = sparse_mlp(&sizes, &[1.0; 4], 0.0, sgd, 7).to_dense_params();
    let moved: f32 = after[0]
        .weights
        .iter()
        .zip(&start[0].weights)
        .map(|(a, b)| (a - b).abs())
        .sum();
    assert!(moved > 1e-3, "weights did not change ({moved})");
    // Final parameters agree as well.
    for (a, b) in after.iter().zip(dense.params()) {
        for (u, v) in a.weights.iter().zip(&b.weights) {
            assert!((u - v).abs() <= 1e-4 * (1.0 + v.abs()), "{u} vs {v}");
        }
    }
    eprintln!("worst relative loss difference over 20 steps: {worst:e}");
}
