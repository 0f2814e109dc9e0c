//! Uniform subsets of `0..total` of an exact size, drawn in memory that follows the subset,
//! never `total`.
//!
//! Where connections go is decided by ranks among a layer's free positions, and a layer has
//! `n_in x n_out` of those. `rand::seq::index::sample` draws from a shuffled array of all
//! `total` ranks whenever the subset is more than about 3% of them (measured: a 784-10000^3-10
//! network at 5% density peaked at 464 MB while being built, for a 340 MB model), so this
//! module has its own sampler: i.i.d. uniform draws, kept until `count` distinct values are
//! seen, sorted. By exchangeability the first `count` distinct values of an i.i.d. uniform
//! stream are a uniform `count`-subset. Subsets of more than half of `0..total` are drawn as
//! the complement, so the number of rounds stays logarithmic (each round keeps at least half
//! of its draws).

use rand::{Rng, RngCore};

/// A uniform random subset of `0..total` of exactly `count` elements, in increasing order:
/// the subset itself, or for large subsets the ranks left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortedSubset<T> {
    /// The chosen ranks, increasing.
    Chosen(Vec<T>),
    /// Every rank of `0..total` but these (increasing).
    AllBut {
        /// `total`.
        total: T,
        /// The ranks left out, increasing.
        excluded: Vec<T>,
    },
}

/// A rank type: `u32` for sets of fewer than 2^32 positions (4 bytes per rank), `u64` beyond.
pub trait Rank:
    Copy + Ord + Into<u64> + TryFrom<u64> + rand::distr::uniform::SampleUniform
{
    /// `0`.
    const ZERO: Self;
    /// The rank as an index.
    fn index(self) -> usize;
}

impl Rank for u32 {
    const ZERO: Self = 0;
    fn index(self) -> usize {
        self as usize
    }
}

impl Rank for u64 {
    const ZERO: Self = 0;
    fn index(self) -> usize {
        usize::try_from(self).expect("a rank below total fits an index")
    }
}

impl<T: Rank> SortedSubset<T> {
    /// Draws a uniform `count`-subset of `0..total`. Memory `O(min(count, total - count))`,
    /// time `O(count log count)` for subsets up to half of `total`.
    ///
    /// # Panics
    /// If `count > total`.
    pub fn draw(rng: &mut (impl RngCore + ?Sized), total: T, count: u64) -> Self {
        let n: u64 = total.into();
        assert!(count <= n, "cannot choose {count} of {n}");
        if count <= n / 2 {
            SortedSubset::Chosen(distinct_draws(rng, total, count))
        } else {
            SortedSubset::AllBut {
                total,
                excluded: distinct_draws(rng, total, n - count),
            }
        }
    }

    /// The chosen ranks in increasing order, as indices.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let (chosen, rest) = match self {
            SortedSubset::Chosen(c) => (Some(c.iter().map(|r| r.index())), None),
            SortedSubset::AllBut { total, excluded } => {
                let mut skip = excluded.iter().map(|r| r.index()).peekable();
                let all = (0..total.index()).filter(move |&r| skip.next_if_eq(&r).is_none());
                (None, Some(all))
            }
        };
        chosen
            .into_iter()
            .flatten()
            .chain(rest.into_iter().flatten())
    }
}

/// The first `count` distinct values of a stream of uniform draws from `0..total`, sorted.
/// Each round draws as many values as are still missing, so a round never overshoots and the
/// result is exactly the stream's first `count` distinct values.
fn distinct_draws<T: Rank, R: RngCore + ?Sized>(rng: &mut R, total: T, count: u64) -> Vec<T> {
    let count = usize::try_from(count).expect("a subset held in memory has fewer than 2^64");
    let draw = |rng: &mut R| rng.random_range(T::ZERO..total);
    // The first round is drawn into the result itself; later rounds, each the size of what is
    // still missing (a share of the first about half the subset's share of `total`), into a
    // buffer of their own.
    let mut chosen: Vec<T> = Vec::with_capacity(count);
    chosen.extend((0..count).map(|_| draw(rng)));
    chosen.sort_unstable();
    chosen.dedup();
    let mut round: Vec<T> = Vec::new();
    while chosen.len() < count {
        round.clear();
        round.extend((chosen.len()..count).map(|_| draw(rng)));
        round.sort_unstable();
        round.dedup();
        round.retain(|r| chosen.binary_search(r).is_err());
        merge_sorted(&mut chosen, &round);
    }
    chosen
}

/// Merges the increasing, disjoint `extra` into the increasing `into`, in place from the back
/// (`into` was allocated with room for all of it).
fn merge_sorted<T: Rank>(into: &mut Vec<T>, extra: &[T]) {
    let old = into.len();
    into.resize(old + extra.len(), T::ZERO);
    let (mut i, mut j) = (old, extra.len());
    for dest in (0..into.len()).rev() {
        if j == 0 {
            break;
        }
        if i > 0 && into[i - 1] > extra[j - 1] {
            i -= 1;
            into[dest] = into[i];
        } else {
            j -= 1;
            into[dest] = extra[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    proptest! {
        #[test]
        fn a_subset_has_exactly_count_distinct_sorted_ranks_below_total(
            total in 0u32..300, share in 0.0f64..=1.0, seed in any::<u64>()
        ) {
            let count = (share * total as f64).floor() as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let s = SortedSubset::draw(&mut rng, total, count);
            let ranks: Vec<usize> = s.iter().collect();
            prop_assert_eq!(ranks.len() as u64, count);
            prop_assert!(ranks.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(ranks.iter().all(|&r| r < total as usize));
        }

        #[test]
        fn merging_keeps_the_union_sorted(
            a in proptest::collection::btree_set(0u32..1000, 0..40),
            b in proptest::collection::btree_set(0u32..1000, 0..40),
        ) {
            let mut into: Vec<u32> = a.iter().copied().collect();
            let extra: Vec<u32> = b.difference(&a).copied().collect();
            merge_sorted(&mut into, &extra);
            let union: Vec<u32> = a.union(&b).copied().collect();
            prop_assert_eq!(into, union);
        }
    }

    /// Every rank is chosen with probability `count / total`, and every pair with the
    /// probability of a uniform subset, on both sides of the complement switch: counted over
    /// 20,000 draws and held to 5 standard errors.
    #[test]
    fn ranks_and_pairs_are_chosen_as_often_as_in_a_uniform_subset() {
        let total = 12u32;
        for count in [3u64, 6, 9] {
            let mut rng = ChaCha8Rng::seed_from_u64(count);
            let draws = 20_000;
            let mut single = [0u32; 12];
            let mut pair = [[0u32; 12]; 12];
            for _ in 0..draws {
                let ranks: Vec<usize> = SortedSubset::draw(&mut rng, total, count).iter().collect();
                for &a in &ranks {
                    single[a] += 1;
                    for &b in &ranks {
                        pair[a][b] += 1;
                    }
                }
            }
            let (k, n) = (count as f64, total as f64);
            let check = |seen: u32, p: f64, what: &str| {
                let expected = draws as f64 * p;
                let se = (draws as f64 * p * (1.0 - p)).sqrt();
                assert!(
                    (seen as f64 - expected).abs() < 5.0 * se,
                    "{what}: {seen} times, expected {expected:.0} ({count} of {total})"
                );
            };
            for (a, (&once, with)) in single.iter().zip(&pair).enumerate() {
                check(once, k / n, &format!("rank {a}"));
                for (b, &both) in with.iter().enumerate().skip(a + 1) {
                    check(
                        both,
                        k * (k - 1.0) / (n * (n - 1.0)),
                        &format!("pair {a},{b}"),
                    );
                }
            }
        }
    }

    #[test]
    fn a_full_or_empty_subset_draws_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let all = SortedSubset::draw(&mut rng, 5u64, 5);
        assert_eq!(all.iter().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert_eq!(SortedSubset::draw(&mut rng, 5u32, 0).iter().count(), 0);
        let mut fresh = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(rng.next_u64(), fresh.next_u64(), "no random word was drawn");
    }
}
