//! Feature selection as a measured outcome: does a network's input layer gather on the features
//! that matter? On Madelon (20 relevant features among 500, NIPS 2003) a sparse network whose
//! input connections move to the relevant features can do far better than a dense one, which
//! is how SET-based feature selection works.
//!
//! With `tracking.relevant_features` a run measures, every `tracking.degree_every` epochs and
//! at the last, how its inputs rank against that set (`feature_selection.csv`): a sparse
//! network's inputs by their degree (connections to the first hidden layer), a dense one's,
//! whose degrees all tie, by their strength (Σ|w| of those connections). The set is read only
//! here, after the epoch's training: it never reaches the loop.
//!
//! Ties are scored as a random order among the tied inputs would be on average: precision@k
//! counts the tied group that straddles the cut-off by its share of relevant inputs, and
//! average precision treats tied scores as one threshold, as scikit-learn's
//! `average_precision_score` does.
//!
//! [`FeatureSelectionRecording`] is the feature-selection study's recording: every run with
//! `tracking.relevant_features` keeps a [`FeatureSelectionRecord`].

use anyhow::Result;
use data::Dataset;
use experiments::config::ExperimentConfig;
use experiments::recording::{FinishedRun, Recorder, Recording};
use experiments::results::{RunKeyed, StudyRows};
use models::Classifier;
use serde::{Deserialize, Serialize};

/// File of the feature-selection measures of every run with `tracking.relevant_features`.
pub const FEATURE_SELECTION: &str = "feature_selection.csv";

/// Inputs grouped by equal score, highest first: each group's size and relevant count.
fn tie_groups(scores: &[f64], relevant: &[bool]) -> Vec<(usize, usize)> {
    assert_eq!(scores.len(), relevant.len(), "one relevance flag per input");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        let tied = pos > 0 && scores[order[pos - 1]] == scores[i];
        if !tied {
            groups.push((0, 0));
        }
        let g = groups.last_mut().expect("a group was opened");
        g.0 += 1;
        g.1 += usize::from(relevant[i]);
    }
    groups
}

/// The share of relevant inputs among the `k` highest-scored, ties broken uniformly at random
/// (its expectation): the tied group at the cut-off contributes its relevant share of the
/// places left. NaN for `k = 0`.
pub fn precision_at_k(scores: &[f64], relevant: &[bool], k: usize) -> f64 {
    let (mut taken, mut hits) = (0usize, 0.0);
    for (size, rel) in tie_groups(scores, relevant) {
        if taken >= k {
            break;
        }
        let places = (k - taken).min(size);
        hits += places as f64 * rel as f64 / size as f64;
        taken += places;
    }
    hits / k as f64
}

/// Average precision of the ranking by `scores` against `relevant`: Σ_n (R_n − R_{n−1}) P_n over
/// the distinct scores, highest first (scikit-learn's `average_precision_score`). 1 when the
/// relevant inputs score strictly highest; NaN when none is relevant.
pub fn average_precision(scores: &[f64], relevant: &[bool]) -> f64 {
    let total = relevant.iter().filter(|&&r| r).count();
    let (mut seen, mut hits, mut ap) = (0usize, 0usize, 0.0);
    for (size, rel) in tie_groups(scores, relevant) {
        seen += size;
        hits += rel;
        ap += rel as f64 / total as f64 * hits as f64 / seen as f64;
    }
    if total == 0 {
        f64::NAN
    } else {
        ap
    }
}

/// The first epoch of `measured` (epoch, precision@k; in epoch order) whose precision exceeds
/// `threshold`; `None` when none does.
pub fn first_epoch_above(measured: &[(usize, f64)], threshold: f64) -> Option<usize> {
    measured
        .iter()
        .find(|(_, p)| *p > threshold)
        .map(|&(epoch, _)| epoch)
}

/// One row of `feature_selection.csv`: one run at one measured epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSelectionRow {
    /// The run's key.
    pub run_id: String,
    /// Method name.
    pub method: String,
    /// Realised sparsity of the run.
    pub sparsity: f64,
    /// Seed of the run.
    pub seed: u64,
    /// 1-based epoch (every `tracking.degree_every`-th and the last).
    pub epoch: usize,
    /// `degree` (sparse networks) or `strength` (dense: Σ|w|, degrees all tie).
    pub ranked_by: String,
    /// Size of the relevant set, the `k` of `precision_at_k`.
    pub k: usize,
    /// Share of relevant inputs among the `k` ranked first (ties: expected value).
    pub precision_at_k: f64,
    /// Average precision of the ranking against the relevant set.
    pub average_precision: f64,
    /// Mean degree of the relevant inputs (empty for a dense network) ...
    pub relevant_degree_mean: f64,
    /// ... and of the others.
    pub noise_degree_mean: f64,
    /// Mean strength (Σ|w|) of the relevant inputs ...
    pub relevant_strength_mean: f64,
    /// ... and of the others.
    pub noise_strength_mean: f64,
}

impl RunKeyed for FeatureSelectionRow {
    fn run_id(&self) -> &str {
        &self.run_id
    }
}

/// A run's measures, taken after every `every`-th epoch and the last of `epochs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureSelectionRecord {
    relevant: Vec<bool>,
    every: usize,
    epochs: usize,
    rows: Vec<FeatureSelectionRow>,
}

/// Mean of `values` over the inputs where `keep(relevant)`; NaN for none.
fn mean_where(values: &[f64], relevant: &[bool], keep: bool) -> f64 {
    let chosen: Vec<f64> = values
        .iter()
        .zip(relevant)
        .filter(|(_, &r)| r == keep)
        .map(|(&v, _)| v)
        .collect();
    chosen.iter().sum::<f64>() / chosen.len() as f64
}

impl FeatureSelectionRecord {
    /// A record for a model whose inputs are `relevant` (one flag per model input).
    pub fn new(relevant: Vec<bool>, every: usize, epochs: usize) -> Self {
        FeatureSelectionRecord {
            relevant,
            every: every.max(1),
            epochs,
            rows: Vec::new(),
        }
    }

    /// After 1-based `epoch`: measures `model`'s input layer when the epoch is one to measure.
    pub fn after_epoch(&mut self, epoch: usize, model: &dyn Classifier) {
        if !epoch.is_multiple_of(self.every) && epoch != self.epochs {
            return;
        }
        let strength = model.input_strengths();
        // A dense network's degrees are all its width: not a measure of selection, so it is
        // ranked by strength and its degrees read NaN.
        let layers = model.sparse_layers();
        let degree: Vec<f64> = match layers {
            Some(l) => l[0]
                .weights
                .row_degrees()
                .into_iter()
                .map(|d| d as f64)
                .collect(),
            None => vec![f64::NAN; strength.len()],
        };
        let (ranked_by, scores) = match layers {
            Some(_) => ("degree", &degree),
            None => ("strength", &strength),
        };
        let k = self.relevant.iter().filter(|&&r| r).count();
        self.rows.push(FeatureSelectionRow {
            run_id: String::new(),
            method: String::new(),
            sparsity: 0.0,
            seed: 0,
            epoch,
            ranked_by: ranked_by.into(),
            k,
            precision_at_k: precision_at_k(scores, &self.relevant, k),
            average_precision: average_precision(scores, &self.relevant),
            relevant_degree_mean: mean_where(&degree, &self.relevant, true),
            noise_degree_mean: mean_where(&degree, &self.relevant, false),
            relevant_strength_mean: mean_where(&strength, &self.relevant, true),
            noise_strength_mean: mean_where(&strength, &self.relevant, false),
        });
    }

    /// The run's rows, with its key and cell.
    pub fn rows(
        &self,
        run_id: &str,
        method: &str,
        sparsity: f64,
        seed: u64,
    ) -> Vec<FeatureSelectionRow> {
        self.rows
            .iter()
            .map(|r| FeatureSelectionRow {
                run_id: run_id.into(),
                method: method.into(),
                sparsity,
                seed,
                ..r.clone()
            })
            .collect()
    }
}

/// The feature-selection study's recording: a [`FeatureSelectionRecord`] for every run with
/// `tracking.relevant_features`, over the prepared training split's inputs (a one-hot
/// encoded feature's inputs are relevant with it).
pub struct FeatureSelectionRecording;

impl Recording for FeatureSelectionRecording {
    fn file(&self) -> &'static str {
        FEATURE_SELECTION
    }

    fn start(&self, cfg: &ExperimentConfig, train: &Dataset) -> Option<Box<dyn Recorder>> {
        let names = cfg.tracking.relevant_features.as_ref()?;
        let relevant = train
            .feature_names
            .iter()
            .map(|f| names.contains(f))
            .collect();
        let (every, epochs) = (cfg.tracking.degree_every, cfg.training.epochs);
        Some(Box::new(FeatureSelectionRecord::new(
            relevant, every, epochs,
        )))
    }
}

impl Recorder for FeatureSelectionRecord {
    fn after_epoch(&mut self, epoch: usize, model: &dyn Classifier) {
        FeatureSelectionRecord::after_epoch(self, epoch, model);
    }

    fn save(&self) -> Vec<u8> {
        sparse_core::state::encode(self)
    }

    fn restored(&self, saved: &[u8]) -> Result<Box<dyn Recorder>> {
        let record: FeatureSelectionRecord = sparse_core::state::decode(saved, "feature record")?;
        if (&record.relevant, record.every, record.epochs)
            != (&self.relevant, self.every, self.epochs)
        {
            anyhow::bail!("its feature-selection record measures another relevant set");
        }
        Ok(Box::new(record))
    }

    fn finish(self: Box<Self>, run: &FinishedRun<'_>) -> Result<StudyRows> {
        let spec = run.spec;
        let rows = self.rows(&spec.run_id, &spec.method, run.sparsity, spec.seed);
        StudyRows::of(FEATURE_SELECTION, &rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::dense::LayerParams;
    use models::{Classifier, DenseMlp, SgdParams};

    /// Eight inputs, the first three relevant.
    fn relevant() -> Vec<bool> {
        (0..8).map(|i| i < 3).collect()
    }

    #[test]
    fn a_perfect_a_reversed_and_a_tied_ranking() {
        let r = relevant();
        let perfect = [9.0, 8.0, 7.0, 3.0, 2.0, 1.0, 0.0, 0.0];
        assert_eq!(precision_at_k(&perfect, &r, 3), 1.0);
        assert_eq!(average_precision(&perfect, &r), 1.0);
        let reversed = [0.0, 1.0, 2.0, 9.0, 8.0, 7.0, 6.0, 5.0];
        assert_eq!(precision_at_k(&reversed, &r, 3), 0.0);
        // Relevant at ranks 6, 7, 8: (1/6 + 2/7 + 3/8) / 3.
        let want = (1.0 / 6.0 + 2.0 / 7.0 + 3.0 / 8.0) / 3.0;
        assert!((average_precision(&reversed, &r) - want).abs() < 1e-12);
        // Inputs 0 and 1 first; input 2 ties with inputs 3 and 4 for the third place: 1/3 of
        // it is expected relevant. Average precision: one threshold per distinct score, so
        // (2/3)·(2/2) + (1/3)·(3/5).
        let tied = [5.0, 5.0, 2.0, 2.0, 2.0, 1.0, 0.0, 0.0];
        assert!((precision_at_k(&tied, &r, 3) - (2.0 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
        let want = 2.0 / 3.0 + 1.0 / 3.0 * 3.0 / 5.0;
        assert!((average_precision(&tied, &r) - want).abs() < 1e-12);
        // All tied: the expectation is the base rate.
        assert!((precision_at_k(&[1.0; 8], &r, 3) - 3.0 / 8.0).abs() < 1e-12);
        assert!(average_precision(&perfect, &[false; 8]).is_nan());
    }

    #[test]
    fn the_first_epoch_above_a_threshold_or_none() {
        let m = [(2, 0.5), (4, 0.95), (6, 0.85), (8, 1.0)];
        assert_eq!(first_epoch_above(&m, 0.9), Some(4));
        // Exactly 0.9 does not exceed 0.9; never reached is None.
        assert_eq!(first_epoch_above(&[(2, 0.9), (4, 0.8)], 0.9), None);
        assert_eq!(first_epoch_above(&[], 0.9), None);
    }

    /// A hand-made dense network: input i's outgoing weights are ±(8 - i)/10, so strengths
    /// fall with i and the three relevant inputs rank first; a record measures every second
    /// epoch and the last.
    #[test]
    fn a_dense_network_is_ranked_by_strength() {
        let (n_in, n_out) = (8, 2);
        let weights: Vec<f32> = (0..n_in)
            .flat_map(|i| {
                let w = (8 - i) as f32 / 10.0;
                [w, -w]
            })
            .collect();
        let layers = [
            LayerParams {
                n_in,
                n_out,
                weights,
                bias: vec![0.0; n_out],
            },
            LayerParams {
                n_in: n_out,
                n_out: 2,
                weights: vec![0.1; 4],
                bias: vec![0.0; 2],
            },
        ];
        let model = DenseMlp::from_params(&layers, 0.0, SgdParams::default());
        let strengths = model.input_strengths();
        assert!((strengths[0] - 1.6).abs() < 1e-6 && (strengths[7] - 0.2).abs() < 1e-6);
        let mut record = FeatureSelectionRecord::new(relevant(), 2, 5);
        for epoch in 1..=5 {
            record.after_epoch(epoch, &model);
        }
        let rows = record.rows("r", "dense", 0.0, 1);
        let epochs: Vec<usize> = rows.iter().map(|r| r.epoch).collect();
        assert_eq!(epochs, [2, 4, 5]);
        let r = &rows[0];
        assert_eq!((r.ranked_by.as_str(), r.k), ("strength", 3));
        assert_eq!((r.precision_at_k, r.average_precision), (1.0, 1.0));
        assert!((r.relevant_strength_mean - 1.4).abs() < 1e-6);
        assert!((r.noise_strength_mean - 0.6).abs() < 1e-6);
        assert!(r.relevant_degree_mean.is_nan());
    }
}
