//! Killing `cargo xtask run` (SIGKILL, the worst case: no handler runs) in the middle of a grid
//! and running it again finishes the grid with no duplicate and no missing row, and the rows
//! equal those of an uninterrupted run (timing and commit aside). `reproduce` runs its studies
//! through the same runner.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WDBC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/wdbc.csv");

fn config(dir: &Path) -> std::path::PathBuf {
    let text = format!(
        r#"
name = "interrupt"
[data]
dataset = "{WDBC}"
[model]
layers = [30, 32, 32, 2]
dropout = 0.1
[training]
epochs = 30
batch_size = 10
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["dense", "static", "set"]
sparsity = [0.5, 0.9]
missing_mechanism = ["mcar"]
missing_rate = [0.0, 0.3]
imputation = ["absent"]
seeds = 4
"#
    );
    let p = dir.join("interrupt.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn xtask(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// (run_id, every column but train_seconds and commit) of each row, sorted.
fn rows(path: &Path) -> Vec<(String, Vec<String>)> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let skip: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| *h == "train_seconds" || *h == "commit")
        .map(|(i, _)| i)
        .collect();
    let id = headers.iter().position(|h| h == "run_id").unwrap();
    let mut out: Vec<(String, Vec<String>)> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            let cols = r
                .iter()
                .enumerate()
                .filter(|(i, _)| !skip.contains(i))
                .map(|(_, v)| v.to_string())
                .collect();
            (r[id].to_string(), cols)
        })
        .collect();
    out.sort();
    out
}

fn line_count(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn sigkill_then_rerun_completes_the_grid_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let cfg_s = cfg.to_str().unwrap();

    // Interrupted run: kill as soon as some (not all) runs are recorded.
    let mut child = xtask(&[
        "run",
        cfg_s,
        "--out",
        a.to_str().unwrap(),
        "--jobs",
        "2",
        "--quiet",
    ])
    .spawn()
    .unwrap();
    let runs_csv = a.join("runs.csv");
    let start = Instant::now();
    while line_count(&runs_csv) < 4 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = line_count(&runs_csv).saturating_sub(1);
    assert!(
        partial >= 3,
        "the kill came too early to test anything ({partial} rows)"
    );
    assert!(
        partial < 40,
        "the grid finished before the kill; make it longer"
    );

    // Resume, then compare with an uninterrupted run.
    let status = xtask(&[
        "run",
        cfg_s,
        "--out",
        a.to_str().unwrap(),
        "--jobs",
        "2",
        "--quiet",
    ])
    .status()
    .unwrap();
    assert!(status.success());
    let status = xtask(&[
        "run",
        cfg_s,
        "--out",
        b.to_str().unwrap(),
        "--jobs",
        "1",
        "--quiet",
    ])
    .status()
    .unwrap();
    assert!(status.success());
    let (ra, rb) = (rows(&runs_csv), rows(&b.join("runs.csv")));
    assert_eq!(ra.len(), 40);
    let mut ids: Vec<&String> = ra.iter().map(|r| &r.0).collect();
    ids.dedup();
    assert_eq!(ids.len(), 40, "no duplicate runs");
    assert_eq!(
        ra, rb,
        "resumed --jobs 2 equals uninterrupted --jobs 1, row for row"
    );
    // Every run has exactly its epochs, none twice.
    assert_eq!(line_count(&a.join("epochs.csv")), 1 + 40 * 30);
}

#[test]
fn bad_input_exits_non_zero_with_a_one_line_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["run", "does-not-exist.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("does-not-exist.toml"),
        "{err}"
    );
}

#[test]
fn sigkill_during_reproduce_quick_then_rerun_matches_an_uninterrupted_reproduce() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut child = xtask(&[
        "reproduce",
        "--quick",
        "--quiet",
        "--out",
        a.to_str().unwrap(),
    ])
    .spawn()
    .unwrap();
    // Studies run in file-name order; kill once the second study has recorded some runs.
    let target = a.join("part1-mechanisms/runs.csv");
    let start = Instant::now();
    while line_count(&target) < 5 && start.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line_count(&target) >= 5,
        "reproduce did not get far enough to be killed"
    );
    for out in [&a, &b] {
        let status = xtask(&[
            "reproduce",
            "--quick",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .status()
        .unwrap();
        assert!(status.success());
    }
    for study in ["part1-digits", "part1-mechanisms", "part1-paper"] {
        let (ra, rb) = (
            rows(&a.join(study).join("runs.csv")),
            rows(&b.join(study).join("runs.csv")),
        );
        assert!(!ra.is_empty());
        let mut ids: Vec<&String> = ra.iter().map(|r| &r.0).collect();
        ids.dedup();
        assert_eq!(ids.len(), ra.len(), "{study}: no duplicate runs");
        assert_eq!(ra, rb, "{study}: resumed equals uninterrupted, row for row");
    }
}
