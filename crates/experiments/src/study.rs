//! The extension point for studies, as [`sparse_core::NamedMethod`] is for methods.
//!
//! A study is a kind of experiment with its own analysis of a results folder: the tables it
//! writes from the runs' files, its figures, and its section of `results/README.md`. A config
//! turns a study's analyses on by naming their kinds in `report.figures`; drawing
//! ([`crate::plots::draw`]) and the README ([`crate::reproduce`]) loop over [`registry`]. Next
//! (issue 24, step 4): a study's config section, grid variants and per-run files, and the
//! studies in a crate of their own.

use crate::config::FigureKind;
use crate::paired::PairedRow;
use crate::results::{EpochRow, RunRow};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What a study's analysis reads.
pub struct Analysis<'a> {
    /// The results folder: the study reads its per-run files here and writes its tables and
    /// (under `figures/`) its figures.
    pub dir: &'a Path,
    /// The runs that trained to the end (a diverged run is left out of every analysis, its
    /// per-run files with it, since they are joined through these rows).
    pub runs: &'a [RunRow],
    /// Every run's per-epoch rows.
    pub epochs: &'a [EpochRow],
    /// The paired differences against dense.
    pub paired: &'a [PairedRow],
}

/// A figure written by an analysis: its path without extension (PNG and SVG beside each
/// other) and its caption.
pub type Figure = (PathBuf, String);

/// A kind of experiment with its own analysis.
pub trait Study: Sync {
    /// The `report.figures` entries that turn the study's analyses on (Part I's plain-training
    /// study has several figures a config picks from; a Part II study has one entry).
    fn kinds(&self) -> &'static [FigureKind];

    /// Writes the tables of the study's analysis `kind` into the results folder and draws its
    /// figures (nothing when the folder lacks the study's per-run files).
    fn analyse(&self, kind: FigureKind, analysis: &Analysis) -> Result<Vec<Figure>>;

    /// The study's tables for `results/README.md`, read from the files [`Study::analyse`]
    /// wrote into `dir` (`None` when there are none).
    fn readme(&self, dir: &Path) -> Result<Option<String>>;
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

/// Every registered study, in the order results/README.md shows their sections.
pub fn registry() -> &'static [&'static dyn Study] {
    &[
        &crate::plots::PlainStudy,
        &crate::degree::DegreeStudy,
        &crate::forgetting::ForgettingStudy,
        &crate::data_aware::report::DataAwareStudy,
        &crate::continual::ContinualStudy,
        &crate::subsets::SubsetsStudy,
    ]
}

/// The registered study that draws `kind`.
pub fn of_kind(kind: FigureKind) -> Option<&'static dyn Study> {
    registry()
        .iter()
        .copied()
        .find(|s| s.kinds().contains(&kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_study_per_kind() {
        let mut kinds: Vec<String> = registry()
            .iter()
            .flat_map(|s| s.kinds())
            .map(|k| format!("{k:?}"))
            .collect();
        let n = kinds.len();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), n, "a kind drawn by two studies");
        // Every kind a config can name has its study.
        let every: toml::Value = toml::from_str(
            r#"k = ["figure2", "accuracy-vs-sparsity", "heatmap", "mechanisms", "accuracy-vs-cost",
                   "degree-vs-missingness", "forgetting", "data-aware", "continual", "subsets"]"#,
        )
        .unwrap();
        let every: Vec<FigureKind> = every["k"].clone().try_into().unwrap();
        assert_eq!(every.len(), n);
        assert!(every.iter().all(|k| of_kind(*k).is_some()));
    }
}
