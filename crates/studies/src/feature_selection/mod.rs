//! Feature selection (Madelon): do the input layers gather on the relevant features? From the
//! per-run measures of `feature_selection.csv` (written during training by the study's
//! recording, [`record`]), per grid cell over seeds: precision@k and average
//! precision after the last epoch, the first measured epoch at which precision@k exceeds 0.9
//! (runs that never reach it counted apart), and the mean input degree of the relevant and the
//! other features over training, drawn per missingness setting.

use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::Result;
use charts::{line_panels, Panel, Series};
use experiments::cell::Cell;
use experiments::recording::Recording;
use experiments::results::{read_rows, write_all_rows, RunRow};
use experiments::summary::mean_ci95;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

pub mod record;

pub use record::{
    average_precision, first_epoch_above, precision_at_k, FeatureSelectionRecord,
    FeatureSelectionRecording, FeatureSelectionRow, FEATURE_SELECTION,
};

/// File of the per-cell feature-selection summary.
pub const SUMMARY: &str = "feature_selection_summary.csv";

/// Precision@k a run must exceed to count as having found the relevant features.
pub const FOUND: f64 = 0.9;

/// One grid cell's feature selection over seeds (after the last epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSelectionSummary {
    /// Method.
    pub method: String,
    /// Model sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Target missing rate (of all feature cells).
    pub missing_rate: f64,
    /// How missing inputs were fed.
    pub imputation: String,
    /// `degree` or `strength`.
    pub ranked_by: String,
    /// Seeds.
    pub n: usize,
    /// Precision@k after the last epoch, mean over seeds.
    pub precision_at_k_mean: f64,
    /// 95% CI half-width.
    pub precision_at_k_ci95: f64,
    /// Average precision after the last epoch, mean over seeds.
    pub average_precision_mean: f64,
    /// 95% CI half-width.
    pub average_precision_ci95: f64,
    /// Mean over the seeds that reached it of the first measured epoch with precision@k
    /// above 0.9 (NaN when none did).
    pub first_epoch_above_mean: f64,
    /// Seeds that never exceeded 0.9 at a measured epoch.
    pub n_never: usize,
}

/// Part I's feature-selection study (Madelon): `feature_selection_summary.csv` and a figure
/// of relevant against other input degree over training.
pub struct FeatureSelectionStudy;

impl Study for FeatureSelectionStudy {
    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "feature-selection",
            about: "feature_selection_summary.csv (precision@k and average precision of the inputs ranked by degree, dense by strength, against tracking.relevant_features; first epoch above 0.9) and the mean input degree of relevant and other features over training",
        }]
    }

    fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        analyse(a.dir, a.runs)
    }

    fn recording(&self) -> Option<&'static dyn Recording> {
        Some(&FeatureSelectionRecording)
    }

    fn readme(&self, dir: &Path) -> Result<Option<String>> {
        readme_table(dir)
    }
}

/// The measures of the runs `runs` (converged), by cell, each run's rows in epoch order.
fn by_cell<'a>(
    runs: &'a [RunRow],
    rows: &'a [FeatureSelectionRow],
) -> BTreeMap<Cell, Vec<Vec<&'a FeatureSelectionRow>>> {
    let mut of_run: HashMap<&str, Vec<&FeatureSelectionRow>> = HashMap::new();
    for r in rows {
        of_run.entry(r.run_id.as_str()).or_default().push(r);
    }
    let mut cells: BTreeMap<Cell, Vec<Vec<&FeatureSelectionRow>>> = BTreeMap::new();
    for run in runs {
        if let Some(mut mine) = of_run.remove(run.run_id.as_str()) {
            mine.sort_by_key(|r| r.epoch);
            cells.entry(Cell::of(run)).or_default().push(mine);
        }
    }
    cells
}

/// One summary row per cell.
fn summarise(
    cells: &BTreeMap<Cell, Vec<Vec<&FeatureSelectionRow>>>,
) -> Vec<FeatureSelectionSummary> {
    cells
        .iter()
        .map(|(cell, runs)| {
            let last: Vec<&FeatureSelectionRow> =
                runs.iter().filter_map(|r| r.last().copied()).collect();
            let (p, p_ci) = mean_ci95(&last.iter().map(|r| r.precision_at_k).collect::<Vec<_>>());
            let (ap, ap_ci) =
                mean_ci95(&last.iter().map(|r| r.average_precision).collect::<Vec<_>>());
            let firsts: Vec<Option<usize>> = runs
                .iter()
                .map(|r| {
                    let m: Vec<(usize, f64)> =
                        r.iter().map(|x| (x.epoch, x.precision_at_k)).collect();
                    first_epoch_above(&m, FOUND)
                })
                .collect();
            let reached: Vec<f64> = firsts.iter().flatten().map(|&e| e as f64).collect();
            FeatureSelectionSummary {
                method: cell.method.clone(),
                sparsity: cell.sparsity.0,
                missing_mechanism: cell.missing_mechanism.clone(),
                missing_rate: cell.missing_rate.0,
                imputation: cell.imputation.clone(),
                ranked_by: last
                    .first()
                    .map(|r| r.ranked_by.clone())
                    .unwrap_or_default(),
                n: last.len(),
                precision_at_k_mean: p,
                precision_at_k_ci95: p_ci,
                average_precision_mean: ap,
                average_precision_ci95: ap_ci,
                first_epoch_above_mean: if reached.is_empty() {
                    f64::NAN
                } else {
                    reached.iter().sum::<f64>() / reached.len() as f64
                },
                n_never: firsts.iter().filter(|f| f.is_none()).count(),
            }
        })
        .collect()
}

/// Writes `feature_selection_summary.csv` and the degree figure (nothing without
/// `feature_selection.csv`).
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<Figure>> {
    let rows: Vec<FeatureSelectionRow> = read_rows(&dir.join(FEATURE_SELECTION))?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let cells = by_cell(runs, &rows);
    write_all_rows(&dir.join(SUMMARY), &summarise(&cells))?;
    // One panel per (missingness, imputation, sparsity): per sparse method, the mean degree
    // of the relevant inputs (solid) and of the others (dashed) against the epoch.
    let mut panels: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for (cell, runs) in &cells {
        if cell.is_dense() {
            continue;
        }
        let title = format!(
            "{} {}, {}, sparsity {}",
            cell.missing_mechanism, cell.missing_rate, cell.imputation, cell.sparsity
        );
        let mut per_epoch: BTreeMap<usize, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for r in runs.iter().flatten() {
            let e = per_epoch.entry(r.epoch).or_default();
            e.0.push(r.relevant_degree_mean);
            e.1.push(r.noise_degree_mean);
        }
        for (which, dashed) in [("relevant", false), ("other", true)] {
            let points = per_epoch
                .iter()
                .map(|(&epoch, (rel, noise))| {
                    let v = if dashed { noise } else { rel };
                    let (m, ci) = mean_ci95(v);
                    (epoch as f64, m, m - ci, m + ci)
                })
                .collect();
            panels.entry(title.clone()).or_default().push(Series {
                label: format!("{} {which}", cell.method),
                color: experiments::registry::colour(&cell.method),
                dashed,
                band: true,
                points,
            });
        }
    }
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|(title, series)| Panel {
            title,
            x_label: "epoch".into(),
            y_label: "mean input degree".into(),
            series,
            x_log: false,
            y_range: None,
        })
        .collect();
    let fig = dir.join("figures").join("feature_selection_degree");
    std::fs::create_dir_all(dir.join("figures"))?;
    line_panels(
        &fig,
        "Input degree of relevant and other features",
        &panels,
        panels.len().clamp(1, 3),
    )?;
    Ok(vec![(
        fig,
        "Mean number of connections of the relevant input features (solid) and of the others (dashed) over training, per sparse method (mean and 95% CI over seeds; tracking.relevant_features, used only to measure). Precision@k and average precision per cell are in feature_selection_summary.csv.".into(),
    )])
}

/// The study's table for results/README.md.
fn readme_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(SUMMARY);
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<FeatureSelectionSummary> = read_rows(&path)?;
    let mut t = format!(
        "Feature selection after the last epoch (mean ± 95% CI over seeds): precision@k of the \
         inputs ranked by degree (dense: by Σ|w|) against the relevant features, average \
         precision, and the first measured epoch with precision@k above {FOUND} (mean over the \
         seeds that reached it; `never`: seeds that did not), from \
         [`{SUMMARY}`]({}/{SUMMARY}):\n\n",
        crate::folder_name(dir)
    );
    t.push_str(
        "| method | sparsity | missing | imputation | n | precision@k | average precision | first epoch > 0.9 | never |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let first = if r.first_epoch_above_mean.is_nan() {
            "—".to_string()
        } else {
            format!("{:.1}", r.first_epoch_above_mean)
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {:.3} ± {:.3} | {:.3} ± {:.3} | {} | {} |",
            r.method,
            r.sparsity,
            crate::missing_cell(&r.missing_mechanism, r.missing_rate),
            r.imputation,
            r.n,
            r.precision_at_k_mean,
            r.precision_at_k_ci95,
            r.average_precision_mean,
            r.average_precision_ci95,
            first,
            r.n_never
        );
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(run: &str, epoch: usize, p: f64) -> FeatureSelectionRow {
        FeatureSelectionRow {
            run_id: run.into(),
            method: "set".into(),
            sparsity: 0.5,
            seed: 1,
            epoch,
            ranked_by: "degree".into(),
            k: 20,
            precision_at_k: p,
            average_precision: p,
            relevant_degree_mean: 10.0 * p,
            noise_degree_mean: 2.0,
            relevant_strength_mean: 1.0,
            noise_strength_mean: 1.0,
        }
    }

    /// Two seeds of one cell: one finds the features at epoch 4 and keeps them, the other
    /// never exceeds 0.9 (it touches it exactly); a diverged third seed is not among the runs
    /// and stays out.
    #[test]
    fn a_cell_over_seeds_with_a_run_that_never_finds_the_features() {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<RunRow> = [1, 2]
            .map(|seed| RunRow {
                run_id: format!("r{seed}"),
                ..experiments::results::sample_row("set", seed, 0.9)
            })
            .to_vec();
        let rows = vec![
            row("r1", 2, 0.5),
            row("r1", 4, 0.95),
            row("r1", 6, 1.0),
            row("r2", 2, 0.3),
            row("r2", 4, 0.9),
            row("r2", 6, 0.8),
            row("r3", 6, 0.0),
        ];
        write_all_rows(&dir.path().join(FEATURE_SELECTION), &rows).unwrap();
        let figures = analyse(dir.path(), &runs).unwrap();
        assert_eq!(figures.len(), 1);
        let summary: Vec<FeatureSelectionSummary> = read_rows(&dir.path().join(SUMMARY)).unwrap();
        assert_eq!(summary.len(), 1);
        let s = &summary[0];
        assert_eq!((s.n, s.n_never), (2, 1));
        assert!((s.precision_at_k_mean - 0.9).abs() < 1e-12);
        assert_eq!(s.first_epoch_above_mean, 4.0);
        let table = readme_table(dir.path()).unwrap().unwrap();
        assert!(
            table.contains("| set | 0.5 | none | none | 2 | 0.900 ± "),
            "{table}"
        );
        assert!(readme_table(tempfile::tempdir().unwrap().path())
            .unwrap()
            .is_none());
    }
}
