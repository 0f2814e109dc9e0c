//! `cargo xtask`: the one entry point of the framework (see the README).

use anyhow::Result;
use bench::training::NetworkSpec;
use bench::{bench, run_probe_json, BenchOptions};
use clap::{Parser, Subcommand};
use experiments::{run_experiment, RunOptions};
use std::path::PathBuf;
use studies::reproduce::{redraw, reproduce, ReproduceOptions};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Dynamic sparse training with sparse data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by the commands that run experiments.
#[derive(clap::Args)]
struct Execution {
    /// Runs executed at once [default: all cores].
    #[arg(long)]
    jobs: Option<usize>,
    /// Delete previous results and start over.
    #[arg(long)]
    fresh: bool,
    /// No progress bars or table.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run one experiment definition: every grid cell and seed not finished yet.
    Run {
        /// The experiment's TOML file.
        config: PathBuf,
        /// Results folder [default: results/runs/<config name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only shard I of N of the grid (0-based), into OUT/shards/I-of-N/; merge the
        /// shards with `cargo xtask collect OUT`.
        #[arg(long, value_name = "I/N")]
        shard: Option<experiments::runner::Shard>,
        /// Checkpoint every run after every K epochs (OUT/checkpoints/); a run killed and
        /// started again continues from its last checkpoint with identical results.
        #[arg(long, value_name = "K")]
        checkpoint_every: Option<usize>,
        #[command(flatten)]
        exec: Execution,
    },
    /// Hand a grid to Slurm: a job array of N shards running this binary, then a collect job.
    Slurm {
        /// The experiment's TOML file.
        config: PathBuf,
        /// Number of array tasks (shards).
        #[arg(long)]
        array: usize,
        /// Results folder [default: results/runs/<config name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Slurm partition.
        #[arg(long)]
        partition: Option<String>,
        /// Time limit per task.
        #[arg(long, default_value = "04:00:00")]
        time: String,
        /// CPUs per task (also the runs each task executes at once).
        #[arg(long, default_value_t = 2)]
        cpus: usize,
        /// Memory per task.
        #[arg(long, default_value = "8G")]
        mem: String,
        /// Tasks checkpoint their runs every K epochs, so a requeued task continues a run
        /// from its last checkpoint.
        #[arg(long, value_name = "K")]
        checkpoint_every: Option<usize>,
        /// Write and print the scripts without submitting them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Merge the shards of a grid (OUT/shards/*) into OUT's results files, summary and figures;
    /// refuses duplicate runs and names the runs no shard finished.
    Collect {
        /// The experiment's results folder (the `--out` of its shards).
        dir: PathBuf,
    },
    /// Run every study in experiments/studies/ and regenerate tables, figures and README.md.
    Reproduce {
        /// The reduced grids (minutes, for CI).
        #[arg(long)]
        quick: bool,
        /// Results folder.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Only these studies or families of studies (`--only part2-forgetting part2-subsets`,
        /// or repeated; `part2-forgetting` selects every `part2-forgetting-*`).
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        only: Vec<String>,
        /// Train nothing: fail, listing them, when runs of the studies' grids are missing or
        /// were computed by another numerics version; otherwise redraw every table and figure
        /// from the committed files.
        #[arg(long, conflicts_with = "fresh")]
        check: bool,
        #[command(flatten)]
        exec: Execution,
    },
    /// Performance: kernels, training epochs, memory and scale against dense, side by side.
    Bench {
        /// Small sizes (CI).
        #[arg(long)]
        quick: bool,
        /// Output folder.
        #[arg(long, default_value = "results/bench")]
        out: PathBuf,
        /// Run only these sections (kernels, sparse-input, subnormals, wdbc, epochs, threads,
        /// updates, memory, scale); the folder keeps the others' files.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        only: Vec<String>,
        /// Your own network instead of the sections: layer widths, input first, the last the
        /// number of classes (e.g. 3072-1024-512-10); one epoch of it against burn's dense MLP
        /// of the same shape, into network.csv.
        #[arg(long, conflicts_with_all = ["only", "quick"])]
        network: Option<String>,
        /// Density of every layer but the dense output layer (with --network).
        #[arg(long, default_value_t = 0.01, requires = "network")]
        density: f64,
        /// Batch size (with --network).
        #[arg(long, default_value_t = 100, requires = "network")]
        batch: usize,
        /// Training rows of the epoch (with --network).
        #[arg(long, default_value_t = 50_000, requires = "network")]
        rows: usize,
        /// The sparse method: set, rigl or static (with --network).
        #[arg(long, default_value = "set", requires = "network")]
        method: String,
        /// Also time PyTorch dense, SparseProp and SparseLab on the same networks in the same
        /// run (with the sections: the epochs' 784-4000-4000-4000-10 and, but with --quick,
        /// 3072-1024-512-10 at batch 100, 50,000 rows), from a Python environment built once
        /// from PyPI in ~/.cache/dst-sparse-data/ (about 5 GB; `DST_PEERS_VENV` moves it).
        /// Skipped, saying why, without Python or the registry. Not for CI.
        #[arg(long)]
        peers: bool,
        /// Also run this earlier commit's own kernels section in 3 rounds with ours, built once
        /// from its sources in ~/.cache/dst-sparse-data/baseline (`DST_BASELINE_DIR` moves it;
        /// the first build takes 15-30 min), into kernels_baseline.csv (e.g. `--baseline
        /// efd65c6`, main before issue 16). Needs the kernels section.
        #[arg(long, conflicts_with = "network")]
        baseline: Option<String>,
    },
    /// One memory measurement in a fresh process (used by `bench`).
    #[command(hide = true)]
    BenchProbe {
        /// The probe, as JSON.
        spec: String,
    },
    /// Check the CSV files of a `reproduce --quick` output against the committed digests
    /// (experiments/reference/quick-guard.toml); `--write` rewrites them when numbers change on
    /// purpose (with a numerics version bump).
    Guard {
        /// The results folder `reproduce --quick --out DIR` wrote.
        dir: PathBuf,
        /// Rewrite the reference from DIR instead of checking.
        #[arg(long)]
        write: bool,
    },
    /// Redraw the figures of a results folder from its CSV files.
    Figures {
        /// A study's results folder (holding config.toml and runs.csv).
        dir: PathBuf,
    },
}

fn main() {
    // The studies' protocols ([continual], ...) before any config is read.
    studies::install();
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Refuses a config whose `report.figures` names no registered study's analysis before any run
/// starts (the runner reads the names; the studies crate knows them).
fn check_figures(config: &std::path::Path) -> Result<()> {
    let (cfg, _) = experiments::ExperimentConfig::load(config)?;
    Ok(studies::check_figures(config, &cfg)?)
}

fn real_main() -> Result<()> {
    match Cli::parse().command {
        Command::Slurm {
            config,
            array,
            out,
            partition,
            time,
            cpus,
            mem,
            checkpoint_every,
            dry_run,
        } => {
            check_figures(&config)?;
            let scripts = experiments::slurm::write_scripts(&experiments::slurm::SlurmOptions {
                config,
                array,
                out,
                partition,
                time,
                cpus,
                mem,
                binary: std::env::current_exe()?,
                checkpoint_every,
            })?;
            if dry_run {
                for p in [&scripts.array, &scripts.collect] {
                    println!("# {}\n{}", p.display(), std::fs::read_to_string(p)?);
                }
                print!("# submit with:\n{}", scripts.submit);
            } else {
                let (a, c) = experiments::slurm::submit(&scripts)?;
                println!("submitted array job {a} and collect job {c} (after the array)");
            }
        }
        Command::Collect { dir } => {
            let c = experiments::collect::collect(&dir)?;
            redraw(&dir)?;
            println!(
                "collect: {} runs from {} shards -> {}",
                c.runs,
                c.shards.len(),
                dir.display()
            );
        }
        Command::Run {
            config,
            out,
            shard,
            checkpoint_every,
            exec,
        } => {
            check_figures(&config)?;
            run_experiment(
                &config,
                &RunOptions {
                    out,
                    jobs: exec.jobs,
                    fresh: exec.fresh,
                    quiet: exec.quiet,
                    shard,
                    checkpoint_every,
                },
            )?;
        }
        Command::Reproduce {
            quick,
            out,
            only,
            check,
            exec,
        } => reproduce(&ReproduceOptions {
            out,
            quick,
            only,
            jobs: exec.jobs,
            fresh: exec.fresh,
            quiet: exec.quiet,
            check,
        })?,
        Command::Bench {
            quick,
            out,
            only,
            network,
            density,
            batch,
            rows,
            method,
            peers,
            baseline,
        } => bench(&BenchOptions {
            out,
            quick,
            only,
            probe_exe: Some(std::env::current_exe()?),
            network: network
                .map(|n| NetworkSpec::new(&n, density, batch, rows, method.parse()?))
                .transpose()?,
            peers,
            baseline,
        })?,
        Command::BenchProbe { spec } => {
            println!("{}", run_probe_json(&spec)?);
        }
        Command::Guard { dir, write } => {
            if write {
                println!("guard: wrote {}", studies::guard::write(&dir)?.display());
            } else {
                let n = studies::guard::check(&dir)?;
                println!("guard: the {n} CSV files of {} match", dir.display());
            }
        }
        Command::Figures { dir } => {
            for (path, _) in redraw(&dir)? {
                println!("{}.png", path.display());
            }
        }
    }
    Ok(())
}
