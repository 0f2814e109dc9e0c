//! DSR's reallocation of the pruned budget over layers: `K` new connections split in proportion
//! to each layer's surviving connections (Mostafa & Wang 2019, §3, "reallocation"; the
//! reference's `--rewire-scaling`), as exact integers.
//!
//! The reference rounds each layer's share independently, so the total regrown can differ from
//! `K` by a few connections and the parameter count drifts. Here the split is Hamilton's
//! largest-remainder method (floors first, then one more to the layers with the largest
//! fractional parts, ties to the lower layer index), which sums to exactly `K`; a layer whose
//! share exceeds its free room is filled and the rest re-split over the other layers.

/// Splits `total` units over layers in proportion to `weights`, each layer receiving at most
/// `caps[l]`, with largest-remainder rounding so the parts sum to `min(total, sum(caps))`.
///
/// Layers whose proportional share exceeds their cap are set to the cap and the remainder is
/// re-split over the others (water-filling), repeated until no share exceeds its cap. When the
/// layers still open all have weight 0 (e.g. every connection was pruned), their remaining room
/// is used as the weights instead, so the total is still placed. Deterministic; integer
/// arithmetic only, `O(L^2)` for `L` layers.
pub fn proportional_allocation(total: usize, weights: &[usize], caps: &[usize]) -> Vec<usize> {
    assert_eq!(weights.len(), caps.len(), "one cap per weight");
    let n = weights.len();
    let total = total.min(caps.iter().sum());
    let mut fixed: Vec<Option<usize>> = vec![None; n];
    loop {
        let placed: usize = fixed.iter().flatten().sum();
        let open: Vec<usize> = (0..n).filter(|&l| fixed[l].is_none()).collect();
        let mut w: Vec<u128> = open.iter().map(|&l| weights[l] as u128).collect();
        if w.iter().all(|&x| x == 0) {
            w = open.iter().map(|&l| caps[l] as u128).collect();
        }
        let quotas = largest_remainder(total - placed, &w);
        // A layer is capped when its exact share, not its rounded quota, exceeds its room
        // (water-filling on the real shares, then rounding once).
        let sum: u128 = w.iter().sum();
        let rest = (total - placed) as u128;
        let mut over = false;
        for (k, &l) in open.iter().enumerate() {
            if sum > 0 && rest * w[k] > caps[l] as u128 * sum {
                fixed[l] = Some(caps[l]);
                over = true;
            }
        }
        if !over {
            let mut out: Vec<usize> = fixed.iter().map(|f| f.unwrap_or(0)).collect();
            for (q, &l) in quotas.iter().zip(&open) {
                out[l] = *q;
            }
            return out;
        }
    }
}

/// Hamilton's method: `total * w_l / sum(w)` rounded down, then one more to the `total - sum`
/// layers with the largest remainders (ties to the lower index). All zeros when `sum(w) == 0`.
fn largest_remainder(total: usize, w: &[u128]) -> Vec<usize> {
    let sum: u128 = w.iter().sum();
    if sum == 0 {
        return vec![0; w.len()];
    }
    let t = total as u128;
    let mut out: Vec<usize> = w.iter().map(|&x| (t * x / sum) as usize).collect();
    let mut order: Vec<usize> = (0..w.len()).collect();
    // Larger remainder first; the remainders share the denominator `sum`, so compare numerators.
    order.sort_by(|&a, &b| ((t * w[b]) % sum).cmp(&((t * w[a]) % sum)).then(a.cmp(&b)));
    let extra = total - out.iter().sum::<usize>();
    for &l in &order[..extra] {
        out[l] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::brute_force_allocation as brute_force;
    use proptest::prelude::*;

    #[test]
    fn hand_computed_splits() {
        // 5 over survivors 5 and 4: 2.78 and 2.22 -> floors 2, 2; the larger remainder gets one.
        assert_eq!(proportional_allocation(5, &[5, 4], &[12, 6]), vec![3, 2]);
        // Equal remainders: the lower index gets the extra one.
        assert_eq!(proportional_allocation(1, &[1, 1], &[5, 5]), vec![1, 0]);
        // Cap: layer 0 wants 7.5 but has room for 2; the rest goes to layer 1.
        assert_eq!(proportional_allocation(10, &[3, 1], &[2, 20]), vec![2, 8]);
        // No room at all for more than the sum of caps.
        assert_eq!(proportional_allocation(10, &[1, 1], &[2, 3]), vec![2, 3]);
        // Exact share 2/9 exceeds a cap of 0 (the rounded quota, 0, would not): the two are
        // re-split over the others, 1.5 and 0.5, the tie going to the lower index.
        assert_eq!(
            proportional_allocation(2, &[1, 6, 2], &[0, 2, 1]),
            vec![0, 2, 0]
        );
        // Every connection pruned: split by room instead.
        assert_eq!(proportional_allocation(4, &[0, 0], &[1, 3]), vec![1, 3]);
        // A layer with no survivors gets nothing while others have room.
        assert_eq!(proportional_allocation(4, &[0, 2], &[9, 9]), vec![0, 4]);
    }

    proptest! {
        #[test]
        fn allocation_matches_brute_force(
            layers in prop::collection::vec((0usize..8, 0usize..6), 1..4),
            total in 0usize..16,
        ) {
            let weights: Vec<usize> = layers.iter().map(|x| x.0).collect();
            let caps: Vec<usize> = layers.iter().map(|x| x.1).collect();
            let got = proportional_allocation(total, &weights, &caps);
            prop_assert_eq!(got.iter().sum::<usize>(), total.min(caps.iter().sum()));
            for l in 0..got.len() {
                prop_assert!(got[l] <= caps[l]);
            }
            prop_assert_eq!(got, brute_force(total, &weights, &caps));
        }
    }
}
