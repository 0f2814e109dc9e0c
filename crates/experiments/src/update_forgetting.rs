//! Does rewiring make a network forget? With correctness recorded at every presentation
//! (`step_forgetting.csv`), the forgetting rate in the presentations right after a topology
//! update is compared with static sparse training from the same initial topology and seed at
//! the same steps (same seed: same shuffle stream, so the same examples are presented at the
//! same steps), and with the method's own steps away from updates.
//!
//! "Right after" is the `steps_per_epoch` steps that follow an update: the next presentation
//! of every example. The first epoch is left out (a first presentation cannot be a forgetting
//! event). For SET-like methods that rewire after every epoch every later step is "after an
//! update", so their comparison is against static only.

use crate::degree::{key as cell_key, CellKey};
use crate::results::{read_rows, write_all_rows, RunRow, StepForgettingRow, STEP_FORGETTING};
use crate::summary::mean_ci95;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One row of `update_forgetting.csv`: one cell of a rewiring method, paired with static.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateForgetting {
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
    /// Protocol variant.
    pub variant: String,
    /// Seeds with a static run of the same seed.
    pub n: usize,
    /// Mean topology updates per run.
    pub updates_mean: f64,
    /// Forgetting events per presentation in the steps right after updates.
    pub after_update_rate_mean: f64,
    /// 95% CI half-width.
    pub after_update_rate_ci95: f64,
    /// Static sparse training's rate at the same steps (same seed).
    pub static_rate_mean: f64,
    /// 95% CI half-width.
    pub static_rate_ci95: f64,
    /// Paired difference after-update minus static, mean over seeds.
    pub diff_vs_static_mean: f64,
    /// 95% CI half-width of the paired difference.
    pub diff_vs_static_ci95: f64,
    /// The method's own rate at its other steps (NaN when every step follows an update).
    pub between_updates_rate_mean: f64,
    /// Distinct examples forgotten right after an update, per run.
    pub after_update_examples_mean: f64,
    /// Their mean forgetting events over the run ...
    pub after_update_examples_events: f64,
    /// ... against that of every example forgotten at least once.
    pub forgotten_examples_events: f64,
}

fn parse(field: &str, v: &str) -> Result<Vec<usize>> {
    if v.is_empty() {
        return Ok(Vec::new());
    }
    v.split(';')
        .map(|x| {
            x.parse().with_context(|| {
                format!("{STEP_FORGETTING}: field `{field}`: `{x}` is not a count")
            })
        })
        .collect()
}

/// Which of `steps` steps lie within `window` steps from an update (the update's own step
/// included).
pub fn after_update(updates: &[usize], window: usize, steps: usize) -> Vec<bool> {
    let mut flag = vec![false; steps];
    for &u in updates {
        for f in flag.iter_mut().skip(u).take(window) {
            *f = true;
        }
    }
    flag
}

/// Forgetting events per presentation over the steps `keep` selects (from the second epoch).
pub fn rate(events: &[usize], presentations: &[usize], keep: impl Fn(usize) -> bool) -> f64 {
    let (mut e, mut p) = (0usize, 0usize);
    for s in 0..events.len().min(presentations.len()) {
        if keep(s) {
            e += events[s];
            p += presentations[s];
        }
    }
    if p == 0 {
        f64::NAN
    } else {
        e as f64 / p as f64
    }
}

struct Parsed<'a> {
    row: &'a StepForgettingRow,
    events: Vec<usize>,
    presentations: Vec<usize>,
    updates: Vec<usize>,
}

/// Writes `update_forgetting.csv` into `dir` (nothing when the study has no step records or no
/// static runs); returns its rows.
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<UpdateForgetting>> {
    let rows: Vec<StepForgettingRow> = read_rows(&dir.join(STEP_FORGETTING))?;
    let mut parsed: HashMap<&str, Parsed> = HashMap::new();
    for r in &rows {
        parsed.insert(
            r.run_id.as_str(),
            Parsed {
                row: r,
                events: parse("events", &r.events)?,
                presentations: parse("presentations", &r.presentations)?,
                updates: parse("updates", &r.updates)?,
            },
        );
    }
    // The static run of each (cell without the method, seed).
    let static_of: HashMap<(CellKey, u64), &str> = runs
        .iter()
        .filter(|r| r.method == "static")
        .map(|r| ((cell_key(r), r.seed), r.run_id.as_str()))
        .collect();
    let mut cells: BTreeMap<CellKey, Vec<[f64; 7]>> = BTreeMap::new();
    let mut sorted: Vec<&RunRow> = runs.iter().collect();
    sorted.sort_by_key(|r| r.seed);
    for r in sorted {
        if r.method == "static" || r.method == "dense" {
            continue;
        }
        let Some(m) = parsed.get(r.run_id.as_str()) else {
            continue;
        };
        let mut partner_cell = cell_key(r);
        partner_cell.0 = "static".into();
        let Some(s) = static_of
            .get(&(partner_cell, r.seed))
            .and_then(|id| parsed.get(id))
        else {
            continue;
        };
        let spe = m.row.steps_per_epoch.max(1);
        let flag = after_update(&m.updates, spe, m.events.len());
        let after = |st: usize| st >= spe && flag[st];
        let between = |st: usize| st >= spe && !flag[st];
        let method_rate = rate(&m.events, &m.presentations, after);
        let static_rate = rate(&s.events, &s.presentations, after);
        cells.entry(cell_key(r)).or_default().push([
            m.updates.len() as f64,
            method_rate,
            static_rate,
            rate(&m.events, &m.presentations, between),
            m.row.after_update_examples as f64,
            m.row.after_update_mean_events,
            m.row.forgotten_mean_events,
        ]);
    }
    let mut out = Vec::new();
    for (cell, v) in cells {
        let col =
            |i: usize| -> Vec<f64> { v.iter().map(|x| x[i]).filter(|x| x.is_finite()).collect() };
        let diffs: Vec<f64> = v
            .iter()
            .map(|x| x[1] - x[2])
            .filter(|d| d.is_finite())
            .collect();
        let (after_m, after_c) = mean_ci95(&col(1));
        let (static_m, static_c) = mean_ci95(&col(2));
        let (diff_m, diff_c) = mean_ci95(&diffs);
        out.push(UpdateForgetting {
            method: cell.0.clone(),
            sparsity: cell.1.parse().expect("formatted"),
            missing_mechanism: cell.2.clone(),
            missing_rate: cell.3.parse().expect("formatted"),
            imputation: cell.4.clone(),
            variant: cell.5.clone(),
            n: v.len(),
            updates_mean: mean_ci95(&col(0)).0,
            after_update_rate_mean: after_m,
            after_update_rate_ci95: after_c,
            static_rate_mean: static_m,
            static_rate_ci95: static_c,
            diff_vs_static_mean: diff_m,
            diff_vs_static_ci95: diff_c,
            between_updates_rate_mean: mean_ci95(&col(3)).0,
            after_update_examples_mean: mean_ci95(&col(4)).0,
            after_update_examples_events: mean_ci95(&col(5)).0,
            forgotten_examples_events: mean_ci95(&col(6)).0,
        });
    }
    if !out.is_empty() {
        write_all_rows(&dir.join("update_forgetting.csv"), &out)?;
    }
    Ok(out)
}

/// A heat map of the paired difference (after-update minus static at the same steps, in
/// forgetting events per 100 presentations): rows are methods, columns sparsity and missing
/// data.
pub fn figure(dir: &Path, rows: &[UpdateForgetting]) -> Result<Option<(PathBuf, String)>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let col = |r: &UpdateForgetting| {
        let missing = if r.missing_mechanism == "none" {
            "complete".to_string()
        } else {
            format!("{} {:.0}%", r.missing_mechanism, 100.0 * r.missing_rate)
        };
        match r.variant.as_str() {
            "" => format!("{} {missing}", r.sparsity),
            v => format!("{} {missing} {v}", r.sparsity),
        }
    };
    let (mut methods, mut cols): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for r in rows {
        if !methods.contains(&r.method) {
            methods.push(r.method.clone());
        }
        if !cols.contains(&col(r)) {
            cols.push(col(r));
        }
    }
    let values: Vec<Vec<f64>> = methods
        .iter()
        .map(|m| {
            cols.iter()
                .map(|c| {
                    rows.iter()
                        .find(|r| &r.method == m && &col(r) == c)
                        .map_or(f64::NAN, |r| 100.0 * r.diff_vs_static_mean)
                })
                .collect()
        })
        .collect();
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir)?;
    let path = fig_dir.join("update_forgetting");
    crate::figures::heatmap(
        &path,
        "Forgetting after rewiring minus static (per 100)",
        "sparsity, missing data",
        "method",
        &cols,
        &methods,
        &values,
    )?;
    Ok(Some((
        path,
        "Forgetting events per 100 presentations in the epoch after each topology update, \
         minus static sparse training from the same initial topology and seed at the same steps \
         (mean over seeds; red: rewiring forgets more). CIs in update_forgetting.csv."
            .to_string(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_steps_after_each_update() {
        assert_eq!(
            after_update(&[2, 7], 2, 9),
            vec![false, false, true, true, false, false, false, true, true]
        );
        assert_eq!(after_update(&[], 3, 2), vec![false, false]);
    }

    #[test]
    fn rate_is_events_per_presentation_over_kept_steps() {
        let (e, p) = ([0, 1, 2, 0], [10, 10, 10, 10]);
        assert_eq!(rate(&e, &p, |s| s >= 1), 3.0 / 30.0);
        assert!(rate(&e, &p, |_| false).is_nan());
    }

    /// A method that forgets 3 examples per step right after its updates and 1 elsewhere,
    /// against a static run forgetting 1 per step: the paired difference is 0.2 per
    /// presentation (10 presentations per step).
    #[test]
    fn paired_with_static_at_the_same_steps() {
        let join = |v: &[usize]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(";")
        };
        let mut runs = Vec::new();
        let mut rows = Vec::new();
        for seed in 1..=3 {
            for (method, events) in [
                ("rigl", vec![0, 0, 1, 1, 3, 3, 1, 1]),
                ("static", vec![0, 0, 1, 1, 1, 1, 1, 1]),
            ] {
                let r = crate::results::sample_row(method, seed, 0.9);
                rows.push(StepForgettingRow {
                    run_id: r.run_id.clone(),
                    steps_per_epoch: 2,
                    events: join(&events),
                    presentations: join(&[10; 8]),
                    updates: if method == "rigl" {
                        "4".into()
                    } else {
                        String::new()
                    },
                    after_update_examples: 5,
                    after_update_mean_events: 2.0,
                    forgotten_mean_events: 1.5,
                });
                runs.push(r);
            }
        }
        // Static at sparsity 0.5 like the method (sample_row's sparse level).
        let dir = tempfile::tempdir().unwrap();
        write_all_rows(&dir.path().join(STEP_FORGETTING), &rows).unwrap();
        let out = analyse(dir.path(), &runs).unwrap();
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!((o.method.as_str(), o.n), ("rigl", 3));
        assert!((o.after_update_rate_mean - 0.3).abs() < 1e-12);
        assert!((o.static_rate_mean - 0.1).abs() < 1e-12);
        assert!((o.diff_vs_static_mean - 0.2).abs() < 1e-12);
        assert!((o.between_updates_rate_mean - 0.1).abs() < 1e-12);
        assert_eq!(o.updates_mean, 1.0);
    }
}
