//! A results folder as a fresh clone has it: the per-run files (epochs.csv, examples.csv, ...)
//! are not committed. Redrawing it must give every committed file back byte for byte, figures
//! included, from the figures' committed data alone.

use experiments::{run_experiment, RunOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use studies::reproduce::redraw;

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
    run_experiment(&cfg, &RunOptions::quiet_into(&out, 2)).unwrap();
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

/// Every file under `dir` without the per-run files, as a fresh clone has them.
fn committed(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files(dir)
        .into_iter()
        .filter(|(p, _)| !PER_RUN.iter().any(|f| p.file_name() == Some(f.as_ref())))
        .collect()
}

#[test]
fn reproduce_check_trains_nothing_and_leaves_committed_files_as_they_are() {
    use experiments::results::{read_rows, write_all_rows, RunRow};
    use studies::reproduce::{reproduce, ReproduceOptions};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let opts = |check: bool| ReproduceOptions {
        out: out.clone(),
        quick: true,
        only: vec!["part2-forgetting-wdbc".into()],
        jobs: Some(2),
        fresh: false,
        quiet: true,
        check,
    };
    // Nothing to check yet: a clear error, and nothing trained.
    let e = format!("{:#}", reproduce(&opts(true)).unwrap_err());
    assert!(e.contains("part2-forgetting-wdbc: no runs.csv"), "{e}");
    assert!(!out.join("part2-forgetting-wdbc").exists());

    reproduce(&opts(false)).unwrap();
    let study = out.join("part2-forgetting-wdbc");
    for f in PER_RUN {
        let _ = std::fs::remove_file(study.join(f));
    }
    let before = committed(&out);
    reproduce(&opts(true)).unwrap();
    let after = files(&out);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "no file added or removed"
    );
    for (path, bytes) in &before {
        if path == Path::new("README.md") {
            // Only the line that says when and where it was generated may differ.
            let (a, b) = (
                String::from_utf8_lossy(bytes).into_owned(),
                String::from_utf8_lossy(&after[path]).into_owned(),
            );
            let differ: Vec<(&str, &str)> =
                a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
            assert!(
                a.lines().count() == b.lines().count()
                    && differ.iter().all(|(x, _)| x.starts_with("Generated by")),
                "{differ:?}"
            );
        } else {
            assert!(after[path] == *bytes, "{} changed", path.display());
        }
    }

    // A run missing, another computed by an older numerics version: listed, nothing trained.
    let mut rows: Vec<RunRow> = read_rows(&study.join("runs.csv")).unwrap();
    let gone = rows.pop().unwrap().run_id;
    rows[0].numerics = Some(experiments::numerics::VERSION - 1);
    let old = rows[0].run_id.clone();
    write_all_rows(&study.join("runs.csv"), &rows).unwrap();
    let e = format!("{:#}", reproduce(&opts(true)).unwrap_err());
    assert!(e.contains("1 missing") && e.contains(&gone), "{e}");
    assert!(
        e.contains("another numerics version") && e.contains(&old),
        "{e}"
    );
    let kept: Vec<RunRow> = read_rows(&study.join("runs.csv")).unwrap();
    assert_eq!(kept.len(), rows.len(), "--check rewrites nothing");
}
