//! Shared fixtures of the models integration tests.
#![allow(dead_code)]

use models::rngs::stream;
use models::train::NoObserver;
use models::{
    train, Classifier, Examples, RunData, RunRngs, SgdParams, SparseInit, SparseMlp, TrainOptions,
    TrainOutcome,
};
use sparse_core::{FanMode, WeightInit};

/// A small separable-ish problem: `n` rows of `d` features and labels in `0..k`.
pub fn toy_data(n: usize, d: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    use rand::Rng;
    let mut rng = stream(seed, "toy");
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for r in 0..n {
        let c = (r % k) as u32;
        for j in 0..d {
            let centre = if j % k == c as usize { 1.0 } else { -0.5 };
            x.push(centre + rng.random_range(-0.7f32..0.7));
        }
        y.push(c);
    }
    (x, y)
}

/// A sparse MLP of the given widths and densities (output layer as given), seeded.
pub fn sparse_mlp(
    sizes: &[usize],
    densities: &[f64],
    dropout: f32,
    sgd: SgdParams,
    seed: u64,
) -> SparseMlp {
    let init = SparseInit {
        densities: densities.to_vec(),
        dynamic: vec![true; densities.len()],
        init: WeightInit::HeUniform,
        fan: FanMode::Sparse,
    };
    SparseMlp::new(
        sizes,
        &init,
        dropout,
        sgd,
        &mut stream(seed, "topology-init"),
        &mut stream(seed, "weight-init"),
    )
    .unwrap()
}

/// Trains `model` on `data` for `epochs` epochs of `batch` rows with seed `seed`'s streams,
/// tested on its own rows (ids `0..rows`), topology tracked, no observer.
pub fn fit(
    model: &mut dyn Classifier,
    data: Examples,
    epochs: usize,
    batch: usize,
    seed: u64,
) -> TrainOutcome {
    let ids: Vec<usize> = (0..data.labels.len()).collect();
    train(
        model,
        &RunData {
            train: data,
            ids: &ids,
            test: data,
            validation: None,
        },
        TrainOptions {
            epochs,
            batch_size: batch,
            track_topology: true,
        },
        &mut RunRngs::from_seed(seed),
        &mut NoObserver,
    )
}
