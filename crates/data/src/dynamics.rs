//! Per-example training dynamics for Part II (hard-to-memorize and easy-to-forget examples):
//! an [`ExampleTracker`] records, at every presentation of every training example, whether the
//! model classified it correctly, the probability it gave the true class and (at chosen epochs)
//! the EL2N score; [`ExampleTracker::stats`] turns that history into forgetting events
//! (Toneva et al. 2019), dataset-cartography confidence/variability/correctness (Swayamdipta
//! et al. 2020) and EL2N (Paul et al. 2021), and [`write_examples_csv`] writes them as the
//! `examples.csv` rows.
//!
//! Which forward pass feeds the tracker is the caller's choice and is written to the `source`
//! column ([`Source`]): the statistics come from the training forward pass (dropout on, before
//! the optimiser step, Toneva's definition), with an end-of-epoch evaluation as an optional
//! second source, so a run keeps one tracker per source.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

/// Which forward pass produced the predictions a tracker recorded; written to the `source`
/// column of `examples.csv` so the file says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// The training minibatch's own forward pass, dropout on, before the optimiser step: the
    /// definition of Toneva et al. 2019 (`run_mnist.py`/`run_cifar.py`), and the one
    /// Swayamdipta et al. 2020 log once per epoch.
    TrainPass,
    /// An evaluation pass over the training set at the end of the epoch (dropout off, after
    /// the epoch's last step): the optional second source.
    EpochEval,
}

impl Source {
    /// The value written to the `source` column: `"train-pass"` or `"epoch-eval"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::TrainPass => "train-pass",
            Source::EpochEval => "epoch-eval",
        }
    }
}

/// What a presentation is, given the correctness of the example's previous one (Toneva et al.
/// 2019, §2): the one rule behind both counters of the workspace, [`forgetting_events`] over a
/// whole history and the training loop's running statistics
/// (`models::policy::OnlineForgetting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Correct before, wrong now.
    Forgetting,
    /// Wrong before, correct now.
    Learning,
    /// No change, or the first presentation (never an event, even when correct).
    Neither,
}

impl Transition {
    /// The transition into a presentation classified `correct`, after one classified
    /// `previous` (`None` for the first presentation).
    pub fn of(previous: Option<bool>, correct: bool) -> Transition {
        match (previous, correct) {
            (Some(true), false) => Transition::Forgetting,
            (Some(false), true) => Transition::Learning,
            _ => Transition::Neither,
        }
    }
}

/// Counts the forgetting and learning events in one example's correctness history, in
/// presentation order (Toneva et al. 2019, §2; `order_examples_by_forgetting.py` takes
/// `acc[1:] - acc[:-1]`).
///
/// Returns `(forgetting, learning, first_correct)`:
/// - a *forgetting event* is a presentation `t` that is wrong while `t - 1` was correct;
/// - a *learning event* is a presentation `t` that is correct while `t - 1` was wrong. Only
///   transitions count, as in Toneva's code: a first presentation that is already correct is
///   *not* a learning event; it shows up as `first_correct == Some(0)` instead;
/// - `first_correct` is the 0-based index of the first correct presentation, `None` when the
///   example was never classified correctly (never learned).
///
/// Since events alternate, `|forgetting - learning| <= 1`. An empty history gives `(0, 0, None)`.
/// Counts saturate at `u32::MAX`.
pub fn forgetting_events(history: &[bool]) -> (u32, u32, Option<usize>) {
    let mut forgetting = 0u32;
    let mut learning = 0u32;
    for t in 1..history.len() {
        match Transition::of(Some(history[t - 1]), history[t]) {
            Transition::Forgetting => forgetting = forgetting.saturating_add(1),
            Transition::Learning => learning = learning.saturating_add(1),
            Transition::Neither => {}
        }
    }
    let first_correct = history.iter().position(|&correct| correct);
    (forgetting, learning, first_correct)
}

/// The per-example statistics derived from an [`ExampleTracker`]'s history; one per tracked
/// example, from [`ExampleTracker::stats`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleStats {
    /// The stable example id (the 0-based data row of the dataset file).
    pub example_id: usize,
    /// How many times the example was recorded (one per epoch in normal training).
    pub presentations: usize,
    /// Correct-then-wrong transitions between consecutive presentations (Toneva et al. 2019).
    pub forgetting_events: u32,
    /// Wrong-then-correct transitions between consecutive presentations; a first presentation
    /// that is already correct does not count (see [`forgetting_events`]).
    pub learning_events: u32,
    /// The 1-based epoch of the first correct presentation; `None` when never learned
    /// (Toneva's `first_learned`, NaN there).
    pub first_learned_epoch: Option<usize>,
    /// Learned at some point and never forgotten: Toneva et al. 2019's "unforgettable" (a
    /// total count of 0), which includes examples correct from their first presentation.
    pub unforgettable: bool,
    /// Never classified correctly at any presentation (also true with zero presentations).
    pub never_learned: bool,
    /// The forgetting count used for ranking: `forgetting_events`, or `presentations + 1` when
    /// never learned, so a never-learned example ranks above every learned one. Toneva et al.
    /// 2019 add `npresentations`; `epochs + 1` is used here, which stays an integer (unlike
    /// data_diet's `inf`) and is strictly larger than any count a learned example can reach.
    pub forgetting_rank: u32,
    /// Mean probability of the true class over presentations (Swayamdipta et al. 2020,
    /// "confidence"); NaN with zero presentations.
    pub confidence: f64,
    /// Population standard deviation (ddof 0, as `np.std`) of the probability of the true
    /// class over presentations (Swayamdipta et al. 2020, "variability"); NaN with zero
    /// presentations.
    pub variability: f64,
    /// Fraction of correct presentations (Swayamdipta et al. 2020's paper definition; their
    /// code stores the count); NaN with zero presentations.
    pub correctness: f64,
    /// EL2N = ‖softmax − onehot(y)‖₂ (Paul et al. 2021) as `(epoch, score)` for each chosen
    /// epoch in which the example was presented, ascending by epoch.
    pub el2n: Vec<(usize, f32)>,
}

impl ExampleStats {
    /// The `examples.csv` row for this example, naming the forward pass that produced it;
    /// `label` is the example's class (see [`ExampleTracker::label_of`]).
    /// `el2n`/`el2n_epoch` are the earliest recorded EL2N score and its epoch (Paul et al. 2021
    /// score early in training), empty when none was recorded.
    pub fn to_row_from(&self, run_id: &str, label: u32, source: Source) -> ExampleRow {
        let first_el2n = self.el2n.first();
        ExampleRow {
            run_id: run_id.to_owned(),
            example_id: self.example_id,
            label,
            source: source.as_str().to_owned(),
            presentations: self.presentations,
            forgetting_events: self.forgetting_events,
            learning_events: self.learning_events,
            first_learned_epoch: self.first_learned_epoch,
            unforgettable: self.unforgettable,
            never_learned: self.never_learned,
            forgetting_rank: self.forgetting_rank,
            confidence: self.confidence,
            variability: self.variability,
            correctness: self.correctness,
            el2n: first_el2n.map(|&(_, score)| score),
            el2n_epoch: first_el2n.map(|&(epoch, _)| epoch),
        }
    }
}

/// One row of `examples.csv`: one per run and training example, keys first. The
/// columns are written in field order; `None` is an empty cell. Statistics as in
/// [`ExampleStats`] (Toneva et al. 2019; Swayamdipta et al. 2020; Paul et al. 2021).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleRow {
    /// The run this row belongs to.
    pub run_id: String,
    /// The stable example id (the 0-based data row of the dataset file).
    pub example_id: usize,
    /// The example's class.
    pub label: u32,
    /// Which forward pass produced the statistics ([`Source::as_str`]).
    pub source: String,
    /// See [`ExampleStats::presentations`].
    pub presentations: usize,
    /// See [`ExampleStats::forgetting_events`].
    pub forgetting_events: u32,
    /// See [`ExampleStats::learning_events`].
    pub learning_events: u32,
    /// See [`ExampleStats::first_learned_epoch`].
    pub first_learned_epoch: Option<usize>,
    /// See [`ExampleStats::unforgettable`].
    pub unforgettable: bool,
    /// See [`ExampleStats::never_learned`].
    pub never_learned: bool,
    /// See [`ExampleStats::forgetting_rank`].
    pub forgetting_rank: u32,
    /// See [`ExampleStats::confidence`].
    pub confidence: f64,
    /// See [`ExampleStats::variability`].
    pub variability: f64,
    /// See [`ExampleStats::correctness`].
    pub correctness: f64,
    /// EL2N (Paul et al. 2021) at the earliest chosen epoch in which the example was presented.
    pub el2n: Option<f32>,
    /// The epoch `el2n` was computed at.
    pub el2n_epoch: Option<usize>,
}

/// The header [`write_examples_csv`] writes: [`ExampleRow`]'s fields in order.
pub const EXAMPLES_CSV_HEADER: [&str; 16] = [
    "run_id",
    "example_id",
    "label",
    "source",
    "presentations",
    "forgetting_events",
    "learning_events",
    "first_learned_epoch",
    "unforgettable",
    "never_learned",
    "forgetting_rank",
    "confidence",
    "variability",
    "correctness",
    "el2n",
    "el2n_epoch",
];

/// Writes `rows` as `examples.csv` with a header ([`EXAMPLES_CSV_HEADER`]), per-example
/// statistics of Toneva et al. 2019, Swayamdipta et al. 2020 and Paul et al. 2021. The header
/// is written even when `rows` is empty, so every shard's file names its columns.
///
/// # Errors
/// Whatever the CSV writer or `w` reports.
pub fn write_examples_csv<W: Write>(w: W, rows: &[ExampleRow]) -> csv::Result<()> {
    let mut writer = csv::WriterBuilder::new().has_headers(false).from_writer(w);
    writer.write_record(EXAMPLES_CSV_HEADER)?;
    for row in rows {
        writer.serialize(row)?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads rows written by [`write_examples_csv`] (for merging shards).
///
/// # Errors
/// Whatever the CSV reader reports, including a cell that does not parse as its column's type.
pub fn read_examples_csv<R: Read>(r: R) -> csv::Result<Vec<ExampleRow>> {
    csv::Reader::from_reader(r).deserialize().collect()
}

/// The history of one example.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Slot {
    /// The class, fixed by the first `record` that presents the example.
    label: Option<u32>,
    /// Correctness bit of presentation `t` at bit `t % 64` of word `t / 64`.
    correct: Vec<u64>,
    /// Probability of the true class per presentation; its length is the presentation count.
    p_true: Vec<f32>,
    /// Epoch of the first correct presentation.
    first_learned_epoch: Option<usize>,
    /// `(epoch, EL2N)` at chosen epochs, first presentation of that epoch only.
    el2n: Vec<(usize, f32)>,
}

/// Records per-example training dynamics over a run, for forgetting events (Toneva et al.
/// 2019), data maps (Swayamdipta et al. 2020) and EL2N (Paul et al. 2021).
///
/// Examples are identified by stable ids (the dataset's row ids), so shuffled minibatches and
/// subsets map to the right history. Every call to [`ExampleTracker::record`] appends one
/// presentation to each example it names, in call order; normal training presents each example
/// once per epoch, but any number (including none) is accepted.
///
/// Memory: per presentation, one bit of correctness (packed in `u64` words) and one `f32` for
/// the probability of the true class, i.e. about 4.1 bytes; per example, a fixed ~80 bytes
/// plus 8 bytes per chosen EL2N epoch. 10⁵ examples × 200 epochs take about 83 MB.
///
/// Serialisable, so a run's checkpoint can carry the histories recorded so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExampleTracker {
    /// Example ids, ascending; `slots[i]` holds the history of `ids[i]`.
    ids: Vec<usize>,
    slots: Vec<Slot>,
    /// Epochs (1-based) at which EL2N is recorded, ascending, no duplicates.
    el2n_epochs: Vec<usize>,
    /// The epoch of the latest `record`, 0 before the first.
    last_epoch: usize,
}

impl ExampleTracker {
    /// A tracker for the examples `example_ids` (any order) recording EL2N at the 1-based
    /// epochs `el2n_epochs` (any order; duplicates ignored). Paul et al. 2021 score early,
    /// e.g. epoch 20 of 200.
    ///
    /// # Panics
    /// If `example_ids` holds a duplicate: ids must name examples uniquely.
    pub fn new(example_ids: &[usize], el2n_epochs: &[usize]) -> Self {
        let mut ids = example_ids.to_vec();
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            panic!("ExampleTracker::new: example id {} appears twice", pair[0]);
        }
        let mut el2n_epochs = el2n_epochs.to_vec();
        el2n_epochs.sort_unstable();
        el2n_epochs.dedup();
        let slots = vec![Slot::default(); ids.len()];
        Self {
            ids,
            slots,
            el2n_epochs,
            last_epoch: 0,
        }
    }

    /// Number of tracked examples.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no example is tracked.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The tracked example ids, ascending (the order of [`ExampleTracker::stats`]).
    pub fn example_ids(&self) -> &[usize] {
        &self.ids
    }

    /// The epochs at which EL2N (Paul et al. 2021) is recorded, ascending.
    pub fn el2n_epochs(&self) -> &[usize] {
        &self.el2n_epochs
    }

    /// The label recorded for `example_id`, `None` if it is not tracked or was never presented.
    pub fn label_of(&self, example_id: usize) -> Option<u32> {
        let slot = self.ids.binary_search(&example_id).ok()?;
        self.slots[slot].label
    }

    /// Records one presentation of each example in `ids` at the 1-based `epoch`: `labels[r]` is
    /// the true class of `ids[r]` and `probs[r * n_classes..(r + 1) * n_classes]` its softmax
    /// output. Stores correctness (argmax == label, ties to the first maximum, as `argmax` in
    /// NumPy and PyTorch), the probability of the true class (Swayamdipta et al. 2020) and, when
    /// `epoch` is a chosen EL2N epoch, ‖probs − onehot(label)‖₂ (Paul et al. 2021) for the
    /// example's first presentation of that epoch. An id may appear more than once.
    ///
    /// # Panics
    /// On a caller bug, before anything is recorded: `epoch == 0` or smaller than the previous
    /// call's (presentations are ordered by call), `n_classes == 0`, lengths that disagree, an
    /// untracked id, a label `>= n_classes`, or a label that differs from the one an earlier
    /// call recorded for the same id.
    pub fn record(
        &mut self,
        epoch: usize,
        ids: &[usize],
        labels: &[u32],
        probs: &[f32],
        n_classes: usize,
    ) {
        assert!(epoch >= 1, "ExampleTracker::record: epochs are 1-based");
        assert!(
            epoch >= self.last_epoch,
            "ExampleTracker::record: epoch {epoch} after epoch {}",
            self.last_epoch
        );
        assert!(n_classes >= 1, "ExampleTracker::record: n_classes is 0");
        assert_eq!(
            ids.len(),
            labels.len(),
            "ExampleTracker::record: ids and labels differ in length"
        );
        assert_eq!(
            probs.len(),
            ids.len() * n_classes,
            "ExampleTracker::record: probs is not ids.len() x n_classes"
        );
        // Resolve and check every row first, so a bad call leaves the tracker unchanged.
        let mut slots = Vec::with_capacity(ids.len());
        for (&id, &label) in ids.iter().zip(labels) {
            let slot = match self.ids.binary_search(&id) {
                Ok(slot) => slot,
                Err(_) => panic!("ExampleTracker::record: example id {id} is not tracked"),
            };
            assert!(
                (label as usize) < n_classes,
                "ExampleTracker::record: label {label} of example {id} >= n_classes {n_classes}"
            );
            if let Some(known) = self.slots[slot].label {
                assert_eq!(
                    known, label,
                    "ExampleTracker::record: example {id} had label {known}, now {label}"
                );
            }
            slots.push(slot);
        }
        self.last_epoch = epoch;
        let el2n_epoch = self.el2n_epochs.binary_search(&epoch).is_ok();
        for (r, (&slot, &label)) in slots.iter().zip(labels).enumerate() {
            let row = &probs[r * n_classes..(r + 1) * n_classes];
            let label = label as usize;
            // Strict `>` keeps the first of tied maxima.
            let mut argmax = 0;
            for (class, &p) in row.iter().enumerate().skip(1) {
                if p > row[argmax] {
                    argmax = class;
                }
            }
            let correct = argmax == label;
            let history = &mut self.slots[slot];
            history.label = Some(label as u32);
            let t = history.p_true.len();
            let (word, bit) = (t / 64, t % 64);
            // Grow by one word when `t` starts a new one (not `is_multiple_of`: MSRV 1.85).
            if word == history.correct.len() {
                history.correct.push(0);
            }
            if correct {
                history.correct[word] |= 1 << bit;
                if history.first_learned_epoch.is_none() {
                    history.first_learned_epoch = Some(epoch);
                }
            }
            history.p_true.push(row[label]);
            let first_this_epoch = history.el2n.last().is_none_or(|&(e, _)| e != epoch);
            if el2n_epoch && first_this_epoch {
                history.el2n.push((epoch, el2n(row, label)));
            }
        }
    }

    /// The statistics of every tracked example, in ascending example-id order (Toneva et al.
    /// 2019 forgetting events via [`forgetting_events`]; Swayamdipta et al. 2020 confidence,
    /// variability and correctness; Paul et al. 2021 EL2N). An example never presented has
    /// `presentations == 0`, `never_learned`, rank 1 and NaN means.
    pub fn stats(&self) -> Vec<ExampleStats> {
        let mut history = Vec::new();
        let mut out = Vec::with_capacity(self.ids.len());
        for (&example_id, slot) in self.ids.iter().zip(&self.slots) {
            let presentations = slot.p_true.len();
            history.clear();
            history.extend((0..presentations).map(|t| slot.correct[t / 64] >> (t % 64) & 1 == 1));
            let (forgetting, learning, first_correct) = forgetting_events(&history);
            debug_assert_eq!(first_correct.is_some(), slot.first_learned_epoch.is_some());
            let never_learned = first_correct.is_none();
            let forgetting_rank = if never_learned {
                u32::try_from(presentations).map_or(u32::MAX, |p| p.saturating_add(1))
            } else {
                forgetting
            };
            let n = presentations as f64;
            let confidence = slot.p_true.iter().map(|&p| f64::from(p)).sum::<f64>() / n;
            // Two passes: the mean first, then squared deviations (no cancellation).
            let variance = slot
                .p_true
                .iter()
                .map(|&p| (f64::from(p) - confidence).powi(2))
                .sum::<f64>()
                / n;
            let n_correct = history.iter().filter(|&&c| c).count();
            out.push(ExampleStats {
                example_id,
                presentations,
                forgetting_events: forgetting,
                learning_events: learning,
                first_learned_epoch: slot.first_learned_epoch,
                unforgettable: !never_learned && forgetting == 0,
                never_learned,
                forgetting_rank,
                confidence,
                variability: variance.sqrt(),
                correctness: n_correct as f64 / n,
                el2n: slot.el2n.clone(),
            });
        }
        out
    }

    /// The `examples.csv` rows of this run from the forward pass `source`, in ascending
    /// example-id order, with each example's recorded label. Examples never presented are left
    /// out: they have no label and no statistics to report.
    pub fn rows(&self, run_id: &str, source: Source) -> Vec<ExampleRow> {
        self.stats()
            .iter()
            .zip(&self.slots)
            .filter_map(|(stats, slot)| Some(stats.to_row_from(run_id, slot.label?, source)))
            .collect()
    }
}

/// EL2N = ‖probs − onehot(label)‖₂ (Paul et al. 2021, eq. 2), summed in f64.
fn el2n(probs: &[f32], label: usize) -> f32 {
    let mut sum = 0.0f64;
    for (class, &p) in probs.iter().enumerate() {
        let target = if class == label { 1.0 } else { 0.0 };
        sum += (f64::from(p) - target).powi(2);
    }
    sum.sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bools(bits: &[u8]) -> Vec<bool> {
        bits.iter().map(|&b| b == 1).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn forgetting_events_on_hand_written_histories() {
        assert_eq!(
            forgetting_events(&bools(&[0, 1, 1, 0, 1, 0, 0, 1])),
            (2, 3, Some(1))
        );
        // Correct from the first presentation: no transition, so no learning event.
        assert_eq!(forgetting_events(&bools(&[1, 1, 1])), (0, 0, Some(0)));
        assert_eq!(forgetting_events(&bools(&[0, 0, 0])), (0, 0, None));
        assert_eq!(forgetting_events(&[]), (0, 0, None));
        assert_eq!(forgetting_events(&[true]), (0, 0, Some(0)));
        assert_eq!(forgetting_events(&[false]), (0, 0, None));
        assert_eq!(forgetting_events(&bools(&[1, 0])), (1, 0, Some(0)));
        assert_eq!(forgetting_events(&bools(&[0, 0, 1, 1])), (0, 1, Some(2)));
    }

    /// Feeds one example's hand-written history through a tracker (2 classes, label 0).
    fn stats_of(history: &[u8]) -> ExampleStats {
        let mut tracker = ExampleTracker::new(&[5], &[]);
        for (t, &bit) in history.iter().enumerate() {
            let probs = if bit == 1 { [0.9, 0.1] } else { [0.1, 0.9] };
            tracker.record(t + 1, &[5], &[0], &probs, 2);
        }
        tracker.stats().remove(0)
    }

    #[test]
    fn unforgettable_never_learned_and_empty_histories() {
        let always = stats_of(&[1, 1, 1]);
        assert!(always.unforgettable && !always.never_learned);
        assert_eq!((always.forgetting_events, always.forgetting_rank), (0, 0));
        assert_eq!(always.first_learned_epoch, Some(1));

        let never = stats_of(&[0, 0, 0]);
        assert!(never.never_learned && !never.unforgettable);
        assert_eq!(never.forgetting_events, 0);
        assert_eq!(never.forgetting_rank, 4);
        assert_eq!(never.first_learned_epoch, None);

        let forgotten = stats_of(&[0, 1, 1, 0, 1, 0, 0, 1]);
        assert_eq!(
            (forgotten.forgetting_events, forgotten.learning_events),
            (2, 3)
        );
        assert_eq!(forgotten.forgetting_rank, 2);
        assert_eq!(forgotten.first_learned_epoch, Some(2));
        assert!(!forgotten.unforgettable && !forgotten.never_learned);
        assert!(close(forgotten.correctness, 4.0 / 8.0));

        let empty = stats_of(&[]);
        assert_eq!(empty.presentations, 0);
        assert!(empty.never_learned && !empty.unforgettable);
        assert_eq!(empty.forgetting_rank, 1);
        assert!(empty.confidence.is_nan() && empty.variability.is_nan());
    }

    /// 4 examples, 2 classes, 3 epochs, EL2N at epochs 1 and 3; ids shuffled per epoch.
    /// p_true per example: 0 -> .8 .6 .9 (always right), 1 -> .7 .4 .8 (forgotten at epoch 2),
    /// 2 -> .4 .5 .1 (learned at epoch 2 by a tie, forgotten at 3), 3 -> .1 .2 .3 (never).
    #[test]
    fn tracker_three_epochs_by_hand() {
        let labels = [0u32, 1, 0, 1];
        let probs: [[[f32; 2]; 4]; 3] = [
            [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.9, 0.1]],
            [[0.6, 0.4], [0.6, 0.4], [0.5, 0.5], [0.8, 0.2]],
            [[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]],
        ];
        let orders = [[0usize, 1, 2, 3], [2, 0, 3, 1], [3, 1, 0, 2]];
        let mut tracker = ExampleTracker::new(&[3, 1, 0, 2], &[3, 1, 1]);
        assert_eq!(tracker.el2n_epochs(), &[1, 3]);
        for (e, order) in orders.iter().enumerate() {
            let batch_labels: Vec<u32> = order.iter().map(|&i| labels[i]).collect();
            let batch_probs: Vec<f32> = order.iter().flat_map(|&i| probs[e][i]).collect();
            tracker.record(e + 1, order, &batch_labels, &batch_probs, 2);
        }
        let stats = tracker.stats();
        let ids: Vec<usize> = stats.iter().map(|s| s.example_id).collect();
        assert_eq!(ids, [0, 1, 2, 3]);
        for s in &stats {
            assert_eq!(s.presentations, 3);
            assert_eq!(tracker.label_of(s.example_id), Some(labels[s.example_id]));
        }

        // (forgetting, learning, first_learned_epoch, unforgettable, never_learned, rank)
        let counts = |s: &ExampleStats| {
            (
                s.forgetting_events,
                s.learning_events,
                s.first_learned_epoch,
                s.unforgettable,
                s.never_learned,
                s.forgetting_rank,
            )
        };
        assert_eq!(counts(&stats[0]), (0, 0, Some(1), true, false, 0));
        assert_eq!(counts(&stats[1]), (1, 1, Some(1), false, false, 1));
        assert_eq!(counts(&stats[2]), (1, 1, Some(2), false, false, 1));
        assert_eq!(counts(&stats[3]), (0, 0, None, false, true, 4));

        // Means and ddof-0 stds by hand:
        // 0: mean 2.3/3 = .766667, deviations .033 -.167 .133 -> var .046667/3 -> std .124722
        // 1: mean 1.9/3 = .633333, deviations .067 -.233 .167 -> var .086667/3 -> std .169967
        // 2: mean 1.0/3 = .333333, deviations .067 .167 -.233 -> the same std .169967
        // 3: mean .2, deviations -.1 0 .1 -> var .02/3 -> std .081650
        let confidence = [0.766_667, 0.633_333, 0.333_333, 0.2];
        let variability = [0.124_722, 0.169_967, 0.169_967, 0.081_650];
        let correctness = [1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0];
        for (i, s) in stats.iter().enumerate() {
            assert!((s.confidence - confidence[i]).abs() < 1e-5, "{i}: {s:?}");
            assert!((s.variability - variability[i]).abs() < 1e-5, "{i}: {s:?}");
            assert!(close(s.correctness, correctness[i]), "{i}: {s:?}");
        }

        // EL2N at epoch 1 and 3: two classes give sqrt(2 * (1 - p_true)^2).
        let el2n = [
            [0.08f64.sqrt(), 0.02f64.sqrt()],
            [0.18f64.sqrt(), 0.08f64.sqrt()],
            [0.72f64.sqrt(), 1.62f64.sqrt()],
            [1.62f64.sqrt(), 0.98f64.sqrt()],
        ];
        for (i, s) in stats.iter().enumerate() {
            assert_eq!(s.el2n.len(), 2);
            for (k, &(epoch, score)) in s.el2n.iter().enumerate() {
                assert_eq!(epoch, [1, 3][k]);
                assert!((f64::from(score) - el2n[i][k]).abs() < 1e-6, "{i}: {s:?}");
            }
        }

        let rows = tracker.rows("r1", Source::TrainPass);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[2].label, 0);
        assert_eq!(rows[2].source, "train-pass");
        assert_eq!(rows[2].el2n_epoch, Some(1));
        assert!((f64::from(rows[2].el2n.unwrap()) - 0.72f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn el2n_with_three_classes_and_argmax_not_label() {
        let mut tracker = ExampleTracker::new(&[0], &[1]);
        tracker.record(1, &[0], &[2], &[0.2, 0.5, 0.3], 3);
        let s = tracker.stats().remove(0);
        assert_eq!(s.first_learned_epoch, None);
        assert!(close(s.confidence, 0.3));
        // (0.2)^2 + (0.5)^2 + (0.3 - 1)^2 = 0.04 + 0.25 + 0.49
        assert!((f64::from(s.el2n[0].1) - 0.78f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn sparse_ids_repeats_and_skipped_examples_map_to_their_slots() {
        let mut tracker = ExampleTracker::new(&[40, 7, 1000], &[2]);
        // Epoch 1: 1000 wrong, 7 right; 40 not presented.
        tracker.record(1, &[1000, 7], &[1, 0], &[0.6, 0.4, 0.9, 0.1], 2);
        // Epoch 2: 7 twice (wrong then right), 1000 right, 40 right.
        let probs = [0.2, 0.8, 0.3, 0.7, 0.7, 0.3, 0.1, 0.9];
        tracker.record(2, &[7, 1000, 7, 40], &[0, 1, 0, 1], &probs, 2);
        let stats = tracker.stats();
        assert_eq!(tracker.example_ids(), &[7, 40, 1000]);
        let s7 = &stats[0];
        assert_eq!((s7.example_id, s7.presentations), (7, 3));
        assert_eq!((s7.forgetting_events, s7.learning_events), (1, 1));
        assert_eq!(s7.first_learned_epoch, Some(1));
        // EL2N kept for the first presentation of epoch 2 only: [0.2, 0.8], label 0.
        assert_eq!(s7.el2n.len(), 1);
        assert!((f64::from(s7.el2n[0].1) - 1.28f64.sqrt()).abs() < 1e-6);
        let s40 = &stats[1];
        assert_eq!((s40.presentations, s40.first_learned_epoch), (1, Some(2)));
        assert!(s40.unforgettable);
        let s1000 = &stats[2];
        assert_eq!((s1000.presentations, s1000.learning_events), (2, 1));
        assert_eq!(s1000.first_learned_epoch, Some(2));
        assert!(s1000.unforgettable);
        assert!(close(s1000.confidence, (0.4 + 0.7) / 2.0));
    }

    #[test]
    fn bitset_spans_word_boundaries() {
        // 130 presentations: right on even epochs only -> 64 forgetting, 65 learning events.
        let history: Vec<u8> = (0..130).map(|t| (t % 2) as u8).collect();
        let s = stats_of(&history);
        assert_eq!(s.presentations, 130);
        assert_eq!((s.forgetting_events, s.learning_events), (64, 65));
        assert!(close(s.correctness, 0.5));
    }

    #[test]
    fn untracked_examples_are_left_out_of_rows() {
        let mut tracker = ExampleTracker::new(&[0, 1], &[]);
        tracker.record(1, &[1], &[0], &[1.0, 0.0], 2);
        let rows = tracker.rows("r", Source::EpochEval);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].example_id, rows[0].source.as_str()),
            (1, "epoch-eval")
        );
        assert_eq!(tracker.stats().len(), 2);
    }

    #[test]
    #[should_panic(expected = "not tracked")]
    fn unknown_id_panics() {
        ExampleTracker::new(&[0], &[]).record(1, &[3], &[0], &[1.0, 0.0], 2);
    }

    #[test]
    #[should_panic(expected = "had label")]
    fn changed_label_panics() {
        let mut tracker = ExampleTracker::new(&[0], &[]);
        tracker.record(1, &[0], &[0], &[1.0, 0.0], 2);
        tracker.record(2, &[0], &[1], &[1.0, 0.0], 2);
    }

    #[test]
    #[should_panic(expected = "after epoch")]
    fn decreasing_epoch_panics() {
        let mut tracker = ExampleTracker::new(&[0], &[]);
        tracker.record(2, &[0], &[0], &[1.0, 0.0], 2);
        tracker.record(1, &[0], &[0], &[1.0, 0.0], 2);
    }

    #[test]
    #[should_panic(expected = "appears twice")]
    fn duplicate_ids_panic() {
        ExampleTracker::new(&[4, 2, 4], &[]);
    }

    #[test]
    fn csv_round_trip_keeps_header_and_rows() {
        let mut tracker = ExampleTracker::new(&[0, 1], &[1]);
        tracker.record(1, &[0, 1], &[0, 1], &[0.8, 0.2, 0.75, 0.25], 2);
        tracker.record(2, &[1, 0], &[1, 0], &[0.5, 0.5, 0.25, 0.75], 2);
        let mut rows = tracker.rows("run-7", Source::TrainPass);
        rows[1].el2n = None;
        rows[1].el2n_epoch = None;
        let mut buffer = Vec::new();
        write_examples_csv(&mut buffer, &rows).unwrap();
        let text = String::from_utf8(buffer.clone()).unwrap();
        let header = "run_id,example_id,label,source,presentations,forgetting_events,\
                      learning_events,first_learned_epoch,unforgettable,never_learned,\
                      forgetting_rank,confidence,variability,correctness,el2n,el2n_epoch";
        assert_eq!(text.lines().next(), Some(header));
        assert_eq!(header.split(',').collect::<Vec<_>>(), EXAMPLES_CSV_HEADER);
        // Example 1 was never learned: empty first_learned_epoch, rank 3; el2n cleared above.
        assert!(text
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("run-7,1,1,train-pass,2,0,0,,false,true,3,"));
        assert!(text.lines().nth(2).unwrap().ends_with(",,"));
        assert_eq!(read_examples_csv(buffer.as_slice()).unwrap(), rows);

        let mut empty = Vec::new();
        write_examples_csv(&mut empty, &[]).unwrap();
        assert_eq!(String::from_utf8(empty).unwrap().trim_end(), header);
    }

    /// Naive reference: count every window of two presentations.
    fn naive_events(history: &[bool]) -> (u32, u32) {
        let windows = history.windows(2);
        let forgetting = windows.clone().filter(|w| w[0] && !w[1]).count() as u32;
        let learning = windows.filter(|w| !w[0] && w[1]).count() as u32;
        (forgetting, learning)
    }

    proptest! {
        #[test]
        fn tracker_stats_obey_toneva_invariants(
            histories in proptest::collection::vec(
                proptest::collection::vec(any::<bool>(), 0..150), 1..5)
        ) {
            let ids: Vec<usize> = (0..histories.len()).map(|i| 3 * i + 1).collect();
            let mut tracker = ExampleTracker::new(&ids, &[]);
            let longest = histories.iter().map(Vec::len).max().unwrap_or(0);
            for t in 0..longest {
                let mut batch = Vec::new();
                let mut probs = Vec::new();
                for (i, history) in histories.iter().enumerate() {
                    if let Some(&correct) = history.get(t) {
                        batch.push(ids[i]);
                        probs.extend(if correct { [0.25, 0.75] } else { [0.75, 0.25] });
                    }
                }
                let labels = vec![1u32; batch.len()];
                tracker.record(t + 1, &batch, &labels, &probs, 2);
            }
            for (s, history) in tracker.stats().iter().zip(&histories) {
                prop_assert_eq!(s.presentations, history.len());
                prop_assert_eq!((s.forgetting_events, s.learning_events), naive_events(history));
                prop_assert!(s.forgetting_events <= s.learning_events + 1);
                prop_assert!(s.learning_events <= s.forgetting_events + 1);
                // Every example is presented from epoch 1, so epoch = index + 1.
                let first = history.iter().position(|&c| c).map(|t| t + 1);
                prop_assert_eq!(s.first_learned_epoch, first);
                if s.unforgettable {
                    prop_assert!(s.forgetting_events == 0 && !s.never_learned);
                }
                if s.never_learned {
                    prop_assert_eq!(s.forgetting_events, 0);
                    prop_assert_eq!(s.forgetting_rank as usize, s.presentations + 1);
                } else {
                    prop_assert_eq!(s.forgetting_rank, s.forgetting_events);
                }
                let n_correct = history.iter().filter(|&&c| c).count();
                if !history.is_empty() {
                    prop_assert!((s.correctness - n_correct as f64 / history.len() as f64).abs() < 1e-12);
                }
            }
        }
    }
}
