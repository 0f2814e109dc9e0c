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
pub const VERSION: u32 = 1;

/// Every version with the combined digest of its reference runs ([`combined_digest`] of
/// [`REFERENCE_DIGESTS`]) and what changed. Versions increase, and no two share a digest:
/// numbers that changed are a new version.
pub const HISTORY: &[(u32, &str, &str)] = &[(
    1,
    "0d8ad1df21283692",
    "the numbers of efd65c6 (part1-paper rerun there equals the committed results)",
)];

/// Digest of each reference run at [`VERSION`], by [`reference_label`].
pub const REFERENCE_DIGESTS: &[(&str, &str)] = &[
    ("numerics-data/dense/mar/absent", "c40ec0ef7facb135"),
    ("numerics-data/dense/mar/iterative", "dcb50f7ea16b730e"),
    ("numerics-data/dense/mar/knn", "c0215325916b40c0"),
    ("numerics-data/dense/mar/mean", "8593ce1bcac6352f"),
    ("numerics-data/dense/mar/mean+indicator", "ae96fa550178c7ba"),
    ("numerics-data/dense/mar/median", "a052bbb64ff14699"),
    ("numerics-data/dense/mar/zero", "c8bc12a302db9e60"),
    ("numerics-data/dense/mcar/absent", "f2927f19e313d0ff"),
    ("numerics-data/dense/mcar/iterative", "626958031106c46c"),
    ("numerics-data/dense/mcar/knn", "f98ff834462794be"),
    ("numerics-data/dense/mcar/mean", "03bee60eae169cb9"),
    (
        "numerics-data/dense/mcar/mean+indicator",
        "8f20b3a32cd31971",
    ),
    ("numerics-data/dense/mcar/median", "2ca07d14ff05a01c"),
    ("numerics-data/dense/mcar/zero", "b2314447942846a4"),
    (
        "numerics-data/dense/mnar-quantile/absent",
        "7605eae671b7a05a",
    ),
    (
        "numerics-data/dense/mnar-quantile/iterative",
        "7dfd364a18f0b9ca",
    ),
    ("numerics-data/dense/mnar-quantile/knn", "0f08155400a4385f"),
    ("numerics-data/dense/mnar-quantile/mean", "58d17b27a57acaf2"),
    (
        "numerics-data/dense/mnar-quantile/mean+indicator",
        "446844e5c193e255",
    ),
    (
        "numerics-data/dense/mnar-quantile/median",
        "72dd19a2099fe20c",
    ),
    ("numerics-data/dense/mnar-quantile/zero", "806b2666558e4057"),
    (
        "numerics-data/dense/mnar-self-logistic/absent",
        "45568dddfb59f1a2",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/iterative",
        "1bf3bfacdd100ff8",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/knn",
        "7a36c5c6f91ceaf3",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/mean",
        "8149a3212ffa8a7d",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/mean+indicator",
        "6656f19373079c83",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/median",
        "aee9ad5221d738b6",
    ),
    (
        "numerics-data/dense/mnar-self-logistic/zero",
        "f3dd69547ecd493f",
    ),
    ("numerics-data/dense/mnar/absent", "8a40796e0b279af6"),
    ("numerics-data/dense/mnar/iterative", "4d5247a780951ba1"),
    ("numerics-data/dense/mnar/knn", "ef00ae44e30e2c8d"),
    ("numerics-data/dense/mnar/mean", "dd809d5d3db11191"),
    (
        "numerics-data/dense/mnar/mean+indicator",
        "be6ae071bdc99504",
    ),
    ("numerics-data/dense/mnar/median", "697c2a6160444872"),
    ("numerics-data/dense/mnar/zero", "228c28f85d6280b5"),
    ("numerics-data/set/mar/absent", "3f1f2b553580167c"),
    ("numerics-data/set/mar/iterative", "759885a58d1ae9b2"),
    ("numerics-data/set/mar/knn", "ccdda3257b0d3452"),
    ("numerics-data/set/mar/mean", "52eb1d1b37768e1b"),
    ("numerics-data/set/mar/mean+indicator", "17843f3f7defe3ae"),
    ("numerics-data/set/mar/median", "d18961e4cea97379"),
    ("numerics-data/set/mar/zero", "3956d51f59a10abd"),
    ("numerics-data/set/mcar/absent", "b9fb6b2258869f57"),
    ("numerics-data/set/mcar/iterative", "4fdcc791888a6893"),
    ("numerics-data/set/mcar/knn", "917b4e5c52f46ae3"),
    ("numerics-data/set/mcar/mean", "a2a776e3c39edd92"),
    ("numerics-data/set/mcar/mean+indicator", "c8bb906ae8e3c4b7"),
    ("numerics-data/set/mcar/median", "d71e4474824573cd"),
    ("numerics-data/set/mcar/zero", "8106e85c9d6d8dcf"),
    ("numerics-data/set/mnar-quantile/absent", "bcf627bb5da20197"),
    (
        "numerics-data/set/mnar-quantile/iterative",
        "1cf22c086eb349f4",
    ),
    ("numerics-data/set/mnar-quantile/knn", "2e13c9a6e53e32ac"),
    ("numerics-data/set/mnar-quantile/mean", "61e0180c72466d9e"),
    (
        "numerics-data/set/mnar-quantile/mean+indicator",
        "96dbae6b01205af6",
    ),
    ("numerics-data/set/mnar-quantile/median", "83cc0bc6816ee0dd"),
    ("numerics-data/set/mnar-quantile/zero", "c1a55836c224aeba"),
    (
        "numerics-data/set/mnar-self-logistic/absent",
        "52bc8b99f0d861cc",
    ),
    (
        "numerics-data/set/mnar-self-logistic/iterative",
        "605bb520fce2c146",
    ),
    (
        "numerics-data/set/mnar-self-logistic/knn",
        "50a20d7823f34770",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean",
        "022400d9e3551145",
    ),
    (
        "numerics-data/set/mnar-self-logistic/mean+indicator",
        "7a0b09d3912e288d",
    ),
    (
        "numerics-data/set/mnar-self-logistic/median",
        "ea5718dcaddfb103",
    ),
    (
        "numerics-data/set/mnar-self-logistic/zero",
        "1a5e65ca4f86f8e8",
    ),
    ("numerics-data/set/mnar/absent", "94565d862be968ff"),
    ("numerics-data/set/mnar/iterative", "ea930eab90d07659"),
    ("numerics-data/set/mnar/knn", "29db334f808313d0"),
    ("numerics-data/set/mnar/mean", "c6e034f0f4d0bd76"),
    ("numerics-data/set/mnar/mean+indicator", "577a84c2bd462fd3"),
    ("numerics-data/set/mnar/median", "2f66b2f6037e51a7"),
    ("numerics-data/set/mnar/zero", "b3ad77a9c53b9cf7"),
    ("numerics-methods/deepr/none/none", "87da6607afb35be7"),
    ("numerics-methods/dense/none/none", "9e5fb0f33467d93e"),
    ("numerics-methods/dsr/none/none", "3b59a10f794208fb"),
    ("numerics-methods/gmp/none/none", "217307b1381441a9"),
    ("numerics-methods/mest/none/none", "70e17bda7f760807"),
    ("numerics-methods/rigl/none/none", "191b21090eb559bb"),
    ("numerics-methods/set/none/none", "354aacdc384d27c6"),
    ("numerics-methods/snfs/none/none", "8155cc784412f912"),
    ("numerics-methods/static/none/none", "59fcd85117f57c5e"),
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

/// Columns that are not numbers of the run: timings, the commit, the key (which pins itself,
/// in the grid's tests) and the fingerprint.
const NOT_NUMBERS: &[&str] = &[
    "train_seconds",
    "seconds",
    "commit",
    "run_id",
    "config_hash",
    "numerics",
];

/// FNV-1a of a run's row and its epoch rows, every column but [`NOT_NUMBERS`]: floats are
/// written in their shortest exact form, so any changed bit changes the digest.
pub fn run_digest(run: &RunRow, epochs: &[EpochRow]) -> String {
    let mut text = numbers_json(run);
    for e in epochs {
        text.push('\n');
        text.push_str(&numbers_json(e));
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

/// `row` as JSON with its keys sorted, without [`NOT_NUMBERS`].
fn numbers_json(row: &impl serde::Serialize) -> String {
    let mut value = serde_json::to_value(row).expect("plain rows serialise");
    if let Some(map) = value.as_object_mut() {
        for k in NOT_NUMBERS {
            map.remove(*k);
        }
    }
    value.to_string()
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
    fn digests_see_every_number_and_ignore_timings_and_keys() {
        let run = crate::results::sample_row("set", 1, 0.9);
        let base = run_digest(&run, &[]);
        let timing = RunRow {
            train_seconds: 99.0,
            commit: "other".into(),
            run_id: "other".into(),
            ..run.clone()
        };
        assert_eq!(run_digest(&timing, &[]), base);
        let one_ulp = RunRow {
            test_accuracy: f64::from_bits(run.test_accuracy.to_bits() + 1),
            ..run.clone()
        };
        assert_ne!(run_digest(&one_ulp, &[]), base);
    }
}
