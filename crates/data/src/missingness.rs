//! Missingness simulation ("amputation"): removing cells from a complete or partly observed
//! table under Rubin's (1976) mechanisms, MCAR (missingness independent of the data), MAR
//! (dependent only on always-observed values) and MNAR (dependent on the removed values
//! themselves). The logistic and quantile mechanisms follow Muzellec et al. 2020 ("Missing
//! data imputation using optimal transport", the `MissingDataOT` code: `MAR_mask`,
//! `MNAR_mask_logistic`, `MNAR_self_mask_logistic`, `MNAR_mask_quantiles`) and hyperimpute's
//! `simulate_nan`, implemented from their definitions, with the references' pitfalls fixed: the requested
//! rate is always the fraction of *all* feature cells removed (mechanisms that leave columns
//! alone rescale their rate on the touched ones), self-masking intercepts are fitted on the
//! column itself, and constant columns do not produce NaN weights.
//!
//! A mechanism's random setup (column choice, logistic weights and intercepts, thresholds) is
//! drawn and calibrated once, on a run's training split ([`MissingnessSetup::fit`]), and
//! applied to every split ([`MissingnessSetup::draw`]), so train and test share one mechanism.
//! Amputation acts on raw values and returns a mask; [`apply`] then writes it into a
//! [`Dataset`]. Every mechanism but exact MCAR draws its setup and then exactly one uniform
//! per cell, so the random stream never depends on the data values (which the MAR test relies
//! on).

use std::fmt;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// A missingness mechanism, named as in configs and results files (`mcar`, `mnar-quantile`, ...).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// No simulated missingness: the data are used as loaded.
    None,
    /// Missing completely at random: every cell removed with the same probability.
    Mcar,
    /// Missing at random (logistic): a random share of columns stays observed and drives the
    /// removal of the others through a logistic model (Muzellec et al. 2020, `MAR_mask`).
    Mar,
    /// Missing not at random, the default variant: [`Mechanism::MnarLogistic`] with the input
    /// columns excluded from the logistic model and masked MCAR; kept as a name of its own so
    /// results files say what the config said.
    Mnar,
    /// MNAR logistic: input columns drive a logistic model for the other columns, then are
    /// themselves masked MCAR, so the masking of the inputs' neighbours depends on values that
    /// may be missing (Muzellec et al. 2020, `MNAR_mask_logistic`, `exclude_inputs=True`).
    MnarLogistic,
    /// MNAR self-masking: each cell's removal depends on its own value through a logistic
    /// model (Muzellec et al. 2020, `MNAR_self_mask_logistic`).
    MnarSelfLogistic,
    /// MNAR quantile censoring: in a random share of columns, cells beyond a quantile of their
    /// column are removed (Muzellec et al. 2020, `MNAR_mask_quantiles`).
    MnarQuantile,
}

impl Mechanism {
    /// The mechanism's name in configs and results files, e.g. `mnar-self-logistic`.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::None => "none",
            Mechanism::Mcar => "mcar",
            Mechanism::Mar => "mar",
            Mechanism::Mnar => "mnar",
            Mechanism::MnarLogistic => "mnar-logistic",
            Mechanism::MnarSelfLogistic => "mnar-self-logistic",
            Mechanism::MnarQuantile => "mnar-quantile",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which tail of a column [`Mechanism::MnarQuantile`] censors.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Cut {
    /// Cells above the `quantile`-quantile of their column.
    #[default]
    Upper,
    /// Cells below the `(1 - quantile)`-quantile of their column.
    Lower,
    /// Cells in either tail.
    Both,
}

/// Parameters of the mechanisms (`[missing.params]` in experiment configs); the defaults are
/// those of the MissingDataOT experiments (`--p_obs 0.3`, `--q_mnar 0.75`, `p_params` 0.3).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AmputationParams {
    /// MAR: share of columns kept always observed, `max(floor(p_obs * d), 1)` of them.
    pub p_obs: f64,
    /// MNAR logistic: share of columns used as logistic inputs; MNAR quantile: share of
    /// columns censored unless `quantile_columns` is set. `max(floor(p_params * d), 1)`
    /// columns either way.
    pub p_params: f64,
    /// MNAR quantile: share of columns censored, when it must differ from `p_params` (so one
    /// grid can run `mnar` and `mnar-quantile` at rates the defaults cannot reach).
    pub quantile_columns: Option<f64>,
    /// MNAR quantile: the quantile beyond which cells may be removed (see [`Cut`]).
    pub quantile: f64,
    /// MNAR quantile: which tail is censored.
    pub cut: Cut,
    /// MCAR: remove exactly `round(rate * cells)` cells chosen uniformly, instead of each
    /// cell independently (the reference's Binomial count).
    pub exact_mcar: bool,
    /// Only these columns (0-based indices into the table, sorted, distinct) lose values;
    /// `None`: every column. The rate stays the fraction of *all* cells, so columns holding 4%
    /// of the cells reach at most a rate of 0.04. MCAR and `mnar-self-logistic` take it.
    /// Configs name the columns (`[missing] columns`) and the caller resolves the names, so
    /// this is never read from TOML.
    #[serde(skip)]
    pub columns: Option<Vec<usize>>,
}

impl Default for AmputationParams {
    fn default() -> Self {
        AmputationParams {
            p_obs: 0.3,
            p_params: 0.3,
            quantile_columns: None,
            quantile: 0.75,
            cut: Cut::Upper,
            exact_mcar: false,
            columns: None,
        }
    }
}

impl AmputationParams {
    /// Checks each field's range, naming the field: `p_obs` in [0, 1) (some column must be
    /// left to mask), `p_params` in [0, 1], `quantile` in (0, 1) (the ends censor nothing or
    /// everything).
    pub fn validate(&self) -> Result<(), AmputationError> {
        let check = |field, value: f64, ok: bool, expected| {
            if ok {
                Ok(())
            } else {
                Err(AmputationError::InvalidParam {
                    field,
                    value,
                    expected,
                })
            }
        };
        // Written so that NaN fails too.
        let p = self.p_obs;
        check("p_obs", p, (0.0..1.0).contains(&p), "[0, 1)")?;
        let p = self.p_params;
        check("p_params", p, (0.0..=1.0).contains(&p), "[0, 1]")?;
        if let Some(p) = self.quantile_columns {
            check("quantile_columns", p, (0.0..=1.0).contains(&p), "[0, 1]")?;
        }
        let q = self.quantile;
        check("quantile", q, q > 0.0 && q < 1.0, "(0, 1)")
    }
}

/// Why an amputation could not be done; messages name the config field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AmputationError {
    /// The rate is not a fraction in [0, 1).
    #[error("missing_rate must lie in [0, 1), got {rate}")]
    RateOutOfRange {
        /// The rate given.
        rate: f64,
    },
    /// The mechanism cannot remove that share of all cells from this table: it leaves some
    /// columns or cells alone, or too many cells are missing already.
    #[error(
        "missing_rate {rate} is unreachable for {mechanism}: at most {} of the cells may be \
         masked",
        floor4(*max)
    )]
    Unreachable {
        /// The mechanism's name.
        mechanism: &'static str,
        /// The rate asked for.
        rate: f64,
        /// The largest rate it could reach on this table.
        max: f64,
    },
    /// A field of [`AmputationParams`] is out of range.
    #[error("{field} must lie in {expected}, got {value}")]
    InvalidParam {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range.
        expected: &'static str,
    },
    /// The parameters make every column an input, so none is left to remove cells from.
    #[error(
        "{mechanism}: {field} {value} makes all {n_cols} feature columns inputs (at least one \
         always is), leaving none to mask"
    )]
    NoColumnToMask {
        /// The mechanism's name.
        mechanism: &'static str,
        /// The parameter that chose the inputs.
        field: &'static str,
        /// Its value.
        value: f64,
        /// Number of feature columns.
        n_cols: usize,
    },
    /// [`AmputationParams::columns`] lists no column, one out of range or twice, or the
    /// mechanism removes values from columns it chooses itself.
    #[error("columns: {reason}")]
    BadColumns {
        /// What is wrong with the list.
        reason: String,
    },
    /// `values` or `observed` does not have `n_rows * n_cols` entries.
    #[error(
        "a {n_rows} x {n_cols} table needs {} cells, got {values} values and {observed} mask \
         entries",
        n_rows * n_cols
    )]
    ShapeMismatch {
        /// Rows given.
        n_rows: usize,
        /// Columns given.
        n_cols: usize,
        /// Length of `values`.
        values: usize,
        /// Length of `observed`.
        observed: usize,
    },
    /// An observed cell is NaN or infinite, so no logistic model or quantile is defined.
    #[error("cell (row {row}, column {col}) is observed but holds {value}; values must be finite")]
    NonFinite {
        /// 0-based row.
        row: usize,
        /// 0-based column.
        col: usize,
        /// The value.
        value: f32,
    },
}

/// `x` rounded down to 4 decimals, so that "at most" in a message stays true.
fn floor4(x: f64) -> f64 {
    (x * 1e4).floor() / 1e4
}

/// The result of [`ampute`]: which cells it removed, to be stored with the run.
#[derive(Clone, Debug, PartialEq)]
pub struct Amputation {
    /// Row-major, one entry per cell: `true` where this amputation removed the cell. Cells
    /// that were missing already are never `true`.
    pub mask_missing: Vec<bool>,
    /// Cells removed by this amputation divided by all cells (0 for an empty table).
    pub realized_rate: f64,
    /// Per column, cells removed by this amputation divided by the number of rows.
    pub per_column_rate: Vec<f64>,
}

/// A row-major `n_rows x n_cols` table as amputation reads it: raw values and which cells are
/// observed (a [`Dataset`]'s, or any caller's arrays).
#[derive(Clone, Copy, Debug)]
pub struct Cells<'a> {
    /// Row-major values; those of cells not observed are ignored.
    pub values: &'a [f32],
    /// Row-major, `true` where the value is observed.
    pub observed: &'a [bool],
    /// Rows.
    pub n_rows: usize,
    /// Columns (features).
    pub n_cols: usize,
}

impl<'a> Cells<'a> {
    /// The table of the given parts (checked for shape and finiteness where it is used).
    pub fn new(values: &'a [f32], observed: &'a [bool], n_rows: usize, n_cols: usize) -> Self {
        Cells {
            values,
            observed,
            n_rows,
            n_cols,
        }
    }

    /// The feature table of `ds`.
    pub fn of(ds: &'a Dataset) -> Self {
        Cells::new(&ds.values, &ds.observed, ds.n_rows(), ds.n_features())
    }
}

/// The random setup of a mechanism, drawn once and calibrated on one table (a run's training
/// split): which columns stay observed, drive a logistic model or are censored, the logistic
/// weights and intercepts, the standardisation, the quantile thresholds and the removal
/// probabilities. [`MissingnessSetup::draw`] applies it, with fresh per-cell uniforms, to any
/// table with the same columns, so the training and test splits of a run get one mechanism
/// (so that a run's splits differ only by chance, never by mechanism).
#[derive(Clone, Debug, PartialEq)]
pub struct MissingnessSetup {
    mechanism: &'static str,
    n_cols: usize,
    rule: Rule,
}

/// How a setup removes cells.
#[derive(Clone, Debug, PartialEq)]
enum Rule {
    /// Nothing (`none`, a rate of 0, or an empty table).
    Nothing,
    /// Every observed cell with this probability (MCAR).
    Bernoulli(f64),
    /// Exactly `round(rate * cells)` observed cells of each table (exact MCAR), in `columns`
    /// only when given.
    ExactCount {
        rate: f64,
        columns: Option<Vec<usize>>,
    },
    /// One rule per column; logistic inputs standardised with `stats` (the observed mean and
    /// population std of each column of the fitting table).
    Columns {
        stats: Vec<(f64, f64)>,
        columns: Vec<ColumnRule>,
    },
}

/// How a setup removes the observed cells of one column.
#[derive(Clone, Debug, PartialEq)]
enum ColumnRule {
    /// None of them.
    Keep,
    /// Each with the same probability (MCAR within the column).
    Constant(f64),
    /// Each with σ(Σ_k w_k z_{i, inputs_k} / scale + intercept), z standardised.
    Logistic {
        inputs: Vec<usize>,
        weights: Vec<f64>,
        scale: Option<f64>,
        intercept: f64,
    },
    /// Each with σ(z_ij + intercept), its own standardised value.
    SelfLogistic { intercept: f64 },
    /// Those beyond the thresholds (see [`Cut`]), each with probability `p`.
    Beyond {
        lower: f64,
        upper: f64,
        cut: Cut,
        p: f64,
    },
}

impl MissingnessSetup {
    /// Draws the setup of `mechanism` on a row-major `n_rows x n_cols` table and calibrates it
    /// so that the expected share of *all* its cells removed is `rate` (the config's
    /// `missing_rate`).
    ///
    /// Works on raw values (MNAR depends on them). Cells already missing (`observed ==
    /// false`) stay missing and are not counted as removed; the removal probabilities of the
    /// remaining cells are raised to make up for them, so the expected number removed is still
    /// `rate * cells` (with no prior missingness, MCAR removes each cell with probability
    /// exactly `rate`). A logistic input that is missing contributes its column's observed
    /// mean. Per mechanism, with `d = n_cols`:
    /// - MCAR: each observed cell independently, or an exact count when `params.exact_mcar`.
    /// - MAR: `max(floor(p_obs d), 1)` random columns stay observed; each other column j
    ///   loses cells with P = σ(z_obs · w_j + b_j), z the standardised inputs, w_j ~ N(0, 1)
    ///   scaled to a unit-variance logit, b_j bisected on [-50, 50] so the column's expected
    ///   rate is `rate d / (d - d_obs)`.
    /// - `mnar`, `mnar-logistic`: as MAR with `max(floor(p_params d), 1)` input columns and
    ///   the per-column rate `rate`; the inputs are then masked MCAR at `rate`.
    /// - `mnar-self-logistic`: P = σ(z_ij + b_j), z_ij the cell's own standardised value, so
    ///   *large values are more likely removed*; b_j fitted on column j alone (the reference
    ///   fits it on the whole matrix, pitfall 2, and draws a random-sign weight).
    /// - `mnar-quantile`: in `max(floor(p_params d), 1)` random columns, cells beyond the
    ///   quantile (see [`Cut`]) are removed with probability `rate * cells / eligible`.
    ///
    /// Applied to another table, every number above (columns, weights, standardisation,
    /// intercepts, thresholds, probabilities) stays the one fitted here.
    ///
    /// # Errors
    /// [`AmputationError::RateOutOfRange`] unless `0 <= rate < 1` (`none` ignores the rate);
    /// [`AmputationError::Unreachable`] when the mechanism cannot remove that share;
    /// [`AmputationError::InvalidParam`] / [`AmputationError::NoColumnToMask`] for bad params;
    /// [`AmputationError::ShapeMismatch`] / [`AmputationError::NonFinite`] for a bad table.
    pub fn fit(
        cells: Cells,
        mechanism: Mechanism,
        rate: f64,
        params: &AmputationParams,
        rng: &mut impl Rng,
    ) -> Result<Self, AmputationError> {
        let n_cols = cells.n_cols;
        let table = Table::new(cells)?;
        let setup = |rule| MissingnessSetup {
            mechanism: mechanism.name(),
            n_cols,
            rule,
        };
        if mechanism == Mechanism::None {
            return Ok(setup(Rule::Nothing));
        }
        if !(0.0..1.0).contains(&rate) {
            return Err(AmputationError::RateOutOfRange { rate });
        }
        params.validate()?;
        let only = match &params.columns {
            Some(c) => Some(checked_columns(c, n_cols, mechanism)?),
            None => None,
        };
        if rate == 0.0 || table.cells() == 0 {
            return Ok(setup(Rule::Nothing));
        }
        if mechanism == Mechanism::Mcar && params.exact_mcar {
            exact_mcar(&table, rate, only, rng)?;
            return Ok(setup(Rule::ExactCount {
                rate,
                columns: only.map(<[usize]>::to_vec),
            }));
        }
        let name = mechanism.name();
        let rule = match mechanism {
            Mechanism::None => unreachable!("returned above"),
            Mechanism::Mcar => match only {
                None => mcar_rule(&table, rate)?,
                Some(c) => mcar_columns_rule(&table, rate, c)?,
            },
            Mechanism::Mar => mar_rule(&table, rate, params, rng)?,
            Mechanism::Mnar | Mechanism::MnarLogistic => {
                mnar_logistic_rule(&table, name, rate, params, rng)?
            }
            Mechanism::MnarSelfLogistic => self_mask_rule(&table, rate, only)?,
            Mechanism::MnarQuantile => quantile_rule(&table, rate, params, rng)?,
        };
        Ok(setup(rule))
    }

    /// Removes cells of a row-major `n_rows x n_cols` table by this setup: one uniform per
    /// cell (exact MCAR: a uniform choice of the count), so the same table and rng state give
    /// the same mask. Cells missing already stay missing and are not counted as removed.
    ///
    /// # Errors
    /// [`AmputationError::ShapeMismatch`] / [`AmputationError::NonFinite`] for a bad table,
    /// also when it has another number of columns than the fitted one;
    /// [`AmputationError::Unreachable`] when exact MCAR's count exceeds its observed cells.
    pub fn draw(&self, cells: Cells, rng: &mut impl Rng) -> Result<Amputation, AmputationError> {
        let table = Table::new(cells)?;
        if cells.n_cols != self.n_cols {
            return Err(AmputationError::ShapeMismatch {
                n_rows: cells.n_rows,
                n_cols: self.n_cols,
                values: cells.values.len(),
                observed: cells.observed.len(),
            });
        }
        let prob = match &self.rule {
            Rule::Nothing => return Ok(table.amputation(vec![false; table.cells()])),
            Rule::ExactCount { rate, columns } => {
                return exact_mcar(&table, *rate, columns.as_deref(), rng)
            }
            Rule::Bernoulli(p) => table
                .observed
                .iter()
                .map(|&o| if o { *p } else { 0.0 })
                .collect(),
            Rule::Columns { stats, columns } => table.column_probabilities(stats, columns),
        };
        Ok(table.amputation(draw_mask(&prob, rng)))
    }

    /// The mechanism's name.
    pub fn mechanism(&self) -> &'static str {
        self.mechanism
    }
}

/// Removes cells of one table under `mechanism`: [`MissingnessSetup::fit`] and
/// [`MissingnessSetup::draw`] on the same table (see there). A run fits the setup on its
/// training split and draws every split from it instead.
///
/// # Errors
/// Those of [`MissingnessSetup::fit`].
pub fn ampute(
    cells: Cells,
    mechanism: Mechanism,
    rate: f64,
    params: &AmputationParams,
    rng: &mut impl Rng,
) -> Result<Amputation, AmputationError> {
    MissingnessSetup::fit(cells, mechanism, rate, params, rng)?.draw(cells, rng)
}

/// Marks the cells removed by `a` as missing in `ds` (observed `false`, value `0.0`, as
/// [`Dataset`] requires).
///
/// # Panics
/// If `a` was computed for a table of another size (a programming error).
pub fn apply(ds: &mut Dataset, a: &Amputation) {
    assert_eq!(
        a.mask_missing.len(),
        ds.values.len(),
        "amputation mask does not match the dataset's shape"
    );
    for (k, &removed) in a.mask_missing.iter().enumerate() {
        if removed {
            ds.observed[k] = false;
            ds.values[k] = 0.0;
        }
    }
}

/// The logistic function 1 / (1 + e^-x), evaluated without overflow for large |x|.
fn sigmoid(x: f64) -> f64 {
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
fn fit_intercept(logits: &[f64], target_mean: f64) -> f64 {
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
fn standard_normal(rng: &mut impl Rng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The q-quantile of `sorted` (ascending, non-empty) with linear interpolation between order
/// statistics, numpy's default as used by `MNAR_mask_quantiles`.
fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    match sorted.get(i + 1) {
        Some(&next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

/// `max(floor(share * d), 1)` capped at `d`: the number of columns a share selects, as
/// `max(int(p * d), 1)` in the reference (with a little slack so 0.3 * 10 is 3, not 2.99...).
fn column_count(share: f64, d: usize) -> usize {
    ((share * d as f64 + 1e-9).floor() as usize).clamp(1, d)
}

/// The columns `0..d` in random order: the first `k` are the chosen ones.
fn shuffled_columns(d: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut cols: Vec<usize> = (0..d).collect();
    cols.shuffle(rng);
    cols
}

/// One uniform per cell in row-major order; a cell is removed when it falls below its
/// probability (0 for cells that may not be removed, including those missing already).
fn draw_mask(prob: &[f64], rng: &mut impl Rng) -> Vec<bool> {
    let mut mask = vec![false; prob.len()];
    for (m, &p) in mask.iter_mut().zip(prob) {
        let u: f64 = rng.random();
        *m = u < p;
    }
    mask
}

/// A [`Cells`] view checked for shape and finiteness.
struct Table<'a> {
    values: &'a [f32],
    observed: &'a [bool],
    n: usize,
    d: usize,
}

impl<'a> Table<'a> {
    fn new(cells: Cells<'a>) -> Result<Self, AmputationError> {
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

    fn cells(&self) -> usize {
        self.n * self.d
    }

    /// The probability with which each of `eligible` cells is removed so that `rate` of *all*
    /// cells are; unreachable when that exceeds 1 (or nothing is eligible).
    fn removal_probability(
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
    fn observed_rows(&self, j: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(move |&i| self.observed[i * self.d + j])
    }

    fn observed_count(&self, j: usize) -> usize {
        self.observed_rows(j).count()
    }

    /// Observed values of column `j`, in row order.
    fn observed_values(&self, j: usize) -> Vec<f64> {
        self.observed_rows(j)
            .map(|i| f64::from(self.values[i * self.d + j]))
            .collect()
    }

    /// Mean and (population) standard deviation of the observed values of column `j`; (0, 0)
    /// when none is observed.
    fn column_stats(&self, j: usize) -> (f64, f64) {
        let x = self.observed_values(j);
        if x.is_empty() {
            return (0.0, 0.0);
        }
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / x.len() as f64;
        (mean, var.sqrt())
    }

    /// [`Table::column_stats`] of every column.
    fn all_column_stats(&self) -> Vec<(f64, f64)> {
        (0..self.d).map(|j| self.column_stats(j)).collect()
    }

    /// Column `j` standardised with `(mean, std)` (the fitting table's observed mean and
    /// std), one entry per row; missing cells, and every cell of a constant column, read 0
    /// (the observed mean).
    fn standardised(&self, j: usize, (mean, std): (f64, f64)) -> Vec<f64> {
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
    fn check_reachable(
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
    fn intercept(&self, j: usize, logits: &[f64], target: f64) -> Option<f64> {
        let own: Vec<f64> = self.observed_rows(j).map(|i| logits[i]).collect();
        if own.is_empty() {
            return None;
        }
        let target_mean = target * self.n as f64 / own.len() as f64;
        Some(fit_intercept(&own, target_mean))
    }

    /// The removal probability of every cell under one rule per column (0 for cells that
    /// may not be removed, including those missing already).
    fn column_probabilities(&self, stats: &[(f64, f64)], columns: &[ColumnRule]) -> Vec<f64> {
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
    fn amputation(&self, mask_missing: Vec<bool>) -> Amputation {
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
fn mcar_rule(table: &Table, rate: f64) -> Result<Rule, AmputationError> {
    let observed = table.observed.iter().filter(|&&o| o).count();
    let p = table.removal_probability(Mechanism::Mcar, rate, observed)?;
    Ok(Rule::Bernoulli(p))
}

/// `columns` checked against a table of `d` columns and `mechanism`: non-empty, sorted,
/// distinct, in range, and a mechanism that can be limited to columns.
fn checked_columns(
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
fn mcar_columns_rule(table: &Table, rate: f64, columns: &[usize]) -> Result<Rule, AmputationError> {
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
fn exact_mcar(
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
fn logistic_rules(
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
fn weighted_sum(z: &[&[f64]], weights: &[f64], n: usize) -> Vec<f64> {
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
fn split_inputs(
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
fn columns_rule(table: &Table, stats: Vec<(f64, f64)>, rules: Vec<(usize, ColumnRule)>) -> Rule {
    let mut columns = vec![ColumnRule::Keep; table.d];
    for (j, r) in rules {
        columns[j] = r;
    }
    Rule::Columns { stats, columns }
}

/// MAR (logistic): `d_obs` random columns stay observed and drive the others, each calibrated
/// to the rescaled rate `rate * d / (d - d_obs)` (pitfall 1: the reference leaves p as the
/// rate within the masked columns).
fn mar_rule(
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
fn mnar_logistic_rule(
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
fn self_mask_rule(
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
fn quantile_rule(
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
fn beyond(v: f64, lower: f64, upper: f64, cut: Cut) -> bool {
    match cut {
        Cut::Upper => v > upper,
        Cut::Lower => v < lower,
        Cut::Both => v > upper || v < lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const N: usize = 2000;
    const D: usize = 10;

    const ALL: [Mechanism; 6] = [
        Mechanism::Mcar,
        Mechanism::Mar,
        Mechanism::Mnar,
        Mechanism::MnarLogistic,
        Mechanism::MnarSelfLogistic,
        Mechanism::MnarQuantile,
    ];

    /// `N x D` Gaussian columns with different units: column j has mean j and std 1 + j.
    fn gaussian(seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v = Vec::with_capacity(N * D);
        for _ in 0..N {
            for j in 0..D {
                v.push((j as f64 + (1.0 + j as f64) * standard_normal(&mut rng)) as f32);
            }
        }
        v
    }

    /// Params under which `m` reaches rates up to 0.5 on `N x D` data: the defaults, except
    /// that quantile censoring acts on all columns above their 0.4-quantile (60 % of cells
    /// eligible, where the defaults allow 7.5 %).
    fn reachable_params(m: Mechanism) -> AmputationParams {
        if m != Mechanism::MnarQuantile {
            return AmputationParams::default();
        }
        AmputationParams {
            quantile_columns: Some(1.0),
            quantile: 0.4,
            ..AmputationParams::default()
        }
    }

    fn run(
        values: &[f32],
        observed: &[bool],
        m: Mechanism,
        rate: f64,
        params: &AmputationParams,
        seed: u64,
    ) -> Result<Amputation, AmputationError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        ampute(
            Cells::new(values, observed, N, D),
            m,
            rate,
            params,
            &mut rng,
        )
    }

    /// Columns in which `a` removed at least one cell.
    fn touched_columns(a: &Amputation) -> Vec<usize> {
        (0..D).filter(|&j| a.per_column_rate[j] > 0.0).collect()
    }

    /// A run's test split gets the training split's mechanism: applied to the first half of
    /// the rows, a setup fitted on all of them removes exactly the cells it removes from that
    /// half when the uniforms are the same. Refitted on the half, the column choice, weights,
    /// standardisation, intercepts and thresholds would differ.
    #[test]
    fn a_setup_fitted_on_one_table_applies_unchanged_to_another() {
        let values = gaussian(21);
        let observed = vec![true; N * D];
        let half = N / 2 * D;
        for m in ALL {
            let params = reachable_params(m);
            let mut fit_rng = ChaCha8Rng::seed_from_u64(5);
            let setup = MissingnessSetup::fit(
                Cells::new(&values, &observed, N, D),
                m,
                0.3,
                &params,
                &mut fit_rng,
            )
            .unwrap();
            let mut draws = ChaCha8Rng::seed_from_u64(6);
            let whole = setup
                .draw(Cells::new(&values, &observed, N, D), &mut draws.clone())
                .unwrap();
            let first = setup
                .draw(
                    Cells::new(&values[..half], &observed[..half], N / 2, D),
                    &mut draws,
                )
                .unwrap();
            assert_eq!(first.mask_missing, whole.mask_missing[..half], "{m}");
            let refit = ampute(
                Cells::new(&values[..half], &observed[..half], N / 2, D),
                m,
                0.3,
                &params,
                &mut ChaCha8Rng::seed_from_u64(5),
            )
            .unwrap();
            if m != Mechanism::Mcar {
                assert_ne!(
                    refit.mask_missing, first.mask_missing,
                    "{m}: refitting differs"
                );
            }
        }
    }

    /// On a second table from the same distribution the setup keeps its columns (MAR's
    /// always-observed ones, the censored ones) and its rate.
    #[test]
    fn a_fitted_setup_keeps_its_columns_and_rate_on_new_data() {
        let (train, test) = (gaussian(31), gaussian(32));
        let observed = vec![true; N * D];
        let cases = [
            (Mechanism::Mcar, AmputationParams::default(), 0.3),
            (Mechanism::Mar, AmputationParams::default(), 0.3),
            (Mechanism::Mnar, AmputationParams::default(), 0.3),
            (
                Mechanism::MnarSelfLogistic,
                AmputationParams::default(),
                0.3,
            ),
            (Mechanism::MnarQuantile, AmputationParams::default(), 0.05),
        ];
        for (m, params, rate) in cases {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            let setup = MissingnessSetup::fit(
                Cells::new(&train, &observed, N, D),
                m,
                rate,
                &params,
                &mut rng,
            )
            .unwrap();
            let a = setup
                .draw(Cells::new(&train, &observed, N, D), &mut rng)
                .unwrap();
            let b = setup
                .draw(Cells::new(&test, &observed, N, D), &mut rng)
                .unwrap();
            assert_eq!(touched_columns(&a), touched_columns(&b), "{m}");
            if matches!(m, Mechanism::Mar | Mechanism::MnarQuantile) {
                assert!(touched_columns(&a).len() < D, "{m} leaves columns alone");
            }
            for r in [a.realized_rate, b.realized_rate] {
                assert!((r - rate).abs() < 0.02, "{m}: {r} vs {rate}");
            }
        }
    }

    #[test]
    fn a_setup_refuses_a_table_of_other_columns() {
        let values = gaussian(1);
        let observed = vec![true; N * D];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let params = AmputationParams::default();
        let setup = MissingnessSetup::fit(
            Cells::new(&values, &observed, N, D),
            Mechanism::Mar,
            0.2,
            &params,
            &mut rng,
        )
        .unwrap();
        let e = setup
            .draw(Cells::new(&values, &observed, N * 2, D / 2), &mut rng)
            .unwrap_err();
        assert!(matches!(e, AmputationError::ShapeMismatch { .. }), "{e}");
    }

    /// Mean of the raw values at the cells a mask removes.
    fn mean_removed(values: &[f32], mask: &[bool]) -> f64 {
        let (sum, count) = values
            .iter()
            .zip(mask)
            .filter(|(_, &m)| m)
            .fold((0.0, 0usize), |(s, c), (&v, _)| (s + f64::from(v), c + 1));
        sum / count as f64
    }

    #[test]
    fn names_match_serde_and_bare_mnar_keeps_its_name() {
        for m in ALL.into_iter().chain([Mechanism::None]) {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Mechanism>(&json).unwrap(), m);
        }
        assert_eq!(Mechanism::Mnar.to_string(), "mnar");
        assert_eq!(Mechanism::MnarSelfLogistic.name(), "mnar-self-logistic");
    }

    #[test]
    fn params_defaults_unknown_fields_and_validation() {
        let p: AmputationParams = serde_json::from_str("{}").unwrap();
        assert_eq!(p, AmputationParams::default());
        assert_eq!((p.p_obs, p.p_params, p.quantile), (0.3, 0.3, 0.75));
        assert_eq!(p.cut, Cut::Upper);
        let p: AmputationParams = serde_json::from_str(r#"{"cut": "both"}"#).unwrap();
        assert_eq!(p.cut, Cut::Both);
        assert!(serde_json::from_str::<AmputationParams>(r#"{"p_ob": 0.3}"#).is_err());
        assert!(p.validate().is_ok());
        for (bad, field) in [
            (
                AmputationParams {
                    p_obs: 1.0,
                    ..p.clone()
                },
                "p_obs",
            ),
            (
                AmputationParams {
                    p_params: f64::NAN,
                    ..p.clone()
                },
                "p_params",
            ),
            (
                AmputationParams {
                    quantile: 1.0,
                    ..p.clone()
                },
                "quantile",
            ),
        ] {
            let msg = bad.validate().unwrap_err().to_string();
            assert!(msg.starts_with(field), "{msg}");
        }
    }

    #[test]
    fn sigmoid_and_intercept_known_answers() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert!((sigmoid(2.0) - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-15);
        assert!((sigmoid(-2.0) + sigmoid(2.0) - 1.0).abs() < 1e-15);
        assert_eq!(sigmoid(-1000.0), 0.0);
        // Equal logits: mean σ(b) = 0.25 at b = ln(1/3).
        let b = fit_intercept(&[0.0; 5], 0.25);
        assert!((b - (1.0f64 / 3.0).ln()).abs() < 1e-9, "{b}");
        let logits = [-2.0, 0.5, 3.0];
        let b = fit_intercept(&logits, 0.6);
        let mean = logits.iter().map(|&l| sigmoid(l + b)).sum::<f64>() / 3.0;
        assert!((mean - 0.6).abs() < 1e-12);
    }

    #[test]
    fn quantile_interpolates_linearly() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_of_sorted(&s, 0.75), 3.25);
        assert_eq!(quantile_of_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_of_sorted(&s, 1.0), 4.0);
        assert_eq!(quantile_of_sorted(&[7.0], 0.3), 7.0);
        assert_eq!(column_count(0.3, 10), 3);
        assert_eq!(column_count(0.0, 10), 1);
        assert_eq!(column_count(1.0, 10), 10);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn realised_rate_is_close_to_target(
            seed in any::<u64>(),
            m in 0..ALL.len(),
            rate in prop::sample::select(vec![0.1, 0.3, 0.5]),
            exact in any::<bool>(),
        ) {
            let values = gaussian(seed);
            let observed = vec![true; N * D];
            let params = AmputationParams { exact_mcar: exact, ..reachable_params(ALL[m]) };
            let a = run(&values, &observed, ALL[m], rate, &params, seed ^ 1).unwrap();
            let removed = a.mask_missing.iter().filter(|&&x| x).count();
            prop_assert!((a.realized_rate - removed as f64 / (N * D) as f64).abs() < 1e-12);
            prop_assert!((a.realized_rate - rate).abs() < 0.02,
                "{}: {} vs {}", ALL[m], a.realized_rate, rate);
        }

        #[test]
        fn same_seed_same_mask(seed in any::<u64>(), m in 0..ALL.len()) {
            let values = gaussian(seed);
            let observed = vec![true; N * D];
            let params = reachable_params(ALL[m]);
            let a = run(&values, &observed, ALL[m], 0.3, &params, seed).unwrap();
            let b = run(&values, &observed, ALL[m], 0.3, &params, seed).unwrap();
            let c = run(&values, &observed, ALL[m], 0.3, &params, seed.wrapping_add(1)).unwrap();
            prop_assert_eq!(&a, &b);
            prop_assert_ne!(a.mask_missing, c.mask_missing);
        }
    }

    /// The always-observed columns of a MAR amputation: those it removed nothing from.
    fn untouched_columns(a: &Amputation) -> Vec<usize> {
        (0..D).filter(|&j| a.per_column_rate[j] == 0.0).collect()
    }

    #[test]
    fn mar_keeps_its_columns_and_rescales_the_rest() {
        let values = gaussian(3);
        let observed = vec![true; N * D];
        let a = run(
            &values,
            &observed,
            Mechanism::Mar,
            0.3,
            &AmputationParams::default(),
            4,
        )
        .unwrap();
        let kept = untouched_columns(&a);
        assert_eq!(kept.len(), 3, "d_obs = floor(0.3 * 10)");
        // The other 7 columns carry the whole rate: 0.3 * 10 / 7 each.
        for j in (0..D).filter(|j| !kept.contains(j)) {
            assert!(
                (a.per_column_rate[j] - 0.3 * 10.0 / 7.0).abs() < 0.04,
                "column {j}"
            );
        }
    }

    #[test]
    fn mar_mask_depends_only_on_the_observed_columns() {
        let values = gaussian(5);
        let observed = vec![true; N * D];
        let params = AmputationParams::default();
        let a = run(&values, &observed, Mechanism::Mar, 0.3, &params, 6).unwrap();
        let kept = untouched_columns(&a);
        // Replace every masked column's values by fresh ones; keep the observed columns.
        let fresh = gaussian(99);
        let mut changed = values.clone();
        for k in 0..N * D {
            if !kept.contains(&(k % D)) {
                changed[k] = fresh[k];
            }
        }
        assert_ne!(changed, values);
        let b = run(&changed, &observed, Mechanism::Mar, 0.3, &params, 6).unwrap();
        assert_eq!(a.mask_missing, b.mask_missing);
        // Self-masking, by contrast, follows the values it removes.
        let s = |v: &[f32]| run(v, &observed, Mechanism::MnarSelfLogistic, 0.3, &params, 6);
        assert_ne!(
            s(&values).unwrap().mask_missing,
            s(&changed).unwrap().mask_missing
        );
    }

    #[test]
    fn self_masking_removes_larger_values_than_mcar() {
        let values = gaussian(7);
        let observed = vec![true; N * D];
        let params = AmputationParams::default();
        let mnar = run(
            &values,
            &observed,
            Mechanism::MnarSelfLogistic,
            0.3,
            &params,
            8,
        )
        .unwrap();
        let mcar = run(&values, &observed, Mechanism::Mcar, 0.3, &params, 8).unwrap();
        for j in 0..D {
            assert!((mnar.per_column_rate[j] - 0.3).abs() < 0.04, "column {j}");
        }
        let (m, c) = (
            mean_removed(&values, &mnar.mask_missing),
            mean_removed(&values, &mcar.mask_missing),
        );
        // Columns have std 1..10 (mean 5.5); a unit logit slope shifts removed values by a
        // sizeable fraction of a std.
        assert!(m > c + 1.0, "self-masked mean {m}, MCAR mean {c}");
    }

    #[test]
    fn quantile_cut_removes_only_beyond_the_quantile() {
        let values = gaussian(9);
        let observed = vec![true; N * D];
        for cut in [Cut::Upper, Cut::Lower] {
            let params = AmputationParams {
                cut,
                ..reachable_params(Mechanism::MnarQuantile)
            };
            let a = run(
                &values,
                &observed,
                Mechanism::MnarQuantile,
                0.2,
                &params,
                10,
            )
            .unwrap();
            for j in 0..D {
                let mut col: Vec<f64> = (0..N).map(|i| f64::from(values[i * D + j])).collect();
                col.sort_by(f64::total_cmp);
                let (hi, lo) = (quantile_of_sorted(&col, 0.4), quantile_of_sorted(&col, 0.6));
                for i in (0..N).filter(|&i| a.mask_missing[i * D + j]) {
                    let v = f64::from(values[i * D + j]);
                    match cut {
                        Cut::Upper => assert!(v > hi, "{v} <= {hi}"),
                        _ => assert!(v < lo, "{v} >= {lo}"),
                    }
                }
            }
        }
    }

    #[test]
    fn mnar_logistic_masks_inputs_mcar_at_the_same_rate() {
        let values = gaussian(11);
        let observed = vec![true; N * D];
        for m in [Mechanism::Mnar, Mechanism::MnarLogistic] {
            let a = run(&values, &observed, m, 0.3, &AmputationParams::default(), 12).unwrap();
            for (j, r) in a.per_column_rate.iter().enumerate() {
                assert!((r - 0.3).abs() < 0.04, "{m} column {j}: {r}");
            }
        }
    }

    #[test]
    fn unreachable_rates_are_errors_naming_the_field() {
        let values = gaussian(13);
        let observed = vec![true; N * D];
        let params = AmputationParams::default();
        let err = run(&values, &observed, Mechanism::Mar, 0.9, &params, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing_rate 0.9 is unreachable for mar: at most 0.7 of the cells may be masked"
        );
        // Default quantile: 3 columns x their top quarter = 7.5 % of the cells.
        let err = run(&values, &observed, Mechanism::MnarQuantile, 0.1, &params, 1).unwrap_err();
        assert!(
            matches!(err, AmputationError::Unreachable { max, .. } if (max - 0.075).abs() < 1e-3)
        );
        let all_inputs = AmputationParams {
            p_params: 1.0,
            ..params.clone()
        };
        let err = run(&values, &observed, Mechanism::Mnar, 0.1, &all_inputs, 1).unwrap_err();
        assert!(err.to_string().starts_with("mnar: p_params 1"), "{err}");
        for rate in [1.0, -0.1, f64::NAN] {
            let err = run(&values, &observed, Mechanism::Mcar, rate, &params, 1).unwrap_err();
            assert!(err
                .to_string()
                .starts_with("missing_rate must lie in [0, 1)"));
        }
    }

    #[test]
    fn zero_rate_and_none_remove_nothing() {
        let values = gaussian(15);
        let observed = vec![true; N * D];
        let params = AmputationParams::default();
        for m in ALL.into_iter().chain([Mechanism::None]) {
            let a = run(&values, &observed, m, 0.0, &params, 1).unwrap();
            assert!(a.mask_missing.iter().all(|&x| !x), "{m}");
            assert_eq!(a.realized_rate, 0.0);
            assert_eq!(a.per_column_rate, vec![0.0; D]);
        }
        let a = run(&values, &observed, Mechanism::None, 0.5, &params, 1).unwrap();
        assert_eq!(a.realized_rate, 0.0);
    }

    #[test]
    fn exact_mcar_removes_exactly_the_rounded_count() {
        let values = gaussian(17);
        let observed = vec![true; N * D];
        let params = AmputationParams {
            exact_mcar: true,
            ..AmputationParams::default()
        };
        let a = run(&values, &observed, Mechanism::Mcar, 0.123_45, &params, 2).unwrap();
        let removed = a.mask_missing.iter().filter(|&&x| x).count();
        assert_eq!(removed, 2469); // round(0.12345 * 20000) = round(2469.0)
    }

    /// `columns`: only the named columns lose values, the rate is still the share of all
    /// cells (so each named column loses `rate d / |columns|` of its cells), for Bernoulli
    /// MCAR, exact MCAR and self-masking; a setup fitted with them keeps them on another
    /// table; a rate beyond what the columns hold is unreachable.
    #[test]
    fn named_columns_alone_lose_values_at_the_rate_of_all_cells() {
        let values = gaussian(31);
        let mut observed = vec![true; N * D];
        // Column 2 already misses a tenth of its cells: they stay missing, uncounted.
        for i in (0..N).step_by(10) {
            observed[i * D + 2] = false;
        }
        let only = vec![2, 5, 7];
        let params = AmputationParams {
            columns: Some(only.clone()),
            ..AmputationParams::default()
        };
        let exact = AmputationParams {
            exact_mcar: true,
            ..params.clone()
        };
        let rate = 0.06; // 0.2 of each named column
        for (m, p) in [
            (Mechanism::Mcar, &params),
            (Mechanism::Mcar, &exact),
            (Mechanism::MnarSelfLogistic, &params),
        ] {
            let a = run(&values, &observed, m, rate, p, 4).unwrap();
            assert_eq!(touched_columns(&a), only, "{m} exact={}", p.exact_mcar);
            assert!(
                (a.realized_rate - rate).abs() < 0.01,
                "{m}: {}",
                a.realized_rate
            );
            for &j in &only {
                let r = a.per_column_rate[j];
                assert!((r - 0.2).abs() < 0.04, "{m}: column {j} lost {r}");
            }
            assert!(a.mask_missing.iter().zip(&observed).all(|(&m, &o)| !m || o));
        }
        // Exact MCAR: exactly round(rate * cells) cells, all in the named columns.
        let a = run(&values, &observed, Mechanism::Mcar, rate, &exact, 5).unwrap();
        assert_eq!(a.mask_missing.iter().filter(|&&x| x).count(), 1200);
        // Fitted on the first half of the rows, drawn on the second: the same columns.
        let half = N / 2 * D;
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let setup = MissingnessSetup::fit(
            Cells::new(&values[..half], &observed[..half], N / 2, D),
            Mechanism::MnarSelfLogistic,
            rate,
            &params,
            &mut rng,
        )
        .unwrap();
        let other = setup
            .draw(
                Cells::new(&values[half..], &observed[half..], N / 2, D),
                &mut rng,
            )
            .unwrap();
        assert_eq!(
            (0..D)
                .filter(|&j| other.per_column_rate[j] > 0.0)
                .collect::<Vec<_>>(),
            only
        );
        // Three columns of ten hold 30% of the cells, minus column 2's missing tenth.
        let err = run(&values, &observed, Mechanism::Mcar, 0.3, &params, 4).unwrap_err();
        assert!(
            matches!(err, AmputationError::Unreachable { max, .. } if (max - 0.29).abs() < 1e-9),
            "{err}"
        );
        let err = run(
            &values,
            &observed,
            Mechanism::MnarSelfLogistic,
            0.3,
            &params,
            4,
        );
        assert!(matches!(err, Err(AmputationError::Unreachable { .. })));
    }

    #[test]
    fn bad_column_lists_and_mechanisms_that_choose_their_columns_are_refused() {
        let values = gaussian(32);
        let observed = vec![true; N * D];
        let with = |columns: Vec<usize>| AmputationParams {
            columns: Some(columns),
            ..AmputationParams::default()
        };
        let message = |m, columns| {
            run(&values, &observed, m, 0.01, &with(columns), 1)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(Mechanism::Mcar, vec![]),
            "columns: the list is empty"
        );
        assert_eq!(
            message(Mechanism::Mcar, vec![3, 10]),
            "columns: column 10 is not among the table's 10"
        );
        assert_eq!(
            message(Mechanism::Mcar, vec![3, 3]),
            "columns: must be sorted and distinct, got 3 before 3"
        );
        for m in [
            Mechanism::Mar,
            Mechanism::Mnar,
            Mechanism::MnarLogistic,
            Mechanism::MnarQuantile,
        ] {
            assert!(
                message(m, vec![1]).contains("chooses its own columns"),
                "{m}"
            );
        }
        // Checked even at rate 0, so a config error shows on its first run.
        let err = run(&values, &observed, Mechanism::Mar, 0.0, &with(vec![1]), 1);
        assert!(matches!(err, Err(AmputationError::BadColumns { .. })));
    }

    #[test]
    fn cells_missing_already_stay_missing_and_are_not_counted() {
        let mut values = gaussian(19);
        let mut rng = ChaCha8Rng::seed_from_u64(20);
        let observed: Vec<bool> = (0..N * D).map(|_| rng.random::<f64>() >= 0.1).collect();
        for (v, &o) in values.iter_mut().zip(&observed) {
            if !o {
                *v = 0.0;
            }
        }
        for m in ALL {
            let a = run(&values, &observed, m, 0.3, &reachable_params(m), 21).unwrap();
            assert!(
                a.mask_missing.iter().zip(&observed).all(|(&r, &o)| !r || o),
                "{m}"
            );
            let removed = a.mask_missing.iter().filter(|&&x| x).count();
            assert_eq!(a.realized_rate, removed as f64 / (N * D) as f64);
            // The remaining cells make up for the missing ones.
            assert!(
                (a.realized_rate - 0.3).abs() < 0.02,
                "{m}: {}",
                a.realized_rate
            );

            let names: Vec<String> = (0..D).map(|j| format!("x{j}")).collect();
            let mut ds = Dataset::numeric(
                "t",
                names,
                vec!["a".into()],
                values.clone(),
                observed.clone(),
                vec![0; N],
            );
            apply(&mut ds, &a);
            ds.validate().unwrap();
            assert!((ds.missing_fraction() - (a.realized_rate + 0.1)).abs() < 0.01);
            let expected: Vec<bool> = observed
                .iter()
                .zip(&a.mask_missing)
                .map(|(&o, &r)| o && !r)
                .collect();
            assert_eq!(ds.observed, expected);
        }
    }

    #[test]
    fn constant_column_gives_no_nan() {
        let mut values = gaussian(23);
        for i in 0..N {
            values[i * D] = 4.0; // column 0 constant (pitfall 3)
        }
        let observed = vec![true; N * D];
        let params = AmputationParams {
            p_obs: 0.0,
            ..AmputationParams::default()
        };
        for m in [Mechanism::MnarSelfLogistic, Mechanism::Mar, Mechanism::Mnar] {
            let a = run(&values, &observed, m, 0.2, &params, 24).unwrap();
            assert!(
                (a.realized_rate - 0.2).abs() < 0.02,
                "{m}: {}",
                a.realized_rate
            );
        }
    }

    #[test]
    fn shape_and_value_errors() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let p = AmputationParams::default();
        let err = ampute(
            Cells::new(&[1.0; 5], &[true; 6], 2, 3),
            Mechanism::Mcar,
            0.1,
            &p,
            &mut rng,
        );
        assert!(matches!(err, Err(AmputationError::ShapeMismatch { .. })));
        let err = ampute(
            Cells::new(&[1.0, f32::NAN], &[true; 2], 1, 2),
            Mechanism::Mcar,
            0.1,
            &p,
            &mut rng,
        );
        assert!(matches!(
            err,
            Err(AmputationError::NonFinite { row: 0, col: 1, value }) if value.is_nan()
        ));
    }
}
