//! The estimator (the Python package's engine) against `run::execute`: fitted on the rows of a
//! run's training split, in the split's order, it is that run's model, bit for bit; and its
//! refusals name what is wrong.

use data::{stratified_split, Dataset};
use estimator::{EstimatorError, FittedModel};
use experiments::config::ExperimentConfig;
use experiments::{datasets, grid, run};
use models::rngs::stream;
use std::path::Path;

fn config(dataset: &str, layers: &str, method: &str, imputation: &str, extra: &str) -> String {
    format!(
        r#"
name = "estimator"
[data]
dataset = "{dataset}"
[model]
layers = {layers}
dropout = 0.1
[training]
epochs = 4
batch_size = 16
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["{method}"]
sparsity = [0.8]
seeds = [7]
imputation = ["{imputation}"]
[tracking]
predictions = true
el2n_epochs = [2]
{extra}
"#
    )
}

fn parse(text: &str) -> ExperimentConfig {
    let cfg: ExperimentConfig = toml::from_str(text).unwrap();
    cfg.validate().unwrap();
    cfg
}

/// The run of `cfg` and the estimator fitted on its training rows agree on every test
/// prediction, every epoch's training loss and every training row's forgetting count.
fn assert_estimator_is_the_run(text: &str) {
    let cfg = parse(text);
    let full = datasets::load(&cfg.data, Path::new(".")).unwrap();
    let spec = grid::expand(&cfg).remove(0);
    let result = run::execute(&cfg, &spec, &full, "test", &mut |_| {}, None).unwrap();
    let split = stratified_split(
        &full.labels,
        full.n_classes(),
        cfg.data.test_fraction,
        &mut stream(spec.seed, "split"),
    )
    .unwrap();
    let train = full.subset(&split.train);
    let test = full.subset(&split.test);
    let mut fitted = FittedModel::fit(&cfg, &train).unwrap();
    let probs = fitted.predict_proba(&test).unwrap();
    let k = full.n_classes();
    let predictions = &result.files.predictions;
    assert_eq!(predictions.len(), test.n_rows());
    for (r, p) in predictions.iter().enumerate() {
        assert_eq!(p.example_id, test.row_ids[r]);
        let row = &probs[r * k..(r + 1) * k];
        assert_eq!(
            p.p_true.to_bits(),
            f64::from(row[p.label as usize]).to_bits(),
            "test row {r}"
        );
        assert_eq!(p.predicted, models::batch::argmax_rows(row, k)[0]);
    }
    let losses: Vec<f64> = result.files.epochs.iter().map(|e| e.train_loss).collect();
    let fitted_losses: Vec<f64> = fitted.epochs.iter().map(|e| e.train_loss).collect();
    assert_eq!(losses, fitted_losses);
    let events = |id: usize| {
        fitted
            .examples
            .iter()
            .find(|s| s.example_id == id)
            .map(|s| (s.forgetting_events, s.first_learned_epoch))
    };
    assert_eq!(result.files.examples.len(), train.n_rows());
    for e in &result.files.examples {
        assert_eq!(
            events(e.example_id),
            Some((e.forgetting_events, e.first_learned_epoch))
        );
    }
    assert_eq!(fitted.history().len(), 4);
}

#[test]
fn fitted_on_a_runs_training_rows_it_is_that_run() {
    assert_estimator_is_the_run(&config("wdbc", "[30, 20, 20, 2]", "set", "none", ""));
    assert_estimator_is_the_run(&config("wdbc", "[30, 20, 20, 2]", "dense", "none", ""));
    // Real missing values and categorical columns: one-hot encoding, then the inputs left
    // absent, or imputed.
    let penguins = "[7, 16, 3]";
    assert_estimator_is_the_run(&config("penguins", penguins, "rigl", "absent", ""));
    assert_estimator_is_the_run(&config(
        "penguins",
        penguins,
        "static",
        "mean+indicator",
        "",
    ));
}

#[test]
fn history_reports_density_and_turnover() {
    let full = datasets::load(
        &parse(&config("wdbc", "[30, 20, 2]", "set", "none", "")).data,
        Path::new("."),
    )
    .unwrap();
    let fit = |method: &str| {
        FittedModel::fit(
            &parse(&config("wdbc", "[30, 20, 2]", method, "none", "")),
            &full,
        )
        .unwrap()
    };
    let (set, fixed) = (fit("set"), fit("static"));
    // 600 sparse connections at 80% sparsity of 30 x 20, plus the dense 20 x 2 output.
    let dense = (30 * 20 + 20 * 2) as f64;
    for h in set.history().iter().chain(&fixed.history()) {
        assert!((h.density - (120.0 + 40.0) / dense).abs() < 0.01, "{h:?}");
    }
    // SET rewires after every epoch but the last (as in the seed paper's code).
    let set_history = set.history();
    assert!(set_history[..3].iter().all(|h| h.turnover > 0.0));
    assert_eq!(set_history[3].turnover, 0.0);
    assert!(fixed.history().iter().all(|h| h.turnover == 0.0));
    let degrees = set.input_degrees();
    assert_eq!(degrees.len(), 30);
    assert_eq!(degrees.iter().sum::<usize>(), 120);
    assert_eq!(fit("dense").input_degrees(), vec![20; 30]);
}

fn invalid(result: Result<FittedModel, EstimatorError>) -> String {
    match result {
        Err(EstimatorError::Invalid(m)) => m,
        Err(e) => panic!("expected a refusal, got {e:#}"),
        Ok(_) => panic!("expected a refusal"),
    }
}

#[test]
fn refusals_name_what_is_wrong() {
    let wdbc = |text: &str| {
        let cfg: ExperimentConfig = toml::from_str(text).unwrap();
        let full = datasets::load(&cfg.data, Path::new(".")).unwrap();
        (cfg, full)
    };
    let (cfg, full) = wdbc(&config(
        "wdbc",
        "[30, 8, 2]",
        "set",
        "none",
        "[methods.set]\nzeta = 1.5",
    ));
    let m = invalid(FittedModel::fit(&cfg, &full));
    assert!(m.contains("zeta"), "{m}");

    let (cfg, full) = wdbc(
        &config("wdbc", "[30, 8, 2]", "set", "none", "").replace("seeds = [7]", "seeds = [1, 2]"),
    );
    let m = invalid(FittedModel::fit(&cfg, &full));
    assert!(m.contains("2 runs"), "{m}");

    let (cfg, full) = wdbc(&config("wdbc", "[31, 8, 2]", "set", "none", ""));
    let m = invalid(FittedModel::fit(&cfg, &full));
    assert!(
        m.contains("model.layers") && m.contains("30 features"),
        "{m}"
    );

    let (cfg, full) = wdbc(&config("wdbc", "[30, 8, 2]", "set", "none", ""));
    let mut holes = full.clone();
    holes.values[0] = 0.0;
    holes.observed[0] = false;
    let m = invalid(FittedModel::fit(&cfg, &holes));
    assert!(m.contains("imputation") && m.contains("none"), "{m}");

    let mut fitted = FittedModel::fit(&cfg, &full).unwrap();
    let narrow = Dataset::numeric(
        "x",
        vec!["a".into()],
        full.class_names.clone(),
        vec![1.0],
        vec![true],
        vec![0],
    );
    match fitted.predict_proba(&narrow) {
        Err(EstimatorError::Invalid(m)) => assert!(m.contains("1 features"), "{m}"),
        _ => panic!("expected a refusal"),
    }
}

#[test]
fn saved_and_loaded_it_predicts_the_same_bits() {
    let cfg = parse(&config(
        "penguins",
        "[7, 16, 3]",
        "rigl",
        "knn+indicator",
        "",
    ));
    let full = datasets::load(&cfg.data, Path::new(".")).unwrap();
    let mut fitted = FittedModel::fit(&cfg, &full).unwrap();
    let bytes = fitted.to_bytes();
    let mut loaded = FittedModel::from_bytes(&bytes).unwrap();
    let bits = |p: Vec<f32>| p.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(fitted.predict_proba(&full).unwrap()),
        bits(loaded.predict_proba(&full).unwrap())
    );
    assert_eq!(fitted.history(), loaded.history());
    assert_eq!(fitted.examples, loaded.examples);
    assert_eq!(fitted.input_degrees(), loaded.input_degrees());
    // The same bytes again: saving is deterministic.
    assert_eq!(loaded.to_bytes(), bytes);
    let m = invalid(FittedModel::from_bytes(&bytes[..bytes.len() / 2]));
    assert!(m.contains("saved model"), "{m}");
}
