//! Does rewiring make a network forget? Every forgetting event is a pair of presentations of
//! one example, correct at the first and wrong at the second; it *crosses* an update when the
//! topology changed between the two (an update whose first step `u` has `p < u ≤ s` for the
//! presentations at steps `p` and `s`). A run records at every step how many presentations
//! cross an update and, for each forgetting event, how far back its previous presentation
//! was ([`StepRecord`]), so the analysis can classify any run's events by any run's updates.
//!
//! A rewiring method's forgetting rate over the pairs that cross its updates is compared with
//! static sparse training from the same initial topology and seed *at the same pairs of
//! steps* (same seed: same shuffle stream, so the same examples at the same steps, checked by
//! the schedule hash), and with its own rate over the pairs that cross none. Methods that
//! rewire after every epoch (SET, SNFS at the epoch's end) have no pair without an update
//! between (each example is presented once per epoch): static at the same pairs is their only
//! control, and their between-updates rate is NaN.

use anyhow::{Context, Result};
use experiments::cell::Cell;
use experiments::registry::{self, STATIC};
use experiments::results::{read_rows, write_all_rows, RunRow};
use experiments::summary::mean_ci95;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub mod record;

pub use record::{latest_update, StepForgettingRow, StepRecord, StepRecording, STEP_FORGETTING};

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
    /// Seeds paired with a static run of the same seed and the same presentation schedule.
    pub n: usize,
    /// Seeds left out because their static run presented another schedule (a data sampler
    /// that follows the model's statistics).
    pub n_unpaired: usize,
    /// Mean topology updates per run.
    pub updates_mean: f64,
    /// Forgetting events per presentation over the pairs of presentations that cross an
    /// update of the method.
    pub after_update_rate_mean: f64,
    /// 95% CI half-width.
    pub after_update_rate_ci95: f64,
    /// Static sparse training's rate at the same pairs (same seed, same schedule).
    pub static_rate_mean: f64,
    /// 95% CI half-width.
    pub static_rate_ci95: f64,
    /// Paired difference after-update minus static, mean over seeds.
    pub diff_vs_static_mean: f64,
    /// 95% CI half-width of the paired difference.
    pub diff_vs_static_ci95: f64,
    /// The method's own rate over the pairs that cross none of its updates (NaN when every
    /// pair crosses one, as for methods that rewire every epoch).
    pub between_updates_rate_mean: f64,
    /// Static's rate at those same pairs.
    pub static_between_rate_mean: f64,
    /// Distinct examples forgotten across an update, per run.
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
    v.split(';').map(|x| count(field, x)).collect()
}

fn count(field: &str, x: &str) -> Result<usize> {
    x.parse()
        .with_context(|| format!("{STEP_FORGETTING}: field `{field}`: `{x}` is not a count"))
}

/// `event_gaps`: one space-separated list per step.
fn parse_gaps(v: &str) -> Result<Vec<Vec<usize>>> {
    v.split(';')
        .map(|step| {
            step.split_whitespace()
                .map(|x| count("event_gaps", x))
                .collect()
        })
        .collect()
}

/// A run's step record, parsed.
struct Parsed<'a> {
    row: &'a StepForgettingRow,
    repeats: Vec<usize>,
    across: Vec<usize>,
    gaps: Vec<Vec<usize>>,
    updates: Vec<usize>,
}

/// Forgetting events of a run (its `gaps`, by step) split by whether `updates` put a topology
/// update between each event's two presentations: `(across, not across)`.
pub fn classify_events(gaps: &[Vec<usize>], updates: &[usize]) -> (usize, usize) {
    let mut across = 0;
    let mut total = 0;
    for (step, step_gaps) in gaps.iter().enumerate() {
        let latest = latest_update(updates, step);
        for &gap in step_gaps {
            total += 1;
            across += usize::from(latest.is_some_and(|u| step - gap < u));
        }
    }
    (across, total - across)
}

fn ratio(events: usize, presentations: usize) -> f64 {
    if presentations == 0 {
        f64::NAN
    } else {
        events as f64 / presentations as f64
    }
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
                repeats: parse("repeats", &r.repeats)?,
                across: parse("across_updates", &r.across_updates)?,
                gaps: parse_gaps(&r.event_gaps)?,
                updates: parse("updates", &r.updates)?,
            },
        );
    }
    // The static run of each (cell without the method, seed).
    let static_of: HashMap<(Cell, u64), &str> = runs
        .iter()
        .filter(|r| r.method == STATIC)
        .map(|r| ((Cell::of(r), r.seed), r.run_id.as_str()))
        .collect();
    let mut cells: BTreeMap<Cell, Vec<[f64; 8]>> = BTreeMap::new();
    let mut unpaired: BTreeMap<Cell, usize> = BTreeMap::new();
    let mut sorted: Vec<&RunRow> = runs.iter().collect();
    sorted.sort_by_key(|r| r.seed);
    for r in sorted {
        if !registry::rewires(&r.method) {
            continue;
        }
        let Some(m) = parsed.get(r.run_id.as_str()) else {
            continue;
        };
        let partner_cell = Cell::of(r).with_model(STATIC, r.sparsity);
        let Some(s) = static_of
            .get(&(partner_cell, r.seed))
            .and_then(|id| parsed.get(id))
        else {
            continue;
        };
        if s.row.schedule != m.row.schedule {
            *unpaired.entry(Cell::of(r)).or_default() += 1;
            continue;
        }
        let across: usize = m.across.iter().sum();
        let within = m.repeats.iter().sum::<usize>() - across;
        let (m_across, m_within) = classify_events(&m.gaps, &m.updates);
        let (s_across, s_within) = classify_events(&s.gaps, &m.updates);
        cells.entry(Cell::of(r)).or_default().push([
            m.updates.len() as f64,
            ratio(m_across, across),
            ratio(s_across, across),
            ratio(m_within, within),
            ratio(s_within, within),
            m.row.after_update_examples as f64,
            m.row.after_update_mean_events,
            m.row.forgotten_mean_events,
        ]);
    }
    for cell in unpaired.keys() {
        cells.entry(cell.clone()).or_default();
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
            method: cell.method.clone(),
            sparsity: cell.sparsity.0,
            missing_mechanism: cell.missing_mechanism.clone(),
            missing_rate: cell.missing_rate.0,
            imputation: cell.imputation.clone(),
            variant: cell.variant.clone(),
            n: v.len(),
            n_unpaired: unpaired.get(&cell).copied().unwrap_or(0),
            updates_mean: mean_ci95(&col(0)).0,
            after_update_rate_mean: after_m,
            after_update_rate_ci95: after_c,
            static_rate_mean: static_m,
            static_rate_ci95: static_c,
            diff_vs_static_mean: diff_m,
            diff_vs_static_ci95: diff_c,
            between_updates_rate_mean: mean_ci95(&col(3)).0,
            static_between_rate_mean: mean_ci95(&col(4)).0,
            after_update_examples_mean: mean_ci95(&col(5)).0,
            after_update_examples_events: mean_ci95(&col(6)).0,
            forgotten_examples_events: mean_ci95(&col(7)).0,
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
    charts::heatmap(
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
        "Forgetting events per 100 presentations whose previous presentation of the same \
         example came before a topology update, minus static sparse training from the same \
         initial topology and seed at the same pairs of steps (mean over seeds; red: rewiring \
         forgets more). CIs in update_forgetting.csv."
            .to_string(),
    )))
}

/// Forgetting across topology updates against static, when the study recorded steps.
pub(crate) fn update_forgetting_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("update_forgetting.csv");
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<crate::update_forgetting::UpdateForgetting> = read_rows(&path)?;
    let name = crate::folder_name(dir);
    let mut t = format!(
        "Forgetting events (from the training pass of each presentation) per 100 \
         presentations whose previous presentation of the same example came before a topology \
         update, against static sparse training from the same \
         initial topology and seed at the same pairs of steps (paired over seeds, mean ± 95% \
         CI); then the pairs with no update between, for the method and for static (– where \
         every pair crosses an update: methods that rewire every epoch); then the examples \
         forgotten across updates: how many per run and their mean forgetting events over the \
         run against every forgotten example's, from \
         [`update_forgetting.csv`]({name}/update_forgetting.csv). Seeds whose static run \
         presented another schedule are left out (`n_unpaired` there).\n\n"
    );
    t.push_str("| method | sparsity | missing | n | updates | across updates | static, same pairs | difference | no update between (static) | examples forgotten across updates | their events (all forgotten) |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    let pct = |x: f64| {
        if x.is_nan() {
            "–".to_string()
        } else {
            format!("{:.2}", 100.0 * x)
        }
    };
    for r in &rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.0} | {:.2} ± {:.2} | {:.2} ± {:.2} | {:+.2} ± {:.2} | {} ({}) | {:.1} | {:.2} ({:.2}) |",
            r.method,
            r.sparsity,
            crate::missing_cell(&r.missing_mechanism, r.missing_rate),
            r.n,
            r.updates_mean,
            100.0 * r.after_update_rate_mean,
            100.0 * r.after_update_rate_ci95,
            100.0 * r.static_rate_mean,
            100.0 * r.static_rate_ci95,
            100.0 * r.diff_vs_static_mean,
            100.0 * r.diff_vs_static_ci95,
            pct(r.between_updates_rate_mean),
            pct(r.static_between_rate_mean),
            r.after_update_examples_mean,
            r.after_update_examples_events,
            r.forgotten_examples_events
        );
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::policy::OnlineForgetting;
    use rand::{Rng, SeedableRng};

    /// Every presentation of a random schedule (rows repeat within and across steps, updates
    /// inside and at the ends of epochs) classified by brute force: its previous presentation
    /// `p`, and whether some update `u` has `p < u ≤ s`.
    #[test]
    fn record_classifies_pairs_as_brute_force_does() {
        for seed in 0..20u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let (n_rows, steps) = (7, 40);
            let mut record = StepRecord::new(n_rows, 4);
            let mut history: Vec<(usize, usize)> = Vec::new();
            let mut updates = Vec::new();
            let mut forgot_pairs = Vec::new();
            for s in 0..steps {
                let rows: Vec<usize> = (0..rng.random_range(1..5))
                    .map(|_| rng.random_range(0..n_rows))
                    .collect();
                let forgot: Vec<bool> = rows
                    .iter()
                    .map(|r| history.iter().any(|h| h.0 == *r) && rng.random_bool(0.4))
                    .collect();
                // An update produced by this step trains from the next one on; the loop
                // reports it before the step itself.
                if rng.random_bool(0.2) {
                    record.on_topology_update(s + 1);
                    updates.push(s + 1);
                }
                let mut across = 0;
                for (&r, &f) in rows.iter().zip(&forgot) {
                    if let Some(&(_, p)) = history.iter().rev().find(|h| h.0 == r) {
                        let crosses = updates.iter().any(|&u| p < u && u <= s);
                        across += usize::from(crosses);
                        if f {
                            forgot_pairs.push(crosses);
                        }
                    }
                    history.push((r, s));
                }
                record.on_step(&rows, &forgot);
                assert_eq!(record.across_updates()[s], across, "seed {seed}, step {s}");
            }
            let crossing = forgot_pairs.iter().filter(|&&c| c).count();
            assert_eq!(
                classify_events(record.event_gaps(), &updates),
                (crossing, forgot_pairs.len() - crossing),
                "seed {seed}"
            );
            assert_eq!(
                record.repeats().iter().sum::<usize>(),
                history.len()
                    - history
                        .iter()
                        .map(|h| h.0)
                        .collect::<std::collections::BTreeSet<_>>()
                        .len()
            );
        }
    }

    /// 4 rows, 2 per step; epoch 3 presents rows 2 and 3 first. The method's update at step 3
    /// (inside epoch 2) lies between the pairs (2, 5) of rows 0 and 1 and (1, 3) of rows 2
    /// and 3: 4 crossing presentations out of 12 repeats, at steps 3 and 5 (a window of one
    /// epoch after the update would take steps 3 and 4). The method forgets row 0 at step 5
    /// (crossing), row 2 at step 4 and row 3 at step 7 (not crossing); static forgets row 1
    /// at step 5 and row 2 at step 3 (both crossing the method's update).
    #[test]
    fn paired_with_static_at_the_same_pairs_of_steps() {
        let schedule: [[usize; 2]; 8] = [
            [0, 1],
            [2, 3],
            [0, 1],
            [2, 3],
            [2, 3],
            [0, 1],
            [0, 1],
            [2, 3],
        ];
        let record = |events: &[(usize, usize)], updates: &[usize]| {
            let mut r = StepRecord::new(4, 2);
            for (s, rows) in schedule.iter().enumerate() {
                if updates.contains(&(s + 1)) {
                    r.on_topology_update(s + 1);
                }
                let forgot: Vec<bool> =
                    rows.iter().map(|&row| events.contains(&(row, s))).collect();
                r.on_step(rows, &forgot);
            }
            r
        };
        let method = record(&[(0, 5), (2, 4), (3, 7)], &[3]);
        let fixed = record(&[(1, 5), (2, 3)], &[]);
        assert_eq!(method.across_updates(), &[0, 0, 0, 2, 0, 2, 0, 0]);
        let forgetting = OnlineForgetting::new(4);
        let mut runs = Vec::new();
        let mut rows = Vec::new();
        for seed in 1..=3 {
            for (name, rec) in [("rigl", &method), ("static", &fixed)] {
                let r = experiments::results::sample_row(name, seed, 0.9);
                rows.push(rec.row(&r.run_id, &forgetting));
                runs.push(r);
            }
        }
        // A fourth seed whose static run presented another schedule is left out, counted.
        let mut other = StepRecord::new(4, 2);
        other.on_step(&[3, 2], &[false, false]);
        for (name, rec) in [("rigl", &method), ("static", &other)] {
            let r = experiments::results::sample_row(name, 4, 0.9);
            rows.push(rec.row(&r.run_id, &forgetting));
            runs.push(r);
        }
        let dir = tempfile::tempdir().unwrap();
        write_all_rows(&dir.path().join(STEP_FORGETTING), &rows).unwrap();
        let out = analyse(dir.path(), &runs).unwrap();
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!((o.method.as_str(), o.n, o.n_unpaired), ("rigl", 3, 1));
        assert!((o.after_update_rate_mean - 0.25).abs() < 1e-12);
        assert!((o.static_rate_mean - 0.5).abs() < 1e-12);
        assert!((o.diff_vs_static_mean + 0.25).abs() < 1e-12);
        assert!((o.between_updates_rate_mean - 0.25).abs() < 1e-12);
        assert_eq!(o.static_between_rate_mean, 0.0);
        assert_eq!(o.updates_mean, 1.0);
        // Row 0 is the one example forgotten across the update.
        assert_eq!(rows[0].after_update_examples, 1);
    }

    /// A method that rewires after every epoch: every pair crosses an update, so there is no
    /// between-updates rate, and static at the same pairs is the control.
    #[test]
    fn rewiring_every_epoch_leaves_no_pair_between_updates() {
        let mut r = StepRecord::new(2, 1);
        for s in 0..4 {
            r.on_step(&[0, 1], &[false, s == 2]);
            r.on_topology_update(s + 1);
        }
        assert_eq!(r.across_updates(), &[0, 2, 2, 2]);
        assert_eq!(classify_events(r.event_gaps(), r.updates()), (1, 0));
    }
}
