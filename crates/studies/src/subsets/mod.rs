//! Part II's subset-selection study. Its protocol ([`protocol`], where the rules are
//! described) trains each run on the rows a rule keeps; its analysis, here: `subsets.csv` (one
//! row per method x sparsity x rule x fraction), test accuracy against the data fraction, and
//! the README table.

use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::Result;
use charts::{line_panels, Panel, Series};
use experiments::cell::{Cell, Level};
use experiments::results::{read_rows, write_all_rows, RunRow};
use experiments::significance::{correct_claim, paired_t_p_value, significant, ClaimTally};
use experiments::summary::mean_ci95;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod protocol;

use experiments::protocol::ProtocolStudy;
pub use protocol::{permille, SubsetRule, SubsetRunRow, SubsetsProtocol, SUBSETS, SUBSET_RUNS};

/// One row of `subsets.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetSummary {
    /// Method trained on the subset.
    pub method: String,
    /// Its sparsity.
    pub sparsity: f64,
    /// Missingness mechanism.
    pub missing_mechanism: String,
    /// Missing rate.
    pub missing_rate: f64,
    /// Imputation.
    pub imputation: String,
    /// Selection rule (`all` at fraction 1).
    pub rule: SubsetRule,
    /// Data fraction.
    pub fraction: f64,
    /// Seeds.
    pub n: usize,
    /// Test accuracy, mean over seeds.
    pub test_accuracy_mean: f64,
    /// 95% CI half-width of the mean (Student's t).
    pub test_accuracy_ci95: f64,
    /// Rows trained on (mean over seeds).
    pub subset_size: f64,
    /// Share of the subset in its smallest class (mean over seeds).
    pub minority_share: f64,
    /// Natural |PrAC| / training rows (mean over seeds; `prac` only).
    pub prac_share: Option<f64>,
    /// Seeds paired with `random` at the same fraction.
    pub vs_random_n: usize,
    /// Mean paired difference to `random` (this rule minus random, same seed).
    pub vs_random_mean: Option<f64>,
    /// Its 95% CI half-width.
    pub vs_random_ci95: Option<f64>,
    /// Paired t-test of that difference, Holm-adjusted over every rule cell of the file that
    /// was paired with `random` (the claim "a rule beats or trails random selection").
    pub vs_random_p_holm: Option<f64>,
}

/// Model and data of a run: its cell with the subset variant pooled.
fn setting(r: &RunRow) -> Cell {
    Cell::of(r).with_variant("")
}

/// Runs of one cell, in seed order: (run row, subset row).
type CellRuns<'a> = Vec<(&'a RunRow, &'a SubsetRunRow)>;

/// Cells: setting -> (rule, fraction per mille) -> runs.
type Cells<'a> = BTreeMap<Cell, BTreeMap<(SubsetRule, i64), CellRuns<'a>>>;

/// `subsets.csv` from the run rows and their `subset_runs.csv` rows.
pub fn summarise(runs: &[RunRow], subset_rows: &[SubsetRunRow]) -> Vec<SubsetSummary> {
    let (mut out, raw_p): (Vec<SubsetSummary>, Vec<f64>) = group(runs, subset_rows)
        .iter()
        .flat_map(|(set, by_variant)| {
            by_variant.iter().map(move |(&(rule, pm), rs)| {
                let acc: Vec<f64> = rs.iter().map(|(r, _)| r.test_accuracy).collect();
                let (m, ci) = mean_ci95(&acc);
                let mean_of = |f: &dyn Fn(&SubsetRunRow) -> Option<f64>| {
                    let v: Vec<f64> = rs.iter().filter_map(|(_, s)| f(s)).collect();
                    (!v.is_empty()).then(|| mean_ci95(&v).0)
                };
                let random: HashMap<u64, f64> = by_variant
                    .get(&(SubsetRule::Random, pm))
                    .into_iter()
                    .flatten()
                    .map(|(r, _)| (r.seed, r.test_accuracy))
                    .collect();
                let diffs: Vec<f64> = rs
                    .iter()
                    .filter_map(|(r, _)| random.get(&r.seed).map(|a| r.test_accuracy - a))
                    .collect();
                let paired = rule != SubsetRule::Random && !diffs.is_empty();
                let (dm, dc) = mean_ci95(&diffs);
                let p = if paired {
                    paired_t_p_value(&diffs)
                } else {
                    f64::NAN
                };
                let summary = SubsetSummary {
                    method: set.method.clone(),
                    sparsity: set.sparsity.0,
                    missing_mechanism: set.missing_mechanism.clone(),
                    missing_rate: set.missing_rate.0,
                    imputation: set.imputation.clone(),
                    rule,
                    fraction: pm as f64 / 1000.0,
                    n: rs.len(),
                    test_accuracy_mean: m,
                    test_accuracy_ci95: ci,
                    subset_size: mean_of(&|s| Some(s.subset_size as f64)).unwrap_or(f64::NAN),
                    minority_share: mean_of(&|s| Some(s.minority_share)).unwrap_or(f64::NAN),
                    prac_share: mean_of(&|s| {
                        s.prac_size.map(|p| p as f64 / s.n_train.max(1) as f64)
                    }),
                    vs_random_n: if paired { diffs.len() } else { 0 },
                    vs_random_mean: paired.then_some(dm),
                    vs_random_ci95: paired.then_some(dc),
                    vs_random_p_holm: None,
                };
                (summary, p)
            })
        })
        .unzip();
    correct_claim(&mut out, &raw_p, |row, p| {
        row.vs_random_p_holm = (!p.is_nan()).then_some(p)
    });
    out
}

fn group<'a>(runs: &'a [RunRow], subset_rows: &'a [SubsetRunRow]) -> Cells<'a> {
    let by_id: HashMap<&str, &SubsetRunRow> =
        subset_rows.iter().map(|s| (s.run_id.as_str(), s)).collect();
    let mut cells: Cells = BTreeMap::new();
    for r in runs {
        if let Some(s) = by_id.get(r.run_id.as_str()) {
            cells
                .entry(setting(r))
                .or_default()
                .entry((s.rule, permille(s.fraction)))
                .or_default()
                .push((r, s));
        }
    }
    // Seed order, not the order runs finished in, so the means are the same bits every time.
    for rs in cells.values_mut().flat_map(|c| c.values_mut()) {
        rs.sort_by_key(|(r, _)| r.seed);
    }
    cells
}

/// Part II's subset-selection study: training on the part of the data a rule keeps
/// (`subsets.csv`, accuracy against the data fraction per rule).
pub struct SubsetsStudy;

impl Study for SubsetsStudy {
    fn protocol(&self) -> Option<&'static dyn ProtocolStudy> {
        Some(&SubsetsProtocol)
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "subsets",
            about: "test accuracy against the data fraction per subset-selection rule, and subsets.csv (needs [subsets])",
        }]
    }

    fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        analyse(a.dir, a.runs)
    }

    fn readme(&self, dir: &Path) -> Result<Option<String>> {
        table(dir)
    }
}

/// Reads `subset_runs.csv`, writes `subsets.csv` and draws test accuracy against the data
/// fraction; returns the figure with its caption (nothing when the study ran no subsets).
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let path = dir.join(SUBSET_RUNS);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let subset_rows: Vec<SubsetRunRow> = read_rows(&path)?;
    let summary = summarise(runs, &subset_rows);
    write_all_rows(&dir.join(SUBSETS), &summary)?;
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    let out = fig_dir.join("subsets_accuracy_vs_fraction");
    let panels = panels(&summary);
    line_panels(
        &out,
        "Test accuracy when training on a subset chosen by each rule (mean, 95% CI)",
        &panels,
        panels.len().clamp(1, 3),
    )?;
    Ok(vec![(
        out,
        "Final test accuracy against the share of the training split kept, one panel per method, \
         one line per selection rule (random dashed black; every rule ends at the same full-data \
         point); error bars are 95% CIs over seeds, drawn slightly apart for legibility."
            .into(),
    )])
}

/// One panel per (method, sparsity, missing data), one line per rule with error bars; the
/// full-data point (`all@1`) closes every line.
fn panels(summary: &[SubsetSummary]) -> Vec<Panel> {
    // (method, sparsity, mechanism, rate, imputation): a cell of one study, variants pooled.
    type Setting = (String, Level, String, Level, String);
    let mut by_setting: BTreeMap<Setting, Vec<&SubsetSummary>> = BTreeMap::new();
    for s in summary {
        by_setting
            .entry((
                s.method.clone(),
                Level(s.sparsity),
                s.missing_mechanism.clone(),
                Level(s.missing_rate),
                s.imputation.clone(),
            ))
            .or_default()
            .push(s);
    }
    // One accuracy range for every panel, fitted to the means (a CI of a few seeds at a small
    // fraction can span more than [0, 1]; its bar is clipped at the edge).
    let means = summary.iter().map(|s| s.test_accuracy_mean);
    let lo = means.clone().fold(f64::INFINITY, f64::min);
    let hi = means.fold(f64::NEG_INFINITY, f64::max);
    let y_range = ((lo - 0.05).max(0.0), (hi + 0.05).min(1.0));
    let mut panels = Vec::new();
    for ((method, sparsity, mech, rate, imp), rows) in &by_setting {
        let all = rows.iter().find(|s| s.rule == SubsetRule::All);
        let mut rules: Vec<SubsetRule> = rows
            .iter()
            .map(|s| s.rule)
            .filter(|r| *r != SubsetRule::All)
            .collect();
        rules.sort();
        rules.dedup();
        let mut series = Vec::new();
        for (i, &rule) in rules.iter().enumerate() {
            // Error bars of different rules side by side instead of on top of each other.
            let dodge = (i as f64 - (rules.len() as f64 - 1.0) / 2.0) * 0.012;
            let (color, dashed) = (colour(rule), rule == SubsetRule::Random);
            let mut points: Vec<(f64, f64, f64)> = rows
                .iter()
                .filter(|s| s.rule == rule)
                .chain(all)
                .map(|s| {
                    let ci = if s.test_accuracy_ci95.is_finite() {
                        s.test_accuracy_ci95
                    } else {
                        0.0
                    };
                    (s.fraction + dodge, s.test_accuracy_mean, ci)
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            series.push(Series {
                label: rule.name().into(),
                color,
                dashed,
                band: false,
                points: points.iter().map(|&(x, m, _)| (x, m, m, m)).collect(),
            });
            // A one-point band is drawn as an error bar; the same label keeps one legend entry.
            series.extend(points.iter().map(|&(x, m, ci)| Series {
                label: rule.name().into(),
                color,
                dashed,
                band: true,
                points: vec![(x, m, m - ci, m + ci)],
            }));
        }
        let sp = sparsity.0;
        let mut title = if method == experiments::registry::DENSE {
            method.clone()
        } else {
            format!("{method}, sparsity {sp}")
        };
        if mech != "none" {
            let r = rate.0;
            let _ = write!(title, ", {mech} {:.0}% missing, {imp}", 100.0 * r);
        }
        panels.push(Panel {
            title,
            x_label: "share of the training data kept".into(),
            y_label: "final test accuracy".into(),
            series,
            x_log: false,
            y_range: Some(y_range),
        });
    }
    panels
}

/// Each rule's colour index, the same in every panel (random is the black baseline).
fn colour(rule: SubsetRule) -> usize {
    match rule {
        SubsetRule::Random | SubsetRule::All => usize::MAX,
        SubsetRule::Prac => 0,
        SubsetRule::Toneva => 1,
        SubsetRule::El2n => 2,
        SubsetRule::Forgetting => 3,
    }
}

/// The README table of a subset study: test accuracy per method and rule (rows) and fraction
/// (columns), with the paired difference to `random`; `None` when there is no `subsets.csv`.
pub fn table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(SUBSETS);
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<SubsetSummary> = read_rows(&path)?;
    let name = crate::folder_name(dir);
    let mut fractions: Vec<i64> = rows.iter().map(|r| permille(r.fraction)).collect();
    fractions.sort_unstable();
    fractions.dedup();
    let mut t = format!(
        "Training on a subset of the training split chosen by each rule ([`subsets.csv`]({name}/subsets.csv)): \
         test accuracy mean ± 95% CI over seeds and, in brackets, the paired difference to \
         `random` at the same fraction (**bold** where the paired t-test is significant after \
         Holm's correction over every rule cell: {}). 100% is the same full-data runs for every \
         rule.\n\n| method | rule |",
        ClaimTally::of(
            &rows
                .iter()
                .map(|r| r.vs_random_p_holm.unwrap_or(f64::NAN))
                .collect::<Vec<_>>()
        )
    );
    for f in &fractions {
        let _ = write!(t, " {}% |", *f as f64 / 10.0);
    }
    t.push_str("\n|---|---|");
    t.push_str(&"---|".repeat(fractions.len()));
    t.push('\n');
    let mut cells: BTreeMap<(String, SubsetRule), BTreeMap<i64, &SubsetSummary>> = BTreeMap::new();
    for r in &rows {
        let model = if r.method == experiments::registry::DENSE {
            r.method.clone()
        } else {
            format!("{} {}", r.method, r.sparsity)
        };
        let model = if r.missing_mechanism == "none" {
            model
        } else {
            format!("{model}, {} {}", r.missing_mechanism, r.missing_rate)
        };
        cells
            .entry((model, r.rule))
            .or_default()
            .insert(permille(r.fraction), r);
    }
    let full: BTreeMap<&str, &SubsetSummary> = cells
        .iter()
        .filter(|((_, rule), _)| *rule == SubsetRule::All)
        .filter_map(|((model, _), by)| by.get(&1000).map(|s| (model.as_str(), *s)))
        .collect();
    for ((model, rule), by) in cells.iter().filter(|((_, r), _)| *r != SubsetRule::All) {
        let _ = write!(t, "| {model} | {} |", rule.name());
        for f in &fractions {
            let cell = by
                .get(f)
                .or_else(|| (*f == 1000).then(|| full.get(model.as_str())).flatten());
            match cell {
                None => t.push_str(" – |"),
                Some(s) => {
                    let _ = write!(
                        t,
                        " {:.3} ± {:.3}",
                        s.test_accuracy_mean, s.test_accuracy_ci95
                    );
                    if let (Some(d), Some(c)) = (s.vs_random_mean, s.vs_random_ci95) {
                        let txt = format!("{d:+.3} ± {c:.3}");
                        let sig = s.vs_random_p_holm.is_some_and(significant);
                        let _ = write!(t, " ({})", if sig { format!("**{txt}**") } else { txt });
                    }
                    t.push_str(" |");
                }
            }
        }
        t.push('\n');
    }
    let shares: Vec<f64> = rows
        .iter()
        .filter(|r| r.rule == SubsetRule::Prac)
        .filter_map(|r| r.prac_share)
        .collect();
    if !shares.is_empty() {
        let _ = writeln!(
            t,
            "\nPrAC's natural size |A ∪ B| (forgotten or never learned in the short sparse run, or \
             predicted differently by the short dense run): {:.1}% of the training split (mean \
             over seeds); at smaller fractions PrAC keeps its disagreements first, at larger ones \
             it adds the least forgotten.",
            100.0 * mean_ci95(&shares).0
        );
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::subset_size;

    fn run(method: &str, seed: u64, variant: &str, acc: f64) -> RunRow {
        RunRow {
            variant: variant.into(),
            run_id: format!("{method}/{variant}/{seed}"),
            test_accuracy: acc,
            ..experiments::results::sample_row(method, seed, acc)
        }
    }

    fn subset_row(r: &RunRow, rule: SubsetRule, fraction: f64) -> SubsetRunRow {
        SubsetRunRow {
            run_id: r.run_id.clone(),
            seed: r.seed,
            rule,
            fraction,
            n_train: 100,
            subset_size: subset_size(100, fraction),
            minority_share: 0.4,
            forgotten: None,
            disagreements: None,
            prac_size: (rule == SubsetRule::Prac).then_some(40),
            scoring_test_accuracy: None,
            scoring_flops: None,
            scoring_diverged: false,
        }
    }

    #[test]
    fn summary_pairs_each_rule_with_random_by_seed() {
        let mut runs = Vec::new();
        let mut subs = Vec::new();
        for (seed, random, prac) in [(1, 0.80, 0.90), (2, 0.70, 0.78), (3, 0.75, 0.86)] {
            for (rule, acc) in [(SubsetRule::Random, random), (SubsetRule::Prac, prac)] {
                let r = run("set", seed, &format!("{}@0.3", rule.name()), acc);
                subs.push(subset_row(&r, rule, 0.3));
                runs.push(r);
            }
            let r = run("set", seed, "all@1", 0.95);
            subs.push(subset_row(&r, SubsetRule::All, 1.0));
            runs.push(r);
        }
        let s = summarise(&runs, &subs);
        assert_eq!(s.len(), 3);
        let prac = s.iter().find(|x| x.rule == SubsetRule::Prac).unwrap();
        assert_eq!(prac.n, 3);
        assert!((prac.vs_random_mean.unwrap() - 0.0966666).abs() < 1e-6);
        assert_eq!(prac.vs_random_n, 3);
        assert_eq!(prac.subset_size, 30.0);
        assert!((prac.prac_share.unwrap() - 0.4).abs() < 1e-12);
        let random = s.iter().find(|x| x.rule == SubsetRule::Random).unwrap();
        assert_eq!((random.vs_random_mean, random.prac_share), (None, None));
        let all = s.iter().find(|x| x.rule == SubsetRule::All).unwrap();
        assert_eq!((all.fraction, all.vs_random_n), (1.0, 0));
        // Differences 0.10, 0.08, 0.11: t = 10.96 with 2 df, p = 0.0082; the only test of
        // the claim, so Holm leaves it as it is. Random and the full data are no tests.
        let p = prac.vs_random_p_holm.unwrap();
        assert!((p - 0.0082).abs() < 2e-4, "{p}");
        assert_eq!(
            (random.vs_random_p_holm, all.vs_random_p_holm),
            (None, None)
        );
        assert!((all.test_accuracy_mean - 0.95).abs() < 1e-12);
    }
}
