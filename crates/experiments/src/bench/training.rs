//! Training epochs: the SET-MLP against the burn dense MLP across densities, the seed paper's
//! WDBC network, and the epoch with one thread against all of them.

use anyhow::Result;
use dst_set::{Set, SetConfig, StaticSparse};
use models::rngs::stream;
use models::train::NoObserver;
use models::{
    Classifier, DenseMlp, Examples, RunData, RunRngs, SgdParams, SparseInit, SparseMlp,
    SparseNetwork, TrainOptions,
};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sparse_core::init::erdos_renyi_density;
use sparse_core::{DstMethod, FanMode, WeightInit};

/// One epoch measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochBenchRow {
    /// Network widths, `-`-separated.
    pub network: String,
    /// `dense`, `static` or `set`.
    pub method: String,
    /// Density of the hidden layers (1 for dense).
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Training rows.
    pub rows: usize,
    /// Rayon threads of the sparse kernels.
    pub threads: usize,
    /// Seconds of one training epoch (topology update included).
    pub epoch_seconds: f64,
    /// Seconds of the topology update within it.
    pub topology_seconds: f64,
    /// `topology_seconds / epoch_seconds`.
    pub topology_share: f64,
    /// Dense epoch seconds / this epoch's seconds.
    pub speedup_vs_dense: f64,
}

/// Seeded Gaussian classes: `rows x dim` values, labels `0..classes`.
pub fn synthetic(rows: usize, dim: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = stream(seed, "bench-data");
    let centres: Vec<f32> = (0..classes * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut x = Vec::with_capacity(rows * dim);
    let mut y = Vec::with_capacity(rows);
    for r in 0..rows {
        let c = r % classes;
        for j in 0..dim {
            x.push(centres[c * dim + j] + rng.random_range(-1.0f32..1.0));
        }
        y.push(c as u32);
    }
    (x, y)
}

/// How dense the hidden layers of a benchmark network are.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum Density {
    /// The same density in every hidden layer.
    Uniform(f64),
    /// Erdos-Renyi with this epsilon.
    ErdosRenyi(f64),
}

/// A sparse MLP with dense output layer, SGD 0.01 with momentum 0.9, no dropout.
pub fn sparse_model(sizes: &[usize], density: Density, seed: u64) -> Result<SparseMlp> {
    let n = sizes.len() - 1;
    let init = SparseInit {
        densities: (0..n)
            .map(|l| match density {
                _ if l + 1 == n => 1.0,
                Density::Uniform(d) => d,
                Density::ErdosRenyi(eps) => erdos_renyi_density(eps, sizes[l], sizes[l + 1]),
            })
            .collect(),
        dynamic: (0..n).map(|l| l + 1 < n).collect(),
        init: WeightInit::HeUniform,
        fan: FanMode::Sparse,
    };
    Ok(SparseMlp::new(
        sizes,
        &init,
        0.0,
        sgd(),
        &mut stream(seed, "topology-init"),
        &mut stream(seed, "weight-init"),
    )?)
}

fn sgd() -> SgdParams {
    SgdParams {
        learning_rate: 0.01,
        momentum: 0.9,
        weight_decay: 0.0,
    }
}

/// Trains `epochs` epochs and returns every epoch's (seconds, topology seconds).
pub fn train_epochs(
    model: &mut dyn Classifier,
    x: &[f32],
    y: &[u32],
    dim: usize,
    batch: usize,
    epochs: usize,
) -> Vec<(f64, f64)> {
    let ids: Vec<usize> = (0..y.len()).collect();
    let data = Examples {
        x,
        observed: None,
        labels: y,
        n_features: dim,
    };
    // Evaluate on one row: the test pass is not part of the epoch time.
    let probe = Examples {
        x: &x[..dim],
        observed: None,
        labels: &y[..1],
        n_features: dim,
    };
    let out = models::train(
        model,
        &RunData {
            train: data,
            ids: &ids,
            test: probe,
            validation: None,
        },
        TrainOptions {
            epochs,
            batch_size: batch,
            track_topology: false,
        },
        &mut RunRngs::from_seed(1),
        &mut NoObserver,
    );
    out.epochs
        .iter()
        .map(|e| (e.seconds, e.topology_seconds))
        .collect()
}

/// The first of two epochs: it includes SET's topology update (SET evolves after every epoch
/// but the last), and at these sizes warm-up is a negligible part of it.
fn first_epoch(
    model: &mut dyn Classifier,
    x: &[f32],
    y: &[u32],
    dim: usize,
    batch: usize,
) -> (f64, f64) {
    train_epochs(model, x, y, dim, batch, 2)[0]
}

/// The burn dense MLP started from the same weight scheme.
pub fn dense_model(sizes: &[usize]) -> Result<DenseMlp> {
    let mlp = sparse_model(sizes, Density::Uniform(1.0), 7)?;
    Ok(DenseMlp::from_params(&mlp.to_dense_params(), 0.0, sgd()))
}

fn set_network(sizes: &[usize], density: f64, zeta: f64) -> Result<SparseNetwork> {
    let method: Box<dyn DstMethod> = Box::new(Set::new(SetConfig {
        zeta,
        ..SetConfig::default()
    })?);
    Ok(SparseNetwork {
        mlp: sparse_model(sizes, Density::Uniform(density), 1)?,
        method,
    })
}

fn row(
    network: &str,
    method: &str,
    density: f64,
    batch: usize,
    rows: usize,
    t: (f64, f64),
    dense_s: f64,
) -> EpochBenchRow {
    EpochBenchRow {
        network: network.into(),
        method: method.into(),
        density,
        batch,
        rows,
        threads: rayon::current_num_threads(),
        epoch_seconds: t.0,
        topology_seconds: t.1,
        topology_share: t.1 / t.0,
        speedup_vs_dense: dense_s / t.0,
    }
}

/// The epoch network of the issue: 784-4000-4000-4000-10 (512 wide with `quick`), batch 128.
fn epoch_network(quick: bool) -> ([usize; 5], usize) {
    if quick {
        ([784, 512, 512, 512, 10], 2000)
    } else {
        ([784, 4000, 4000, 4000, 10], 10_000)
    }
}

/// SET epochs across densities against the burn dense epoch of the same network.
pub fn epochs_vs_density(quick: bool) -> Result<Vec<EpochBenchRow>> {
    let (sizes, rows) = epoch_network(quick);
    let densities: &[f64] = if quick {
        &[0.01, 0.1]
    } else {
        &[0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0]
    };
    let batch = 128;
    let (x, y) = synthetic(rows, 784, 10, 3);
    let network = sizes.map(|s| s.to_string()).join("-");
    let (dense_s, _) = first_epoch(&mut dense_model(&sizes)?, &x, &y, 784, batch);
    let mut out = vec![row(
        &network,
        "dense",
        1.0,
        batch,
        rows,
        (dense_s, 0.0),
        dense_s,
    )];
    for &d in densities {
        let t = first_epoch(&mut set_network(&sizes, d, 0.3)?, &x, &y, 784, batch);
        out.push(row(&network, "set", d, batch, rows, t, dense_s));
    }
    Ok(out)
}

/// The same SET epochs with one rayon thread and with all of them.
pub fn threads(quick: bool) -> Result<Vec<EpochBenchRow>> {
    let (sizes, rows) = epoch_network(quick);
    let batch = 128;
    let (x, y) = synthetic(rows, 784, 10, 3);
    let network = sizes.map(|s| s.to_string()).join("-");
    let all = rayon::current_num_threads();
    let mut out = Vec::new();
    for d in [0.01, 0.05] {
        let mut one = f64::NAN;
        for threads in [1, all] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()?;
            // The fastest of three fresh runs: one epoch is short enough to be disturbed.
            let t = pool.install(|| -> Result<(f64, f64)> {
                let mut best = (f64::INFINITY, 0.0);
                for _ in 0..3 {
                    let mut net = set_network(&sizes, d, 0.3)?;
                    let t = first_epoch(&mut net, &x, &y, 784, batch);
                    if t.0 < best.0 {
                        best = t;
                    }
                }
                Ok(best)
            })?;
            if threads == 1 {
                one = t.0;
            }
            // Here `speedup_vs_dense` holds the speed-up over one thread.
            let mut r = row(&network, "set", d, batch, rows, t, one);
            r.threads = threads;
            out.push(r);
        }
    }
    Ok(out)
}

/// The seed paper's network 30-100-100-100-2, batch 10, on 455 synthetic rows (WDBC's
/// training size): dense, static and SET (zeta 0.1) at sparsity 0.5 and 0.9. The fastest of
/// 5 repetitions, since such short epochs are noisy.
pub fn wdbc_network() -> Result<Vec<EpochBenchRow>> {
    let sizes = [30, 100, 100, 100, 2];
    let (x, y) = synthetic(455, 30, 2, 4);
    let network = sizes.map(|s| s.to_string()).join("-");
    let best = |m: &mut dyn Classifier| {
        (0..5)
            .map(|_| first_epoch(m, &x, &y, 30, 10))
            .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a })
    };
    let (dense_s, _) = best(&mut dense_model(&sizes)?);
    let mut out = vec![row(
        &network,
        "dense",
        1.0,
        10,
        455,
        (dense_s, 0.0),
        dense_s,
    )];
    for density in [0.5, 0.1] {
        for name in ["static", "set"] {
            let t = if name == "set" {
                best(&mut set_network(&sizes, density, 0.1)?)
            } else {
                best(&mut SparseNetwork {
                    mlp: sparse_model(&sizes, Density::Uniform(density), 1)?,
                    method: Box::new(StaticSparse),
                })
            };
            out.push(row(&network, name, density, 10, 455, t, dense_s));
        }
    }
    Ok(out)
}
