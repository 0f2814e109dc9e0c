//! The data pipeline of a run, before any model: the seed's split, the missingness setup
//! drawn once and applied to every split, and the [`Preprocessing`] fitted on the training
//! split (one-hot encoding, scaling, imputation) and applied unchanged to the others. The
//! runner's plain runs, the studies' protocols and the estimator crate all prepare data here,
//! so a change to the pipeline reaches every one of them.

use crate::config::ExperimentConfig;
use crate::grid::RunSpec;
use anyhow::{Context, Result};
use data::encoding::OneHotEncoder;
use data::imputation::{Imputation, Imputer, ImputerParams, Strategy};
use data::missingness::{self, AmputationParams, Cells, Mechanism, MissingnessSetup};
use data::{stratified_split, Dataset, Scaler, ScalingKind};
use models::rngs::stream;
use serde::{Deserialize, Serialize};

/// Train and test sets of one run, ready for the model.
#[derive(Debug, Clone)]
pub struct PreparedData {
    /// Training examples.
    pub train: Dataset,
    /// Test examples.
    pub test: Dataset,
    /// Validation examples carved from the training split, when `data.validation_fraction > 0`.
    pub validation: Option<Dataset>,
    /// Fraction of the original feature cells missing (real and simulated) in all splits.
    pub missing_rate_realized: f64,
    /// The same in the training split alone.
    pub missing_rate_realized_train: f64,
    /// The same in the test split alone.
    pub missing_rate_realized_test: f64,
    /// With `missing.columns`: the fraction of the named columns' cells missing in all splits.
    pub missing_rate_in_columns: Option<f64>,
    /// Fraction of the training rows in which each model input was missing (one per
    /// feature of `train`, after encoding; 0 for missing-indicator features).
    pub feature_missing: Vec<f64>,
    /// Feature values missing in each test row (real and simulated, before encoding).
    pub test_missing: Vec<usize>,
}

/// The data pipeline of a run, in the order that keeps every statistic on the training split:
/// stratified split (seed stream `split`), amputation of raw values (stream `missingness`),
/// one-hot encoding with the training levels, scaling fitted on observed training values,
/// imputation fitted on the training split (`absent` keeps the mask for the sparse-input layer).
pub fn prepare(full: &Dataset, cfg: &ExperimentConfig, spec: &RunSpec) -> Result<PreparedData> {
    let split_seed = cfg.data.split_seed.unwrap_or(spec.seed);
    let split = stratified_split(
        &full.labels,
        full.n_classes(),
        cfg.data.test_fraction,
        &mut stream(split_seed, "split"),
    )?;
    let mut train = full.subset(&split.train);
    let mut test = full.subset(&split.test);
    let mut validation = None;
    if cfg.data.validation_fraction > 0.0 {
        let inner = stratified_split(
            &train.labels,
            train.n_classes(),
            cfg.data.validation_fraction,
            &mut stream(split_seed, "validation-split"),
        )?;
        validation = Some(train.subset(&inner.test));
        train = train.subset(&inner.train);
    }
    // One mechanism per run: its setup is drawn once and calibrated on the training split
    // (even when only the test split loses values), then every split draws its cells from it.
    let mut rng = stream(spec.seed, "missingness");
    let columns = named_columns(full, cfg)?;
    let params = AmputationParams {
        columns: columns.clone(),
        ..cfg.missing.params.clone()
    };
    let setup = MissingnessSetup::fit(
        Cells::of(&train),
        spec.missing_mechanism,
        spec.missing_rate,
        &params,
        &mut rng,
    )
    .with_context(|| format!("grid.missing_rate {}", spec.missing_rate))?;
    let mut parts = vec![
        (&mut train, cfg.missing.train),
        (&mut test, cfg.missing.test),
    ];
    if let Some(v) = validation.as_mut() {
        // The validation split is held out like the test split.
        parts.push((v, cfg.missing.test));
    }
    for (part, apply_here) in parts {
        if apply_here && spec.missing_mechanism != Mechanism::None {
            let a = setup
                .draw(Cells::of(part), &mut rng)
                .with_context(|| format!("grid.missing_rate {}", spec.missing_rate))?;
            missingness::apply(part, &a);
        }
    }
    let (mut missing, mut rows) = (0.0, 0.0);
    for part in [Some(&train), Some(&test), validation.as_ref()]
        .into_iter()
        .flatten()
    {
        missing += part.missing_fraction() * part.n_rows() as f64;
        rows += part.n_rows() as f64;
    }
    let missing_rate_realized = missing / rows.max(1.0);
    let missing_rate_in_columns = columns.map(|c| {
        let parts = [Some(&train), Some(&test), validation.as_ref()];
        let (mut missing, mut cells) = (0usize, 0usize);
        for part in parts.into_iter().flatten() {
            let d = part.n_features();
            for row in part.observed.chunks(d.max(1)) {
                missing += c.iter().filter(|&&j| !row[j]).count();
            }
            cells += part.n_rows() * c.len();
        }
        missing as f64 / cells.max(1) as f64
    });
    let (missing_rate_realized_train, missing_rate_realized_test) =
        (train.missing_fraction(), test.missing_fraction());
    let test_missing: Vec<usize> = test
        .observed
        .chunks(test.n_features().max(1))
        .map(|row| row.iter().filter(|o| !**o).count())
        .collect();
    if spec.imputation.strategy == Strategy::None && missing_rate_realized > 0.0 {
        anyhow::bail!(
            "grid.imputation: the data has missing values ({:.1}% of cells) but imputation is \
             `none`; choose one of zero, mean, median, knn, iterative, absent (+indicator)",
            100.0 * missing_rate_realized
        );
    }
    let (preprocessing, train, feature_missing) =
        Preprocessing::fit(&train, cfg.data.scaling, &spec.imputation);
    let test = preprocessing.transform(&test);
    let validation = validation.map(|v| preprocessing.transform(&v));
    Ok(PreparedData {
        train,
        test,
        validation,
        missing_rate_realized,
        missing_rate_realized_train,
        missing_rate_realized_test,
        missing_rate_in_columns,
        feature_missing,
        test_missing,
    })
}

/// The column indices of `missing.columns` in `full`, sorted; `None` when every column may
/// lose values.
pub fn named_columns(full: &Dataset, cfg: &ExperimentConfig) -> Result<Option<Vec<usize>>> {
    let Some(names) = &cfg.missing.columns else {
        return Ok(None);
    };
    let mut columns = feature_indices("missing.columns", names, full)?;
    columns.sort_unstable();
    Ok(Some(columns))
}

/// Refuses `tracking.relevant_features` naming a feature the data does not have.
pub fn check_relevant_features(full: &Dataset, cfg: &ExperimentConfig) -> Result<()> {
    let names = cfg
        .tracking
        .relevant_features
        .as_deref()
        .unwrap_or_default();
    feature_indices("tracking.relevant_features", names, full).map(drop)
}

/// The column of each of `names` in `full`; an error naming the config `field` for a name
/// that is not a feature of `full`.
fn feature_indices(field: &str, names: &[String], full: &Dataset) -> Result<Vec<usize>> {
    let d = full.n_features();
    names
        .iter()
        .map(|name| {
            full.feature_names
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{field}: the data has no feature `{name}` (its {d} features: {}{})",
                        full.feature_names[..d.min(5)].join(", "),
                        if d > 5 { ", ..." } else { "" }
                    )
                })
        })
        .collect()
}

/// The preprocessing a run fits on its training split and applies unchanged to every split:
/// one-hot encoding with the training levels, scaling fitted on the observed training values,
/// then the imputer (`absent` keeps the mask for the sparse-input layer). [`prepare`] and the
/// estimator crate share it, so arrays handed to the estimator go through exactly the steps a
/// config's data goes through.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Preprocessing {
    encoder: OneHotEncoder,
    scaler: Scaler,
    imputer: Imputer,
}

impl Preprocessing {
    /// Fits every step on `train`. Returns the fitted steps, `train` transformed, and per
    /// model input the fraction of training rows in which it was missing (0 for
    /// missing-indicator inputs).
    pub fn fit(
        train: &Dataset,
        scaling: ScalingKind,
        imputation: &Imputation,
    ) -> (Preprocessing, Dataset, Vec<f64>) {
        let encoder = OneHotEncoder::fit(train);
        let mut encoded = if encoder.is_identity() {
            train.clone()
        } else {
            encoder.transform(train)
        };
        let scaler = Scaler::fit(scaling, &encoded);
        scaler.transform(&mut encoded);
        let (rows, d) = (encoded.n_rows(), encoded.n_features());
        let mut feature_missing: Vec<f64> = (0..d)
            .map(|j| {
                let missing = (0..rows).filter(|&i| !encoded.observed[i * d + j]).count();
                missing as f64 / rows.max(1) as f64
            })
            .collect();
        let imputer = Imputer::fit(imputation, &encoded, &ImputerParams::default());
        let train = imputer.transform(&encoded);
        feature_missing.resize(train.n_features(), 0.0);
        let fitted = Preprocessing {
            encoder,
            scaler,
            imputer,
        };
        (fitted, train, feature_missing)
    }

    /// `data` (with the training data's raw columns) transformed by the fitted steps.
    pub fn transform(&self, data: &Dataset) -> Dataset {
        let mut encoded = if self.encoder.is_identity() {
            data.clone()
        } else {
            self.encoder.transform(data)
        };
        self.scaler.transform(&mut encoded);
        self.imputer.transform(&encoded)
    }

    /// Whether missing inputs are fed to the model as absent (the mask kept) rather than
    /// filled.
    pub fn feeds_absent(&self) -> bool {
        self.imputer.imputation().feeds_absent()
    }
}
