//! Selection rules of topology updates: which connections to remove and where to grow new ones.
//!
//! Each rule returns a decision (`keep` flags, or positions) and leaves applying it to
//! [`crate::SparseLayer::retain`] and [`crate::SparseLayer::insert`], so every method shares one
//! edit path. Nothing here builds an `n_in x n_out` buffer: removal works on the stored values,
//! random growth on per-row free counts ([`crate::init::sample_free_positions`]), and score-based
//! growth streams blocks of rows through a bounded heap ([`top_k_free_positions`]).

use crate::csr::Csr;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Range;

/// Magnitude removal: removes the `n_remove` weights of smallest `|w|` (ties by position), as
/// in RigL's drop step (Evci et al. 2020, §3). Returns one keep flag per value.
pub fn magnitude_removal(values: &[f32], n_remove: usize) -> Vec<bool> {
    let mut keep = vec![true; values.len()];
    let magnitude = |k: usize| Some(values[k].to_bits() & MAGNITUDE);
    mark_smallest(values.len(), magnitude, n_remove, |k| keep[k] = false);
    keep
}

/// The bits of `|v|` in an `f32`'s bits: for values without a sign bit the bits order as
/// `total_cmp` does (NaN above infinity), so magnitudes compare as integers.
pub const MAGNITUDE: u32 = 0x7fff_ffff;

/// Calls `mark(k)` for the `n` items of smallest `(key(k), k)` among those with a key (all of
/// them when fewer have one), in increasing `k`: the set a sort of the keyed items would give.
///
/// A radix select over the keys' bits (two counting passes of 16 bits each find the `n`-th
/// key, a third marks) needs 512 KB of counts and no per-item list, where sorting or
/// `select_nth_unstable` needs 4 bytes per connection of index list: the transient memory of a
/// topology update that would otherwise set the peak memory of training. Removal rules
/// (magnitude removal here, SET's sign-split rule in `dst-set`) are keys over it.
pub fn mark_smallest(
    len: usize,
    key: impl Fn(usize) -> Option<u32>,
    n: usize,
    mut mark: impl FnMut(usize),
) {
    if n == 0 {
        return;
    }
    const BUCKETS: usize = 1 << 16;
    let mut counts = vec![0usize; BUCKETS];
    for x in (0..len).filter_map(&key) {
        counts[(x >> 16) as usize] += 1;
    }
    let Some((high, below_high)) = crossing(&counts, n) else {
        (0..len).filter(|&k| key(k).is_some()).for_each(mark);
        return;
    };
    counts.fill(0);
    for x in (0..len).filter_map(&key).filter(|x| x >> 16 == high as u32) {
        counts[(x & 0xffff) as usize] += 1;
    }
    let (low, below_low) = crossing(&counts, n - below_high).expect("the bucket holds the n-th");
    let threshold = (high as u32) << 16 | low as u32;
    // Of the keys equal to the threshold, the earliest positions fill the rest.
    let mut ties = n - below_high - below_low;
    for k in 0..len {
        match key(k) {
            Some(x) if x < threshold => mark(k),
            Some(x) if x == threshold && ties > 0 => {
                ties -= 1;
                mark(k);
            }
            _ => {}
        }
    }
}

/// The first bucket at which the running count reaches `n`, with the count before it; `None`
/// when all buckets together hold fewer than `n`.
fn crossing(counts: &[usize], n: usize) -> Option<(usize, usize)> {
    let mut before = 0;
    for (b, &c) in counts.iter().enumerate() {
        if before + c >= n {
            return Some((b, before));
        }
        before += c;
    }
    None
}

/// A source of scores for every position of a layer, produced a block of rows at a time so a
/// full `n_in x n_out` score matrix never exists (e.g. `|Xᵀ dZ|` for RigL's growth).
pub trait ScoreSource {
    /// Writes the scores of rows `rows` into `out`, row-major, `rows.len() x n_cols`.
    fn fill_rows(&mut self, rows: Range<usize>, out: &mut [f32]);
}

impl<F: FnMut(Range<usize>, &mut [f32])> ScoreSource for F {
    fn fill_rows(&mut self, rows: Range<usize>, out: &mut [f32]) {
        self(rows, out)
    }
}

/// A candidate position in the top-k heap: ordered so that the heap's top is the *worst* kept
/// candidate (lowest score, then highest position).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    score: f32,
    pos: (u32, u32),
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    /// "Greater" means worse: lower score, or equal score and later position.
    fn cmp(&self, o: &Self) -> Ordering {
        o.score.total_cmp(&self.score).then(self.pos.cmp(&o.pos))
    }
}

/// Score elements per block that growth rules request by default: 256 KiB of scores, enough
/// rows per block to keep the scoring kernel efficient, small beside any layer worth
/// sparsifying (a RigL update's extra memory must stay a small share of the model's).
pub const SCORE_BLOCK_ELEMS: usize = 1 << 16;

/// The `k` free positions of `pattern` with the largest scores (ties: smaller `(row, col)`
/// first), sorted by position. NaN scores count as `-inf`.
///
/// Scores are requested in blocks of at most `block_elems` elements (at least one row), and a
/// heap holds at most `k` candidates: memory `O(k + block_elems)`.
pub fn top_k_free_positions(
    pattern: &Csr,
    k: usize,
    source: &mut dyn ScoreSource,
    block_elems: usize,
) -> Vec<(u32, u32)> {
    let (n_rows, n_cols) = (pattern.n_rows(), pattern.n_cols());
    if k == 0 || n_cols == 0 {
        return Vec::new();
    }
    let rows_per_block = (block_elems / n_cols).max(1);
    let mut block = vec![0.0f32; rows_per_block.min(n_rows) * n_cols];
    let mut heap: BinaryHeap<Candidate> = BinaryHeap::with_capacity(k + 1);
    let mut start = 0;
    while start < n_rows {
        let end = (start + rows_per_block).min(n_rows);
        let buf = &mut block[..(end - start) * n_cols];
        source.fill_rows(start..end, buf);
        for i in start..end {
            let row = &buf[(i - start) * n_cols..(i - start + 1) * n_cols];
            let occupied = pattern.row_cols(i);
            let mut p = 0;
            for (j, &s) in row.iter().enumerate() {
                if p < occupied.len() && occupied[p] as usize == j {
                    p += 1;
                    continue;
                }
                let score = if s.is_nan() { f32::NEG_INFINITY } else { s };
                let c = Candidate {
                    score,
                    pos: (i as u32, j as u32),
                };
                if heap.len() < k {
                    heap.push(c);
                } else if c < *heap.peek().expect("heap holds k > 0 items") {
                    heap.pop();
                    heap.push(c);
                }
            }
        }
        start = end;
    }
    let mut out: Vec<(u32, u32)> = heap.into_iter().map(|c| c.pos).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{random_pattern, sample_free_positions, WeightSampler};
    use crate::layer::SparseLayer;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn magnitude_removal_by_hand() {
        let v = [0.5, -0.1, 2.0, 0.1, -3.0];
        // Smallest |w|: -0.1 (pos 1) and 0.1 (pos 3) tie; both removed with n=2.
        assert_eq!(
            magnitude_removal(&v, 2),
            vec![true, false, true, false, true]
        );
        // n=1 removes the earlier of the tie.
        assert_eq!(
            magnitude_removal(&v, 1),
            vec![true, false, true, true, true]
        );
    }

    proptest! {
        /// Keys spread over both 16-bit halves with many ties: the radix select marks what a
        /// sort of the keyed items by `(key, position)` puts first.
        #[test]
        fn mark_smallest_marks_what_a_sort_puts_first(
            keys in proptest::collection::vec(
                proptest::option::of(prop_oneof![0u32..4, (0u32..4).prop_map(|x| x << 16 | 7), any::<u32>()]),
                0..80,
            ),
            n in 0usize..90,
        ) {
            let mut marked = Vec::new();
            mark_smallest(keys.len(), |k| keys[k], n, |k| marked.push(k));
            let mut order: Vec<usize> = (0..keys.len()).filter(|&k| keys[k].is_some()).collect();
            order.sort_by_key(|&k| (keys[k], k));
            order.truncate(n);
            order.sort_unstable();
            prop_assert_eq!(marked, order);
        }

        #[test]
        fn magnitude_removal_removes_exactly_the_smallest(values in proptest::collection::vec(-5i32..=5, 0..60), n in 0usize..70) {
            let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
            let keep = magnitude_removal(&v, n);
            let removed: Vec<usize> = (0..v.len()).filter(|&k| !keep[k]).collect();
            prop_assert_eq!(removed.len(), n.min(v.len()));
            let mut order: Vec<usize> = (0..v.len()).collect();
            order.sort_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()).then(a.cmp(&b)));
            let mut want = order[..n.min(v.len())].to_vec();
            want.sort();
            prop_assert_eq!(removed, want);
        }

        /// Removal + random regrow (SET's update with magnitude removal) preserves nnz and
        /// leaves a valid, duplicate-free pattern whose momentum is zero exactly at the new
        /// connections.
        #[test]
        fn remove_and_regrow_preserves_nnz(rows in 1usize..10, cols in 1usize..10, fill in 0.0f64..=1.0,
                                    zeta in 0.0f64..=1.0, seed: u64) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let count = ((rows * cols) as f64 * fill) as usize;
            let w = random_pattern(rows, cols, count, &mut rng).unwrap();
            let mut layer = SparseLayer::new(w, WeightSampler::Uniform { limit: 1.0 }, true);
            let sampler = layer.sampler;
            sampler.fill(layer.weights.values_mut(), &mut rng);
            layer.momentum = (0..count).map(|k| k as f32 + 1.0).collect();
            let before: Vec<(usize, u32, f32)> = triples(&layer);
            let keep = magnitude_removal(layer.weights.values(), (zeta * count as f64) as usize);
            let removed = layer.retain(&keep);
            let grow = sample_free_positions(&layer.weights, removed, &mut rng).unwrap();
            let vals: Vec<f32> = grow.iter().map(|_| sampler.sample(&mut rng)).collect();
            layer.insert(&grow, &vals).unwrap();
            prop_assert_eq!(layer.nnz(), count);
            prop_assert_eq!(layer.momentum.len(), count);
            // Survivors keep their momentum (their old value + 1 encodes their old offset).
            for (i, j, m) in triples(&layer) {
                let old = before.iter().position(|&(a, b, _)| a == i && b == j);
                let is_new = grow.contains(&(i as u32, j));
                if is_new { prop_assert_eq!(m, 0.0); } else {
                    prop_assert!(old.is_some());
                    prop_assert_eq!(m, before[old.unwrap()].2);
                }
            }
        }

        #[test]
        fn top_k_matches_brute_force(rows in 0usize..9, cols in 1usize..9, fill in 0.0f64..1.0,
                                     k in 0usize..20, block in 1usize..30, seed: u64,
                                     scores in proptest::collection::vec(0i32..5, 81)) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let count = ((rows * cols) as f64 * fill) as usize;
            let w = random_pattern(rows, cols, count, &mut rng).unwrap();
            let score = |i: usize, j: usize| scores[(i * cols + j) % scores.len()] as f32;
            let mut src = |r: Range<usize>, out: &mut [f32]| {
                for (a, i) in r.enumerate() { for j in 0..cols { out[a * cols + j] = score(i, j); } }
            };
            let got = top_k_free_positions(&w, k, &mut src, block);
            let mut all: Vec<(u32, u32)> = (0..rows).flat_map(|i| (0..cols).map(move |j| (i as u32, j as u32)))
                .filter(|&(i, j)| !w.contains(i as usize, j)).collect();
            all.sort_by(|a, b| score(b.0 as usize, b.1 as usize).total_cmp(&score(a.0 as usize, a.1 as usize)).then(a.cmp(b)));
            let mut want = all[..k.min(all.len())].to_vec();
            want.sort();
            prop_assert_eq!(got, want);
        }
    }

    fn triples(l: &SparseLayer) -> Vec<(usize, u32, f32)> {
        let rows = l.weights.row_indices();
        (0..l.nnz())
            .map(|k| (rows[k] as usize, l.weights.col_idx()[k], l.momentum[k]))
            .collect()
    }
}
