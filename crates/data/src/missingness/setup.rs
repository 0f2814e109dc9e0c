//! A mechanism's setup: drawn and calibrated once on one table ([`MissingnessSetup::fit`]),
//! then applied with fresh per-cell uniforms to any table with the same columns
//! ([`MissingnessSetup::draw`]).

use super::rules::{
    checked_columns, draw_mask, exact_mcar, mar_rule, mcar_columns_rule, mcar_rule,
    mnar_logistic_rule, quantile_rule, self_mask_rule, Table,
};
use super::{Amputation, AmputationError, AmputationParams, Cells, Cut, Mechanism};
use rand::Rng;

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
pub(super) enum Rule {
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
pub(super) enum ColumnRule {
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
