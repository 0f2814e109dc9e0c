//! [`Cell`]: a grid cell, what a run shares with the other seeds of its cell. Every analysis
//! groups runs by it (summaries, paired differences, degree correlations, forgetting,
//! exemplars, update forgetting, data-aware DST, subsets, figures), so it is one type, with
//! its levels kept as numbers ([`Level`]): cells sort numerically, and no key is formatted to
//! a string and parsed back.

use crate::registry::DENSE;
use crate::results::RunRow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A numeric grid level (a sparsity, a missing rate): equal and ordered by `f64::total_cmp`,
/// so a cell can key a map. Runs of one cell carry the same bits (the config's value), so
/// exact equality groups them.
#[derive(Debug, Clone, Copy)]
pub struct Level(pub f64);

impl PartialEq for Level {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Level {}

impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Level {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Hash for Level {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A grid cell: every setting of a run but its seed. Ordered field by field, as the columns
/// of `runs.csv` read (experiment, dataset, method, sparsity, mechanism, rate, imputation,
/// protocol variant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// The experiment (config) name.
    pub experiment: String,
    /// The dataset name.
    pub dataset: String,
    /// The method name (`dense`, `static`, `set`, a variant name, ...).
    pub method: String,
    /// Target sparsity of the sparse layers (0 for dense).
    pub sparsity: Level,
    /// The missingness mechanism simulated.
    pub missing_mechanism: String,
    /// Its target rate.
    pub missing_rate: Level,
    /// How missing values were fed.
    pub imputation: String,
    /// The protocol variant (empty for plain training).
    pub variant: String,
}

impl Cell {
    /// The cell's columns in `runs.csv` and `summary.csv`, in field order.
    pub const COLUMNS: [&'static str; 8] = [
        "experiment",
        "dataset",
        "method",
        "sparsity",
        "missing_mechanism",
        "missing_rate",
        "imputation",
        "variant",
    ];

    /// The cell of a run.
    pub fn of(r: &RunRow) -> Cell {
        Cell {
            experiment: r.experiment.clone(),
            dataset: r.dataset.clone(),
            method: r.method.clone(),
            sparsity: Level(r.sparsity),
            missing_mechanism: r.missing_mechanism.clone(),
            missing_rate: Level(r.missing_rate),
            imputation: r.imputation.clone(),
            variant: r.variant.clone(),
        }
    }

    /// The same data, missingness, imputation and variant with another model.
    pub fn with_model(&self, method: &str, sparsity: f64) -> Cell {
        Cell {
            method: method.to_string(),
            sparsity: Level(sparsity),
            ..self.clone()
        }
    }

    /// The dense cell a sparse cell is compared with: same data, missingness, imputation and
    /// protocol variant.
    pub fn dense(&self) -> Cell {
        self.with_model(DENSE, 0.0)
    }

    /// The same cell under another protocol variant (`""`: plain training).
    pub fn with_variant(&self, variant: &str) -> Cell {
        Cell {
            variant: variant.to_string(),
            ..self.clone()
        }
    }

    /// Whether the cell is of the dense model.
    pub fn is_dense(&self) -> bool {
        self.method == DENSE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_sort_by_number_not_by_text() {
        let base = Cell {
            experiment: "e".into(),
            dataset: "d".into(),
            method: "set".into(),
            sparsity: Level(0.5),
            missing_mechanism: "mcar".into(),
            missing_rate: Level(0.1),
            imputation: "mean".into(),
            variant: String::new(),
        };
        let mut cells = [
            base.with_model("set", 0.99),
            base.with_model("set", 0.9),
            base.with_model("set", 0.5),
            base.with_model("set", 10.0),
        ];
        cells.sort();
        let levels: Vec<f64> = cells.iter().map(|c| c.sparsity.0).collect();
        assert_eq!(levels, [0.5, 0.9, 0.99, 10.0]);
        assert_eq!(base.dense().sparsity, Level(0.0));
        assert!(base.dense().is_dense() && !base.is_dense());
        assert_eq!(base.with_variant("removal").variant, "removal");
        assert_ne!(base, base.with_model("set", 0.5000001));
    }
}
