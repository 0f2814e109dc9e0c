//! DeepR's hyper-parameters and the temperature schedule they define.
//!
//! The defaults are those of the DSR repository's re-implementation of soft DeepR
//! (`IntelAI/dynamic-reparameterization`, `main.py`: `--DeepR_eta 0.001`, the temperature
//! schedule 1e-5 -> 1e-8 -> 1e-12 -> 1e-15 of its YAML files) and the paper's L1 coefficient
//! (Bellec et al. 2018, §4 and the MNIST script: 1e-5).

use serde::{Deserialize, Serialize};
use sparse_core::{SparseError, TrainingClock};

/// DeepR's hyper-parameters, as written in an experiment config (`[methods.deepr]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeepRConfig {
    /// Step size η of the Langevin update of θ (DSR's `--DeepR_eta`, 0.001). It scales the L1
    /// shrinkage `η·l1` and the noise `√(2ηT)·ν`; the gradient step itself is the training
    /// loop's optimizer step with its own learning rate.
    pub eta: f64,
    /// Temperature T until the first entry of `temperature_schedule` (1e-5, DSR's first value).
    pub temperature: f64,
    /// Later temperatures as `(from_fraction_of_training, T)`, fractions strictly increasing
    /// in `(0, 1]`. DSR switches 1e-5 -> 1e-8 -> 1e-12 -> 1e-15 by epoch in its YAML
    /// schedules; here the drops are placed at a quarter, half and three quarters of
    /// training: `[(0.25, 1e-8), (0.5, 1e-12), (0.75, 1e-15)]`. Empty: constant temperature.
    pub temperature_schedule: Vec<(f64, f64)>,
    /// L1 coefficient α of the paper's prior (1e-5, the MNIST script's and DSR's value).
    pub l1: f64,
}

impl Default for DeepRConfig {
    fn default() -> Self {
        DeepRConfig {
            eta: 1e-3,
            temperature: 1e-5,
            temperature_schedule: vec![(0.25, 1e-8), (0.5, 1e-12), (0.75, 1e-15)],
            l1: 1e-5,
        }
    }
}

/// Whether `x` is a finite, non-negative number.
fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

impl DeepRConfig {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), SparseError> {
        let bad = |name, reason: String| Err(SparseError::Parameter { name, reason });
        if !non_negative(self.eta) {
            return bad("eta", format!("{} must be finite and >= 0", self.eta));
        }
        if !non_negative(self.temperature) {
            return bad(
                "temperature",
                format!("{} must be finite and >= 0", self.temperature),
            );
        }
        if !non_negative(self.l1) {
            return bad("l1", format!("{} must be finite and >= 0", self.l1));
        }
        for &(fraction, t) in &self.temperature_schedule {
            if !(fraction > 0.0 && fraction <= 1.0) {
                return bad(
                    "temperature_schedule",
                    format!("fraction {fraction} is not in (0, 1]"),
                );
            }
            if !non_negative(t) {
                return bad(
                    "temperature_schedule",
                    format!("temperature {t} must be finite and >= 0"),
                );
            }
        }
        if self
            .temperature_schedule
            .windows(2)
            .any(|w| w[0].0 >= w[1].0)
        {
            return bad(
                "temperature_schedule",
                "fractions must strictly increase".into(),
            );
        }
        Ok(())
    }

    /// Temperature of the step `clock.step`: `temperature`, or the last schedule entry whose
    /// fraction of training `step / total_steps` has been reached.
    pub fn temperature_at(&self, clock: &TrainingClock) -> f64 {
        let total = clock.total_steps();
        let progress = if total == 0 {
            0.0
        } else {
            clock.step as f64 / total as f64
        };
        self.temperature_schedule
            .iter()
            .rev()
            .find(|s| progress >= s.0)
            .map_or(self.temperature, |s| s.1)
    }

    /// Standard deviation `√(2ηT)` of the noise added to θ at the step `clock.step`.
    pub fn noise_std(&self, clock: &TrainingClock) -> f64 {
        (2.0 * self.eta * self.temperature_at(clock)).sqrt()
    }
}
