//! `cargo xtask bench --peers`: what a user would pick instead, timed in the same bench run on
//! the same shapes, batch, optimizer and rows: PyTorch dense, SparseProp (static sparse) and
//! SparseLab (SET), plus torch.matmul's GEMM rate on the kernel shapes (`peers.py`).
//!
//! They run in a Python virtual environment built once from PyPI in a cache folder outside the
//! repository (`$DST_PEERS_VENV`, default `~/.cache/dst-sparse-data/peers-venv`; about 5 GB,
//! since PyPI's torch wheel brings its CUDA libraries). Never in CI. Without Python or the
//! registry the peers are skipped with the reason, and the rest of the bench stands.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::process::Command;

/// The script run inside the environment.
const SCRIPT: &str = include_str!("peers.py");

/// Timed batches per peer epoch (after 3 warm-up batches).
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
    /// The peer's epoch, extrapolated from timed batches (NaN when it failed).
    pub epoch_seconds: f64,
    /// Our method on the same network, density, batch and rows.
    pub ours: String,
    /// Our epoch, measured earlier in the same bench run.
    pub ours_seconds: f64,
    /// `epoch_seconds / ours_seconds`: how many times faster ours is.
    pub ours_speedup: f64,
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

/// One network to time the peers on, with our epoch on it.
#[derive(Debug, Clone)]
pub struct EpochCase {
    /// Widths, input first.
    pub dims: Vec<usize>,
    /// Rows of the epoch.
    pub rows: usize,
    /// Batch size.
    pub batch: usize,
    /// Density of the sparse peers' hidden layers.
    pub density: f64,
    /// Our method's name and its epoch seconds.
    pub ours: (String, f64),
    /// Which peers: SparseProp is static, so it is compared with ours only where that is fair
    /// enough to say (it is always timed).
    pub peers: Vec<&'static str>,
}

/// Every peer.
pub const ALL_PEERS: [&str; 3] = ["torch-dense", "sparseprop-static", "sparselab-set"];

fn venv_dir() -> PathBuf {
    if let Some(v) = std::env::var_os("DST_PEERS_VENV") {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/dst-sparse-data/peers-venv")
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

/// Times the peers on `cases` and torch.matmul on `gemm` (`(batch, n)`); `Ok(Err(reason))`
/// when they are skipped.
pub fn measure(
    cases: &[EpochCase],
    gemm: &[(usize, usize)],
) -> Result<std::result::Result<Measured, String>> {
    let python = match ensure_venv() {
        Ok(p) => p,
        Err(why) => return Ok(Err(why)),
    };
    let script = venv_dir().join("peers.py");
    std::fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let spec = serde_json::json!({
        "timed": TIMED_BATCHES,
        "epochs": cases.iter().map(|c| serde_json::json!({
            "dims": c.dims, "rows": c.rows, "batch": c.batch, "density": c.density,
            "peers": c.peers,
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
            Some("epoch") => {
                let network = v["network"].as_str().unwrap_or_default().to_string();
                let case = cases.iter().find(|c| {
                    c.dims
                        .iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join("-")
                        == network
                        && c.batch == int("batch")
                        && c.rows == int("rows")
                });
                let (ours, ours_seconds) =
                    case.map_or((String::new(), f64::NAN), |c| (c.ours.0.clone(), c.ours.1));
                let seconds = num("epoch_seconds");
                epochs.push(PeerRow {
                    network,
                    peer: v["peer"].as_str().unwrap_or_default().to_string(),
                    density: num("density"),
                    batch: int("batch"),
                    rows: int("rows"),
                    epoch_seconds: seconds,
                    ours,
                    ours_seconds,
                    ours_speedup: seconds / ours_seconds,
                    note: v["error"]
                        .as_str()
                        .map_or_else(|| note.clone(), |e| format!("failed: {e}")),
                });
            }
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
    Ok(Ok((epochs, gemms)))
}
