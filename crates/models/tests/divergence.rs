//! Divergence detection in the training loop: a run whose outputs, weights or biases become
//! non-finite stops in that epoch and says so ([`TrainOutcome::diverged_epoch`]), for the
//! dense model and for sparse models whatever their method, and a non-finite weight is found
//! before a topology update could drop it unseen.

mod common;

use common::{sparse_mlp, toy_data};
use models::{Classifier, DenseMlp, Examples, SgdParams, SparseNetwork, TrainOutcome};
use sparse_core::DstMethod;

const SIZES: [usize; 4] = [8, 24, 16, 3];
const ROWS: usize = 60;
const EPOCHS: usize = 4;

fn sgd(learning_rate: f32) -> SgdParams {
    SgdParams {
        learning_rate,
        momentum: 0.9,
        weight_decay: 0.0,
    }
}

/// Methods with settings that edit the topology inside this short run: at the end of each
/// epoch (SET), inside a step before the update (RigL) and after it (DeepR).
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
                delta_t: 2,
                ..Default::default()
            })
            .unwrap(),
        ),
        "deepr" => Box::new(dst_deepr::DeepR::new(Default::default()).unwrap()),
        other => panic!("no method {other}"),
    }
}

fn sparse(name: &str, learning_rate: f32) -> SparseNetwork {
    let mlp = sparse_mlp(&SIZES, &[0.5, 0.5, 1.0], 0.1, sgd(learning_rate), 3);
    SparseNetwork {
        mlp,
        method: method(name),
    }
}

fn dense(learning_rate: f32) -> DenseMlp {
    let mlp = sparse_mlp(&SIZES, &[1.0; 3], 0.1, sgd(learning_rate), 3);
    DenseMlp::from_params(&mlp.to_dense_params(), 0.1, sgd(learning_rate))
}

fn fit(model: &mut dyn Classifier) -> TrainOutcome {
    let (x, y) = toy_data(ROWS, SIZES[0], SIZES[3], 5);
    let data = Examples {
        x: &x,
        observed: None,
        labels: &y,
        n_features: SIZES[0],
    };
    common::fit(model, data, EPOCHS, 10, 11)
}

/// The run stopped in the epoch it reports, with that epoch's record as its last.
fn assert_stopped_at(out: &TrainOutcome, epoch: usize, what: &str) {
    assert_eq!(out.diverged_epoch, Some(epoch), "{what}");
    assert_eq!(
        out.epochs.len(),
        epoch,
        "{what}: no epoch after the divergence"
    );
    assert_eq!(out.epochs.last().unwrap().epoch, epoch, "{what}");
}

#[test]
fn a_huge_learning_rate_diverges_in_the_first_epoch_and_stops_there() {
    for name in ["static", "set", "rigl", "deepr"] {
        let out = fit(&mut sparse(name, 1e9));
        assert_stopped_at(&out, 1, name);
    }
    assert_stopped_at(&fit(&mut dense(1e9)), 1, "dense");
}

#[test]
fn healthy_runs_do_not_diverge() {
    for name in ["static", "set", "rigl", "deepr"] {
        let out = fit(&mut sparse(name, 0.05));
        assert_eq!(out.diverged_epoch, None, "{name}");
        assert_eq!(out.epochs.len(), EPOCHS, "{name}");
    }
    assert_eq!(fit(&mut dense(0.05)).diverged_epoch, None, "dense");
}

/// A NaN weight in the first layer never reaches the outputs: its unit's pre-activation is
/// NaN and ReLU (`max(z, 0)`) makes it 0. Only the weights show it, and SET's end-of-epoch
/// pruning would drop it unseen (NaN compares false with every threshold).
#[test]
fn a_nan_weight_hidden_by_relu_is_found_before_the_topology_update() {
    let mut net = sparse("set", 0.05);
    net.mlp.layers_mut()[0].weights.values_mut()[0] = f32::NAN;
    let before: Vec<u32> = net.mlp.layers()[0].weights.col_idx().to_vec();
    let out = fit(&mut net);
    assert_stopped_at(&out, 1, "set with a NaN weight");
    assert!(
        out.epochs[0].edits.is_empty(),
        "no topology update after the divergence: {:?}",
        out.epochs[0].edits
    );
    assert_eq!(net.mlp.layers()[0].weights.col_idx(), before.as_slice());
    assert!(!net.parameters_finite());
}

#[test]
fn a_nan_weight_in_the_dense_model_stops_it() {
    let mut params = sparse_mlp(&SIZES, &[1.0; 3], 0.1, sgd(0.05), 3).to_dense_params();
    params[1].weights[5] = f32::NAN;
    let mut net = DenseMlp::from_params(&params, 0.1, sgd(0.05));
    assert!(!net.parameters_finite());
    assert_stopped_at(&fit(&mut net), 1, "dense with a NaN weight");
}
