//! How each mechanism removes cells: the checked table view, the per-mechanism rules a setup
//! is made of (MCAR, MAR and MNAR logistic, self-masking, quantile censoring) and the numeric
//! helpers they share (the logistic intercept fitted by bisection, quantiles, mask draws).

use super::setup::{ColumnRule, Rule};
use super::{Amputation, AmputationError, AmputationParams, Cells, Cut, Mechanism};
use rand::seq::SliceRandom;
use rand::Rng;

/// The logistic function 1 / (1 + e^-x), evaluated without overflow for large |x|.
pub(super) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// The intercept b in [-50, 50] with mean_i σ(logits_i + b) = `target_mean`, by bisection
/// (as `fit_intercepts` in MissingDataOT, with scipy's bracket); a target outside what the
/// bracket reaches gives the nearer end instead of failing (pitfall 3).
pub(super) fn fit_intercept(logits: &[f64], target_mean: f64) -> f64 {
    let mean_prob =
        |b: f64| logits.iter().map(|&l| sigmoid(l + b)).sum::<f64>() / logits.len() as f64;
    let (mut lo, mut hi) = (-50.0_f64, 50.0_f64);
    // 64 halvings shrink the bracket of width 100 far below f64 resolution near any root.
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if mean_prob(mid) < target_mean {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// A standard normal draw by the Box–Muller transform (the crate does not depend on
/// `rand_distr`).
pub(super) fn standard_normal(rng: &mut impl Rng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The q-quantile of `sorted` (ascending, non-empty) with linear interpolation between order
/// statistics, numpy's default as used by `MNAR_mask_quantiles`.
pub(super) fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    match sorted.get(i + 1) {
        Some(&next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

/// `max(floor(share * d), 1)` capped at `d`: the number of columns a share selects, as
/// `max(int(p * d), 1)` in the reference (with a little slack so 0.3 * 10 is 3, not 2.99...).
pub(super) fn column_count(share: f64, d: usize) -> usize {
    ((share * d as f64 + 1e-9).floor() as usize).clamp(1, d)
}

/// The columns `0..d` in random order: the first `k` are the chosen ones.
pub(super) fn shuffled_columns(d: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut cols: Vec<usize> = (0..d).collect();
    cols.shuffle(rng);
    cols
}

/// One uniform per cell in row-major order; a cell is removed when it falls below its
/// probability (0 for cells that may not be removed, including those missing already).
pub(super) fn draw_mask(prob: &[f64], rng: &mut impl Rng) -> Vec<bool> {
    let mut mask = vec![false; prob.len()];
    for (m, &p) in mask.iter_mut().zip(prob) {
        let u: f64 = rng.random();
        *m = u < p;
    }
    mask
}

/// A [`Cells`] view checked for shape and finiteness.
pub(super) struct Table<'a> {
    pub(super) values: &'a [f32],
    pub(super) observed: &'a [bool],
    pub(super) n: usize,
    pub(super) d: usize,
}

impl<'a> Table<'a> {
    pub(super) fn new(cells: Cells<'a>) -> Result<Self, AmputationError> {
        let Cells {
            values,
            observed,
            n_rows: n,
            n_cols: d,
        } = cells;
        if values.len() != n * d || observed.len() != n * d {
            return Err(AmputationError::ShapeMismatch {
                n_rows: n,
                n_cols: d,
                values: values.len(),
                observed: observed.len(),
            });
        }
        for (k, (&v, &o)) in values.iter().zip(observed).enumerate() {
            if o && !v.is_finite() {
                return Err(AmputationError::NonFinite {
                    row: k / d,
                    col: k % d,
                    value: v,
                });
            }
        }
        Ok(Table {
            values,
            observed,
            n,
            d,
        })
    }

    pub(super) fn cells(&self) -> usize {
        self.n * self.d
    }

    /// The probability with which each of `eligible` cells is removed so that `rate` of *all*
    /// cells are; unreachable when that exceeds 1 (or nothing is eligible).
    pub(super) fn removal_probability(
        &self,
        mechanism: Mechanism,
        rate: f64,
        eligible: usize,
    ) -> Result<f64, AmputationError> {
        let cells = self.cells() as f64;
        let p = rate * cells / eligible as f64;
        if eligible == 0 || p > 1.0 {
            return Err(AmputationError::Unreachable {
                mechanism: mechanism.name(),
                rate,
                max: eligible as f64 / cells,
            });
        }
        Ok(p)
    }

    /// Rows where column `j` is observed.
    pub(super) fn observed_rows(&self, j: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(move |&i| self.observed[i * self.d + j])
    }

    pub(super) fn observed_count(&self, j: usize) -> usize {
        self.observed_rows(j).count()
    }

    /// Observed values of column `j`, in row order.
    pub(super) fn observed_values(&self, j: usize) -> Vec<f64> {
        self.observed_rows(j)
            .map(|i| f64::from(self.values[i * self.d + j]))
            .collect()
    }

    /// Mean and (population) standard deviation of the observed values of column `j`; (0, 0)
    /// when none is observed.
    pub(super) fn column_stats(&self, j: usize) -> (f64, f64) {
        let x = self.observed_values(j);
        if x.is_empty() {
            return (0.0, 0.0);
        }
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
        (mean, var.sqrt())
    }

    /// [`Table::column_stats`] of every column.
    pub(super) fn all_column_stats(&self) -> Vec<(f64, f64)> {
        (0..self.d).map(|j| self.column_stats(j)).collect()
    }

    /// Column `j` standardised with `(mean, std)` (the fitting table's observed mean and
    /// std), one entry per row; missing cells, and every cell of a constant column, read 0
    /// (the observed mean).
    pub(super) fn standardised(&self, j: usize, (mean, std): (f64, f64)) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                let k = i * self.d + j;
                if self.observed[k] && std > 0.0 {
                    (f64::from(self.values[k]) - mean) / std
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Fails unless every column in `cols` has at least `target * n` observed cells, which
    /// a column-wise rate `target` needs; `target` is proportional to `rate`, which gives the
    /// largest reachable rate for the message.
    pub(super) fn check_reachable(
        &self,
        cols: &[usize],
        target: f64,
        mechanism: &'static str,
        rate: f64,
    ) -> Result<(), AmputationError> {
        let Some(min_observed) = cols.iter().map(|&j| self.observed_count(j)).min() else {
            return Ok(());
        };
        let wanted = target * self.n as f64;
        if wanted > min_observed as f64 * (1.0 + 1e-12) {
            return Err(AmputationError::Unreachable {
                mechanism,
                rate,
                max: rate * min_observed as f64 / wanted,
            });
        }
        Ok(())
    }

    /// The intercept b with which σ(logits_i + b) removes `target * n` of column `j`'s
    /// observed cells in expectation (checked reachable by the caller); `None` when none is
    /// observed.
    pub(super) fn intercept(&self, j: usize, logits: &[f64], target: f64) -> Option<f64> {
        let own: Vec<f64> = self.observed_rows(j).map(|i| logits[i]).collect();
        if own.is_empty() {
            return None;
        }
        let target_mean = target * self.n as f64 / own.len() as f64;
        Some(fit_intercept(&own, target_mean))
    }

    /// The removal probability of every cell under one rule per column (0 for cells that
    /// may not be removed, including those missing already).
    pub(super) fn column_probabilities(
        &self,
        stats: &[(f64, f64)],
        columns: &[ColumnRule],
    ) -> Vec<f64> {
        let mut standardise = vec![false; self.d];
        for (j, rule) in columns.iter().enumerate() {
            match rule {
                ColumnRule::Logistic { inputs, .. } => {
                    inputs.iter().for_each(|&k| standardise[k] = true)
                }
                ColumnRule::SelfLogistic { .. } => standardise[j] = true,
                _ => {}
            }
        }
        let z: Vec<Vec<f64>> = (0..self.d)
            .map(|j| match standardise[j] {
                true => self.standardised(j, stats[j]),
                false => Vec::new(),
            })
            .collect();
        let mut prob = vec![0.0; self.cells()];
        for (j, rule) in columns.iter().enumerate() {
            let cell = |i: usize| i * self.d + j;
            match rule {
                ColumnRule::Keep => {}
                ColumnRule::Constant(p) => {
                    for i in self.observed_rows(j) {
                        prob[cell(i)] = *p;
                    }
                }
                ColumnRule::Logistic {
                    inputs,
                    weights,
                    scale,
                    intercept,
                } => {
                    let inputs: Vec<&[f64]> = inputs.iter().map(|&k| z[k].as_slice()).collect();
                    let mut logit = weighted_sum(&inputs, weights, self.n);
                    if let Some(s) = scale {
                        logit.iter_mut().for_each(|l| *l /= s);
                    }
                    for i in self.observed_rows(j) {
                        prob[cell(i)] = sigmoid(logit[i] + intercept);
                    }
                }
                ColumnRule::SelfLogistic { intercept } => {
                    for i in self.observed_rows(j) {
                        prob[cell(i)] = sigmoid(z[j][i] + intercept);
                    }
                }
                ColumnRule::Beyond {
                    lower,
                    upper,
                    cut,
                    p,
                } => {
                    for i in self.observed_rows(j) {
                        let v = f64::from(self.values[cell(i)]);
                        if beyond(v, *lower, *upper, *cut) {
                            prob[cell(i)] = *p;
                        }
                    }
                }
            }
        }
        prob
    }

    /// Packages a removal mask with its realised rates.
    pub(super) fn amputation(&self, mask_missing: Vec<bool>) -> Amputation {
        debug_assert!(mask_missing
            .iter()
            .zip(self.observed)
            .all(|(&m, &o)| !m || o));
        let mut per_column = vec![0usize; self.d];
        for (k, &m) in mask_missing.iter().enumerate() {
            if m {
                per_column[k % self.d] += 1;
            }
        }
        let removed: usize = per_column.iter().sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Amputation {
            realized_rate: ratio(removed, self.cells()),
            per_column_rate: per_column.iter().map(|&c| ratio(c, self.n)).collect(),
            mask_missing,
        }
    }
}

/// MCAR, the Bernoulli form: every observed cell with probability `rate * cells / observed`.
pub(super) fn mcar_rule(table: &Table, rate: f64) -> Result<Rule, AmputationError> {
    let observed = table.observed.iter().filter(|&&o| o).count();
    let p = table.removal_probability(Mechanism::Mcar, rate, observed)?;
    Ok(Rule::Bernoulli(p))
}

/// `columns` checked against a table of `d` columns and `mechanism`: non-empty, sorted,
/// distinct, in range, and a mechanism that can be limited to columns.
pub(super) fn checked_columns(
    columns: &[usize],
    d: usize,
    mechanism: Mechanism,
) -> Result<&[usize], AmputationError> {
    let bad = |reason: String| Err(AmputationError::BadColumns { reason });
    if !matches!(mechanism, Mechanism::Mcar | Mechanism::MnarSelfLogistic) {
        return bad(format!(
            "{} chooses its own columns; mcar and mnar-self-logistic can be limited to named ones",
            mechanism.name()
        ));
    }
    if columns.is_empty() {
        return bad("the list is empty".into());
    }
    if let Some(&j) = columns.iter().find(|&&j| j >= d) {
        return bad(format!("column {j} is not among the table's {d}"));
    }
    if let Some(w) = columns.windows(2).find(|w| w[0] >= w[1]) {
        return bad(format!(
            "must be sorted and distinct, got {} before {}",
            w[0], w[1]
        ));
    }
    Ok(columns)
}

/// MCAR within `columns`: each of their observed cells with probability `rate * cells /
/// observed`, the other columns untouched, so the share of *all* cells removed is `rate`.
pub(super) fn mcar_columns_rule(
    table: &Table,
    rate: f64,
    columns: &[usize],
) -> Result<Rule, AmputationError> {
    let observed: usize = columns.iter().map(|&j| table.observed_count(j)).sum();
    let p = table.removal_probability(Mechanism::Mcar, rate, observed)?;
    let rules = columns
        .iter()
        .map(|&j| (j, ColumnRule::Constant(p)))
        .collect();
    Ok(columns_rule(table, table.all_column_stats(), rules))
}

/// MCAR, the exact form: `round(rate * cells)` observed cells chosen uniformly (among
/// `columns` when given).
pub(super) fn exact_mcar(
    table: &Table,
    rate: f64,
    columns: Option<&[usize]>,
    rng: &mut impl Rng,
) -> Result<Amputation, AmputationError> {
    let eligible = |k: usize| columns.is_none_or(|c| c.binary_search(&(k % table.d)).is_ok());
    let candidates: Vec<usize> = (0..table.cells())
        .filter(|&k| table.observed[k] && eligible(k))
        .collect();
    let count = (rate * table.cells() as f64).round() as usize;
    if count > candidates.len() {
        return Err(AmputationError::Unreachable {
            mechanism: Mechanism::Mcar.name(),
            rate,
            max: candidates.len() as f64 / table.cells() as f64,
        });
    }
    let mut mask = vec![false; table.cells()];
    for c in rand::seq::index::sample(rng, candidates.len(), count) {
        mask[candidates[c]] = true;
    }
    Ok(table.amputation(mask))
}

/// Logistic models on the standardised `inputs`, one for each column of `targets` (in that
/// order): z · w with w ~ N(0, 1), divided by the logit's std over the rows of the fitting
/// table so that it has unit variance there whatever the units (Muzellec et al. 2020,
/// `pick_coeffs`), each calibrated to remove `target * n` of its column's cells. A constant
/// logit (constant inputs) stays 0 instead of becoming NaN (pitfall 3).
pub(super) fn logistic_rules(
    table: &Table,
    stats: &[(f64, f64)],
    inputs: &[usize],
    targets: &[usize],
    target: f64,
    rng: &mut impl Rng,
) -> Vec<(usize, ColumnRule)> {
    let z: Vec<Vec<f64>> = inputs
        .iter()
        .map(|&j| table.standardised(j, stats[j]))
        .collect();
    let z: Vec<&[f64]> = z.iter().map(Vec::as_slice).collect();
    let mut out = Vec::with_capacity(targets.len());
    for &j in targets {
        let weights: Vec<f64> = (0..inputs.len()).map(|_| standard_normal(rng)).collect();
        let mut logit = weighted_sum(&z, &weights, table.n);
        let mean = logit.iter().sum::<f64>() / table.n as f64;
        let var = logit.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / table.n as f64;
        let scale = (var > 0.0).then(|| var.sqrt());
        if let Some(s) = scale {
            logit.iter_mut().for_each(|l| *l /= s);
        }
        let rule = match table.intercept(j, &logit, target) {
            Some(intercept) => ColumnRule::Logistic {
                inputs: inputs.to_vec(),
                weights,
                scale,
                intercept,
            },
            None => ColumnRule::Keep,
        };
        out.push((j, rule));
    }
    out
}

/// Σ_k `weights[k] * z[k]`, row by row, summed in `k` order.
pub(super) fn weighted_sum(z: &[&[f64]], weights: &[f64], n: usize) -> Vec<f64> {
    let mut logit = vec![0.0; n];
    for (zk, &wk) in z.iter().zip(weights) {
        for (l, &x) in logit.iter_mut().zip(zk.iter()) {
            *l += wk * x;
        }
    }
    logit
}

/// Splits the columns into `k` random inputs and the rest (each part sorted), after checking
/// that the rest is not empty.
pub(super) fn split_inputs(
    table: &Table,
    k: usize,
    mechanism: &'static str,
    field: &'static str,
    value: f64,
    rng: &mut impl Rng,
) -> Result<(Vec<usize>, Vec<usize>), AmputationError> {
    if k >= table.d {
        return Err(AmputationError::NoColumnToMask {
            mechanism,
            field,
            value,
            n_cols: table.d,
        });
    }
    let cols = shuffled_columns(table.d, rng);
    let (mut inputs, mut rest) = (cols[..k].to_vec(), cols[k..].to_vec());
    inputs.sort_unstable();
    rest.sort_unstable();
    Ok((inputs, rest))
}

/// One rule per column from `(column, rule)` pairs, [`ColumnRule::Keep`] elsewhere.
pub(super) fn columns_rule(
    table: &Table,
    stats: Vec<(f64, f64)>,
    rules: Vec<(usize, ColumnRule)>,
) -> Rule {
    let mut columns = vec![ColumnRule::Keep; table.d];
    for (j, r) in rules {
        columns[j] = r;
    }
    Rule::Columns { stats, columns }
}

/// MAR (logistic): `d_obs` random columns stay observed and drive the others, each calibrated
/// to the rescaled rate `rate * d / (d - d_obs)` (pitfall 1: the reference leaves p as the
/// rate within the masked columns).
pub(super) fn mar_rule(
    table: &Table,
    rate: f64,
    params: &AmputationParams,
    rng: &mut impl Rng,
) -> Result<Rule, AmputationError> {
    let name = Mechanism::Mar.name();
    let d_obs = column_count(params.p_obs, table.d);
    let (inputs, masked) = split_inputs(table, d_obs, name, "p_obs", params.p_obs, rng)?;
    let target = rate * table.d as f64 / masked.len() as f64;
    table.check_reachable(&masked, target, name, rate)?;
    let stats = table.all_column_stats();
    let rules = logistic_rules(table, &stats, &inputs, &masked, target, rng);
    Ok(columns_rule(table, stats, rules))
}

/// MNAR logistic with the inputs excluded: the non-input columns follow a logistic model of
/// the (raw, not yet masked) inputs at rate `rate`, and the inputs are masked MCAR at `rate`.
pub(super) fn mnar_logistic_rule(
    table: &Table,
    name: &'static str,
    rate: f64,
    params: &AmputationParams,
    rng: &mut impl Rng,
) -> Result<Rule, AmputationError> {
    let d_params = column_count(params.p_params, table.d);
    let (inputs, masked) = split_inputs(table, d_params, name, "p_params", params.p_params, rng)?;
    let all: Vec<usize> = (0..table.d).collect();
    table.check_reachable(&all, rate, name, rate)?;
    let stats = table.all_column_stats();
    let mut rules = logistic_rules(table, &stats, &inputs, &masked, rate, rng);
    for &j in &inputs {
        let observed = table.observed_count(j);
        if observed > 0 {
            let p = rate * table.n as f64 / observed as f64;
            rules.push((j, ColumnRule::Constant(p)));
        }
    }
    Ok(columns_rule(table, stats, rules))
}

/// MNAR self-masking: σ(z_ij + b_j) on each cell's own standardised value (weight +1, so
/// larger values are removed more often), b_j fitted on column j to the rate `rate`; limited to
/// `columns`, each of them to `rate d / |columns|`, so the share of all cells stays `rate`.
pub(super) fn self_mask_rule(
    table: &Table,
    rate: f64,
    columns: Option<&[usize]>,
) -> Result<Rule, AmputationError> {
    let all: Vec<usize> = (0..table.d).collect();
    // Each masked column loses `target * n` cells, so all of them `rate * cells` (computed
    // only for named columns: `rate * d / d` may differ from `rate` in the last bit).
    let (masked, target) = match columns {
        None => (all.as_slice(), rate),
        Some(c) => (c, rate * table.d as f64 / c.len() as f64),
    };
    let name = Mechanism::MnarSelfLogistic.name();
    table.check_reachable(masked, target, name, rate)?;
    let stats = table.all_column_stats();
    let mut rules = Vec::with_capacity(masked.len());
    for &j in masked {
        let z = table.standardised(j, stats[j]);
        if let Some(intercept) = table.intercept(j, &z, target) {
            rules.push((j, ColumnRule::SelfLogistic { intercept }));
        }
    }
    Ok(columns_rule(table, stats, rules))
}

/// MNAR quantile censoring: in `max(floor(p_params d), 1)` random columns, observed cells
/// beyond the column's quantile(s) are removed with the probability that makes the expected
/// overall rate `rate`.
pub(super) fn quantile_rule(
    table: &Table,
    rate: f64,
    params: &AmputationParams,
    rng: &mut impl Rng,
) -> Result<Rule, AmputationError> {
    let k = column_count(params.quantile_columns.unwrap_or(params.p_params), table.d);
    let mut chosen = shuffled_columns(table.d, rng)[..k].to_vec();
    chosen.sort_unstable();
    let mut thresholds = Vec::new();
    let mut eligible = 0usize;
    for &j in &chosen {
        let mut sorted = table.observed_values(j);
        if sorted.is_empty() {
            continue;
        }
        sorted.sort_by(f64::total_cmp);
        let upper = quantile_of_sorted(&sorted, params.quantile);
        let lower = quantile_of_sorted(&sorted, 1.0 - params.quantile);
        eligible += sorted
            .iter()
            .filter(|&&v| beyond(v, lower, upper, params.cut))
            .count();
        thresholds.push((j, lower, upper));
    }
    let p = table.removal_probability(Mechanism::MnarQuantile, rate, eligible)?;
    let rules = thresholds
        .into_iter()
        .map(|(j, lower, upper)| {
            let cut = params.cut;
            (
                j,
                ColumnRule::Beyond {
                    lower,
                    upper,
                    cut,
                    p,
                },
            )
        })
        .collect();
    Ok(columns_rule(table, Vec::new(), rules))
}

/// Whether `v` lies beyond the thresholds on the side(s) `cut` censors.
pub(super) fn beyond(v: f64, lower: f64, upper: f64, cut: Cut) -> bool {
    match cut {
        Cut::Upper => v > upper,
        Cut::Lower => v < lower,
        Cut::Both => v > upper || v < lower,
    }
}
