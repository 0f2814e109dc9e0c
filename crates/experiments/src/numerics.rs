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

use crate::results::{EpochRow, RunRow};

/// The version of the numbers this code computes. Bumped with every change that alters any
/// number a run produces.
pub const VERSION: u32 = 6;

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
];

/// Digest of each reference run at [`VERSION`], by [`reference_label`].
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
    ("numerics-data/set/mar/absent", "eef878e5a4c680eb"),
    ("numerics-data/set/mar/iterative", "2c1dd60f74428e5d"),
    ("numerics-data/set/mar/knn", "bf855964bc24cbbc"),
    ("numerics-data/set/mar/mean", "3e13ee90d4ece388"),
    ("numerics-data/set/mar/mean+indicator", "90ac26170f83cef9"),
    ("numerics-data/set/mar/median", "12ceed07b63a908d"),
    ("numerics-data/set/mar/zero", "d1278d4e3b804e34"),
    ("numerics-data/set/mcar/absent", "e8f08f47f092cdcd"),
    ("numerics-data/set/mcar/iterative", "0b70700b9c990423"),
    ("numerics-data/set/mcar/knn", "f871e056dfd7e487"),
    ("numerics-data/set/mcar/mean", "768da92d9526eaa4"),
    ("numerics-data/set/mcar/mean+indicator", "9c34a35983a3dd1a"),
    ("numerics-data/set/mcar/median", "5ab7ce68b8201090"),
    ("numerics-data/set/mcar/zero", "e356ce053ebaa682"),
    ("numerics-data/set/mnar-quantile/absent", "1a55cd103117f1fc"),
    (
        "numerics-data/set/mnar-quantile/iterative",
        "c7e2fe7b7567b98b",
    ),
    ("numerics-data/set/mnar-quantile/knn", "1a15df55d9cb4561"),
    ("numerics-data/set/mnar-quantile/mean", "13b10cd02a17c612"),
    (
        "numerics-data/set/mnar-quantile/mean+indicator",
        "9ffde399b95afbcb",
    ),
    ("numerics-data/set/mnar-quantile/median", "ed114e1d5754f0d2"),
    ("numerics-data/set/mnar-quantile/zero", "5a22c73aa1c64e51"),
    (
        "numerics-data/set/mnar-self-logistic/absent",
        "56a1b7e642ce684a",
    ),
    (
        "numerics-data/set/mnar-self-logistic/iterative",
        "193f191f4d1148ec",
    ),
    (
        "numerics-data/set/mnar-self-logistic/knn",
        "db382ae6449cb3e0",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean",
        "e263a24275dea399",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean+indicator",
        "f27e80331d301f80",
    ),
    (
        "numerics-data/set/mnar-self-logistic/median",
        "381759b8d7ad2d7e",
    ),
    (
        "numerics-data/set/mnar-self-logistic/zero",
        "6f69ff32d75c7b97",
    ),
    ("numerics-data/set/mnar/absent", "23e722eeffbec653"),
    ("numerics-data/set/mnar/iterative", "da621b349fc13bc6"),
    ("numerics-data/set/mnar/knn", "794a53b7dee6e437"),
    ("numerics-data/set/mnar/mean", "4d0d7e0cdde7201b"),
    ("numerics-data/set/mnar/mean+indicator", "2cdbebba26bc8b22"),
    ("numerics-data/set/mnar/median", "cf5b04285d845d69"),
    ("numerics-data/set/mnar/zero", "2d4edef5abf90e02"),
    ("numerics-methods/deepr/none/none", "857649b29423a335"),
    ("numerics-methods/dense/none/none", "48dcd5de56c634c1"),
    ("numerics-methods/dsr/none/none", "132b04f2efec9250"),
    ("numerics-methods/gmp/none/none", "3a5015c06d650141"),
    ("numerics-methods/mest/none/none", "da48cf32d568432e"),
    ("numerics-methods/rigl/none/none", "64bf4bd363952b64"),
    ("numerics-methods/set/none/none", "4e0ca2a9e93882c8"),
    ("numerics-methods/snfs/none/none", "67c1b9a38edcb8b8"),
    ("numerics-methods/static/none/none", "7b35ad92406cda36"),
];

/// The reference configs, relative to the repository root.
pub const REFERENCE_CONFIGS: &[&str] = &[
    "experiments/reference/numerics-methods.toml",
    "experiments/reference/numerics-data.toml",
];

/// The readable name of a reference run: its config, method, mechanism and imputation.
pub fn reference_label(run: &RunRow) -> String {
    format!(
        "{}/{}/{}/{}",
        run.experiment, run.method, run.missing_mechanism, run.imputation
    )
}

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

/// FNV-1a of a run's outcomes and its epochs' ([`RUN_OUTCOMES`], [`EPOCH_OUTCOMES`]): floats
/// are written in their shortest exact form, so any changed bit changes the digest.
pub fn run_digest(run: &RunRow, epochs: &[EpochRow]) -> String {
    let mut text = outcomes_json(run, RUN_OUTCOMES);
    for e in epochs {
        text.push('\n');
        text.push_str(&outcomes_json(e, EPOCH_OUTCOMES));
    }
    format!("{:016x}", crate::grid::fnv1a(text.as_bytes()))
}

/// One digest for a whole table of `(label, digest)` pairs, in label order.
pub fn combined_digest(digests: &[(&str, &str)]) -> String {
    let mut sorted = digests.to_vec();
    sorted.sort_unstable();
    let text: Vec<String> = sorted.iter().map(|(l, d)| format!("{l} {d}")).collect();
    format!("{:016x}", crate::grid::fnv1a(text.join("\n").as_bytes()))
}

/// The `fields` of `row` as JSON, in that order.
///
/// # Panics
/// If `row` has no such field (a renamed column must be renamed here too).
fn outcomes_json(row: &impl serde::Serialize, fields: &[&str]) -> String {
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
        let base = run_digest(&run, &[]);
        let timing = RunRow {
            train_seconds: 99.0,
            commit: "other".into(),
            run_id: "other".into(),
            missing_rate_realized_test: None,
            ..run.clone()
        };
        assert_eq!(run_digest(&timing, &[]), base);
        let one_ulp = RunRow {
            test_accuracy: f64::from_bits(run.test_accuracy.to_bits() + 1),
            ..run.clone()
        };
        assert_ne!(run_digest(&one_ulp, &[]), base);
        let flops = RunRow {
            train_flops: run.train_flops + 1,
            ..run.clone()
        };
        assert_ne!(run_digest(&flops, &[]), base);
    }
}
