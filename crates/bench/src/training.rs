//! Training epochs: the SET-MLP against the burn dense MLP across densities, the seed paper's
//! WDBC network, and the epoch with one thread against all of them.

use anyhow::Result;
use anyhow::{bail, Context};
use dst_rigl::{RigL, RigLConfig};
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

/// Dropout between the hidden layers of every benchmark network: the peers' setting
/// (`peers.py`), so that every epoch pays for the same masks.
pub const BENCH_DROPOUT: f32 = 0.1;

/// A sparse MLP with dense output layer, SGD 0.01 with momentum 0.9, dropout
/// [`BENCH_DROPOUT`].
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
        BENCH_DROPOUT,
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
    Ok(DenseMlp::from_params(
        &mlp.to_dense_params(),
        BENCH_DROPOUT,
        sgd(),
    ))
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

/// The same SET epochs with one rayon thread and with all of them, timed in turns: three
/// rounds, each a fresh one-thread epoch and then a fresh all-thread one, and the fastest
/// epoch of each, so that a slow spell of the machine falls on both. (Timed one after the
/// other, three of each, the 2-thread epoch at density 0.05 once took 1.14x the one-thread
/// one, and 0.73x in the full run at `325b8ed`, against 0.46x at `6962cc2`.)
pub fn threads(quick: bool) -> Result<Vec<EpochBenchRow>> {
    let (sizes, rows) = epoch_network(quick);
    let batch = 128;
    let (x, y) = synthetic(rows, 784, 10, 3);
    let network = sizes.map(|s| s.to_string()).join("-");
    let counts = [1, rayon::current_num_threads()];
    let pools = counts
        .iter()
        .map(|&n| rayon::ThreadPoolBuilder::new().num_threads(n).build())
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for d in [0.01, 0.05] {
        let mut best = [(f64::INFINITY, 0.0); 2];
        for _ in 0..3 {
            for (pool, best) in pools.iter().zip(&mut best) {
                let t = pool.install(|| -> Result<(f64, f64)> {
                    let mut net = set_network(&sizes, d, 0.3)?;
                    Ok(first_epoch(&mut net, &x, &y, 784, batch))
                })?;
                if t.0 < best.0 {
                    *best = t;
                }
            }
        }
        for (&threads, &t) in counts.iter().zip(&best) {
            // Here `speedup_vs_dense` holds the speed-up over one thread.
            let mut r = row(&network, "set", d, batch, rows, t, best[0].0);
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

/// The sparse method of a custom network measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchMethod {
    /// Static sparse training: no topology update.
    Static,
    /// SET, zeta 0.3, after every epoch.
    Set,
    /// RigL with its defaults (alpha 0.3, every 100 steps).
    Rigl,
}

impl BenchMethod {
    /// The name used on the command line and in `network.csv`.
    pub fn name(self) -> &'static str {
        match self {
            BenchMethod::Static => "static",
            BenchMethod::Set => "set",
            BenchMethod::Rigl => "rigl",
        }
    }
}

impl std::str::FromStr for BenchMethod {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "static" => BenchMethod::Static,
            "set" => BenchMethod::Set,
            "rigl" => BenchMethod::Rigl,
            other => bail!("unknown bench method `{other}`; methods: static, set, rigl"),
        })
    }
}

/// A network of the user's choice for `cargo xtask bench --network`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Layer widths, input first; the last is the number of classes.
    pub sizes: Vec<usize>,
    /// Density of every layer but the output layer, which stays dense.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Training rows of the epoch.
    pub rows: usize,
    /// The sparse method.
    pub method: BenchMethod,
}

impl NetworkSpec {
    /// Checks what `--network`, `--density`, `--batch` and `--rows` give, naming the option.
    pub fn new(
        network: &str,
        density: f64,
        batch: usize,
        rows: usize,
        method: BenchMethod,
    ) -> Result<NetworkSpec> {
        let sizes = network
            .split('-')
            .map(|w| {
                w.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&w| w > 0)
                    .with_context(|| {
                        format!("--network {network}: `{w}` is not a positive layer width")
                    })
            })
            .collect::<Result<Vec<usize>>>()?;
        if sizes.len() < 2 {
            bail!("--network {network}: give at least an input and an output width, e.g. 3072-1024-512-10");
        }
        if sizes[sizes.len() - 1] < 2 {
            bail!("--network {network}: the output layer needs at least 2 classes");
        }
        if !(density > 0.0 && density <= 1.0) {
            bail!("--density {density}: must be in (0, 1]");
        }
        if batch == 0 {
            bail!("--batch 0: must be at least 1");
        }
        if rows < batch {
            bail!("--rows {rows}: must be at least the batch ({batch})");
        }
        Ok(NetworkSpec {
            sizes,
            density,
            batch,
            rows,
            method,
        })
    }

    /// The widths joined by `-`, as in `network.csv`.
    pub fn network(&self) -> String {
        self.sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// A custom network's training rows, to time a fresh model's epoch on them again and again
/// (the peers' rounds) without drawing the data each time.
pub struct SparseEpoch {
    spec: NetworkSpec,
    x: Vec<f32>,
    y: Vec<u32>,
}

impl SparseEpoch {
    /// Seeded synthetic classes of the network's input width and classes, `spec.rows` rows.
    pub fn new(spec: &NetworkSpec) -> Self {
        let classes = spec.sizes[spec.sizes.len() - 1];
        let (x, y) = synthetic(spec.rows, spec.sizes[0], classes, 5);
        Self {
            spec: spec.clone(),
            x,
            y,
        }
    }

    /// The first of two epochs of a fresh sparse model with the spec's method (SET's update
    /// after it is included; RigL updates inside it): (seconds, topology seconds).
    pub fn time(&self) -> Result<(f64, f64)> {
        let spec = &self.spec;
        let mlp = sparse_model(&spec.sizes, Density::Uniform(spec.density), 1)?;
        let method: Box<dyn DstMethod> = match spec.method {
            BenchMethod::Static => Box::new(StaticSparse),
            BenchMethod::Set => Box::new(Set::new(SetConfig {
                zeta: 0.3,
                ..SetConfig::default()
            })?),
            BenchMethod::Rigl => Box::new(RigL::new(RigLConfig::default())?),
        };
        let dim = spec.sizes[0];
        Ok(first_epoch(
            &mut SparseNetwork { mlp, method },
            &self.x,
            &self.y,
            dim,
            spec.batch,
        ))
    }

    /// The burn dense MLP's first epoch on the same rows: (seconds, 0).
    fn time_dense(&self) -> Result<(f64, f64)> {
        let spec = &self.spec;
        let mut dense = dense_model(&spec.sizes)?;
        Ok(first_epoch(
            &mut dense,
            &self.x,
            &self.y,
            spec.sizes[0],
            spec.batch,
        ))
    }
}

/// One epoch of the custom network, the method against the burn dense MLP of the same shape,
/// on seeded synthetic classes ([`SparseEpoch`]).
pub fn custom_network(spec: &NetworkSpec) -> Result<Vec<EpochBenchRow>> {
    let epoch = SparseEpoch::new(spec);
    let network = spec.network();
    let (dense_s, _) = epoch.time_dense()?;
    let t = epoch.time()?;
    Ok(vec![
        row(
            &network,
            "dense",
            1.0,
            spec.batch,
            spec.rows,
            (dense_s, 0.0),
            dense_s,
        ),
        row(
            &network,
            spec.method.name(),
            spec.density,
            spec.batch,
            spec.rows,
            t,
            dense_s,
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_options_are_checked_by_name() {
        let spec = |n: &str, d: f64, b: usize, r: usize| {
            NetworkSpec::new(n, d, b, r, BenchMethod::Set).map_err(|e| e.to_string())
        };
        let ok = spec("3072-1024-512-10", 0.01, 100, 50_000).unwrap();
        assert_eq!(ok.sizes, [3072, 1024, 512, 10]);
        assert_eq!(ok.network(), "3072-1024-512-10");
        for (n, d, b, r, want) in [
            (
                "3072-x-10",
                0.01,
                100,
                1000,
                "`x` is not a positive layer width",
            ),
            (
                "3072-0-10",
                0.01,
                100,
                1000,
                "`0` is not a positive layer width",
            ),
            (
                "3072",
                0.01,
                100,
                1000,
                "at least an input and an output width",
            ),
            ("30-1", 0.01, 100, 1000, "at least 2 classes"),
            ("30-10", 0.0, 100, 1000, "--density 0"),
            ("30-10", 1.5, 100, 1000, "--density 1.5"),
            ("30-10", 0.1, 0, 1000, "--batch 0"),
            ("30-10", 0.1, 100, 10, "--rows 10"),
        ] {
            let e = spec(n, d, b, r).unwrap_err();
            assert!(e.contains(want), "{n} {d} {b} {r}: {e}");
        }
        assert!("sett".parse::<BenchMethod>().is_err());
        assert_eq!("rigl".parse::<BenchMethod>().unwrap(), BenchMethod::Rigl);
    }

    #[test]
    fn a_custom_network_is_measured_against_dense() {
        for method in [BenchMethod::Static, BenchMethod::Set, BenchMethod::Rigl] {
            let spec = NetworkSpec::new("20-16-8-3", 0.25, 10, 60, method).unwrap();
            let rows = custom_network(&spec).unwrap();
            assert_eq!(rows.len(), 2);
            assert_eq!((rows[0].method.as_str(), rows[0].density), ("dense", 1.0));
            assert_eq!(rows[1].method, method.name());
            for r in &rows {
                assert_eq!((r.network.as_str(), r.batch, r.rows), ("20-16-8-3", 10, 60));
                assert!(r.epoch_seconds > 0.0 && r.speedup_vs_dense.is_finite());
            }
        }
    }
}
