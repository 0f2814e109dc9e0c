//! Reading a config file and checking it: every field, and the names it gives against what is
//! registered (the methods of [`crate::registry`], the protocol sections of the installed
//! studies, [`crate::protocol`]). The config types ([`crate::config`]) know neither, so the
//! registries may use them.

use crate::config::ExperimentConfig;
use crate::error::ConfigError;
use data::missingness::Mechanism;
use sparse_core::WeightInit;
use std::path::{Path, PathBuf};

impl ExperimentConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<(Self, PathBuf), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let cfg: ExperimentConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|e| ConfigError::Field {
            path: path.to_path_buf(),
            field: e.0,
            reason: e.1,
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok((cfg, dir))
    }

    /// Checks every field; the error names the field (`grid.sparsity`, ...) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((f.to_string(), r));
        if self.name.trim().is_empty() || self.name.contains(['/', '\\']) {
            return fail(
                "name",
                format!("`{}` must be a non-empty name without slashes", self.name),
            );
        }
        if let Err(r) = self.model.activation.validate() {
            return fail("model.activation", r);
        }
        let d = &self.data;
        if !(d.test_fraction > 0.0 && d.test_fraction < 1.0) {
            return fail(
                "data.test_fraction",
                format!("{} is not in (0, 1)", d.test_fraction),
            );
        }
        if !(0.0..1.0).contains(&d.validation_fraction) {
            return fail(
                "data.validation_fraction",
                format!("{} is not in [0, 1)", d.validation_fraction),
            );
        }
        let m = &self.model;
        if m.layers.len() < 2 || m.layers.contains(&0) {
            return fail(
                "model.layers",
                format!(
                    "{:?} needs an input and an output width, all positive",
                    m.layers
                ),
            );
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return fail("model.dropout", format!("{} is not in [0, 1)", m.dropout));
        }
        if let WeightInit::Normal { std } = m.init {
            if !(std > 0.0 && std.is_finite()) {
                return fail("model.init.std", format!("{std} must be positive"));
            }
        }
        let t = &self.training;
        if t.epochs == 0 {
            return fail("training.epochs", "must be at least 1".into());
        }
        if t.batch_size == 0 {
            return fail("training.batch_size", "must be at least 1".into());
        }
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            return fail(
                "training.learning_rate",
                format!("{} must be positive", t.learning_rate),
            );
        }
        if !(0.0..1.0).contains(&t.momentum) {
            return fail(
                "training.momentum",
                format!("{} is not in [0, 1)", t.momentum),
            );
        }
        if !(t.weight_decay >= 0.0 && t.weight_decay.is_finite()) {
            return fail(
                "training.weight_decay",
                format!("{} must be >= 0", t.weight_decay),
            );
        }
        let g = &self.grid;
        if g.methods.is_empty() {
            return fail("grid.methods", "list at least one method".into());
        }
        for name in &g.methods {
            if !crate::registry::is_known_in(name, &self.methods) {
                return fail(
                    "grid.methods",
                    format!(
                        "unknown method `{name}`; known: {} (or a variant: [methods.{name}] \
                         with base = \"<method>\")",
                        crate::registry::names().join(", ")
                    ),
                );
            }
        }
        let has_sparse = g.methods.iter().any(|n| n != crate::registry::DENSE);
        match (g.sparsity.is_empty(), g.epsilon.is_empty()) {
            (false, false) => {
                return fail(
                    "grid.sparsity",
                    "give either `sparsity` or `epsilon`, not both".into(),
                )
            }
            (true, true) if has_sparse => {
                return fail(
                    "grid.sparsity",
                    "sparse methods need `sparsity` (or `epsilon`) values".into(),
                )
            }
            _ => {}
        }
        if let Some(s) = g.sparsity.iter().find(|s| !(0.0..1.0).contains(*s)) {
            return fail("grid.sparsity", format!("{s} is not in [0, 1)"));
        }
        if let Some(e) = g.epsilon.iter().find(|e| !(**e > 0.0 && e.is_finite())) {
            return fail("grid.epsilon", format!("{e} must be positive"));
        }
        let seeds = g.seeds.to_vec();
        if seeds.is_empty() {
            return fail("grid.seeds", "give at least one seed".into());
        }
        let mut sorted = seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != seeds.len() {
            return fail("grid.seeds", "seeds must be distinct".into());
        }
        if let Some(r) = g.missing_rate.iter().find(|r| !(0.0..1.0).contains(*r)) {
            return fail("grid.missing_rate", format!("{r} is not in [0, 1)"));
        }
        if g.missing_mechanism.is_empty() || g.missing_rate.is_empty() || g.imputation.is_empty() {
            return fail(
                "grid.missing_mechanism",
                "missing_mechanism, missing_rate and imputation need at least one value each"
                    .into(),
            );
        }
        if let Err(e) = self.missing.params.validate() {
            return fail("missing", e.to_string());
        }
        if let Some(columns) = &self.missing.columns {
            let mut names = columns.clone();
            names.sort();
            names.dedup();
            if columns.is_empty() || names.len() != columns.len() {
                return fail(
                    "missing.columns",
                    "name at least one feature, each once".into(),
                );
            }
            let takes_columns = [
                Mechanism::None,
                Mechanism::Mcar,
                Mechanism::MnarSelfLogistic,
            ];
            if let Some(m) = g
                .missing_mechanism
                .iter()
                .find(|m| !takes_columns.contains(m))
            {
                return fail(
                    "missing.columns",
                    format!(
                        "{m} chooses its own columns; with named columns the grid's mechanisms \
                         are none, mcar and mnar-self-logistic"
                    ),
                );
            }
        }
        if !self.missing.train && !self.missing.test {
            return fail(
                "missing.train",
                "missingness applied to neither split".into(),
            );
        }
        crate::registry::validate(&self.methods)?;
        for (name, value) in &self.sections {
            let Some(study) = crate::protocol::study(name) else {
                let known = crate::protocol::section_names();
                return fail(
                    name,
                    format!("unknown field or section; sections of protocol studies: {known}"),
                );
            };
            study.parse(value)?;
        }
        if let Some(second) = self.sections.keys().nth(1) {
            let names = crate::protocol::section_names();
            return fail(
                second,
                format!("give at most one Part II section of {names}"),
            );
        }
        Ok(())
    }
}
