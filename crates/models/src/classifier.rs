//! The interface the training loop drives, implemented by the sparse MLP (with its DST method)
//! and by the burn dense MLP, so both are trained and measured by the same code.

use crate::batch::{fill_dropout_mask, Batch, GrowthBatch};
use crate::dense::DenseMlp;
use crate::error::ModelError;
use crate::sparse_mlp::{SparseMlp, StepReport};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sparse_core::state::{decode, encode};
use sparse_core::{DstMethod, EditStats, SparseLayer, TrainingClock};

/// The random streams a training run consumes, each derived from the run seed by name.
#[derive(Debug, Clone)]
pub struct RunRngs {
    /// Order of examples in each epoch.
    pub shuffle: ChaCha8Rng,
    /// Dropout masks.
    pub dropout: ChaCha8Rng,
    /// Topology updates of DST methods.
    pub topology: ChaCha8Rng,
}

impl RunRngs {
    /// The streams of run seed `seed`.
    pub fn from_seed(seed: u64) -> Self {
        RunRngs {
            shuffle: crate::rngs::stream(seed, "shuffle"),
            dropout: crate::rngs::stream(seed, "dropout"),
            topology: crate::rngs::stream(seed, "topology"),
        }
    }

    /// Where each stream stands, for a checkpoint (reading it draws nothing).
    pub fn positions(&self) -> RngPositions {
        RngPositions {
            shuffle: StreamPosition::of(&self.shuffle),
            dropout: StreamPosition::of(&self.dropout),
            topology: StreamPosition::of(&self.topology),
        }
    }

    /// Moves every stream to a saved position. The streams must be those of the same run
    /// seed ([`RunRngs::from_seed`]): a position of another seed or stream is refused.
    pub fn restore(&mut self, saved: &RngPositions) -> Result<(), ModelError> {
        for (name, rng, pos) in [
            ("shuffle", &mut self.shuffle, &saved.shuffle),
            ("dropout", &mut self.dropout, &saved.dropout),
            ("topology", &mut self.topology, &saved.topology),
        ] {
            if rng.get_seed() != pos.seed || rng.get_stream() != pos.stream {
                return Err(ModelError::State(format!(
                    "the saved `{name}` random stream belongs to another seed"
                )));
            }
            rng.set_word_pos(u128::from(pos.word_hi) << 64 | u128::from(pos.word_lo));
        }
        Ok(())
    }
}

/// Where one ChaCha stream stands: its key, its stream id and its offset in 32-bit words (as
/// two halves, since not every format holds a `u128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The stream's 256-bit key.
    pub seed: [u8; 32],
    /// The stream id.
    pub stream: u64,
    /// High 64 bits of the word offset.
    pub word_hi: u64,
    /// Low 64 bits of the word offset.
    pub word_lo: u64,
}

impl StreamPosition {
    fn of(rng: &ChaCha8Rng) -> Self {
        let word = rng.get_word_pos();
        StreamPosition {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_hi: (word >> 64) as u64,
            word_lo: word as u64,
        }
    }
}

/// The positions of a run's streams ([`RunRngs::positions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngPositions {
    /// The `shuffle` stream.
    pub shuffle: StreamPosition,
    /// The `dropout` stream.
    pub dropout: StreamPosition,
    /// The `topology` stream.
    pub topology: StreamPosition,
}

/// A model the training loop can drive.
pub trait Classifier: Send {
    /// Number of output classes.
    fn n_classes(&self) -> usize;
    /// One optimizer step on a batch (dropout on); returns the training forward pass outputs.
    /// With `growth`, a gradient-growing method scores growth on those examples instead of
    /// the batch (only at steps where [`wants_gradients`](Self::wants_gradients) is true).
    fn train_step(
        &mut self,
        batch: &Batch,
        labels: &[u32],
        clock: TrainingClock,
        rngs: &mut RunRngs,
        growth: Option<GrowthBatch>,
    ) -> StepReport;

    /// Scores only `classes` from now on, in training and evaluation (task-incremental
    /// learning, van de Ven's `allowed_classes`): the other outputs get probability 0 and
    /// gradient 0. `None` (the state of a new model) scores every class.
    fn set_active_classes(&mut self, classes: Option<&[u32]>);

    /// In training, scores each example over the classes of its own label's group only
    /// (`groups[c]` the group, or task, of class `c`): task-incremental replay, where each
    /// replayed example is scored over its own task's classes. Prediction keeps the active
    /// classes. `None` (the state of a new model): training scores the active classes.
    fn set_class_groups(&mut self, groups: Option<&[u32]>);

    /// Whether the step at `clock` computes dense-gradient growth scores (RigL's and SNFS's
    /// update steps).
    fn wants_gradients(&self, _clock: &TrainingClock) -> bool {
        false
    }
    /// Work at the end of an epoch (topology evolution); returns the edits made.
    fn end_of_epoch(&mut self, clock: TrainingClock, rngs: &mut RunRngs) -> Vec<EditStats>;
    /// Softmax outputs in evaluation mode, `rows x n_classes`.
    fn predict_proba(&mut self, batch: &Batch) -> Vec<f32>;
    /// Whether every weight and bias is finite. The loop checks it at the end of each epoch,
    /// before the topology update; a step checks what it changed itself
    /// ([`StepReport::diverged`]).
    fn parameters_finite(&self) -> bool;
    /// Number of weights (biases excluded).
    fn nnz(&self) -> usize;
    /// Realised density of each weight layer, input side first.
    fn layer_densities(&self) -> Vec<f64>;
    /// Per input feature, Σ|w| over its connections to the first hidden layer (a sparse
    /// layer's stored ones): how much the network uses each input, which ranks a dense
    /// network's inputs where their degrees all tie (feature selection, Madelon).
    fn input_strengths(&self) -> Vec<f64>;

    /// The sparse layers, for topology telemetry (None for the dense model).
    fn sparse_layers(&self) -> Option<&[SparseLayer]> {
        None
    }

    /// The complete training state (topology, weights, biases, optimizer momentum and, for a
    /// sparse model, its DST method's state) as bytes, for a checkpoint. Floats are stored
    /// exactly ([`sparse_core::state`]).
    fn save_state(&self) -> Vec<u8>;

    /// Restores a state saved by [`Classifier::save_state`] into a model built from the same
    /// configuration (same layer sizes and method); anything else is an error naming what
    /// differs, and leaves the model unchanged.
    fn load_state(&mut self, state: &[u8]) -> Result<(), ModelError>;
}

/// The saved state of a [`SparseNetwork`].
#[derive(Serialize)]
struct SavedNetwork<'a> {
    method: &'a str,
    mlp: &'a SparseMlp,
    #[serde(with = "sparse_core::state::bytes")]
    method_state: Vec<u8>,
}

/// [`SavedNetwork`] read back.
#[derive(Deserialize)]
struct LoadedNetwork {
    method: String,
    mlp: SparseMlp,
    #[serde(with = "sparse_core::state::bytes")]
    method_state: Vec<u8>,
}

/// A sparse MLP trained by a DST method.
#[derive(Debug)]
pub struct SparseNetwork {
    /// The network.
    pub mlp: SparseMlp,
    /// The method that edits its topology (`static` never does).
    pub method: Box<dyn DstMethod>,
}

impl Classifier for SparseNetwork {
    fn n_classes(&self) -> usize {
        self.mlp.n_classes()
    }

    fn train_step(
        &mut self,
        batch: &Batch,
        labels: &[u32],
        clock: TrainingClock,
        rngs: &mut RunRngs,
        growth: Option<GrowthBatch>,
    ) -> StepReport {
        self.mlp.train_step_scored(
            batch,
            labels,
            self.method.as_mut(),
            clock,
            crate::sparse_mlp::StepRngs {
                dropout: &mut rngs.dropout,
                topology: &mut rngs.topology,
            },
            growth,
        )
    }

    fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        self.mlp.set_active_classes(classes)
    }

    fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        self.mlp.set_class_groups(groups)
    }

    fn wants_gradients(&self, clock: &TrainingClock) -> bool {
        self.method.wants_gradients(clock)
    }

    fn end_of_epoch(&mut self, clock: TrainingClock, rngs: &mut RunRngs) -> Vec<EditStats> {
        self.mlp
            .end_of_epoch(self.method.as_mut(), clock, &mut rngs.topology)
            .edits
    }

    fn predict_proba(&mut self, batch: &Batch) -> Vec<f32> {
        self.mlp.predict_proba(batch)
    }

    fn parameters_finite(&self) -> bool {
        self.mlp.is_finite()
    }

    fn nnz(&self) -> usize {
        self.mlp.nnz()
    }

    fn layer_densities(&self) -> Vec<f64> {
        self.mlp.layer_densities()
    }

    fn input_strengths(&self) -> Vec<f64> {
        let w = &self.mlp.layers()[0].weights;
        (0..w.n_rows())
            .map(|i| {
                w.values()[w.row_range(i)]
                    .iter()
                    .map(|v| f64::from(v.abs()))
                    .sum()
            })
            .collect()
    }

    fn sparse_layers(&self) -> Option<&[SparseLayer]> {
        Some(self.mlp.layers())
    }

    fn save_state(&self) -> Vec<u8> {
        encode(&SavedNetwork {
            method: self.method.name(),
            mlp: &self.mlp,
            method_state: self.method.save_state(),
        })
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ModelError> {
        let saved: LoadedNetwork = decode(state, "sparse model state")?;
        if saved.method != self.method.name() {
            return Err(ModelError::State(format!(
                "the state is of method `{}`, the model's method is `{}`",
                saved.method,
                self.method.name()
            )));
        }
        let mlp = self.mlp.restored(saved.mlp)?;
        self.method.load_state(&saved.method_state)?;
        self.mlp = mlp;
        Ok(())
    }
}

impl Classifier for DenseMlp {
    fn n_classes(&self) -> usize {
        *self.sizes().last().expect("at least one layer")
    }

    fn train_step(
        &mut self,
        batch: &Batch,
        labels: &[u32],
        _clock: TrainingClock,
        rngs: &mut RunRngs,
        _growth: Option<GrowthBatch>,
    ) -> StepReport {
        let sizes = self.sizes();
        // Masks drawn layer by layer, row-major: the same order as the sparse MLP, so both
        // models consume the dropout stream identically.
        let p = self.dropout();
        let masks: Vec<Vec<f32>> = if p > 0.0 {
            sizes[1..sizes.len() - 1]
                .iter()
                .map(|&w| {
                    let mut m = vec![0.0; batch.rows * w];
                    fill_dropout_mask(&mut m, p, &mut rngs.dropout);
                    m
                })
                .collect()
        } else {
            Vec::new()
        };
        let x = batch.x.to_rows(sizes[0]);
        let probs = self.train_batch(&x, batch.rows, labels, &masks);
        let weights: usize = sizes.windows(2).map(|w| w[0] * w[1]).sum();
        let first = sizes[0] * sizes[1];
        // Forward and weight gradient over all layers, input gradient of all but the first.
        let flops = (batch.rows * (3 * weights - first)) as u64;
        // burn's ReLU keeps NaN, so non-finite weights reach the next step's outputs; those
        // of the epoch's last step are caught by `parameters_finite` at its end.
        let diverged = !probs.iter().all(|p| p.is_finite());
        StepReport {
            probs,
            flops,
            edits: Vec::new(),
            diverged,
        }
    }

    fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        DenseMlp::set_active_classes(self, classes)
    }

    fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        DenseMlp::set_class_groups(self, groups)
    }

    fn end_of_epoch(&mut self, _clock: TrainingClock, _rngs: &mut RunRngs) -> Vec<EditStats> {
        Vec::new()
    }

    fn predict_proba(&mut self, batch: &Batch) -> Vec<f32> {
        DenseMlp::predict_proba(self, &batch.x.to_rows(self.sizes()[0]), batch.rows)
    }

    fn parameters_finite(&self) -> bool {
        self.params()
            .iter()
            .all(|l| l.weights.iter().chain(&l.bias).all(|v| v.is_finite()))
    }

    fn nnz(&self) -> usize {
        self.sizes().windows(2).map(|w| w[0] * w[1]).sum()
    }

    fn layer_densities(&self) -> Vec<f64> {
        vec![1.0; self.sizes().len() - 1]
    }

    fn input_strengths(&self) -> Vec<f64> {
        let first = self.params().swap_remove(0);
        first
            .weights
            .chunks(first.n_out)
            .map(|row| row.iter().map(|v| f64::from(v.abs())).sum())
            .collect()
    }

    fn save_state(&self) -> Vec<u8> {
        self.to_state()
    }

    fn load_state(&mut self, state: &[u8]) -> Result<(), ModelError> {
        self.restore_state(state)
    }
}
