//! Part II's continual-learning study. Its protocol ([`protocol`], where it is described) runs
//! a model over a sequence of tasks; its analysis, here: from the accuracy matrices of
//! `continual.csv`, the
//! per-cell ACC, BWT and Chaudhry's forgetting with the paired comparison of each memory with
//! the random one (`continual_summary.csv`), heat maps of the mean matrices and average
//! accuracy after each task.

use crate::study::{Analysis, Figure, Kind, Study};
use anyhow::{bail, Result};
use charts::{heatmap, line_panels, Panel, Series};
use experiments::protocol::ProtocolStudy;
pub mod config;
pub mod metrics;
pub mod protocol;

pub use config::{ContinualConfig, ContinualOption, MemoryPolicy, Regime, Scenario};
use experiments::registry::DENSE;
use experiments::results::{read_rows, write_all_rows, RunRow};
use experiments::significance::{correct_claim, paired_t_p_value, significant, ClaimTally};
use experiments::summary::mean_ci95;
pub use metrics::{acc, average_accuracy, bwt, forgetting};
pub use protocol::{ContinualProtocol, ContinualRow, CONTINUAL, SUMMARY};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One cell of `continual_summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinualSummary {
    /// Method.
    pub method: String,
    /// Model sparsity.
    pub sparsity: f64,
    /// `<scenario>/<regime>/<memory>`.
    pub variant: String,
    /// Seeds.
    pub n: usize,
    /// ACC: mean accuracy over all tasks after the last (mean over seeds).
    pub acc_mean: f64,
    /// 95% CI half-width of `acc_mean`.
    pub acc_ci95: f64,
    /// Backward transfer (paper definition, over T-1 tasks).
    pub bwt_mean: f64,
    /// 95% CI half-width of `bwt_mean`.
    pub bwt_ci95: f64,
    /// Chaudhry's average forgetting after the last task.
    pub forgetting_mean: f64,
    /// 95% CI half-width of `forgetting_mean`.
    pub forgetting_ci95: f64,
    /// Seeds paired with the `random` memory of the same method, scenario and regime (0 for
    /// `random` itself).
    pub vs_random_n: usize,
    /// ACC minus the random memory's, paired by seed.
    pub acc_vs_random_mean: f64,
    /// 95% CI half-width.
    pub acc_vs_random_ci95: f64,
    /// Paired t-test of that difference, Holm-adjusted over every memory cell paired with
    /// random (the claim "a memory policy changes ACC against random").
    pub acc_vs_random_p_holm: f64,
    /// Forgetting minus the random memory's, paired by seed.
    pub forgetting_vs_random_mean: f64,
    /// 95% CI half-width.
    pub forgetting_vs_random_ci95: f64,
    /// Holm-adjusted as `acc_vs_random_p_holm`, its own claim.
    pub forgetting_vs_random_p_holm: f64,
}

/// One run's accuracy matrix with its cell.
struct RunMatrix {
    method: String,
    sparsity: f64,
    variant: String,
    seed: u64,
    r: Vec<Vec<f64>>,
}

/// The accuracy matrices of the finished runs `runs`, from `continual.csv`.
fn matrices(dir: &Path, runs: &[RunRow]) -> Result<Vec<RunMatrix>> {
    let rows: Vec<ContinualRow> = read_rows(&dir.join(CONTINUAL))?;
    let finished: HashMap<&str, u64> = runs.iter().map(|r| (r.run_id.as_str(), r.seed)).collect();
    let mut by_run: BTreeMap<&str, Vec<&ContinualRow>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| finished.contains_key(r.run_id.as_str()))
    {
        by_run.entry(&r.run_id).or_default().push(r);
    }
    let mut out = Vec::new();
    for (id, cells) in by_run {
        let t = cells
            .iter()
            .map(|c| c.after_task.max(c.task))
            .max()
            .unwrap_or(0);
        if t == 0 || cells.len() != t * t {
            bail!(
                "{CONTINUAL}: run {id} has {} cells, not a square matrix",
                cells.len()
            );
        }
        let mut r = vec![vec![f64::NAN; t]; t];
        for c in &cells {
            r[c.after_task - 1][c.task - 1] = c.accuracy;
        }
        out.push(RunMatrix {
            method: cells[0].method.clone(),
            sparsity: cells[0].sparsity,
            variant: cells[0].variant.clone(),
            seed: finished[id],
            r,
        });
    }
    Ok(out)
}

/// Per cell (method, sparsity, variant), ACC, BWT and forgetting, mean and 95% CI over seeds,
/// and each memory policy against the random memory, paired by seed and Holm-corrected per
/// claim (ACC, forgetting).
fn summarise(runs: &[RunMatrix]) -> Vec<ContinualSummary> {
    type Key = (String, String, String);
    let key = |method: &str, sparsity: f64, variant: String| -> Key {
        (method.to_string(), format!("{sparsity}"), variant)
    };
    let mut cells: BTreeMap<Key, Vec<&RunMatrix>> = BTreeMap::new();
    for m in runs {
        cells
            .entry(key(&m.method, m.sparsity, m.variant.clone()))
            .or_default()
            .push(m);
    }
    let final_forgetting = |r: &[Vec<f64>]| forgetting(r, r.len() - 1);
    let mut raw_p = Vec::new();
    let mut out: Vec<ContinualSummary> = cells
        .values()
        .map(|ms| {
            let stat = |f: &dyn Fn(&[Vec<f64>]) -> f64| {
                mean_ci95(&ms.iter().map(|m| f(&m.r)).collect::<Vec<_>>())
            };
            let (acc_mean, acc_ci95) = stat(&|r| acc(r));
            let (bwt_mean, bwt_ci95) = stat(&|r| bwt(r));
            let (forgetting_mean, forgetting_ci95) = stat(&final_forgetting);
            // The random memory of the same method, scenario and regime, by seed.
            let random: Vec<&RunMatrix> = ContinualOption::parse(&ms[0].variant)
                .filter(|o| o.memory != MemoryPolicy::Random)
                .map(|o| ContinualOption {
                    memory: MemoryPolicy::Random,
                    ..o
                })
                .and_then(|o| cells.get(&key(&ms[0].method, ms[0].sparsity, o.name())))
                .cloned()
                .unwrap_or_default();
            let (mut acc_d, mut forgetting_d) = (Vec::new(), Vec::new());
            for m in ms {
                if let Some(q) = random.iter().find(|q| q.seed == m.seed) {
                    acc_d.push(acc(&m.r) - acc(&q.r));
                    forgetting_d.push(final_forgetting(&m.r) - final_forgetting(&q.r));
                }
            }
            let paired = !acc_d.is_empty();
            raw_p.push(if paired {
                [paired_t_p_value(&acc_d), paired_t_p_value(&forgetting_d)]
            } else {
                [f64::NAN; 2]
            });
            let ((ad_m, ad_c), (fd_m, fd_c)) = if paired {
                (mean_ci95(&acc_d), mean_ci95(&forgetting_d))
            } else {
                ((f64::NAN, f64::NAN), (f64::NAN, f64::NAN))
            };
            ContinualSummary {
                method: ms[0].method.clone(),
                sparsity: ms[0].sparsity,
                variant: ms[0].variant.clone(),
                n: ms.len(),
                acc_mean,
                acc_ci95,
                bwt_mean,
                bwt_ci95,
                forgetting_mean,
                forgetting_ci95,
                vs_random_n: acc_d.len(),
                acc_vs_random_mean: ad_m,
                acc_vs_random_ci95: ad_c,
                acc_vs_random_p_holm: f64::NAN,
                forgetting_vs_random_mean: fd_m,
                forgetting_vs_random_ci95: fd_c,
                forgetting_vs_random_p_holm: f64::NAN,
            }
        })
        .collect();
    let claim = |i: usize| raw_p.iter().map(|p: &[f64; 2]| p[i]).collect::<Vec<f64>>();
    correct_claim(&mut out, &claim(0), |r, p| r.acc_vs_random_p_holm = p);
    correct_claim(&mut out, &claim(1), |r, p| {
        r.forgetting_vs_random_p_holm = p
    });
    out
}

/// Element-wise mean of equally shaped matrices.
fn mean_matrix(ms: &[&RunMatrix]) -> Vec<Vec<f64>> {
    let t = ms[0].r.len();
    (0..t)
        .map(|i| {
            (0..t)
                .map(|j| ms.iter().map(|m| m.r[i][j]).sum::<f64>() / ms.len() as f64)
                .collect()
        })
        .collect()
}

/// Part II's continual-learning study: one model over a sequence of tasks (`continual.csv`,
/// `continual_summary.csv`, accuracy-matrix heat maps).
pub struct ContinualStudy;

impl Study for ContinualStudy {
    fn protocol(&self) -> Option<&'static dyn ProtocolStudy> {
        Some(&ContinualProtocol)
    }

    fn kinds(&self) -> &'static [Kind] {
        &[Kind {
            name: "continual",
            about: "accuracy-matrix heat maps, average accuracy over tasks and continual_summary.csv (needs a [continual] section)",
        }]
    }

    fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
        analyse(a.dir, a.runs)
    }

    fn readme(&self, dir: &Path) -> Result<Option<String>> {
        readme_table(dir)
    }
}

/// Writes `continual_summary.csv` and the figures of a continual study: per scenario and
/// regime, the mean accuracy matrices (memory x method) as one heat map, and the average
/// accuracy after each task, one panel per scenario, regime and method, one line per memory.
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<(PathBuf, String)>> {
    let all = matrices(dir, runs)?;
    if all.is_empty() {
        return Ok(Vec::new());
    }
    write_all_rows(&dir.join(SUMMARY), &summarise(&all))?;
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    // Cells by (scenario, regime) -> (memory, method label) -> runs.
    type Cells<'a> =
        BTreeMap<(Scenario, Regime), BTreeMap<(MemoryPolicy, String), Vec<&'a RunMatrix>>>;
    let mut cells: Cells = BTreeMap::new();
    for m in &all {
        let Some(o) = ContinualOption::parse(&m.variant) else {
            bail!("{CONTINUAL}: `{}` is not a continual variant", m.variant);
        };
        let label = method_label(&m.method, m.sparsity);
        cells
            .entry((o.scenario, o.regime))
            .or_default()
            .entry((o.memory, label))
            .or_default()
            .push(m);
    }
    let mut out = Vec::new();
    let mut panels = Vec::new();
    for ((scenario, regime), by) in &cells {
        let methods: Vec<String> = ordered_methods(by.keys().map(|(_, l)| l.clone()));
        let memories: Vec<MemoryPolicy> = {
            let mut v: Vec<MemoryPolicy> = by.keys().map(|(m, _)| *m).collect();
            v.dedup();
            v
        };
        let t = by.values().next().expect("non-empty")[0].r.len();
        let x_ticks: Vec<String> = methods
            .iter()
            .flat_map(|m| (1..=t).map(move |j| format!("{m} T{j}")))
            .collect();
        let mut y_ticks = Vec::new();
        let mut values = Vec::new();
        for memory in &memories {
            let means: Vec<Option<Vec<Vec<f64>>>> = methods
                .iter()
                .map(|m| by.get(&(*memory, m.clone())).map(|ms| mean_matrix(ms)))
                .collect();
            for i in 0..t {
                y_ticks.push(format!("{}, after T{}", memory.name(), i + 1));
                values.push(
                    means
                        .iter()
                        .flat_map(|mm| match mm {
                            Some(mm) => mm[i].clone(),
                            None => vec![f64::NAN; t],
                        })
                        .collect(),
                );
            }
        }
        let name = format!("continual_matrix_{}_{}", scenario.name(), regime.name());
        let path = fig_dir.join(&name);
        heatmap(
            &path,
            &format!(
                "Accuracy on task Tj after training task Ti ({}, {}, mean over seeds)",
                scenario.name(),
                regime.name()
            ),
            "method, task evaluated",
            "memory, task trained",
            &x_ticks,
            &y_ticks,
            &values,
        )?;
        out.push((
            path,
            format!(
                "Accuracy matrices R[i][j] ({} {}): rows are the task just trained per memory \
                 policy, columns the task evaluated per method; mean over seeds.",
                scenario.name(),
                regime.name()
            ),
        ));
        for method in &methods {
            let series = memories
                .iter()
                .enumerate()
                .filter_map(|(c, memory)| {
                    let ms = by.get(&(*memory, method.clone()))?;
                    let points = (0..t)
                        .map(|i| {
                            let v: Vec<f64> =
                                ms.iter().map(|m| average_accuracy(&m.r, i)).collect();
                            let (mean, ci) = mean_ci95(&v);
                            let ci = if ci.is_finite() { ci } else { 0.0 };
                            ((i + 1) as f64, mean, mean - ci, mean + ci)
                        })
                        .collect();
                    Some(Series {
                        label: format!("memory: {}", memory.name()),
                        color: c,
                        dashed: *memory == MemoryPolicy::None,
                        band: true,
                        points,
                    })
                })
                .collect();
            panels.push(Panel {
                title: format!("{method}, {} {}", scenario.name(), regime.name()),
                x_label: "tasks trained".into(),
                y_label: "average accuracy so far".into(),
                series,
                x_log: false,
                y_range: Some((0.0, 1.0)),
            });
        }
    }
    let columns = panels.len().min(
        cells
            .values()
            .map(|by| ordered_methods(by.keys().map(|(_, l)| l.clone())).len())
            .max()
            .unwrap_or(1),
    );
    let path = fig_dir.join("continual_accuracy_over_tasks");
    line_panels(
        &path,
        "Average accuracy over the tasks seen so far (mean, 95% CI over seeds)",
        &panels,
        columns.max(1),
    )?;
    out.push((
        path,
        "Average accuracy over the tasks seen so far after each task: one panel per method, \
         scenario and regime, one line per memory policy (fine-tuning dashed)."
            .into(),
    ));
    Ok(out)
}

/// `dense`, or `<method> <sparsity>`.
fn method_label(method: &str, sparsity: f64) -> String {
    if method == DENSE {
        method.to_string()
    } else {
        format!("{method} {sparsity}")
    }
}

/// Method labels, dense first, then as the registry lists the methods.
fn ordered_methods(labels: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = labels.collect();
    v.sort_by_key(|l| {
        let m = l.split(' ').next().unwrap_or("").to_string();
        let pos = experiments::registry::names()
            .iter()
            .position(|n| *n == m)
            .unwrap_or(usize::MAX);
        (m != DENSE, pos, l.clone())
    });
    v.dedup();
    v
}

/// The README table of a continual study's `continual_summary.csv`, when written.
pub fn readme_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(SUMMARY);
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<ContinualSummary> = read_rows(&path)?;
    let name = crate::folder_name(dir);
    let tally =
        |p: fn(&ContinualSummary) -> f64| ClaimTally::of(&rows.iter().map(p).collect::<Vec<_>>());
    let mut t = format!(
        "Continual learning ([`{SUMMARY}`]({name}/{SUMMARY})): ACC is the mean test accuracy \
         over all tasks after the last one, BWT the backward transfer (GEM, over T-1 tasks), \
         forgetting Chaudhry et al.'s average forgetting after the last task; mean ± 95% CI \
         over seeds. In brackets, each memory policy minus the `random` memory of the same \
         method, scenario and regime, paired by seed (**bold** where the paired t-test is \
         significant after Holm's correction over the memory cells; ACC: {}; forgetting: \
         {}).\n\n| scenario / regime / memory | method | n | ACC | BWT | forgetting |\n\
         |---|---|---|---|---|---|\n",
        tally(|r| r.acc_vs_random_p_holm),
        tally(|r| r.forgetting_vs_random_p_holm),
    );
    let vs = |m: f64, c: f64, p_holm: f64| {
        if m.is_nan() {
            return String::new();
        }
        let d = format!("{m:+.3} ± {c:.3}");
        if significant(p_holm) {
            format!(" (**{d}**)")
        } else {
            format!(" ({d})")
        }
    };
    let mut rows = rows;
    rows.sort_by(|a, b| a.variant.cmp(&b.variant).then(a.method.cmp(&b.method)));
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} | {:.3} ± {:.3}{} | {:+.3} ± {:.3} | {:.3} ± {:.3}{} |\n",
            r.variant,
            method_label(&r.method, r.sparsity),
            r.n,
            r.acc_mean,
            r.acc_ci95,
            vs(
                r.acc_vs_random_mean,
                r.acc_vs_random_ci95,
                r.acc_vs_random_p_holm
            ),
            r.bwt_mean,
            r.bwt_ci95,
            r.forgetting_mean,
            r.forgetting_ci95,
            vs(
                r.forgetting_vs_random_mean,
                r.forgetting_vs_random_ci95,
                r.forgetting_vs_random_p_holm
            ),
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forgetting memory against the random memory, paired by seed: ACC +0.055, +0.06,
    /// +0.065 and forgetting -0.11, -0.12, -0.13 over three seeds; a fourth forgetting-memory
    /// seed has no random twin and stays out of the pairs.
    #[test]
    fn memories_are_compared_with_random_paired_by_seed() {
        let matrix = |method: &str, memory: &str, seed: u64, first: f64| RunMatrix {
            method: method.into(),
            sparsity: 0.9,
            variant: format!("class-il/online/{memory}"),
            seed,
            r: vec![vec![0.9, 0.0], vec![first, 0.9]],
        };
        let mut runs = Vec::new();
        for seed in 1..=3 {
            runs.push(matrix("set", "random", seed, 0.5));
            runs.push(matrix("set", "forgetting", seed, 0.6 + 0.01 * seed as f64));
        }
        runs.push(matrix("set", "forgetting", 4, 0.9));
        let out = summarise(&runs);
        let get = |memory: &str| {
            out.iter()
                .find(|r| r.variant.ends_with(memory))
                .expect("cell")
        };
        let (f, r) = (get("/forgetting"), get("/random"));
        assert_eq!((f.n, f.vs_random_n, r.vs_random_n), (4, 3, 0));
        assert!((f.acc_vs_random_mean - 0.06).abs() < 1e-12);
        assert!((f.forgetting_vs_random_mean + 0.12).abs() < 1e-12);
        // t = 20.8 with 2 df: p = 0.0023, the claim's only test.
        assert!(
            (f.acc_vs_random_p_holm - 0.0023).abs() < 2e-4,
            "{}",
            f.acc_vs_random_p_holm
        );
        assert!(significant(f.forgetting_vs_random_p_holm));
        assert!(r.acc_vs_random_mean.is_nan() && r.acc_vs_random_p_holm.is_nan());
    }
}
