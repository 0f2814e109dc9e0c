//! `cargo xtask bench --peers`: what a user would pick instead, timed in the same bench run on
//! the same shapes, batch, optimizer and rows: PyTorch dense, SparseProp (static sparse) and
//! SparseLab (SET), plus torch.matmul's GEMM rate on the kernel shapes (`peers.py`).
//!
//! They run in a Python virtual environment built once from PyPI in a cache folder outside the
//! repository (`$DST_PEERS_VENV`, default `~/.cache/dst-sparse-data/peers-venv`; about 5 GB,
//! since PyPI's torch wheel brings its CUDA libraries). Never in CI. Without Python or the
//! registry the peers are skipped with the reason, and the rest of the bench stands.

use crate::measure::median;
use crate::training::NetworkSpec;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Command;

/// The script run inside the environment.
const SCRIPT: &str = include_str!("peers.py");

/// Timed batches per epoch of a peer without topology updates (after 3 warm-up batches);
/// SparseLab's SET is timed over a whole epoch's batches, its one update included.
const TIMED_BATCHES: usize = 30;

/// One peer's epoch on one network, with ours on the same network measured in the same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRow {
    /// Network widths, `-`-separated.
    pub network: String,
    /// `torch-dense`, `sparseprop-static` or `sparselab-set`.
    pub peer: String,
    /// Density of ours and of the sparse peers' hidden layers (PyTorch dense is dense).
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Rows of the epoch.
    pub rows: usize,
    /// The peer's epoch (extrapolated from timed batches, or a whole epoch's batches for a
    /// peer that updates its topology): the median of its rounds (NaN when it failed).
    pub epoch_seconds: f64,
    /// Our method on the same network, density, batch and rows.
    pub ours: String,
    /// Our epoch: the median of its rounds, each timed right before the peers' round.
    pub ours_seconds: f64,
    /// `epoch_seconds / ours_seconds`: how many times faster ours is.
    pub ours_speedup: f64,
    /// Rounds of ours-then-the-peers the medians are taken over (0 in files written before
    /// the rounds, from one measurement each).
    #[serde(default)]
    pub rounds: usize,
    /// The lowest of the rounds' own ratios (the peer's epoch over ours in the same round).
    #[serde(default)]
    pub ours_speedup_min: f64,
    /// The highest of the rounds' own ratios.
    #[serde(default)]
    pub ours_speedup_max: f64,
    /// `torch <version>, <threads> threads`, or why the peer failed.
    pub note: String,
}

/// torch.matmul's rate on a kernel shape: `batch x n` by `n x n`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GemmRow {
    /// Batch.
    pub batch: usize,
    /// Layer width (square).
    pub n: usize,
    /// GFLOP/s counted as `2 batch n^2`.
    pub gflops: f64,
    /// Our three sparse products at density 0.01 on the same shape, from kernels.csv of the
    /// same bench run (GFLOP/s counted as `2 batch nnz`, and their share of `gflops`); empty
    /// when the kernels section did not run.
    pub ours_at_1_percent: String,
    /// `torch <version>, <threads> threads`.
    pub note: String,
}

/// One network to time the peers on, ours with it.
#[derive(Debug, Clone)]
pub struct EpochCase {
    /// The network, its density, batch, rows and our method.
    pub spec: NetworkSpec,
    /// Which peers: SparseProp is static, so it is compared with ours only where that is fair
    /// enough to say (it is always timed).
    pub peers: Vec<&'static str>,
}

/// Rounds of ours-then-the-peers behind every row of `peers.csv`: each epoch is the median of
/// its rounds, and the rounds' own ratios give the spread. One run of each is not enough on
/// the machines this bench runs on: identical runs of PyTorch's dense epoch of
/// 3072-1024-512-10 took 4.2, 5.0, 5.2 and 6.3 s, and one of ours 0.65 and 0.75 s.
pub const ROUNDS: usize = 5;

/// The second network, Nerva's CIFAR-10 MLP (3072-1024-512-10 at 1%, batch 100, an
/// epoch of 50,000 rows), which a full `--peers` run times beside the sections' 784-4000x3-10
/// so that every peer target comes from one run: `(network, density, batch, rows)`.
pub const CIFAR10_NETWORK: (&str, f64, usize, usize) = ("3072-1024-512-10", 0.01, 100, 50_000);

/// Every peer.
pub const ALL_PEERS: [&str; 3] = ["torch-dense", "sparseprop-static", "sparselab-set"];

fn venv_dir() -> PathBuf {
    crate::cache_folder("DST_PEERS_VENV", "peers-venv")
}

/// Runs `cmd`, or says why it failed (its last lines of stderr).
fn run(cmd: &mut Command, what: &str) -> std::result::Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start it ({e})"))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(3).collect();
    Err(format!(
        "{what} failed ({}): {}",
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
    ))
}

/// The environment's Python, built first when missing; `Err` says why the peers are skipped.
fn ensure_venv() -> std::result::Result<PathBuf, String> {
    let venv = venv_dir();
    let python = venv.join("bin/python");
    let ready = |p: &PathBuf| {
        Command::new(p)
            .args(["-c", "import torch, sparseprop, sparselab"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    eprintln!(
        "  peers: building the Python environment in {} (once; about 5 GB from PyPI) ...",
        venv.display()
    );
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv",
    )?;
    let pip = |args: &[&str], what: &str| {
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "-q"])
                .args(args),
            what,
        )
    };
    pip(
        &[
            "torch",
            "numpy",
            "scipy",
            "pybind11",
            "setuptools",
            "wheel",
            "sparselab==0.2.2",
        ],
        "pip install torch sparselab",
    )?;
    // SparseProp ships as source and builds against the installed torch.
    pip(
        &["--no-build-isolation", "sparseprop==0.1.14"],
        "pip install sparseprop",
    )?;
    if ready(&python) {
        Ok(python)
    } else {
        Err(format!(
            "{} cannot import torch, sparseprop and sparselab after installing them",
            python.display()
        ))
    }
}

/// The peers' epochs and GEMM rates.
pub type Measured = (Vec<PeerRow>, Vec<GemmRow>);

/// Times the peers on `cases` and torch.matmul on `gemm` (`(batch, n)`), `rounds` times,
/// each round right after timing our epoch of every case (`ours(i)`: case `i`'s seconds);
/// `Ok(Err(reason))` when they are skipped.
pub fn measure(
    cases: &[EpochCase],
    gemm: &[(usize, usize)],
    rounds: usize,
    mut ours: impl FnMut(usize) -> Result<f64>,
) -> Result<std::result::Result<Measured, String>> {
    let mut ours_seconds = vec![Vec::new(); cases.len()];
    let mut peer_rounds = Vec::new();
    let (mut gemms, mut note) = (Vec::new(), String::new());
    for round in 0..rounds {
        eprintln!(
            "  peers: round {}/{rounds}: ours, then the peers",
            round + 1
        );
        for (i, seconds) in ours_seconds.iter_mut().enumerate() {
            seconds.push(ours(i)?);
        }
        // torch.matmul's rate once, in the first round.
        let gemm = if round == 0 { gemm } else { &[] };
        match measure_once(cases, gemm)? {
            Ok((epochs, g, n)) => {
                peer_rounds.push(epochs);
                gemms.extend(g);
                note = n;
            }
            Err(why) => return Ok(Err(why)),
        }
    }
    Ok(Ok((
        medians(cases, &ours_seconds, &peer_rounds, &note),
        gemms,
    )))
}

/// One row per case and peer from the rounds: the medians of ours (`ours_seconds[case]`, one
/// per round) and of the peer's epochs (`peer_rounds[round]`), and the rounds' own ratios.
fn medians(
    cases: &[EpochCase],
    ours_seconds: &[Vec<f64>],
    peer_rounds: &[Vec<PeerEpoch>],
    note: &str,
) -> Vec<PeerRow> {
    let mut rows = Vec::new();
    for (case, ours_s) in cases.iter().zip(ours_seconds) {
        let network = case.spec.network();
        for &peer in &case.peers {
            // Each round's epoch of this peer with ours of the same round.
            let runs: Vec<(&PeerEpoch, f64)> = peer_rounds
                .iter()
                .zip(ours_s)
                .filter_map(|(round, &o)| {
                    let found = round.iter().find(|e| {
                        e.network == network
                            && e.peer == peer
                            && e.batch == case.spec.batch
                            && e.rows == case.spec.rows
                    });
                    found.map(|e| (e, o))
                })
                .collect();
            let failed = runs.iter().find_map(|(e, _)| e.error.clone());
            let seconds: Vec<f64> = runs.iter().map(|(e, _)| e.seconds).collect();
            let ratios: Vec<f64> = runs.iter().map(|(e, o)| e.seconds / o).collect();
            let (epoch_seconds, ours_seconds) = (median(&seconds), median(ours_s));
            rows.push(PeerRow {
                network: network.clone(),
                peer: peer.to_string(),
                density: case.spec.density,
                batch: case.spec.batch,
                rows: case.spec.rows,
                epoch_seconds,
                ours: case.spec.method.name().to_string(),
                ours_seconds,
                ours_speedup: epoch_seconds / ours_seconds,
                rounds: seconds.len(),
                ours_speedup_min: ratios.iter().copied().fold(f64::NAN, f64::min),
                ours_speedup_max: ratios.iter().copied().fold(f64::NAN, f64::max),
                note: failed.map_or_else(|| note.to_string(), |e| format!("failed: {e}")),
            });
        }
    }
    rows
}

/// One peer epoch as `peers.py` printed it.
struct PeerEpoch {
    network: String,
    peer: String,
    batch: usize,
    rows: usize,
    seconds: f64,
    error: Option<String>,
}

/// One run of `peers.py`: its epochs, GEMM rates and the torch version and threads it used.
type OneRun = (Vec<PeerEpoch>, Vec<GemmRow>, String);

/// One run of `peers.py` on `cases` and `gemm`; `Ok(Err(reason))` when the peers are skipped.
fn measure_once(
    cases: &[EpochCase],
    gemm: &[(usize, usize)],
) -> Result<std::result::Result<OneRun, String>> {
    let python = match ensure_venv() {
        Ok(p) => p,
        Err(why) => return Ok(Err(why)),
    };
    let script = venv_dir().join("peers.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let spec = serde_json::json!({
        "timed": TIMED_BATCHES,
        "epochs": cases.iter().map(|c| serde_json::json!({
            "dims": c.spec.sizes, "rows": c.spec.rows, "batch": c.spec.batch,
            "density": c.spec.density, "peers": c.peers,
        })).collect::<Vec<_>>(),
        "gemm": gemm,
    });
    let stdout = match run(
        Command::new(&python).arg(&script).arg(spec.to_string()),
        "peers.py",
    ) {
        Ok(s) => s,
        Err(why) => return Ok(Err(why)),
    };
    let mut note = String::new();
    let (mut epochs, mut gemms) = (Vec::new(), Vec::new());
    for line in stdout.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("peers.py printed `{line}`"))?;
        let num = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let int = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        match v["kind"].as_str() {
            Some("info") => {
                note = format!(
                    "torch {}, {} threads",
                    v["torch"].as_str().unwrap_or("?"),
                    int("threads")
                )
            }
            Some("epoch") => epochs.push(PeerEpoch {
                network: v["network"].as_str().unwrap_or_default().to_string(),
                peer: v["peer"].as_str().unwrap_or_default().to_string(),
                batch: int("batch"),
                rows: int("rows"),
                seconds: num("epoch_seconds"),
                error: v["error"].as_str().map(str::to_string),
            }),
            Some("gemm") => gemms.push(GemmRow {
                batch: int("batch"),
                n: int("n"),
                gflops: num("gflops"),
                ours_at_1_percent: String::new(),
                note: note.clone(),
            }),
            _ => {}
        }
    }
    Ok(Ok((epochs, gemms, note)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::BenchMethod;

    fn epoch(peer: &str, seconds: f64) -> PeerEpoch {
        PeerEpoch {
            network: "8-4-2".into(),
            peer: peer.into(),
            batch: 2,
            rows: 10,
            seconds,
            error: None,
        }
    }

    /// Medians of the rounds (odd and even counts), ratio of the medians, and the rounds' own
    /// lowest and highest ratios, each round's peer against ours of the same round.
    #[test]
    fn rows_are_the_medians_of_their_rounds() {
        let case = EpochCase {
            spec: NetworkSpec::new("8-4-2", 0.5, 2, 10, BenchMethod::Set).unwrap(),
            peers: vec!["torch-dense", "sparselab-set"],
        };
        let ours = vec![vec![1.0, 2.0, 4.0]];
        let rounds = vec![
            vec![epoch("torch-dense", 10.0), epoch("sparselab-set", 3.0)],
            vec![epoch("torch-dense", 30.0), epoch("sparselab-set", 5.0)],
            vec![epoch("torch-dense", 20.0)],
        ];
        let rows = medians(&[case], &ours, &rounds, "torch x");
        let dense = &rows[0];
        assert_eq!((dense.peer.as_str(), dense.rounds), ("torch-dense", 3));
        assert_eq!((dense.epoch_seconds, dense.ours_seconds), (20.0, 2.0));
        assert_eq!(dense.ours_speedup, 10.0);
        // Rounds: 10/1, 30/2, 20/4.
        assert_eq!(
            (dense.ours_speedup_min, dense.ours_speedup_max),
            (5.0, 15.0)
        );
        assert_eq!(
            (dense.ours.as_str(), dense.note.as_str()),
            ("set", "torch x")
        );
        let lab = &rows[1];
        assert_eq!((lab.rounds, lab.epoch_seconds), (2, 4.0));
        assert_eq!((lab.ours_speedup_min, lab.ours_speedup_max), (2.5, 3.0));
    }

    #[test]
    fn a_failed_round_is_reported() {
        let case = EpochCase {
            spec: NetworkSpec::new("8-4-2", 0.5, 2, 10, BenchMethod::Set).unwrap(),
            peers: vec!["sparseprop-static"],
        };
        let mut failed = epoch("sparseprop-static", f64::NAN);
        failed.error = Some("ImportError: no".into());
        let rows = medians(&[case], &[vec![1.0]], &[vec![failed]], "torch x");
        assert_eq!(rows[0].note, "failed: ImportError: no");
    }
}
