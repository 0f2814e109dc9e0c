//! Imputation baselines for missing feature cells, always fitted on the training rows only
//! and then applied unchanged to train and test: a constant zero, the
//! column mean or median (scikit-learn's `SimpleImputer`), the average of the k nearest
//! training donors under the `nan_euclidean` distance (`KNNImputer`), round-robin ridge
//! regressions of every column on the others (`IterativeImputer`, made deterministic), and `absent`, which leaves the mask for models that feed only observed
//! inputs. Any of them can append missing-indicator columns (`MissingIndicator` with
//! `features='missing-only'`). Definitions follow scikit-learn's imputers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// The suffix that asks for missing-indicator columns, as in `mean+indicator`.
const INDICATOR_SUFFIX: &str = "+indicator";

/// How missing cells are filled: the part of an [`Imputation`] before `+indicator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// `none`: the data is not expected to have missing cells (no missingness simulated). Any
    /// missing cell is still handled, exactly as by [`Strategy::Zero`]; the separate name only
    /// keeps results labelled the way the config was written.
    None,
    /// Fill with `0.0` (`SimpleImputer(strategy='constant')`, whose fill value is 0). After
    /// standardisation this is mean imputation.
    Zero,
    /// Fill with the mean of the column's observed training values
    /// (`SimpleImputer(strategy='mean')`).
    Mean,
    /// Fill with the median of the column's observed training values, the average of the two
    /// middle values for an even count as in `numpy.median` (`SimpleImputer(strategy='median')`).
    Median,
    /// Uniform average of the k nearest training donors under `nan_euclidean`
    /// (`KNNImputer(weights='uniform', metric='nan_euclidean')`).
    Knn,
    /// Round-robin ridge regressions of every column on all others, starting from the mean
    /// (`IterativeImputer(initial_strategy='mean', imputation_order='ascending',
    /// sample_posterior=False, skip_complete=False)` with a fixed number of rounds and no
    /// early stopping). Columns complete in training get a model too, for the test split.
    Iterative,
    /// Leave missing cells missing (`0.0`, unobserved): the model feeds only observed inputs.
    Absent,
}

impl Strategy {
    /// Every strategy, in the order the config names are listed in messages.
    pub const ALL: [Strategy; 7] = [
        Strategy::None,
        Strategy::Zero,
        Strategy::Mean,
        Strategy::Median,
        Strategy::Knn,
        Strategy::Iterative,
        Strategy::Absent,
    ];

    /// The name used in configs and results (`"mean"`, `"knn"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Zero => "zero",
            Strategy::Mean => "mean",
            Strategy::Median => "median",
            Strategy::Knn => "knn",
            Strategy::Iterative => "iterative",
            Strategy::Absent => "absent",
        }
    }
}

/// How a run feeds missing values to the model: a [`Strategy`], optionally with indicator
/// columns. Written in configs as the strategy name, optionally followed by `+indicator`
/// (`"mean"`, `"absent+indicator"`); [`fmt::Display`] prints the same string back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imputation {
    /// How missing cells are filled.
    pub strategy: Strategy,
    /// Whether to append one `<feature>_missing` column per feature with missing training
    /// cells (scikit-learn's `add_indicator=True`, `features='missing-only'`).
    pub indicator: bool,
}

impl Imputation {
    /// True when missing cells stay missing and the model must feed only observed entries.
    pub fn feeds_absent(&self) -> bool {
        self.strategy == Strategy::Absent
    }
}

/// Errors of this module: an unknown imputation name or invalid imputer parameters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImputationError {
    /// A config string that names no imputation.
    #[error(
        "unknown imputation '{given}'; expected one of none, zero, mean, median, knn, \
         iterative, absent, each optionally followed by '+indicator' (e.g. 'mean+indicator')"
    )]
    Unknown {
        /// The string given.
        given: String,
    },
    /// An [`ImputerParams`] field outside its valid range.
    #[error("imputer parameter {field}: {reason}")]
    InvalidParam {
        /// The field's name.
        field: &'static str,
        /// What is wrong, with the value.
        reason: String,
    },
}

impl FromStr for Imputation {
    type Err = ImputationError;

    fn from_str(s: &str) -> Result<Imputation, ImputationError> {
        let (base, indicator) = match s.strip_suffix(INDICATOR_SUFFIX) {
            Some(base) => (base, true),
            None => (s, false),
        };
        let strategy = Strategy::ALL
            .into_iter()
            .find(|st| st.name() == base)
            .ok_or_else(|| ImputationError::Unknown {
                given: s.to_string(),
            })?;
        Ok(Imputation {
            strategy,
            indicator,
        })
    }
}

impl fmt::Display for Imputation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.strategy.name())?;
        if self.indicator {
            f.write_str(INDICATOR_SUFFIX)?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Imputation {
    type Error = ImputationError;

    fn try_from(s: String) -> Result<Imputation, ImputationError> {
        s.parse()
    }
}

impl From<Imputation> for String {
    fn from(imp: Imputation) -> String {
        imp.to_string()
    }
}

/// Tuning of the model-based imputers; the defaults follow scikit-learn where it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImputerParams {
    /// Number of donors averaged by [`Strategy::Knn`] (`KNNImputer(n_neighbors=5)`); at least 1.
    pub knn_k: usize,
    /// Round-robin rounds of [`Strategy::Iterative`] (`IterativeImputer(max_iter=10)`); 0 gives
    /// mean imputation.
    pub iterative_rounds: usize,
    /// Ridge penalty of the column regressions of [`Strategy::Iterative`] (in place of
    /// scikit-learn's `BayesianRidge`); positive, so the normal equations are always solvable.
    pub ridge_lambda: f64,
}

impl Default for ImputerParams {
    fn default() -> ImputerParams {
        ImputerParams {
            knn_k: 5,
            iterative_rounds: 10,
            ridge_lambda: 1e-3,
        }
    }
}

impl ImputerParams {
    /// Checks that `knn_k >= 1` and that `ridge_lambda` is finite and positive.
    pub fn validate(&self) -> Result<(), ImputationError> {
        if self.knn_k == 0 {
            return Err(ImputationError::InvalidParam {
                field: "knn_k",
                reason: "must be at least 1, got 0".into(),
            });
        }
        if !(self.ridge_lambda.is_finite() && self.ridge_lambda > 0.0) {
            return Err(ImputationError::InvalidParam {
                field: "ridge_lambda",
                reason: format!("must be finite and positive, got {}", self.ridge_lambda),
            });
        }
        Ok(())
    }
}

/// An imputer fitted on a training dataset; [`Imputer::transform`] applies the training
/// statistics and models, unchanged, to any dataset with the same features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    imputation: Imputation,
    n_features: usize,
    indicator_columns: Vec<usize>,
    model: Model,
}

/// What [`Imputer`] learned from the training rows, per strategy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Model {
    /// `absent`: nothing to fill.
    Keep,
    /// `none`, `zero`, `mean`, `median`: one fill value per column.
    Constant(Vec<f32>),
    /// `knn`: the training rows as donors.
    Knn(KnnDonors),
    /// `iterative`: the sequence of fitted column regressions.
    Iterative(IterativeModel),
}

impl Imputer {
    /// Fits `imp` on the training rows `train`: column statistics over observed training cells
    /// (0 for a column with none, where scikit-learn would drop the column), the training rows
    /// as k-NN donors, or the iterative column models; and the indicator columns, the features
    /// with at least one missing training cell.
    ///
    /// # Panics
    /// If `params.validate()` fails: parameters come from a config validated before any fit.
    pub fn fit(imp: &Imputation, train: &Dataset, params: &ImputerParams) -> Imputer {
        if let Err(e) = params.validate() {
            panic!("Imputer::fit called with invalid parameters: {e}");
        }
        let d = train.n_features();
        let model = match imp.strategy {
            Strategy::None | Strategy::Zero => Model::Constant(vec![0.0; d]),
            Strategy::Mean => {
                Model::Constant(column_means(train).iter().map(|&m| m as f32).collect())
            }
            Strategy::Median => Model::Constant(column_medians(train)),
            Strategy::Knn => Model::Knn(KnnDonors::fit(train, params.knn_k)),
            Strategy::Iterative => Model::Iterative(IterativeModel::fit(train, params)),
            Strategy::Absent => Model::Keep,
        };
        Imputer {
            imputation: imp.clone(),
            n_features: d,
            indicator_columns: (0..d).filter(|&j| has_missing(train, j)).collect(),
            model,
        }
    }

    /// The imputation this imputer was fitted for.
    pub fn imputation(&self) -> &Imputation {
        &self.imputation
    }

    /// The features (0-based, ascending) that had a missing training cell: the ones that get a
    /// `<feature>_missing` column when the imputation asks for indicators.
    pub fn indicator_columns(&self) -> &[usize] {
        &self.indicator_columns
    }

    /// A copy of `ds` with its missing cells imputed from the training fit and marked observed
    /// (for `absent`, left missing), then, with `+indicator`, one column `<feature>_missing`
    /// appended per [`Imputer::indicator_columns`] entry, in that order: `1.0` where the cell
    /// was missing in `ds`, always observed, no categories. A feature missing in `ds` but fully
    /// observed in training gets no indicator (scikit-learn raises an error there instead);
    /// its cells are still imputed.
    ///
    /// # Panics
    /// If `ds` has a different number of features from the training data.
    pub fn transform(&self, ds: &Dataset) -> Dataset {
        assert_eq!(
            ds.n_features(),
            self.n_features,
            "imputer fitted on {} features applied to {}",
            self.n_features,
            ds.n_features()
        );
        let mut out = ds.clone();
        match &self.model {
            Model::Keep => {}
            Model::Constant(fill) => fill_constant(&mut out, fill),
            Model::Knn(donors) => donors.impute(&mut out),
            Model::Iterative(model) => model.impute(&mut out),
        }
        if self.imputation.indicator {
            append_indicators(&mut out, ds, &self.indicator_columns);
        }
        out
    }
}

/// Whether column `j` of `ds` has a missing cell.
fn has_missing(ds: &Dataset, j: usize) -> bool {
    let d = ds.n_features();
    (0..ds.n_rows()).any(|i| !ds.observed[i * d + j])
}

/// The observed values of column `j`, in row order, as `f64`.
fn observed_column(ds: &Dataset, j: usize) -> Vec<f64> {
    let d = ds.n_features();
    (0..ds.n_rows())
        .filter(|&i| ds.observed[i * d + j])
        .map(|i| f64::from(ds.values[i * d + j]))
        .collect()
}

/// Mean of each column's observed cells (0 for a column with none), accumulated in `f64`.
fn column_means(ds: &Dataset) -> Vec<f64> {
    (0..ds.n_features())
        .map(|j| {
            let col = observed_column(ds, j);
            match col.len() {
                0 => 0.0,
                n => col.iter().sum::<f64>() / n as f64,
            }
        })
        .collect()
}

/// Median of each column's observed cells as `numpy.median` defines it (the mean of the two
/// middle values for an even count); 0 for a column with none.
fn column_medians(ds: &Dataset) -> Vec<f32> {
    (0..ds.n_features())
        .map(|j| {
            let mut col = observed_column(ds, j);
            col.sort_by(f64::total_cmp);
            let n = col.len();
            let median = match n {
                0 => 0.0,
                _ if n % 2 == 1 => col[n / 2],
                _ => 0.5 * (col[n / 2 - 1] + col[n / 2]),
            };
            median as f32
        })
        .collect()
}

/// Fills every missing cell of `ds` with its column's value and marks it observed.
fn fill_constant(ds: &mut Dataset, fill: &[f32]) {
    let d = ds.n_features();
    for (k, (v, o)) in ds.values.iter_mut().zip(ds.observed.iter_mut()).enumerate() {
        if !*o {
            *v = fill[k % d];
            *o = true;
        }
    }
}

/// Rebuilds `out` with one indicator column per entry of `columns` appended to each row,
/// `1.0` where `original` has that cell missing.
fn append_indicators(out: &mut Dataset, original: &Dataset, columns: &[usize]) {
    let (n, d, m) = (out.n_rows(), out.n_features(), columns.len());
    let mut values = Vec::with_capacity(n * (d + m));
    let mut observed = Vec::with_capacity(n * (d + m));
    for i in 0..n {
        values.extend_from_slice(out.row(i));
        observed.extend_from_slice(out.observed_row(i));
        let orig = original.observed_row(i);
        values.extend(columns.iter().map(|&j| if orig[j] { 0.0 } else { 1.0 }));
        observed.extend(std::iter::repeat_n(true, m));
    }
    out.values = values;
    out.observed = observed;
    for &j in columns {
        let name = format!("{}_missing", original.feature_names[j]);
        out.feature_names.push(name);
        out.categories.push(Vec::new());
    }
}

/// scikit-learn's `nan_euclidean` distance between rows `x` and `y` of `d` features:
/// `sqrt(d / p * sum of squared differences over the p coordinates both observe)`, or `None`
/// (scikit-learn's NaN) when they share no observed coordinate.
fn nan_euclidean(x: &[f32], x_obs: &[bool], y: &[f32], y_obs: &[bool]) -> Option<f64> {
    let mut sum = 0.0f64;
    let mut present = 0usize;
    for l in 0..x.len() {
        if x_obs[l] && y_obs[l] {
            let diff = f64::from(x[l]) - f64::from(y[l]);
            sum += diff * diff;
            present += 1;
        }
    }
    match present {
        0 => None,
        p => Some((x.len() as f64 / p as f64 * sum).sqrt()),
    }
}

/// The training rows kept as k-NN donors, with the column means for receivers that have no
/// donor at a defined distance (as scikit-learn's `KNNImputer` does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct KnnDonors {
    k: usize,
    n_rows: usize,
    n_features: usize,
    values: Vec<f32>,
    observed: Vec<bool>,
    means: Vec<f32>,
}

impl KnnDonors {
    fn fit(train: &Dataset, k: usize) -> KnnDonors {
        KnnDonors {
            k,
            n_rows: train.n_rows(),
            n_features: train.n_features(),
            values: train.values.clone(),
            observed: train.observed.clone(),
            means: column_means(train).iter().map(|&m| m as f32).collect(),
        }
    }

    /// Fills each missing cell `(i, j)` of `ds` with the uniform average of column `j` over
    /// the `k` donors nearest to row `i` among the training rows that observe `j` and share an
    /// observed coordinate with row `i` (fewer if fewer qualify; ties go to the lower training
    /// row), or with the training mean of `j` if none qualifies.
    fn impute(&self, ds: &mut Dataset) {
        let d = self.n_features;
        let mut dist = vec![None; self.n_rows];
        let mut candidates: Vec<(f64, usize)> = Vec::with_capacity(self.n_rows);
        for i in 0..ds.n_rows() {
            let cells = i * d..(i + 1) * d;
            if ds.observed[cells.clone()].iter().all(|&o| o) {
                continue;
            }
            let (row, obs) = (&ds.values[cells.clone()], &ds.observed[cells.clone()]);
            for (r, dr) in dist.iter_mut().enumerate() {
                let donor = r * d..(r + 1) * d;
                *dr = nan_euclidean(row, obs, &self.values[donor.clone()], &self.observed[donor]);
            }
            for j in 0..d {
                if ds.observed[i * d + j] {
                    continue;
                }
                candidates.clear();
                for (r, dr) in dist.iter().enumerate() {
                    if let (true, Some(dist)) = (self.observed[r * d + j], *dr) {
                        candidates.push((dist, r));
                    }
                }
                ds.values[i * d + j] = self.average_nearest(&mut candidates, j);
                ds.observed[i * d + j] = true;
            }
        }
    }

    /// Average of column `j` over the (at most) `k` candidates `(distance, donor row)` nearest
    /// by distance then row index; the training mean of `j` when there are none.
    fn average_nearest(&self, candidates: &mut [(f64, usize)], j: usize) -> f32 {
        if candidates.is_empty() {
            return self.means[j];
        }
        let k = self.k.min(candidates.len());
        let order = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if k < candidates.len() {
            candidates.select_nth_unstable_by(k - 1, order);
        }
        let d = self.n_features;
        let sum: f64 = candidates[..k]
            .iter()
            .map(|&(_, r)| f64::from(self.values[r * d + j]))
            .sum();
        (sum / k as f64) as f32
    }
}

/// The iterative imputer: the training column means it starts from and every column
/// regression it fitted, in fitting order (round by round, columns ascending), so a new
/// dataset replays exactly the sequence the training data went through (as scikit-learn's
/// `imputation_sequence_`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct IterativeModel {
    n_features: usize,
    start: Vec<f64>,
    steps: Vec<ColumnModel>,
}

impl IterativeModel {
    /// Starts from mean imputation of `train`, then for each round and each column
    /// (ascending) fits a ridge regression of that column on all others over the rows
    /// observing it, and overwrites the column's missing cells by its predictions.
    ///
    /// Every column gets a model, also one complete in the training split
    /// (scikit-learn's default `skip_complete=False`): the missingness setup is fitted on the
    /// training split and drawn on every split, so any column can be missing at test time,
    /// and a column complete in training would otherwise fall back to its mean there. On the
    /// training split such a model changes nothing (the column has no missing cell), so the
    /// imputed training values are those of the missing-columns-only sequence.
    fn fit(train: &Dataset, params: &ImputerParams) -> IterativeModel {
        let d = train.n_features();
        let start = column_means(train);
        let mut x = start_values(train, &start);
        let mut steps = Vec::with_capacity(params.iterative_rounds * d);
        for _ in 0..params.iterative_rounds {
            for j in 0..d {
                let model = ColumnModel::fit(&x, &train.observed, d, j, params.ridge_lambda);
                model.predict_missing(&mut x, &train.observed, d);
                steps.push(model);
            }
        }
        IterativeModel {
            n_features: d,
            start,
            steps,
        }
    }

    /// Replays the fitted sequence on `ds`: training means first, then every step in order.
    fn impute(&self, ds: &mut Dataset) {
        let d = self.n_features;
        let mut x = start_values(ds, &self.start);
        for step in &self.steps {
            step.predict_missing(&mut x, &ds.observed, d);
        }
        for ((v, o), &xk) in ds.values.iter_mut().zip(ds.observed.iter_mut()).zip(&x) {
            if !*o {
                *v = xk as f32;
                *o = true;
            }
        }
    }
}

/// The values of `ds` in `f64`, with each missing cell set to its column's `start` value.
fn start_values(ds: &Dataset, start: &[f64]) -> Vec<f64> {
    let d = ds.n_features();
    let cells = ds.values.iter().zip(&ds.observed).enumerate();
    cells
        .map(|(k, (&v, &o))| if o { f64::from(v) } else { start[k % d] })
        .collect()
}

/// One ridge regression `x_j ≈ intercept + Σ_{l≠j} coef_l x_l`, the intercept unpenalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct ColumnModel {
    column: usize,
    intercept: f64,
    /// One coefficient per feature, `0` at `column`.
    coef: Vec<f64>,
}

impl ColumnModel {
    /// Fits column `j` of the row-major `x` (`d` columns) on the other columns over the rows
    /// where `observed` has `j`: centre predictors and target, solve
    /// `(XᵀX + λI) w = Xᵀy`, and set the intercept to `ȳ − x̄ᵀw`. A column with no observed
    /// row predicts 0 (its mean-imputation value).
    fn fit(x: &[f64], observed: &[bool], d: usize, j: usize, lambda: f64) -> ColumnModel {
        let rows: Vec<usize> = (0..observed.len() / d.max(1))
            .filter(|&i| observed[i * d + j])
            .collect();
        let mut model = ColumnModel {
            column: j,
            intercept: 0.0,
            coef: vec![0.0; d],
        };
        if rows.is_empty() {
            return model;
        }
        let mut mean = vec![0.0f64; d];
        for &i in &rows {
            for (m, &v) in mean.iter_mut().zip(&x[i * d..(i + 1) * d]) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= rows.len() as f64);
        let (gram, rhs) = centred_normal_equations(x, &rows, &mean, d, j, lambda);
        if let Some(coef) = solve_spd(&gram, &rhs) {
            model.coef = coef;
        }
        model.intercept = mean[j]
            - (0..d)
                .filter(|&l| l != j)
                .map(|l| model.coef[l] * mean[l])
                .sum::<f64>();
        model
    }

    /// Overwrites the cells of this model's column that `observed` marks missing with the
    /// prediction from the current values of the other columns.
    fn predict_missing(&self, x: &mut [f64], observed: &[bool], d: usize) {
        let j = self.column;
        for (row, obs) in x.chunks_exact_mut(d).zip(observed.chunks_exact(d)) {
            if obs[j] {
                continue;
            }
            let mut y = self.intercept;
            for l in (0..d).filter(|&l| l != j) {
                y += self.coef[l] * row[l];
            }
            row[j] = y;
        }
    }
}

/// The ridge normal equations `(CᵀC + λI, Cᵀc_j)` of column `j` on the others, where `C` holds
/// the given rows of `x` centred by `mean` with column `j` zeroed (so its coefficient solves
/// to 0 and the system stays `d × d`).
fn centred_normal_equations(
    x: &[f64],
    rows: &[usize],
    mean: &[f64],
    d: usize,
    j: usize,
    lambda: f64,
) -> (Vec<f64>, Vec<f64>) {
    let mut gram = vec![0.0f64; d * d];
    let mut rhs = vec![0.0f64; d];
    let mut c = vec![0.0f64; d];
    for &i in rows {
        let row = &x[i * d..(i + 1) * d];
        for l in 0..d {
            c[l] = if l == j { 0.0 } else { row[l] - mean[l] };
        }
        let y = row[j] - mean[j];
        for l in 0..d {
            rhs[l] += c[l] * y;
            for m in l..d {
                gram[l * d + m] += c[l] * c[m];
            }
        }
    }
    for l in 0..d {
        gram[l * d + l] += lambda;
        for m in 0..l {
            gram[l * d + m] = gram[m * d + l];
        }
    }
    (gram, rhs)
}

/// Solves `a z = b` for a symmetric positive-definite row-major `a` (`n × n`, `n = b.len()`)
/// by Cholesky factorisation `a = L Lᵀ` and two triangular solves; `None` if a pivot is not
/// positive (the matrix is not positive definite in working precision).
fn solve_spd(a: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![0.0f64; n * n];
    for i in 0..n {
        for k in 0..=i {
            let dot: f64 = (0..k).map(|m| l[i * n + m] * l[k * n + m]).sum();
            let s = a[i * n + k] - dot;
            if i == k {
                if s.is_nan() || s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + k] = s / l[k * n + k];
            }
        }
    }
    let mut z = b.to_vec();
    for i in 0..n {
        let dot: f64 = (0..i).map(|m| l[i * n + m] * z[m]).sum();
        z[i] = (z[i] - dot) / l[i * n + i];
    }
    for i in (0..n).rev() {
        let dot: f64 = (i + 1..n).map(|m| l[m * n + i] * z[m]).sum();
        z[i] = (z[i] - dot) / l[i * n + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    // explicit, so it wins over proptest's `Strategy` trait from the prelude glob
    use super::Strategy;
    use proptest::prelude::*;

    /// A dataset from rows where `NaN` marks a missing cell; features named `a`, `b`, `c`, ...
    fn table(rows: &[&[f32]]) -> Dataset {
        let d = rows[0].len();
        let names = (0..d)
            .map(|j| ((b'a' + j as u8) as char).to_string())
            .collect();
        let cells = rows.iter().flat_map(|r| r.iter().copied());
        let observed: Vec<bool> = cells.clone().map(|v| !v.is_nan()).collect();
        let values = cells.map(|v| if v.is_nan() { 0.0 } else { v }).collect();
        let labels = vec![0; rows.len()];
        Dataset::numeric("t", names, vec!["x".into()], values, observed, labels)
    }

    const NAN: f32 = f32::NAN;

    /// 4 rows x 3 features, 3 missing cells: (0, c), (2, a), (2, c); column b is complete.
    fn four_by_three() -> Dataset {
        table(&[
            &[1.0, 2.0, NAN],
            &[3.0, 4.0, 6.0],
            &[NAN, 6.0, NAN],
            &[8.0, 8.0, 12.0],
        ])
    }

    fn imp(s: &str) -> Imputation {
        s.parse().expect("valid imputation in test")
    }

    fn fit(s: &str, train: &Dataset) -> Imputer {
        Imputer::fit(&imp(s), train, &ImputerParams::default())
    }

    fn fit_knn(k: usize, train: &Dataset) -> Imputer {
        let params = ImputerParams {
            knn_k: k,
            ..ImputerParams::default()
        };
        Imputer::fit(&imp("knn"), train, &params)
    }

    /// The cells (row, column) of `ds`, asserting the whole table is observed and valid.
    fn complete(ds: &Dataset) -> Vec<f32> {
        assert!(ds.observed.iter().all(|&o| o), "{:?}", ds.observed);
        ds.validate().expect("imputed dataset is valid");
        ds.values.clone()
    }

    #[test]
    fn zero_fills_zero_and_marks_observed() {
        let ds = four_by_three();
        for s in ["zero", "none"] {
            let out = fit(s, &ds).transform(&ds);
            let expected = [1.0, 2.0, 0.0, 3.0, 4.0, 6.0, 0.0, 6.0, 0.0, 8.0, 8.0, 12.0];
            assert_eq!(complete(&out), expected);
            assert_eq!(out.feature_names, ds.feature_names);
        }
    }

    #[test]
    fn mean_uses_observed_values_only() {
        let ds = four_by_three();
        let out = fit("mean", &ds).transform(&ds);
        // a: (1 + 3 + 8) / 3 = 4; c: (6 + 12) / 2 = 9
        let expected = [1.0, 2.0, 9.0, 3.0, 4.0, 6.0, 4.0, 6.0, 9.0, 8.0, 8.0, 12.0];
        assert_eq!(complete(&out), expected);
    }

    #[test]
    fn median_odd_and_even_counts() {
        let ds = four_by_three();
        let out = fit("median", &ds).transform(&ds);
        // a: median of 1, 3, 8 is 3 (the mean would be 4); c: (6 + 12) / 2 = 9
        let expected = [1.0, 2.0, 9.0, 3.0, 4.0, 6.0, 3.0, 6.0, 9.0, 8.0, 8.0, 12.0];
        assert_eq!(complete(&out), expected);

        // even count: observed 10, 1, 4, 2 sorted 1, 2, 4, 10 -> (2 + 4) / 2 = 3 (mean 4.25)
        let ds = table(&[&[10.0], &[1.0], &[NAN], &[4.0], &[2.0]]);
        let out = fit("median", &ds).transform(&ds);
        assert_eq!(complete(&out), [10.0, 1.0, 3.0, 4.0, 2.0]);
    }

    #[test]
    fn column_without_observed_values_fills_zero() {
        let ds = table(&[&[1.0, NAN], &[3.0, NAN]]);
        for s in ["mean", "median", "knn", "iterative"] {
            let out = fit(s, &ds).transform(&ds);
            assert_eq!(complete(&out), [1.0, 0.0, 3.0, 0.0], "{s}");
        }
    }

    #[test]
    fn nan_euclidean_matches_scikit_learn_example() {
        // scikit-learn's docstring: nan_euclidean_distances([[0, 1], [1, nan]]) has
        // off-diagonal sqrt(2 / 1 * 1^2) = 1.41421356
        let dist = nan_euclidean(&[0.0, 1.0], &[true, true], &[1.0, 0.0], &[true, false]);
        assert!((dist.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        let none = nan_euclidean(&[0.0, 1.0], &[true, false], &[0.0, 1.0], &[false, true]);
        assert_eq!(none, None);
    }

    #[test]
    fn knn_k1_and_k2_by_hand() {
        // Row 0 (1, 2, _) receives c from donors 1 and 3, sharing a and b (weight 3/2):
        //   row 1: 3/2 * ((1-3)^2 + (2-4)^2) = 12, row 3: 3/2 * (49 + 36) = 127.5.
        // Row 2 (_, 6, _) shares only b with every donor (weight 3/1):
        //   row 0: 3 * 16 = 48, row 1: 3 * 4 = 12, row 3: 3 * 4 = 12 (tie: row 1 first).
        let ds = four_by_three();
        let out = fit_knn(1, &ds).transform(&ds);
        let expected = [1.0, 2.0, 6.0, 3.0, 4.0, 6.0, 3.0, 6.0, 6.0, 8.0, 8.0, 12.0];
        assert_eq!(complete(&out), expected);

        let out = fit_knn(2, &ds).transform(&ds);
        // row 0, c: (6 + 12) / 2; row 2, a: rows 1, 3 -> (3 + 8) / 2; c: (6 + 12) / 2
        let expected = [1.0, 2.0, 9.0, 3.0, 4.0, 6.0, 5.5, 6.0, 9.0, 8.0, 8.0, 12.0];
        assert_eq!(complete(&out), expected);

        // k above the number of donors averages all of them: a over rows 0, 1, 3 = 4
        let out = fit_knn(5, &ds).transform(&ds);
        assert_eq!(out.values[6], 4.0);
    }

    #[test]
    fn knn_distance_weight_changes_the_nearest_donor() {
        // Receiver row 2 (0, 0, _). Donor 0 shares only a: 3/1 * 2^2 = 12; donor 1 shares a
        // and b: 3/2 * (1.5^2 + 1.5^2) = 6.75. Unweighted sums (4 vs 4.5) would pick donor 0.
        let ds = table(&[&[2.0, NAN, 100.0], &[1.5, 1.5, 200.0], &[0.0, 0.0, NAN]]);
        let out = fit_knn(1, &ds).transform(&ds);
        assert_eq!(out.values[8], 200.0);
    }

    #[test]
    fn knn_without_defined_distance_uses_training_mean() {
        // Row 2 observes only b, which no donor of a observes, and vice versa.
        let ds = table(&[&[1.0, NAN], &[2.0, NAN], &[NAN, 5.0]]);
        let out = fit_knn(1, &ds).transform(&ds);
        assert_eq!(complete(&out), [1.0, 5.0, 2.0, 5.0, 1.5, 5.0]);
    }

    #[test]
    fn solve_spd_known_system() {
        // b = A z for a known z; the second matrix has eigenvalues 3 and -1.
        let a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let z_true = [1.0, 2.0, -1.0];
        let b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|k| a[i * 3 + k] * z_true[k]).sum())
            .collect();
        let z = solve_spd(&a, &b).expect("positive definite");
        for (zi, ti) in z.iter().zip(z_true) {
            assert!((zi - ti).abs() < 1e-12, "{z:?}");
        }
        assert_eq!(solve_spd(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]), None);
    }

    /// Column c is exactly 2a + 1; b is unrelated.
    fn linear() -> Dataset {
        let a = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        let b = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0];
        let rows: Vec<[f32; 3]> = (0..a.len())
            .map(|i| [a[i], b[i], 2.0 * a[i] + 1.0])
            .collect();
        let mut ds = table(&rows.iter().map(|r| &r[..]).collect::<Vec<_>>());
        for (i, j) in [(2, 2), (6, 2), (4, 0)] {
            ds.values[i * 3 + j] = 0.0;
            ds.observed[i * 3 + j] = false;
        }
        ds
    }

    #[test]
    fn iterative_recovers_an_exact_linear_relation() {
        let train = linear();
        let imputer = fit("iterative", &train);
        let out = imputer.transform(&train);
        complete(&out);
        for (i, j, exact) in [(2, 2, 5.0), (6, 2, 13.0), (4, 0, 4.0)] {
            let got = out.values[i * 3 + j];
            assert!(
                (got - exact).abs() < 1e-3,
                "cell ({i}, {j}): {got} vs {exact}"
            );
        }
        // A test set replays the training models: a = 10 gives c = 21, c = 7 gives a = 3.
        let test = table(&[&[10.0, 4.0, NAN], &[NAN, 2.0, 7.0]]);
        let out = imputer.transform(&test);
        assert!((out.values[2] - 21.0).abs() < 1e-3, "{:?}", out.values);
        assert!((out.values[3] - 3.0).abs() < 1e-3, "{:?}", out.values);
    }

    #[test]
    fn iterative_models_columns_complete_in_training() {
        // c = 2a + 1 is complete in training (only a and b lose cells); at test time c is
        // missing and must come from its regression on a, not from its training mean (9.5).
        let mut train = linear();
        for (i, j) in [(2, 2), (6, 2)] {
            train.values[i * 3 + j] = 2.0 * train.values[i * 3] + 1.0;
            train.observed[i * 3 + j] = true;
        }
        train.observed[3 * 3 + 1] = false;
        train.values[3 * 3 + 1] = 0.0;
        let imputer = fit("iterative", &train);
        let test = table(&[&[10.0, 4.0, NAN], &[0.0, NAN, NAN]]);
        let out = imputer.transform(&test);
        assert!((out.values[2] - 21.0).abs() < 1e-3, "{:?}", out.values);
        assert!((out.values[5] - 1.0).abs() < 1e-2, "{:?}", out.values);
        // The training split imputes as with models for its incomplete columns only: the
        // models of complete columns change none of its cells.
        let Model::Iterative(model) = &imputer.model else {
            panic!("not an iterative model")
        };
        assert_eq!(
            model.steps.len(),
            ImputerParams::default().iterative_rounds * 3
        );
        let incomplete_only = IterativeModel {
            steps: model
                .steps
                .iter()
                .filter(|m| has_missing(&train, m.column))
                .cloned()
                .collect(),
            ..model.clone()
        };
        let mut replayed = train.clone();
        incomplete_only.impute(&mut replayed);
        assert_eq!(replayed, imputer.transform(&train));
    }

    #[test]
    fn iterative_with_zero_rounds_is_mean_imputation() {
        let ds = four_by_three();
        let params = ImputerParams {
            iterative_rounds: 0,
            ..ImputerParams::default()
        };
        let out = Imputer::fit(&imp("iterative"), &ds, &params).transform(&ds);
        assert_eq!(out, fit("mean", &ds).transform(&ds));
    }

    #[test]
    fn indicator_columns_only_for_features_missing_in_training() {
        let ds = four_by_three();
        let imputer = fit("mean+indicator", &ds);
        assert_eq!(imputer.indicator_columns(), &[0, 2]);
        let out = imputer.transform(&ds);
        assert_eq!(out.feature_names, ["a", "b", "c", "a_missing", "c_missing"]);
        assert_eq!(out.categories, vec![Vec::<String>::new(); 5]);
        #[rustfmt::skip]
        let expected = [
            1.0, 2.0, 9.0, 0.0, 1.0,
            3.0, 4.0, 6.0, 0.0, 0.0,
            4.0, 6.0, 9.0, 1.0, 1.0,
            8.0, 8.0, 12.0, 0.0, 0.0,
        ];
        assert_eq!(complete(&out), expected);
    }

    #[test]
    fn absent_leaves_the_mask() {
        let ds = four_by_three();
        let out = fit("absent", &ds).transform(&ds);
        assert_eq!(out, ds);

        let out = fit("absent+indicator", &ds).transform(&ds);
        out.validate().expect("valid");
        assert_eq!(out.n_features(), 5);
        for i in 0..ds.n_rows() {
            assert_eq!(&out.row(i)[..3], ds.row(i));
            assert_eq!(&out.observed_row(i)[..3], ds.observed_row(i));
            assert_eq!(&out.observed_row(i)[3..], &[true, true]);
        }
        assert_eq!(out.values[13..15], [1.0, 1.0]);
    }

    #[test]
    fn transform_uses_training_statistics_only() {
        let train = four_by_three();
        // test column a has observed mean 100, b is missing although complete in training
        let test = table(&[&[NAN, NAN, 1.0], &[100.0, 0.0, NAN]]);

        let out = fit("mean+indicator", &train).transform(&test);
        // a, c: training means 4 and 9; b: training mean (2 + 4 + 6 + 8) / 4 = 5, no indicator
        assert_eq!(out.feature_names, ["a", "b", "c", "a_missing", "c_missing"]);
        assert_eq!(
            complete(&out),
            [4.0, 5.0, 1.0, 1.0, 0.0, 100.0, 0.0, 9.0, 0.0, 1.0]
        );

        let out = fit("median", &train).transform(&test);
        assert_eq!(complete(&out), [3.0, 5.0, 1.0, 100.0, 0.0, 9.0]);

        // k-NN donors are training rows: for test row 1 (100, 0, _) the donors of c are train
        // rows 1 at 3/2 * (97^2 + 4^2) = 14137.5 and 3 at 3/2 * (92^2 + 8^2) = 12792: row 3.
        let out = fit_knn(1, &train).transform(&test);
        assert_eq!(out.values[5], 12.0);
    }

    #[test]
    fn knn_and_iterative_leave_complete_datasets_unchanged() {
        let ds = table(&[&[1.0, 2.0], &[3.0, 5.0], &[4.0, 4.0]]);
        for s in ["zero", "mean", "median", "knn", "iterative", "absent"] {
            assert_eq!(fit(s, &ds).transform(&ds), ds, "{s}");
        }
    }

    #[test]
    fn parse_and_print_every_name() {
        let names = [
            "none",
            "zero",
            "mean",
            "median",
            "knn",
            "iterative",
            "absent",
        ];
        for (name, strategy) in names.iter().zip(Strategy::ALL) {
            for indicator in [false, true] {
                let s = if indicator {
                    format!("{name}+indicator")
                } else {
                    name.to_string()
                };
                let parsed = imp(&s);
                assert_eq!(
                    parsed,
                    Imputation {
                        strategy,
                        indicator
                    }
                );
                assert_eq!(parsed.to_string(), s);
                assert_eq!(parsed.feeds_absent(), strategy == Strategy::Absent);
                let json = serde_json::to_string(&parsed).expect("serialise");
                assert_eq!(json, format!("\"{s}\""));
                let back: Imputation = serde_json::from_str(&json).expect("deserialise");
                assert_eq!(back, parsed);
            }
        }
    }

    #[test]
    fn parse_errors_list_the_valid_names() {
        for bad in [
            "",
            "Mean",
            "mice",
            "mean+",
            "+indicator",
            "mean+indicator+indicator",
        ] {
            let err = bad.parse::<Imputation>().unwrap_err();
            assert_eq!(err, ImputationError::Unknown { given: bad.into() });
            let msg = err.to_string();
            assert!(msg.contains(&format!("'{bad}'")), "{msg}");
            assert!(
                msg.contains("none, zero, mean, median, knn, iterative, absent"),
                "{msg}"
            );
            assert!(msg.contains("+indicator"), "{msg}");
        }
        let err = serde_json::from_str::<Imputation>("\"bogus\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown imputation 'bogus'"),
            "{err}"
        );
    }

    #[test]
    fn params_validate_names_the_field() {
        assert_eq!(ImputerParams::default().validate(), Ok(()));
        let zero_k = ImputerParams {
            knn_k: 0,
            ..ImputerParams::default()
        };
        assert!(zero_k.validate().unwrap_err().to_string().contains("knn_k"));
        let bad_lambda = ImputerParams {
            ridge_lambda: 0.0,
            ..ImputerParams::default()
        };
        assert!(bad_lambda
            .validate()
            .unwrap_err()
            .to_string()
            .contains("ridge_lambda"));
    }

    proptest! {
        /// Every strategy keeps observed cells, leaves a valid dataset, and (except absent)
        /// observes every cell; indicators mark exactly the missing cells.
        #[test]
        fn transform_keeps_observed_cells(
            cells in proptest::collection::vec(proptest::option::weighted(0.6, -50i32..50), 4..40),
            d in 1usize..4,
            k in 1usize..4,
        ) {
            let n = cells.len() / d;
            let rows: Vec<Vec<f32>> = (0..n)
                .map(|i| cells[i * d..(i + 1) * d].iter().map(|c| c.map_or(NAN, |v| v as f32)).collect())
                .collect();
            let ds = table(&rows.iter().map(|r| &r[..]).collect::<Vec<_>>());
            let params = ImputerParams { knn_k: k, ..ImputerParams::default() };
            for strategy in Strategy::ALL {
                let imputer = Imputer::fit(&Imputation { strategy, indicator: true }, &ds, &params);
                let out = imputer.transform(&ds);
                prop_assert!(out.validate().is_ok());
                let m = imputer.indicator_columns().len();
                prop_assert_eq!(out.n_features(), d + m);
                for i in 0..n {
                    let (row, obs) = (out.row(i), out.observed_row(i));
                    for j in 0..d {
                        if ds.observed[i * d + j] {
                            prop_assert_eq!(row[j], ds.values[i * d + j]);
                        }
                        prop_assert_eq!(obs[j], ds.observed[i * d + j] || strategy != Strategy::Absent);
                    }
                    for (t, &j) in imputer.indicator_columns().iter().enumerate() {
                        let missing = !ds.observed[i * d + j];
                        prop_assert_eq!(row[d + t], if missing { 1.0 } else { 0.0 });
                    }
                }
            }
        }
    }
}
