//! `dst_sparse_data._engine`, the Python package's extension module: arrays in, the engine's
//! estimator ([`estimator`]) out. Every decision (preprocessing, model, training,
//! validation messages) lives in the engine; this crate converts arrays and errors, and
//! releases the GIL while the engine works. The scikit-learn side is `dst_sparse_data/`.

use data::Dataset;
use estimator::{EstimatorError, FittedModel};
use experiments::{ConfigError, ExperimentConfig, RunOptions};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use std::path::PathBuf;
use std::sync::Mutex;

/// A Python exception for an engine error: `ValueError` for refused input (it names the
/// config field or the data's shape), `RuntimeError` for a failure on valid input.
fn to_py(e: EstimatorError) -> PyErr {
    match e {
        EstimatorError::Invalid(m) => PyValueError::new_err(m),
        EstimatorError::Failed(e) => PyRuntimeError::new_err(format!("{e:#}")),
    }
}

/// A dataset of `rows x features` values given row-major as `float64`, NaN where missing.
fn dataset(
    py: Python<'_>,
    x: &PyBuffer<f64>,
    rows: usize,
    features: usize,
    labels: Vec<u32>,
    n_classes: usize,
) -> PyResult<Dataset> {
    let values = x.to_vec(py)?;
    if values.len() != rows * features || labels.len() != rows {
        return Err(PyValueError::new_err(format!(
            "{} values and {} labels for {rows} rows of {features} features",
            values.len(),
            labels.len()
        )));
    }
    let observed: Vec<bool> = values.iter().map(|v| !v.is_nan()).collect();
    let values: Vec<f32> = values
        .iter()
        .map(|&v| if v.is_nan() { 0.0 } else { v as f32 })
        .collect();
    Ok(Dataset::numeric(
        "arrays",
        (0..features).map(|j| format!("x{j}")).collect(),
        (0..n_classes).map(|c| c.to_string()).collect(),
        values,
        observed,
        labels,
    ))
}

/// A fitted model. Used from one Python thread at a time; the lock only makes that explicit.
#[pyclass(module = "dst_sparse_data._engine")]
struct Model {
    inner: Mutex<FittedModel>,
}

/// Fits the one run the JSON config (the TOML schema) describes on `x` (`rows x features`,
/// row-major, NaN = missing) and `labels` (`0..n_classes`). The GIL is released meanwhile.
#[pyfunction]
fn fit(
    py: Python<'_>,
    config_json: &str,
    x: PyBuffer<f64>,
    rows: usize,
    features: usize,
    labels: Vec<u32>,
    n_classes: usize,
) -> PyResult<Model> {
    let cfg: ExperimentConfig = serde_json::from_str(config_json)
        .map_err(|e| PyValueError::new_err(format!("invalid parameters: {e}")))?;
    let train = dataset(py, &x, rows, features, labels, n_classes)?;
    let fitted = py
        .detach(|| FittedModel::fit(&cfg, &train))
        .map_err(to_py)?;
    Ok(Model {
        inner: Mutex::new(fitted),
    })
}

/// Runs the config at `path` as `cargo xtask run` does (resuming finished runs unless
/// `fresh`), into `out` or the engine's default folder; returns the results folder. The GIL
/// is released meanwhile.
#[pyfunction]
#[pyo3(signature = (path, out=None, jobs=None, fresh=false))]
fn run_experiment(
    py: Python<'_>,
    path: PathBuf,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    fresh: bool,
) -> PyResult<PathBuf> {
    let opts = RunOptions {
        out,
        jobs,
        fresh,
        quiet: true,
        shard: None,
        checkpoint_every: None,
    };
    let report = py
        .detach(|| experiments::run_experiment(&path, &opts))
        .map_err(|e| match e.downcast_ref::<ConfigError>() {
            Some(_) => PyValueError::new_err(format!("{e:#}")),
            None => PyRuntimeError::new_err(format!("{e:#}")),
        })?;
    Ok(report.dir)
}

/// The model a pickled `Model` saved (`ValueError` for bytes this engine cannot load: another
/// numerics version, or not a saved model).
#[pyfunction]
fn load_model(py: Python<'_>, bytes: &[u8]) -> PyResult<Model> {
    let fitted = py
        .detach(|| FittedModel::from_bytes(bytes))
        .map_err(to_py)?;
    Ok(Model {
        inner: Mutex::new(fitted),
    })
}

/// The registered method names, `dense` first.
#[pyfunction]
fn methods() -> Vec<&'static str> {
    experiments::registry::names()
}

#[pymethods]
impl Model {
    /// Class probabilities of `x`'s rows as little-endian `float32` bytes, `rows x classes`.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyBuffer<f64>,
        rows: usize,
        features: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let data = dataset(py, &x, rows, features, vec![0; rows], 1)?;
        // Locked without the GIL: a thread waiting for the model never blocks Python.
        let probs = py
            .detach(|| {
                let mut model = self.inner.lock().expect("no panic while locked");
                model.predict_proba(&data)
            })
            .map_err(to_py)?;
        let bytes: Vec<u8> = probs.iter().flat_map(|p| p.to_le_bytes()).collect();
        Ok(PyBytes::new(py, &bytes))
    }

    /// Per epoch: `epoch`, `loss`, `accuracy`, `turnover`, `density`, `nnz` as lists.
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let model = self.inner.lock().expect("no panic while locked");
        let h = model.history();
        let out = PyDict::new(py);
        out.set_item("epoch", h.iter().map(|e| e.epoch).collect::<Vec<_>>())?;
        out.set_item("loss", h.iter().map(|e| e.loss).collect::<Vec<_>>())?;
        out.set_item("accuracy", h.iter().map(|e| e.accuracy).collect::<Vec<_>>())?;
        out.set_item("turnover", h.iter().map(|e| e.turnover).collect::<Vec<_>>())?;
        out.set_item("density", h.iter().map(|e| e.density).collect::<Vec<_>>())?;
        out.set_item("nnz", h.iter().map(|e| e.nnz).collect::<Vec<_>>())?;
        Ok(out)
    }

    /// Per training row, in the order given: `forgetting_events`, `learning_events`,
    /// `first_learned_epoch` (-1 when never learned), `never_learned`, `unforgettable`,
    /// `confidence`, `variability`, `correctness`, `el2n` (NaN when not taken) as lists.
    fn example_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let model = self.inner.lock().expect("no panic while locked");
        let mut s = model.examples.clone();
        s.sort_by_key(|e| e.example_id);
        let out = PyDict::new(py);
        let col = |f: &dyn Fn(&data::dynamics::ExampleStats) -> f64| -> Vec<f64> {
            s.iter().map(f).collect()
        };
        out.set_item("forgetting_events", col(&|e| e.forgetting_events as f64))?;
        out.set_item("learning_events", col(&|e| e.learning_events as f64))?;
        out.set_item(
            "first_learned_epoch",
            col(&|e| e.first_learned_epoch.map_or(-1.0, |v| v as f64)),
        )?;
        out.set_item(
            "never_learned",
            col(&|e| f64::from(u8::from(e.never_learned))),
        )?;
        out.set_item(
            "unforgettable",
            col(&|e| f64::from(u8::from(e.unforgettable))),
        )?;
        out.set_item("confidence", col(&|e| e.confidence))?;
        out.set_item("variability", col(&|e| e.variability))?;
        out.set_item("correctness", col(&|e| e.correctness))?;
        out.set_item(
            "el2n",
            col(&|e| e.el2n.last().map_or(f64::NAN, |&(_, v)| f64::from(v))),
        )?;
        Ok(out)
    }

    /// Connections of every model input into the first hidden layer after training.
    fn input_degrees(&self) -> Vec<usize> {
        self.inner
            .lock()
            .expect("no panic while locked")
            .input_degrees()
    }

    /// The 1-based epoch in which training diverged, or `None`.
    fn diverged_epoch(&self) -> Option<usize> {
        self.inner
            .lock()
            .expect("no panic while locked")
            .diverged_epoch
    }

    /// Pickling: `load_model(bytes)` gives this model back, predictions bit for bit.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let bytes = self.inner.lock().expect("no panic while locked").to_bytes();
        let load = py
            .import("dst_sparse_data._engine")?
            .getattr("load_model")?;
        Ok((load, (PyBytes::new(py, &bytes),)))
    }

    /// Layer widths, model inputs (after missing-indicator columns) first.
    fn layer_sizes(&self) -> Vec<usize> {
        self.inner
            .lock()
            .expect("no panic while locked")
            .layer_sizes()
            .to_vec()
    }
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The studies' protocols ([continual], ...) for run_experiment's configs.
    studies::install();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(methods, m)?)?;
    m.add_function(wrap_pyfunction!(run_experiment, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_class::<Model>()?;
    Ok(())
}
