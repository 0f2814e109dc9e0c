//! One-hot encoding of categorical features, fitted on the training split only. A categorical
//! feature (level indices, as [`crate::load_csv`] reads them) becomes one 0/1 column per level
//! seen in training, so the models, scalers and imputers downstream see numeric features only.
//! The observed mask is carried through: a missing categorical cell makes every one of its
//! indicator columns missing, so missingness is never mistaken for "none of the levels".

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;

/// How one original feature is encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Column {
    /// Copied as is, with its mask.
    Numeric,
    /// One indicator per known level (sorted names of the levels seen in training).
    Categorical(Vec<String>),
}

/// A one-hot encoder fitted on a training split: per original feature, either numeric (passed
/// through) or the list of levels that occur in the training split.
///
/// A level that does not occur in the training split is unknown: its row gets all-zero
/// indicators, observed, as scikit-learn's `OneHotEncoder(handle_unknown='ignore')` does. The
/// test split can thus hold levels the model never saw, without an error and without a column
/// that is constant in training.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneHotEncoder {
    /// Per original feature, in order.
    columns: Vec<Column>,
    /// Original feature names, to check that `transform` gets the same features.
    feature_names: Vec<String>,
}

impl OneHotEncoder {
    /// Learns, for each categorical feature of `train` (non-empty `categories[j]`), the levels
    /// that occur in an observed cell, sorted by name. Numeric features are passed through.
    /// A categorical feature with no observed cell in `train` has no known level and is
    /// encoded by no column at all.
    ///
    /// # Panics
    /// If a categorical cell is not a valid index into its `categories[j]` (a broken
    /// [`Dataset`] invariant: values come from the loader, not from users).
    pub fn fit(train: &Dataset) -> OneHotEncoder {
        let d = train.n_features();
        let columns = (0..d)
            .map(|j| {
                let names = &train.categories[j];
                if names.is_empty() {
                    return Column::Numeric;
                }
                let mut seen = vec![false; names.len()];
                for i in 0..train.n_rows() {
                    if train.observed_row(i)[j] {
                        seen[level_index(train, i, j)] = true;
                    }
                }
                let mut known: Vec<String> = names
                    .iter()
                    .zip(&seen)
                    .filter(|&(_, &s)| s)
                    .map(|(name, _)| name.clone())
                    .collect();
                known.sort();
                Column::Categorical(known)
            })
            .collect();
        OneHotEncoder {
            columns,
            feature_names: train.feature_names.clone(),
        }
    }

    /// True when every feature is numeric, so [`OneHotEncoder::transform`] would only copy the
    /// dataset and callers may skip it.
    pub fn is_identity(&self) -> bool {
        self.columns.iter().all(|c| *c == Column::Numeric)
    }

    /// Number of feature columns that [`OneHotEncoder::transform`] produces.
    pub fn n_output_features(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                Column::Numeric => 1,
                Column::Categorical(levels) => levels.len(),
            })
            .sum()
    }

    /// Encodes `ds`: in the original feature order, each categorical feature is replaced by
    /// one 0/1 column per known level, named `<feature>=<level>`; numeric features are copied
    /// with their mask. A missing categorical cell makes all its indicators missing (value
    /// `0.0`, observed `false`); an unknown level gives all-zero indicators, observed. The
    /// result's `categories` are all empty (every feature is numeric); name, class names,
    /// labels and `row_ids` are carried over.
    ///
    /// Levels are matched by name, not by index, so `ds` may come from a different load than
    /// the training split, as long as it has the same features.
    ///
    /// # Panics
    /// If `ds` does not have the features the encoder was fitted on (names, and which are
    /// categorical), or a categorical cell is not a valid level index: both are mistakes of
    /// the calling code, which encodes splits of one dataset.
    pub fn transform(&self, ds: &Dataset) -> Dataset {
        assert_eq!(
            ds.feature_names, self.feature_names,
            "OneHotEncoder::transform: dataset '{}' has other features than the fitted one",
            ds.name
        );
        // Per feature: for each of `ds`'s own level indices, its known position, if any.
        let positions: Vec<Option<Vec<Option<usize>>>> = self
            .columns
            .iter()
            .zip(&ds.categories)
            .zip(&ds.feature_names)
            .map(|((column, names), feature)| match column {
                Column::Numeric => {
                    assert!(
                        names.is_empty(),
                        "OneHotEncoder::transform: feature '{feature}' was numeric when fitted \
                         but is categorical in dataset '{}'",
                        ds.name
                    );
                    None
                }
                Column::Categorical(known) => {
                    assert!(
                        !names.is_empty(),
                        "OneHotEncoder::transform: feature '{feature}' was categorical when \
                         fitted but is numeric in dataset '{}'",
                        ds.name
                    );
                    let map = names
                        .iter()
                        .map(|name| known.binary_search(name).ok())
                        .collect();
                    Some(map)
                }
            })
            .collect();

        let mut feature_names = Vec::with_capacity(self.n_output_features());
        for (column, feature) in self.columns.iter().zip(&self.feature_names) {
            match column {
                Column::Numeric => feature_names.push(feature.clone()),
                Column::Categorical(known) => {
                    feature_names.extend(known.iter().map(|level| format!("{feature}={level}")));
                }
            }
        }

        let width = feature_names.len();
        let mut values = Vec::with_capacity(ds.n_rows() * width);
        let mut observed = Vec::with_capacity(ds.n_rows() * width);
        for i in 0..ds.n_rows() {
            let (row, mask) = (ds.row(i), ds.observed_row(i));
            for (j, (column, map)) in self.columns.iter().zip(&positions).enumerate() {
                let (Column::Categorical(known), Some(map)) = (column, map) else {
                    values.push(row[j]);
                    observed.push(mask[j]);
                    continue;
                };
                let start = values.len();
                values.resize(start + known.len(), 0.0);
                observed.resize(start + known.len(), mask[j]);
                if mask[j] {
                    if let Some(k) = map[level_index(ds, i, j)] {
                        values[start + k] = 1.0;
                    }
                }
            }
        }

        let out = Dataset {
            name: ds.name.clone(),
            categories: vec![Vec::new(); width],
            feature_names,
            class_names: ds.class_names.clone(),
            values,
            observed,
            labels: ds.labels.clone(),
            row_ids: ds.row_ids.clone(),
        };
        debug_assert!(out.validate().is_ok(), "{:?}", out.validate());
        out
    }
}

/// The level index stored in categorical cell (`i`, `j`) of `ds`.
///
/// # Panics
/// If the value is not an integer index into `ds.categories[j]`.
fn level_index(ds: &Dataset, i: usize, j: usize) -> usize {
    let v = ds.row(i)[j];
    let n = ds.categories[j].len();
    assert!(
        v >= 0.0 && v.fract() == 0.0 && (v as usize) < n,
        "dataset '{}': cell ({i}, {j}) holds {v}, not a level index below {n}",
        ds.name
    );
    v as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    /// 4 rows: `color` (categorical: blue, green, red) then `x` (numeric). Row 1 has `x`
    /// missing, row 2 has `color` missing, and green occurs only in row 3.
    fn colors() -> Dataset {
        Dataset {
            name: "colors".into(),
            feature_names: names(&["color", "x"]),
            class_names: names(&["n", "y"]),
            #[rustfmt::skip]
            values: vec![
                2.0, 1.0, // red
                0.0, 0.0, // blue, x missing
                0.0, 3.0, // color missing
                1.0, 4.0, // green
            ],
            observed: vec![true, true, true, false, false, true, true, true],
            labels: vec![0, 1, 0, 1],
            row_ids: vec![10, 11, 12, 13],
            categories: vec![names(&["blue", "green", "red"]), Vec::new()],
        }
    }

    #[test]
    fn encodes_by_hand_with_missing_and_unknown_levels() {
        let ds = colors();
        assert!(ds.validate().is_ok());
        let train = ds.subset(&[0, 1, 2]);
        let test = ds.subset(&[3, 2, 0]);
        let enc = OneHotEncoder::fit(&train);
        assert!(!enc.is_identity());
        assert_eq!(enc.n_output_features(), 3);

        let tr = enc.transform(&train);
        // green never occurs in training, so it gets no column
        assert_eq!(tr.feature_names, names(&["color=blue", "color=red", "x"]));
        assert_eq!(tr.categories, vec![Vec::<String>::new(); 3]);
        #[rustfmt::skip]
        let expected = vec![
            0.0, 1.0, 1.0,
            1.0, 0.0, 0.0,
            0.0, 0.0, 3.0,
        ];
        assert_eq!(tr.values, expected);
        #[rustfmt::skip]
        let mask = vec![
            true, true, true,
            true, true, false,
            false, false, true,
        ];
        assert_eq!(tr.observed, mask);
        assert_eq!(tr.labels, vec![0, 1, 0]);
        assert_eq!(tr.row_ids, vec![10, 11, 12]);
        assert_eq!(
            (tr.name.as_str(), &tr.class_names),
            ("colors", &ds.class_names)
        );
        assert!(tr.validate().is_ok());

        let te = enc.transform(&test);
        // green (unknown): all-zero indicators, observed, like handle_unknown='ignore'
        #[rustfmt::skip]
        let expected = vec![
            0.0, 0.0, 4.0,
            0.0, 0.0, 3.0,
            0.0, 1.0, 1.0,
        ];
        assert_eq!(te.values, expected);
        #[rustfmt::skip]
        let mask = vec![
            true, true, true,
            false, false, true,
            true, true, true,
        ];
        assert_eq!(te.observed, mask);
        assert_eq!(te.row_ids, vec![13, 12, 10]);
        assert_eq!(te.labels, vec![1, 0, 0]);
    }

    #[test]
    fn fitting_on_all_rows_knows_every_level() {
        let ds = colors();
        let enc = OneHotEncoder::fit(&ds);
        let out = enc.transform(&ds);
        assert_eq!(
            out.feature_names,
            names(&["color=blue", "color=green", "color=red", "x"])
        );
        assert_eq!(out.row(3), &[0.0, 1.0, 0.0, 4.0]);
        // each observed categorical cell has exactly one indicator set
        for i in [0, 1, 3] {
            assert_eq!(out.row(i)[..3].iter().sum::<f32>(), 1.0);
        }
    }

    #[test]
    fn levels_are_matched_by_name_not_index() {
        let train = colors();
        // another load: levels listed in another order, so the indices differ
        let mut other = colors().subset(&[0, 3]);
        other.categories[0] = names(&["red", "green"]);
        other.values = vec![0.0, 1.0, 1.0, 4.0];
        let enc = OneHotEncoder::fit(&train);
        let out = enc.transform(&other);
        assert_eq!(out.values, vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 4.0]);
    }

    #[test]
    fn numeric_data_is_passed_through() {
        let ds = crate::dataset::tests::small();
        let enc = OneHotEncoder::fit(&ds);
        assert!(enc.is_identity());
        assert_eq!(enc.transform(&ds), ds);
    }

    #[test]
    fn categorical_feature_never_observed_in_training_has_no_column() {
        let ds = colors();
        let train = ds.subset(&[2]);
        let enc = OneHotEncoder::fit(&train);
        assert!(!enc.is_identity());
        let out = enc.transform(&ds);
        assert_eq!(out.feature_names, names(&["x"]));
        assert_eq!(out.values, vec![1.0, 0.0, 3.0, 4.0]);
        assert_eq!(out.observed, vec![true, false, true, true]);
    }

    #[test]
    #[should_panic(expected = "other features")]
    fn other_features_are_refused() {
        let enc = OneHotEncoder::fit(&colors());
        enc.transform(&crate::dataset::tests::small());
    }
}
