//! Data-aware dynamic sparse training (part2-data-aware): DST methods extended to accommodate
//! hard-to-memorize and easy-to-forget examples, the aim of the seed paper's Part II. Each
//! option is a data policy of the training loop ([`models::policy`]), not a special case in it:
//!
//! - `removal`: MEST's data-efficient mode (Yuan et al. 2021): at a chosen point of training,
//!   drop the least-forgotten examples and train on the rest;
//! - `hard-growth`: RigL-style growth scored on a batch drawn from the currently most
//!   forgettable examples instead of the step's random batch ([`GrowthBatchSource`]);
//! - `rehearsal`: for the steps right after a topology update, the most forgettable examples
//!   are added to each batch ([`DataSampler::extra_rows`]);
//! - `plain`: the method as published, the control.
//!
//! "Forgettable" is ranked by the loop's online Toneva statistics
//! ([`OnlineForgetting::most_forgettable_first`]): forgetting events so far, never-learned
//! rows first, ties by the latest EL2N.

use crate::config::MethodsConfig;
use crate::registry::{self, MethodKind};
use models::policy::{DataSampler, GrowthBatchSource, OnlineForgetting};
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sparse_core::TrainingClock;

/// One data-aware option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataAwareOption {
    /// The method as published.
    Plain,
    /// Drop the least-forgotten examples at `remove_at` of training (MEST's data-efficient
    /// mode).
    Removal,
    /// Growth scored on the most forgettable examples.
    HardGrowth,
    /// The most forgettable examples added to the batches right after a topology update.
    Rehearsal,
}

impl DataAwareOption {
    /// The name used in configs, run keys and tables.
    pub fn name(self) -> &'static str {
        match self {
            DataAwareOption::Plain => "plain",
            DataAwareOption::Removal => "removal",
            DataAwareOption::HardGrowth => "hard-growth",
            DataAwareOption::Rehearsal => "rehearsal",
        }
    }

    /// Every option, in table order.
    pub const ALL: [DataAwareOption; 4] = [
        DataAwareOption::Plain,
        DataAwareOption::Removal,
        DataAwareOption::HardGrowth,
        DataAwareOption::Rehearsal,
    ];

    /// Whether the option changes anything for `method` (with its `[methods]` parameters):
    /// rehearsal needs topology updates, hard-growth a method that grows by gradient.
    pub fn applies_to(self, method: &str, methods: &MethodsConfig) -> bool {
        let built = registry::build(method, methods);
        let (rewires, by_gradient) = match &built {
            Ok(MethodKind::Sparse(m)) => (m.rewires(), m.grows_by_gradient()),
            _ => (false, false),
        };
        match self {
            DataAwareOption::Plain | DataAwareOption::Removal => true,
            DataAwareOption::HardGrowth => by_gradient,
            DataAwareOption::Rehearsal => rewires,
        }
    }
}

/// `[data_aware]`: the options compared (a grid axis) and their settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataAwareConfig {
    /// Options to run for every method (an option that changes nothing for a method is
    /// skipped for it, see [`DataAwareOption::applies_to`]).
    pub options: Vec<DataAwareOption>,
    /// `removal`: the fraction of the epochs after which examples are dropped (MEST drops at
    /// epoch 70 of 160, 0.44).
    #[serde(default = "DataAwareConfig::default_remove_at")]
    pub remove_at: f64,
    /// `removal`: the fraction of the training examples dropped, least forgotten first.
    #[serde(default = "DataAwareConfig::default_remove_fraction")]
    pub remove_fraction: f64,
    /// `hard-growth` and `rehearsal`: the pool of the most forgettable examples drawn from,
    /// as a fraction of the training examples.
    #[serde(default = "DataAwareConfig::default_hard_pool")]
    pub hard_pool: f64,
    /// `hard-growth`: examples in the growth batch; default the training batch size.
    #[serde(default)]
    pub growth_rows: Option<usize>,
    /// `rehearsal`: steps after each topology update whose batches get rehearsal rows.
    #[serde(default = "DataAwareConfig::default_rehearsal_steps")]
    pub rehearsal_steps: usize,
    /// `rehearsal`: rows added to each of those batches.
    #[serde(default = "DataAwareConfig::default_rehearsal_rows")]
    pub rehearsal_rows: usize,
}

impl Default for DataAwareConfig {
    /// No options, every setting at its default.
    fn default() -> Self {
        DataAwareConfig {
            options: Vec::new(),
            remove_at: Self::default_remove_at(),
            remove_fraction: Self::default_remove_fraction(),
            hard_pool: Self::default_hard_pool(),
            growth_rows: None,
            rehearsal_steps: Self::default_rehearsal_steps(),
            rehearsal_rows: Self::default_rehearsal_rows(),
        }
    }
}

impl DataAwareConfig {
    fn default_remove_at() -> f64 {
        0.5
    }
    fn default_remove_fraction() -> f64 {
        0.3
    }
    fn default_hard_pool() -> f64 {
        0.2
    }
    fn default_rehearsal_steps() -> usize {
        10
    }
    fn default_rehearsal_rows() -> usize {
        5
    }

    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((format!("data_aware.{f}"), r));
        if self.options.is_empty() {
            return fail("options", "list at least one option".into());
        }
        if !(self.remove_at > 0.0 && self.remove_at < 1.0) {
            return fail("remove_at", format!("{} is not in (0, 1)", self.remove_at));
        }
        if !(self.remove_fraction > 0.0 && self.remove_fraction < 1.0) {
            return fail(
                "remove_fraction",
                format!("{} is not in (0, 1)", self.remove_fraction),
            );
        }
        if !(self.hard_pool > 0.0 && self.hard_pool <= 1.0) {
            return fail("hard_pool", format!("{} is not in (0, 1]", self.hard_pool));
        }
        if self.growth_rows == Some(0) {
            return fail("growth_rows", "must be at least 1".into());
        }
        Ok(())
    }
}

/// The first `ceil(fraction * n)` rows of the most-forgettable ranking (at least one).
fn hard_pool(stats: &OnlineForgetting, fraction: f64) -> Vec<usize> {
    let mut ranked = stats.most_forgettable_first();
    let k = ((fraction * ranked.len() as f64).ceil() as usize).clamp(1, ranked.len().max(1));
    ranked.truncate(k);
    ranked
}

/// `k` rows drawn without replacement from the hard pool (all of it when smaller), in pool
/// order so that equal draws give equal batches.
fn draw_hard(
    stats: &OnlineForgetting,
    fraction: f64,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let pool = hard_pool(stats, fraction);
    if k >= pool.len() {
        return pool;
    }
    let mut picked = sample(rng, pool.len(), k).into_vec();
    picked.sort_unstable();
    picked.into_iter().map(|i| pool[i]).collect()
}

/// The sampler of `removal` and `rehearsal` (every row, every epoch, for the others).
#[derive(Debug)]
pub struct DataAwareSampler {
    option: DataAwareOption,
    cfg: DataAwareConfig,
    /// First 0-based epoch without the removed rows.
    remove_epoch: usize,
    removed: Option<Vec<bool>>,
    rehearsal_left: usize,
    rng: ChaCha8Rng,
}

impl DataAwareSampler {
    /// The sampler of `option` for a run of `epochs` epochs; `rng` is the run's
    /// `data-sampler` stream.
    pub fn new(
        option: DataAwareOption,
        cfg: &DataAwareConfig,
        epochs: usize,
        rng: ChaCha8Rng,
    ) -> Self {
        DataAwareSampler {
            option,
            cfg: cfg.clone(),
            remove_epoch: ((cfg.remove_at * epochs as f64).round() as usize).max(1),
            removed: None,
            rehearsal_left: 0,
            rng,
        }
    }

    /// Training rows removed so far (`removal`).
    pub fn removed_rows(&self) -> usize {
        self.removed
            .as_ref()
            .map_or(0, |r| r.iter().filter(|&&x| x).count())
    }
}

impl DataSampler for DataAwareSampler {
    fn epoch_rows(&mut self, epoch: usize, order: &mut Vec<usize>, stats: &OnlineForgetting) {
        if self.option != DataAwareOption::Removal || epoch < self.remove_epoch {
            return;
        }
        let removed = self.removed.get_or_insert_with(|| {
            // The least forgotten: the tail of the most-forgettable ranking.
            let ranked = stats.most_forgettable_first();
            let k = (self.cfg.remove_fraction * ranked.len() as f64).round() as usize;
            let mut mask = vec![false; ranked.len()];
            for &r in ranked.iter().rev().take(k) {
                mask[r] = true;
            }
            mask
        });
        order.retain(|&r| !removed[r]);
    }

    fn extra_rows(&mut self, _clock: &TrainingClock, stats: &OnlineForgetting) -> Vec<usize> {
        if self.option != DataAwareOption::Rehearsal || self.rehearsal_left == 0 {
            return Vec::new();
        }
        self.rehearsal_left -= 1;
        draw_hard(
            stats,
            self.cfg.hard_pool,
            self.cfg.rehearsal_rows,
            &mut self.rng,
        )
    }

    fn on_topology_update(&mut self, _step: usize) {
        if self.option == DataAwareOption::Rehearsal {
            self.rehearsal_left = self.cfg.rehearsal_steps;
        }
    }
}

/// The growth source of `hard-growth` (the step's batch for the others).
#[derive(Debug)]
pub struct HardGrowth {
    option: DataAwareOption,
    pool: f64,
    rows: usize,
    rng: ChaCha8Rng,
}

impl HardGrowth {
    /// The growth source of `option`; `batch_size` is the default growth batch size and `rng`
    /// the run's `growth-batch` stream.
    pub fn new(
        option: DataAwareOption,
        cfg: &DataAwareConfig,
        batch_size: usize,
        rng: ChaCha8Rng,
    ) -> Self {
        HardGrowth {
            option,
            pool: cfg.hard_pool,
            rows: cfg.growth_rows.unwrap_or(batch_size),
            rng,
        }
    }
}

impl GrowthBatchSource for HardGrowth {
    fn growth_rows(
        &mut self,
        _clock: &TrainingClock,
        stats: &OnlineForgetting,
    ) -> Option<Vec<usize>> {
        (self.option == DataAwareOption::HardGrowth && !stats.is_empty())
            .then(|| draw_hard(stats, self.pool, self.rows, &mut self.rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::rngs::stream;

    fn cfg() -> DataAwareConfig {
        toml::from_str("options = [\"plain\", \"removal\", \"hard-growth\", \"rehearsal\"]")
            .unwrap()
    }

    /// Rows 0..10; row i forgotten i times (row 9 the most forgettable).
    fn stats() -> OnlineForgetting {
        let mut s = OnlineForgetting::new(10);
        for r in 0..10 {
            s.record(r, true, 0.1);
            for _ in 0..r {
                s.record(r, false, 0.9);
                s.record(r, true, 0.1);
            }
        }
        s
    }

    fn clock(step: usize) -> TrainingClock {
        TrainingClock {
            epoch: 0,
            epochs: 10,
            step,
            steps_per_epoch: 5,
        }
    }

    #[test]
    fn removal_drops_the_least_forgotten_from_its_epoch_on_and_nothing_else() {
        let (c, s) = (cfg(), stats());
        let mut sampler = DataAwareSampler::new(DataAwareOption::Removal, &c, 10, stream(1, "x"));
        let all: Vec<usize> = (0..10).rev().collect();
        let mut order = all.clone();
        sampler.epoch_rows(4, &mut order, &s);
        assert_eq!(order, all, "nothing removed before remove_at");
        sampler.epoch_rows(5, &mut order, &s);
        // 30% of 10 rows: the three least forgotten (rows 0, 1, 2), order kept.
        assert_eq!(order, vec![9, 8, 7, 6, 5, 4, 3]);
        assert_eq!(sampler.removed_rows(), 3);
        assert!(sampler.extra_rows(&clock(0), &s).is_empty());
        // The removed set is chosen once: later statistics do not bring rows back.
        let mut later = all.clone();
        sampler.epoch_rows(6, &mut later, &OnlineForgetting::new(10));
        assert_eq!(later, vec![9, 8, 7, 6, 5, 4, 3]);
    }

    #[test]
    fn rehearsal_adds_hard_rows_only_after_an_update() {
        let (mut c, s) = (cfg(), stats());
        c.rehearsal_steps = 2;
        c.rehearsal_rows = 2;
        let mut sampler = DataAwareSampler::new(DataAwareOption::Rehearsal, &c, 10, stream(1, "x"));
        assert!(sampler.extra_rows(&clock(0), &s).is_empty());
        sampler.on_topology_update(1);
        for step in 1..3 {
            let extra = sampler.extra_rows(&clock(step), &s);
            assert_eq!(extra.len(), 2);
            // From the hardest 20%: rows 9 and 8.
            assert!(extra.iter().all(|r| [8, 9].contains(r)), "{extra:?}");
        }
        assert!(sampler.extra_rows(&clock(3), &s).is_empty());
        let mut order: Vec<usize> = (0..10).collect();
        sampler.epoch_rows(9, &mut order, &s);
        assert_eq!(order.len(), 10, "rehearsal never removes rows");
    }

    #[test]
    fn hard_growth_scores_on_the_hard_pool_and_only_when_chosen() {
        let (mut c, s) = (cfg(), stats());
        c.hard_pool = 0.5;
        let mut g = HardGrowth::new(DataAwareOption::HardGrowth, &c, 3, stream(1, "g"));
        let rows = g.growth_rows(&clock(0), &s).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|&r| r >= 5), "{rows:?}");
        for other in [
            DataAwareOption::Plain,
            DataAwareOption::Removal,
            DataAwareOption::Rehearsal,
        ] {
            let mut g = HardGrowth::new(other, &c, 3, stream(1, "g"));
            assert_eq!(g.growth_rows(&clock(0), &s), None);
        }
    }

    #[test]
    fn options_apply_to_the_methods_they_change() {
        let m = MethodsConfig::default();
        assert!(DataAwareOption::HardGrowth.applies_to("rigl", &m));
        assert!(!DataAwareOption::HardGrowth.applies_to("set", &m));
        assert!(DataAwareOption::Rehearsal.applies_to("set", &m));
        assert!(!DataAwareOption::Rehearsal.applies_to("static", &m));
        assert!(!DataAwareOption::Rehearsal.applies_to("dense", &m));
        assert!(DataAwareOption::Removal.applies_to("dense", &m));
    }
}
