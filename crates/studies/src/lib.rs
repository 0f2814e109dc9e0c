//! The studies: each kind of experiment's analysis of a results folder (its tables, figures
//! and section of `results/README.md`), registered in [`registry`] as DST methods are in
//! `experiments::registry`; and [`reproduce`], which runs every study config and writes
//! `results/`. The runner (`experiments`) trains and stores; this crate reads what it stored
//! and draws, so only this crate depends on the drawing (`charts`, plotters).

use experiments::config::FigureKind;
use experiments::study::Study;
use std::path::Path;

pub mod continual;
pub mod data_aware;
pub mod degree;
pub mod exemplars;
pub mod forgetting;
pub mod plots;
pub mod reproduce;
pub mod subsets;
pub mod update_forgetting;

/// Every registered study, in the order results/README.md shows their sections.
pub fn registry() -> &'static [&'static dyn Study] {
    &[
        &plots::PlainStudy,
        &degree::DegreeStudy,
        &forgetting::ForgettingStudy,
        &data_aware::DataAwareStudy,
        &continual::ContinualStudy,
        &subsets::SubsetsStudy,
    ]
}

/// The registered study that draws `kind`.
pub fn of_kind(kind: FigureKind) -> Option<&'static dyn Study> {
    registry()
        .iter()
        .copied()
        .find(|s| s.kinds().contains(&kind))
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
