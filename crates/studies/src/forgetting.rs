//! Part II, hard-to-memorize and easy-to-forget examples: per-example statistics of every run
//! (`examples.csv`, Toneva et al. 2019; Swayamdipta et al. 2020; Paul et al. 2021) summarised
//! per grid cell and compared between methods.
//!
//! Writes, into a study's folder:
//! - `forgetting_summary.csv`: per cell, the share of unforgettable and never-learned examples
//!   and the mean forgetting events (mean and 95% CI over seeds), and how stable the hardness
//!   ranking is across seeds (mean pairwise Spearman of the forgetting rank);
//! - `hardness_overlap.csv`: per cell, the Jaccard overlap of its hardest 10% of examples
//!   (highest mean forgetting rank over seeds) with dense's at the same missing data;
//! - figures: histograms of forgetting events per method and sparsity, and one dataset
//!   cartography (confidence against variability, coloured by correctness) per method.

use crate::degree::spearman;
use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::Result;
use charts::{line_panels, scatter, Panel, Series};
use data::dynamics::{ExampleRow, Source};
use experiments::cell::Cell;
use experiments::recording::Recording;
use experiments::results::{read_rows, write_all_rows, RunRow, EXAMPLES};
use experiments::summary::mean_ci95;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One cell of `forgetting_summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForgettingSummary {
    /// Method.
    pub method: String,
    /// Model sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Missing rate.
    pub missing_rate: f64,
    /// Imputation.
    pub imputation: String,
    /// Protocol variant (empty for plain training).
    #[serde(default)]
    pub variant: String,
    /// Seeds.
    pub n: usize,
    /// Share of training examples learned and never forgotten (mean over seeds).
    pub unforgettable_mean: f64,
    /// 95% CI half-width of `unforgettable_mean`.
    pub unforgettable_ci95: f64,
    /// Share of training examples never learned.
    pub never_learned_mean: f64,
    /// 95% CI half-width of `never_learned_mean`.
    pub never_learned_ci95: f64,
    /// Mean forgetting events per example, never-learned examples counted with their 0
    /// events (so a model that learns less can look as if it forgot less: read it beside
    /// `never_learned_mean`, or use `forgetting_events_learned_mean`).
    pub forgetting_events_mean: f64,
    /// 95% CI half-width of `forgetting_events_mean`.
    pub forgetting_events_ci95: f64,
    /// Mean forgetting events per example learned at least once: Toneva et al. keep
    /// never-learned examples out of the event counts and rank them above every forgotten
    /// one (`forgetting_rank` = epochs + 1); their share is `never_learned_mean`.
    #[serde(default)]
    pub forgetting_events_learned_mean: f64,
    /// 95% CI half-width of `forgetting_events_learned_mean`.
    #[serde(default)]
    pub forgetting_events_learned_ci95: f64,
    /// Mean over pairs of seeds of the Spearman correlation of the forgetting ranks of the
    /// examples both seeds trained on (NaN with one seed).
    pub rank_stability: f64,
    /// `unforgettable_mean` from the end-of-epoch evaluation passes instead (the second
    /// source; NaN when not recorded).
    #[serde(default)]
    pub unforgettable_epoch_eval_mean: f64,
    /// `forgetting_events_mean` from the end-of-epoch evaluation passes (NaN when not
    /// recorded).
    #[serde(default)]
    pub forgetting_events_epoch_eval_mean: f64,
}

/// One row of `hardness_overlap.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardnessOverlap {
    /// Method.
    pub method: String,
    /// Model sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Missing rate.
    pub missing_rate: f64,
    /// Imputation.
    pub imputation: String,
    /// Protocol variant (empty for plain training).
    #[serde(default)]
    pub variant: String,
    /// Examples in each hardest set.
    pub k: usize,
    /// `|A ∩ B| / |A ∪ B|` of this method's and dense's hardest 10%.
    pub jaccard_vs_dense: f64,
}

/// Each run's example rows, by run id.
type ByRun<'a> = HashMap<&'a str, Vec<&'a ExampleRow>>;

/// Jaccard index of two sets.
pub fn jaccard(a: &BTreeSet<usize>, b: &BTreeSet<usize>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return f64::NAN;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The `k` examples with the highest mean forgetting rank (ties: smaller id first).
pub fn hardest(ranks: &BTreeMap<usize, f64>, k: usize) -> BTreeSet<usize> {
    let mut v: Vec<(usize, f64)> = ranks.iter().map(|(&i, &r)| (i, r)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter().take(k).map(|(i, _)| i).collect()
}

/// Mean over seed pairs of the Spearman correlation of forgetting ranks on shared examples.
fn rank_stability(per_seed: &[HashMap<usize, f64>]) -> f64 {
    let mut rhos = Vec::new();
    for a in 0..per_seed.len() {
        for b in a + 1..per_seed.len() {
            let shared: Vec<usize> = per_seed[a]
                .keys()
                .filter(|k| per_seed[b].contains_key(k))
                .copied()
                .collect();
            if shared.len() < 3 {
                continue;
            }
            let x: Vec<f64> = shared.iter().map(|k| per_seed[a][k]).collect();
            let y: Vec<f64> = shared.iter().map(|k| per_seed[b][k]).collect();
            let r = spearman(&x, &y);
            if r.is_finite() {
                rhos.push(r);
            }
        }
    }
    mean_ci95(&rhos).0
}

/// Reads the study's `examples.csv` and writes the summaries and figures; returns the
/// figures with captions (nothing when the study did not track examples).
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let path = dir.join(EXAMPLES);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let examples: Vec<ExampleRow> = read_rows(&path)?;
    // The training passes are the primary source (Toneva's definition); the end-of-epoch
    // evaluation, when recorded, is reported beside it.
    let (mut by_run, mut eval_by_run): (ByRun, ByRun) = (HashMap::new(), HashMap::new());
    for e in &examples {
        let map = if e.source == Source::EpochEval.as_str() {
            &mut eval_by_run
        } else {
            &mut by_run
        };
        map.entry(e.run_id.as_str()).or_default().push(e);
    }
    let mut cells: BTreeMap<Cell, Vec<&RunRow>> = BTreeMap::new();
    for r in runs {
        if by_run.contains_key(r.run_id.as_str()) {
            cells.entry(Cell::of(r)).or_default().push(r);
        }
    }
    // Seed order, not the order runs finished in, so the means are the same bits every time.
    for rs in cells.values_mut() {
        rs.sort_by_key(|r| r.seed);
    }
    let mut summary = Vec::new();
    let mut mean_ranks: BTreeMap<Cell, BTreeMap<usize, f64>> = BTreeMap::new();
    for (cell, rs) in &cells {
        let (mut unf, mut never, mut events) = (Vec::new(), Vec::new(), Vec::new());
        let mut learned_events = Vec::new();
        let (mut eval_unf, mut eval_events) = (Vec::new(), Vec::new());
        let mut per_seed = Vec::new();
        let mut sums: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
        for r in rs {
            if let Some(ev) = eval_by_run.get(r.run_id.as_str()) {
                let n = ev.len().max(1) as f64;
                eval_unf.push(ev.iter().filter(|e| e.unforgettable).count() as f64 / n);
                eval_events.push(
                    ev.iter()
                        .map(|e| f64::from(e.forgetting_events))
                        .sum::<f64>()
                        / n,
                );
            }
            let ex = &by_run[r.run_id.as_str()];
            let n = ex.len().max(1) as f64;
            unf.push(ex.iter().filter(|e| e.unforgettable).count() as f64 / n);
            never.push(ex.iter().filter(|e| e.never_learned).count() as f64 / n);
            events.push(
                ex.iter()
                    .map(|e| f64::from(e.forgetting_events))
                    .sum::<f64>()
                    / n,
            );
            let learned: Vec<f64> = ex
                .iter()
                .filter(|e| !e.never_learned)
                .map(|e| f64::from(e.forgetting_events))
                .collect();
            if !learned.is_empty() {
                learned_events.push(experiments::summary::mean_std(&learned).0);
            }
            per_seed.push(
                ex.iter()
                    .map(|e| (e.example_id, f64::from(e.forgetting_rank)))
                    .collect::<HashMap<_, _>>(),
            );
            for e in ex.iter() {
                let s = sums.entry(e.example_id).or_default();
                s.0 += f64::from(e.forgetting_rank);
                s.1 += 1;
            }
        }
        mean_ranks.insert(
            cell.clone(),
            sums.into_iter()
                .map(|(k, (s, c))| (k, s / c as f64))
                .collect(),
        );
        let ((um, uc), (nm, nc), (em, ec)) =
            (mean_ci95(&unf), mean_ci95(&never), mean_ci95(&events));
        let (lm, lc) = mean_ci95(&learned_events);
        summary.push(ForgettingSummary {
            method: cell.method.clone(),
            sparsity: cell.sparsity.0,
            missing_mechanism: cell.missing_mechanism.clone(),
            missing_rate: cell.missing_rate.0,
            imputation: cell.imputation.clone(),
            variant: cell.variant.clone(),
            n: rs.len(),
            unforgettable_mean: um,
            unforgettable_ci95: uc,
            never_learned_mean: nm,
            never_learned_ci95: nc,
            forgetting_events_mean: em,
            forgetting_events_ci95: ec,
            forgetting_events_learned_mean: lm,
            forgetting_events_learned_ci95: lc,
            rank_stability: rank_stability(&per_seed),
            unforgettable_epoch_eval_mean: mean_ci95(&eval_unf).0,
            forgetting_events_epoch_eval_mean: mean_ci95(&eval_events).0,
        });
    }
    write_all_rows(&dir.join("forgetting_summary.csv"), &summary)?;
    let mut overlap = Vec::new();
    for (cell, ranks) in &mean_ranks {
        let (Some(dense), false) = (mean_ranks.get(&cell.dense()), cell.is_dense()) else {
            continue;
        };
        let k = (ranks.len() / 10).max(1);
        overlap.push(HardnessOverlap {
            method: cell.method.clone(),
            sparsity: cell.sparsity.0,
            missing_mechanism: cell.missing_mechanism.clone(),
            missing_rate: cell.missing_rate.0,
            imputation: cell.imputation.clone(),
            variant: cell.variant.clone(),
            k,
            jaccard_vs_dense: jaccard(&hardest(ranks, k), &hardest(dense, k)),
        });
    }
    write_all_rows(&dir.join("hardness_overlap.csv"), &overlap)?;
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    let mut figures = histograms(&fig_dir, &cells, &by_run)?;
    figures.extend(cartography(&fig_dir, &cells, &by_run)?);
    Ok(figures)
}

/// "no missing values" or "mcar 30% missing", from a cell's mechanism and rate.
fn missing_label(cell: &Cell) -> String {
    if cell.missing_mechanism == "none" {
        "no missing values".into()
    } else {
        format!(
            "{} {:.0}% missing",
            cell.missing_mechanism,
            100.0 * cell.missing_rate.0
        )
    }
}

/// Share of examples with 0, 1, ..., 9 and 10+ forgetting events, per method, one panel per
/// (sparsity, missing data).
fn histograms(
    dir: &Path,
    cells: &BTreeMap<Cell, Vec<&RunRow>>,
    by_run: &HashMap<&str, Vec<&ExampleRow>>,
) -> Result<Vec<(PathBuf, String)>> {
    const TOP: u32 = 10;
    let mut panels: BTreeMap<String, Vec<Series>> = BTreeMap::new();
    for (cell, rs) in cells {
        // Bin TOP + 1: never learned, apart from the unforgettable 0 (as Toneva et al.
        // count them: forgotten more than any example that was learned).
        let mut counts = [0f64; TOP as usize + 2];
        let mut total = 0.0f64;
        for r in rs {
            for e in &by_run[r.run_id.as_str()] {
                let bin = if e.never_learned {
                    TOP + 1
                } else {
                    e.forgetting_events.min(TOP)
                };
                counts[bin as usize] += 1.0;
                total += 1.0;
            }
        }
        let title = format!("sparsity {}, {}", cell.sparsity, missing_label(cell));
        // Dense has sparsity 0: it joins every panel of the same missing data below.
        let pts = counts
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                let y = c / total.max(1.0);
                (k as f64, y, y, y)
            })
            .collect();
        panels.entry(title).or_default().push(Series {
            label: cell.method.clone(),
            color: experiments::registry::colour(&cell.method),
            dashed: !experiments::registry::rewires(&cell.method),
            band: false,
            points: pts,
        });
    }
    // Copy dense's curve into the sparse panels with the same missing data.
    let dense: Vec<(String, Series)> = panels
        .iter()
        .filter(|(t, _)| t.starts_with("sparsity 0,") || t.starts_with("sparsity 0 "))
        .flat_map(|(t, s)| s.iter().map(move |x| (t.clone(), x.clone())))
        .collect();
    let mut panels: Vec<Panel> = panels
        .into_iter()
        .filter(|(t, _)| !t.starts_with("sparsity 0,") && !t.starts_with("sparsity 0 "))
        .map(|(title, mut series)| {
            let missing = title.split_once(", ").map(|x| x.1).unwrap_or("");
            for (t, s) in &dense {
                if t.ends_with(missing) {
                    series.insert(0, s.clone());
                }
            }
            Panel {
                title,
                x_label: "forgetting events (10 = 10 or more, 11 = never learned)".into(),
                y_label: "share of training examples".into(),
                series,
                x_log: false,
                y_range: None,
            }
        })
        .collect();
    if panels.is_empty() {
        panels = dense
            .into_iter()
            .map(|(t, s)| Panel {
                title: t,
                x_label: "forgetting events (10 = 10 or more, 11 = never learned)".into(),
                y_label: "share of training examples".into(),
                series: vec![s],
                x_log: false,
                y_range: None,
            })
            .collect();
    }
    let path = dir.join("forgetting_events");
    let columns = panels.len().clamp(1, 3);
    line_panels(&path, "Forgetting events per example", &panels, columns)?;
    Ok(vec![(
        path,
        "Share of training examples by number of forgetting events (Toneva et al. 2019: a correct-to-incorrect transition between presentations, from the training pass of each presentation), pooled over seeds, dense in black; never-learned examples in their own bin (11), not at 0 with the unforgettable ones.".into(),
    )])
}

/// Dataset cartography (Swayamdipta et al. 2020) per method, at its highest sparsity and the
/// study's first missing-data setting: each example's confidence (mean probability of its
/// label) against variability (its standard deviation), means over seeds, in three groups of
/// correctness.
fn cartography(
    dir: &Path,
    cells: &BTreeMap<Cell, Vec<&RunRow>>,
    by_run: &HashMap<&str, Vec<&ExampleRow>>,
) -> Result<Vec<(PathBuf, String)>> {
    // Per method: the lowest missing rate, then the highest sparsity.
    let mut chosen: BTreeMap<String, &Cell> = BTreeMap::new();
    for cell in cells.keys() {
        let better = |c: &Cell| {
            cell.missing_rate < c.missing_rate
                || (cell.missing_rate == c.missing_rate && cell.sparsity > c.sparsity)
        };
        if chosen.get(&cell.method).is_none_or(|c| better(c)) {
            chosen.insert(cell.method.clone(), cell);
        }
    }
    let mut out = Vec::new();
    for (method, cell) in chosen {
        let mut acc: BTreeMap<usize, (f64, f64, f64, usize)> = BTreeMap::new();
        for r in &cells[cell] {
            for e in &by_run[r.run_id.as_str()] {
                let a = acc.entry(e.example_id).or_default();
                a.0 += e.confidence;
                a.1 += e.variability;
                a.2 += e.correctness;
                a.3 += 1;
            }
        }
        let mut groups = vec![
            ("correctness < 1/3".to_string(), Vec::new()),
            ("1/3 to 2/3".to_string(), Vec::new()),
            ("> 2/3".to_string(), Vec::new()),
        ];
        for (c, v, k, n) in acc.values() {
            let n = *n as f64;
            let g = if k / n < 1.0 / 3.0 {
                0
            } else if k / n <= 2.0 / 3.0 {
                1
            } else {
                2
            };
            groups[g].1.push((v / n, c / n));
        }
        let path = dir.join(format!("cartography_{method}"));
        scatter(
            &path,
            &format!(
                "{method}, sparsity {}, {}",
                cell.sparsity,
                missing_label(cell)
            ),
            "variability",
            "confidence",
            &groups,
        )?;
        out.push((
            path,
            format!("Dataset cartography of {method}: each training example's confidence against variability over the epochs (means over seeds), by correctness."),
        ));
    }
    Ok(out)
}

/// Part II's forgetting study: per-example forgetting statistics and hardness
/// (`forgetting_summary.csv`, `hardness_overlap.csv`, histograms and cartography),
/// sparsity-identified exemplars (`exemplars.csv`) and forgetting across topology updates
/// (`update_forgetting.csv`).
pub struct ForgettingStudy;

impl Study for ForgettingStudy {
    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "forgetting",
            about: "forgetting-event histograms, dataset cartography per method, forgetting_summary.csv and hardness_overlap.csv (needs tracking.examples), sparsity-identified exemplars (exemplars.csv, needs tracking.predictions) and forgetting right after topology updates (update_forgetting.csv)",
        }]
    }

    fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        let mut out = analyse(a.dir, a.runs)?;
        crate::exemplars::analyse(a.dir, a.runs)?;
        let updates = crate::update_forgetting::analyse(a.dir, a.runs)?;
        out.extend(crate::update_forgetting::figure(a.dir, &updates)?);
        Ok(out)
    }

    /// The step-by-step record behind `update_forgetting.csv`.
    fn recording(&self) -> Option<&'static dyn Recording> {
        Some(&crate::update_forgetting::StepRecording)
    }

    fn readme(&self, dir: &Path) -> Result<Option<String>> {
        let tables: Vec<String> = [
            forgetting_table(dir)?,
            crate::exemplars::exemplar_table(dir)?,
            crate::update_forgetting::update_forgetting_table(dir)?,
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok((!tables.is_empty()).then(|| tables.join("\n")))
    }
}

/// The forgetting summary of a Part II study, joined with the hardness overlap, when written.
fn forgetting_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("forgetting_summary.csv");
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<ForgettingSummary> = read_rows(&path)?;
    let overlap: Vec<HardnessOverlap> = read_rows(&dir.join("hardness_overlap.csv"))?;
    let name = crate::folder_name(dir);
    let mut t = format!(
        "Per-example statistics (mean ± 95% CI over seeds) from \
         [`forgetting_summary.csv`]({name}/forgetting_summary.csv). Source: the training pass \
         of every presentation (Toneva et al.'s definition: dropout on, before the step), \
         except `eval`, the unforgettable share from the end-of-epoch evaluation passes \
         (dropout off), the second source, where recorded. Share of unforgettable (learned and \
         never forgotten) and never-learned training examples; forgetting events per example \
         *learned at least once* (never-learned examples are counted beside it, not as 0 \
         events: Toneva et al. rank them above every forgotten example); the stability of the \
         hardness ranking across seeds (mean pairwise Spearman); and the Jaccard overlap of the \
         hardest 10% with dense's ([`hardness_overlap.csv`]({name}/hardness_overlap.csv)):\n\n"
    );
    t.push_str("| method | sparsity | missing | n | unforgettable | eval | never learned | forgetting events (learned) | rank stability | hardest 10% vs dense |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        let j = overlap
            .iter()
            .find(|o| {
                o.method == r.method
                    && o.sparsity == r.sparsity
                    && o.missing_mechanism == r.missing_mechanism
                    && o.missing_rate == r.missing_rate
                    && o.imputation == r.imputation
            })
            .map_or("–".to_string(), |o| format!("{:.2}", o.jaccard_vs_dense));
        let _ = writeln!(
            t,
            "| {} | {} | {} {} | {} | {:.3} ± {:.3} | {} | {:.3} ± {:.3} | {:.2} ± {:.2} | {:.2} | {} |",
            r.method,
            r.sparsity,
            r.missing_mechanism,
            r.missing_rate,
            r.n,
            r.unforgettable_mean,
            r.unforgettable_ci95,
            if r.unforgettable_epoch_eval_mean.is_finite() {
                format!("{:.3}", r.unforgettable_epoch_eval_mean)
            } else {
                "–".into()
            },
            r.never_learned_mean,
            r.never_learned_ci95,
            r.forgetting_events_learned_mean,
            r.forgetting_events_learned_ci95,
            r.rank_stability,
            j
        );
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four examples: unforgettable, forgotten twice, never learned, forgotten once. The mean
    /// over every example (0.75) counts the never-learned one as 0 events; over the learned
    /// examples it is 1, with the never-learned share (0.25) beside it; the histogram puts it
    /// in its own bin.
    #[test]
    fn never_learned_examples_are_counted_beside_the_events_not_as_zero() {
        let mut runs = Vec::new();
        let mut rows = Vec::new();
        for seed in 1..=2 {
            let r = experiments::results::sample_row("dense", seed, 0.9);
            for (id, events, never) in [(0, 0, false), (1, 2, false), (2, 0, true), (3, 1, false)] {
                rows.push(ExampleRow {
                    run_id: r.run_id.clone(),
                    example_id: id,
                    label: 0,
                    source: Source::TrainPass.as_str().into(),
                    presentations: 5,
                    forgetting_events: events,
                    learning_events: u32::from(!never),
                    first_learned_epoch: (!never).then_some(1),
                    unforgettable: !never && events == 0,
                    never_learned: never,
                    forgetting_rank: if never { 6 } else { events },
                    confidence: 0.5,
                    variability: 0.1,
                    correctness: 0.5,
                    el2n: None,
                    el2n_epoch: None,
                });
            }
            runs.push(r);
        }
        let dir = tempfile::tempdir().unwrap();
        write_all_rows(&dir.path().join(EXAMPLES), &rows).unwrap();
        analyse(dir.path(), &runs).unwrap();
        let out: Vec<ForgettingSummary> =
            read_rows(&dir.path().join("forgetting_summary.csv")).unwrap();
        let s = &out[0];
        assert_eq!(s.n, 2);
        assert!((s.forgetting_events_mean - 0.75).abs() < 1e-12);
        assert!((s.forgetting_events_learned_mean - 1.0).abs() < 1e-12);
        assert!((s.never_learned_mean - 0.25).abs() < 1e-12);
        assert!((s.unforgettable_mean - 0.25).abs() < 1e-12);
    }

    #[test]
    fn hardest_and_jaccard_by_hand() {
        let ranks: BTreeMap<usize, f64> = [(0, 1.0), (1, 5.0), (2, 3.0), (3, 5.0), (4, 2.0)]
            .into_iter()
            .collect();
        let h = hardest(&ranks, 2);
        assert_eq!(h, [1, 3].into_iter().collect());
        let other: BTreeSet<usize> = [3, 2].into_iter().collect();
        assert!((jaccard(&h, &other) - 1.0 / 3.0).abs() < 1e-12);
        assert!(jaccard(&BTreeSet::new(), &BTreeSet::new()).is_nan());
    }

    #[test]
    fn rank_stability_is_one_for_identical_seeds() {
        let a: HashMap<usize, f64> = (0..10).map(|i| (i, (i * 7 % 10) as f64)).collect();
        assert!((rank_stability(&[a.clone(), a.clone()]) - 1.0).abs() < 1e-12);
        let b: HashMap<usize, f64> = a.iter().map(|(&k, &v)| (k, -v)).collect();
        assert!((rank_stability(&[a, b]) + 1.0).abs() < 1e-12);
    }
}
