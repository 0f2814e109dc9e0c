//! When a paired difference counts as significant: paired by
//! seed always; a two-sided paired t-test per cell; within each claim, Holm's step-down
//! correction over the cells the claim covers, reporting how many tests the claim made and how
//! many survive; and a difference with zero variance is never significant (three identical
//! differences say nothing about the spread between seeds).
//!
//! Holm, S. (1979). A simple sequentially rejective multiple test procedure. *Scandinavian
//! Journal of Statistics* 6(2), 65–70: it controls the family-wise error rate at α for any
//! dependence between the tests, and rejects whatever Bonferroni rejects and more.

use crate::summary::mean_std;
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::fmt;

/// The family-wise error rate each claim is held to.
pub const ALPHA: f64 = 0.05;

/// Two-sided p-value of the paired t-test of the per-seed differences `diffs` against 0.
/// NaN (no test) with fewer than two differences; 1 when every difference is the same (zero
/// variance: not significant, whatever the common value).
pub fn paired_t_p_value(diffs: &[f64]) -> f64 {
    let n = diffs.len();
    if n < 2 {
        return f64::NAN;
    }
    let (mean, sd) = mean_std(diffs);
    // Differences of equal accuracies carry float noise around 1e-17.
    if sd.is_nan() || sd <= 1e-12 * mean.abs().max(1e-12) {
        return 1.0;
    }
    let t = mean / (sd / (n as f64).sqrt());
    let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64).expect("positive degrees of freedom");
    (2.0 * dist.cdf(-t.abs())).min(1.0)
}

/// Holm's adjusted p-values, in the order given: with the `m` finite p-values sorted
/// ascending, the `i`-th (from 1) becomes `max over j ≤ i of min(1, (m − j + 1) p_(j))`. A
/// cell is significant within its claim when its adjusted p-value is below [`ALPHA`]. NaN
/// entries (no test) stay NaN and do not count towards `m`.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]).then(a.cmp(&b)));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p_values[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Holm-corrects one claim: `raw[i]` is the raw p-value of `rows[i]` (NaN: no test), and
/// `set` stores each adjusted value in its row.
pub fn correct_claim<T>(rows: &mut [T], raw: &[f64], set: impl Fn(&mut T, f64)) {
    assert_eq!(rows.len(), raw.len(), "one raw p-value per row");
    for (row, adjusted) in rows.iter_mut().zip(holm(raw)) {
        set(row, adjusted);
    }
}

/// Whether a Holm-adjusted p-value is significant at [`ALPHA`] (never for NaN).
pub fn significant(p_holm: f64) -> bool {
    p_holm < ALPHA
}

/// How many tests one claim made and how many survive Holm's correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTally {
    /// Cells tested (two or more paired seeds).
    pub tests: usize,
    /// Cells significant after the correction.
    pub surviving: usize,
}

impl ClaimTally {
    /// The tally of a claim's Holm-adjusted p-values.
    pub fn of(p_holm: &[f64]) -> ClaimTally {
        ClaimTally {
            tests: p_holm.iter().filter(|p| !p.is_nan()).count(),
            surviving: p_holm.iter().filter(|&&p| significant(p)).count(),
        }
    }
}

impl fmt::Display for ClaimTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} paired tests significant after Holm's correction at {:.0}%",
            self.surviving,
            self.tests,
            100.0 * ALPHA
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_of_a_known_t() {
        // Differences 0 and 2: mean 1, sd √2, t = 1 with 1 df (Cauchy): P(|T| > 1) = 1/2.
        assert!((paired_t_p_value(&[0.0, 2.0]) - 0.5).abs() < 1e-12);
        // At t = t_{0.975, 4} the two-sided p-value is 0.05 (n = 5, sd 1, mean t / √5).
        let t = 2.7764451051977987;
        let m = t / 5f64.sqrt();
        let z = 2f64.sqrt();
        let diffs = [m - z, m, m, m, m + z];
        let (_, sd) = mean_std(&diffs);
        assert!((sd - 1.0).abs() < 1e-12, "{sd}");
        assert!((paired_t_p_value(&diffs) - 0.05).abs() < 1e-9);
        // The sign does not matter.
        let neg: Vec<f64> = diffs.iter().map(|d| -d).collect();
        assert!((paired_t_p_value(&neg) - 0.05).abs() < 1e-9);
    }

    #[test]
    fn zero_variance_is_not_significant_and_one_seed_is_no_test() {
        assert_eq!(paired_t_p_value(&[0.02, 0.02, 0.02]), 1.0);
        assert_eq!(paired_t_p_value(&[0.0, 0.0, 0.0, 0.0, 0.0]), 1.0);
        assert!(paired_t_p_value(&[0.3]).is_nan());
        assert!(paired_t_p_value(&[]).is_nan());
    }

    #[test]
    fn holm_by_hand() {
        // m = 3: 0.01 → 0.03; 0.03 → 0.06; 0.04 → max(0.06, 0.04) = 0.06.
        let adj = holm(&[0.01, 0.04, f64::NAN, 0.03]);
        assert!((adj[0] - 0.03).abs() < 1e-12);
        assert!((adj[1] - 0.06).abs() < 1e-12);
        assert!(adj[2].is_nan());
        assert!((adj[3] - 0.06).abs() < 1e-12);
        assert_eq!(
            ClaimTally::of(&adj),
            ClaimTally {
                tests: 3,
                surviving: 1
            }
        );
        assert_eq!(holm(&[0.9, 0.8]), vec![1.0, 1.0]);
    }

    /// Holm never rejects less than Bonferroni and never more than the uncorrected tests.
    #[test]
    fn holm_lies_between_bonferroni_and_no_correction() {
        let p = [0.001, 0.2, 0.012, 0.013, 0.04, 0.5, 0.0125];
        let adj = holm(&p);
        for (&raw, &a) in p.iter().zip(&adj) {
            assert!(a >= raw);
            assert!(a <= (raw * p.len() as f64).min(1.0) + 1e-15);
        }
        // Rejected: 0.001 (×7), 0.012 (×6 = 0.072) stops the procedure.
        assert_eq!(ClaimTally::of(&adj).surviving, 1);
    }
}
