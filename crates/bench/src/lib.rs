//! `cargo xtask bench`: performance measured side by side, so every reported figure is a
//! ratio of two timings taken on the same machine at the same time.
//!
//! Sections (each writes `<section>.csv` into the output folder; `--only` reruns some and
//! keeps the others' files):
//! - `kernels`: the three sparse-layer products against burn flex's dense GEMM;
//! - `sparse-input`: the first layer with 0, 50 and 90% of the inputs absent;
//! - `epochs`: a SET-MLP epoch against the burn dense MLP epoch across densities;
//! - `wdbc`: the seed paper's network;
//! - `threads`: one thread against all of them;
//! - `memory`, `scale`, `updates`: peak memory, the million-neuron network and the extra
//!   memory of one RigL and one SET update, each in a fresh process (see [`memory`]).
//!
//! `README.md` is generated from whatever section files the folder holds, with the issue's
//! targets checked against them.

pub mod kernels;
pub mod measure;
pub mod memory;
pub mod peers;
pub mod training;

use anyhow::{bail, Context, Result};
use charts::{line_panels, Panel, Series};
use experiments::results::{read_rows, write_all_rows};
use experiments::runner::{cpu_model, git_commit};
use kernels::KernelRow;
use memory::{MemoryRow, ProbeResult, UpdateRow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use training::EpochBenchRow;

pub use memory::{run_probe, Probe};

/// The `bench-probe` subcommand: runs the probe given as JSON, returns its result as JSON.
pub fn run_probe_json(spec: &str) -> Result<String> {
    let probe: Probe = serde_json::from_str(spec).context("parsing the probe")?;
    Ok(serde_json::to_string(&run_probe(&probe)?)?)
}

/// Every section, in the order they run.
pub const SECTIONS: &[&str] = &[
    "kernels",
    "sparse-input",
    "wdbc",
    "epochs",
    "threads",
    "updates",
    "memory",
    "scale",
];

/// Options of `bench`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Output folder (default `results/bench`).
    pub out: PathBuf,
    /// Small sizes, for CI.
    pub quick: bool,
    /// Sections to run (all when empty).
    pub only: Vec<String>,
    /// The executable that runs `bench-probe` (the xtask binary); without it the memory
    /// sections are skipped.
    pub probe_exe: Option<PathBuf>,
    /// Measure this network instead of the sections (`--network`): its rows join
    /// `network.csv`, replacing an earlier measurement of the same network and settings.
    pub network: Option<training::NetworkSpec>,
    /// Also time PyTorch dense, SparseProp and SparseLab on the same networks in the same run
    /// ([`peers`]; never in CI).
    pub peers: bool,
}

/// When and where a section was measured (`sections.csv`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SectionMeta {
    section: String,
    commit: String,
    quick: bool,
    cpu: String,
    threads: usize,
    seconds: f64,
    /// The command, when not `cargo xtask bench --only <section>` (the `network` section).
    #[serde(default)]
    command: String,
}

/// A section's rows, or `None` when the folder has no file for it.
fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Option<Vec<T>>> {
    Ok(if path.exists() {
        Some(read_rows(path)?)
    } else {
        None
    })
}

/// Runs the requested sections, then regenerates the README and figures from the folder.
pub fn bench(opts: &BenchOptions) -> Result<()> {
    for s in &opts.only {
        if !SECTIONS.contains(&s.as_str()) {
            bail!(
                "unknown bench section `{s}`; sections: {}",
                SECTIONS.join(", ")
            );
        }
    }
    std::fs::create_dir_all(&opts.out)?;
    let meta_path = opts.out.join("sections.csv");
    let mut meta: Vec<SectionMeta> = read_csv(&meta_path)?.unwrap_or_default();
    if let Some(spec) = &opts.network {
        return bench_network(opts, spec, meta);
    }
    let budget = if opts.quick { 0.02 } else { 0.2 };
    let selected: Vec<&str> = SECTIONS
        .iter()
        .copied()
        .filter(|s| opts.only.is_empty() || opts.only.iter().any(|o| o == s))
        .collect();
    let started = Instant::now();
    // The code being measured is the binary's, so its commit is taken once, at the start.
    let commit = git_commit();
    for (i, &section) in selected.iter().enumerate() {
        eprintln!("bench [{}/{}] {section} ...", i + 1, selected.len());
        let t = Instant::now();
        let path = opts.out.join(format!("{section}.csv"));
        let probe = |probes: Vec<Probe>| -> Result<Vec<ProbeResult>> {
            let Some(exe) = &opts.probe_exe else {
                bail!("the {section} section needs the bench-probe executable (run it through `cargo xtask bench`)");
            };
            probes
                .iter()
                .enumerate()
                .map(|(k, p)| {
                    eprintln!("  probe {}/{}", k + 1, probes.len());
                    memory::spawn_probe(exe, p)
                })
                .collect()
        };
        match section {
            "kernels" => write_all_rows(&path, &kernels::kernels(opts.quick, budget))?,
            "sparse-input" => write_all_rows(&path, &kernels::sparse_input(opts.quick, budget))?,
            "wdbc" => write_all_rows(&path, &training::wdbc_network()?)?,
            "epochs" => write_all_rows(&path, &training::epochs_vs_density(opts.quick)?)?,
            "threads" => write_all_rows(&path, &training::threads(opts.quick)?)?,
            "memory" | "scale" => {
                let probes = if section == "memory" {
                    memory::memory_probes(opts.quick)
                } else {
                    vec![memory::scale_probe(opts.quick)]
                };
                let rows: Vec<MemoryRow> = probe(probes)?
                    .into_iter()
                    .filter_map(|r| match r {
                        ProbeResult::Train(m) => Some(m),
                        ProbeResult::Update(_) => None,
                    })
                    .collect();
                write_all_rows(&path, &rows)?;
            }
            "updates" => {
                let rows: Vec<UpdateRow> = probe(memory::update_probes(opts.quick))?
                    .into_iter()
                    .filter_map(|r| match r {
                        ProbeResult::Update(u) => Some(u),
                        ProbeResult::Train(_) => None,
                    })
                    .collect();
                write_all_rows(&path, &rows)?;
            }
            _ => unreachable!("checked above"),
        }
        meta.retain(|m| m.section != section);
        meta.push(SectionMeta {
            section: section.into(),
            commit: commit.clone(),
            quick: opts.quick,
            cpu: cpu_model(),
            threads: rayon::current_num_threads(),
            seconds: t.elapsed().as_secs_f64(),
            command: String::new(),
        });
        sort_sections(&mut meta);
        write_all_rows(&meta_path, &meta)?;
    }
    if opts.peers {
        let mut cases = Vec::new();
        if let Some(e) = read_csv::<EpochBenchRow>(&opts.out.join("epochs.csv"))? {
            if let Some(r) = e
                .iter()
                .find(|r| r.method == "set" && (r.density - 0.01).abs() < 1e-12)
            {
                cases.push(case_of(r, &peers::ALL_PEERS)?);
            }
        }
        // The kernels section's largest shape: 4000 x 4000 at batch 128 (1000 at 32, quick).
        let (batch, n) = if opts.quick { (32, 1000) } else { (128, 4000) };
        let command = format!(
            "cargo xtask bench{} --peers",
            if opts.quick { " --quick" } else { "" }
        );
        run_peers(&opts.out, &cases, &[(batch, n)], &mut meta, command)?;
    }
    let readme = report(&opts.out)?;
    println!(
        "bench: {:.0} s -> {}",
        started.elapsed().as_secs_f64(),
        readme.display()
    );
    Ok(())
}

/// Sections in the order they run, the custom network last.
fn sort_sections(meta: &mut [SectionMeta]) {
    meta.sort_by_key(|m| {
        SECTIONS
            .iter()
            .position(|s| *s == m.section)
            .unwrap_or(SECTIONS.len())
    });
}

/// `--network`: one epoch of the user's network, the sparse method against the burn dense MLP,
/// into `network.csv` (earlier rows of other networks or settings kept); prints the two rows.
fn bench_network(
    opts: &BenchOptions,
    spec: &training::NetworkSpec,
    mut meta: Vec<SectionMeta>,
) -> Result<()> {
    let started = Instant::now();
    let commit = git_commit();
    eprintln!(
        "bench --network {}: density {}, batch {}, {} rows, {} against dense ...",
        spec.network(),
        spec.density,
        spec.batch,
        spec.rows,
        spec.method.name()
    );
    let rows = training::custom_network(spec)?;
    let path = opts.out.join("network.csv");
    let mut all: Vec<EpochBenchRow> = read_csv(&path)?.unwrap_or_default();
    let same = |a: &EpochBenchRow, b: &EpochBenchRow| {
        a.network == b.network
            && a.method == b.method
            && a.density == b.density
            && a.batch == b.batch
            && a.rows == b.rows
    };
    all.retain(|old| !rows.iter().any(|new| same(old, new)));
    all.extend(rows.iter().cloned());
    write_all_rows(&path, &all)?;
    let command = format!(
        "cargo xtask bench --network {} --density {} --batch {} --rows {} --method {}",
        spec.network(),
        spec.density,
        spec.batch,
        spec.rows,
        spec.method.name()
    );
    meta.retain(|m| m.section != "network");
    meta.push(SectionMeta {
        section: "network".into(),
        commit,
        quick: false,
        cpu: cpu_model(),
        threads: rayon::current_num_threads(),
        seconds: started.elapsed().as_secs_f64(),
        command: command.clone(),
    });
    sort_sections(&mut meta);
    write_all_rows(&opts.out.join("sections.csv"), &meta)?;
    for r in &rows {
        println!(
            "{:>7} {}: {:.3} s per epoch of {} rows (topology {:.3} s), {:.2}x dense",
            r.method, r.network, r.epoch_seconds, r.rows, r.topology_seconds, r.speedup_vs_dense
        );
    }
    if opts.peers {
        let case = case_of(&rows[1], &peers::ALL_PEERS)?;
        run_peers(
            &opts.out,
            &[case],
            &[],
            &mut meta,
            format!("{command} --peers"),
        )?;
        if let Some(p) = read_csv::<peers::PeerRow>(&opts.out.join("peers.csv"))? {
            for r in p.iter().filter(|r| r.network == rows[1].network) {
                println!(
                    "{:>17}: {:.3} s per epoch, ours {:.1}x faster ({})",
                    r.peer, r.epoch_seconds, r.ours_speedup, r.note
                );
            }
        }
    }
    let readme = report(&opts.out)?;
    println!("bench: -> {} (network.csv)", readme.display());
    Ok(())
}

/// The peers' case for our epoch row `r`.
fn case_of(r: &EpochBenchRow, which: &[&'static str]) -> Result<peers::EpochCase> {
    Ok(peers::EpochCase {
        dims: r
            .network
            .split('-')
            .map(|w| w.parse().context("network widths"))
            .collect::<Result<Vec<usize>>>()?,
        rows: r.rows,
        batch: r.batch,
        density: r.density,
        ours: (r.method.clone(), r.epoch_seconds),
        peers: which.to_vec(),
    })
}

/// Times the peers right after our measurements and merges their rows into `peers.csv` and
/// `peers_gemm.csv` (same network, peer and settings replaced); a skip says why and writes
/// nothing.
fn run_peers(
    out: &Path,
    cases: &[peers::EpochCase],
    gemm: &[(usize, usize)],
    meta: &mut Vec<SectionMeta>,
    command: String,
) -> Result<()> {
    let started = Instant::now();
    eprintln!("bench: peers (PyTorch dense, SparseProp, SparseLab) ...");
    let (epochs, gemms) = match peers::measure(cases, gemm)? {
        Ok(m) => m,
        Err(why) => {
            eprintln!("bench: peers skipped: {why}");
            return Ok(());
        }
    };
    let path = out.join("peers.csv");
    let mut all: Vec<peers::PeerRow> = read_csv(&path)?.unwrap_or_default();
    all.retain(|old| {
        !epochs.iter().any(|new| {
            old.network == new.network
                && old.peer == new.peer
                && old.density == new.density
                && old.batch == new.batch
                && old.rows == new.rows
        })
    });
    all.extend(epochs);
    write_all_rows(&path, &all)?;
    let mut gemms = gemms;
    if let Some(k) = read_csv::<KernelRow>(&out.join("kernels.csv"))? {
        for g in &mut gemms {
            g.ours_at_1_percent = k
                .iter()
                .filter(|r| {
                    (r.n_in, r.n_out, r.batch) == (g.n, g.n, g.batch)
                        && (r.density - 0.01).abs() < 1e-12
                })
                .map(|r| {
                    format!(
                        "{} {:.1} ({:.0}% of the GEMM, {:.0}% of its roofline)",
                        r.kernel,
                        r.gflops,
                        100.0 * r.gflops / g.gflops,
                        100.0 * r.share_of_roofline
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
        }
    }
    if !gemms.is_empty() {
        write_all_rows(&out.join("peers_gemm.csv"), &gemms)?;
    }
    meta.retain(|m| m.section != "peers");
    meta.push(SectionMeta {
        section: "peers".into(),
        commit: git_commit(),
        quick: false,
        cpu: cpu_model(),
        threads: rayon::current_num_threads(),
        seconds: started.elapsed().as_secs_f64(),
        command,
    });
    sort_sections(meta);
    write_all_rows(&out.join("sections.csv"), meta)
}

/// A CSV file as a markdown table, numbers shortened.
fn md_table(path: &Path) -> Result<String> {
    let mut r = csv::Reader::from_path(path)?;
    let headers = r.headers()?.clone();
    let mut s = format!("| {} |\n", headers.iter().collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(headers.len()));
    for rec in r.records() {
        let rec = rec?;
        let cells: Vec<String> = rec
            .iter()
            .map(|c| match c.parse::<f64>() {
                Ok(v) if c.contains('.') || c.contains('e') => {
                    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
                        format!("{v:.3e}")
                    } else {
                        format!("{v:.4}")
                    }
                }
                _ => c.to_string(),
            })
            .collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
    Ok(s)
}

/// One checked target: what the issue asks, what was measured, whether it holds.
struct Target {
    what: String,
    measured: String,
    met: bool,
}

fn check(what: impl Into<String>, measured: impl Into<String>, met: bool) -> Target {
    Target {
        what: what.into(),
        measured: measured.into(),
        met,
    }
}

/// The targets, checked against the section files present.
fn targets(dir: &Path) -> Result<Vec<Target>> {
    let mut t = Vec::new();
    if let Some(e) = read_csv::<EpochBenchRow>(&dir.join("epochs.csv"))? {
        let set = |d: f64| {
            e.iter()
                .find(|r| r.method == "set" && (r.density - d).abs() < 1e-12)
        };
        for (d, want) in [(0.01, 30.0), (0.05, 8.0)] {
            if let Some(r) = set(d) {
                t.push(check(
                    format!(
                        "{}: SET epoch at density {d} >= {want}x faster than dense",
                        r.network
                    ),
                    format!("{:.1}x", r.speedup_vs_dense),
                    r.speedup_vs_dense >= want,
                ));
            }
        }
        let worst = e
            .iter()
            .filter(|r| r.method == "set")
            .map(|r| r.topology_share)
            .fold(0.0f64, f64::max);
        t.push(check(
            "topology update <= 10% of the epoch at every density",
            format!("at most {:.1}%", 100.0 * worst),
            worst <= 0.1,
        ));
        if let Some(c) = crossover(&e) {
            t.push(check(
                "crossover density (SET as fast as dense)",
                format!("{c:.3}"),
                true,
            ));
        }
    }
    if let Some(p) = read_csv::<peers::PeerRow>(&dir.join("peers.csv"))? {
        let wanted: [(&str, &str, f64); 5] = [
            ("784-4000-4000-4000-10", "torch-dense", 25.0),
            ("784-4000-4000-4000-10", "sparselab-set", 5.0),
            ("784-4000-4000-4000-10", "sparseprop-static", 5.0),
            ("3072-1024-512-10", "torch-dense", 8.0),
            ("3072-1024-512-10", "sparselab-set", 3.0),
        ];
        for (network, peer, want) in wanted {
            let found = p.iter().find(|r| {
                r.network == network && r.peer == peer && (r.density - 0.01).abs() < 1e-12
            });
            if let Some(r) = found {
                t.push(check(
                    format!(
                        "{network} at 1%: our {} epoch >= {want}x faster than {peer}",
                        r.ours
                    ),
                    format!(
                        "{:.1}x ({:.2} s against {:.2} s, batch {}, {} rows)",
                        r.ours_speedup, r.ours_seconds, r.epoch_seconds, r.batch, r.rows
                    ),
                    r.ours_speedup >= want,
                ));
            }
        }
    }
    if let Some(k) = read_csv::<KernelRow>(&dir.join("kernels.csv"))? {
        for kernel in ["forward", "input_grad", "weight_grad"] {
            let worst = k
                .iter()
                .filter(|r| r.kernel == kernel && r.batch >= 32 && r.density >= 0.01)
                .min_by(|a, b| a.ratio_to_dense_rate.total_cmp(&b.ratio_to_dense_rate));
            if let Some(r) = worst {
                t.push(check(
                    format!(
                        "{kernel}: >= 25% of the dense GEMM rate (batch >= 32, density >= 0.01)"
                    ),
                    format!(
                        "worst {:.0}% ({}x{}, density {}, batch {})",
                        100.0 * r.ratio_to_dense_rate,
                        r.n_in,
                        r.n_out,
                        r.density,
                        r.batch
                    ),
                    r.ratio_to_dense_rate >= 0.25,
                ));
            }
        }
    }
    if let Some(rows) = read_csv::<kernels::SparseInputRow>(&dir.join("sparse-input.csv"))? {
        let absent: Vec<_> = rows.iter().filter(|r| r.path == "absent").collect();
        if let Some(worst) = absent.iter().min_by(|a, b| {
            a.speedup_vs_zero_filled
                .total_cmp(&b.speedup_vs_zero_filled)
        }) {
            t.push(check(
                "missing inputs left absent, first layer: never slower than zero-filled at 0, 50 \
                 and 90% missing (within 5%, the noise of one run)",
                format!(
                    "worst {:.2}x at {:.0}% missing ({})",
                    worst.speedup_vs_zero_filled,
                    100.0 * worst.missing,
                    worst.layer
                ),
                worst.speedup_vs_zero_filled >= 0.95,
            ));
        }
        if let Some(r) = absent.iter().find(|r| (r.missing - 0.9).abs() < 1e-9) {
            t.push(check(
                "missing inputs left absent, first layer: >= 4x faster than zero-filled at 90% \
                 missing",
                format!(
                    "{:.2}x ({}, kernels {})",
                    r.speedup_vs_zero_filled, r.layer, r.kernels
                ),
                r.speedup_vs_zero_filled >= 4.0,
            ));
        }
    }
    if let Some(w) = read_csv::<EpochBenchRow>(&dir.join("wdbc.csv"))? {
        for r in w.iter().filter(|r| r.method == "set") {
            t.push(check(
                format!(
                    "WDBC network, batch 10: SET epoch at density {} faster than dense",
                    r.density
                ),
                format!("{:.2}x", r.speedup_vs_dense),
                r.speedup_vs_dense > 1.0,
            ));
        }
    }
    if let Some(m) = read_csv::<MemoryRow>(&dir.join("memory.csv"))? {
        let worst = m
            .iter()
            .map(|r| r.peak_over_footprint)
            .fold(0.0f64, f64::max);
        t.push(check(
            "peak memory of training minus the data <= 2x the model's footprint",
            format!("at most {worst:.2}x"),
            worst <= 2.0,
        ));
    }
    // Bytes per connection from 10^7 connections up, over the sweep and the million-neuron
    // network alike (where the activations of 10^6 units x the batch dominate).
    let large: Vec<MemoryRow> = [
        read_csv::<MemoryRow>(&dir.join("memory.csv"))?,
        read_csv::<MemoryRow>(&dir.join("scale.csv"))?,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .filter(|r| r.nnz >= 10_000_000)
    .collect();
    if let Some(worst) = large
        .iter()
        .max_by(|a, b| a.bytes_per_nnz.total_cmp(&b.bytes_per_nnz))
    {
        let each = large
            .iter()
            .map(|r| {
                format!(
                    "{:.1} at {:.1e} ({})",
                    r.bytes_per_nnz, r.nnz as f64, r.network
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        t.push(check(
            "peak memory of training minus the data <= 32 bytes per connection from 10^7 \
             connections up",
            format!("bytes per connection: {each}"),
            worst.bytes_per_nnz <= 32.0,
        ));
    }
    if let Some(s) = read_csv::<MemoryRow>(&dir.join("scale.csv"))? {
        for r in &s {
            t.push(check(
                format!(
                    "one epoch of {} ({} hidden neurons, {} connections) completes",
                    r.network, r.hidden_neurons, r.nnz
                ),
                format!(
                    "{:.1} s, peak {:.2} GiB",
                    r.epoch_seconds,
                    r.peak_bytes as f64 / (1u64 << 30) as f64
                ),
                r.hidden_neurons >= 1_000_000,
            ));
        }
    }
    if let Some(th) = read_csv::<EpochBenchRow>(&dir.join("threads.csv"))? {
        for r in th.iter().filter(|r| r.threads > 1) {
            let ratio = 1.0 / r.speedup_vs_dense;
            t.push(check(
                format!(
                    "{} at density {}: epoch with {} threads <= 0.6x one thread",
                    r.network, r.density, r.threads
                ),
                format!("{ratio:.2}x"),
                ratio <= 0.6,
            ));
        }
    }
    if let Some(u) = read_csv::<UpdateRow>(&dir.join("updates.csv"))? {
        for r in &u {
            let limit = if r.method == "rigl" { Some(0.1) } else { None };
            t.push(check(
                format!(
                    "{} update at density {} on {}: extra peak memory{}",
                    r.method,
                    r.density,
                    r.network,
                    if limit.is_some() {
                        " <= 10% of the model"
                    } else {
                        " (reported)"
                    }
                ),
                format!(
                    "{:.1}% ({:.1} MiB), {:.3} s",
                    100.0 * r.extra_share,
                    r.extra_peak_bytes as f64 / (1u64 << 20) as f64,
                    r.update_seconds
                ),
                limit.is_none_or(|l| r.extra_share <= l),
            ));
        }
    }
    Ok(t)
}

/// The density where the SET epoch is as fast as dense, interpolated in log-density.
fn crossover(e: &[EpochBenchRow]) -> Option<f64> {
    let mut pts: Vec<(f64, f64)> = e
        .iter()
        .filter(|r| r.method == "set")
        .map(|r| (r.density, r.speedup_vs_dense))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.windows(2).find_map(|w| {
        let ((d0, s0), (d1, s1)) = (w[0], w[1]);
        (s0 >= 1.0 && s1 < 1.0).then(|| {
            let f = (s0 - 1.0) / (s0 - s1);
            (d0.ln() + f * (d1.ln() - d0.ln())).exp()
        })
    })
}

/// Writes `README.md` and the figures from the section files in `dir`; returns the README.
pub fn report(dir: &Path) -> Result<PathBuf> {
    let meta: Vec<SectionMeta> = read_csv(&dir.join("sections.csv"))?.unwrap_or_default();
    let mut s = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        s,
        "Generated by `cargo xtask bench` (each section's command, commit and machine below). \
         Every ratio compares two timings taken in the same process (or, for memory, the same \
         kind of process) one after the other; absolute times drift between machines.\n"
    );
    s.push_str("| section | command | commit | CPU | rayon threads | seconds |\n|---|---|---|---|---|---|\n");
    for m in &meta {
        let _ = writeln!(
            s,
            "| {} | `{}` | `{}` | {} | {} | {:.0} |",
            m.section,
            if m.command.is_empty() {
                format!(
                    "cargo xtask bench{} --only {}",
                    if m.quick { " --quick" } else { "" },
                    m.section
                )
            } else {
                m.command.clone()
            },
            m.commit,
            m.cpu,
            m.threads,
            m.seconds
        );
    }
    let t = targets(dir)?;
    if !t.is_empty() {
        s.push_str("\n## Targets\n\n| target | measured | met |\n|---|---|---|\n");
        for x in &t {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                x.what,
                x.measured,
                if x.met { "yes" } else { "**no**" }
            );
        }
    }
    let sections: [(&str, &str, &str); 11] = [
        ("kernels", "Kernels", "GFLOP/s counted as `2 batch nnz` per product; the dense reference is burn flex's GEMM on the same `batch x n x n` shape. Activations feature-major on cache lines, as the model keeps them. `roofline_gflops` is each product's memory roofline, measured: the same rows gathered in the same order with adds and no multiplies (`kernels::gather_rows`); `share_of_roofline` near 1 means the product runs at the speed of its loads.\n\n![kernels](kernels_speedup.png)"),
        ("sparse-input", "Missing inputs left absent", "Forward plus weight gradient of the first layer. `zero-filled`: the dense kernels on the batch with zeros at the missing entries; `absent`: what training with absent inputs runs, per product the faster of the sparse-input kernel and the zero-filled one (`kernels` says which; the numbers are the same bits either way); `sparse-kernels`: the sparse-input kernels alone. `macs_performed` against `macs_observed` shows the work the zero-filled kernels spend on missing inputs."),
        ("wdbc", "The seed paper's WDBC network", "30-100-100-100-2, batch 10, 455 rows, the fastest of 5 first epochs."),
        ("epochs", "Training epoch vs density", "SET (zeta 0.3, topology update included) against the burn dense MLP of the same shape, batch 128, the first of two epochs.\n\n![epoch](epoch_speedup.png)"),
        ("threads", "Threads", "`speedup_vs_dense` holds here the speed-up over one thread."),
        ("updates", "One topology update", "Peak resident memory during the update minus resident memory just before it (Linux `clear_refs`), in its own process."),
        ("memory", "Memory vs connections", "Peak resident memory of two training epochs (one SET update) minus the resident memory before the model was built, one process per size.\n\n![memory](memory.png)"),
        ("scale", "A million hidden neurons", "Erdos-Renyi epsilon 20, two epochs, the first timed."),
        ("network", "Your own networks", "`cargo xtask bench --network <widths> --density D --batch B --rows N --method set|rigl|static`: the first of two epochs on seeded synthetic classes, the method (topology update included) against the burn dense MLP of the same shape; every layer but the dense output layer at density D. One row pair per network and settings measured."),
        ("peers", "Against what users would pick: PyTorch, SparseProp, SparseLab", "`cargo xtask bench --peers` (or `--network ... --peers`): PyTorch dense (MKL), SparseProp 0.1.14 (static sparse, C++ kernels) and SparseLab 0.2.2 (PyTorch-native SET, drop fraction 0.3 every 100 steps), timed right after our epoch on the same network, density, batch and rows (ReLU, dropout 0.1, dense output layer, SGD 0.01 with momentum 0.9), each epoch extrapolated from 30 timed batches after 3 warm-up ones; `ours_speedup` is their epoch over ours, both from the same bench run."),
        ("peers_gemm", "torch.matmul's GEMM rate", "GFLOP/s of `batch x n` by `n x n` (counted `2 batch n^2`), and our three sparse products at 1% on the same shape from the same run (counted `2 batch nnz`, with their share of the dense rate: a sparse product does 100x less work at 1%)."),
    ];
    for (file, title, note) in sections {
        let path = dir.join(format!("{file}.csv"));
        if path.exists() {
            let _ = writeln!(s, "\n## {title}\n\n{note}\n");
            s.push_str(&md_table(&path)?);
        }
    }
    figures(dir)?;
    let readme = dir.join("README.md");
    std::fs::write(&readme, s)?;
    Ok(readme)
}

fn figures(dir: &Path) -> Result<()> {
    if let Some(k) = read_csv::<KernelRow>(&dir.join("kernels.csv"))? {
        let mut panels = Vec::new();
        for kernel in ["forward", "input_grad", "weight_grad"] {
            let mut keys: Vec<(usize, usize)> = k.iter().map(|r| (r.n_in, r.batch)).collect();
            keys.sort();
            keys.dedup();
            let series = keys
                .iter()
                .enumerate()
                .map(|(i, (n, b))| Series {
                    label: format!("{n}x{n}, batch {b}"),
                    color: i,
                    dashed: *n > 1000,
                    band: false,
                    points: k
                        .iter()
                        .filter(|r| r.kernel == kernel && r.n_in == *n && r.batch == *b)
                        .map(|r| {
                            (
                                r.density,
                                r.ratio_to_dense_rate,
                                r.ratio_to_dense_rate,
                                r.ratio_to_dense_rate,
                            )
                        })
                        .collect(),
                })
                .collect();
            panels.push(Panel {
                title: kernel.into(),
                x_label: "density".into(),
                y_label: "sparse GFLOP/s / dense GEMM GFLOP/s".into(),
                series,
                x_log: true,
                y_range: None,
            });
        }
        line_panels(
            &dir.join("kernels_speedup"),
            "Sparse kernel rate as a share of dense GEMM (burn flex)",
            &panels,
            3,
        )?;
    }
    if let Some(e) = read_csv::<EpochBenchRow>(&dir.join("epochs.csv"))? {
        let pts: Vec<(f64, f64, f64, f64)> = e
            .iter()
            .filter(|r| r.method == "set")
            .map(|r| {
                (
                    r.density,
                    r.speedup_vs_dense,
                    r.speedup_vs_dense,
                    r.speedup_vs_dense,
                )
            })
            .collect();
        let even = pts.iter().map(|p| (p.0, 1.0, 1.0, 1.0)).collect();
        line_panels(
            &dir.join("epoch_speedup"),
            "SET-MLP epoch against the burn dense MLP epoch",
            &[Panel {
                title: e.first().map(|r| r.network.clone()).unwrap_or_default(),
                x_label: "density of the hidden layers".into(),
                y_label: "dense epoch time / SET epoch time".into(),
                series: vec![
                    Series {
                        label: "SET (topology update included)".into(),
                        color: 0,
                        dashed: false,
                        band: false,
                        points: pts,
                    },
                    Series {
                        label: "as fast as dense".into(),
                        color: usize::MAX,
                        dashed: true,
                        band: false,
                        points: even,
                    },
                ],
                x_log: true,
                y_range: None,
            }],
            1,
        )?;
    }
    if let Some(m) = read_csv::<MemoryRow>(&dir.join("memory.csv"))? {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        let line = |f: &dyn Fn(&MemoryRow) -> f64| {
            m.iter().map(|r| (r.nnz as f64, f(r), f(r), f(r))).collect()
        };
        line_panels(
            &dir.join("memory"),
            "Peak training memory against connections",
            &[Panel {
                title: m.first().map(|r| r.network.clone()).unwrap_or_default(),
                x_label: "connections (nnz)".into(),
                y_label: "GiB".into(),
                series: vec![
                    Series {
                        label: "peak resident growth".into(),
                        color: 0,
                        dashed: false,
                        band: false,
                        points: line(&|r| gib(r.peak_bytes)),
                    },
                    Series {
                        label: "model footprint".into(),
                        color: 1,
                        dashed: true,
                        band: false,
                        points: line(&|r| gib(r.footprint_bytes)),
                    },
                ],
                x_log: true,
                y_range: None,
            }],
            1,
        )?;
    }
    Ok(())
}
