//! The protocol axis of a grid: how a run uses its data beyond plain training. Part I studies
//! have one protocol, plain training; each Part II study adds one config section whose values
//! expand into protocol variants (data-aware options, subset rules x fractions, continual
//! scenarios), a grid axis like the methods or the sparsities.
//!
//! A study with a protocol of its own implements [`ProtocolStudy`] in the `studies` crate: it
//! owns its config section (parsed by its own type), expands it into [`Variant`]s, runs each
//! variant, and names the per-run files its runs write. The studies crate installs its
//! protocols ([`install`]) before any config is read; the runner, the results store and
//! `collect` loop over what is installed and know no study by name.
//!
//! A variant's name is part of the run key (`/variant=<name>`, left out for plain training so
//! Part I keys never change) and of the `variant` column of `runs.csv` and `summary.csv`.

use crate::config::{ExperimentConfig, MethodsConfig};
use crate::grid::RunSpec;
use crate::results::RunResult;
use anyhow::Result;
use data::Dataset;
use models::EpochRecord;
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

/// A study with a protocol of its own, as the runner sees it.
pub trait ProtocolStudy: Send + Sync {
    /// The config section it owns (`continual` for `[continual]`); also the name under which
    /// the section's settings enter every run key's settings hash.
    fn section(&self) -> &'static str;
    /// Parses and validates the section (errors name the field, `continual.tasks`).
    fn parse(&self, section: &toml::Value) -> Result<Arc<dyn ProtocolSection>, (String, String)>;
    /// The per-run files its runs add beside `runs.csv` (see [`crate::results::StudyRows`]).
    fn files(&self) -> &'static [&'static str];
}

/// A study's parsed config section.
pub trait ProtocolSection: Debug + Send + Sync {
    /// The name and compact JSON (its type serialised, defaults filled in) of the settings
    /// every run key hashes, so changing them reruns the study: the whole section, or the part
    /// that is not a grid axis.
    fn key(&self) -> (&'static str, String);
    /// The protocol variants, in config order.
    fn variants(self: Arc<Self>) -> Vec<Arc<dyn Variant>>;
}

/// One value of a study's protocol axis.
pub trait Variant: Debug + Send + Sync {
    /// The variant's name in run keys and the `variant` column (never empty).
    fn name(&self) -> String;
    /// Whether the variant means something for `method` (see [`Protocol::applies_to`]).
    fn applies_to(&self, _method: &str, _methods: &MethodsConfig) -> bool {
        true
    }
    /// Runs `spec` (one run of this variant) to the end.
    fn execute(&self, run: RunContext<'_>) -> Result<RunResult>;
}

/// What a variant's run is given.
pub struct RunContext<'a> {
    /// The experiment.
    pub cfg: &'a ExperimentConfig,
    /// The run.
    pub spec: &'a RunSpec,
    /// The whole dataset, before the split.
    pub full: &'a Dataset,
    /// The code version written in the run's rows.
    pub commit: &'a str,
    /// Called after each epoch (the progress display).
    pub on_epoch: &'a mut (dyn FnMut(&EpochRecord) + Send),
    /// Where and how often the run checkpoints, when it does.
    pub checkpoints: Option<&'a crate::checkpoint::CheckpointPolicy>,
}

static INSTALLED: OnceLock<Vec<&'static dyn ProtocolStudy>> = OnceLock::new();

/// Makes `studies` the protocols configs may use; the first call wins (the studies crate
/// installs the same list every time, so later calls change nothing).
pub fn install(studies: Vec<&'static dyn ProtocolStudy>) {
    let files: Vec<&'static str> = studies
        .iter()
        .flat_map(|s| s.files().iter().copied())
        .collect();
    if INSTALLED.set(studies).is_ok() {
        crate::results::register_study_files(files);
    }
}

/// The installed protocols (none until [`install`]).
pub fn installed() -> &'static [&'static dyn ProtocolStudy] {
    INSTALLED.get().map_or(&[], Vec::as_slice)
}

/// The installed protocol owning `section`.
pub fn study(section: &str) -> Option<&'static dyn ProtocolStudy> {
    installed().iter().copied().find(|s| s.section() == section)
}

/// The installed protocols' sections for messages (`[continual], [data_aware]`), or
/// `none installed`.
pub fn section_names() -> String {
    let names: Vec<String> = installed()
        .iter()
        .map(|s| format!("[{}]", s.section()))
        .collect();
    if names.is_empty() {
        "none installed".to_string()
    } else {
        names.join(", ")
    }
}

/// The protocol sections of `cfg`, parsed, in config order (validation allows one).
///
/// # Panics
/// On a section no installed study owns, or one that does not parse: [`ExperimentConfig::validate`]
/// refuses both, naming the field, before any grid is expanded.
pub fn sections(cfg: &ExperimentConfig) -> Vec<(&'static str, Arc<dyn ProtocolSection>)> {
    cfg.sections
        .iter()
        .map(|(name, value)| {
            let study = study(name).unwrap_or_else(|| panic!("[{name}]: not validated"));
            let parsed = study
                .parse(value)
                .unwrap_or_else(|(f, e)| panic!("{f}: {e} (the config was not validated)"));
            (study.section(), parsed)
        })
        .collect()
}

/// One value of the protocol axis.
#[derive(Debug, Clone)]
pub enum Protocol {
    /// Every training row once per epoch, growth scored on the step's batch.
    Plain,
    /// A variant of an installed study's protocol (`[continual]`, `[data_aware]`,
    /// `[subsets]`).
    Study(Arc<dyn Variant>),
}

impl PartialEq for Protocol {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Protocol::Plain, Protocol::Plain) => true,
            (Protocol::Study(a), Protocol::Study(b)) => a.name() == b.name(),
            _ => false,
        }
    }
}

impl Protocol {
    /// The variant's name: empty for plain training, else the study's label of the variant.
    pub fn name(&self) -> String {
        match self {
            Protocol::Plain => String::new(),
            Protocol::Study(v) => v.name(),
        }
    }

    /// Whether the variant means something for `method`; variants that would train exactly
    /// like another one (rehearsal after topology updates for a method that never updates,
    /// hardness-driven growth for a method that never grows by gradient) are not run.
    pub fn applies_to(&self, method: &str, methods: &MethodsConfig) -> bool {
        match self {
            Protocol::Plain => true,
            Protocol::Study(v) => v.applies_to(method, methods),
        }
    }
}

/// The protocol variants of `cfg`, in config order: its Part II section's values, or plain
/// training alone.
pub fn variants(cfg: &ExperimentConfig) -> Vec<Protocol> {
    if let Some((_, section)) = sections(cfg).into_iter().next() {
        return section
            .variants()
            .into_iter()
            .map(Protocol::Study)
            .collect();
    }
    vec![Protocol::Plain]
}
