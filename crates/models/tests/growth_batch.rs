//! Which examples score gradient growth: the step's own batch, except that a partial batch
//! (an epoch's last) is never used; the epoch's last full batch is, in evaluation mode.

mod common;

use common::{fit, sparse_mlp, toy_data};
use models::{
    Batch, Classifier, Examples, GrowthBatch, ModelError, RunRngs, SgdParams, SparseNetwork,
    StepReport,
};
use sparse_core::{EditStats, SparseLayer, TrainingClock};

/// A sparse network that records, at every step, its batch and the growth batch it was given.
struct Recording {
    inner: SparseNetwork,
    /// (step, batch values, growth batch values when given).
    steps: Vec<(usize, Vec<f32>, Option<Vec<f32>>)>,
}

impl Classifier for Recording {
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    fn train_step(
        &mut self,
        batch: &Batch,
        labels: &[u32],
        clock: TrainingClock,
        rngs: &mut RunRngs,
        growth: Option<GrowthBatch>,
    ) -> StepReport {
        let width = self.inner.mlp.layers()[0].n_in();
        let given = growth.map(|g| g.batch.x.to_rows(width).to_vec());
        self.steps
            .push((clock.step, batch.x.to_rows(width).to_vec(), given));
        self.inner.train_step(batch, labels, clock, rngs, growth)
    }
    fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        self.inner.set_active_classes(classes)
    }
    fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        self.inner.set_class_groups(groups)
    }
    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.inner.wants_gradients(clock)
    }
    fn end_of_epoch(&mut self, clock: TrainingClock, rngs: &mut RunRngs) -> Vec<EditStats> {
        self.inner.end_of_epoch(clock, rngs)
    }
    fn predict_proba(&mut self, batch: &Batch) -> Vec<f32> {
        self.inner.predict_proba(batch)
    }
    fn parameters_finite(&self) -> bool {
        self.inner.parameters_finite()
    }
    fn nnz(&self) -> usize {
        self.inner.nnz()
    }
    fn layer_densities(&self) -> Vec<f64> {
        self.inner.layer_densities()
    }
    fn input_strengths(&self) -> Vec<f64> {
        self.inner.input_strengths()
    }
    fn sparse_layers(&self) -> Option<&[SparseLayer]> {
        self.inner.sparse_layers()
    }
    fn save_state(&self) -> Vec<u8> {
        self.inner.save_state()
    }
    fn load_state(&mut self, state: &[u8]) -> Result<(), ModelError> {
        self.inner.load_state(state)
    }
}

/// SNFS updates at the end of each epoch, on its last step. With 60 rows in batches of 16
/// that step's batch has 12 rows: growth is scored on the 16 rows of the step before it.
#[test]
fn a_partial_batch_scores_growth_on_the_last_full_one() {
    const ROWS: usize = 60;
    const BATCH: usize = 16;
    let sgd = SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 0.0,
    };
    let mlp = sparse_mlp(&[8, 24, 3], &[0.5, 1.0], 0.1, sgd, 2);
    let method = Box::new(dst_snfs::Snfs::new(Default::default()).unwrap());
    let mut net = Recording {
        inner: SparseNetwork { mlp, method },
        steps: Vec::new(),
    };
    let (x, y) = toy_data(ROWS, 8, 3, 4);
    let data = Examples {
        x: &x,
        observed: None,
        labels: &y,
        n_features: 8,
    };
    let out = fit(&mut net, data, 3, BATCH, 5);
    let steps_per_epoch = ROWS.div_ceil(BATCH);
    let mut scored = 0;
    for (k, (step, batch, growth)) in net.steps.iter().enumerate() {
        let last_of_epoch = (step + 1) % steps_per_epoch == 0;
        let updates = last_of_epoch && step + 1 < 3 * steps_per_epoch;
        match growth {
            Some(g) => {
                assert!(updates, "step {step}: growth rows only at SNFS's updates");
                assert_eq!(
                    batch.len(),
                    (ROWS % BATCH) * 8,
                    "the update's batch is partial"
                );
                assert_eq!(
                    g,
                    &net.steps[k - 1].1,
                    "step {step}: the previous full batch"
                );
                scored += 1;
            }
            None => assert!(!updates, "step {step}: an update scored on a partial batch"),
        }
    }
    assert_eq!(scored, 2, "two updates (none after the last epoch)");
    assert!(out.epochs[..2]
        .iter()
        .all(|e| e.edits.iter().any(|s| s.grown > 0)));
}
