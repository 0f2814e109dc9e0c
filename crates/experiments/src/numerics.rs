//! The numerics fingerprint: which version of the code's arithmetic produced a run.
//!
//! A run is resumed (skipped) by its key, the resolved grid cell and seed, so a change to a
//! kernel's summation order, a method or the data pipeline would otherwise leave old numbers
//! in a results folder beside new ones, unnoticed. Every run row therefore records
//! [`VERSION`] (`numerics` in runs.csv, outside the key), and short reference runs pin what
//! this version computes: one per model and one per way of removing and feeding missing
//! values (`experiments/reference/`). `tests/numerics.rs` reruns them and compares their
//! digests with [`REFERENCE_DIGESTS`], so a change that alters numbers fails a test until the
//! version is bumped.
//!
//! To change numbers on purpose: bump [`VERSION`], paste the digests the failing test prints
//! into [`REFERENCE_DIGESTS`] and add a line to [`HISTORY`] saying why, in the same commit.

use serde::Serialize;

/// The version of the numbers this code computes. Bumped with every change that alters any
/// number a run produces.
pub const VERSION: u32 = 7;

/// Every version with the combined digest of its reference runs ([`combined_digest`] of
/// [`REFERENCE_DIGESTS`]) and what changed. Versions increase, and no two share a digest:
/// numbers that changed are a new version.
pub const HISTORY: &[(u32, &str, &str)] = &[
    (
        1,
        "0d8ad1df21283692",
        "the numbers of efd65c6 (part1-paper rerun there equals the committed results)",
    ),
    (
        2,
        "7e609cda4c95051f",
        "one missingness setup per run, drawn and calibrated on the training split and \
         applied to every split: the test splits of MAR and MNAR runs change (training splits \
         and MCAR runs do not); digests cover the runs' outcomes only",
    ),
    (
        3,
        "49712d89acf00e58",
        "RigL: a position dropped and regrown in one update keeps its weight and momentum (the reference's reinit_when_same = False)",
    ),
    (
        4,
        "ccb2bdc6170765d8",
        "MEST: the mutation schedule is a share of each layer's connections by default (nnz_stages, the reference schedule at its 90% sparsity); the dense-size stages stay available",
    ),
    (
        5,
        "a0a23fce27a06b98",
        "growth is never scored on a partial batch: on an epoch's last, partial batch, gradient growth (SNFS's update) is scored on the epoch's last full batch",
    ),
    (
        6,
        "e16b41eb68846881",
        "absent inputs: the sparse-input weight gradient sums in the lane order of the dense one, so absent inputs give the bits of zero-filled ones and each batch runs on the faster kernels; only the absent runs change (their train_flops still count observed inputs)",
    ),
    (
        7,
        "7497fbc56a1dfad5",
        "initial and regrown positions from our own sorted uniform subset sampler (i.i.d. draws kept until the count is reached, the complement above half): rand's index::sample shuffled an array of all n_in x n_out ranks for subsets above ~3% of them; every sparse topology changes, dense runs do not",
    ),
];

/// Digest of each reference run at [`VERSION`], by run label
/// (`numerics-data/<model>/<mechanism>/<imputation>`).
pub const REFERENCE_DIGESTS: &[(&str, &str)] = &[
    ("numerics-data/dense/mar/absent", "fa1cdfa9404e51a4"),
    ("numerics-data/dense/mar/iterative", "1cc55fe7b2d78cc7"),
    ("numerics-data/dense/mar/knn", "77ac88da8f4d9176"),
    ("numerics-data/dense/mar/mean", "3a73b5260f8ea301"),
    ("numerics-data/dense/mar/mean+indicator", "7487df2d2f797162"),
    ("numerics-data/dense/mar/median", "d4e0feebaa9372a9"),
    ("numerics-data/dense/mar/zero", "fa1cdfa9404e51a4"),
    ("numerics-data/dense/mcar/absent", "814513c2b425dc15"),
    ("numerics-data/dense/mcar/iterative", "9515bddf41bc1b08"),
    ("numerics-data/dense/mcar/knn", "58570d992dc12d6a"),
    ("numerics-data/dense/mcar/mean", "cc3bbed9030f7983"),
    (
        "numerics-data/dense/mcar/mean+indicator",
        "786bcbaac9a442de",
    ),
    ("numerics-data/dense/mcar/median", "72d6a6d3bba0267f"),
    ("numerics-data/dense/mcar/zero", "814513c2b425dc15"),
    (
        "numerics-data/dense/mnar-quantile/absent",
        "3c3c485d5815f53e",
    ),
    (
        "numerics-data/dense/mnar-quantile/iterative",
        "5f283554e80edd16",
    ),
    ("numerics-data/dense/mnar-quantile/knn", "13bfe1e8137783ef"),
    ("numerics-data/dense/mnar-quantile/mean", "0e9075c6ddad38e7"),
    (
        "numerics-data/dense/mnar-quantile/mean+indicator",
        "585540a32a236112",
    ),
    (
        "numerics-data/dense/mnar-quantile/median",
        "ab1199e7232f560d",
    ),
    ("numerics-data/dense/mnar-quantile/zero", "3c3c485d5815f53e"),
    (
        "numerics-data/dense/mnar-self-logistic/absent",
        "cff2471a236314f5",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/iterative",
        "6f1e57f705a148f5",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/knn",
        "20788dc349e332ac",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/mean",
        "09e528434f73b655",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/mean+indicator",
        "e5432f38eb62cd13",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/median",
        "68498258d1ae4910",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/zero",
        "cff2471a236314f5",
    ),
    ("numerics-data/dense/mnar/absent", "86fe24d691def688"),
    ("numerics-data/dense/mnar/iterative", "a5b0f8fe9ffa133f"),
    ("numerics-data/dense/mnar/knn", "776055a65db57569"),
    ("numerics-data/dense/mnar/mean", "a80a1706f716f95f"),
    (
        "numerics-data/dense/mnar/mean+indicator",
        "01fe626f4885232b",
    ),
    ("numerics-data/dense/mnar/median", "daeeee0c94072254"),
    ("numerics-data/dense/mnar/zero", "86fe24d691def688"),
    ("numerics-data/set/mar/absent", "05d722c6a1f14e4a"),
    ("numerics-data/set/mar/iterative", "32c76e26c0b98d68"),
    ("numerics-data/set/mar/knn", "5a57d35abcd51b7d"),
    ("numerics-data/set/mar/mean", "2af71e1417ed15d4"),
    ("numerics-data/set/mar/mean+indicator", "9ab09f2ca3e2b057"),
    ("numerics-data/set/mar/median", "f6ebedd2ef8a9cc7"),
    ("numerics-data/set/mar/zero", "b90d3598b35c3434"),
    ("numerics-data/set/mcar/absent", "0cb088bbf887987c"),
    ("numerics-data/set/mcar/iterative", "dc8d8abd1f7da4ab"),
    ("numerics-data/set/mcar/knn", "1f7d2c789b1e0ffb"),
    ("numerics-data/set/mcar/mean", "93ee887605b8e312"),
    ("numerics-data/set/mcar/mean+indicator", "16e86041dde9b85b"),
    ("numerics-data/set/mcar/median", "ca156606797c6be8"),
    ("numerics-data/set/mcar/zero", "2572795a44fd0515"),
    ("numerics-data/set/mnar-quantile/absent", "c7f2abf926638245"),
    (
        "numerics-data/set/mnar-quantile/iterative",
        "419899b626e8ac65",
    ),
    ("numerics-data/set/mnar-quantile/knn", "5f093a1021f32f73"),
    ("numerics-data/set/mnar-quantile/mean", "ffbc04d66a3c1fbe"),
    (
        "numerics-data/set/mnar-quantile/mean+indicator",
        "d69406a88b99ced1",
    ),
    ("numerics-data/set/mnar-quantile/median", "6d9af11f9de75e5b"),
    ("numerics-data/set/mnar-quantile/zero", "9590b14bd02edada"),
    (
        "numerics-data/set/mnar-self-logistic/absent",
        "5158acf7c7f619c9",
    ),
    (
        "numerics-data/set/mnar-self-logistic/iterative",
        "0efc77d77e2cff94",
    ),
    (
        "numerics-data/set/mnar-self-logistic/knn",
        "424bd715ccb72377",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean",
        "29457f808339fc95",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean+indicator",
        "352d537813b6fca0",
    ),
    (
        "numerics-data/set/mnar-self-logistic/median",
        "144005685ac3e108",
    ),
    (
        "numerics-data/set/mnar-self-logistic/zero",
        "bc971ea73242cec2",
    ),
    ("numerics-data/set/mnar/absent", "2264511550d7f4be"),
    ("numerics-data/set/mnar/iterative", "314cdfe9eff54154"),
    ("numerics-data/set/mnar/knn", "ecc9154701abb8c3"),
    ("numerics-data/set/mnar/mean", "29d5caf2a67f8ac8"),
    ("numerics-data/set/mnar/mean+indicator", "5d3304731d429752"),
    ("numerics-data/set/mnar/median", "a7595022dd3bd72b"),
    ("numerics-data/set/mnar/zero", "2842f4a0aee724f4"),
    ("numerics-methods/deepr/none/none", "22eeabbba8fca091"),
    ("numerics-methods/dense/none/none", "48dcd5de56c634c1"),
    ("numerics-methods/dsr/none/none", "4c0c38470765f923"),
    ("numerics-methods/gmp/none/none", "3a5015c06d650141"),
    ("numerics-methods/mest/none/none", "f0f84d4eee9f7562"),
    ("numerics-methods/rigl/none/none", "ce0dcba3e25c62bf"),
    ("numerics-methods/set/none/none", "956bd00681467d99"),
    ("numerics-methods/snfs/none/none", "fa5962181976896d"),
    ("numerics-methods/static/none/none", "b3b466ddabb517f4"),
];

/// The reference configs, relative to the repository root.
pub const REFERENCE_CONFIGS: &[&str] = &[
    "experiments/reference/numerics-methods.toml",
    "experiments/reference/numerics-data.toml",
];

/// The outcomes of a run the digests cover: what training computed, not how the row reports
/// it, so a new report column does not change them. Timings, keys and the commit are left out.
const RUN_OUTCOMES: &[&str] = &[
    "nnz",
    "missing_rate_realized",
    "epochs",
    "diverged",
    "test_accuracy",
    "test_loss",
    "train_loss",
    "train_accuracy",
    "train_flops",
    "layer_density",
];

/// The same for each epoch.
const EPOCH_OUTCOMES: &[&str] = &[
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "validation_accuracy",
    "nnz",
    "removed",
    "grown",
    "flops",
];

/// FNV-1a of a run's outcomes and its epochs' (`RUN_OUTCOMES` of a `runs.csv` row,
/// `EPOCH_OUTCOMES` of `epochs.csv` rows): floats
/// are written in their shortest exact form, so any changed bit changes the digest.
pub fn run_digest(run: &impl Serialize, epochs: &[impl Serialize]) -> String {
    let mut text = outcomes_json(run, RUN_OUTCOMES);
    for e in epochs {
        text.push('\n');
        text.push_str(&outcomes_json(e, EPOCH_OUTCOMES));
    }
    format!("{:016x}", crate::hash::fnv1a(text.as_bytes()))
}

/// One digest for a whole table of `(label, digest)` pairs, in label order.
pub fn combined_digest(digests: &[(&str, &str)]) -> String {
    let mut sorted = digests.to_vec();
    sorted.sort_unstable();
    let text: Vec<String> = sorted.iter().map(|(l, d)| format!("{l} {d}")).collect();
    format!("{:016x}", crate::hash::fnv1a(text.join("\n").as_bytes()))
}

/// The `fields` of `row` as JSON, in that order.
///
/// # Panics
/// If `row` has no such field (a renamed column must be renamed here too).
fn outcomes_json(row: &impl Serialize, fields: &[&str]) -> String {
    let value = serde_json::to_value(row).expect("plain rows serialise");
    let picked: Vec<String> = fields
        .iter()
        .map(|f| {
            let v = value
                .get(*f)
                .unwrap_or_else(|| panic!("no field `{f}` to digest"));
            format!("{f}={v}")
        })
        .collect();
    picked.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{EpochRow, RunRow};

    #[test]
    fn history_ends_at_this_version_with_distinct_digests() {
        let last = HISTORY.last().expect("at least one version");
        assert_eq!(last.0, VERSION, "the last HISTORY line is this VERSION");
        for w in HISTORY.windows(2) {
            assert!(
                w[0].0 < w[1].0,
                "versions increase: {} then {}",
                w[0].0,
                w[1].0
            );
        }
        let mut digests: Vec<&str> = HISTORY.iter().map(|h| h.1).collect();
        digests.sort_unstable();
        digests.dedup();
        assert_eq!(
            digests.len(),
            HISTORY.len(),
            "no two versions share a digest"
        );
        assert_eq!(
            combined_digest(REFERENCE_DIGESTS),
            last.1,
            "REFERENCE_DIGESTS changed: bump VERSION and add a HISTORY line with this digest"
        );
    }

    #[test]
    fn digests_see_every_outcome_and_ignore_timings_keys_and_reports() {
        let run = crate::results::sample_row("set", 1, 0.9);
        let base = run_digest(&run, &[] as &[EpochRow]);
        let timing = RunRow {
            train_seconds: 99.0,
            commit: "other".into(),
            run_id: "other".into(),
            missing_rate_realized_test: None,
            missing_rate_in_columns: None,
            ..run.clone()
        };
        assert_eq!(run_digest(&timing, &[] as &[EpochRow]), base);
        let one_ulp = RunRow {
            test_accuracy: f64::from_bits(run.test_accuracy.to_bits() + 1),
            ..run.clone()
        };
        assert_ne!(run_digest(&one_ulp, &[] as &[EpochRow]), base);
        let flops = RunRow {
            train_flops: run.train_flops + 1,
            ..run.clone()
        };
        assert_ne!(run_digest(&flops, &[] as &[EpochRow]), base);
    }
}
