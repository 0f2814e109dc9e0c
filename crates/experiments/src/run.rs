//! Executing one run: prepare the seed's split of the data, build the model the method asks
//! for, train it, and turn the outcome into result rows.

use crate::config::ExperimentConfig;
use crate::grid::RunSpec;
use crate::registry::{self, MethodKind};
use crate::results::{EpochRow, RunRow};
use anyhow::{Context, Result};
use data::{stratified_split, Dataset, Scaler};
use models::dense::LayerParams;
use models::rngs::stream;
use models::train::TrainObserver;
use models::{
    Classifier, DenseMlp, EpochRecord, Examples, RunRngs, SgdParams, SparseInit, SparseMlp,
    SparseNetwork, TrainOptions,
};
use sparse_core::init::{erdos_renyi_density, layer_densities};

/// Train and test sets of one seed, scaled with statistics of the training set.
#[derive(Debug, Clone)]
pub struct PreparedData {
    /// Training examples.
    pub train: Dataset,
    /// Test examples.
    pub test: Dataset,
}

/// Splits `full` with the seed's `split` stream and scales both parts on the training part.
pub fn prepare(full: &Dataset, cfg: &ExperimentConfig, seed: u64) -> Result<PreparedData> {
    let split = stratified_split(
        &full.labels,
        full.n_classes(),
        cfg.data.test_fraction,
        &mut stream(seed, "split"),
    )?;
    let mut train = full.subset(&split.train);
    let mut test = full.subset(&split.test);
    let scaler = Scaler::fit(cfg.data.scaling, &train);
    scaler.transform(&mut train);
    scaler.transform(&mut test);
    Ok(PreparedData { train, test })
}

/// Layer widths of the config's MLP, checked against `data`: the input width must equal the
/// feature count and the output width the class count.
pub fn layer_sizes(cfg: &ExperimentConfig, data: &Dataset) -> Result<Vec<usize>> {
    let sizes = cfg.model.layers.clone();
    let (first, last) = (sizes[0], *sizes.last().expect("validated non-empty"));
    if first != data.n_features() {
        anyhow::bail!(
            "model.layers: input width {first} does not match the {} features of dataset `{}`",
            data.n_features(),
            data.name
        );
    }
    if last != data.n_classes() {
        anyhow::bail!(
            "model.layers: output width {last} does not match the {} classes of dataset `{}`",
            data.n_classes(),
            data.name
        );
    }
    Ok(sizes)
}

/// The sparse initialisation of a run: per-layer densities from its sparsity or epsilon.
fn sparse_init(cfg: &ExperimentConfig, spec: &RunSpec, sizes: &[usize]) -> Result<SparseInit> {
    let n = sizes.len() - 1;
    let shapes: Vec<(usize, usize)> = sizes.windows(2).map(|w| (w[0], w[1])).collect();
    let sparse: Vec<bool> = (0..n)
        .map(|l| l + 1 < n || cfg.model.sparse_output)
        .collect();
    let densities = match spec.epsilon {
        Some(eps) => (0..n)
            .map(|l| {
                if sparse[l] {
                    erdos_renyi_density(eps, shapes[l].0, shapes[l].1)
                } else {
                    1.0
                }
            })
            .collect(),
        None => layer_densities(&shapes, &sparse, spec.sparsity, cfg.model.distribution)?,
    };
    Ok(SparseInit {
        densities,
        dynamic: sparse,
        init: cfg.model.init,
        fan: cfg.model.fan,
    })
}

/// A model for `spec`, initialised from the seed's `topology-init` and `weight-init` streams:
/// for one seed, static sparse and every DST method start from the same topology and weights,
/// and the dense model from the same weight scheme.
pub fn build_model(
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    sizes: &[usize],
) -> Result<Box<dyn Classifier>> {
    let sgd = SgdParams {
        learning_rate: cfg.training.learning_rate,
        momentum: cfg.training.momentum,
        weight_decay: cfg.training.weight_decay,
    };
    let kind = registry::build(&spec.method, &cfg.methods)?;
    let init = match &kind {
        MethodKind::Dense => SparseInit {
            densities: vec![1.0; sizes.len() - 1],
            dynamic: vec![false; sizes.len() - 1],
            init: cfg.model.init,
            fan: cfg.model.fan,
        },
        MethodKind::Sparse(_) => sparse_init(cfg, spec, sizes)?,
    };
    let mlp = SparseMlp::new(
        sizes,
        &init,
        cfg.model.dropout,
        sgd,
        &mut stream(spec.seed, "topology-init"),
        &mut stream(spec.seed, "weight-init"),
    )?;
    Ok(match kind {
        MethodKind::Dense => {
            let params: Vec<LayerParams> = mlp
                .layers()
                .iter()
                .map(|l| LayerParams {
                    n_in: l.n_in(),
                    n_out: l.n_out(),
                    weights: l.weights.to_dense(),
                    bias: l.bias.clone(),
                })
                .collect();
            Box::new(DenseMlp::from_params(&params, cfg.model.dropout, sgd))
        }
        MethodKind::Sparse(method) => Box::new(SparseNetwork { mlp, method }),
    })
}

/// Everything a finished run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Its `runs.csv` row.
    pub row: RunRow,
    /// Its `epochs.csv` rows.
    pub epochs: Vec<EpochRow>,
}

/// Forwards epoch records to a callback (the progress display).
struct EpochCallback<'a>(&'a mut dyn FnMut(&EpochRecord));
impl TrainObserver for EpochCallback<'_> {
    fn on_epoch(&mut self, record: &EpochRecord) {
        (self.0)(record)
    }
}

/// Runs `spec` to the end on `full`.
pub fn execute(
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    full: &Dataset,
    commit: &str,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<RunResult> {
    let prepared = prepare(full, cfg, spec.seed)
        .with_context(|| format!("preparing data for run {}", spec.run_id))?;
    let sizes = layer_sizes(cfg, &prepared.train)?;
    let mut model = build_model(cfg, spec, &sizes)
        .with_context(|| format!("building the model of run {}", spec.run_id))?;
    let densities = model.layer_densities();
    let (tr, te) = (&prepared.train, &prepared.test);
    let train_set = Examples {
        x: &tr.values,
        observed: None,
        labels: &tr.labels,
        n_features: tr.n_features(),
    };
    let test_set = Examples {
        x: &te.values,
        observed: None,
        labels: &te.labels,
        n_features: te.n_features(),
    };
    let opts = TrainOptions {
        epochs: cfg.training.epochs,
        batch_size: cfg.training.batch_size,
    };
    let outcome = models::train(
        model.as_mut(),
        &train_set,
        &tr.row_ids,
        &test_set,
        opts,
        &mut RunRngs::from_seed(spec.seed),
        &mut EpochCallback(on_epoch),
    );
    let last = outcome.epochs.last().expect("at least one epoch");
    let shapes: Vec<usize> = sizes.windows(2).map(|w| w[0] * w[1]).collect();
    let params_dense: usize = shapes.iter().sum();
    // Realised sparsity of the layers that were made sparse.
    let sparsity = if spec.method == "dense" {
        0.0
    } else {
        let (mut zeros, mut size) = (0.0, 0.0);
        for (l, &d) in densities.iter().enumerate() {
            if l + 2 < sizes.len() || cfg.model.sparse_output {
                zeros += (1.0 - d) * shapes[l] as f64;
                size += shapes[l] as f64;
            }
        }
        match spec.epsilon {
            Some(_) => zeros / size.max(1.0),
            None => spec.sparsity,
        }
    };
    let row = RunRow {
        experiment: cfg.name.clone(),
        dataset: full.name.clone(),
        method: spec.method.clone(),
        sparsity,
        epsilon: spec.epsilon,
        nnz: last.nnz,
        params_dense,
        missing_mechanism: spec.missing_mechanism.clone(),
        missing_rate: spec.missing_rate,
        missing_rate_realized: (tr.missing_fraction() * tr.n_rows() as f64
            + te.missing_fraction() * te.n_rows() as f64)
            / (tr.n_rows() + te.n_rows()) as f64,
        imputation: spec.imputation.clone(),
        seed: spec.seed,
        epochs: outcome.epochs.len(),
        test_accuracy: last.test_accuracy,
        test_loss: last.test_loss,
        train_loss: last.train_loss,
        train_accuracy: last.train_accuracy,
        train_seconds: outcome.train_seconds,
        train_flops: outcome.train_flops,
        layer_density: densities
            .iter()
            .map(|d| format!("{d:.4}"))
            .collect::<Vec<_>>()
            .join(";"),
        run_id: spec.run_id.clone(),
        commit: commit.to_string(),
    };
    let epochs = outcome
        .epochs
        .iter()
        .map(|e| EpochRow {
            run_id: spec.run_id.clone(),
            method: spec.method.clone(),
            sparsity,
            seed: spec.seed,
            epoch: e.epoch,
            train_loss: e.train_loss,
            train_accuracy: e.train_accuracy,
            test_loss: e.test_loss,
            test_accuracy: e.test_accuracy,
            nnz: e.nnz,
            removed: e.edits.iter().map(|s| s.removed).sum(),
            grown: e.edits.iter().map(|s| s.grown).sum(),
            seconds: e.seconds,
            flops: e.flops,
        })
        .collect();
    Ok(RunResult { row, epochs })
}
