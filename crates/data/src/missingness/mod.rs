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

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

mod rules;
mod setup;

pub use setup::MissingnessSetup;

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

#[cfg(test)]
mod tests;
