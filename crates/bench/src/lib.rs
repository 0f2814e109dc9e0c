//! `cargo xtask bench`: performance measured side by side, so every reported figure is a
//! ratio of two timings taken on the same machine at the same time.
//!
//! Sections (each writes `<section>.csv` into the output folder; `--only` reruns some and
//! keeps the others' files):
//! - `kernels`: the three sparse-layer products against burn flex's dense GEMM;
//! - `sparse-input`: the first layer with 0, 50 and 90% of the inputs absent;
//! - `subnormals`: the three products with subnormal operands against normal ones;
//! - `epochs`: a SET-MLP epoch against the burn dense MLP epoch across densities;
//! - `wdbc`: the seed paper's network;
//! - `threads`: one thread against all of them;
//! - `memory`, `scale`, `updates`: peak memory, the million-neuron network and the extra
//!   memory of one RigL and one SET update, each in a fresh process (see [`memory`]).
//!
//! `--baseline <commit>` also runs an earlier commit's own kernels section beside ours
//! ([`baseline`]); `--peers` times PyTorch, SparseProp and SparseLab after the sections, on
//! the epochs' network and on 3072-1024-512-10 ([`peers`]).
//!
//! `README.md` is generated from whatever section files the folder holds, with the issue's
//! targets checked against them.

pub mod baseline;
pub mod kernels;
pub mod measure;
pub mod memory;
pub mod peers;
pub mod report;
pub mod training;

use anyhow::{bail, Context, Result};
use experiments::results::{read_rows, write_all_rows};
use experiments::runner::{cpu_model, git_commit};
use kernels::KernelRow;
use memory::{MemoryRow, ProbeResult, UpdateRow};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use training::EpochBenchRow;

pub use memory::{run_probe, Probe};
pub use report::report;

/// The `bench-probe` subcommand: runs the probe given as JSON, returns its result as JSON.
pub fn run_probe_json(spec: &str) -> Result<String> {
    let probe: Probe = serde_json::from_str(spec).context("parsing the probe")?;
    Ok(serde_json::to_string(&run_probe(&probe)?)?)
}

/// Every section, in the order they run.
pub const SECTIONS: &[&str] = &[
    "kernels",
    "sparse-input",
    "subnormals",
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
    /// Also run this earlier commit's kernels section, built from its own sources in a cache
    /// folder, in rounds with ours (`kernels_baseline.csv`; [`baseline`]).
    pub baseline: Option<String>,
}

/// A folder of the bench's cache outside the repository: `$<env>` when set, else
/// `~/.cache/dst-sparse-data/<name>` (the peers' Python environment, earlier commits' builds).
fn cache_folder(env: &str, name: &str) -> PathBuf {
    if let Some(v) = std::env::var_os(env) {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/dst-sparse-data").join(name)
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
    /// The command that measured it (`bench_command`); empty in rows written before the
    /// command was recorded, which the report shows as `cargo xtask bench --only <section>`.
    #[serde(default)]
    command: String,
}

/// Replaces `section`'s row of `meta` with one taken on this machine now, and sorts the rows
/// as `sections.csv` lists them.
fn record_section(
    meta: &mut Vec<SectionMeta>,
    section: &str,
    commit: String,
    quick: bool,
    seconds: f64,
    command: String,
) {
    meta.retain(|m| m.section != section);
    meta.push(SectionMeta {
        section: section.into(),
        commit,
        quick,
        cpu: cpu_model(),
        threads: rayon::current_num_threads(),
        seconds,
        command,
    });
    sort_sections(meta);
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
    // Checked and extracted before any section runs, so a wrong commit fails at once.
    let earlier = match &opts.baseline {
        Some(_) if !selected.contains(&"kernels") => {
            bail!("--baseline compares the kernels section: add `kernels` to --only")
        }
        Some(rev) => Some(baseline::Baseline::prepare(&baseline::resolve(rev)?)?),
        None => None,
    };
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
            "kernels" => match &earlier {
                None => write_all_rows(&path, &kernels::kernels(opts.quick, budget))?,
                Some(b) => {
                    let (ours, rows) =
                        b.rounds(opts.quick, || kernels::kernels(opts.quick, budget))?;
                    write_all_rows(&path, &ours)?;
                    write_all_rows(&opts.out.join("kernels_baseline.csv"), &rows)?;
                    let seconds = t.elapsed().as_secs_f64();
                    record_section(
                        &mut meta,
                        "baseline",
                        commit.clone(),
                        opts.quick,
                        seconds,
                        bench_command(opts),
                    );
                }
            },
            "sparse-input" => write_all_rows(&path, &kernels::sparse_input(opts.quick, budget))?,
            "subnormals" => write_all_rows(&path, &kernels::subnormals(opts.quick, budget))?,
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
        let seconds = t.elapsed().as_secs_f64();
        record_section(
            &mut meta,
            section,
            commit.clone(),
            opts.quick,
            seconds,
            bench_command(opts),
        );
        write_all_rows(&meta_path, &meta)?;
    }
    if opts.peers {
        let cases = peer_cases(&opts.out, opts.quick)?;
        // The kernels section's largest shape: 4000 x 4000 at batch 128 (1000 at 32, quick).
        let (batch, n) = if opts.quick { (32, 1000) } else { (128, 4000) };
        run_peers(
            &opts.out,
            &cases,
            &[(batch, n)],
            opts.quick,
            &mut meta,
            bench_command(opts),
        )?;
    }
    let readme = report(&opts.out)?;
    println!(
        "bench: {:.0} s -> {}",
        started.elapsed().as_secs_f64(),
        readme.display()
    );
    Ok(())
}

/// The networks a sections run times the peers on: the epochs section's SET network at 1%
/// (784-4000-4000-4000-10, from `epochs.csv` in `out`) and, but in a quick run, the issue's
/// second network ([`peers::CIFAR10_NETWORK`]), so that one `cargo xtask bench --peers` gives
/// every ratio the targets table checks.
fn peer_cases(out: &Path, quick: bool) -> Result<Vec<peers::EpochCase>> {
    let mut cases = Vec::new();
    if let Some(e) = read_csv::<EpochBenchRow>(&out.join("epochs.csv"))? {
        if let Some(r) = e
            .iter()
            .find(|r| r.method == "set" && (r.density - 0.01).abs() < 1e-12)
        {
            cases.push(case_of(r, &peers::ALL_PEERS)?);
        }
    }
    if !quick {
        let (network, density, batch, rows) = peers::CIFAR10_NETWORK;
        let method = training::BenchMethod::Set;
        cases.push(peers::EpochCase {
            spec: training::NetworkSpec::new(network, density, batch, rows, method)?,
            peers: peers::ALL_PEERS.to_vec(),
        });
    }
    Ok(cases)
}

/// The command line of a sections run (not `--network`, whose rows name their own), as
/// `sections.csv` records it for every section it measured: a full run's sections then say
/// they came from one run, with its `--baseline` and `--peers`.
fn bench_command(opts: &BenchOptions) -> String {
    let mut c = String::from("cargo xtask bench");
    if opts.quick {
        c.push_str(" --quick");
    }
    if !opts.only.is_empty() {
        c.push_str(&format!(" --only {}", opts.only.join(",")));
    }
    if let Some(rev) = &opts.baseline {
        c.push_str(&format!(" --baseline {rev}"));
    }
    if opts.peers {
        c.push_str(" --peers");
    }
    c
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
    let seconds = started.elapsed().as_secs_f64();
    record_section(
        &mut meta,
        "network",
        commit,
        false,
        seconds,
        command.clone(),
    );
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
            false,
            &mut meta,
            format!("{command} --peers"),
        )?;
        if let Some(p) = read_csv::<peers::PeerRow>(&opts.out.join("peers.csv"))? {
            for r in p.iter().filter(|r| r.network == rows[1].network) {
                println!(
                    "{:>17}: {:.3} s per epoch, ours {:.1}x faster ({:.1}x to {:.1}x in {} rounds; {})",
                    r.peer,
                    r.epoch_seconds,
                    r.ours_speedup,
                    r.ours_speedup_min,
                    r.ours_speedup_max,
                    r.rounds,
                    r.note
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
        spec: training::NetworkSpec::new(
            &r.network,
            r.density,
            r.batch,
            r.rows,
            r.method.parse()?,
        )?,
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
    quick: bool,
    meta: &mut Vec<SectionMeta>,
    command: String,
) -> Result<()> {
    let started = Instant::now();
    eprintln!("bench: peers (PyTorch dense, SparseProp, SparseLab) ...");
    let ours: Vec<training::SparseEpoch> = cases
        .iter()
        .map(|c| training::SparseEpoch::new(&c.spec))
        .collect();
    let rounds = if quick { 1 } else { peers::ROUNDS };
    let measured = peers::measure(cases, gemm, rounds, |i| Ok(ours[i].time()?.0))?;
    let (epochs, gemms) = match measured {
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
    let seconds = started.elapsed().as_secs_f64();
    record_section(meta, "peers", git_commit(), false, seconds, command);
    write_all_rows(&out.join("sections.csv"), meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_record_the_command_that_measured_them() {
        let mut opts = BenchOptions {
            out: PathBuf::from("results/bench"),
            quick: false,
            only: Vec::new(),
            probe_exe: None,
            network: None,
            peers: true,
            baseline: Some("efd65c6".into()),
        };
        assert_eq!(
            bench_command(&opts),
            "cargo xtask bench --baseline efd65c6 --peers"
        );
        (opts.quick, opts.peers, opts.baseline) = (true, false, None);
        opts.only = vec!["kernels".into(), "threads".into()];
        assert_eq!(
            bench_command(&opts),
            "cargo xtask bench --quick --only kernels,threads"
        );
    }

    /// A full `--peers` run times the peers on both networks of the targets table: the epochs
    /// section's (read from its file) and the CIFAR-10 one; a quick run only on the former.
    #[test]
    fn a_full_peers_run_covers_both_target_networks() {
        let networks = |out: &Path, quick: bool| -> Vec<(String, f64, usize, usize)> {
            let cases = peer_cases(out, quick).unwrap();
            assert!(cases.iter().all(|c| c.peers == peers::ALL_PEERS));
            cases
                .iter()
                .map(|c| (c.spec.network(), c.spec.density, c.spec.batch, c.spec.rows))
                .collect()
        };
        let cifar = ("3072-1024-512-10".to_string(), 0.01, 100, 50_000);
        let empty = std::env::temp_dir().join(format!("peer-cases-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(networks(&empty, false), std::slice::from_ref(&cifar));
        assert!(networks(&empty, true).is_empty());
        std::fs::remove_dir_all(&empty).unwrap();
        // The committed epochs of 784-4000-4000-4000-10 (SET at 1%, batch 128).
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/bench");
        let first = networks(&committed, false)[0].clone();
        assert_eq!(first.0, "784-4000-4000-4000-10");
        assert_eq!((first.1, first.2), (0.01, 128));
        assert_eq!(networks(&committed, false)[1], cifar);
        assert_eq!(networks(&committed, true), [first]);
    }
}
