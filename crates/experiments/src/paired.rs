//! Paired differences against dense: for every sparse cell, the per-seed difference of its
//! test accuracy from the dense model trained on the same data (same seed, dataset split,
//! missingness and imputation), with mean, standard deviation and a Student-t 95% CI over
//! seeds, and a paired t-test whose p-values are Holm-corrected over every cell of the
//! experiment (one claim: "these sparse cells differ from dense"). "More accurate than dense"
//! is then a measured claim, not an eyeballed one.

use crate::cell::Cell;
use crate::registry::DENSE;
use crate::results::RunRow;
use crate::significance::{correct_claim, paired_t_p_value};
use crate::summary::{ci95_half_width, mean_std};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One row of `paired_vs_dense.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedRow {
    /// Experiment name.
    pub experiment: String,
    /// Dataset name.
    pub dataset: String,
    /// The sparse method.
    pub method: String,
    /// Its sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Target missing rate.
    pub missing_rate: f64,
    /// Imputation.
    pub imputation: String,
    /// Protocol variant (paired with dense runs of the same variant).
    pub variant: String,
    /// Seeds with both a sparse and a dense run.
    pub n: usize,
    /// Mean of (method - dense) test accuracy over those seeds.
    pub diff_mean: f64,
    /// Sample standard deviation of the differences.
    pub diff_std: f64,
    /// Half-width of the 95% CI of the mean difference (Student's t, n - 1 df).
    pub diff_ci95: f64,
    /// Seeds on which the method beat dense.
    pub wins: usize,
    /// Seeds on which dense beat the method.
    pub losses: usize,
    /// Seeds left out because the method's run or its dense partner diverged.
    #[serde(default)]
    pub n_diverged: usize,
    /// Two-sided p-value of the paired t-test (NaN below two seeds; 1 at zero variance).
    pub p_value: f64,
    /// Holm-adjusted over the experiment's cells: significant below 0.05.
    pub p_holm: f64,
}

/// Paired differences of every non-dense cell against dense, in a stable order, with their
/// t-test p-values, Holm-corrected per experiment. A seed whose run or dense partner diverged
/// is left out of the pair, and counted.
pub fn paired_vs_dense(rows: &[RunRow]) -> Vec<PairedRow> {
    let dense: BTreeMap<(Cell, u64), &RunRow> = rows
        .iter()
        .filter(|r| r.method == DENSE)
        .map(|r| ((Cell::of(r), r.seed), r))
        .collect();
    let mut cells: BTreeMap<Cell, (Vec<f64>, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.method != DENSE) {
        let cell = Cell::of(r);
        if let Some(d) = dense.get(&(cell.dense(), r.seed)) {
            let (diffs, diverged) = cells.entry(cell).or_default();
            if r.diverged || d.diverged {
                *diverged += 1;
            } else {
                diffs.push(r.test_accuracy - d.test_accuracy);
            }
        }
    }
    let mut out: Vec<PairedRow> = cells
        .into_iter()
        .map(|(cell, (diffs, diverged))| {
            let n = diffs.len();
            let (mean, std) = mean_std(&diffs);
            PairedRow {
                experiment: cell.experiment,
                dataset: cell.dataset,
                method: cell.method,
                sparsity: cell.sparsity.0,
                missing_mechanism: cell.missing_mechanism,
                missing_rate: cell.missing_rate.0,
                imputation: cell.imputation,
                variant: cell.variant,
                n,
                diff_mean: mean,
                diff_std: std,
                diff_ci95: ci95_half_width(std, n),
                wins: diffs.iter().filter(|d| **d > 0.0).count(),
                losses: diffs.iter().filter(|d| **d < 0.0).count(),
                n_diverged: diverged,
                p_value: paired_t_p_value(&diffs),
                p_holm: f64::NAN,
            }
        })
        .collect();
    // One claim per experiment; the rows are in key order, so each experiment's are together.
    for claim in out.chunk_by_mut(|a, b| a.experiment == b.experiment) {
        let raw: Vec<f64> = claim.iter().map(|r| r.p_value).collect();
        correct_claim(claim, &raw, |r, p| r.p_holm = p);
    }
    out
}

/// Writes `paired_vs_dense.csv` into `dir`.
pub fn write_paired(dir: &Path, rows: &[PairedRow]) -> Result<()> {
    let path = dir.join("paired_vs_dense.csv");
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    if rows.is_empty() {
        // No dense runs to pair with: the header alone, so readers still find the columns.
        let stats = [
            "n",
            "diff_mean",
            "diff_std",
            "diff_ci95",
            "wins",
            "losses",
            "n_diverged",
            "p_value",
            "p_holm",
        ];
        w.write_record(Cell::COLUMNS.iter().chain(&stats))?;
    }
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: &str, seed: u64, acc: f64) -> RunRow {
        RunRow {
            missing_mechanism: "mcar".into(),
            missing_rate: 0.3,
            missing_rate_realized: 0.3,
            imputation: "absent".into(),
            ..crate::results::sample_row(method, seed, acc)
        }
    }

    #[test]
    fn differences_are_paired_by_seed() {
        let rows = vec![
            row("dense", 1, 0.90),
            row("dense", 2, 0.80),
            row("dense", 3, 0.85),
            row("set", 1, 0.92),
            row("set", 2, 0.83),
            row("set", 3, 0.84),
            row("set", 4, 0.99), // no dense twin: ignored
        ];
        let p = paired_vs_dense(&rows);
        assert_eq!(p.len(), 1);
        let r = &p[0];
        assert_eq!((r.n, r.wins, r.losses), (3, 2, 1));
        // Differences 0.02, 0.03, -0.01: mean 0.01333, sd 0.02082.
        assert!((r.diff_mean - 0.04 / 3.0).abs() < 1e-12);
        assert!((r.diff_std - 0.020816659994661).abs() < 1e-9);
        assert!((r.diff_ci95 - 4.302652729911275 * r.diff_std / 3f64.sqrt()).abs() < 1e-6);
        // t = 1.109 with 2 df; one cell in the claim, so Holm leaves it as it is.
        assert!((r.p_value - 0.3828).abs() < 1e-3, "{}", r.p_value);
        assert_eq!(r.p_holm, r.p_value);
    }

    #[test]
    fn holm_runs_over_the_cells_of_each_experiment() {
        let mut rows = Vec::new();
        for seed in 1..=5 {
            let noise = 0.001 * seed as f64;
            rows.push(row("dense", seed, 0.80));
            // A clear gain, a tiny noisy one, and one with zero variance.
            rows.push(row("set", seed, 0.90 + noise));
            rows.push(RunRow {
                sparsity: 0.99,
                ..row(
                    "set",
                    seed,
                    0.80 + if seed % 2 == 0 { 0.002 } else { -0.001 },
                )
            });
            rows.push(row("static", seed, 0.85));
        }
        let p = paired_vs_dense(&rows);
        assert_eq!(p.len(), 3);
        let by = |m: &str, sp: f64| {
            p.iter()
                .find(|r| r.method == m && r.sparsity == sp)
                .unwrap()
        };
        let clear = by("set", 0.5);
        assert!(clear.p_value < 1e-6 && crate::significance::significant(clear.p_holm));
        assert!(!crate::significance::significant(by("set", 0.99).p_holm));
        // +0.05 on every seed: zero variance, never significant.
        assert_eq!(by("static", 0.5).p_value, 1.0);
        assert_eq!(by("static", 0.5).p_holm, 1.0);
        // Three tests in one claim: the smallest p-value is multiplied by 3.
        assert!((clear.p_holm - 3.0 * clear.p_value).abs() < 1e-15);
    }

    #[test]
    fn a_seed_whose_run_or_dense_partner_diverged_is_left_out_and_counted() {
        let diverged = |method, seed, acc| RunRow {
            diverged: true,
            diverged_epoch: Some(2),
            ..row(method, seed, acc)
        };
        let rows = vec![
            row("dense", 1, 0.90),
            diverged("dense", 2, 0.33),
            row("dense", 3, 0.85),
            row("set", 1, 0.92),
            row("set", 2, 0.83),
            diverged("set", 3, 0.33),
        ];
        let p = paired_vs_dense(&rows);
        let r = &p[0];
        assert_eq!((r.n, r.n_diverged, r.wins, r.losses), (1, 2, 1, 0));
        assert!((r.diff_mean - 0.02).abs() < 1e-12);
    }

    #[test]
    fn an_empty_file_has_the_same_header() {
        let dir = tempfile::tempdir().unwrap();
        write_paired(dir.path(), &[]).unwrap();
        let empty = std::fs::read_to_string(dir.path().join("paired_vs_dense.csv")).unwrap();
        let rows = paired_vs_dense(&[row("dense", 1, 0.9), row("set", 1, 0.8)]);
        assert!(!rows.is_empty());
        write_paired(dir.path(), &rows).unwrap();
        let full = std::fs::read_to_string(dir.path().join("paired_vs_dense.csv")).unwrap();
        assert_eq!(empty.lines().next(), full.lines().next());
    }
}
