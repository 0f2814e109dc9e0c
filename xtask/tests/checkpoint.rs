//! Checkpoint and resume inside a run: `cargo xtask run --checkpoint-every 1` killed with
//! SIGKILL mid-run and started again continues the run from its last checkpoint (it says so)
//! and writes exactly the rows of an uninterrupted run without checkpoints (timing and commit
//! columns aside); the checkpoints are gone once the run's row is written. A corrupt
//! checkpoint is ignored with a warning and changes nothing either.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WDBC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/wdbc.csv");
const EPOCHS: usize = 60;

/// One SET run long enough (a few seconds) to be killed between two checkpoints, with the
/// `rehearsal` data policy (its state crosses epoch boundaries: SET rewires at the end of an
/// epoch, rehearsal fills the next epoch's first batches) and every per-run record on.
fn config(dir: &Path) -> PathBuf {
    let text = format!(
        r#"
name = "checkpoint"
[data]
dataset = "{WDBC}"
[model]
layers = [30, 400, 400, 2]
dropout = 0.2
[training]
epochs = {EPOCHS}
batch_size = 10
learning_rate = 0.01
momentum = 0.9
[tracking]
el2n_epochs = [2, 30]
degree_every = 5
predictions = true
epoch_eval = true
relevant_features = ["mean radius", "worst area", "texture error"]
[data_aware]
options = ["rehearsal"]
rehearsal_steps = 30
rehearsal_rows = 4
[grid]
methods = ["set"]
sparsity = [0.5]
missing_mechanism = ["mcar"]
missing_rate = [0.2]
imputation = ["absent"]
seeds = [3]
"#
    );
    let p = dir.join("checkpoint.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn xtask(config: &Path, out: &Path, checkpoint: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args([
        "run",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .args(["--jobs", "1", "--quiet"])
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if checkpoint {
        c.args(["--checkpoint-every", "1"]);
    }
    c
}

/// Runs to the end; returns stderr.
fn finish(config: &Path, out: &Path, checkpoint: bool) -> String {
    let o = xtask(config, out, checkpoint).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

/// The rows of a results file without its timing and commit columns, sorted.
fn table(path: &Path) -> Vec<Vec<String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !["seconds", "train_seconds", "commit"].contains(h))
        .map(|(i, _)| i)
        .collect();
    let mut rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            keep.iter().map(|&i| r[i].to_string()).collect()
        })
        .collect();
    rows.sort();
    rows
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(out.join("checkpoints"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

fn assert_same_results(a: &Path, b: &Path) {
    for file in [
        "runs.csv",
        "epochs.csv",
        "examples.csv",
        "topology.csv",
        "input_degree.csv",
        "step_forgetting.csv",
        "predictions.csv",
        "feature_selection.csv",
    ] {
        let (ta, tb) = (table(&a.join(file)), table(&b.join(file)));
        assert!(!ta.is_empty(), "{file} is empty");
        assert_eq!(ta, tb, "{file}: resumed equals uninterrupted, row for row");
    }
    assert_eq!(table(&a.join("epochs.csv")).len(), EPOCHS, "no epoch twice");
}

#[test]
fn sigkill_mid_run_resumes_from_the_checkpoint_with_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );

    // Killed as soon as a checkpoint exists: the worst case, no handler runs.
    let mut child = xtask(&cfg, &a, true).spawn().unwrap();
    let start = Instant::now();
    while checkpoints(&a)
        .iter()
        .all(|p| p.extension() != Some("ckpt".as_ref()))
        && start.elapsed() < Duration::from_secs(300)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !a.join("runs.csv").exists() || table(&a.join("runs.csv")).is_empty(),
        "the run finished before the kill; make it longer"
    );
    let saved: Vec<PathBuf> = checkpoints(&a)
        .into_iter()
        .filter(|p| p.extension() == Some("ckpt".as_ref()))
        .collect();
    assert_eq!(saved.len(), 1, "one checkpoint per run: {saved:?}");

    // Started again: it continues from the checkpoint, then removes it.
    let log = finish(&cfg, &a, true);
    let resumed_after: usize = log
        .split("resuming from its checkpoint after epoch ")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("no resume message in: {log}"));
    assert!((1..EPOCHS).contains(&resumed_after), "{log}");
    assert!(checkpoints(&a).is_empty(), "{:?}", checkpoints(&a));

    // Uninterrupted, without checkpoints: the same numbers.
    finish(&cfg, &b, false);
    assert_same_results(&a, &b);

    // A corrupt checkpoint is ignored with a warning: the run starts over, same numbers.
    let name = saved[0].file_name().unwrap();
    std::fs::create_dir_all(c.join("checkpoints")).unwrap();
    std::fs::write(c.join("checkpoints").join(name), b"DSTCKPT1 torn").unwrap();
    let log = finish(&cfg, &c, true);
    assert!(log.contains("warning: ignoring the checkpoint"), "{log}");
    assert!(!log.contains("resuming"), "{log}");
    assert_same_results(&c, &b);
    assert!(checkpoints(&c).is_empty());
}
