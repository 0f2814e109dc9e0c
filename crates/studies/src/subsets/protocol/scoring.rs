//! The scoring runs of a subset run (a short sparse run on the seed's whole training split,
//! and for PrAC a short dense one) and the subset they choose.

use super::{select, ExampleScore, ScoringConfig, SubsetRule, SubsetVariant, SubsetsConfig};
use anyhow::{Context, Result};
use data::dynamics::ExampleTracker;
use data::Dataset;
use experiments::config::ExperimentConfig;
use experiments::grid::RunSpec;
use experiments::pipeline::PreparedData;
use experiments::protocol::Protocol;
use experiments::results::RunKeyed;
use experiments::run::{build_model, examples, layer_sizes};
use models::batch::argmax_rows;
use models::rngs::stream;
use models::{Batch, Inputs, RunData, RunRngs, TrainObserver, TrainOptions};
use serde::{Deserialize, Serialize};

/// One row of `subset_runs.csv`: what a subset run trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetRunRow {
    /// The run's key.
    pub run_id: String,
    /// Its seed.
    pub seed: u64,
    /// The rule.
    pub rule: SubsetRule,
    /// The requested fraction.
    pub fraction: f64,
    /// Rows of the whole training split.
    pub n_train: usize,
    /// Rows trained on.
    pub subset_size: usize,
    /// Share of the subset in its smallest class (0 when a class is missing from it).
    pub minority_share: f64,
    /// PrAC's A: rows forgotten or never learned in the scoring run (rules with scores).
    pub forgotten: Option<usize>,
    /// PrAC's B: rows the dense scoring run predicts differently (`prac`).
    pub disagreements: Option<usize>,
    /// |A ∪ B|, PrAC's natural size (`prac`).
    pub prac_size: Option<usize>,
    /// Test accuracy of the sparse scoring run (rules with scores): how far it had learned.
    pub scoring_test_accuracy: Option<f64>,
    /// Multiply-adds of the scoring runs (sparse, plus dense for `prac`): the selection's
    /// cost, on top of the run's own `train_flops`.
    pub scoring_flops: Option<u64>,
    /// Whether a scoring run diverged: its scores chose the subset, so the run is marked
    /// diverged too and left out of the analyses. Files written before the column existed
    /// read as false.
    #[serde(default)]
    pub scoring_diverged: bool,
}

impl RunKeyed for SubsetRunRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// Feeds every training forward pass of a scoring run to its tracker.
struct Tracking {
    tracker: ExampleTracker,
    n_classes: usize,
}

impl TrainObserver for Tracking {
    fn on_batch(&mut self, epoch: usize, ids: &[usize], labels: &[u32], probs: &[f32]) {
        self.tracker
            .record(epoch, ids, labels, probs, self.n_classes);
    }
}

/// What one short run on the whole training split gives: per-example statistics (by
/// position), evaluation-mode predictions (by position) and the final test accuracy.
struct ShortRun {
    forgetting_rank: Vec<u32>,
    el2n: Vec<f64>,
    predictions: Vec<u32>,
    test_accuracy: f64,
    flops: u64,
    diverged: bool,
}

/// Trains `method` at `sparsity` for the scoring epochs on `prepared.train` with the run
/// seed's `subset-scoring-*` streams (so the sparse and dense scoring runs see the same data
/// order, and neither shifts the run's own draws).
fn short_run(
    scoring: &ScoringConfig,
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    full: &Dataset,
    prepared: &PreparedData,
    method: &str,
    sparsity: f64,
) -> Result<ShortRun> {
    let scoring_spec = RunSpec {
        method: method.to_string(),
        sparsity,
        epsilon: None,
        protocol: Protocol::Plain,
        ..spec.clone()
    };
    let (train, absent) = (&prepared.train, spec.imputation.feeds_absent());
    let sizes = layer_sizes(cfg, full, train.n_features())?;
    let mut model = build_model(cfg, &scoring_spec, &sizes)?;
    let mut observer = Tracking {
        tracker: ExampleTracker::new(&train.row_ids, &[scoring.el2n_epoch]),
        n_classes: train.n_classes(),
    };
    let mut rngs = RunRngs {
        shuffle: stream(spec.seed, "subset-scoring-shuffle"),
        dropout: stream(spec.seed, "subset-scoring-dropout"),
        topology: stream(spec.seed, "subset-scoring-topology"),
    };
    let outcome = models::train(
        model.as_mut(),
        &RunData {
            train: examples(train, absent),
            ids: &train.row_ids,
            test: examples(&prepared.test, absent),
            validation: None,
        },
        TrainOptions {
            epochs: scoring.epochs,
            batch_size: cfg.training.batch_size,
            track_topology: false,
        },
        &mut rngs,
        &mut observer,
    );
    let stats = observer.tracker.stats();
    let (mut forgetting_rank, mut el2n) = (Vec::new(), Vec::new());
    for id in &train.row_ids {
        let i = stats
            .binary_search_by_key(id, |s| s.example_id)
            .expect("every training row is tracked");
        forgetting_rank.push(stats[i].forgetting_rank);
        el2n.push(stats[i].el2n.first().map_or(0.0, |&(_, e)| f64::from(e)));
    }
    let batch = Batch {
        x: Inputs::Rows(&train.values),
        rows: train.n_rows(),
        observed: absent.then_some(train.observed.as_slice()),
    };
    let predictions = argmax_rows(&model.predict_proba(&batch), train.n_classes());
    Ok(ShortRun {
        forgetting_rank,
        el2n,
        predictions,
        test_accuracy: outcome.epochs.last().map_or(f64::NAN, |e| e.test_accuracy),
        flops: outcome.train_flops,
        diverged: outcome.diverged_epoch.is_some(),
    })
}

/// Share of `labels` in their smallest class of `n_classes` (0 when one is absent).
fn minority_share(labels: &[u32], n_classes: usize) -> f64 {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        counts[l as usize] += 1;
    }
    let min = counts.iter().copied().min().unwrap_or(0);
    min as f64 / labels.len().max(1) as f64
}

/// Replaces `prepared.train` by the subset `variant` chooses (after the scoring runs its rule
/// needs) and returns the run's `subset_runs.csv` row.
pub fn restrict(
    subsets: &SubsetsConfig,
    cfg: &ExperimentConfig,
    spec: &RunSpec,
    variant: SubsetVariant,
    full: &Dataset,
    prepared: &mut PreparedData,
) -> Result<SubsetRunRow> {
    let train = &prepared.train;
    let mut scores: Vec<ExampleScore> = train
        .row_ids
        .iter()
        .map(|&id| ExampleScore::unscored(id))
        .collect();
    let mut row = SubsetRunRow {
        run_id: spec.run_id.clone(),
        seed: spec.seed,
        rule: variant.rule,
        fraction: variant.fraction,
        n_train: train.n_rows(),
        subset_size: 0,
        minority_share: 0.0,
        forgotten: None,
        disagreements: None,
        prac_size: None,
        scoring_test_accuracy: None,
        scoring_flops: None,
        scoring_diverged: false,
    };
    if variant.rule.needs_scores() {
        let s = &subsets.scoring;
        let sparse = short_run(s, cfg, spec, full, prepared, &s.method, s.sparsity)
            .with_context(|| format!("the scoring run of {}", spec.run_id))?;
        for (i, score) in scores.iter_mut().enumerate() {
            score.forgetting_rank = sparse.forgetting_rank[i];
            score.el2n = sparse.el2n[i];
        }
        row.forgotten = Some(scores.iter().filter(|s| s.forgetting_rank > 0).count());
        row.scoring_test_accuracy = Some(sparse.test_accuracy);
        row.scoring_flops = Some(sparse.flops);
        row.scoring_diverged = sparse.diverged;
        if variant.rule == SubsetRule::Prac {
            let dense = short_run(
                s,
                cfg,
                spec,
                full,
                prepared,
                experiments::registry::DENSE,
                0.0,
            )
            .with_context(|| format!("the dense scoring run of {}", spec.run_id))?;
            for (i, score) in scores.iter_mut().enumerate() {
                score.disagrees = dense.predictions[i] != sparse.predictions[i];
            }
            row.disagreements = Some(scores.iter().filter(|s| s.disagrees).count());
            row.prac_size = Some(scores.iter().filter(|s| s.in_prac()).count());
            row.scoring_flops = Some(sparse.flops + dense.flops);
            row.scoring_diverged |= dense.diverged;
        }
    }
    let rows = select(
        variant.rule,
        &scores,
        variant.fraction,
        &mut stream(spec.seed, "subset"),
    );
    prepared.train = prepared.train.subset(&rows);
    row.subset_size = rows.len();
    row.minority_share = minority_share(&prepared.train.labels, prepared.train.n_classes());
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subsets::protocol::tests::{cfg, section};
    use crate::subsets::protocol::{subset_size, variants};
    use std::path::Path;

    /// The run of `method` and seed 1 with variant `name`, and its data before selection.
    fn spec_and_data(
        c: &ExperimentConfig,
        full: &Dataset,
        method: &str,
        name: &str,
    ) -> (RunSpec, SubsetVariant, PreparedData) {
        let spec = experiments::grid::expand(c)
            .into_iter()
            .find(|r| r.method == method && r.seed == 1 && r.protocol.name() == name)
            .unwrap();
        let v = variants(&section(c))
            .into_iter()
            .find(|v| v.name() == name)
            .unwrap_or_else(|| panic!("{name} is not a subset variant"));
        let data = experiments::pipeline::prepare(full, c, &spec).unwrap();
        (spec, v, data)
    }

    #[test]
    fn a_subset_run_scores_its_whole_split_and_keeps_the_chosen_rows() {
        let c = cfg("[0.3, 1.0]");
        let full = experiments::datasets::load(&c.data, Path::new(".")).unwrap();
        let (spec, v, mut a) = spec_and_data(&c, &full, "static", "prac@0.3");
        let whole = a.train.row_ids.clone();
        let row = restrict(&section(&c), &c, &spec, v, &full, &mut a).unwrap();
        assert_eq!(row.n_train, whole.len());
        assert_eq!(a.train.n_rows(), subset_size(whole.len(), 0.3));
        assert_eq!(row.subset_size, a.train.n_rows());
        assert!(a.train.row_ids.iter().all(|id| whole.contains(id)));
        let (forgotten, disagree, prac) = (
            row.forgotten.unwrap(),
            row.disagreements.unwrap(),
            row.prac_size.unwrap(),
        );
        assert!(
            prac >= forgotten.max(disagree) && prac <= forgotten + disagree,
            "{row:?}"
        );
        assert!(row.scoring_flops.unwrap() > 0 && row.scoring_test_accuracy.unwrap() > 0.5);
        // Deterministic: the same run selects the same rows.
        let (_, _, mut b) = spec_and_data(&c, &full, "static", "prac@0.3");
        assert_eq!(
            restrict(&section(&c), &c, &spec, v, &full, &mut b).unwrap(),
            row
        );
        assert_eq!(a.train.row_ids, b.train.row_ids);
        // One scoring run for every method: dense trains on the same rows as static.
        let (dspec, dv, mut d) = spec_and_data(&c, &full, "dense", "prac@0.3");
        restrict(&section(&c), &c, &dspec, dv, &full, &mut d).unwrap();
        assert_eq!(d.train.row_ids, a.train.row_ids);
        // Random and the full set need no scoring run; the full set is every row.
        let (rspec, rv, mut r) = spec_and_data(&c, &full, "set", "random@0.3");
        let rrow = restrict(&section(&c), &c, &rspec, rv, &full, &mut r).unwrap();
        assert_eq!((rrow.forgotten, rrow.scoring_test_accuracy), (None, None));
        assert_ne!(r.train.row_ids, a.train.row_ids);
        let (fspec, fv, mut f) = spec_and_data(&c, &full, "set", "all@1");
        restrict(&section(&c), &c, &fspec, fv, &full, &mut f).unwrap();
        assert_eq!(f.train.row_ids, whole);
    }
}
