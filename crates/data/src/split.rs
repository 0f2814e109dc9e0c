//! Stratified train/test splits: each class keeps (up to rounding) the same share of rows in
//! the test set, so a small class is never left out of training or evaluation by chance.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::DataError;

/// Row indices of a train/test split, each sorted ascending; together a partition of the rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Rows used for fitting (model, scaler, imputer).
    pub train: Vec<usize>,
    /// Rows held out for evaluation.
    pub test: Vec<usize>,
}

/// Number of test rows for a class of `count` rows: `round(test_fraction * count)` (halves
/// away from zero), kept within `1..=count - 1` so both sides see the class. A class with a
/// single row goes to train: a model cannot be evaluated on a class it never saw.
pub fn test_count(count: usize, test_fraction: f64) -> usize {
    if count < 2 {
        return 0;
    }
    let n = (test_fraction * count as f64).round() as usize;
    n.clamp(1, count - 1)
}

/// Splits rows `0..labels.len()` into train and test, stratified by class: within each class
/// (in class order) the rows are shuffled with `rng` and the first [`test_count`] go to test.
/// The same labels, fraction and rng state give the same split.
///
/// # Errors
/// [`DataError::InvalidTestFraction`] unless `0 < test_fraction < 1`;
/// [`DataError::LabelOutOfRange`] if a label is `>= n_classes`.
pub fn stratified_split(
    labels: &[u32],
    n_classes: usize,
    test_fraction: f64,
    rng: &mut impl Rng,
) -> Result<Split, DataError> {
    // Written so that NaN fails too.
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::InvalidTestFraction {
            value: test_fraction,
        });
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (index, &label) in labels.iter().enumerate() {
        match by_class.get_mut(label as usize) {
            Some(rows) => rows.push(index),
            None => {
                return Err(DataError::LabelOutOfRange {
                    index,
                    label,
                    n_classes,
                })
            }
        }
    }
    let mut train = Vec::with_capacity(labels.len());
    let mut test = Vec::new();
    for rows in &mut by_class {
        rows.shuffle(rng);
        let n_test = test_count(rows.len(), test_fraction);
        test.extend_from_slice(&rows[..n_test]);
        train.extend_from_slice(&rows[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    Ok(Split { train, test })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn hand_computed_counts() {
        // class 0: 4 rows -> round(1.0) = 1; class 1: 10 rows -> round(2.5) = 3;
        // class 2: 1 row -> train; class 3: 2 rows -> round(0.5) = 1.
        let mut labels = vec![0u32; 4];
        labels.extend([1; 10]);
        labels.extend([2, 3, 3]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let split = stratified_split(&labels, 5, 0.25, &mut rng).expect("valid");
        let count = |rows: &[usize], c| rows.iter().filter(|&&r| labels[r] == c).count();
        assert_eq!(split.test.len(), 5);
        assert_eq!(split.train.len(), 12);
        let test_counts: Vec<usize> = (0..4).map(|c| count(&split.test, c)).collect();
        assert_eq!(test_counts, vec![1, 3, 0, 1]);
        assert!(split.train.contains(&14));
        assert_eq!((test_count(10, 0.05), test_count(10, 0.99)), (1, 9));
    }

    #[test]
    fn rejects_bad_fraction_and_labels() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for f in [0.0, 1.0, -0.1, 1.5, f64::NAN] {
            let e = stratified_split(&[0, 1], 2, f, &mut rng).unwrap_err();
            assert!(matches!(e, DataError::InvalidTestFraction { .. }), "{f}");
        }
        let msg = stratified_split(&[0, 2], 2, 0.5, &mut rng)
            .unwrap_err()
            .to_string();
        assert_eq!(msg, "label 2 at position 1 is out of range for 2 classes");
    }

    proptest! {
        #[test]
        fn partition_stratified_and_deterministic(
            labels in proptest::collection::vec(0u32..4, 0..200),
            frac in 0.01f64..0.99,
            seed in any::<u64>(),
        ) {
            let split = stratified_split(&labels, 4, frac, &mut ChaCha8Rng::seed_from_u64(seed))
                .expect("valid input");
            let again = stratified_split(&labels, 4, frac, &mut ChaCha8Rng::seed_from_u64(seed))
                .expect("valid input");
            prop_assert_eq!(&split, &again);
            prop_assert!(split.train.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(split.test.windows(2).all(|w| w[0] < w[1]));
            let mut all: Vec<usize> = split.train.iter().chain(&split.test).copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
            for c in 0..4 {
                let count = labels.iter().filter(|&&l| l == c).count();
                let in_test = split.test.iter().filter(|&&r| labels[r] == c).count();
                let target = (frac * count as f64).round() as usize;
                prop_assert!(in_test.abs_diff(target) <= 1, "class {} {} vs {}", c, in_test, target);
                if count >= 2 {
                    prop_assert!(in_test >= 1 && in_test < count);
                }
            }
        }
    }
}
