//! Memory of training, measured in a fresh process per configuration (a process's peak
//! resident size never falls, so sizes measured one after the other in one process would
//! hide each other): peak resident growth over a baseline taken just before the model is
//! built, against the model's own footprint; the million-neuron network; and the extra
//! memory of one RigL and one SET topology update.

use super::measure::{peak_bytes, reset_peak, resident_bytes};
use super::training::{sparse_model, synthetic, train_epochs, Density};
use anyhow::{bail, Context, Result};
use dst_rigl::{RigL, RigLConfig};
use dst_set::{Set, SetConfig};
use models::SparseNetwork;
use serde::{Deserialize, Serialize};
use sparse_core::{DstContext, DstMethod, HookOutcome, TrainingClock};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a probe process measures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Probe {
    /// Trains a SET-MLP for `epochs` epochs of `rows` synthetic rows.
    Train {
        /// Layer widths, input first.
        sizes: Vec<usize>,
        /// Hidden-layer density.
        density: Density,
        /// Training rows.
        rows: usize,
        /// Batch size.
        batch: usize,
        /// Epochs (2: the first includes SET's topology update).
        epochs: usize,
    },
    /// One topology update of `method` (`rigl` or `set`) on a network at `density`.
    Update {
        /// `rigl` or `set`.
        method: String,
        /// Layer widths, input first.
        sizes: Vec<usize>,
        /// Hidden-layer density.
        density: f64,
        /// Batch size.
        batch: usize,
    },
}

/// One memory measurement of training.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRow {
    /// Network widths, `-`-separated.
    pub network: String,
    /// Hidden neurons in total.
    pub hidden_neurons: usize,
    /// Hidden-layer density (`er:<epsilon>` for Erdos-Renyi).
    pub density: String,
    /// Connections.
    pub nnz: usize,
    /// Heap bytes of the model: weights, indices, column views, optimizer state, gradients,
    /// activation buffers of one batch.
    pub footprint_bytes: u64,
    /// Peak resident memory during training minus resident memory just before the model was
    /// built (the data excluded).
    pub peak_bytes: u64,
    /// `peak_bytes / nnz`.
    pub bytes_per_nnz: f64,
    /// `peak_bytes / footprint_bytes` (target: at most 2).
    pub peak_over_footprint: f64,
    /// Seconds of the first epoch (topology update included).
    pub epoch_seconds: f64,
    /// Training rows.
    pub rows: usize,
}

/// The extra memory and time of one topology update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateRow {
    /// `rigl` or `set`.
    pub method: String,
    /// Network widths.
    pub network: String,
    /// Hidden-layer density.
    pub density: f64,
    /// Connections.
    pub nnz: usize,
    /// Model footprint (see [`MemoryRow::footprint_bytes`]).
    pub footprint_bytes: u64,
    /// Peak resident memory during the update minus resident memory just before it.
    pub extra_peak_bytes: u64,
    /// `extra_peak_bytes / footprint_bytes` (target for RigL: at most 0.1).
    pub extra_share: f64,
    /// Seconds of the update.
    pub update_seconds: f64,
}

/// What a probe prints, one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ProbeResult {
    /// From [`Probe::Train`].
    Train(MemoryRow),
    /// From [`Probe::Update`].
    Update(UpdateRow),
}

/// A reading of one topology update.
#[derive(Debug, Clone, Copy)]
struct Reading {
    seconds: f64,
    extra_bytes: u64,
}

/// Wraps a method and measures the time and the extra resident memory of every hook call
/// that edits the topology.
#[derive(Debug)]
struct Measured {
    inner: Box<dyn DstMethod>,
    readings: Arc<Mutex<Vec<Reading>>>,
}

impl Measured {
    fn measure(
        &mut self,
        ctx: &mut DstContext<'_>,
        hook: fn(&mut dyn DstMethod, &mut DstContext<'_>) -> HookOutcome,
    ) -> HookOutcome {
        let before = resident_bytes();
        reset_peak();
        let start = Instant::now();
        let out = hook(self.inner.as_mut(), ctx);
        let seconds = start.elapsed().as_secs_f64();
        if !out.edits.is_empty() {
            self.readings.lock().expect("not poisoned").push(Reading {
                seconds,
                extra_bytes: peak_bytes().saturating_sub(before),
            });
        }
        out
    }
}

impl DstMethod for Measured {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn initial_densities(&mut self, targets: &[f64]) -> Vec<f64> {
        self.inner.initial_densities(targets)
    }
    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.inner.wants_gradients(clock)
    }
    fn reads_gradients(&self) -> bool {
        self.inner.reads_gradients()
    }
    fn after_backward(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.measure(ctx, |m, c| m.after_backward(c))
    }
    fn after_step(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.measure(ctx, |m, c| m.after_step(c))
    }
    fn end_of_epoch(&mut self, ctx: &mut DstContext<'_>) -> HookOutcome {
        self.measure(ctx, |m, c| m.end_of_epoch(c))
    }
}

fn network_name(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// Runs a probe in this process (the `bench-probe` subcommand) and returns its result.
pub fn run_probe(probe: &Probe) -> Result<ProbeResult> {
    match probe {
        Probe::Train {
            sizes,
            density,
            rows,
            batch,
            epochs,
        } => {
            let (n_in, classes) = (sizes[0], *sizes.last().expect("sizes"));
            let (x, y) = synthetic(*rows, n_in, classes, 5);
            let base = resident_bytes();
            reset_peak();
            let mut net = SparseNetwork {
                mlp: sparse_model(sizes, *density, 1)?,
                method: Box::new(Set::new(SetConfig::default())?),
            };
            let t = train_epochs(&mut net, &x, &y, n_in, *batch, *epochs);
            let peak = peak_bytes().saturating_sub(base);
            let footprint = net.mlp.footprint_bytes() as u64;
            let nnz = net.mlp.nnz();
            Ok(ProbeResult::Train(MemoryRow {
                network: network_name(sizes),
                hidden_neurons: sizes[1..sizes.len() - 1].iter().sum(),
                density: match density {
                    Density::Uniform(d) => format!("{d}"),
                    Density::ErdosRenyi(e) => format!("er:{e}"),
                },
                nnz,
                footprint_bytes: footprint,
                peak_bytes: peak,
                bytes_per_nnz: peak as f64 / nnz as f64,
                peak_over_footprint: peak as f64 / footprint as f64,
                epoch_seconds: t[0].0,
                rows: *rows,
            }))
        }
        Probe::Update {
            method,
            sizes,
            density,
            batch,
        } => {
            let (n_in, classes) = (sizes[0], *sizes.last().expect("sizes"));
            // RigL: 10 steps, T_end = 7, an update at step 5. SET: 2 epochs of 2 steps, an
            // update after the first.
            let (inner, rows, epochs): (Box<dyn DstMethod>, usize, usize) = match method.as_str() {
                "rigl" => (
                    Box::new(RigL::new(RigLConfig {
                        delta_t: 5,
                        ..RigLConfig::default()
                    })?),
                    10 * batch,
                    1,
                ),
                "set" => (Box::new(Set::new(SetConfig::default())?), 2 * batch, 2),
                other => bail!("no update probe for `{other}`"),
            };
            let (x, y) = synthetic(rows, n_in, classes, 6);
            let readings = Arc::new(Mutex::new(Vec::new()));
            let mut net = SparseNetwork {
                mlp: sparse_model(sizes, Density::Uniform(*density), 1)?,
                method: Box::new(Measured {
                    inner,
                    readings: readings.clone(),
                }),
            };
            train_epochs(&mut net, &x, &y, n_in, *batch, epochs);
            let r = *readings
                .lock()
                .expect("not poisoned")
                .first()
                .context("the probe made no topology update")?;
            let footprint = net.mlp.footprint_bytes() as u64;
            Ok(ProbeResult::Update(UpdateRow {
                method: method.clone(),
                network: network_name(sizes),
                density: *density,
                nnz: net.mlp.nnz(),
                footprint_bytes: footprint,
                extra_peak_bytes: r.extra_bytes,
                extra_share: r.extra_bytes as f64 / footprint as f64,
                update_seconds: r.seconds,
            }))
        }
    }
}

/// Runs `probe` in a fresh process of `exe` (`exe bench-probe '<json>'`).
pub fn spawn_probe(exe: &Path, probe: &Probe) -> Result<ProbeResult> {
    let spec = serde_json::to_string(probe)?;
    let out = Command::new(exe)
        .arg("bench-probe")
        .arg(&spec)
        .output()
        .with_context(|| format!("starting {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "probe {spec} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().context("the probe printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// The memory sweep: SET-MLPs from about 10^5 to 10^8 connections.
pub fn memory_probes(quick: bool) -> Vec<Probe> {
    let (sizes, densities, rows): (Vec<usize>, &[f64], usize) = if quick {
        (vec![784, 1000, 1000, 1000, 10], &[0.01, 0.1], 256)
    } else {
        (
            vec![784, 10_000, 10_000, 10_000, 10],
            &[0.0005, 0.005, 0.05, 0.5],
            1280,
        )
    };
    densities
        .iter()
        .map(|&d| Probe::Train {
            sizes: sizes.clone(),
            density: Density::Uniform(d),
            rows,
            batch: 128,
            epochs: 2,
        })
        .collect()
}

/// The million-neuron network (a smaller one with `quick`).
pub fn scale_probe(quick: bool) -> Probe {
    let (hidden, rows) = if quick {
        ([20_000, 20_000, 20_000], 256)
    } else {
        ([333_334, 333_333, 333_333], 2000)
    };
    Probe::Train {
        sizes: [784].into_iter().chain(hidden).chain([10]).collect(),
        density: Density::ErdosRenyi(20.0),
        rows,
        batch: 128,
        epochs: 2,
    }
}

/// One RigL and one SET update at sparsity 0.99 on the epoch network.
pub fn update_probes(quick: bool) -> Vec<Probe> {
    let hidden = if quick { 512 } else { 4000 };
    ["rigl", "set"]
        .into_iter()
        .map(|m| Probe::Update {
            method: m.into(),
            sizes: vec![784, hidden, hidden, hidden, 10],
            density: 0.01,
            batch: 128,
        })
        .collect()
}
