//! The data-aware options as data policies of the training loop.

use super::protocol::{DataAwareConfig, DataAwareOption};
use models::policy::{DataSampler, GrowthBatchSource, OnlineForgetting};
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sparse_core::TrainingClock;

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

/// Where a policy's random stream stands (the stream itself is rebuilt from the run seed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct WordPos {
    hi: u64,
    lo: u64,
}

impl WordPos {
    fn of(rng: &ChaCha8Rng) -> Self {
        let w = rng.get_word_pos();
        WordPos {
            hi: (w >> 64) as u64,
            lo: w as u64,
        }
    }

    fn apply(self, rng: &mut ChaCha8Rng) {
        rng.set_word_pos(u128::from(self.hi) << 64 | u128::from(self.lo));
    }
}

/// What [`DataAwareSampler`] carries from one epoch to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SamplerState {
    removed: Option<Vec<bool>>,
    rehearsal_left: usize,
    rng: WordPos,
}

impl DataSampler for DataAwareSampler {
    fn save_state(&self) -> Vec<u8> {
        sparse_core::state::encode(&SamplerState {
            removed: self.removed.clone(),
            rehearsal_left: self.rehearsal_left,
            rng: WordPos::of(&self.rng),
        })
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            // A checkpoint from before the sampler had state, or a fresh start.
            return Ok(());
        }
        let s: SamplerState =
            sparse_core::state::decode(state, "data sampler").map_err(|e| e.to_string())?;
        self.removed = s.removed;
        self.rehearsal_left = s.rehearsal_left;
        s.rng.apply(&mut self.rng);
        Ok(())
    }

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
    fn save_state(&self) -> Vec<u8> {
        sparse_core::state::encode(&WordPos::of(&self.rng))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let pos: WordPos =
            sparse_core::state::decode(state, "growth batch source").map_err(|e| e.to_string())?;
        pos.apply(&mut self.rng);
        Ok(())
    }

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
    use experiments::config::MethodsConfig;
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

    /// A sampler restored from a mid-run state continues exactly like the original.
    #[test]
    fn sampler_state_round_trips_mid_run() {
        let (mut c, s) = (cfg(), stats());
        c.rehearsal_steps = 3;
        c.rehearsal_rows = 2;
        c.hard_pool = 0.6;
        let mut a = DataAwareSampler::new(DataAwareOption::Rehearsal, &c, 10, stream(1, "x"));
        a.on_topology_update(1);
        a.extra_rows(&clock(1), &s);
        let mut b = DataAwareSampler::new(DataAwareOption::Rehearsal, &c, 10, stream(1, "x"));
        b.load_state(&a.save_state()).unwrap();
        for step in 2..5 {
            assert_eq!(
                a.extra_rows(&clock(step), &s),
                b.extra_rows(&clock(step), &s)
            );
        }
        let mut g = HardGrowth::new(DataAwareOption::HardGrowth, &c, 3, stream(1, "g"));
        g.growth_rows(&clock(0), &s);
        let mut h = HardGrowth::new(DataAwareOption::HardGrowth, &c, 3, stream(1, "g"));
        h.load_state(&g.save_state()).unwrap();
        assert_eq!(g.growth_rows(&clock(1), &s), h.growth_rows(&clock(1), &s));
        assert!(b.load_state(&[1, 2, 3]).is_err());
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
