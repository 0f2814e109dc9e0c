//! Running every pending run of an experiment in parallel, with progress bars, durable results
//! and a summary at the end.

use crate::checkpoint::{self, CheckpointPolicy};
use crate::config::ExperimentConfig;
use crate::grid::{expand, RunSpec};
use crate::results::{ResultStore, RunRow};
use crate::{datasets, pipeline, recording, run, summary};
use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// How to run an experiment.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results folder; default `results/runs/<config name>`.
    pub out: Option<PathBuf>,
    /// Runs executed at once (default: all cores).
    pub jobs: Option<usize>,
    /// Delete previous results in the folder first.
    pub fresh: bool,
    /// No progress bars and no table on stdout.
    pub quiet: bool,
    /// Run only one shard of the grid, into its own folder (see [`Shard`]).
    pub shard: Option<Shard>,
    /// Checkpoint every run after every this many epochs into `<folder>/checkpoints/`, and
    /// resume runs from their checkpoints (see [`crate::checkpoint`]). Not part of any run
    /// key: results are the same with and without it.
    pub checkpoint_every: Option<usize>,
}

impl RunOptions {
    /// Into `out` with `jobs` runs at once, resuming, without progress display, shards or
    /// checkpoints: how tests and scripts run a config.
    pub fn quiet_into(out: &Path, jobs: usize) -> RunOptions {
        RunOptions {
            out: Some(out.to_path_buf()),
            jobs: Some(jobs),
            fresh: false,
            quiet: true,
            shard: None,
            checkpoint_every: None,
        }
    }
}

/// One of `count` disjoint parts of a grid: the runs, ordered by their key (`run_id`), taken
/// round-robin (run `k` belongs to shard `k % count`), so every shard gets a similar mix of
/// methods and sizes. A shard writes its own files under `DIR/shards/<index>-of-<count>/`, so
/// no two processes ever append to the same file; `cargo xtask collect DIR` merges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index of this shard.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    /// Parses `I/N` with `0 <= I < N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The shard's folder inside the experiment's results folder.
    pub fn dir(&self, experiment_dir: &Path) -> PathBuf {
        experiment_dir
            .join("shards")
            .join(format!("{}-of-{}", self.index, self.count))
    }

    /// The runs of this shard, from the whole grid.
    pub fn select(&self, runs: Vec<RunSpec>) -> Vec<RunSpec> {
        let mut runs = runs;
        runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        runs.into_iter()
            .enumerate()
            .filter(|(k, _)| k % self.count == self.index)
            .map(|(_, r)| r)
            .collect()
    }
}

/// What a finished `run` did.
#[derive(Debug)]
pub struct ExperimentReport {
    /// The results folder.
    pub dir: PathBuf,
    /// Runs of the grid.
    pub total: usize,
    /// Runs executed now (the others were finished before).
    pub executed: usize,
    /// The printed summary table.
    pub table: String,
    /// Wall time of this call.
    pub seconds: f64,
    /// Finished run rows of the grid (all of them, not only those run now).
    pub rows: Vec<crate::results::RunRow>,
}

/// The CPU's model name from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
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

/// The git commit of the working tree ([`crate::repo::root`]; `-dirty` when files outside
/// `results/` have uncommitted changes), or `unknown` outside a repository.
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(crate::repo::root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            // Results are outputs, not code: their changes do not make the tree dirty.
            let dirty = git(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(top,exclude)results",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{c}-dirty")
            } else {
                c
            }
        }
        _ => "unknown".into(),
    }
}

/// Runs the experiment defined in `config_path`.
pub fn run_experiment(config_path: &Path, opts: &RunOptions) -> Result<ExperimentReport> {
    let (cfg, config_dir) = ExperimentConfig::load(config_path)?;
    run_config(&cfg, &config_dir, opts).with_context(|| format!("{}", config_path.display()))
}

/// Runs a loaded (and validated) config; relative dataset paths are resolved from
/// `config_dir`.
pub fn run_config(
    cfg: &ExperimentConfig,
    config_dir: &Path,
    opts: &RunOptions,
) -> Result<ExperimentReport> {
    let cfg = cfg.clone();
    let full = datasets::load(&cfg.data, config_dir)?;
    // Check the architecture and the named columns against the data before any run starts.
    run::layer_sizes(&cfg, &full, full.n_features())?;
    pipeline::named_columns(&full, &cfg)?;
    pipeline::check_relevant_features(&full, &cfg)?;
    recording::check(&cfg)?;
    let experiment_dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/runs").join(&cfg.name));
    let dir = match opts.shard {
        Some(shard) => shard.dir(&experiment_dir),
        None => experiment_dir.clone(),
    };
    let store = ResultStore::open(&dir, opts.fresh)?;
    for (version, n) in store.stale() {
        eprintln!(
            "{}: {n} finished run(s) were computed by numerics version {version}, this code \
             computes version {}: they run again",
            dir.display(),
            crate::numerics::VERSION
        );
    }
    if store.unversioned() > 0 && !opts.quiet {
        eprintln!(
            "note: {}: {} finished run(s) predate the numerics fingerprint and are kept as \
             they are; `--fresh` reruns them",
            dir.display(),
            store.unversioned()
        );
    }
    // The resolved config beside its results, so `figures DIR` can redraw from the folder
    // (and `collect` can check a sharded grid for missing cells).
    let config_text = toml::to_string(&cfg).context("serialising the config")?;
    std::fs::write(dir.join("config.toml"), &config_text)?;
    if opts.shard.is_some() {
        std::fs::write(experiment_dir.join("config.toml"), &config_text)?;
    }
    let runs = match opts.shard {
        Some(shard) => shard.select(expand(&cfg)),
        None => expand(&cfg),
    };
    let pending: Vec<&RunSpec> = runs.iter().filter(|r| !store.is_done(&r.run_id)).collect();
    let checkpoints = opts
        .checkpoint_every
        .filter(|&k| k > 0)
        .map(|k| CheckpointPolicy::new(&dir, k));
    let checkpoint_dir = dir.join(checkpoint::DIR);
    if opts.fresh && checkpoint_dir.exists() {
        std::fs::remove_dir_all(&checkpoint_dir)
            .with_context(|| format!("deleting {}", checkpoint_dir.display()))?;
    }
    // Killed between recording a run and deleting its checkpoint: delete it now.
    for r in runs.iter().filter(|r| store.is_done(&r.run_id)) {
        checkpoint::remove(&checkpoint_dir, &r.run_id)?;
    }
    let commit = git_commit();
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();

    let multi = MultiProgress::new();
    if opts.quiet {
        multi.set_draw_target(ProgressDrawTarget::hidden());
    }
    let overall = multi.add(ProgressBar::new(pending.len() as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    overall.set_prefix(cfg.name.clone());
    let run_style =
        ProgressStyle::with_template("  {prefix:<56} [{bar:20}] epoch {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> ");

    let store = Mutex::new(store);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker pool")?;
    let failures: Vec<String> = pool.install(|| {
        pending
            .par_iter()
            .filter_map(|spec| {
                let bar =
                    multi.insert_before(&overall, ProgressBar::new(cfg.training.epochs as u64));
                bar.set_style(run_style.clone());
                bar.set_prefix(format!(
                    "{} {} {}:{} {} seed {}",
                    spec.method,
                    fmt_level(spec),
                    spec.missing_mechanism.name(),
                    spec.missing_rate,
                    spec.imputation,
                    spec.seed
                ));
                let mut on_epoch = |e: &models::EpochRecord| {
                    bar.set_position(e.epoch as u64);
                    bar.set_message(format!("test acc {:.3}", e.test_accuracy));
                };
                let result = run::execute(
                    &cfg,
                    spec,
                    &full,
                    &commit,
                    &mut on_epoch,
                    checkpoints.as_ref(),
                )
                .and_then(|r| {
                    if r.row.diverged {
                        // Said even with --quiet: it changes what the means are over.
                        multi.suspend(|| eprintln!("warning: {}", divergence(&r.row)));
                    }
                    store
                        .lock()
                        .expect("no panic while holding the store")
                        .record(&r.row, &r.files)
                })
                // The run's row is durable: its checkpoint is no longer needed.
                .and_then(|()| checkpoint::remove(&checkpoint_dir, &spec.run_id));
                bar.finish_and_clear();
                multi.remove(&bar);
                overall.inc(1);
                result.err().map(|e| format!("run {}: {e:#}", spec.run_id))
            })
            .collect()
    });
    overall.finish_and_clear();
    // Gone when every run finished (fails, as it should, while any checkpoint is left).
    let _ = std::fs::remove_dir(&checkpoint_dir);
    let store = store
        .into_inner()
        .expect("no panic while holding the store");
    if !failures.is_empty() {
        anyhow::bail!("{} run(s) failed:\n{}", failures.len(), failures.join("\n"));
    }

    let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.run_id.as_str()).collect();
    let rows: Vec<_> = store
        .runs()?
        .into_iter()
        .filter(|r| ids.contains(r.run_id.as_str()))
        .collect();
    let commits: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.commit.as_str()).collect();
    if commits.len() > 1 && !opts.quiet {
        eprintln!(
            "warning: {} mixes results of commits {:?}; use --fresh to rerun all at one commit",
            dir.display(),
            commits
        );
    }
    let diverged = rows.iter().filter(|r| r.diverged).count();
    if diverged > 0 {
        eprintln!(
            "warning: {diverged} of the {} runs of {} diverged; they are marked `diverged` in \
             runs.csv, counted in summary.csv's `n_diverged` and left out of its means",
            rows.len(),
            dir.display()
        );
    }
    let df = summary::write_summary(&dir, &rows)?;
    let table = summary::format_table(&df)?;
    if !opts.quiet {
        println!(
            "{}: {} runs ({} run now, {} already finished) in {:.1} s -> {}",
            cfg.name,
            runs.len(),
            pending.len(),
            runs.len() - pending.len(),
            started.elapsed().as_secs_f64(),
            dir.display()
        );
        print!("{table}");
    }
    Ok(ExperimentReport {
        dir,
        total: runs.len(),
        executed: pending.len(),
        table,
        seconds: started.elapsed().as_secs_f64(),
        rows,
    })
}

/// What happened to a diverged run, for the warning on stderr.
fn divergence(row: &RunRow) -> String {
    match row.diverged_epoch {
        Some(e) => format!(
            "run {} diverged in epoch {e} (a non-finite output, weight or bias): training \
             stopped there; the run is marked `diverged` in runs.csv and left out of the means",
            row.run_id
        ),
        None => format!(
            "run {}: a scoring run it depends on diverged; the run is marked `diverged` in \
             runs.csv and left out of the means",
            row.run_id
        ),
    }
}

fn fmt_level(spec: &RunSpec) -> String {
    match spec.epsilon {
        Some(e) => format!("eps {e}"),
        None => format!("sparsity {}", spec.sparsity),
    }
}
