//! Momentum redistribution of SNFS (Dettmers & Zettlemoyer 2019, §3, "redistribution"): how
//! many of the connections removed network-wide each layer gets back, in exact integers.
//!
//! The reference (`calc_growth_redistribution` in `sparselearning/core.py`) gives layer `l`
//! `ceil(share_l * R)` connections, caps it at `0.99 (zeros_l + removed_l)`, and spreads the
//! residual evenly over all layers, for up to 1000 rounds; what is left over is corrected at
//! the next update through `adjusted_growth`. Here the total is the budget and is met exactly
//! at every update: the real-valued split is capped and redistributed until no layer exceeds
//! its free room (water-filling), and one rounding step then makes the counts integers that
//! sum to `R` exactly.

/// Splits `total` new connections among layers proportionally to `weights`, no layer getting
/// more than `caps[l]` (its free positions after pruning); the counts sum to `total` exactly.
///
/// 1. **Capping and redistribution** (at most `n + 1` rounds, each of which either finishes or
///    caps at least one more layer): the remaining total is split over the layers not yet
///    capped proportionally to their weight; layers whose share reaches their cap get the cap
///    and leave the split, and the rest is split again. Layers with `caps[l] == 0` never take
///    part. If the layers still open all have weight 0 (e.g. every layer with momentum is
///    full) the remainder is split proportionally to their free room, which never overflows.
///    The result `x_l` is the water-filling point `x_l = min(cap_l, lambda w_l)`,
///    `sum x_l = total`.
/// 2. **Rounding** (largest remainder): every layer gets `floor(x_l)`, and the units still
///    missing go one each to the layers with the largest fractional part of `x_l` (ties: lower
///    layer index). Without caps this is the reference's `ceil(share_l * R)` with the overshoot
///    of rounding up taken back from the layers whose `share_l * R` had the smallest fractional
///    part; it is the integer split closest to `x` in squared distance. Capped layers have an
///    integer `x_l = cap_l`, so rounding never pushes a layer over its cap.
///
/// Weights that are negative or not finite count as 0. Cost `O(n^2)` for `n` layers.
///
/// # Panics
/// If `weights` and `caps` differ in length, or `total > sum(caps)` (no split fits).
pub fn regrowth_counts(total: usize, weights: &[f64], caps: &[usize]) -> Vec<usize> {
    assert_eq!(weights.len(), caps.len(), "one weight per layer");
    let n = caps.len();
    let room: usize = caps.iter().sum();
    assert!(
        total <= room,
        "cannot place {total} connections in {room} free positions"
    );
    let weight = |l: usize| {
        let w = weights[l];
        if w.is_finite() && w > 0.0 {
            w
        } else {
            0.0
        }
    };
    let mut capped: Vec<bool> = caps.iter().map(|&c| c == 0).collect();
    let mut x = vec![0.0f64; n];
    for _round in 0..=n {
        let fixed: usize = (0..n).filter(|&l| capped[l]).map(|l| caps[l]).sum();
        // A capped layer's cap is at most its share of the previous remainder, so `fixed`
        // never exceeds `total`.
        let rest = total.saturating_sub(fixed) as f64;
        let by_weight: f64 = (0..n).filter(|&l| !capped[l]).map(weight).sum();
        let use_room = by_weight <= 0.0;
        let sum = if use_room {
            (0..n).filter(|&l| !capped[l]).map(|l| caps[l] as f64).sum()
        } else {
            by_weight
        };
        if sum <= 0.0 {
            break;
        }
        let mut newly_capped = false;
        for l in 0..n {
            if capped[l] {
                continue;
            }
            let w = if use_room { caps[l] as f64 } else { weight(l) };
            x[l] = rest * w / sum;
            if x[l] >= caps[l] as f64 {
                capped[l] = true;
                newly_capped = true;
            }
        }
        if !newly_capped {
            break;
        }
    }
    for l in 0..n {
        if capped[l] {
            x[l] = caps[l] as f64;
        }
    }
    let mut counts: Vec<usize> = (0..n)
        .map(|l| (x[l].floor().max(0.0) as usize).min(caps[l]))
        .collect();
    let frac = |l: usize| x[l] - x[l].floor();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| frac(b).total_cmp(&frac(a)).then(a.cmp(&b)));
    let mut assigned: usize = counts.iter().sum();
    // In exact arithmetic one pass hands out every missing unit (fewer than the number of
    // layers with a fractional part); the repeated passes and the trimming loop only absorb
    // floating-point error, and terminate because `total <= sum(caps)`.
    while assigned < total {
        for &l in &order {
            if assigned == total {
                break;
            }
            if counts[l] < caps[l] {
                counts[l] += 1;
                assigned += 1;
            }
        }
    }
    while assigned > total {
        for &l in order.iter().rev() {
            if assigned == total {
                break;
            }
            if counts[l] > 0 {
                counts[l] -= 1;
                assigned -= 1;
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn uncapped_split_rounds_like_ceil_then_trims() {
        // Shares 0.5, 0.3, 0.2 of R = 7: 3.5, 2.1, 1.4; ceil gives 4 + 3 + 2 = 9, two too many,
        // taken back from the smallest fractional parts (2.1, then 1.4): 4, 2, 1.
        assert_eq!(
            regrowth_counts(7, &[5.0, 3.0, 2.0], &[100, 100, 100]),
            [4, 2, 1]
        );
        // Equal fractional parts: the lower layer index gets the unit.
        assert_eq!(regrowth_counts(3, &[1.0, 1.0], &[10, 10]), [2, 1]);
    }

    #[test]
    fn capped_layer_hands_its_residual_to_the_others() {
        // Layer 0 wants 0.8 * 10 = 8 but has room for 3; the remaining 7 split 1:1 over the
        // others (3.5 each), then rounded: 4 to the lower index.
        assert_eq!(
            regrowth_counts(10, &[8.0, 1.0, 1.0], &[3, 50, 50]),
            [3, 4, 3]
        );
        // A second round: after layer 0 caps, layer 1 (2/3 of 9 = 6) exceeds its 5 too.
        assert_eq!(
            regrowth_counts(12, &[8.0, 2.0, 1.0], &[3, 5, 50]),
            [3, 5, 4]
        );
    }

    #[test]
    fn zero_weights_fall_back_to_free_room() {
        // Only the full-momentum layer has weight but it has room for 2; the 4 left go to the
        // zero-weight layers in proportion to their room (1:3).
        assert_eq!(regrowth_counts(6, &[1.0, 0.0, 0.0], &[2, 4, 12]), [2, 1, 3]);
        assert_eq!(regrowth_counts(4, &[0.0, f64::NAN], &[2, 2]), [2, 2]);
        assert_eq!(regrowth_counts(0, &[1.0, 2.0], &[0, 0]), [0, 0]);
    }

    /// The water-filling point by brute force: for every subset `C` of capped layers the level
    /// is `lambda = (total - cap(C)) / w(not C)`; the valid subset has `lambda w_l >= cap_l` on
    /// `C` and `lambda w_l <= cap_l` elsewhere. Returned as exact rationals `num_l / den`.
    fn water_filling(total: i128, w: &[i128], caps: &[i128]) -> (Vec<i128>, i128) {
        let n = w.len();
        for mask in 0..(1usize << n) {
            let inside = |l: usize| mask >> l & 1 == 1;
            let fixed: i128 = (0..n).filter(|&l| inside(l)).map(|l| caps[l]).sum();
            let den: i128 = (0..n).filter(|&l| !inside(l)).map(|l| w[l]).sum();
            if den == 0 || fixed > total {
                continue;
            }
            let rest = total - fixed;
            let ok = (0..n).all(|l| {
                if inside(l) {
                    rest * w[l] >= caps[l] * den
                } else {
                    rest * w[l] <= caps[l] * den
                }
            });
            if ok {
                let num = (0..n)
                    .map(|l| {
                        if inside(l) {
                            caps[l] * den
                        } else {
                            rest * w[l]
                        }
                    })
                    .collect();
                return (num, den);
            }
        }
        unreachable!("positive weights and enough room always admit a water level")
    }

    proptest! {
        /// Against a brute force over every integer split: the counts sum to `total`, respect
        /// the caps, and are as close as any split (exact squared distance in rationals) to the
        /// water-filling point.
        #[test]
        fn split_is_the_closest_integer_point_to_water_filling(
            w in proptest::collection::vec(1i64..7, 2..=3),
            caps in proptest::collection::vec(0usize..9, 3),
            fill in 0.0f64..=1.0,
        ) {
            let n = w.len();
            let caps = &caps[..n];
            let total = (caps.iter().sum::<usize>() as f64 * fill).floor() as usize;
            let wf: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            let got = regrowth_counts(total, &wf, caps);
            prop_assert_eq!(got.iter().sum::<usize>(), total);
            for l in 0..n {
                prop_assert!(got[l] <= caps[l]);
            }
            let wi: Vec<i128> = w.iter().map(|&v| v as i128).collect();
            let ci: Vec<i128> = caps.iter().map(|&c| c as i128).collect();
            let (num, den) = water_filling(total as i128, &wi, &ci);
            let dist = |g: &[usize]| -> i128 {
                (0..n).map(|l| { let d = g[l] as i128 * den - num[l]; d * d }).sum()
            };
            let mut best = i128::MAX;
            let mut g = vec![0usize; n];
            loop {
                if g.iter().sum::<usize>() == total {
                    best = best.min(dist(&g));
                }
                let mut l = 0;
                while l < n && g[l] == caps[l] {
                    g[l] = 0;
                    l += 1;
                }
                if l == n {
                    break;
                }
                g[l] += 1;
            }
            prop_assert_eq!(dist(&got), best);
        }
    }
}
