//! `cargo xtask bench`: performance measured side by side in one process, so every reported
//! figure is a ratio of two timings taken on the same machine at the same time.
//!
//! Measures the three sparse-layer products against a dense GEMM of the same shape (burn's
//! flex backend), a training epoch of a SET-MLP against the burn dense MLP across densities
//! (with the topology update timed separately), and the seed paper's WDBC network. Writes
//! `kernels.csv`, `epochs.csv`, `wdbc.csv`, figures and a `README.md` into the output folder.

use crate::figures::{line_panels, Panel, Series};
use crate::runner::git_commit;
use anyhow::Result;
use dst_set::{Set, SetConfig, StaticSparse};
use models::dense::burn_matmul;
use models::rngs::stream;
use models::train::NoObserver;
use models::{
    Classifier, DenseMlp, Examples, RunData, RunRngs, SgdParams, SparseInit, SparseMlp,
    SparseNetwork, TrainOptions,
};
use rand::Rng;
use serde::Serialize;
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::kernels::{forward, input_grad, weight_grad};
use sparse_core::{DstMethod, FanMode, WeightInit};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `bench`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Output folder (default `results/bench`).
    pub out: PathBuf,
    /// Small sizes, for CI.
    pub quick: bool,
}

/// Seconds per call of `f`, averaged over enough calls to take at least `budget` seconds
/// (and at least 3 calls, after one warm-up call).
fn time_it(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut reps = 0u32;
    while reps < 3 || start.elapsed().as_secs_f64() < budget {
        f();
        reps += 1;
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// One kernel measurement.
#[derive(Debug, Clone, Serialize)]
pub struct KernelRow {
    /// `forward` (X W), `input_grad` (dZ Wᵀ) or `weight_grad` (SDDMM).
    pub kernel: String,
    /// Layer inputs.
    pub n_in: usize,
    /// Layer outputs.
    pub n_out: usize,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Non-zeros.
    pub nnz: usize,
    /// Seconds per call.
    pub seconds: f64,
    /// `2 batch nnz / seconds / 1e9`.
    pub gflops: f64,
    /// Dense GEMM rate on the same shape (burn flex), GFLOP/s counted as `2 batch n_in n_out`.
    pub dense_gflops: f64,
    /// `gflops / dense_gflops`.
    pub ratio_to_dense_rate: f64,
    /// Dense GEMM time / sparse time (> 1: sparse faster).
    pub speedup_vs_dense: f64,
}

fn kernels(quick: bool, budget: f64) -> Vec<KernelRow> {
    let sizes: &[usize] = if quick { &[1000] } else { &[1000, 4000] };
    let densities: &[f64] = if quick {
        &[0.01, 0.2]
    } else {
        &[0.001, 0.01, 0.05, 0.2, 1.0]
    };
    let batches: &[usize] = if quick { &[32] } else { &[1, 10, 32, 128] };
    let mut rng = stream(1, "bench-kernels");
    let mut rows = Vec::new();
    for &n in sizes {
        for &batch in batches {
            let a: Vec<f32> = (0..batch * n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let b: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let dense_s = time_it(budget, || {
                std::hint::black_box(burn_matmul(&a, &b, batch, n, n));
            });
            let dense_gflops = 2.0 * (batch * n * n) as f64 / dense_s / 1e9;
            for &d in densities {
                let nnz = connection_count(n, n, d);
                let mut w = random_pattern(n, n, nnz, &mut rng).expect("count fits");
                for v in w.values_mut() {
                    *v = rng.random_range(-1.0..1.0);
                }
                let mut out = vec![0.0f32; batch * n];
                let mut grad = vec![0.0f32; nnz];
                // The same buffer serves as Xᵀ and dZᵀ (feature-major, `n x batch`).
                let timings = [
                    (
                        "forward",
                        time_it(budget, || forward(&a, batch, &w, &mut out)),
                    ),
                    (
                        "input_grad",
                        time_it(budget, || input_grad(&a, batch, &w, &mut out)),
                    ),
                    (
                        "weight_grad",
                        time_it(budget, || weight_grad(&a, &a, batch, &w, &mut grad)),
                    ),
                ];
                for (kernel, s) in timings {
                    let gflops = 2.0 * (batch * nnz) as f64 / s / 1e9;
                    rows.push(KernelRow {
                        kernel: kernel.into(),
                        n_in: n,
                        n_out: n,
                        density: d,
                        batch,
                        nnz,
                        seconds: s,
                        gflops,
                        dense_gflops,
                        ratio_to_dense_rate: gflops / dense_gflops,
                        speedup_vs_dense: dense_s / s,
                    });
                }
            }
        }
    }
    rows
}

/// One epoch measurement.
#[derive(Debug, Clone, Serialize)]
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
    /// Seconds of one training epoch (topology update included).
    pub epoch_seconds: f64,
    /// Seconds of the topology update within it.
    pub topology_seconds: f64,
    /// Dense epoch seconds / this epoch's seconds.
    pub speedup_vs_dense: f64,
}

/// Seeded Gaussian classes: `rows x dim` values, labels `0..classes`.
fn synthetic(rows: usize, dim: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
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

fn sparse_model(sizes: &[usize], density: f64, seed: u64) -> Result<SparseMlp> {
    let n = sizes.len() - 1;
    let init = SparseInit {
        densities: (0..n)
            .map(|l| if l + 1 < n { density } else { 1.0 })
            .collect(),
        dynamic: (0..n).map(|l| l + 1 < n).collect(),
        init: WeightInit::HeUniform,
        fan: FanMode::Sparse,
    };
    Ok(SparseMlp::new(
        sizes,
        &init,
        0.0,
        SgdParams {
            learning_rate: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
        },
        &mut stream(seed, "topology-init"),
        &mut stream(seed, "weight-init"),
    )?)
}

/// Seconds of one epoch (the second of two, so that buffers are warm) and its topology part.
fn epoch_seconds(
    model: &mut dyn Classifier,
    x: &[f32],
    y: &[u32],
    dim: usize,
    batch: usize,
) -> (f64, f64) {
    let ids: Vec<usize> = (0..y.len()).collect();
    let data = Examples {
        x,
        observed: None,
        labels: y,
        n_features: dim,
    };
    // Evaluate on a small slice: the test pass is not part of the epoch time.
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
            epochs: 3,
            batch_size: batch,
        },
        &mut RunRngs::from_seed(1),
        &mut NoObserver,
    );
    let e = &out.epochs[1];
    (e.seconds, e.topology_seconds)
}

fn dense_model(sizes: &[usize]) -> Result<DenseMlp> {
    let mlp = sparse_model(sizes, 1.0, 7)?;
    Ok(DenseMlp::from_params(
        &mlp.to_dense_params(),
        0.0,
        SgdParams {
            learning_rate: 0.01,
            momentum: 0.9,
            weight_decay: 0.0,
        },
    ))
}

fn epochs_vs_density(quick: bool) -> Result<Vec<EpochBenchRow>> {
    let (hidden, rows, densities): (usize, usize, &[f64]) = if quick {
        (512, 2000, &[0.01, 0.1])
    } else {
        (4000, 20000, &[0.005, 0.01, 0.02, 0.05, 0.1, 0.3, 1.0])
    };
    let sizes = [784, hidden, hidden, hidden, 10];
    let batch = 128;
    let (x, y) = synthetic(rows, 784, 10, 3);
    let network = sizes.map(|s| s.to_string()).join("-");
    let (dense_s, _) = epoch_seconds(&mut dense_model(&sizes)?, &x, &y, 784, batch);
    let mut out = vec![EpochBenchRow {
        network: network.clone(),
        method: "dense".into(),
        density: 1.0,
        batch,
        rows,
        epoch_seconds: dense_s,
        topology_seconds: 0.0,
        speedup_vs_dense: 1.0,
    }];
    for &d in densities {
        let method: Box<dyn DstMethod> = Box::new(Set::new(SetConfig::default())?);
        let mut net = SparseNetwork {
            mlp: sparse_model(&sizes, d, 1)?,
            method,
        };
        let (s, topo) = epoch_seconds(&mut net, &x, &y, 784, batch);
        out.push(EpochBenchRow {
            network: network.clone(),
            method: "set".into(),
            density: d,
            batch,
            rows,
            epoch_seconds: s,
            topology_seconds: topo,
            speedup_vs_dense: dense_s / s,
        });
    }
    Ok(out)
}

fn wdbc_network() -> Result<Vec<EpochBenchRow>> {
    let sizes = [30, 100, 100, 100, 2];
    let (x, y) = synthetic(455, 30, 2, 4);
    let network = sizes.map(|s| s.to_string()).join("-");
    let best = |m: &mut dyn Classifier| {
        // The fastest of 5 epochs: small networks are noisy.
        (0..5)
            .map(|_| epoch_seconds(m, &x, &y, 30, 10))
            .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a })
    };
    let (dense_s, _) = best(&mut dense_model(&sizes)?);
    let mut out = vec![EpochBenchRow {
        network: network.clone(),
        method: "dense".into(),
        density: 1.0,
        batch: 10,
        rows: 455,
        epoch_seconds: dense_s,
        topology_seconds: 0.0,
        speedup_vs_dense: 1.0,
    }];
    for sparsity in [0.5, 0.9] {
        for name in ["static", "set"] {
            let method: Box<dyn DstMethod> = if name == "set" {
                Box::new(Set::new(SetConfig { zeta: 0.1 })?)
            } else {
                Box::new(StaticSparse)
            };
            let mut net = SparseNetwork {
                mlp: sparse_model(&sizes, 1.0 - sparsity, 1)?,
                method,
            };
            let (s, topo) = best(&mut net);
            out.push(EpochBenchRow {
                network: network.clone(),
                method: name.into(),
                density: 1.0 - sparsity,
                batch: 10,
                rows: 455,
                epoch_seconds: s,
                topology_seconds: topo,
                speedup_vs_dense: dense_s / s,
            });
        }
    }
    Ok(out)
}

fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

fn md_table<T: Serialize>(rows: &[T]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let mut lines = text.lines();
    let mut t = String::new();
    if let Some(h) = lines.next() {
        let cols: Vec<&str> = h.split(',').collect();
        let _ = writeln!(t, "| {} |", cols.join(" | "));
        let _ = writeln!(t, "|{}", "---|".repeat(cols.len()));
    }
    for l in lines {
        let cells: Vec<String> = l
            .split(',')
            .map(|c| match c.parse::<f64>() {
                Ok(v) if c.contains('.') => format!("{v:.4}"),
                _ => c.to_string(),
            })
            .collect();
        let _ = writeln!(t, "| {} |", cells.join(" | "));
    }
    Ok(t)
}

/// Runs the benchmarks and writes the folder.
pub fn bench(opts: &BenchOptions) -> Result<()> {
    std::fs::create_dir_all(&opts.out)?;
    let started = Instant::now();
    let budget = if opts.quick { 0.02 } else { 0.2 };
    let k = kernels(opts.quick, budget);
    write_csv(&opts.out.join("kernels.csv"), &k)?;
    let e = epochs_vs_density(opts.quick)?;
    write_csv(&opts.out.join("epochs.csv"), &e)?;
    let w = wdbc_network()?;
    write_csv(&opts.out.join("wdbc.csv"), &w)?;

    // Figure: kernel rate as a share of the dense GEMM rate, per batch, against density.
    let mut panels = Vec::new();
    for kernel in ["forward", "input_grad", "weight_grad"] {
        let mut series = Vec::new();
        let mut keys: Vec<(usize, usize)> = k.iter().map(|r| (r.n_in, r.batch)).collect();
        keys.sort();
        keys.dedup();
        for (i, (n, b)) in keys.iter().enumerate() {
            let pts = k
                .iter()
                .filter(|r| r.kernel == kernel && r.n_in == *n && r.batch == *b)
                .map(|r| {
                    (
                        r.density,
                        r.speedup_vs_dense,
                        r.speedup_vs_dense,
                        r.speedup_vs_dense,
                    )
                })
                .collect();
            series.push(Series {
                label: format!("{n}x{n}, batch {b}"),
                color: i,
                dashed: *n > 1000,
                band: false,
                points: pts,
            });
        }
        panels.push(Panel {
            title: kernel.into(),
            x_label: "density".into(),
            y_label: "dense GEMM time / sparse time".into(),
            series,
            x_log: true,
            y_range: None,
        });
    }
    line_panels(
        &opts.out.join("kernels_speedup"),
        "Sparse kernels against dense GEMM (burn flex)",
        &panels,
        3,
    )?;
    let dense_epoch = e
        .iter()
        .find(|r| r.method == "dense")
        .map_or(1.0, |r| r.epoch_seconds);
    line_panels(
        &opts.out.join("epoch_speedup"),
        "SET-MLP epoch against the burn dense MLP epoch",
        &[Panel {
            title: e.first().map(|r| r.network.clone()).unwrap_or_default(),
            x_label: "density of the hidden layers".into(),
            y_label: "dense epoch time / SET epoch time".into(),
            series: vec![Series {
                label: "SET (topology update included)".into(),
                color: 0,
                dashed: false,
                band: false,
                points: e
                    .iter()
                    .filter(|r| r.method == "set")
                    .map(|r| {
                        let y = dense_epoch / r.epoch_seconds;
                        (r.density, y, y, y)
                    })
                    .collect(),
            }],
            x_log: true,
            y_range: None,
        }],
        1,
    )?;

    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask bench{}` at commit `{}` on {} with {} rayon threads, in {:.0} s. \
         Every ratio is measured in the same process; absolute times drift between machines.\n",
        if opts.quick { " --quick" } else { "" },
        git_commit(),
        cpu_model(),
        rayon::current_num_threads(),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(s, "## Kernels\n\nGFLOP/s counted as `2 batch nnz` per product; the dense reference is burn flex's GEMM on the same `batch x n x n` shape.\n");
    s.push_str(&md_table(&k)?);
    let _ = writeln!(
        s,
        "\n![kernels](kernels_speedup.png)\n\n## Training epoch vs density\n"
    );
    s.push_str(&md_table(&e)?);
    let _ = writeln!(s, "\n![epoch](epoch_speedup.png)\n\n## The seed paper's WDBC network (batch 10, 455 rows, fastest of 5 epochs)\n");
    s.push_str(&md_table(&w)?);
    std::fs::write(opts.out.join("README.md"), s)?;
    println!(
        "bench: {:.0} s -> {}",
        started.elapsed().as_secs_f64(),
        opts.out.join("README.md").display()
    );
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
