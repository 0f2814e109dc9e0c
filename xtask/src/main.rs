//! `cargo xtask`: the one entry point of the framework (see the README).

use anyhow::Result;
use clap::{Parser, Subcommand};
use experiments::{run_experiment, RunOptions};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Dynamic sparse training with sparse data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        /// Runs executed at once [default: all cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// Delete the folder's previous results and start over.
        #[arg(long)]
        fresh: bool,
        /// No progress bars or table.
        #[arg(long)]
        quiet: bool,
    },
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    match Cli::parse().command {
        Command::Run {
            config,
            out,
            jobs,
            fresh,
            quiet,
        } => {
            run_experiment(
                &config,
                &RunOptions {
                    out,
                    jobs,
                    fresh,
                    quiet,
                },
            )?;
        }
    }
    Ok(())
}
