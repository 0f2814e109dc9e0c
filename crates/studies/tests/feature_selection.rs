//! The feature-selection study's recording through the runner: every run with
//! `tracking.relevant_features` writes its rows of `feature_selection.csv` (sparse ranked by
//! degree, dense by strength), tracking leaves the run keys alone, and a name the data lacks is
//! refused before any run.

use experiments::results::read_rows;
use experiments::{run_experiment, RunOptions};
use studies::feature_selection::{FeatureSelectionRow, FEATURE_SELECTION};

const MADELON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/madelon.csv");

/// Dense and SET on Madelon, 5 epochs; `tracking` is appended by the test.
fn plain_config() -> String {
    format!(
        r#"
name = "tiny"
[data]
dataset = "{MADELON}"
[model]
layers = [500, 16, 2]
[training]
epochs = 5
batch_size = 16
learning_rate = 0.01
momentum = 0.9
[grid]
methods = ["dense", "set"]
sparsity = [0.5]
seeds = [1]
"#
    )
}

/// `tracking.relevant_features`: every run measures how its input layer ranks the named
/// features every `degree_every` epochs and at the last (sparse by degree, dense by strength),
/// the runs' keys do not change (tracking is not a setting of the run), and a name the data
/// lacks is refused before any run.
#[test]
fn runs_measure_feature_selection_against_the_relevant_set() {
    studies::install();
    let dir = tempfile::tempdir().unwrap();
    let relevant: Vec<String> = experiments::datasets::MADELON_RELEVANT
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect();
    let text = plain_config()
        + &format!(
            "[tracking]\ndegree_every = 2\nrelevant_features = [{}]\n",
            relevant.join(", ")
        );
    let path = dir.path().join("madelon.toml");
    std::fs::write(&path, &text).unwrap();
    let out = dir.path().join("out");
    run_experiment(&path, &RunOptions::quiet_into(&out, 2)).unwrap();
    let rows: Vec<FeatureSelectionRow> = read_rows(&out.join(FEATURE_SELECTION)).unwrap();
    for (method, ranked_by) in [("dense", "strength"), ("set", "degree")] {
        let mine: Vec<&FeatureSelectionRow> = rows.iter().filter(|r| r.method == method).collect();
        let epochs: Vec<usize> = mine.iter().map(|r| r.epoch).collect();
        assert_eq!(epochs, [2, 4, 5], "{method}");
        for r in mine {
            assert_eq!((r.ranked_by.as_str(), r.k), (ranked_by, 20));
            assert!((0.0..=1.0).contains(&r.precision_at_k), "{r:?}");
            assert!(
                r.average_precision > 0.0 && r.average_precision <= 1.0,
                "{r:?}"
            );
            assert!(r.relevant_strength_mean > 0.0 && r.noise_strength_mean > 0.0);
            assert_eq!(r.relevant_degree_mean.is_nan(), method == "dense");
        }
    }
    let plain = plain_config();
    let keys = |text: &str| -> Vec<String> {
        let cfg: experiments::ExperimentConfig = toml::from_str(text).unwrap();
        experiments::grid::expand(&cfg)
            .into_iter()
            .map(|s| s.run_id)
            .collect()
    };
    assert_eq!(keys(&text), keys(&plain));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("\"f029\"", "\"f999\"")).unwrap();
    let options = RunOptions::quiet_into(&dir.path().join("bad"), 1);
    let err = format!("{:#}", run_experiment(&bad, &options).unwrap_err());
    assert!(
        err.contains("tracking.relevant_features") && err.contains("no feature `f999`"),
        "{err}"
    );
}
