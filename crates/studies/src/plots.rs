//! The study figures, assembled from a results folder's rows and drawn with the generic
//! primitives of [`charts`]. Every figure is a PNG and an SVG under `figures/`, with
//! its data beside them (`<name>.toml`) and listed with its caption in `figures/index.toml`,
//! so that [`redraw_committed`] redraws every figure from committed files alone: a fresh clone
//! has none of the per-run files (epochs.csv, examples.csv, ...) the figures were computed from.

use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::{Context, Result};
use charts::{heatmap, line_panels, Panel, Series};
use experiments::cell::{Cell, Level};
use experiments::paired::PairedRow;
use experiments::registry::{self, DENSE};
use experiments::results::{EpochRow, RunRow};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Sparsities of the paper's left panel (low and moderate).
const LOW: [f64; 3] = [0.25, 0.5, 0.75];
/// Sparsities of the paper's right panel (extreme).
const EXTREME: [f64; 4] = [0.9, 0.95, 0.98, 0.99];

/// Mean and standard deviation, 0 for a single value (a band of no width).
fn mean_std(v: &[f64]) -> (f64, f64) {
    let (m, s) = experiments::summary::mean_std(v);
    (m, if v.len() > 1 { s } else { 0.0 })
}

fn pct(x: f64) -> String {
    format!("{}%", (x * 1000.0).round() / 10.0)
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Mean ± std over seeds of test accuracy per epoch for the runs selected by `keep`.
fn curve(epochs_by_run: &HashMap<&str, Vec<&EpochRow>>, runs: &[&RunRow]) -> Points {
    let mut per_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for r in runs {
        for e in epochs_by_run.get(r.run_id.as_str()).into_iter().flatten() {
            per_epoch.entry(e.epoch).or_default().push(e.test_accuracy);
        }
    }
    per_epoch
        .into_iter()
        .map(|(ep, v)| {
            let (m, s) = mean_std(&v);
            (ep as f64, m, m - s, m + s)
        })
        .collect()
}

/// Draws the figures a study asks for into `dir/figures` and runs its analyses, leaving out
/// diverged runs; returns the files written (without extension), each with a caption.
pub fn draw(
    dir: &Path,
    kinds: &[String],
    runs: &[RunRow],
    epochs: &[EpochRow],
    paired: &[PairedRow],
) -> Result<Vec<(PathBuf, String)>> {
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    // Every figure and analysis below reads the runs that trained to the end; their per-run
    // files are joined through these rows, so a diverged run's files drop out with it.
    let (converged, _) = experiments::results::converged(runs);
    let runs = converged.as_slice();
    let analysis = Analysis {
        dir,
        runs,
        epochs,
        paired,
    };
    let mut out = Vec::new();
    for kind in kinds {
        let study =
            crate::of_kind(kind).ok_or_else(|| anyhow::anyhow!(crate::unknown_kind(kind)))?;
        out.extend(study.analyse(kind, &analysis)?);
    }
    write_index(dir, &out)?;
    Ok(out)
}

/// The figures of a results folder in README order, with their captions.
const FIGURE_INDEX: &str = "figures/index.toml";

#[derive(Debug, Serialize, Deserialize)]
struct FigureIndex {
    figure: Vec<IndexEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct IndexEntry {
    /// Relative to the results folder, without extension.
    path: String,
    caption: String,
}

fn write_index(dir: &Path, figures: &[(PathBuf, String)]) -> Result<()> {
    let index = FigureIndex {
        figure: figures
            .iter()
            .map(|(path, caption)| IndexEntry {
                path: path
                    .strip_prefix(dir)
                    .unwrap_or(path)
                    .to_string_lossy()
                    .replace('\\', "/"),
                caption: caption.clone(),
            })
            .collect(),
    };
    let path = dir.join(FIGURE_INDEX);
    std::fs::create_dir_all(dir.join("figures"))?;
    std::fs::write(&path, toml::to_string(&index)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Redraws every figure of the results folder `dir` from its committed data files
/// (`figures/index.toml` and each figure's `<name>.toml`), reading no per-run file and running
/// no analysis; returns the figures with their captions, or `None` when the folder has no
/// index (results written before figures kept their data).
pub fn redraw_committed(dir: &Path) -> Result<Option<Vec<(PathBuf, String)>>> {
    let path = dir.join(FIGURE_INDEX);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let index: FigureIndex =
        toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
    let mut out = Vec::new();
    for entry in index.figure {
        let figure = dir.join(&entry.path);
        charts::redraw(&figure)?;
        out.push((figure, entry.caption));
    }
    Ok(Some(out))
}

/// Part I's plain-training study: the seed paper's Figure 2 and the accuracy figures a config
/// picks from (against sparsity, as dense-paired heat maps, by mechanism and imputation,
/// against training cost). Its tables (accuracy per cell, methods, paired tallies) are every
/// study's, written by `reproduce`.
pub struct PlainStudy;

impl Study for PlainStudy {
    fn kinds(&self) -> &'static [Kind] {
        &[
            Kind {
                name: "figure2",
                about: "the seed paper's Figure 2: test accuracy against epoch, SET solid, static dashed, dense black, low/moderate sparsity left, extreme right; paired (missing rate = sparsity) and at every missing rate",
            },
            Kind {
                name: "accuracy-vs-sparsity",
                about: "final test accuracy against model sparsity, one line per method, one panel per missing rate",
            },
            Kind {
                name: "heatmap",
                about: "(method - dense) accuracy over missing rate x model sparsity, one map per method",
            },
            Kind {
                name: "mechanisms",
                about: "accuracy against missing rate, one panel per mechanism (and method), one line per imputation",
            },
            Kind {
                name: "accuracy-vs-cost",
                about: "accuracy against training multiply-adds, one point per cell",
            },
        ]
    }

    fn analyse(&self, kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        let fig_dir = a.dir.join("figures");
        match kind {
            "figure2" => figure2(&fig_dir, a.runs, a.epochs),
            "accuracy-vs-sparsity" => accuracy_vs_sparsity(&fig_dir, a.runs),
            "heatmap" => heatmaps(&fig_dir, a.paired),
            "mechanisms" => mechanisms(&fig_dir, a.runs),
            "accuracy-vs-cost" => accuracy_vs_cost(&fig_dir, a.runs),
            other => anyhow::bail!("`{other}` is not a figure of the plain-training study"),
        }
    }

    fn readme(&self, _dir: &Path) -> Result<Option<String>> {
        Ok(None)
    }
}

/// Figure 2 of the seed paper, at every missing rate (crossed grid) and paired (missing rate
/// equal to model sparsity, the paper's "reduction in both the data input and model
/// parameters").
fn figure2(dir: &Path, runs: &[RunRow], epochs: &[EpochRow]) -> Result<Vec<(PathBuf, String)>> {
    let mut by_run: HashMap<&str, Vec<&EpochRow>> = HashMap::new();
    for e in epochs {
        by_run.entry(e.run_id.as_str()).or_default().push(e);
    }
    let rates: BTreeSet<Level> = runs.iter().map(|r| Level(r.missing_rate)).collect();
    let select = |method: &str, sparsity: Option<f64>, rate: f64| -> Vec<&RunRow> {
        runs.iter()
            .filter(|r| {
                r.method == method
                    && same(r.missing_rate, rate)
                    && sparsity.is_none_or(|s| same(r.sparsity, s))
            })
            .collect()
    };
    let panel = |title: &str, levels: &[f64], rate_of: &dyn Fn(f64) -> f64| -> Panel {
        let mut series = Vec::new();
        for (i, &s) in levels.iter().enumerate() {
            let rate = rate_of(s);
            for (method, dashed) in [("set", false), ("static", true)] {
                let pts = curve(&by_run, &select(method, Some(s), rate));
                if !pts.is_empty() {
                    series.push(Series {
                        label: format!("{} {}", if dashed { "SS-MLP" } else { "SET-MLP" }, pct(s)),
                        color: i,
                        dashed,
                        band: true,
                        points: pts,
                    });
                }
            }
        }
        let mut dense_rates: Vec<f64> = levels.iter().map(|&s| rate_of(s)).collect();
        dense_rates.dedup_by(|a, b| same(*a, *b));
        for rate in dense_rates {
            let pts = curve(&by_run, &select(DENSE, None, rate));
            if !pts.is_empty() {
                series.push(Series {
                    // One legend entry for all dense curves: each is at the missing rate of the
                    // coloured pair it sits next to.
                    label: "dense MLP (same missing rate)".into(),
                    color: usize::MAX,
                    dashed: false,
                    band: false,
                    points: pts,
                });
            }
        }
        Panel {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: "test accuracy".into(),
            series,
            x_log: false,
            y_range: None,
        }
    };
    let mut out = Vec::new();
    for rate in rates {
        let rate = rate.0;
        let path = dir.join(format!("figure2_missing{}", (rate * 100.0).round()));
        let fixed = move |_s: f64| rate;
        line_panels(
            &path,
            &format!("Test accuracy, {} of the values missing (MCAR)", pct(rate)),
            &[
                panel("low to moderate sparsity", &LOW, &fixed),
                panel("extreme sparsity", &EXTREME, &fixed),
            ],
            2,
        )?;
        out.push((
            path,
            format!(
                "Figure 2 at missing rate {}: SET-MLP solid, static sparse (SS-MLP) dashed, dense black; mean ± std over seeds.",
                pct(rate)
            ),
        ));
    }
    let path = dir.join("figure2_paired");
    let paired = |s: f64| s;
    line_panels(
        &path,
        "Test accuracy with missing rate = model sparsity (MCAR)",
        &[
            panel("low to moderate", &LOW, &paired),
            panel("extreme", &EXTREME, &paired),
        ],
        2,
    )?;
    out.push((
        path,
        "Figure 2, paired reading: each sparsity level trained on data with the same fraction of values missing (the paper's \"reduction in both the data input used and model parameters\"); dense at the same missing rates in black.".into(),
    ));
    Ok(out)
}

/// Cells of the final test accuracy (protocol variants pooled) → runs.
type Cells<'a> = BTreeMap<Cell, Vec<&'a RunRow>>;

/// Points of a series: (x, mean, lower, upper).
type Points = Vec<(f64, f64, f64, f64)>;

/// The runs of one model (method, sparsity) per data setting (mechanism, rate, imputation).
type ByData<'a> = BTreeMap<(String, Level, String), Vec<(String, f64, Vec<&'a RunRow>)>>;

/// (method, sparsity) → mechanism → imputation → (rate, runs).
type ByModel<'a> =
    BTreeMap<(String, Level), BTreeMap<String, BTreeMap<String, Vec<(f64, Vec<&'a RunRow>)>>>>;

fn cells(runs: &[RunRow]) -> Cells<'_> {
    let mut c: Cells = BTreeMap::new();
    for r in runs {
        c.entry(Cell::of(r).with_variant("")).or_default().push(r);
    }
    c
}

fn summary_point(x: f64, rows: &[&RunRow]) -> (f64, f64, f64, f64) {
    let v: Vec<f64> = rows.iter().map(|r| r.test_accuracy).collect();
    let (m, _) = mean_std(&v);
    let ci = experiments::summary::ci95_half_width(mean_std(&v).1, v.len());
    let ci = if ci.is_nan() { 0.0 } else { ci };
    (x, m, m - ci, m + ci)
}

/// Final test accuracy vs model sparsity, a line per method, a panel per (mechanism, rate,
/// imputation).
fn accuracy_vs_sparsity(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let c = cells(runs);
    let mut panels_by_data: ByData = BTreeMap::new();
    for (cell, rows) in &c {
        panels_by_data
            .entry((
                cell.missing_mechanism.clone(),
                cell.missing_rate,
                cell.imputation.clone(),
            ))
            .or_default()
            .push((cell.method.clone(), cell.sparsity.0, rows.clone()));
    }
    let mut panels = Vec::new();
    for ((mech, rate, imp), entries) in &panels_by_data {
        let sparse_x: Vec<f64> = entries
            .iter()
            .filter(|e| e.0 != DENSE)
            .map(|e| e.1)
            .collect();
        let (lo, hi) = sparse_x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                (a.min(x), b.max(x))
            });
        let mut by_method: BTreeMap<&str, Points> = BTreeMap::new();
        let crowded = entries
            .iter()
            .map(|e| e.0.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 4;
        for (method, sp, rows) in entries {
            if method == DENSE {
                if lo.is_finite() {
                    // Flat across the sparse models' range, on the density axis.
                    let p = summary_point(1.0 - lo, rows);
                    let q = (1.0 - hi, p.1, p.2, p.3);
                    by_method.entry(DENSE).or_default().extend([p, q]);
                }
            } else {
                by_method
                    .entry(method)
                    .or_default()
                    .push(summary_point(1.0 - *sp, rows));
            }
        }
        let rate = rate.0;
        panels.push(Panel {
            title: if mech == "none" {
                format!("no missing values, {imp}")
            } else {
                format!("{mech} {} missing, {imp}", pct(rate))
            },
            x_label: "model density (1 - sparsity, log scale)".into(),
            y_label: "final test accuracy".into(),
            series: by_method
                .into_iter()
                .map(|(m, pts)| Series {
                    label: m.to_string(),
                    color: registry::colour(m),
                    dashed: !registry::rewires(m),
                    // With many methods the bands hide each other: keep dense's.
                    band: !crowded || m == DENSE,
                    points: pts,
                })
                .collect(),
            x_log: true,
            y_range: None,
        });
    }
    let path = dir.join("accuracy_vs_sparsity");
    let columns = panels.len().clamp(1, 4);
    line_panels(
        &path,
        "Final test accuracy vs model density (mean, 95% CI)",
        &panels,
        columns,
    )?;
    Ok(vec![(
        path,
        "Final test accuracy against model density (1 - sparsity, log scale, so that 90-99% sparsity is spread out), one line per method (dense as a flat reference), one panel per missingness setting; bands are 95% CIs over seeds (dense's only, when more than four methods share a panel).".into(),
    )])
}

/// (method − dense) mean paired accuracy difference over missing rate × sparsity.
fn heatmaps(dir: &Path, paired: &[PairedRow]) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let methods: BTreeSet<&str> = paired.iter().map(|p| p.method.as_str()).collect();
    for method in methods {
        let rows: Vec<&PairedRow> = paired.iter().filter(|p| p.method == method).collect();
        let sps: BTreeSet<Level> = rows.iter().map(|p| Level(p.sparsity)).collect();
        let rates: BTreeSet<Level> = rows.iter().map(|p| Level(p.missing_rate)).collect();
        let sps: Vec<Level> = sps.into_iter().collect();
        let rates: Vec<Level> = rates.into_iter().collect();
        let mut values = vec![vec![f64::NAN; sps.len()]; rates.len()];
        for p in &rows {
            let i = rates.iter().position(|r| *r == Level(p.missing_rate));
            let j = sps.iter().position(|s| *s == Level(p.sparsity));
            if let (Some(i), Some(j)) = (i, j) {
                // Differences of equal accuracies are exactly 0 up to float noise (1e-17).
                values[i][j] = if p.diff_mean.abs() < 1e-9 {
                    0.0
                } else {
                    p.diff_mean
                };
            }
        }
        let label = |v: &Level| pct(v.0);
        let path = dir.join(format!("heatmap_{method}_minus_dense"));
        heatmap(
            &path,
            &format!("{method} − dense test accuracy (paired over seeds)"),
            "model sparsity",
            "missing rate",
            &sps.iter().map(label).collect::<Vec<_>>(),
            &rates.iter().map(label).collect::<Vec<_>>(),
            &values,
        )?;
        out.push((
            path,
            format!("Mean paired difference of {method} minus dense test accuracy (same seed, split and missing values), by missing rate and model sparsity; red: {method} better."),
        ));
    }
    Ok(out)
}

/// Accuracy vs missing rate, a panel per mechanism, a line per imputation; one figure per
/// (method, sparsity).
fn mechanisms(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let c = cells(runs);
    let mut by_model: ByModel = BTreeMap::new();
    for (cell, rows) in &c {
        if cell.missing_mechanism == "none" {
            continue;
        }
        by_model
            .entry((cell.method.clone(), cell.sparsity))
            .or_default()
            .entry(cell.missing_mechanism.clone())
            .or_default()
            .entry(cell.imputation.clone())
            .or_default()
            .push((cell.missing_rate.0, rows.clone()));
    }
    let mut out = Vec::new();
    for ((method, sp), mechs) in by_model {
        let imputations: Vec<String> = {
            let s: BTreeSet<&String> = mechs.values().flat_map(|m| m.keys()).collect();
            s.into_iter().cloned().collect()
        };
        let panels: Vec<Panel> = mechs
            .iter()
            .map(|(mech, imps)| Panel {
                title: mech.clone(),
                x_label: "missing rate".into(),
                y_label: "final test accuracy".into(),
                series: imps
                    .iter()
                    .map(|(imp, pts)| Series {
                        label: imp.clone(),
                        color: imputations.iter().position(|i| i == imp).unwrap_or(0),
                        dashed: imp.contains("indicator"),
                        band: false,
                        points: pts
                            .iter()
                            .map(|(x, rows)| summary_point(*x, rows))
                            .collect(),
                    })
                    .collect(),
                x_log: false,
                y_range: None,
            })
            .collect();
        let sparsity = sp.0;
        let path = dir.join(format!(
            "mechanisms_{method}_sparsity{}",
            (sparsity * 100.0).round()
        ));
        let columns = panels.len().clamp(1, 3);
        line_panels(
            &path,
            &format!(
                "{method}, sparsity {}: accuracy vs missing rate by mechanism and imputation",
                pct(sparsity)
            ),
            &panels,
            columns,
        )?;
        out.push((
            path,
            format!("{method} at sparsity {}: final test accuracy (mean over seeds) against the missing rate, one panel per mechanism, one line per way of feeding the incomplete data.", pct(sparsity)),
        ));
    }
    Ok(out)
}

/// Accuracy vs training multiply-adds, one panel per missing rate (no-missing first).
fn accuracy_vs_cost(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let c = cells(runs);
    let mut panels_by_rate: BTreeMap<(String, Level), BTreeMap<String, Points>> = BTreeMap::new();
    for (cell, rows) in &c {
        let cost = rows.iter().map(|r| r.train_flops as f64).sum::<f64>() / rows.len() as f64;
        let p = summary_point(cost, rows);
        panels_by_rate
            .entry((cell.missing_mechanism.clone(), cell.missing_rate))
            .or_default()
            .entry(cell.method.clone())
            .or_default()
            .push(p);
    }
    let panels: Vec<Panel> = panels_by_rate
        .into_iter()
        .map(|((mech, rate), methods)| {
            let rate = rate.0;
            Panel {
                title: if mech == "none" {
                    "no missing values".into()
                } else {
                    format!("{mech} {} missing", pct(rate))
                },
                x_label: "training multiply-adds".into(),
                y_label: "final test accuracy".into(),
                series: methods
                    .into_iter()
                    .map(|(m, mut pts)| {
                        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                        Series {
                            label: m.clone(),
                            color: registry::colour(&m),
                            dashed: !registry::rewires(&m),
                            band: true,
                            points: pts,
                        }
                    })
                    .collect(),
                x_log: true,
                y_range: None,
            }
        })
        .collect();
    let path = dir.join("accuracy_vs_cost");
    let columns = panels.len().clamp(1, 4);
    line_panels(&path, "Accuracy against training cost", &panels, columns)?;
    Ok(vec![(
        path,
        "Final test accuracy against the multiply-adds actually performed in training (log scale); each point a sparsity level, bands 95% CIs.".into(),
    )])
}
