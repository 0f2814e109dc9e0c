//! The data side of training as extension points: which examples an epoch presents and what a
//! step adds to its batch ([`DataSampler`]), and on which examples a gradient-growing method
//! scores the positions it may grow ([`GrowthBatchSource`]).
//!
//! The plain loop presents every row once per epoch in shuffled order and scores growth on the
//! step's own batch; data-aware dynamic sparse training (Part II of the seed paper: MEST's
//! data-efficient removal, growth scored on hard examples, rehearsal after rewiring) only
//! swaps these policies. Both see [`OnlineForgetting`], the per-row forgetting statistics the
//! loop keeps from the training forward passes (Toneva et al. 2019's definition).

use data::dynamics::Transition;
use serde::{Deserialize, Serialize};
use sparse_core::TrainingClock;

/// Per-row training dynamics so far, kept by the loop from every training forward pass
/// (dropout on, before the step: Toneva et al.'s definition). Indexed by
/// training-row position, not example id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OnlineForgetting {
    presentations: Vec<u32>,
    events: Vec<u32>,
    /// 0 = never presented, 1 = last presentation wrong, 2 = last presentation right.
    last: Vec<u8>,
    learned: Vec<bool>,
    el2n: Vec<f32>,
}

impl OnlineForgetting {
    /// Statistics of `rows` rows, none presented yet.
    pub fn new(rows: usize) -> Self {
        OnlineForgetting {
            presentations: vec![0; rows],
            events: vec![0; rows],
            last: vec![0; rows],
            learned: vec![false; rows],
            el2n: vec![0.0; rows],
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Records one presentation of row `row`: whether it was classified correctly and its
    /// EL2N (`‖softmax − onehot‖₂`) at that presentation. Returns whether it was a forgetting
    /// event (correct at the previous presentation, wrong now).
    pub fn record(&mut self, row: usize, correct: bool, el2n: f32) -> bool {
        let previous = match self.last[row] {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        };
        let forgot = Transition::of(previous, correct) == Transition::Forgetting;
        self.presentations[row] += 1;
        self.events[row] += forgot as u32;
        self.last[row] = if correct { 2 } else { 1 };
        self.learned[row] |= correct;
        self.el2n[row] = el2n;
        forgot
    }

    /// The statistics of the first `rows` rows only (a view for callers that trained on more
    /// rows than they select from, such as a task's own rows before its replayed ones).
    pub fn head(&self, rows: usize) -> OnlineForgetting {
        let n = rows.min(self.len());
        OnlineForgetting {
            presentations: self.presentations[..n].to_vec(),
            events: self.events[..n].to_vec(),
            last: self.last[..n].to_vec(),
            learned: self.learned[..n].to_vec(),
            el2n: self.el2n[..n].to_vec(),
        }
    }

    /// Forgetting events of row `row` so far.
    pub fn events(&self, row: usize) -> u32 {
        self.events[row]
    }

    /// Presentations of row `row` so far.
    pub fn presentations(&self, row: usize) -> u32 {
        self.presentations[row]
    }

    /// EL2N of row `row` at its last presentation.
    pub fn last_el2n(&self, row: usize) -> f32 {
        self.el2n[row]
    }

    /// How forgettable row `row` is so far: its forgetting events, or, for a row presented but
    /// never classified correctly, its presentations + 1 (Toneva's convention: never learned
    /// ranks above every forgotten example).
    pub fn score(&self, row: usize) -> f64 {
        if self.presentations[row] > 0 && !self.learned[row] {
            self.presentations[row] as f64 + 1.0
        } else {
            self.events[row] as f64
        }
    }

    /// Row positions from the most to the least forgettable: by [`score`](Self::score), ties
    /// by the last EL2N (higher first), then by position, so the order is total and
    /// reproducible.
    pub fn most_forgettable_first(&self) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..self.len()).collect();
        rows.sort_by(|&a, &b| {
            self.score(b)
                .total_cmp(&self.score(a))
                .then(self.el2n[b].total_cmp(&self.el2n[a]))
                .then(a.cmp(&b))
        });
        rows
    }
}

/// Which rows each epoch presents, and which rows a step adds to its batch.
///
/// A new policy is one `impl`; the loop, the checkpoints and the results files stay as they
/// are. For example, a curriculum that leaves out the rows never classified correctly so far
/// for the first `warmup` epochs:
///
/// ```
/// use models::policy::{DataSampler, OnlineForgetting};
///
/// struct LearnedFirst {
///     warmup: usize,
/// }
///
/// impl DataSampler for LearnedFirst {
///     fn epoch_rows(&mut self, epoch: usize, order: &mut Vec<usize>, stats: &OnlineForgetting) {
///         if epoch > 0 && epoch < self.warmup {
///             // Never learned: presented, never correct (ranked above every forgotten row).
///             let never = |r: usize| stats.score(r) > f64::from(stats.events(r));
///             order.retain(|&r| !never(r));
///         }
///     }
/// }
///
/// let mut stats = OnlineForgetting::new(3);
/// stats.record(0, true, 0.1);
/// stats.record(1, false, 0.9);
/// stats.record(2, true, 0.2);
/// let mut order = vec![2, 1, 0];
/// LearnedFirst { warmup: 5 }.epoch_rows(1, &mut order, &stats);
/// assert_eq!(order, vec![2, 0]);
/// ```
///
/// It is then handed to [`train_with`](crate::train::train_with) in a
/// [`DataPolicies`](crate::train::DataPolicies); the experiments crate wires its data-aware
/// options the same way (`experiments::data_aware`).
pub trait DataSampler: Send {
    /// Replaces `order` (this epoch's shuffled permutation of every training row, from the
    /// run's `shuffle` stream) with the rows the epoch presents, in order. Called before the
    /// epoch's first step; `epoch` is 0-based. The default presents every row.
    fn epoch_rows(&mut self, _epoch: usize, _order: &mut Vec<usize>, _stats: &OnlineForgetting) {}

    /// Rows appended to the batch of the step at `clock` (rehearsal). Default: none.
    fn extra_rows(&mut self, _clock: &TrainingClock, _stats: &OnlineForgetting) -> Vec<usize> {
        Vec::new()
    }

    /// Told that the topology changed; `step` is the index of the first step that trains the
    /// new topology.
    fn on_topology_update(&mut self, _step: usize) {}

    /// The sampler's state between epochs, for a checkpoint (empty: stateless).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores a state saved by [`save_state`](Self::save_state).
    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        refuse_state(state)
    }
}

/// The default `load_state` of a stateless policy: only an empty state fits.
fn refuse_state(state: &[u8]) -> Result<(), String> {
    if state.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "a stateless policy got {} bytes of state",
            state.len()
        ))
    }
}

/// On which rows a gradient-growing method (RigL, SNFS) scores the positions it may grow.
pub trait GrowthBatchSource: Send {
    /// The rows whose dense gradient scores growth at the step at `clock`, or `None` for the
    /// step's own batch (the default, and the methods' published rule), or, when that batch
    /// is partial (an epoch's last), the epoch's last full batch. Only asked at steps where
    /// the method wants gradients.
    fn growth_rows(
        &mut self,
        _clock: &TrainingClock,
        _stats: &OnlineForgetting,
    ) -> Option<Vec<usize>> {
        None
    }

    /// The source's state between epochs, for a checkpoint (empty: stateless).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores a state saved by [`save_state`](Self::save_state).
    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        refuse_state(state)
    }
}

/// The published behaviour: every row once per epoch, growth scored on the step's batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainData;

impl DataSampler for PlainData {}
impl GrowthBatchSource for PlainData {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_to_zero_transitions_and_never_learned_ranks_first() {
        let mut s = OnlineForgetting::new(4);
        // Row 0: right, wrong, right, wrong -> 2 events.
        for (c, e) in [(true, false), (false, true), (true, false), (false, true)] {
            assert_eq!(s.record(0, c, 0.1), e);
        }
        // Row 1: wrong, right, right -> learned, never forgotten.
        for c in [false, true, true] {
            assert!(!s.record(1, c, 0.2));
        }
        // Row 2: never right in 3 presentations.
        for _ in 0..3 {
            s.record(2, false, 0.9);
        }
        // Row 3: right once, then forgotten once; higher EL2N than row 0 at equal... score 1.
        s.record(3, true, 0.3);
        s.record(3, false, 0.8);
        assert_eq!(s.events(0), 2);
        assert_eq!(s.events(1), 0);
        assert_eq!(s.score(2), 4.0);
        assert_eq!(s.most_forgettable_first(), vec![2, 0, 3, 1]);
    }

    #[test]
    fn ties_break_by_el2n_then_position() {
        let mut s = OnlineForgetting::new(3);
        s.record(0, true, 0.1);
        s.record(1, true, 0.5);
        s.record(2, true, 0.5);
        assert_eq!(s.most_forgettable_first(), vec![1, 2, 0]);
    }
}
