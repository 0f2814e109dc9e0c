//! What studies record while a run trains, beyond what every run writes: a [`Recording`] is a
//! study's per-run measurement (the update-forgetting study's step-by-step presentations, the
//! feature-selection study's ranking of the inputs), asked for in `[tracking]` and written to
//! the study's own file beside `runs.csv`.
//!
//! The studies crate installs its recordings ([`install`], with the protocols) before any
//! config is read. A plain run starts the installed recordings that its config asks for,
//! forwards the loop's steps, topology updates and finished epochs to them, stores their state
//! in its checkpoints, and hands their rows to the results store as [`StudyRows`]: the runner
//! knows no recording by name, and a new one is a study's module, not a change here.

use crate::config::ExperimentConfig;
use crate::grid::RunSpec;
use crate::results::StudyRows;
use anyhow::Result;
use data::Dataset;
use models::policy::OnlineForgetting;
use models::Classifier;
use std::sync::OnceLock;

/// A study's per-run measurement, as the runner sees it.
pub trait Recording: Send + Sync {
    /// The file its rows go to, beside `runs.csv` (`step_forgetting.csv`).
    fn file(&self) -> &'static str;
    /// A recorder for a run of `cfg` whose prepared training split is `train`, when the
    /// config's `[tracking]` asks for this recording.
    fn start(&self, cfg: &ExperimentConfig, train: &Dataset) -> Option<Box<dyn Recorder>>;
}

/// One run's recording in progress. The event methods' defaults ignore the event.
pub trait Recorder: Send {
    /// After the loop's step: the training rows presented (positions in the training split)
    /// and which of them were forgetting events.
    fn on_step(&mut self, _rows: &[usize], _forgot: &[bool]) {}
    /// A new topology trains from `step` on.
    fn on_topology_update(&mut self, _step: usize) {}
    /// After 1-based `epoch` trained (the model as it stands then).
    fn after_epoch(&mut self, _epoch: usize, _model: &dyn Classifier) {}
    /// Its state, for a checkpoint.
    fn save(&self) -> Vec<u8>;
    /// This recorder as [`Recorder::save`] left it in `saved` (a checkpoint of the same run),
    /// or why `saved` does not fit this one; `self` is not changed, so a refusal leaves every
    /// recorder of the run as it was.
    fn restored(&self, saved: &[u8]) -> Result<Box<dyn Recorder>>;
    /// The run's rows of the recording's file, once training ended.
    fn finish(self: Box<Self>, run: &FinishedRun<'_>) -> Result<StudyRows>;
}

/// What a [`Recorder`] may read of its run when training ended.
pub struct FinishedRun<'a> {
    /// The run.
    pub spec: &'a RunSpec,
    /// Its realised sparsity (`runs.csv`'s `sparsity`).
    pub sparsity: f64,
    /// The loop's final per-row forgetting statistics (positions in the training split).
    pub forgetting: &'a OnlineForgetting,
}

static INSTALLED: OnceLock<Vec<&'static dyn Recording>> = OnceLock::new();

/// Makes `recordings` the ones runs start; the first call wins (the studies crate installs
/// the same list every time).
pub fn install(recordings: Vec<&'static dyn Recording>) {
    let files: Vec<&'static str> = recordings.iter().map(|r| r.file()).collect();
    if INSTALLED.set(recordings).is_ok() {
        crate::results::register_study_files(files);
    }
}

/// The installed recordings (none until [`install`]).
pub fn installed() -> &'static [&'static dyn Recording] {
    INSTALLED.get().map_or(&[], Vec::as_slice)
}

/// The recorders `cfg` asks for on `train`, each with its file.
pub fn start(cfg: &ExperimentConfig, train: &Dataset) -> Vec<(&'static str, Box<dyn Recorder>)> {
    installed()
        .iter()
        .filter_map(|r| r.start(cfg, train).map(|rec| (r.file(), rec)))
        .collect()
}

/// Refuses `tracking.relevant_features` when no recording is installed: the measure is a
/// study's, and a run would otherwise train without taking it.
pub fn check(cfg: &ExperimentConfig) -> Result<()> {
    if cfg.tracking.relevant_features.is_some() && installed().is_empty() {
        anyhow::bail!(
            "tracking.relevant_features: measured by the feature-selection study's recording, \
             and no study recording is installed (call studies::install() first)"
        );
    }
    Ok(())
}
