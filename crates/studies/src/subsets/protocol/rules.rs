//! The selection rules: pure functions from per-example statistics to the rows kept (see the
//! module docs of [`crate::subsets`] for each rule and its ties).

use super::SubsetRule;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// What the scoring runs say about one training row.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleScore {
    /// The stable example id (0-based data row of the dataset file).
    pub example_id: usize,
    /// Forgetting events in the short sparse run, or `presentations + 1` when never learned
    /// (`ExampleStats::forgetting_rank`); > 0 exactly for PrAC's A.
    pub forgetting_rank: u32,
    /// EL2N at the scoring epoch.
    pub el2n: f64,
    /// PrAC's B: the short dense run predicts it differently (evaluation mode, after the run).
    pub disagrees: bool,
}

impl ExampleScore {
    /// A row with no statistics (for rules that need none).
    pub fn unscored(example_id: usize) -> Self {
        ExampleScore {
            example_id,
            forgetting_rank: 0,
            el2n: 0.0,
            disagrees: false,
        }
    }

    /// In PrAC's set A ∪ B.
    pub fn in_prac(&self) -> bool {
        self.forgetting_rank > 0 || self.disagrees
    }
}

/// Rows kept at `fraction` of `n`: `round(fraction * n)`, at least 1 and at most `n`.
pub fn subset_size(n: usize, fraction: f64) -> usize {
    ((fraction * n as f64).round() as usize).clamp(1.min(n), n)
}

/// Every row position of `scores`, the first to keep first (see the module docs for each
/// rule). `rng` (the run's `subset` stream) orders `random` and the ties of `toneva`.
pub fn keep_order(rule: SubsetRule, scores: &[ExampleScore], rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..scores.len()).collect();
    let by_id = |a: &usize, b: &usize| scores[*a].example_id.cmp(&scores[*b].example_id);
    let rank = |a: &usize, b: &usize| scores[*b].forgetting_rank.cmp(&scores[*a].forgetting_rank);
    let el2n = |a: &usize, b: &usize| scores[*b].el2n.total_cmp(&scores[*a].el2n);
    match rule {
        SubsetRule::All => {}
        SubsetRule::Random => rows.shuffle(rng),
        SubsetRule::Toneva => {
            rows.shuffle(rng);
            // Stable: equal counts keep their random order.
            rows.sort_by(rank);
        }
        SubsetRule::Forgetting => {
            rows.sort_by(|a, b| rank(a, b).then(el2n(a, b)).then(by_id(a, b)))
        }
        SubsetRule::El2n => rows.sort_by(|a, b| el2n(a, b).then(rank(a, b)).then(by_id(a, b))),
        SubsetRule::Prac => rows.sort_by(|a, b| {
            scores[*b]
                .disagrees
                .cmp(&scores[*a].disagrees)
                .then(rank(a, b))
                .then(el2n(a, b))
                .then(by_id(a, b))
        }),
    }
    rows
}

/// The row positions `rule` keeps at `fraction`, ascending.
pub fn select(
    rule: SubsetRule,
    scores: &[ExampleScore],
    fraction: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut rows = keep_order(rule, scores, rng);
    rows.truncate(subset_size(scores.len(), fraction));
    rows.sort_unstable();
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::rngs::stream;

    fn score(id: usize, rank: u32, el2n: f64, disagrees: bool) -> ExampleScore {
        ExampleScore {
            example_id: id,
            forgetting_rank: rank,
            el2n,
            disagrees,
        }
    }

    /// Ten rows (ids 100..110): ranks, EL2N and disagreements chosen so every rule has one
    /// known answer.
    fn scores() -> Vec<ExampleScore> {
        vec![
            score(100, 0, 0.10, false),
            score(101, 3, 0.50, false),
            score(102, 0, 0.90, true),
            score(103, 1, 0.20, false),
            score(104, 0, 0.30, false),
            score(105, 6, 1.20, false), // never learned in 5 epochs: 5 + 1
            score(106, 1, 0.60, false),
            score(107, 0, 0.05, true),
            score(108, 0, 0.30, false),
            score(109, 2, 0.40, false),
        ]
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        stream(seed, "subset")
    }

    #[test]
    fn sizes_round_and_stay_in_range() {
        assert_eq!(subset_size(455, 0.1), 46);
        assert_eq!(subset_size(455, 0.3), 137);
        assert_eq!(subset_size(10, 0.01), 1);
        assert_eq!(subset_size(10, 1.0), 10);
        assert_eq!(subset_size(0, 0.5), 0);
    }

    #[test]
    fn forgetting_keeps_the_most_forgotten_ties_by_el2n() {
        let s = scores();
        // Ranks 6, 3, 2, then the two 1s by EL2N (106: 0.6 before 103: 0.2).
        assert_eq!(
            keep_order(SubsetRule::Forgetting, &s, &mut rng(1))[..5],
            [5, 1, 9, 6, 3]
        );
        assert_eq!(
            select(SubsetRule::Forgetting, &s, 0.4, &mut rng(1)),
            vec![1, 5, 6, 9]
        );
        // Among the rank-0 rows, EL2N then the smaller id (104 and 108 tie at 0.3).
        assert_eq!(
            keep_order(SubsetRule::Forgetting, &s, &mut rng(1))[5..],
            [2, 4, 8, 0, 7]
        );
    }

    #[test]
    fn el2n_keeps_the_highest_scores_ties_by_forgetting_then_id() {
        let mut s = scores();
        s[4].forgetting_rank = 1; // 104 and 108 tie on EL2N; 104 now forgotten more.
        assert_eq!(
            keep_order(SubsetRule::El2n, &s, &mut rng(1)),
            vec![5, 2, 6, 1, 9, 4, 8, 3, 0, 7]
        );
        assert_eq!(
            select(SubsetRule::El2n, &s, 0.3, &mut rng(1)),
            vec![2, 5, 6]
        );
    }

    #[test]
    fn toneva_drops_the_least_forgotten_first_with_random_ties() {
        let s = scores();
        // Removing 40%: the five rank-0 rows are the candidates; four of them go.
        let kept = select(SubsetRule::Toneva, &s, 0.6, &mut rng(1));
        assert_eq!(kept.len(), 6);
        for forgotten in [1, 3, 5, 6, 9] {
            assert!(kept.contains(&forgotten), "{kept:?}");
        }
        // Which rank-0 row survives is random but reproducible, and varies with the seed.
        assert_eq!(kept, select(SubsetRule::Toneva, &s, 0.6, &mut rng(1)));
        let survivors: std::collections::BTreeSet<usize> = (1..40)
            .map(|seed| {
                let k = select(SubsetRule::Toneva, &s, 0.6, &mut rng(seed));
                *k.iter().find(|r| s[**r].forgetting_rank == 0).unwrap()
            })
            .collect();
        assert!(survivors.len() > 2, "{survivors:?}");
        // The forgotten rows keep their order by count: never learned (6) first.
        assert_eq!(
            keep_order(SubsetRule::Toneva, &s, &mut rng(3))[..3],
            [5, 1, 9]
        );
    }

    #[test]
    fn prac_ranks_disagreements_then_forgotten_then_the_rest() {
        let s = scores();
        let order = keep_order(SubsetRule::Prac, &s, &mut rng(1));
        // B = {102, 107} (102 first: higher EL2N at equal rank), then A by rank and EL2N.
        assert_eq!(order, vec![2, 7, 5, 1, 9, 6, 3, 4, 8, 0]);
        assert_eq!(s.iter().filter(|x| x.in_prac()).count(), 7);
        assert_eq!(
            select(SubsetRule::Prac, &s, 0.3, &mut rng(1)),
            vec![2, 5, 7]
        );
    }

    #[test]
    fn random_is_reproducible_nested_and_seed_dependent() {
        let s: Vec<ExampleScore> = (0..200).map(ExampleScore::unscored).collect();
        let a = select(SubsetRule::Random, &s, 0.3, &mut rng(1));
        assert_eq!(a.len(), 60);
        assert!(a.windows(2).all(|w| w[0] < w[1]), "ascending, distinct");
        assert_eq!(a, select(SubsetRule::Random, &s, 0.3, &mut rng(1)));
        assert_ne!(a, select(SubsetRule::Random, &s, 0.3, &mut rng(2)));
        let b = select(SubsetRule::Random, &s, 0.5, &mut rng(1));
        assert!(a.iter().all(|r| b.contains(r)), "30% inside 50%");
        assert_eq!(
            select(SubsetRule::All, &s, 1.0, &mut rng(1)),
            (0..200).collect::<Vec<_>>()
        );
    }
}
