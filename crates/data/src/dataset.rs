//! [`Dataset`]: a dense row-major table of `f32` features with a per-cell observed mask, one
//! class label per row and a stable example id per row. The mask, not a sentinel value, says
//! which cells are missing, so later stages (amputation, imputation, sparse inputs) never have
//! to guess.

use crate::error::DataError;

/// A classification dataset held in memory.
///
/// Invariants (checked by [`Dataset::validate`]): `values` and `observed` have
/// `n_rows() * n_features()` entries in row-major order; a missing cell (`observed == false`)
/// stores exactly `0.0`; observed values are finite; `labels` and `row_ids` have one entry per
/// row; every label is below `n_classes()`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Human-readable name, used in results (by default the CSV file's stem).
    pub name: String,
    /// One name per feature column, in column order.
    pub feature_names: Vec<String>,
    /// Class names; a label `l` means `class_names[l]`.
    pub class_names: Vec<String>,
    /// Feature values, row-major, `n_rows * n_features`; `0.0` where not observed.
    pub values: Vec<f32>,
    /// `true` where the cell was observed, same shape as `values`.
    pub observed: Vec<bool>,
    /// Class index of each row.
    pub labels: Vec<u32>,
    /// 0-based data row of the source file for each row: a stable example id that survives
    /// [`Dataset::subset`], so per-example statistics can be joined across splits and runs.
    pub row_ids: Vec<usize>,
    /// Per feature: empty for a numeric feature; for a categorical one, its level names, the
    /// feature's value being the level index (before one-hot encoding).
    pub categories: Vec<Vec<String>>,
}

impl Dataset {
    /// A dataset of numeric features with `row_ids` `0..n` (missing cells must hold 0.0 and be
    /// `false` in `observed`); the constructor for tests and generated data.
    pub fn numeric(
        name: &str,
        feature_names: Vec<String>,
        class_names: Vec<String>,
        values: Vec<f32>,
        observed: Vec<bool>,
        labels: Vec<u32>,
    ) -> Dataset {
        let n = labels.len();
        let d = feature_names.len();
        Dataset {
            name: name.to_string(),
            feature_names,
            class_names,
            values,
            observed,
            labels,
            row_ids: (0..n).collect(),
            categories: vec![Vec::new(); d],
        }
    }

    /// Number of rows (examples).
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Feature values of row `i` (missing cells read `0.0`; see [`Dataset::observed_row`]).
    ///
    /// # Panics
    /// If `i >= n_rows()`.
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.n_features();
        &self.values[i * d..(i + 1) * d]
    }

    /// Observed mask of row `i`, aligned with [`Dataset::row`].
    ///
    /// # Panics
    /// If `i >= n_rows()`.
    pub fn observed_row(&self, i: usize) -> &[bool] {
        let d = self.n_features();
        &self.observed[i * d..(i + 1) * d]
    }

    /// A new dataset holding the given rows in the given order (repeats allowed), with names,
    /// classes and `row_ids` carried over; used to materialise train and test splits.
    ///
    /// # Panics
    /// If any index is `>= n_rows()`: indices come from code (a split), not from users.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        let d = self.n_features();
        let mut values = Vec::with_capacity(rows.len() * d);
        let mut observed = Vec::with_capacity(rows.len() * d);
        let mut labels = Vec::with_capacity(rows.len());
        let mut row_ids = Vec::with_capacity(rows.len());
        for &r in rows {
            values.extend_from_slice(self.row(r));
            observed.extend_from_slice(self.observed_row(r));
            labels.push(self.labels[r]);
            row_ids.push(self.row_ids[r]);
        }
        Dataset {
            name: self.name.clone(),
            feature_names: self.feature_names.clone(),
            class_names: self.class_names.clone(),
            values,
            observed,
            labels,
            row_ids,
            categories: self.categories.clone(),
        }
    }

    /// Fraction of feature cells that are not observed (0 for an empty dataset); the quantity
    /// that `missing_rate` in the experiment configs controls.
    pub fn missing_fraction(&self) -> f64 {
        if self.observed.is_empty() {
            return 0.0;
        }
        let missing = self.observed.iter().filter(|&&o| !o).count();
        missing as f64 / self.observed.len() as f64
    }

    /// Number of rows of each class, indexed by label; for stratification and reports.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// Checks the invariants listed on [`Dataset`], so that code building or editing a dataset
    /// (imputers, encoders) can assert it left one that the rest of the pipeline may trust.
    pub fn validate(&self) -> Result<(), DataError> {
        let fail = |reason: String| {
            Err(DataError::InvalidDataset {
                name: self.name.clone(),
                reason,
            })
        };
        let (n, d) = (self.n_rows(), self.n_features());
        if self.values.len() != n * d || self.observed.len() != n * d {
            return fail(format!(
                "{n} rows x {d} features needs {} cells, found {} values and {} mask entries",
                n * d,
                self.values.len(),
                self.observed.len()
            ));
        }
        if self.categories.len() != d {
            return fail(format!(
                "{d} features but {} category lists",
                self.categories.len()
            ));
        }
        if self.row_ids.len() != n {
            return fail(format!("{n} rows but {} row ids", self.row_ids.len()));
        }
        if let Some((i, &l)) = self
            .labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= self.n_classes())
        {
            return fail(format!(
                "row {i} has label {l} but there are {} classes",
                self.n_classes()
            ));
        }
        for (k, (&v, &o)) in self.values.iter().zip(&self.observed).enumerate() {
            if o && !v.is_finite() {
                return fail(format!("cell ({}, {}) is observed but {v}", k / d, k % d));
            }
            if !o && v != 0.0 {
                return fail(format!(
                    "cell ({}, {}) is missing but stores {v}",
                    k / d,
                    k % d
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 3 rows x 2 features, one missing cell, classes a/b: shared by this crate's unit tests.
    pub(crate) fn small() -> Dataset {
        Dataset {
            name: "small".into(),
            feature_names: vec!["x".into(), "y".into()],
            class_names: vec!["a".into(), "b".into()],
            values: vec![1.0, 2.0, 3.0, 0.0, 5.0, 6.0],
            observed: vec![true, true, true, false, true, true],
            labels: vec![0, 1, 1],
            row_ids: vec![0, 1, 2],
            categories: vec![Vec::new(); 2],
        }
    }

    #[test]
    fn shape_rows_and_counts() {
        let ds = small();
        assert_eq!((ds.n_rows(), ds.n_features(), ds.n_classes()), (3, 2, 2));
        assert_eq!(ds.row(1), &[3.0, 0.0]);
        assert_eq!(ds.observed_row(1), &[true, false]);
        assert_eq!(ds.class_counts(), vec![1, 2]);
        assert!((ds.missing_fraction() - 1.0 / 6.0).abs() < 1e-12);
        assert!(ds.validate().is_ok());
    }

    #[test]
    fn subset_keeps_row_ids_and_order() {
        let ds = small();
        let sub = ds.subset(&[2, 0, 2]);
        assert_eq!(sub.values, vec![5.0, 6.0, 1.0, 2.0, 5.0, 6.0]);
        assert_eq!(sub.labels, vec![1, 0, 1]);
        assert_eq!(sub.row_ids, vec![2, 0, 2]);
        assert_eq!(sub.missing_fraction(), 0.0);
        // row ids refer to the source file, not to the parent's positions
        let sub2 = sub.subset(&[1]);
        assert_eq!(sub2.row_ids, vec![0]);
        assert_eq!(sub2.row(0), &[1.0, 2.0]);
        assert!(sub.validate().is_ok());
    }

    #[test]
    fn validate_names_the_broken_invariant() {
        let mut ds = small();
        ds.values[3] = 7.0;
        let msg = ds.validate().unwrap_err().to_string();
        assert!(msg.contains("cell (1, 1) is missing but stores 7"), "{msg}");

        let mut ds = small();
        ds.labels[2] = 2;
        let msg = ds.validate().unwrap_err().to_string();
        assert!(
            msg.contains("row 2 has label 2 but there are 2 classes"),
            "{msg}"
        );

        let mut ds = small();
        ds.observed.pop();
        assert!(ds.validate().is_err());
    }
}
