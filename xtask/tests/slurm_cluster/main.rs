//! `cargo xtask slurm` against a real Slurm: a single-node cluster (see `cluster`) runs a small
//! grid as a job array of 4 tasks and the collect job that depends on it; the collected
//! `runs.csv` equals a local `--jobs 1` run of the same config, row for row (timing and commit
//! aside). Then one array task is cancelled mid-shard and resubmitted with
//! `sbatch --array=<i> OUT/slurm/array.sbatch`, as the README tells users: the collected grid
//! has no lost and no duplicate row and still equals the local run.
//!
//! Ignored by default: it needs root and Debian's `slurm-wlm` and `munge`. `.ci/run` installs
//! them and runs it with `--ignored`; where Slurm cannot start, the test fails with the reason.

mod cluster;

use cluster::{Cluster, PARTITION};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WDBC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/wdbc.csv");
const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const TASKS: usize = 4;
/// Runs of the grid: 3 methods x 4 seeds, so each of the 4 tasks has 3.
const RUNS: usize = 12;
const EPOCHS: usize = 40;
/// Columns that differ between two executions of the same run.
const TIMING_AND_COMMIT: [&str; 2] = ["train_seconds", "commit"];
/// Generous: the whole grid takes seconds on two cores.
const JOB_TIMEOUT: Duration = Duration::from_secs(240);

/// The grid: wide enough layers that a task's three runs take a second or more, so a task can
/// be cancelled between its first and its last run.
fn config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"
name = "slurm-cluster"
[data]
dataset = "{WDBC}"
[model]
layers = [30, 512, 512, 2]
[training]
epochs = {EPOCHS}
batch_size = 16
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["dense", "static", "set"]
sparsity = [0.5]
seeds = 4
"#
    );
    let p = dir.join("slurm-cluster.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// (run_id, every column but timing and commit) of each row, sorted by run_id.
fn rows(path: &Path) -> Vec<(String, Vec<String>)> {
    let mut rdr =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let headers = rdr.headers().unwrap().clone();
    let id = headers.iter().position(|h| h == "run_id").unwrap();
    let mut out: Vec<(String, Vec<String>)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            let cols = r
                .iter()
                .zip(headers.iter())
                .filter(|(_, h)| !TIMING_AND_COMMIT.contains(h))
                .map(|(v, _)| v.to_string())
                .collect();
            (r[id].to_string(), cols)
        })
        .collect();
    out.sort();
    out
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

/// Checks a collected grid: every run once, rows equal to the local run, every epoch once.
fn assert_collected(out: &Path, expected: &[(String, Vec<String>)], what: &str) {
    let got = rows(&out.join("runs.csv"));
    let ids: HashSet<&String> = got.iter().map(|r| &r.0).collect();
    assert_eq!(got.len(), RUNS, "{what}: runs in runs.csv");
    assert_eq!(ids.len(), RUNS, "{what}: a run appears twice in runs.csv");
    assert_eq!(
        got, expected,
        "{what}: collected runs.csv differs from the local --jobs 1 run"
    );
    assert_eq!(
        line_count(&out.join("epochs.csv")),
        1 + RUNS * EPOCHS,
        "{what}: every run's epochs exactly once"
    );
}

/// `xtask slurm CONFIG --array 4 --out OUT` (submitting through sbatch); the array and collect
/// job ids it printed.
fn submit(cluster: &Cluster, cfg: &Path, out: &Path) -> (String, String) {
    let args = [
        "slurm",
        cfg.to_str().unwrap(),
        "--array",
        &TASKS.to_string(),
        "--out",
        out.to_str().unwrap(),
        "--partition",
        PARTITION,
        "--time",
        "00:10:00",
        "--cpus",
        "1",
        "--mem",
        "500M",
    ];
    let printed = cluster
        .command(XTASK)
        .args(args)
        .current_dir(&cluster.root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&printed.stdout).into_owned();
    assert!(
        printed.status.success(),
        "{}",
        cluster.report(&format!(
            "xtask slurm failed: {stdout}{}",
            String::from_utf8_lossy(&printed.stderr)
        ))
    );
    // "submitted array job A and collect job C (after the array)"
    let ids: Vec<&str> = stdout
        .split_whitespace()
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(ids.len(), 2, "job ids in: {stdout}");
    (ids[0].to_string(), ids[1].to_string())
}

fn xtask_ok(cluster: &Cluster, args: &[&str]) {
    let out = cluster.command(XTASK).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "xtask {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs root and Debian's slurm-wlm and munge; .ci/run installs them and runs it"]
fn array_job_on_a_real_slurm_equals_a_local_run_even_after_a_cancelled_task() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("Slurm could not start: {e}"));
    let cfg = config(&cluster.root);
    let local = cluster.root.join("local");
    xtask_ok(
        &cluster,
        &[
            "run",
            cfg.to_str().unwrap(),
            "--out",
            local.to_str().unwrap(),
            "--jobs",
            "1",
            "--quiet",
        ],
    );
    let expected = rows(&local.join("runs.csv"));
    assert_eq!(expected.len(), RUNS);

    // 1. The array and its collect job, as submitted by `xtask slurm`.
    let out = cluster.root.join("array");
    let (array, collect) = submit(&cluster, &cfg, &out);
    cluster
        .wait_completed(&[&array, &collect], JOB_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    for i in 0..TASKS {
        let shard = out.join(format!("shards/{i}-of-{TASKS}/runs.csv"));
        assert_eq!(line_count(&shard), 1 + RUNS / TASKS, "{}", shard.display());
    }
    assert_collected(&out, &expected, "array job");

    // 2. Task 0 cancelled once its first run is recorded, then resubmitted.
    let out = cluster.root.join("cancelled");
    let (array, collect) = submit(&cluster, &cfg, &out);
    let shard0 = out.join(format!("shards/0-of-{TASKS}/runs.csv"));
    cluster
        .wait_until("task 0's first run", JOB_TIMEOUT, || {
            line_count(&shard0) >= 2
        })
        .unwrap_or_else(|e| panic!("{e}"));
    cluster
        .run("scancel", &[&format!("{array}_0")])
        .unwrap_or_else(|e| panic!("{e}"));
    let lines = cluster
        .wait_final(&[&array, &collect], JOB_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let task0 = lines.iter().find(|l| l.task == "0").expect("task 0's line");
    assert_eq!(
        task0.state,
        "CANCELLED",
        "{}",
        cluster.report("task 0 finished before it was cancelled; make the runs longer")
    );
    let partial = line_count(&shard0).saturating_sub(1);
    assert!(
        (1..RUNS / TASKS).contains(&partial),
        "task 0 was cancelled after {partial} of its {} runs; the test needs a partial shard",
        RUNS / TASKS
    );
    for l in lines.iter().filter(|l| !l.task.is_empty() && l.task != "0") {
        assert_eq!(l.state, "COMPLETED", "task {}: {l:?}", l.task);
    }
    // The collect job waits on the whole array (afterok), so it never starts: cancel it.
    let pending_collect = cluster.job(&collect).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            pending_collect[0].state.as_str(),
            pending_collect[0].reason.as_str()
        ),
        ("PENDING", "DependencyNeverSatisfied"),
        "the collect job must not run after a failed task"
    );
    cluster
        .run("scancel", &[&collect])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !out.join("runs.csv").exists(),
        "nothing collected before the grid is complete"
    );

    let array_script = out.join("slurm/array.sbatch");
    let resubmitted = cluster
        .run(
            "sbatch",
            &["--parsable", "--array=0", array_script.to_str().unwrap()],
        )
        .unwrap_or_else(|e| panic!("{}", cluster.report(&e)));
    let resubmitted = resubmitted.trim().split(';').next().unwrap().to_string();
    cluster
        .wait_completed(&[&resubmitted], JOB_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line_count(&shard0), 1 + RUNS / TASKS, "task 0 resumed");
    xtask_ok(&cluster, &["collect", out.to_str().unwrap()]);
    assert_collected(&out, &expected, "cancelled and resubmitted task");
}
