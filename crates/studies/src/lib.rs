//! The studies: each kind of experiment's analysis of a results folder (its tables, figures
//! and section of `results/README.md`), registered in [`registry`] as DST methods are in
//! `experiments::registry`; and [`reproduce`], which runs every study config and writes
//! `results/`. The runner (`experiments`) trains and stores; this crate reads what it stored
//! and draws, so only this crate depends on the drawing (`charts`, plotters).

use experiments::{ConfigError, ExperimentConfig};
use std::path::Path;

pub mod continual;
pub mod data_aware;
pub mod degree;
pub mod exemplars;
pub mod feature_selection;
pub mod forgetting;
pub mod guard;
pub mod plots;
pub mod provenance;
pub mod reproduce;
pub mod study;
pub mod subsets;
pub mod update_forgetting;

pub use study::{Analysis, Figure, Kind, Study};

/// Every registered study, in the order results/README.md shows their sections.
pub fn registry() -> &'static [&'static dyn Study] {
    &[
        &plots::PlainStudy,
        &degree::DegreeStudy,
        &feature_selection::FeatureSelectionStudy,
        &forgetting::ForgettingStudy,
        &data_aware::DataAwareStudy,
        &continual::ContinualStudy,
        &subsets::SubsetsStudy,
    ]
}

/// Hands the protocols and recordings of the registered studies to the runner
/// ([`experiments::protocol`], [`experiments::recording`]), so that configs may use their
/// sections and runs record what the studies read; every entry point that reads configs
/// (xtask, the Python module, [`reproduce`]) calls it first. Calling it again changes nothing.
pub fn install() {
    experiments::protocol::install(registry().iter().filter_map(|s| s.protocol()).collect());
    experiments::recording::install(registry().iter().filter_map(|s| s.recording()).collect());
}

/// The registered study that draws `kind` (a name in `report.figures`).
pub fn of_kind(kind: &str) -> Option<&'static dyn Study> {
    registry()
        .iter()
        .copied()
        .find(|s| s.kinds().iter().any(|k| k.name == kind))
}

/// Every kind a config can name in `report.figures`, in registry order.
pub fn kinds() -> impl Iterator<Item = &'static Kind> {
    registry().iter().flat_map(|s| s.kinds())
}

/// Why `kind` cannot be drawn: no registered study has it; lists the ones that exist.
fn unknown_kind(kind: &str) -> String {
    let known: Vec<&str> = kinds().map(|k| k.name).collect();
    format!(
        "unknown figure `{kind}`: the registered studies draw {}",
        known.join(", ")
    )
}

/// Checks that every name in the `report.figures` of the config at `path` is a registered
/// study's kind (the runner reads them as names; this crate is where the studies are).
pub fn check_figures(path: &Path, cfg: &ExperimentConfig) -> Result<(), ConfigError> {
    match cfg.report.figures.iter().find(|k| of_kind(k).is_none()) {
        None => Ok(()),
        Some(kind) => Err(ConfigError::Field {
            path: path.to_path_buf(),
            field: "report.figures".into(),
            reason: unknown_kind(kind),
        }),
    }
}

/// The folder name of a results folder, for links from results/README.md.
pub(crate) fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A README cell for a missingness setting: "none" or "mcar 0.3".
pub(crate) fn missing_cell(mechanism: &str, rate: f64) -> String {
    if mechanism == "none" {
        "none".into()
    } else {
        format!("{mechanism} {rate}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_study_per_kind() {
        let mut names: Vec<&str> = kinds().map(|k| k.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a kind drawn by two studies");
        for k in kinds() {
            assert!(
                !k.about.is_empty()
                    && k.name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{k:?}"
            );
        }
    }

    /// The Madelon studies measure against, and aim missing values at, exactly the relevant
    /// features the datasets README lists (a typo would still name a feature of the data).
    #[test]
    fn madelon_studies_name_the_relevant_features() {
        let relevant: Vec<String> = experiments::datasets::MADELON_RELEVANT
            .iter()
            .map(|f| f.to_string())
            .collect();
        let mut seen = 0;
        for (path, cfg) in reproduce::discover(&reproduce::studies_dir()).unwrap() {
            if cfg.data.dataset != "madelon" {
                continue;
            }
            seen += 1;
            let listed = cfg.tracking.relevant_features.as_ref();
            assert_eq!(listed, Some(&relevant), "{}", path.display());
            if let Some(columns) = &cfg.missing.columns {
                assert_eq!(columns, &relevant, "{}", path.display());
            }
        }
        assert_eq!(seen, 3);
    }

    /// Every study config names kinds a registered study draws; an unknown one is refused
    /// with the field and the known names.
    #[test]
    fn figures_of_configs_are_checked_against_the_registry() {
        for (path, cfg) in reproduce::discover(&reproduce::studies_dir()).unwrap() {
            check_figures(&path, &cfg).unwrap();
        }
        let (path, mut cfg) = reproduce::discover(&reproduce::studies_dir())
            .unwrap()
            .remove(0);
        cfg.report.figures.push("figure3".into());
        let err = check_figures(&path, &cfg).unwrap_err().to_string();
        assert!(
            err.contains("report.figures")
                && err.contains("`figure3`")
                && err.contains("figure2, "),
            "{err}"
        );
    }
}
