//! End-to-end properties of `run_experiment`: clear errors on bad input, resume without
//! redoing finished runs, and identical numbers from identical configs with parallel runs.

use experiments::results::{read_rows, RunRow};
use experiments::{run_experiment, RunOptions};
use std::path::{Path, PathBuf};

const WDBC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/wdbc.csv");

fn config(dataset: &str, layers: &str, methods: &str, seeds: &str) -> String {
    format!(
        r#"
name = "tiny"
[data]
dataset = "{dataset}"
[model]
layers = {layers}
dropout = 0.1
[training]
epochs = 3
batch_size = 16
learning_rate = 0.01
momentum = 0.9
[grid]
methods = {methods}
sparsity = [0.5]
seeds = {seeds}
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn error_of(cfg: &Path, out: &Path) -> String {
    format!(
        "{:#}",
        run_experiment(cfg, &RunOptions::quiet_into(out, 1)).unwrap_err()
    )
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let good = config(WDBC, "[30, 8, 2]", r#"["dense", "set"]"#, "1");

    let missing = write(
        dir.path(),
        "missing.toml",
        &good.replace("batch_size = 16\n", ""),
    );
    let e = error_of(&missing, &out);
    assert!(
        e.contains("missing.toml") && e.contains("batch_size"),
        "{e}"
    );

    let malformed = write(
        dir.path(),
        "malformed.toml",
        &good.replace("epochs = 3", "epochs = \"three\""),
    );
    let e = error_of(&malformed, &out);
    assert!(e.contains("malformed.toml") && e.contains("epochs"), "{e}");

    let unknown = write(
        dir.path(),
        "unknown.toml",
        &good.replace("\"set\"", "\"sett\""),
    );
    let e = error_of(&unknown, &out);
    assert!(
        e.contains("grid.methods") && e.contains("unknown method `sett`"),
        "{e}"
    );

    let width = write(
        dir.path(),
        "width.toml",
        &good.replace("[30, 8, 2]", "[31, 8, 2]"),
    );
    let e = error_of(&width, &out);
    assert!(
        e.contains("input width 31") && e.contains("30 features"),
        "{e}"
    );

    write(dir.path(), "ragged.csv", "a,b,label\n1,2,x\n3,y\n5,6,y\n");
    let cfg = write(
        dir.path(),
        "ragged.toml",
        &config("ragged.csv", "[2, 4, 2]", r#"["set"]"#, "1"),
    );
    let e = error_of(&cfg, &out);
    assert!(e.contains("ragged.csv") && e.contains(":3"), "{e}");

    let text = write(
        dir.path(),
        "text.csv",
        "a,b,label\n1,2,x\n3,oops,y\n5,6,y\n",
    );
    let _ = text;
    let cfg = write(
        dir.path(),
        "text.toml",
        &config("text.csv", "[2, 4, 2]", r#"["set"]"#, "1"),
    );
    let e = error_of(&cfg, &out);
    assert!(e.contains("text.csv:3") && e.contains("'b'"), "{e}");

    assert!(!out.join("runs.csv").exists(), "nothing was run");
}

fn without_timing(mut rows: Vec<RunRow>) -> Vec<RunRow> {
    rows.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    for r in &mut rows {
        r.train_seconds = 0.0;
        r.commit.clear();
    }
    rows
}

#[test]
fn resume_runs_only_what_is_missing_and_parallel_runs_are_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let one = write(
        dir.path(),
        "one.toml",
        &config(WDBC, "[30, 8, 2]", r#"["dense", "static", "set"]"#, "[1]"),
    );
    let two = write(
        dir.path(),
        "two.toml",
        &config(
            WDBC,
            "[30, 8, 2]",
            r#"["dense", "static", "set"]"#,
            "[1, 2]",
        ),
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));

    let first = run_experiment(&one, &RunOptions::quiet_into(&a, 1)).unwrap();
    // A validation split carved from training is evaluated every epoch.
    let with_validation = write(
        dir.path(),
        "val.toml",
        &config(WDBC, "[30, 8, 2]", r#"["set"]"#, "[1]")
            .replace("[data]\n", "[data]\nvalidation_fraction = 0.25\n"),
    );
    run_experiment(
        &with_validation,
        &RunOptions::quiet_into(&dir.path().join("v"), 1),
    )
    .unwrap();
    let ev: Vec<experiments::results::EpochRow> =
        read_rows(&dir.path().join("v/epochs.csv")).unwrap();
    assert!(ev
        .iter()
        .all(|e| e.validation_accuracy.is_some_and(|a| a > 0.3)));
    assert_eq!((first.total, first.executed), (3, 3));
    let again = run_experiment(&one, &RunOptions::quiet_into(&a, 1)).unwrap();
    assert_eq!(again.executed, 0, "finished runs are not redone");
    let grown = run_experiment(&two, &RunOptions::quiet_into(&a, 2)).unwrap();
    assert_eq!(
        (grown.total, grown.executed),
        (6, 3),
        "only the new seed runs"
    );

    // The same grid in one go with parallel runs gives the same rows.
    run_experiment(&two, &RunOptions::quiet_into(&b, 2)).unwrap();
    let ra: Vec<RunRow> = read_rows(&a.join("runs.csv")).unwrap();
    let rb: Vec<RunRow> = read_rows(&b.join("runs.csv")).unwrap();
    assert_eq!(without_timing(ra.clone()), without_timing(rb));

    // Contract checks: nnz of the sparse runs about half of dense, epochs rows present.
    for r in &ra {
        let ratio = r.nnz as f64 / r.params_dense as f64;
        if r.method == "dense" {
            assert_eq!(r.nnz, r.params_dense);
        } else {
            assert!((ratio - 0.5).abs() < 0.1, "{ratio}");
            assert_eq!(r.layer_density, "0.5000;1.0000");
        }
    }
    let epochs = std::fs::read_to_string(a.join("epochs.csv")).unwrap();
    assert_eq!(epochs.lines().count(), 1 + 6 * 3);
    let summary = std::fs::read_to_string(a.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 3);
}

#[test]
fn absent_inputs_give_the_numbers_of_zero_imputation_and_examples_are_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(WDBC, "[30, 8, 2]", r#"["static", "set"]"#, "[1, 2]").replace(
        "seeds = [1, 2]",
        "seeds = [1, 2]\nmissing_mechanism = [\"mcar\", \"mnar\"]\nmissing_rate = [0.3]\nimputation = [\"zero\", \"absent\"]",
    );
    let cfg = write(dir.path(), "absent.toml", &text);
    let out = dir.path().join("out");
    let report = run_experiment(&cfg, &RunOptions::quiet_into(&out, 2)).unwrap();
    assert_eq!(report.total, 2 * 2 * 2 * 2);
    let rows: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
    for r in rows.iter().filter(|r| r.imputation == "absent") {
        let twin = rows
            .iter()
            .find(|z| {
                z.imputation == "zero"
                    && z.method == r.method
                    && z.seed == r.seed
                    && z.missing_mechanism == r.missing_mechanism
            })
            .unwrap();
        // Same mathematics: identical predictions, losses equal up to float rounding.
        assert_eq!(r.test_accuracy, twin.test_accuracy, "{}", r.run_id);
        assert!(
            (r.train_loss - twin.train_loss).abs() < 1e-5,
            "{} vs {}",
            r.train_loss,
            twin.train_loss
        );
        assert!((r.missing_rate_realized - 0.3).abs() < 0.02);
        // Absent inputs skip the missing values: fewer multiply-adds.
        assert!(r.train_flops < twin.train_flops);
    }
    // No validation split asked for: the column is empty.
    let epochs = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    assert!(epochs.lines().nth(1).unwrap().contains(",,"));
    // One examples.csv for the folder, one row per run and training example.
    let examples = std::fs::read_to_string(out.join("examples.csv")).unwrap();
    let train_rows = 569 - (212f64 * 0.2).round() as usize - (357f64 * 0.2).round() as usize;
    assert_eq!(examples.lines().count(), 1 + 16 * train_rows);
    assert!(examples.starts_with("run_id,example_id,label,source,presentations,forgetting_events"));
}

/// A grid split into shards, run in any order and collected, equals the unsharded run row
/// for row (timings and commit aside); collect names missing runs and refuses duplicates.
#[test]
fn sharded_runs_collect_to_the_unsharded_result() {
    use experiments::collect::collect;
    use experiments::results::EpochRow;
    use experiments::runner::Shard;
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "tiny.toml",
        &config(WDBC, "[30, 8, 2]", r#"["dense", "static", "set"]"#, "3"),
    );
    let whole = dir.path().join("whole");
    run_experiment(&cfg, &RunOptions::quiet_into(&whole, 2)).unwrap();
    let sharded = dir.path().join("sharded");
    let shard = |s: &str| {
        let mut o = RunOptions::quiet_into(&sharded, 1);
        o.shard = Some(s.parse::<Shard>().unwrap());
        run_experiment(&cfg, &o).unwrap();
    };
    shard("2/3");
    shard("0/3");
    let err = format!("{:#}", collect(&sharded).unwrap_err());
    assert!(err.contains("not finished in any shard"), "{err}");
    shard("1/3");
    let c = collect(&sharded).unwrap();
    assert_eq!((c.shards.len(), c.runs), (3, 9));
    let sorted = |p: &Path| {
        let mut r = without_timing(read_rows::<RunRow>(&p.join("runs.csv")).unwrap());
        r.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        r
    };
    assert_eq!(sorted(&whole), sorted(&sharded));
    let epochs = |p: &Path| {
        let mut e: Vec<EpochRow> = read_rows(&p.join("epochs.csv")).unwrap();
        for r in &mut e {
            r.seconds = 0.0;
        }
        e.sort_by(|a, b| (&a.run_id, a.epoch).cmp(&(&b.run_id, b.epoch)));
        e
    };
    assert_eq!(epochs(&whole), epochs(&sharded));
    assert!(sharded.join("summary.csv").exists());

    // A run finished by two shards is refused, naming both.
    let one = sharded.join("shards/0-of-3/runs.csv");
    let row = std::fs::read_to_string(&one)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let two = sharded.join("shards/1-of-3/runs.csv");
    let mut text = std::fs::read_to_string(&two).unwrap();
    text.push_str(&row);
    text.push('\n');
    std::fs::write(&two, text).unwrap();
    let err = format!("{:#}", collect(&sharded).unwrap_err());
    assert!(
        err.contains("two shards") && err.contains("0-of-3") && err.contains("1-of-3"),
        "{err}"
    );

    assert!("3/3".parse::<Shard>().is_err() && "1-3".parse::<Shard>().is_err());
}

/// `learning_rate = 1e9`: every run diverges in its first epoch (the clamped loss alone would
/// read 69.08 and pass unnoticed). Each run stops there and is marked in runs.csv, and
/// summary.csv counts it and leaves it out of the means; a second call resumes nothing.
#[test]
fn diverged_runs_are_marked_counted_and_left_out_of_the_means() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = write(
        dir.path(),
        "diverge.toml",
        &config(WDBC, "[30, 8, 2]", r#"["dense", "set"]"#, "[1, 2]")
            .replace("learning_rate = 0.01", "learning_rate = 1e9"),
    );
    run_experiment(&cfg, &RunOptions::quiet_into(&out, 2)).unwrap();
    let runs: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        assert!(r.diverged, "{}", r.run_id);
        assert_eq!((r.diverged_epoch, r.epochs), (Some(1), 1), "{}", r.run_id);
    }
    let epochs = std::fs::read_to_string(out.join("epochs.csv")).unwrap();
    assert_eq!(epochs.lines().count(), 1 + 4, "one (partial) epoch per run");

    let mut summary = csv::Reader::from_path(out.join("summary.csv")).unwrap();
    let header = summary.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cells: Vec<csv::StringRecord> = summary.records().map(Result::unwrap).collect();
    assert_eq!(cells.len(), 2);
    for c in &cells {
        assert_eq!((&c[at("n")], &c[at("n_diverged")]), ("0", "2"), "{c:?}");
        assert_eq!(
            &c[at("test_accuracy_mean")],
            "",
            "no mean over no runs: {c:?}"
        );
    }

    let again = run_experiment(&cfg, &RunOptions::quiet_into(&out, 1)).unwrap();
    assert_eq!(again.executed, 0, "a diverged run is finished, not redone");
}

/// A run computed by another numerics version runs again, its old rows gone from every file;
/// a run from before the fingerprint existed is kept as it is.
#[test]
fn runs_of_another_numerics_version_run_again() {
    use experiments::numerics::VERSION;
    use experiments::results::{write_all_rows, EpochRow};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cfg = write(
        dir.path(),
        "tiny.toml",
        &config(WDBC, "[30, 8, 2]", r#"["dense", "set"]"#, "[1, 2]"),
    );
    run_experiment(&cfg, &RunOptions::quiet_into(&out, 2)).unwrap();
    let first: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
    assert!(first.iter().all(|r| r.numerics == Some(VERSION)));

    let mut edited = first.clone();
    edited.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    edited[0].numerics = Some(VERSION + 1);
    edited[0].test_accuracy = -1.0;
    edited[1].numerics = None;
    let (stale, unversioned) = (edited[0].run_id.clone(), edited[1].run_id.clone());
    write_all_rows(&out.join("runs.csv"), &edited).unwrap();

    let again = run_experiment(&cfg, &RunOptions::quiet_into(&out, 1)).unwrap();
    assert_eq!(again.executed, 1, "only the run of another version");
    let runs: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
    assert_eq!(runs.len(), 4);
    let rerun = runs.iter().find(|r| r.run_id == stale).unwrap();
    assert_eq!(rerun.numerics, Some(VERSION));
    let original = first.iter().find(|r| r.run_id == stale).unwrap();
    assert_eq!(rerun.test_accuracy, original.test_accuracy);
    let kept = runs.iter().find(|r| r.run_id == unversioned).unwrap();
    assert_eq!(kept.numerics, None, "a run without a fingerprint is kept");
    let epochs: Vec<EpochRow> = read_rows(&out.join("epochs.csv")).unwrap();
    assert_eq!(
        epochs.iter().filter(|e| e.run_id == stale).count(),
        3,
        "the stale run's epochs are replaced, not added to"
    );
}

/// One missingness mechanism per run: the setup drawn on the training split removes the test
/// split's cells too. Under MAR the same columns stay always observed in both, under
/// `mnar-quantile` the same columns are censored, and the realised rates of both splits stay
/// near the target (runs.csv reports each).
#[test]
fn train_and_test_share_one_missingness_mechanism() {
    use experiments::config::ExperimentConfig;
    let dir = tempfile::tempdir().unwrap();
    let text = config(WDBC, "[30, 8, 2]", r#"["dense"]"#, "[1, 2, 3]").replace(
        "[grid]\n",
        "[grid]\nmissing_mechanism = [\"mar\", \"mnar-quantile\"]\nmissing_rate = [0.05]\n\
         imputation = [\"mean\"]\n",
    );
    let path = write(dir.path(), "mar.toml", &text);
    let (cfg, config_dir) = ExperimentConfig::load(&path).unwrap();
    let full = experiments::datasets::load(&cfg.data, &config_dir).unwrap();
    let specs = experiments::grid::expand(&cfg);
    assert_eq!(specs.len(), 6);
    let missing_columns = |ds: &data::Dataset| -> Vec<usize> {
        let d = ds.n_features();
        (0..d)
            .filter(|&j| (0..ds.n_rows()).any(|i| !ds.observed[i * d + j]))
            .collect()
    };
    for spec in &specs {
        let p = experiments::pipeline::prepare(&full, &cfg, spec).unwrap();
        let (train, test) = (missing_columns(&p.train), missing_columns(&p.test));
        assert_eq!(train, test, "{}: the same columns lose values", spec.run_id);
        assert!(
            train.len() < 30,
            "{}: some columns are left alone",
            spec.run_id
        );
        for rate in [p.missing_rate_realized_train, p.missing_rate_realized_test] {
            assert!((rate - 0.05).abs() < 0.02, "{}: {rate}", spec.run_id);
        }
    }
    run_experiment(&path, &RunOptions::quiet_into(&dir.path().join("out"), 2)).unwrap();
    let runs: Vec<RunRow> = read_rows(&dir.path().join("out/runs.csv")).unwrap();
    for r in &runs {
        let (train, test) = (
            r.missing_rate_realized_train.unwrap(),
            r.missing_rate_realized_test.unwrap(),
        );
        assert!(train > 0.03 && test > 0.03, "{}", r.run_id);
        let (lo, hi) = (train.min(test), train.max(test));
        assert!(lo <= r.missing_rate_realized && r.missing_rate_realized <= hi);
    }
}

/// `missing.columns`: only the named features lose values, in both splits, at the rate of
/// all cells (`missing_rate`), which runs.csv reports beside the rate within the named columns;
/// the option changes the run keys, an unknown name or a mechanism that picks its own columns
/// is refused naming the field, and without the option runs.csv leaves the column empty.
#[test]
fn named_columns_alone_lose_values() {
    use experiments::config::ExperimentConfig;
    let dir = tempfile::tempdir().unwrap();
    let base = config(WDBC, "[30, 8, 2]", r#"["dense"]"#, "[1, 2]").replace(
        "[grid]\n",
        "[grid]\nmissing_mechanism = [\"mcar\", \"mnar-self-logistic\"]\nmissing_rate = [0.03]\n\
         imputation = [\"absent\"]\n",
    );
    // 3 of 30 columns: 10% of the cells, so 0.03 of all cells is 0.3 of theirs.
    let text = base.clone()
        + "[missing]\ncolumns = [\"worst area\", \"mean radius\", \"texture error\"]\n";
    let path = write(dir.path(), "columns.toml", &text);
    let (cfg, config_dir) = ExperimentConfig::load(&path).unwrap();
    let full = experiments::datasets::load(&cfg.data, &config_dir).unwrap();
    let named: Vec<usize> = ["mean radius", "texture error", "worst area"]
        .iter()
        .map(|n| full.feature_names.iter().position(|f| f == n).unwrap())
        .collect();
    let specs = experiments::grid::expand(&cfg);
    assert_eq!(specs.len(), 4);
    for spec in &specs {
        let p = experiments::pipeline::prepare(&full, &cfg, spec).unwrap();
        for ds in [&p.train, &p.test] {
            let d = ds.n_features();
            let touched: Vec<usize> = (0..d)
                .filter(|&j| (0..ds.n_rows()).any(|i| !ds.observed[i * d + j]))
                .collect();
            assert_eq!(touched, named, "{}", spec.run_id);
        }
        assert!(
            (p.missing_rate_realized - 0.03).abs() < 0.01,
            "{}",
            spec.run_id
        );
        let within = p.missing_rate_in_columns.unwrap();
        assert!((within - 0.3).abs() < 0.06, "{}: {within}", spec.run_id);
    }
    let plain = write(dir.path(), "plain.toml", &base);
    let (plain_cfg, _) = ExperimentConfig::load(&plain).unwrap();
    let plain_keys: Vec<String> = experiments::grid::expand(&plain_cfg)
        .into_iter()
        .map(|s| s.run_id)
        .collect();
    assert!(specs.iter().all(|s| !plain_keys.contains(&s.run_id)));
    run_experiment(&path, &RunOptions::quiet_into(&dir.path().join("out"), 2)).unwrap();
    let runs: Vec<RunRow> = read_rows(&dir.path().join("out/runs.csv")).unwrap();
    assert_eq!(runs.len(), 4);
    for r in &runs {
        let within = r.missing_rate_in_columns.unwrap();
        assert!(
            (within - 10.0 * r.missing_rate_realized).abs() < 1e-9,
            "{}",
            r.run_id
        );
    }
    run_experiment(
        &plain,
        &RunOptions::quiet_into(&dir.path().join("plain"), 2),
    )
    .unwrap();
    let runs: Vec<RunRow> = read_rows(&dir.path().join("plain/runs.csv")).unwrap();
    assert!(runs.iter().all(|r| r.missing_rate_in_columns.is_none()));
    // Refusals name the field.
    let unknown = write(
        dir.path(),
        "unknown.toml",
        &(base.clone() + "[missing]\ncolumns = [\"mean radius\", \"f029\"]\n"),
    );
    let err = error_of(&unknown, &dir.path().join("u"));
    assert!(
        err.contains("missing.columns") && err.contains("no feature `f029`"),
        "{err}"
    );
    let mar = write(
        dir.path(),
        "mar.toml",
        &(base.replace("\"mnar-self-logistic\"", "\"mar\"")
            + "[missing]\ncolumns = [\"mean radius\"]\n"),
    );
    let err = error_of(&mar, &dir.path().join("m"));
    assert!(
        err.contains("missing.columns") && err.contains("mar chooses its own columns"),
        "{err}"
    );
}

/// `tracking.relevant_features` is measured by a study's recording: with none installed (this
/// test binary installs no studies) the option is refused before any run, not ignored.
#[test]
fn relevant_features_without_the_studies_recording_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(WDBC, "[30, 8, 2]", r#"["set"]"#, "[1]")
        + "[tracking]\nrelevant_features = [\"mean radius\"]\n";
    let path = write(dir.path(), "features.toml", &text);
    let err = error_of(&path, &dir.path().join("out"));
    assert!(
        err.contains("tracking.relevant_features") && err.contains("studies::install"),
        "{err}"
    );
    assert!(!dir.path().join("out").join("runs.csv").exists());
}

/// A named variant runs beside its base method in one grid, under its own name and key:
/// SET with regrown weights at zero (`set-zero`) against SET with sampled ones.
#[test]
fn a_named_method_variant_runs_beside_its_base() {
    let dir = tempfile::tempdir().unwrap();
    let text = config(WDBC, "[30, 8, 2]", r#"["set", "set-zero"]"#, "[1]")
        + "[methods.set]\nzeta = 0.3\n[methods.set-zero]\nbase = \"set\"\nzeta = 0.3\n\
           regrow_init = \"zero\"\n";
    let cfg = write(dir.path(), "variants.toml", &text);
    run_experiment(&cfg, &RunOptions::quiet_into(&dir.path().join("out"), 2)).unwrap();
    let runs: Vec<RunRow> = read_rows(&dir.path().join("out/runs.csv")).unwrap();
    let of = |m: &str| runs.iter().find(|r| r.method == m).unwrap();
    let (set, zero) = (of("set"), of("set-zero"));
    assert!(zero.run_id.contains("/set-zero/"), "{}", zero.run_id);
    assert_ne!(set.config_hash, zero.config_hash);
    assert_eq!(set.nnz, zero.nnz, "same budget");
    assert_ne!(
        (set.train_loss, set.test_loss),
        (zero.train_loss, zero.test_loss),
        "different regrowth, different numbers"
    );
    let unknown = write(
        dir.path(),
        "unknown.toml",
        &config(WDBC, "[30, 8, 2]", r#"["set-one"]"#, "[1]"),
    );
    let e = error_of(&unknown, &dir.path().join("u"));
    assert!(e.contains("set-one") && e.contains("base"), "{e}");
}
