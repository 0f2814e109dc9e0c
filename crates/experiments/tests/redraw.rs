//! A results folder as a fresh clone has it: the per-run files (epochs.csv, examples.csv, ...)
//! are not committed. Redrawing it must give every committed file back byte for byte, figures
//! included, from the figures' committed data alone.

use experiments::reproduce::redraw;
use experiments::{run_experiment, RunOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const WDBC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/wdbc.csv");

/// The per-run files `.gitignore` keeps out of the repository.
const PER_RUN: [&str; 6] = [
    "epochs.csv",
    "examples.csv",
    "topology.csv",
    "input_degree.csv",
    "predictions.csv",
    "step_forgetting.csv",
];

/// Every file under `dir` (relative path -> bytes).
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn without_per_run_files_every_figure_is_redrawn_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("study.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
name = "fresh-clone"
[data]
dataset = "{WDBC}"
split_seed = 1
[model]
layers = [30, 8, 2]
dropout = 0.1
[training]
epochs = 3
batch_size = 16
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["dense", "static", "set"]
sparsity = [0.5]
missing_mechanism = ["mcar"]
missing_rate = [0.0, 0.3]
imputation = ["absent"]
seeds = [1, 2]
[tracking]
examples = true
predictions = true
[report]
figures = ["figure2", "accuracy-vs-sparsity", "heatmap", "degree-vs-missingness", "forgetting"]
"#
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    run_experiment(
        &cfg,
        &RunOptions {
            out: Some(out.clone()),
            jobs: Some(2),
            fresh: false,
            quiet: true,
            shard: None,
            checkpoint_every: None,
        },
    )
    .unwrap();
    let drawn = redraw(&out).unwrap();
    assert!(drawn.len() >= 5, "{drawn:?}");
    let before = files(&out);
    for (path, _) in &drawn {
        for ext in ["png", "svg", "toml"] {
            let f = PathBuf::from(format!("{}.{ext}", path.display()));
            assert!(f.exists(), "{} was not written", f.display());
        }
    }

    for f in PER_RUN {
        let _ = std::fs::remove_file(out.join(f));
    }
    let redrawn = redraw(&out).unwrap();
    assert_eq!(redrawn, drawn, "the same figures, captions and order");
    let after = files(&out);
    let committed: BTreeMap<_, _> = before
        .into_iter()
        .filter(|(p, _)| !PER_RUN.iter().any(|f| p == Path::new(f)))
        .collect();
    let changed: Vec<&PathBuf> = committed
        .iter()
        .filter(|(p, bytes)| after.get(*p) != Some(bytes))
        .map(|(p, _)| p)
        .collect();
    assert!(changed.is_empty(), "changed or removed: {changed:?}");
    let added: Vec<&PathBuf> = after
        .keys()
        .filter(|p| !committed.contains_key(*p))
        .collect();
    assert!(added.is_empty(), "added: {added:?}");
}
