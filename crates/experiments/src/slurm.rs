//! `cargo xtask slurm CONFIG --array N`: hands a grid to Slurm as a job array of N shards
//! (each task runs the prebuilt release binary with `run CONFIG --shard $SLURM_ARRAY_TASK_ID/N`,
//! not cargo) and a collect job that starts when the whole array succeeded.
//!
//! Tasks are `--requeue`able: a pre-empted or timed-out task that Slurm restarts resumes its
//! shard where it stopped (finished runs are kept; see the runner), so resubmitting a lost
//! task completes the grid without lost or duplicate rows. With `--checkpoint-every K` the
//! tasks also checkpoint their runs every K epochs, so a requeued task continues a long run
//! from its last checkpoint instead of its first epoch ([`crate::checkpoint`]).

use crate::config::ExperimentConfig;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What to ask Slurm for.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The experiment config.
    pub config: PathBuf,
    /// Number of array tasks (shards).
    pub array: usize,
    /// Results folder (default `results/runs/<name>`).
    pub out: Option<PathBuf>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` (Slurm's format, e.g. `02:00:00`).
    pub time: String,
    /// `--cpus-per-task` (also the runs executed at once in a task).
    pub cpus: usize,
    /// `--mem` (e.g. `8G`).
    pub mem: String,
    /// The binary the tasks run (the xtask release binary).
    pub binary: PathBuf,
    /// `--checkpoint-every K` passed to every task (see [`crate::checkpoint`]).
    pub checkpoint_every: Option<usize>,
}

/// The two scripts and how to submit them.
#[derive(Debug, Clone)]
pub struct SlurmScripts {
    /// The job-array script.
    pub array: PathBuf,
    /// The collect script.
    pub collect: PathBuf,
    /// The shell commands that submit both, the second depending on the first.
    pub submit: String,
}

fn abs(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

/// Writes `OUT/slurm/array.sbatch` and `OUT/slurm/collect.sbatch`.
pub fn write_scripts(opts: &SlurmOptions) -> Result<SlurmScripts> {
    if opts.array == 0 {
        bail!("--array must be at least 1");
    }
    if opts.cpus == 0 {
        bail!("--cpus must be at least 1");
    }
    let (cfg, _) = ExperimentConfig::load(&opts.config)?;
    let out = abs(&opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results/runs").join(&cfg.name)))?;
    let (config, binary) = (abs(&opts.config)?, abs(&opts.binary)?);
    let workdir = abs(Path::new("."))?;
    let slurm_dir = out.join("slurm");
    std::fs::create_dir_all(&slurm_dir)?;
    let header = |name: &str, extra: &str| {
        let mut h = format!(
            "#!/bin/bash\n#SBATCH --job-name={name}\n#SBATCH --time={}\n#SBATCH --mem={}\n",
            opts.time, opts.mem
        );
        if let Some(p) = &opts.partition {
            h.push_str(&format!("#SBATCH --partition={p}\n"));
        }
        h.push_str(extra);
        h.push_str("set -euo pipefail\n");
        h.push_str(&format!("cd '{}'\n", workdir.display()));
        h
    };
    let array = header(
        &format!("{}-shards", cfg.name),
        &format!(
            "#SBATCH --array=0-{}\n#SBATCH --cpus-per-task={}\n#SBATCH --requeue\n#SBATCH --output={}/%x-%A_%a.out\n",
            opts.array - 1,
            opts.cpus,
            slurm_dir.display()
        ),
    ) + &format!(
        "exec '{}' run '{}' --out '{}' --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\" --jobs {}{} --quiet\n",
        binary.display(),
        config.display(),
        out.display(),
        opts.array,
        opts.cpus,
        opts.checkpoint_every
            .map(|k| format!(" --checkpoint-every {k}"))
            .unwrap_or_default()
    );
    let collect = header(
        &format!("{}-collect", cfg.name),
        &format!(
            "#SBATCH --cpus-per-task=1\n#SBATCH --output={}/%x-%j.out\n",
            slurm_dir.display()
        ),
    ) + &format!("exec '{}' collect '{}'\n", binary.display(), out.display());
    let (array_path, collect_path) = (
        slurm_dir.join("array.sbatch"),
        slurm_dir.join("collect.sbatch"),
    );
    std::fs::write(&array_path, array)?;
    std::fs::write(&collect_path, collect)?;
    let submit = format!(
        "job=$(sbatch --parsable '{}')\nsbatch --dependency=afterok:${{job%%;*}} '{}'\n",
        array_path.display(),
        collect_path.display()
    );
    Ok(SlurmScripts {
        array: array_path,
        collect: collect_path,
        submit,
    })
}

/// Submits the scripts with `sbatch`; returns the two job ids.
pub fn submit(scripts: &SlurmScripts) -> Result<(String, String)> {
    let sbatch = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new("sbatch")
            .args(args)
            .output()
            .context("running sbatch (not on PATH? use --dry-run to print the scripts)")?;
        if !out.status.success() {
            bail!(
                "sbatch {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok(id.split(';').next().unwrap_or_default().to_string())
    };
    let array = sbatch(&["--parsable", &scripts.array.to_string_lossy()])?;
    let collect = sbatch(&[
        "--parsable",
        &format!("--dependency=afterok:{array}"),
        &scripts.collect.to_string_lossy(),
    ])?;
    Ok((array, collect))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_run_the_binary_per_shard_and_collect_after_the_array() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("tiny.toml");
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/wdbc.csv");
        std::fs::write(
            &cfg,
            format!(
                "name = \"tiny\"\n[data]\ndataset = \"{data}\"\n[model]\nlayers = [30, 8, 2]\n\
                 [training]\nepochs = 2\nbatch_size = 16\nlearning_rate = 0.01\n\
                 [grid]\nmethods = [\"dense\"]\nseeds = 2\n"
            ),
        )
        .unwrap();
        let out = dir.path().join("out");
        let s = write_scripts(&SlurmOptions {
            config: cfg,
            array: 4,
            out: Some(out.clone()),
            partition: Some("short".into()),
            time: "01:00:00".into(),
            cpus: 2,
            mem: "4G".into(),
            binary: PathBuf::from("/opt/xtask"),
            checkpoint_every: Some(5),
        })
        .unwrap();
        let array = std::fs::read_to_string(&s.array).unwrap();
        assert!(array.contains("#SBATCH --array=0-3"), "{array}");
        assert!(array.contains("#SBATCH --partition=short"));
        assert!(array.contains("#SBATCH --requeue"));
        assert!(array.contains("'/opt/xtask' run "));
        assert!(array.contains(
            "--shard \"${SLURM_ARRAY_TASK_ID}/4\" --jobs 2 --checkpoint-every 5 --quiet"
        ));
        let collect = std::fs::read_to_string(&s.collect).unwrap();
        assert!(collect.contains("'/opt/xtask' collect"));
        assert!(s.submit.contains("--dependency=afterok:"));
        assert!(out.join("slurm/array.sbatch").exists());
        let mut bad = SlurmOptions {
            config: dir.path().join("tiny.toml"),
            array: 0,
            out: None,
            partition: None,
            time: "1".into(),
            cpus: 1,
            mem: "1G".into(),
            binary: PathBuf::from("x"),
            checkpoint_every: None,
        };
        assert!(write_scripts(&bad).is_err());
        bad.array = 2;
        bad.cpus = 0;
        assert!(write_scripts(&bad).is_err());
    }
}
