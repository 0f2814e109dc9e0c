//! Sparsity-identified exemplars: Hooker et al.'s pruning-identified exemplars (PIE,
//! arXiv 1911.05248) for sparse-to-sparse training. Over a population of models (the seeds of
//! one grid cell), each test example gets its modal label; an example is an exemplar of a
//! sparse cell when that cell's modal label differs from the modal label of the dense models
//! trained on the same data, whatever the true label. The subset where dense is right and
//! sparse wrong is the one that costs accuracy.
//!
//! Needs every population to predict the same test examples: the study fixes the split with
//! `data.split_seed` and records `tracking.predictions`.
//!
//! Writes `exemplars.csv` (one row per sparse cell: count, share, the dense-right subset, what
//! the exemplars have in common) and `exemplar_examples.csv` (every exemplar, by example id,
//! so it can be joined to the data).

use anyhow::Result;
use experiments::cell::Cell;
use experiments::results::{read_rows, write_all_rows, PredictionRow, RunRow, PREDICTIONS};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

/// What a population of models (one grid cell's seeds) predicted for one test example.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Votes {
    /// True class.
    pub label: u32,
    /// Models that predicted each class.
    pub counts: BTreeMap<u32, usize>,
    /// Sum over models of the true class's probability.
    pub p_true_sum: f64,
    /// Sum over models of the missing features (the missingness can differ by seed).
    pub missing_sum: f64,
    /// Models.
    pub models: usize,
}

impl Votes {
    /// The most predicted class; ties go to the higher class id (`mode().max()` in Hooker et
    /// al.'s code).
    pub fn modal(&self) -> u32 {
        let best = self.counts.values().copied().max().unwrap_or(0);
        self.counts
            .iter()
            .filter(|(_, &c)| c == best)
            .map(|(&l, _)| l)
            .max()
            .unwrap_or(0)
    }

    /// Mean probability of the true class over the models.
    pub fn p_true(&self) -> f64 {
        self.p_true_sum / self.models.max(1) as f64
    }

    /// Mean missing features over the models.
    pub fn missing(&self) -> f64 {
        self.missing_sum / self.models.max(1) as f64
    }
}

/// Test example id -> votes of one population.
pub type Population = BTreeMap<usize, Votes>;

/// The populations of every cell of `runs`.
pub fn populations(runs: &[RunRow], predictions: &[PredictionRow]) -> BTreeMap<Cell, Population> {
    let cell_of: HashMap<&str, Cell> = runs
        .iter()
        .map(|r| (r.run_id.as_str(), Cell::of(r)))
        .collect();
    let mut out: BTreeMap<Cell, Population> = BTreeMap::new();
    for p in predictions {
        let Some(cell) = cell_of.get(p.run_id.as_str()) else {
            continue;
        };
        let v = out
            .entry(cell.clone())
            .or_default()
            .entry(p.example_id)
            .or_default();
        v.label = p.label;
        *v.counts.entry(p.predicted).or_default() += 1;
        v.p_true_sum += p.p_true;
        v.missing_sum += p.missing_features as f64;
        v.models += 1;
    }
    out
}

/// The examples both populations predicted on which their modal labels differ, by id.
pub fn exemplars(sparse: &Population, dense: &Population) -> Vec<usize> {
    sparse
        .iter()
        .filter_map(|(id, s)| {
            let d = dense.get(id)?;
            (s.modal() != d.modal()).then_some(*id)
        })
        .collect()
}

/// The hardest `share` of `dense`'s examples: lowest mean probability of the true class first
/// (ties by id), at least one.
pub fn hardest(dense: &Population, share: f64) -> Vec<usize> {
    let mut ids: Vec<(&usize, f64)> = dense.iter().map(|(id, v)| (id, v.p_true())).collect();
    ids.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    let k = ((share * ids.len() as f64).ceil() as usize).clamp(1, ids.len().max(1));
    let mut out: Vec<usize> = ids.into_iter().take(k).map(|(id, _)| *id).collect();
    out.sort_unstable();
    out
}

/// One row of `exemplars.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExemplarSummary {
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
    /// Models (seeds) of the sparse population.
    pub sparse_models: usize,
    /// Models of the dense population.
    pub dense_models: usize,
    /// Test examples both populations predicted.
    pub test_examples: usize,
    /// Sparsity-identified exemplars (modal labels differ).
    pub exemplars: usize,
    /// `exemplars / test_examples`.
    pub exemplar_share: f64,
    /// Exemplars the dense population gets right and the sparse one wrong.
    pub dense_right_sparse_wrong: usize,
    /// Exemplars per true class, `class:count` `;`-separated.
    pub exemplar_classes: String,
    /// Mean missing features of the exemplars.
    pub exemplar_missing_mean: f64,
    /// Mean missing features of all test examples.
    pub all_missing_mean: f64,
    /// Mean dense-population probability of the true class on the exemplars (low = hard).
    pub exemplar_dense_p_true: f64,
    /// The same over all test examples.
    pub all_dense_p_true: f64,
}

/// One row of `exemplar_examples.csv`: one exemplar of one sparse cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExemplarRow {
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
    /// Test example id (0-based data row of the dataset file).
    pub example_id: usize,
    /// True class.
    pub label: u32,
    /// Modal label of the dense models.
    pub modal_dense: u32,
    /// Modal label of the sparse models.
    pub modal_sparse: u32,
    /// Mean missing features over the sparse models' runs.
    pub missing_features: f64,
    /// Mean dense-population probability of the true class.
    pub dense_p_true: f64,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    experiments::summary::mean_std(&v).0
}

/// Writes `exemplars.csv` and `exemplar_examples.csv` into `dir` from its `predictions.csv`;
/// returns the summary rows (empty when the study recorded no predictions).
pub fn analyse(dir: &Path, runs: &[RunRow]) -> Result<Vec<ExemplarSummary>> {
    let preds: Vec<PredictionRow> = read_rows(&dir.join(PREDICTIONS))?;
    if preds.is_empty() {
        return Ok(Vec::new());
    }
    let pops = populations(runs, &preds);
    let (mut summary, mut rows) = (Vec::new(), Vec::new());
    for (cell, sparse) in &pops {
        if cell.is_dense() {
            continue;
        }
        let Some(dense) = pops.get(&cell.dense()) else {
            continue;
        };
        let shared: Vec<usize> = sparse
            .keys()
            .filter(|id| dense.contains_key(id))
            .copied()
            .collect();
        let ids = exemplars(sparse, dense);
        let mut classes: BTreeMap<u32, usize> = BTreeMap::new();
        let mut right_wrong = 0;
        for id in &ids {
            let (s, d) = (&sparse[id], &dense[id]);
            *classes.entry(s.label).or_default() += 1;
            right_wrong += (d.modal() == d.label && s.modal() != s.label) as usize;
            rows.push(ExemplarRow {
                method: cell.method.clone(),
                sparsity: cell.sparsity.0,
                missing_mechanism: cell.missing_mechanism.clone(),
                missing_rate: cell.missing_rate.0,
                imputation: cell.imputation.clone(),
                variant: cell.variant.clone(),
                example_id: *id,
                label: s.label,
                modal_dense: d.modal(),
                modal_sparse: s.modal(),
                missing_features: s.missing(),
                dense_p_true: d.p_true(),
            });
        }
        summary.push(ExemplarSummary {
            method: cell.method.clone(),
            sparsity: cell.sparsity.0,
            missing_mechanism: cell.missing_mechanism.clone(),
            missing_rate: cell.missing_rate.0,
            imputation: cell.imputation.clone(),
            variant: cell.variant.clone(),
            sparse_models: sparse.values().map(|v| v.models).max().unwrap_or(0),
            dense_models: dense.values().map(|v| v.models).max().unwrap_or(0),
            test_examples: shared.len(),
            exemplars: ids.len(),
            exemplar_share: ids.len() as f64 / shared.len().max(1) as f64,
            dense_right_sparse_wrong: right_wrong,
            exemplar_classes: classes
                .iter()
                .map(|(c, n)| format!("{c}:{n}"))
                .collect::<Vec<_>>()
                .join(";"),
            exemplar_missing_mean: mean(ids.iter().map(|id| sparse[id].missing())),
            all_missing_mean: mean(shared.iter().map(|id| sparse[id].missing())),
            exemplar_dense_p_true: mean(ids.iter().map(|id| dense[id].p_true())),
            all_dense_p_true: mean(shared.iter().map(|id| dense[id].p_true())),
        });
    }
    write_all_rows(&dir.join("exemplars.csv"), &summary)?;
    write_all_rows(&dir.join("exemplar_examples.csv"), &rows)?;
    Ok(summary)
}

/// The sparsity-identified exemplars of a study, when it recorded predictions.
pub(crate) fn exemplar_table(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("exemplars.csv");
    if !path.exists() {
        return Ok(None);
    }
    let rows: Vec<crate::exemplars::ExemplarSummary> = read_rows(&path)?;
    let name = crate::folder_name(dir);
    let mut t = format!(
        "Sparsity-identified exemplars (test examples whose modal label over the seeds differs \
         from the dense models'; Hooker et al.'s PIE) from [`exemplars.csv`]({name}/exemplars.csv) \
         (each exemplar by example id in [`exemplar_examples.csv`]({name}/exemplar_examples.csv)): \
         how many, how many dense gets right and the sparse method wrong, their classes, missing \
         features and dense-population probability of the true class against all test \
         examples':\n\n"
    );
    t.push_str("| method | sparsity | missing | test examples | exemplars | dense right, sparse wrong | classes | missing features (all) | dense p(true) (all) |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} ({:.1}%) | {} | {} | {:.1} ({:.1}) | {:.2} ({:.2}) |",
            r.method,
            r.sparsity,
            crate::missing_cell(&r.missing_mechanism, r.missing_rate),
            r.test_examples,
            r.exemplars,
            100.0 * r.exemplar_share,
            r.dense_right_sparse_wrong,
            if r.exemplar_classes.is_empty() {
                "–"
            } else {
                &r.exemplar_classes
            },
            r.exemplar_missing_mean,
            r.all_missing_mean,
            r.exemplar_dense_p_true,
            r.all_dense_p_true
        );
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(run: &str, id: usize, label: u32, predicted: u32, p: f64) -> PredictionRow {
        PredictionRow {
            run_id: run.into(),
            example_id: id,
            label,
            predicted,
            p_true: p,
            missing_features: id,
        }
    }

    fn run(method: &str, seed: u64) -> RunRow {
        experiments::results::sample_row(method, seed, 0.9)
    }

    #[test]
    fn modal_label_breaks_ties_toward_the_higher_class() {
        let mut v = Votes::default();
        for l in [0, 2, 2, 0, 1] {
            *v.counts.entry(l).or_default() += 1;
        }
        assert_eq!(v.modal(), 2);
    }

    /// Three dense and three sparse models on four test examples: example 1 is an exemplar
    /// where dense is right, example 2 one where dense is wrong, examples 0 and 3 agree (3 by
    /// a 2-to-1 majority in both populations).
    #[test]
    fn exemplars_are_modal_disagreements_whatever_the_label() {
        let runs: Vec<RunRow> = (1..=3)
            .flat_map(|s| [run("dense", s), run("set", s)])
            .collect();
        let mut preds = Vec::new();
        for s in 1..=3 {
            let (d, sp) = (format!("dense{s}"), format!("set{s}"));
            preds.push(pred(&d, 0, 0, 0, 0.9));
            preds.push(pred(&sp, 0, 0, 0, 0.8));
            // Example 1 (class 1): dense right, sparse wrong on 2 of 3 seeds.
            preds.push(pred(&d, 1, 1, 1, 0.7));
            preds.push(pred(&sp, 1, 1, if s < 3 { 0 } else { 1 }, 0.4));
            // Example 2 (class 0): dense says 1, sparse says 0.
            preds.push(pred(&d, 2, 0, 1, 0.2));
            preds.push(pred(&sp, 2, 0, 0, 0.6));
            // Example 3 (class 1): both mostly 1.
            preds.push(pred(&d, 3, 1, if s == 1 { 0 } else { 1 }, 0.6));
            preds.push(pred(&sp, 3, 1, if s == 2 { 0 } else { 1 }, 0.6));
        }
        let pops = populations(&runs, &preds);
        let sparse_cell = Cell::of(&runs[1]);
        let dense = &pops[&sparse_cell.dense()];
        let sparse = &pops[&sparse_cell];
        assert_eq!(exemplars(sparse, dense), vec![1, 2]);
        assert_eq!(hardest(dense, 0.25), vec![2]);
        assert!((dense[&1].p_true() - 0.7).abs() < 1e-12);

        let dir = tempfile::tempdir().unwrap();
        experiments::results::write_all_rows(&dir.path().join(PREDICTIONS), &preds).unwrap();
        let summary = analyse(dir.path(), &runs).unwrap();
        assert_eq!(summary.len(), 1);
        let s = &summary[0];
        assert_eq!(
            (s.test_examples, s.exemplars, s.dense_right_sparse_wrong),
            (4, 2, 1)
        );
        assert_eq!(s.exemplar_classes, "0:1;1:1");
        // Missing features were set to the example id: exemplars 1 and 2.
        assert!((s.exemplar_missing_mean - 1.5).abs() < 1e-12);
        let rows: Vec<ExemplarRow> = read_rows(&dir.path().join("exemplar_examples.csv")).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.example_id).collect::<Vec<_>>(),
            vec![1, 2]
        );
    }
}
