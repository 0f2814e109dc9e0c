//! What a run records step by step for the update-forgetting analysis
//! (`studies::update_forgetting`): every forgetting event is a pair of presentations of one
//! example, correct at the first and wrong at the second; it *crosses* an update when the
//! topology changed between the two (an update whose first step `u` has `p < u ≤ s` for the
//! presentations at steps `p` and `s`). A run records at every step how many presentations
//! cross an update and, for each forgetting event, how far back its previous presentation
//! was ([`StepRecord`]), so the analysis can classify any run's events by any run's updates.
//!
//! [`StepRecording`] is the forgetting study's recording: every run with `tracking.examples`
//! keeps a [`StepRecord`] and writes its row of `step_forgetting.csv`.

use anyhow::Result;
use data::Dataset;
use experiments::config::ExperimentConfig;
use experiments::hash::{fnv1a_extend, FNV1A_START};
use experiments::recording::{FinishedRun, Recorder, Recording};
use experiments::results::{RunKeyed, StudyRows};
use models::policy::OnlineForgetting;
use serde::{Deserialize, Serialize};

/// File of the per-step forgetting events of every run (with `tracking.examples`).
pub const STEP_FORGETTING: &str = "step_forgetting.csv";

/// One row of `step_forgetting.csv`: when in a run's training the forgetting events fell, step
/// by step, and when its topology changed (for "does rewiring make a network forget?").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepForgettingRow {
    /// The run's key.
    pub run_id: String,
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Forgetting events of every step (`;`-separated, step 0 first).
    pub events: String,
    /// Presentations of every step (`;`-separated).
    pub presentations: String,
    /// Presentations of every step whose example was presented before (`;`-separated): the
    /// ones that can be forgetting events.
    pub repeats: String,
    /// Presentations of every step with a topology update between the example's previous
    /// presentation and this one (`;`-separated; all 0 for static and dense).
    pub across_updates: String,
    /// For each step (`;`-separated) the forgetting events' distances in steps back to the
    /// example's previous presentation (space-separated): another method's updates classify
    /// this run's events at the same pairs of steps.
    pub event_gaps: String,
    /// Hash of the presentation schedule (which row at which step): two runs with the same
    /// hash presented the same examples at the same steps.
    pub schedule: String,
    /// Steps that trained a new topology first (`;`-separated; empty for static and dense).
    pub updates: String,
    /// Distinct examples with a forgetting event across a topology update.
    pub after_update_examples: usize,
    /// Their mean forgetting events over the whole run.
    pub after_update_mean_events: f64,
    /// Mean forgetting events of every example forgotten at least once.
    pub forgotten_mean_events: f64,
}

impl RunKeyed for StepForgettingRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// The forgetting study's recording: a [`StepRecord`] for every run with `tracking.examples`.
pub struct StepRecording;

impl Recording for StepRecording {
    fn file(&self) -> &'static str {
        STEP_FORGETTING
    }

    fn start(&self, cfg: &ExperimentConfig, train: &Dataset) -> Option<Box<dyn Recorder>> {
        let rows = train.n_rows();
        let steps_per_epoch = rows.div_ceil(cfg.training.batch_size.max(1));
        cfg.tracking
            .examples
            .then(|| Box::new(StepRecord::new(rows, steps_per_epoch)) as Box<dyn Recorder>)
    }
}

impl Recorder for StepRecord {
    fn on_step(&mut self, rows: &[usize], forgot: &[bool]) {
        StepRecord::on_step(self, rows, forgot);
    }

    fn on_topology_update(&mut self, step: usize) {
        StepRecord::on_topology_update(self, step);
    }

    fn save(&self) -> Vec<u8> {
        sparse_core::state::encode(self)
    }

    fn restored(&self, saved: &[u8]) -> Result<Box<dyn Recorder>> {
        let record: StepRecord = sparse_core::state::decode(saved, "step record")?;
        if (record.last_presented.len(), record.steps_per_epoch)
            != (self.last_presented.len(), self.steps_per_epoch)
        {
            anyhow::bail!("its step record is of another training split or batch size");
        }
        Ok(Box::new(record))
    }

    fn finish(self: Box<Self>, run: &FinishedRun<'_>) -> Result<StudyRows> {
        StudyRows::of(
            STEP_FORGETTING,
            &[self.row(&run.spec.run_id, run.forgetting)],
        )
    }
}

/// What the update-forgetting analysis needs of a run, recorded step by step during training:
/// forgetting events and presentations per step, which presentations cross a topology update,
/// how far back each event's previous presentation was, the schedule's hash, the updates, and
/// which training rows were forgotten across an update.
#[derive(Debug, Serialize, Deserialize)]
pub struct StepRecord {
    steps_per_epoch: usize,
    presentations: Vec<usize>,
    repeats: Vec<usize>,
    across_updates: Vec<usize>,
    event_gaps: Vec<Vec<usize>>,
    schedule: u64,
    /// First step trained by each new topology, ascending.
    updates: Vec<usize>,
    /// By training-row position: the step of its last presentation.
    last_presented: Vec<Option<usize>>,
    /// By training-row position.
    forgotten_across_update: Vec<bool>,
}

impl StepRecord {
    /// An empty record for `rows` training rows.
    pub fn new(rows: usize, steps_per_epoch: usize) -> Self {
        StepRecord {
            steps_per_epoch,
            presentations: Vec::new(),
            repeats: Vec::new(),
            across_updates: Vec::new(),
            event_gaps: Vec::new(),
            schedule: FNV1A_START,
            updates: Vec::new(),
            last_presented: vec![None; rows],
            forgotten_across_update: vec![false; rows],
        }
    }

    /// A new topology trains from step `step` on (the loop reports it before the step that
    /// produced it is recorded: the next step's topology).
    pub fn on_topology_update(&mut self, step: usize) {
        self.updates.push(step);
    }

    /// Records the next step: the training rows presented and which of them were forgetting
    /// events (correct at their previous presentation, wrong now, so always presented before).
    pub fn on_step(&mut self, rows: &[usize], forgot: &[bool]) {
        let step = self.presentations.len();
        let latest = latest_update(&self.updates, step);
        let (mut repeats, mut across) = (0, 0);
        let mut gaps = Vec::new();
        for (&r, &f) in rows.iter().zip(forgot) {
            self.schedule = fnv1a_extend(self.schedule, &(r as u64).to_le_bytes());
            if let Some(prev) = self.last_presented[r] {
                let crossed = latest.is_some_and(|u| prev < u);
                repeats += 1;
                across += usize::from(crossed);
                if f {
                    gaps.push(step - prev);
                    self.forgotten_across_update[r] |= crossed;
                }
            }
            debug_assert!(
                !f || self.last_presented[r].is_some(),
                "a forgetting event without an earlier presentation"
            );
            self.last_presented[r] = Some(step);
        }
        self.schedule = fnv1a_extend(self.schedule, &u64::MAX.to_le_bytes());
        self.presentations.push(rows.len());
        self.repeats.push(repeats);
        self.across_updates.push(across);
        self.event_gaps.push(gaps);
    }

    /// Per step: presentations of a row presented before (pairs of presentations).
    pub fn repeats(&self) -> &[usize] {
        &self.repeats
    }

    /// Per step: the pairs of presentations that cross a topology update.
    pub fn across_updates(&self) -> &[usize] {
        &self.across_updates
    }

    /// Per step: each forgetting event's distance in steps to its previous presentation.
    pub fn event_gaps(&self) -> &[Vec<usize>] {
        &self.event_gaps
    }

    /// The first step trained by each new topology, ascending.
    pub fn updates(&self) -> &[usize] {
        &self.updates
    }

    /// The run's row; `forgetting` is the loop's final per-row statistics.
    pub fn row(&self, run_id: &str, forgetting: &OnlineForgetting) -> StepForgettingRow {
        let join = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(";");
        let n = forgetting.len();
        let mean_events = |keep: &dyn Fn(usize) -> bool| {
            let chosen: Vec<f64> = (0..n)
                .filter(|&p| keep(p))
                .map(|p| f64::from(forgetting.events(p)))
                .collect();
            experiments::summary::mean_std(&chosen).0
        };
        let gaps: Vec<String> = self
            .event_gaps
            .iter()
            .map(|g| g.iter().map(usize::to_string).collect::<Vec<_>>().join(" "))
            .collect();
        let events: Vec<usize> = self.event_gaps.iter().map(Vec::len).collect();
        StepForgettingRow {
            run_id: run_id.to_string(),
            steps_per_epoch: self.steps_per_epoch,
            events: join(&events),
            presentations: join(&self.presentations),
            repeats: join(&self.repeats),
            across_updates: join(&self.across_updates),
            event_gaps: gaps.join(";"),
            schedule: format!("{:016x}", self.schedule),
            updates: join(&self.updates),
            after_update_examples: self.forgotten_across_update.iter().filter(|&&f| f).count(),
            after_update_mean_events: mean_events(&|p| self.forgotten_across_update[p]),
            forgotten_mean_events: mean_events(&|p| forgetting.events(p) > 0),
        }
    }
}

/// The first step of the newest topology at `step`: the largest update `≤ step`.
pub fn latest_update(updates: &[usize], step: usize) -> Option<usize> {
    let n = updates.partition_point(|&u| u <= step);
    n.checked_sub(1).map(|i| updates[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved record comes back as it was, and one of another training split is refused.
    #[test]
    fn a_saved_record_is_restored_only_into_its_own_run() {
        let mut record = StepRecord::new(3, 2);
        Recorder::on_step(&mut record, &[0, 1], &[false, false]);
        Recorder::on_topology_update(&mut record, 1);
        Recorder::on_step(&mut record, &[2], &[false]);
        let saved = Recorder::save(&record);
        let back = StepRecord::new(3, 2).restored(&saved).unwrap();
        assert_eq!(back.save(), saved);
        let err = StepRecord::new(4, 2).restored(&saved).err().unwrap();
        assert!(err.to_string().contains("another training split"), "{err}");
        assert!(StepRecord::new(3, 2).restored(&saved[..3]).is_err());
    }

    #[test]
    fn the_schedule_hash_tells_schedules_apart() {
        let hash = |steps: &[&[usize]]| {
            let mut r = StepRecord::new(3, 2);
            for rows in steps {
                r.on_step(rows, &vec![false; rows.len()]);
            }
            r.schedule
        };
        assert_eq!(hash(&[&[0, 1], &[2]]), hash(&[&[0, 1], &[2]]));
        assert_ne!(hash(&[&[0, 1], &[2]]), hash(&[&[1, 0], &[2]]));
        assert_ne!(hash(&[&[0, 1], &[2]]), hash(&[&[0], &[1, 2]]));
    }
}
