//! Finite-difference checks of the sparse MLP's backward pass, with dense and absent inputs.

mod common;

use common::{sparse_mlp, toy_data};
use models::{Activation, Batch, Inputs, SgdParams};

/// Compares every analytic weight and bias gradient with a central difference of the
/// evaluation-mode loss. An entry whose differences at two step sizes disagree crosses a ReLU
/// kink (the loss is only piecewise smooth) and is skipped; there must be few of those.
fn check(observed: Option<&[bool]>, activation: Activation) {
    let (x, y) = toy_data(6, 5, 3, 11);
    let mut x = x;
    if let Some(obs) = observed {
        for (v, &o) in x.iter_mut().zip(obs) {
            if !o {
                *v = 0.0;
            }
        }
    }
    let batch = Batch {
        x: Inputs::Rows(&x),
        rows: 6,
        observed,
    };
    let mut mlp = sparse_mlp(
        &[5, 7, 6, 3],
        &[0.6, 0.5, 1.0],
        0.0,
        SgdParams::default(),
        3,
    )
    .with_activation(activation);
    // Non-zero biases: with zero biases a unit without inputs sits exactly on the ReLU kink,
    // where a central difference measures half a one-sided derivative.
    for (l, layer) in mlp.layers_mut().iter_mut().enumerate() {
        for (j, b) in layer.bias.iter_mut().enumerate() {
            *b = 0.05 + 0.03 * ((j * 7 + l * 3) % 5) as f32;
        }
    }
    mlp.compute_gradients(&batch, &y);
    let (mut checked, mut kinks) = (0usize, 0usize);
    for l in 0..mlp.layers().len() {
        let grads = mlp.layers()[l].grad.clone();
        let bias_grads = mlp.layers()[l].bias_grad.clone();
        for k in 0..grads.len() + bias_grads.len() {
            let central = |m: &mut models::SparseMlp, eps: f32| {
                let set = |m: &mut models::SparseMlp, delta: f32| {
                    let layer = &mut m.layers_mut()[l];
                    if k < grads.len() {
                        layer.weights.values_mut()[k] += delta;
                    } else {
                        layer.bias[k - grads.len()] += delta;
                    }
                };
                set(m, eps);
                let up = m.loss(&batch, &y);
                set(m, -2.0 * eps);
                let down = m.loss(&batch, &y);
                set(m, eps);
                (up - down) / (2.0 * eps as f64)
            };
            let (wide, narrow) = (central(&mut mlp, 4e-3), central(&mut mlp, 2e-3));
            let tol = |g: f64| 1e-3 + 1e-2 * g.abs();
            if (wide - narrow).abs() > tol(narrow) {
                // The loss is not smooth within the step: a ReLU kink was crossed.
                kinks += 1;
                continue;
            }
            let analytic = if k < grads.len() {
                grads[k]
            } else {
                bias_grads[k - grads.len()]
            } as f64;
            checked += 1;
            assert!(
                (narrow - analytic).abs() <= tol(analytic),
                "layer {l} entry {k}: finite difference {narrow}, backward {analytic}"
            );
        }
    }
    assert!(
        checked >= 60 && kinks * 10 <= checked,
        "checked {checked}, kinks {kinks}"
    );
}

#[test]
fn gradients_match_finite_differences() {
    check(None, Activation::Relu);
}

#[test]
fn gradients_match_finite_differences_with_all_relu() {
    check(None, Activation::AllRelu { alpha: 0.6 });
}

#[test]
fn gradients_match_finite_differences_with_absent_inputs() {
    let obs: Vec<bool> = (0..30).map(|i| i % 3 != 1).collect();
    check(Some(&obs), Activation::Relu);
}

#[test]
fn a_gradient_that_is_wrong_is_caught() {
    // The check must be able to fail: corrupt one gradient and compare by hand.
    let (x, y) = toy_data(4, 5, 3, 2);
    let batch = Batch::dense(&x, 4);
    let mut mlp = sparse_mlp(&[5, 4, 3], &[1.0, 1.0], 0.0, SgdParams::default(), 1);
    mlp.compute_gradients(&batch, &y);
    let g = mlp.layers()[0].grad[0] as f64;
    let eps = 1e-2;
    mlp.layers_mut()[0].weights.values_mut()[0] += eps;
    let up = mlp.loss(&batch, &y);
    mlp.layers_mut()[0].weights.values_mut()[0] -= 2.0 * eps;
    let down = mlp.loss(&batch, &y);
    let numeric = (up - down) / (2.0 * eps as f64);
    assert!((numeric - g).abs() < 2e-3 + 2e-2 * g.abs());
    assert!((numeric - (g + 0.1)).abs() > 2e-3 + 2e-2 * (g + 0.1).abs());
}
