//! SET's removal rule: the sign-split selection of the connections closest to zero.

use sparse_core::topology::{mark_smallest, MAGNITUDE};

/// SET's removal rule (Mocanu et al. 2018, §Methods; `weightsEvolution_II` in the reference
/// code): among the negative weights remove the fraction `zeta` closest to zero (the largest
/// negatives), among the positive weights the fraction `zeta` closest to zero (the smallest
/// positives); weights that are exactly zero are removed too. It is a sign-split rule, not a
/// ranking of `|w|` over all weights.
///
/// Counts: with `n_neg` negatives, `n_neg - floor((1 - zeta) n_neg)` are removed (the
/// reference's index `int((1 - zeta) firstZeroPos)`), likewise for positives. Ties are broken by
/// position so the result is deterministic. Returns one keep flag per value.
pub fn set_removal(values: &[f32], zeta: f64) -> Vec<bool> {
    let n_neg = values.iter().filter(|&&v| v < 0.0).count();
    let n_pos = values.iter().filter(|&&v| v > 0.0).count();
    let n_keep = |side: usize| (((1.0 - zeta) * side as f64).floor() as usize).min(side);
    let mut keep = vec![false; values.len()];
    // Far from zero first: the key is the complement of the magnitude's bits, ties by position.
    let far = |v: f32| !(v.to_bits() & MAGNITUDE);
    let neg = |k: usize| (values[k] < 0.0).then(|| far(values[k]));
    let pos = |k: usize| (values[k] > 0.0).then(|| far(values[k]));
    mark_smallest(values.len(), neg, n_keep(n_neg), |k| keep[k] = true);
    mark_smallest(values.len(), pos, n_keep(n_pos), |k| keep[k] = true);
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Brute-force SET removal: sort each sign's values by distance to zero and drop the
    /// closest `n - floor((1 - zeta) n)`.
    fn set_removal_reference(values: &[f32], zeta: f64) -> Vec<bool> {
        let mut keep = vec![false; values.len()];
        for sign in [-1.0f32, 1.0] {
            let mut side: Vec<usize> = (0..values.len())
                .filter(|&k| values[k] * sign > 0.0)
                .collect();
            side.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()).then(a.cmp(&b)));
            let n_keep = ((1.0 - zeta) * side.len() as f64).floor() as usize;
            for &k in &side[..n_keep] {
                keep[k] = true;
            }
        }
        keep
    }

    #[test]
    fn set_removal_by_hand() {
        // negatives -3, -2, -1 and positives 1, 2, 3, 4 with zeta 0.34:
        // keep floor(0.66*3)=1 negative (-3) and floor(0.66*4)=2 positives (3, 4); 0 removed.
        let v = [-1.0, 2.0, -3.0, 0.0, 4.0, -2.0, 1.0, 3.0];
        let keep = set_removal(&v, 0.34);
        assert_eq!(
            keep,
            vec![false, false, true, false, true, false, false, true]
        );
    }

    proptest! {
        #[test]
        fn set_removal_matches_reference(values in proptest::collection::vec(-3i32..=3, 0..60), zeta in 0.0f64..=1.0) {
            // Small integers force many ties, the hard case.
            let v: Vec<f32> = values.iter().map(|&x| x as f32 * 0.5).collect();
            prop_assert_eq!(set_removal(&v, zeta), set_removal_reference(&v, zeta));
        }
    }
}
