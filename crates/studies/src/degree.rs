//! Do input features that are often missing lose their connections? For every DST run, the
//! Spearman rank correlation between each input neuron's degree after training and the
//! fraction of training rows in which that feature was missing; summarised over seeds per
//! grid cell (mean and Student-t 95% CI), written to `degree_vs_missingness.csv` and drawn.

use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::Result;
use charts::{line_panels, Panel, Series};
use experiments::cell::Cell;
use experiments::results::{read_rows, write_all_rows, DegreeRow, RunRow, INPUT_DEGREE};
use experiments::summary::mean_ci95;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One grid cell's correlation over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegreeCorrelation {
    /// Method.
    pub method: String,
    /// Model sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Target missing rate.
    pub missing_rate: f64,
    /// How missing inputs were fed.
    pub imputation: String,
    /// Seeds with a defined correlation.
    pub n: usize,
    /// Mean over seeds of Spearman's rho (degree vs feature missing rate, final epoch).
    pub spearman_mean: f64,
    /// 95% CI half-width over seeds.
    pub spearman_ci95: f64,
}

/// Ranks with ties averaged (1-based).
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation (Pearson on average ranks); NaN when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        f64::NAN
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// The final-epoch degrees of every run, by run id.
fn final_degrees(rows: &[DegreeRow]) -> HashMap<&str, Vec<&DegreeRow>> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        let e = last.entry(r.run_id.as_str()).or_default();
        *e = (*e).max(r.epoch);
    }
    let mut out: HashMap<&str, Vec<&DegreeRow>> = HashMap::new();
    for r in rows {
        if last[r.run_id.as_str()] == r.epoch {
            out.entry(r.run_id.as_str()).or_default().push(r);
        }
    }
    out
}

/// Correlations of every DST cell with missing data (mean over seeds).
pub fn correlations(runs: &[RunRow], degrees: &[DegreeRow]) -> Vec<DegreeCorrelation> {
    let by_run = final_degrees(degrees);
    let mut cells: BTreeMap<Cell, Vec<f64>> = BTreeMap::new();
    // Seed order, not the order runs finished in, so the means are the same bits every time.
    let mut runs: Vec<&RunRow> = runs.iter().collect();
    runs.sort_by_key(|r| r.seed);
    for r in runs {
        let Some(d) = by_run.get(r.run_id.as_str()) else {
            continue;
        };
        let x: Vec<f64> = d.iter().map(|r| r.missing_rate).collect();
        let y: Vec<f64> = d.iter().map(|r| r.degree as f64).collect();
        let rho = spearman(&x, &y);
        let cell = cells.entry(Cell::of(r)).or_default();
        if rho.is_finite() {
            cell.push(rho);
        }
    }
    cells
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(cell, v)| {
            let (m, ci) = mean_ci95(&v);
            DegreeCorrelation {
                method: cell.method,
                sparsity: cell.sparsity.0,
                missing_mechanism: cell.missing_mechanism,
                missing_rate: cell.missing_rate.0,
                imputation: cell.imputation,
                n: v.len(),
                spearman_mean: m,
                spearman_ci95: ci,
            }
        })
        .collect()
}

/// Part I's degree-vs-missingness study: whether the input neurons of often-missing features
/// lose connections (`degree_vs_missingness.csv`, a figure per mechanism and imputation).
pub struct DegreeStudy;

impl Study for DegreeStudy {
    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "degree-vs-missingness",
            about: "input-neuron degree after training against each feature's missing rate, one line per method, and the Spearman correlations in degree_vs_missingness.csv",
        }]
    }

    fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        analyse(a.dir, a.runs)
    }

    fn readme(&self, dir: &Path) -> Result<Option<String>> {
        readme_table(dir)
    }
}

/// The degree-vs-missingness correlations of a study, when it wrote them.
fn readme_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("degree_vs_missingness.csv");
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<DegreeCorrelation> = read_rows(&path)?;
    let mut t = String::from(
        "Spearman correlation between input-neuron degree after training and the feature's \
         missing rate (mean ± 95% CI over seeds; negative: often-missing features lose \
         connections), from [`degree_vs_missingness.csv`](",
    );
    let _ = writeln!(
        t,
        "{}/degree_vs_missingness.csv):\n",
        crate::folder_name(dir)
    );
    t.push_str("| method | sparsity | mechanism | rate | imputation | n | rho |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} | {:+.3} ± {:.3} |",
            r.method,
            r.sparsity,
            r.missing_mechanism,
            r.missing_rate,
            r.imputation,
            r.n,
            r.spearman_mean,
            r.spearman_ci95
        );
    }
    Ok(Some(t))
}

/// Reads `input_degree.csv`, writes `degree_vs_missingness.csv` and one figure per
/// (mechanism, imputation): relative degree (degree / the run's mean input degree, averaged
/// over seeds) against each feature's missing rate, one line per method.
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let path = dir.join(INPUT_DEGREE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let degrees: Vec<DegreeRow> = read_rows(&path)?;
    let corr = correlations(runs, &degrees);
    write_all_rows(&dir.join("degree_vs_missingness.csv"), &corr)?;
    let by_run = final_degrees(&degrees);
    // (mechanism rate imputation) -> method -> feature index -> (missing rate, relative degrees)
    type Curves = BTreeMap<String, BTreeMap<usize, (Vec<f64>, Vec<f64>)>>;
    let mut panels: BTreeMap<String, Curves> = BTreeMap::new();
    for r in runs.iter().filter(|r| r.missing_mechanism != "none") {
        let Some(d) = by_run.get(r.run_id.as_str()) else {
            continue;
        };
        let mean = d.iter().map(|x| x.degree as f64).sum::<f64>() / d.len().max(1) as f64;
        if mean == 0.0 {
            continue;
        }
        let title = format!(
            "{} {:.0}% missing, {}, sparsity {:.2}",
            r.missing_mechanism,
            100.0 * r.missing_rate,
            r.imputation,
            r.sparsity
        );
        let curve = panels
            .entry(title)
            .or_default()
            .entry(r.method.clone())
            .or_default();
        for x in d {
            let e = curve.entry(x.feature_index).or_default();
            e.0.push(x.missing_rate);
            e.1.push(x.degree as f64 / mean);
        }
    }
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let panels: Vec<Panel> = panels
        .into_iter()
        .map(|(title, methods)| Panel {
            title,
            x_label: "fraction of training rows with the feature missing".into(),
            y_label: "input degree / mean input degree".into(),
            series: methods
                .into_iter()
                .map(|(m, feats)| {
                    // Features sorted by missing rate, in 5 groups of (nearly) equal size: one
                    // point per group, so the trend is readable with 30 features.
                    let mut f: Vec<(f64, f64)> =
                        feats.values().map(|(x, y)| (avg(x), avg(y))).collect();
                    f.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let groups = 5.min(f.len()).max(1);
                    let mut pts: Vec<(f64, f64, f64, f64)> = (0..groups)
                        .map(|g| {
                            let part = &f[g * f.len() / groups..(g + 1) * f.len() / groups];
                            let x = part.iter().map(|p| p.0).sum::<f64>() / part.len() as f64;
                            let y = part.iter().map(|p| p.1).sum::<f64>() / part.len() as f64;
                            (x, y, y, y)
                        })
                        .collect();
                    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                    Series {
                        label: m.clone(),
                        color: experiments::registry::colour(&m),
                        dashed: !experiments::registry::rewires(&m),
                        band: false,
                        points: pts,
                    }
                })
                .collect(),
            x_log: false,
            y_range: None,
        })
        .collect();
    let fig = dir.join("figures").join("degree_vs_missingness");
    std::fs::create_dir_all(dir.join("figures"))?;
    let columns = panels.len().clamp(1, 3);
    line_panels(
        &fig,
        "Input degree vs feature missing rate",
        &panels,
        columns,
    )?;
    Ok(vec![(
        fig,
        "Each input neuron's number of connections after training, relative to the run's mean, against the fraction of training rows in which its feature was missing (final epoch, mean over seeds; features sorted by missing rate in five equal groups, one point per group). Spearman correlations with 95% CIs over seeds are in degree_vs_missingness.csv.".into(),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_by_hand() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // Ties take average ranks: x ranks (1.5, 1.5, 3), y ranks (1, 2, 3).
        let r = spearman(&[5.0, 5.0, 7.0], &[1.0, 2.0, 3.0]);
        assert!((r - 0.866_025_403_784_438_6).abs() < 1e-12, "{r}");
        assert!(spearman(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }
}
