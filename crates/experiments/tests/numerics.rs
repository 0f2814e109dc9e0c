//! The pinned reference runs of the numerics fingerprint: every model, and every way of
//! removing and feeding missing values, computes what it computed when
//! `experiments::numerics::VERSION` was set. A change that alters any of their numbers fails
//! here until the version is bumped (see the module's docs for how).

use experiments::numerics::{
    combined_digest, run_digest, REFERENCE_CONFIGS, REFERENCE_DIGESTS, VERSION,
};
use experiments::results::{read_rows, EpochRow, RunRow};
use experiments::{run_experiment, RunOptions};
use std::collections::BTreeMap;
use std::path::Path;

/// Runs every reference config; the digest of each run by its label.
fn reference_digests() -> BTreeMap<String, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let mut digests = BTreeMap::new();
    for (i, config) in REFERENCE_CONFIGS.iter().enumerate() {
        let out = dir.path().join(i.to_string());
        run_experiment(&repo.join(config), &RunOptions::quiet_into(&out, 2)).unwrap();
        let runs: Vec<RunRow> = read_rows(&out.join("runs.csv")).unwrap();
        let epochs: Vec<EpochRow> = read_rows(&out.join("epochs.csv")).unwrap();
        for r in &runs {
            assert_eq!(
                r.numerics,
                Some(VERSION),
                "{}: the row records the version",
                r.run_id
            );
            assert!(
                !r.diverged,
                "{}: a reference run must train to the end",
                r.run_id
            );
            let own: Vec<EpochRow> = epochs
                .iter()
                .filter(|e| e.run_id == r.run_id)
                .cloned()
                .collect();
            let previous = digests.insert(reference_label(r), run_digest(r, &own));
            assert!(
                previous.is_none(),
                "two reference runs share the label of {}",
                r.run_id
            );
        }
    }
    digests
}

#[test]
fn reference_runs_give_the_pinned_numbers_of_this_numerics_version() {
    let got = reference_digests();
    let want: BTreeMap<String, String> = REFERENCE_DIGESTS
        .iter()
        .map(|(l, d)| (l.to_string(), d.to_string()))
        .collect();
    if got == want {
        return;
    }
    let changed: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|l| got.get(*l) != want.get(*l))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let table: String = got
        .iter()
        .map(|(l, d)| format!("    (\"{l}\", \"{d}\"),\n"))
        .collect();
    let pairs: Vec<(&str, &str)> = got.iter().map(|(l, d)| (l.as_str(), d.as_str())).collect();
    panic!(
        "the numbers of {} reference run(s) changed: {changed:?}\n\
         If the change is meant, bump numerics::VERSION (now {VERSION}), set \
         REFERENCE_DIGESTS to\n{table}and add a HISTORY line with the combined digest {} \
         saying what changed.",
        changed.len(),
        combined_digest(&pairs)
    );
}

/// The readable name of a reference run: its config, method, mechanism and imputation.
fn reference_label(run: &RunRow) -> String {
    format!(
        "{}/{}/{}/{}",
        run.experiment, run.method, run.missing_mechanism, run.imputation
    )
}
