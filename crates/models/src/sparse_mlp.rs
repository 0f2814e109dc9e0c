//! The truly sparse MLP: every weight layer a [`SparseLayer`], ReLU hidden units, inverted
//! dropout on hidden activations, softmax cross-entropy output, SGD with momentum.
//!
//! Memory is `O(nnz + batch x width)`: the weights, their momentum and gradient (aligned with
//! the non-zeros; one gradient buffer for all layers when the method reads none, see
//! [`DstMethod::reads_gradients`]), and per-layer activation buffers reused from batch to
//! batch (one fewer where the first hidden output is recomputed, see [`ActivationMemory`]).
//! Time per step is `O(batch x nnz)`, or `O(observed x fan-out)` in the first layer when
//! inputs are absent.

use crate::activation::Activation;
use crate::batch::{
    apply_dropout_transposed, argmax_rows, cross_entropy, dropout_scale,
    fill_dropout_kept_transposed, Batch, DropoutDraw, GrowthBatch, Inputs,
};
use crate::elementwise::{for_rows, zip3};
use crate::error::ModelError;
use crate::optim::SgdParams;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::kernels::{self, LayerInput};
use sparse_core::simd::vectorized;
use sparse_core::{
    AlignedBuf, Csr, DstContext, DstMethod, EditStats, FanMode, GradientSource, HookOutcome,
    SparseLayer, TrainingClock, WeightInit, WeightSampler,
};
use std::ops::Range;

/// How the initial topology and weights of a sparse MLP are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseInit {
    /// Density of each weight layer, input side first (1.0 = dense).
    pub densities: Vec<f64>,
    /// Whether DST methods may edit each layer.
    pub dynamic: Vec<bool>,
    /// Weight distribution.
    pub init: WeightInit,
    /// Whether the distribution is scaled by the sparse or the dense fan-in.
    pub fan: FanMode,
}

/// Buffers of one forward/backward pass, kept between batches to avoid allocation.
///
/// Activations and deltas are feature-major (`width x rows`, the kernels' layout), so no
/// layer transposes anything: only the input batch (once) and the softmax outputs are
/// converted from and to the example-major layout the caller uses.
#[derive(Debug, Clone, Default)]
struct Workspace {
    /// `acts[l]`: input of layer `l` (`acts[0]` the batch, 0 at missing entries), `n_in x rows`.
    acts: Vec<AlignedBuf>,
    /// `pre[l]`: pre-activation output of layer `l`, `n_out x rows`, kept only where the
    /// backward pass needs it: the output layer, and hidden layers with a negative slope. A
    /// ReLU layer's output goes straight into `acts[l + 1]` and is activated in place: its
    /// derivative and dropout mask are read back from the result (`a > 0` exactly where the
    /// pre-activation is positive and the unit kept), which saves 5 of the 13 bytes per
    /// hidden unit and example (pre-activation and flag) without changing a number.
    pre: Vec<AlignedBuf>,
    /// `kept[l]`: dropout flags of hidden layer `l`'s output (1: kept, scaled by
    /// [`dropout_scale`]; 0: dropped), `n_out x rows`, drawn in example-major order (the dense
    /// MLP's) so both models consume the dropout stream alike; for layers with a negative
    /// slope only (see `pre`), empty without dropout. A byte per unit: the mask value is
    /// derived where it is used.
    kept: Vec<Vec<u8>>,
    /// Whether the last forward pass dropped units (training mode with dropout).
    masked: bool,
    /// Set by a forward pass that wrote the third hidden output over the first, for the
    /// backward pass to recompute the first (see [`SparseMlp::recomputes_first_hidden`]).
    recompute: Option<Recompute>,
    /// Scratch values of connections, for all layers: in the forward pass, the weights of
    /// a group of columns of the layer being multiplied, in column-view order (scratch of
    /// [`kernels::forward_with`], at most [`kernels::BY_COLUMN_GROUP`]); in a backward pass
    /// that updates each layer at once ([`GradientUse::Applied`]), the first layer's
    /// gradient when its inputs are absent (otherwise each layer folds its own into the
    /// momentum block by block, [`kernels::weight_grad_step`] and the backward sweep).
    per_connection: Vec<f32>,
    /// `deltas[l]`: loss gradient w.r.t. `pre[l]`, `n_out x rows`. A hidden layer's is kept
    /// here only by a backward pass in [`DeltaBuffers::Separate`] mode (allocated then);
    /// otherwise it overwrites the layer's output in `acts[l + 1]`.
    deltas: Vec<AlignedBuf>,
    /// Softmax outputs of the last forward pass, example-major `rows x n_classes`.
    probs: Vec<f32>,
    /// The batch's observed entries when inputs are absent.
    sparse_input: Option<Csr>,
    /// Which path each first-layer product takes with `sparse_input`, from timings of both.
    absent_paths: kernels::AbsentPaths,
    /// Multiply-adds of one first-layer product with `sparse_input` (counted in the forward
    /// pass; the weight gradient of the same batch does as many).
    sparse_input_macs: u64,
    /// Per row and class, whether the class is scored for the next training pass (its label's
    /// class group, see [`SparseMlp::set_class_groups`]); `None`: the active classes.
    row_scope: Option<Vec<bool>>,
    rows: usize,
}

/// Whether a training step keeps the first hidden layer's output for its backward pass or
/// computes it again there, trading one more product of the first layer for a buffer of
/// `batch x width` (see [`SparseMlp::set_activation_memory`]). The numbers are the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActivationMemory {
    /// Recompute where the first hidden output takes at least [`RECOMPUTE_ABOVE_BYTES`].
    #[default]
    Auto,
    /// Always keep it.
    Keep,
    /// Recompute whenever the network allows it (ReLU, at least three hidden layers).
    Recompute,
}

/// Size of the first hidden layer's output (for one batch) from which
/// [`ActivationMemory::Auto`] recomputes it: 64 MiB, a buffer worth a product only where the
/// layers are wide enough for activations to rival the connections (the million-neuron
/// network of `cargo xtask bench --only scale`: 163 MiB at batch 128); every study's network
/// is far below.
pub const RECOMPUTE_ABOVE_BYTES: usize = 64 << 20;

/// The layer whose input (the third hidden output) takes the first hidden output's buffer
/// when that output is recomputed.
const SHARED_WITH_FIRST_HIDDEN: usize = 3;

/// What the backward pass needs to recompute the first hidden output: the dropout stream as
/// the forward pass's first layer found it (`None` without dropout).
#[derive(Debug, Clone)]
struct Recompute {
    dropout: Option<ChaCha8Rng>,
}

/// Where a backward pass leaves the hidden layers' deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeltaBuffers {
    /// In `deltas`, beside the activations: a method reads both after the pass (RigL's
    /// growth scores stream `A_l` and `dZ_l`, [`BatchGradients`]).
    Separate,
    /// Each hidden layer's delta overwrites its output (`acts[l + 1]`), whose last reader
    /// is the gate that makes the delta: 4 bytes per hidden unit and example less (half the
    /// activation memory of a wide network), the same numbers.
    OverOutputs,
}

/// What a backward pass does with the connections' gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GradientUse {
    /// Leaves them in each layer's `grad` for the method's hooks and the update after them.
    Kept,
    /// Applies each layer's optimizer update as soon as its gradient and input gradient are
    /// computed, and keeps no `grad` in any layer: for methods that read none
    /// ([`DstMethod::reads_gradients`]). The gradients go into the momentum block by block as
    /// they are made (half of [`SgdParams::update`]), the weights take their step after the
    /// input gradient has read them, so every number is the same.
    Applied,
}

/// The delta of layer `l` after the backward pass reached it, from the workspace's
/// activations and deltas.
fn delta<'a>(
    acts: &'a [AlignedBuf],
    deltas: &'a [AlignedBuf],
    l: usize,
    buffers: DeltaBuffers,
) -> &'a [f32] {
    match buffers {
        DeltaBuffers::OverOutputs if l + 1 < deltas.len() => &acts[l + 1],
        _ => &deltas[l],
    }
}

/// The delta of layer `l > 0`, the buffer of layer `l - 1`'s (to be written) and, when that
/// buffer does not hold it, the output of layer `l - 1` (its ReLU gate).
fn delta_and_input_delta<'a>(
    acts: &'a mut [AlignedBuf],
    deltas: &'a mut [AlignedBuf],
    l: usize,
    buffers: DeltaBuffers,
) -> (&'a [f32], &'a mut [f32], Option<&'a [f32]>) {
    match buffers {
        DeltaBuffers::Separate => {
            let (lo, hi) = deltas.split_at_mut(l);
            (&hi[0], &mut lo[l - 1], Some(&acts[l]))
        }
        DeltaBuffers::OverOutputs if l + 1 == deltas.len() => (&deltas[l], &mut acts[l], None),
        DeltaBuffers::OverOutputs => {
            let (lo, hi) = acts.split_at_mut(l + 1);
            (&hi[0], &mut lo[l], None)
        }
    }
}

/// A truly sparse multi-layer perceptron with its training state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparseMlp {
    layers: Vec<SparseLayer>,
    dropout: f32,
    #[serde(default)]
    activation: Activation,
    sgd: SgdParams,
    /// Whether each class is scored (task-incremental learning); `None`: every class. Not
    /// saved: a setting of the current task, not of the model.
    #[serde(skip)]
    active: Option<Vec<bool>>,
    /// Group (task) of each class for training passes; `None`: the active classes.
    #[serde(skip)]
    class_groups: Option<Vec<u32>>,
    /// Whether training recomputes the first hidden output. Not saved: a setting of the
    /// machine's memory, not of the model.
    #[serde(skip)]
    activation_memory: ActivationMemory,
    #[serde(skip)]
    ws: Workspace,
}

/// What one training step did.
#[derive(Debug, Clone, Default)]
pub struct StepReport {
    /// Softmax outputs of the training forward pass (dropout on, before the update),
    /// `rows x n_classes`.
    pub probs: Vec<f32>,
    /// Multiply-adds performed by the step's products.
    pub flops: u64,
    /// Topology edits made during the step.
    pub edits: Vec<EditStats>,
    /// The step left a non-finite output, weight or bias: the run has diverged and must
    /// stop. A sparse model checks its weights after the update, before any later topology
    /// edit could drop the bad ones unseen.
    pub diverged: bool,
}

/// The two random streams a training step draws from: the dropout masks (a concrete ChaCha8
/// stream, whose words are drawn in parallel from their positions) and the method's topology
/// decisions.
pub struct StepRngs<'a> {
    /// Dropout masks.
    pub dropout: &'a mut ChaCha8Rng,
    /// The DST method's random choices (regrowth positions, ...).
    pub topology: &'a mut dyn RngCore,
}

impl SparseMlp {
    /// Scores only `classes` from now on, in training and prediction (van de Ven's
    /// `allowed_classes` of task-incremental learning): the other logits are masked before the
    /// softmax, so their outputs and gradients are 0. `None` scores every class again.
    ///
    /// # Panics
    /// If a class is out of range.
    pub fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        let k = self.n_classes();
        self.active = classes.map(|cs| {
            let mut active = vec![false; k];
            for &c in cs {
                assert!((c as usize) < k, "class {c} out of range 0..{k}");
                active[c as usize] = true;
            }
            active
        });
    }

    /// Draws a network of layer widths `sizes` (input first): topology from `topology_rng`,
    /// weights from `weight_rng`, biases 0. Two calls with equal streams give equal networks,
    /// whatever the method that will train them.
    pub fn new(
        sizes: &[usize],
        init: &SparseInit,
        dropout: f32,
        sgd: SgdParams,
        topology_rng: &mut dyn RngCore,
        weight_rng: &mut dyn RngCore,
    ) -> Result<Self, ModelError> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(ModelError::Architecture(format!(
                "layer sizes {sizes:?} need at least an input and an output, all non-zero"
            )));
        }
        let n_layers = sizes.len() - 1;
        if init.densities.len() != n_layers || init.dynamic.len() != n_layers {
            return Err(ModelError::Architecture(format!(
                "{n_layers} weight layers but {} densities and {} dynamic flags",
                init.densities.len(),
                init.dynamic.len()
            )));
        }
        let mut layers = Vec::with_capacity(n_layers);
        for l in 0..n_layers {
            let (n_in, n_out) = (sizes[l], sizes[l + 1]);
            let d = init.densities[l];
            if !(d > 0.0 && d <= 1.0) {
                return Err(ModelError::Architecture(format!(
                    "density {d} of layer {l} is not in (0, 1]"
                )));
            }
            let count = connection_count(n_in, n_out, d);
            let pattern = random_pattern(n_in, n_out, count, topology_rng)?;
            let sampler = WeightSampler::new(init.init, init.fan, n_in, n_out, count);
            let mut layer = SparseLayer::new(pattern, sampler, init.dynamic[l]);
            sampler.fill(layer.weights.values_mut(), weight_rng);
            layers.push(layer);
        }
        Self::from_layers(layers, dropout, sgd)
    }

    /// Wraps existing layers (e.g. loaded from a file, or set by a test).
    pub fn from_layers(
        layers: Vec<SparseLayer>,
        dropout: f32,
        sgd: SgdParams,
    ) -> Result<Self, ModelError> {
        for w in layers.windows(2) {
            if w[0].n_out() != w[1].n_in() {
                return Err(ModelError::Architecture(format!(
                    "a layer with {} outputs feeds a layer with {} inputs",
                    w[0].n_out(),
                    w[1].n_in()
                )));
            }
        }
        if layers.is_empty() {
            return Err(ModelError::Architecture("no layers".into()));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(ModelError::Architecture(format!(
                "dropout {dropout} is not in [0, 1)"
            )));
        }
        let mut m = SparseMlp {
            layers,
            dropout,
            activation: Activation::Relu,
            sgd,
            active: None,
            class_groups: None,
            activation_memory: ActivationMemory::default(),
            ws: Workspace::default(),
        };
        for l in &mut m.layers {
            l.ensure_buffers();
        }
        Ok(m)
    }

    /// Whether training steps keep the first hidden layer's output or recompute it
    /// ([`ActivationMemory::Auto`] by default); the numbers do not depend on it.
    pub fn set_activation_memory(&mut self, memory: ActivationMemory) {
        self.activation_memory = memory;
    }

    /// The network with `activation` in its hidden layers (ReLU by default).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Layer widths, input first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.layers[0].n_in()];
        s.extend(self.layers.iter().map(|l| l.n_out()));
        s
    }

    /// The weight layers, input side first.
    pub fn layers(&self) -> &[SparseLayer] {
        &self.layers
    }

    /// Mutable layers (for tests and tools that set weights).
    pub fn layers_mut(&mut self) -> &mut [SparseLayer] {
        &mut self.layers
    }

    /// Number of output classes.
    pub fn n_classes(&self) -> usize {
        self.layers.last().expect("at least one layer").n_out()
    }

    /// Connections over all layers (biases excluded).
    pub fn nnz(&self) -> usize {
        self.layers.iter().map(|l| l.nnz()).sum()
    }

    /// Bytes of heap memory the model holds: every layer (weights, indices, column view,
    /// optimizer state, gradients) and the activation buffers of the last batch. The
    /// reference against which measured peak memory is judged.
    pub fn footprint_bytes(&self) -> usize {
        let ws = &self.ws;
        let bufs = |v: &Vec<AlignedBuf>| v.iter().map(|b| b.capacity()).sum::<usize>();
        let activations = (bufs(&ws.acts)
            + bufs(&ws.pre)
            + bufs(&ws.deltas)
            + ws.probs.capacity()
            + ws.per_connection.capacity())
            * size_of::<f32>()
            + ws.kept.iter().map(|k| k.capacity()).sum::<usize>()
            + ws.sparse_input.as_ref().map_or(0, |x| x.heap_bytes());
        self.layers.iter().map(|l| l.heap_bytes()).sum::<usize>() + activations
    }

    /// Realised density of each layer, input side first.
    pub fn layer_densities(&self) -> Vec<f64> {
        self.layers.iter().map(|l| l.weights.density()).collect()
    }

    /// Sizes the workspace for a batch of `rows` (no allocation once it has grown). With
    /// `recompute`, the third hidden layer's output gets no buffer of its own: the forward
    /// pass lends it the first's (see [`SparseMlp::recomputes_first_hidden`]).
    fn prepare(&mut self, rows: usize, recompute: bool) {
        let n = self.layers.len();
        let ws = &mut self.ws;
        ws.acts.resize(n, AlignedBuf::new());
        ws.pre.resize(n, AlignedBuf::new());
        ws.deltas.resize(n, AlignedBuf::new());
        ws.kept.resize(n, Vec::new());
        ws.recompute = None;
        for l in 0..n {
            let (n_in, n_out) = (self.layers[l].n_in(), self.layers[l].n_out());
            let pre = if self.activated_in_place(l) {
                0
            } else {
                rows * n_out
            };
            let ws = &mut self.ws;
            if recompute && l == SHARED_WITH_FIRST_HIDDEN {
                ws.acts[l] = AlignedBuf::new();
            } else {
                ws.acts[l].resize(rows * n_in, 0.0);
            }
            ws.pre[l].resize(pre, 0.0);
        }
        // The hidden layers' deltas are sized by the backward pass that keeps them.
        self.ws.deltas[n - 1].resize(rows * self.layers[n - 1].n_out(), 0.0);
        self.ws.rows = rows;
    }

    /// Whether layer `l` is a hidden ReLU layer, whose output goes straight into the next
    /// layer's input and is activated there in place (see `Workspace::pre`). Its bias, ReLU
    /// and dropout are applied by its forward product's tasks where they can be
    /// (`kernels::forward_then`), and its bias gradient is summed by the backward sweep of
    /// layer `l + 1` as it writes the rows of its delta (`weight_grad_and_input_delta`), so
    /// the backward pass leaves that sum out: the one condition for all of these.
    fn activated_in_place(&self, l: usize) -> bool {
        l + 1 < self.layers.len() && self.activation.is_relu()
    }

    /// Whether a training step on `rows` examples recomputes the first hidden layer's output
    /// in its backward pass instead of keeping it (under [`ActivationMemory::Auto`]: where
    /// that output takes at least [`RECOMPUTE_ABOVE_BYTES`]).
    ///
    /// Only a ReLU network with at least three hidden layers can: its backward pass needs the
    /// first hidden output again only after the third's buffer is free (that output's last
    /// reader is the gate of the second's delta), so the forward pass writes the third hidden
    /// output over the first and the backward pass recomputes the first into it, with the
    /// same dropout words: one buffer of `batch x width` less (a third of the activation
    /// memory of three equal hidden layers) for one more product of the first layer per step,
    /// with the same numbers.
    fn recomputes_first_hidden(&self, rows: usize) -> bool {
        let able = self.activation.is_relu() && self.layers.len() > SHARED_WITH_FIRST_HIDDEN;
        match self.activation_memory {
            ActivationMemory::Keep => false,
            ActivationMemory::Recompute => able,
            ActivationMemory::Auto => {
                able && rows * self.layers[0].n_out() * size_of::<f32>() >= RECOMPUTE_ABOVE_BYTES
            }
        }
    }

    /// Forward pass; leaves the softmax outputs in `ws.probs` (`rows x n_classes`) and
    /// returns the multiply-adds. With `dropout_rng`, hidden activations are dropped
    /// (training mode). With `recompute`, the first hidden output is overwritten by the
    /// third and the backward pass (which must follow, with deltas over the outputs)
    /// recomputes it (see [`SparseMlp::recomputes_first_hidden`]).
    fn forward(
        &mut self,
        input: &Batch,
        dropout_rng: Option<&mut ChaCha8Rng>,
        recompute: bool,
    ) -> u64 {
        let n_in = self.layers[0].n_in();
        self.prepare(input.rows, recompute);
        let rows = input.rows;
        match input.x {
            Inputs::Rows(x) => {
                assert_eq!(
                    x.len(),
                    rows * n_in,
                    "batch width must equal the input layer"
                );
                kernels::transpose(x, rows, n_in, &mut self.ws.acts[0]);
            }
            Inputs::Picked { data, ids } => {
                assert_eq!(ids.len(), rows, "one picked row per example");
                assert_eq!(
                    data.len() % n_in,
                    0,
                    "data width must equal the input layer"
                );
                kernels::transpose_rows(data, n_in, ids, &mut self.ws.acts[0]);
            }
        }
        self.ws.sparse_input = input
            .observed
            .map(|obs| observed_entries(&input.x.to_rows(n_in), obs, rows, n_in));
        let mut rng = dropout_rng;
        let mut flops = 0u64;
        for l in 0..self.layers.len() {
            if recompute && l == 0 {
                // The stream as the first layer's dropout finds it, to draw the same words
                // again when the backward pass recomputes that layer.
                let dropout = rng.as_deref().filter(|_| self.dropout > 0.0).cloned();
                self.ws.recompute = Some(Recompute { dropout });
            }
            if recompute && l + 1 == SHARED_WITH_FIRST_HIDDEN {
                // The first hidden output's last reader in this pass (layer 1) has run; the
                // layer about to run writes over it.
                let mut shared = std::mem::take(&mut self.ws.acts[1]);
                shared.resize(rows * self.layers[l].n_out(), 0.0);
                self.ws.acts[SHARED_WITH_FIRST_HIDDEN] = shared;
            }
            flops += self.forward_layer(l, rng.as_deref_mut());
        }
        flops
    }

    /// Layer `l` of the forward pass: its product on `acts[l]`, then its bias and activation
    /// (and dropout with `rng`) into `acts[l + 1]`, or the softmax for the output layer;
    /// returns the multiply-adds.
    fn forward_layer(&mut self, l: usize, rng: Option<&mut ChaCha8Rng>) -> u64 {
        let rows = self.ws.rows;
        let n = self.layers.len();
        // A ReLU layer's output goes straight into the next layer's input, activated
        // there in place (see `Workspace::pre`).
        let in_place = self.activated_in_place(l);
        let layer = &self.layers[l];
        let ws = &mut self.ws;
        let (width, bias, p) = (layer.n_out(), &layer.bias[..], self.dropout);
        let scale = dropout_scale(p);
        let mut dropout = rng.filter(|_| p > 0.0);
        // Bias, ReLU and dropout of unit `j`'s row: two loops, each vectorised (one with
        // both was not).
        let relu_and_dropout = move |j: usize, row: &mut [f32], kept: &[u8]| {
            for a in row.iter_mut() {
                *a = (*a + bias[j]).max(0.0);
            }
            for (a, &k) in row.iter_mut().zip(kept) {
                *a *= if k == 1 { scale } else { 0.0 };
            }
        };
        // Bias and ReLU of the units `j0..` whose rows `chunk` holds.
        let relu = move |j0: usize, chunk: &mut [f32]| {
            vectorized(
                #[inline(always)]
                || {
                    for (row, b) in chunk.chunks_exact_mut(rows).zip(&bias[j0..]) {
                        for a in row {
                            *a = (*a + b).max(0.0);
                        }
                    }
                },
            )
        };
        let (done, next) = ws.acts.split_at_mut(l + 1);
        let z = if in_place {
            &mut next[0]
        } else {
            &mut ws.pre[l]
        };
        // The multiply-adds, and whether the product has applied bias, ReLU and dropout to
        // its rows as it wrote them (`kernels::forward_then`).
        let (flops, activated) = match (&ws.sparse_input, l) {
            (Some(xs), 0) => {
                let by_column = &mut ws.per_connection;
                let chooser = &mut ws.absent_paths.forward;
                let w = &layer.weights;
                kernels::forward_absent(chooser, xs, &done[0], w, by_column, z);
                ws.sparse_input_macs = kernels::sparse_input_work(xs, &layer.weights) as u64;
                (ws.sparse_input_macs, false)
            }
            _ => {
                let (x, w, by_column) = (&done[l], &layer.weights, &mut ws.per_connection);
                let draw = match (in_place, dropout.as_deref()) {
                    (true, Some(r)) => Some(DropoutDraw::new(r, rows, width, p)),
                    _ => None,
                };
                let activated = match draw {
                    // Runs of 16 rows draw fast only by tiles; other layouts (a width that is
                    // not a multiple of 16) draw in long runs, in a pass of their own below.
                    Some(draw) if draw.by_tiles() => {
                        let then = |j0: usize, chunk: &mut [f32]| {
                            draw.apply_to(j0, chunk, &relu_and_dropout)
                        };
                        kernels::forward_then(x, rows, w, by_column, z, DropoutDraw::TILE, then);
                        let end = draw.end();
                        if let Some(r) = dropout.as_deref_mut() {
                            r.set_word_pos(end);
                        }
                        true
                    }
                    None if in_place => {
                        kernels::forward_then(x, rows, w, by_column, z, 1, relu);
                        true
                    }
                    _ => {
                        kernels::forward_with(x, rows, w, by_column, z);
                        false
                    }
                };
                ((rows * layer.nnz()) as u64, activated)
            }
        };
        if !in_place {
            for_rows(z, rows, move |r0, chunk| {
                for (zrow, b) in chunk.chunks_exact_mut(rows).zip(&bias[r0..]) {
                    for z in zrow {
                        *z += b;
                    }
                }
            });
        }
        if l + 1 == n {
            ws.probs.resize(rows * width, 0.0);
            kernels::transpose(&ws.pre[l], width, rows, &mut ws.probs);
            match (&ws.row_scope, &self.active) {
                (Some(scope), _) => mask_inactive(&mut ws.probs, scope),
                (None, Some(active)) => mask_inactive(&mut ws.probs, active),
                (None, None) => {}
            }
            softmax_rows(&mut ws.probs, width);
            return flops;
        }
        let next = &mut ws.acts[l + 1];
        ws.masked = dropout.is_some();
        if in_place {
            if !activated {
                // The absent-input product, which chooses its kernel: bias, ReLU and
                // dropout in a pass of their own, which draws its own words.
                match dropout {
                    Some(r) => apply_dropout_transposed(next, rows, width, p, r, relu_and_dropout),
                    None => for_rows(next, rows, relu),
                }
            }
            return flops;
        }
        let kept = &mut ws.kept[l];
        match dropout {
            Some(r) => {
                kept.resize(rows * width, 0);
                fill_dropout_kept_transposed(kept, rows, width, p, r);
            }
            None => kept.clear(),
        }
        let (masked, kept) = (ws.masked, &ws.kept[l]);
        let slope = self.activation.negative_slope(l);
        let pre = &ws.pre[l];
        for_rows(next, rows, move |r0, chunk| {
            let at = r0 * rows..r0 * rows + chunk.len();
            if slope == 0.0 {
                for (a, &z) in chunk.iter_mut().zip(&pre[at.clone()]) {
                    *a = z.max(0.0);
                }
            } else {
                for (a, &z) in chunk.iter_mut().zip(&pre[at.clone()]) {
                    *a = if z > 0.0 { z } else { slope * z };
                }
            }
            if masked {
                for (a, &k) in chunk.iter_mut().zip(&kept[at]) {
                    *a *= if k == 1 { scale } else { 0.0 };
                }
            }
        });
        flops
    }

    /// Gives the first hidden output its buffer back from the third (whose delta the backward
    /// pass has consumed) and computes it again as the forward pass did; returns the
    /// multiply-adds.
    fn recompute_first_hidden(&mut self, pending: Recompute) -> u64 {
        let width = self.layers[0].n_out();
        let shared = std::mem::take(&mut self.ws.acts[SHARED_WITH_FIRST_HIDDEN]);
        self.ws.acts[1] = shared;
        self.ws.acts[1].resize(self.ws.rows * width, 0.0);
        let mut dropout = pending.dropout;
        self.forward_layer(0, dropout.as_mut())
    }

    /// Backward pass of the last forward pass: fills each layer's `grad` and `bias_grad` with
    /// the gradient of the mean cross-entropy, or applies them at once (`gradients`); returns
    /// the multiply-adds. `buffers` says where the hidden layers' deltas go.
    fn backward(&mut self, labels: &[u32], buffers: DeltaBuffers, gradients: GradientUse) -> u64 {
        let rows = self.ws.rows;
        assert_eq!(labels.len(), rows, "one label per example");
        let n = self.layers.len();
        let k = self.n_classes();
        let mut flops = 0u64;
        {
            let ws = &mut self.ws;
            let (probs, delta) = (&ws.probs, &mut ws.deltas[n - 1]);
            let scale = 1.0 / rows as f32;
            for r in 0..rows {
                for c in 0..k {
                    let y = (labels[r] as usize == c) as u8 as f32;
                    delta[c * rows + r] = (probs[r * k + c] - y) * scale;
                }
            }
        }
        let separate = buffers == DeltaBuffers::Separate;
        if separate {
            for (l, layer) in self.layers[..n - 1].iter().enumerate() {
                self.ws.deltas[l].resize(rows * layer.n_out(), 0.0);
            }
        }
        assert!(
            self.ws.recompute.is_none() || buffers == DeltaBuffers::OverOutputs,
            "a recomputed first hidden output is not kept for the method"
        );
        for l in (0..n).rev() {
            if l == 1 {
                if let Some(pending) = self.ws.recompute.take() {
                    flops += self.recompute_first_hidden(pending);
                }
            }
            let summed_by_sweep = self.activated_in_place(l);
            let ws = &mut self.ws;
            let layer = &mut self.layers[l];
            let delta = delta(&ws.acts, &ws.deltas, l, buffers);
            // Else the sweep of layer `l + 1` summed the rows of this delta as it wrote them.
            if !summed_by_sweep {
                kernels::row_sums(delta, rows, &mut layer.bias_grad);
            }
            let nnz = layer.nnz();
            let absent = ws.sparse_input.as_ref().filter(|_| l == 0);
            // An update within the pass folds each block of gradients into the momentum as
            // it is made and steps the block's weights (past the first layer once the
            // sweep's input gradient has read them); the absent-input products, which
            // choose their kernel, write a whole buffer.
            let folded = gradients == GradientUse::Applied && absent.is_none();
            if gradients == GradientUse::Applied {
                layer.grad = Vec::new();
            }
            if l > 0 {
                flops += self.weight_grad_and_input_delta(l, buffers, gradients);
            } else {
                match absent {
                    Some(xs) => {
                        let grad = match gradients {
                            GradientUse::Kept => &mut layer.grad,
                            GradientUse::Applied => &mut ws.per_connection,
                        };
                        grad.resize(nnz, 0.0);
                        let chooser = &mut ws.absent_paths.weight_grad;
                        let (x, w) = (&ws.acts[0], &layer.weights);
                        kernels::weight_grad_absent(chooser, xs, x, delta, w, grad);
                        flops += ws.sparse_input_macs;
                    }
                    None if folded => {
                        let SparseLayer {
                            weights, momentum, ..
                        } = layer;
                        let sgd = &self.sgd;
                        let fold = |w: &[f32], g: &[f32], v: &mut [f32]| sgd.fold_momentum(w, g, v);
                        let step = |w: &mut [f32], v: &[f32]| sgd.step_by_momentum(w, v);
                        let x = &ws.acts[0];
                        kernels::weight_grad_step(x, delta, rows, weights, momentum, fold, step);
                        flops += (rows * nnz) as u64;
                    }
                    None => {
                        layer.grad.resize(nnz, 0.0);
                        let (x, w) = (&ws.acts[0], &layer.weights);
                        kernels::weight_grad(x, delta, rows, w, &mut layer.grad);
                        flops += (rows * nnz) as u64;
                    }
                }
            }
            let layer = &mut self.layers[l];
            if folded {
                // The weights are stepped: in the first layer's weight gradient, past it in
                // the sweep.
                let sgd = &self.sgd;
                sgd.update(&mut layer.bias, &layer.bias_grad, &mut layer.bias_momentum);
            } else if gradients == GradientUse::Applied {
                update_layer(&self.sgd, layer, &self.ws.per_connection[..layer.nnz()]);
            }
        }
        flops
    }

    /// Layer `l`'s weight gradient (`l > 0`), kept, or folded into the momentum and the
    /// weights stepped (`kernels::input_and_weight_grad_step`) as `gradients` says, and the
    /// delta of layer `l - 1` where `buffers` keeps it: `dA = dZ
    /// Wᵀ` through dropout and the activation of layer `l - 1`. Both products in one sweep
    /// over the rows of `W` (`kernels::input_and_weight_grad`), which reads each row of the
    /// delta once for both, and with ReLU sums the rows of the delta it writes into the bias
    /// gradient of layer `l - 1`; returns the multiply-adds.
    fn weight_grad_and_input_delta(
        &mut self,
        l: usize,
        buffers: DeltaBuffers,
        gradients: GradientUse,
    ) -> u64 {
        let rows = self.ws.rows;
        let sgd = self.sgd;
        // The layer's input, activated in place, is positive exactly where its
        // pre-activation is and the unit was kept (see `Workspace::pre`): for ReLU the kernel
        // gates its sums by it as it stores them, from beside or from `prev` itself.
        let relu = self.activated_in_place(l - 1);
        let (below, here) = self.layers.split_at_mut(l);
        let (ws, layer) = (&mut self.ws, &mut here[0]);
        let nnz = layer.nnz();
        let flops = 2 * (rows * nnz) as u64;
        let scale = dropout_scale(self.dropout);
        let gate_scale = if ws.masked { scale } else { 1.0 };
        let (delta, prev, outputs) =
            delta_and_input_delta(&mut ws.acts, &mut ws.deltas, l, buffers);
        let gate = relu.then_some(gate_scale);
        let input = outputs.map_or(LayerInput::InPlace, LayerInput::Beside);
        let bias_grad_below = relu.then_some(&mut below[l - 1].bias_grad[..]);
        let SparseLayer {
            weights,
            momentum,
            grad,
            ..
        } = layer;
        match gradients {
            GradientUse::Applied => {
                // The whole SGD step within the sweep's blocks: the momentum, then the
                // weights once the block's input gradient has read them.
                let fold = |w: &[f32], g: &[f32], v: &mut [f32]| sgd.fold_momentum(w, g, v);
                let step = |w: &mut [f32], v: &[f32]| sgd.step_by_momentum(w, v);
                kernels::input_and_weight_grad_step(
                    delta,
                    rows,
                    weights,
                    input,
                    gate,
                    prev,
                    bias_grad_below,
                    momentum,
                    fold,
                    step,
                );
            }
            GradientUse::Kept => {
                grad.resize(nnz, 0.0);
                let fold = |_: Range<usize>, g: &[f32], o: &mut [f32]| o.copy_from_slice(g);
                kernels::input_and_weight_grad(
                    delta,
                    rows,
                    weights,
                    input,
                    gate,
                    prev,
                    bias_grad_below,
                    grad,
                    fold,
                );
            }
        }
        if relu {
            return flops;
        }
        let pre = &ws.pre[l - 1];
        let kept = &ws.kept[l - 1];
        // Derivative of the activation: 1 above 0, the negative slope (0 for ReLU)
        // below; then the dropout mask.
        // One loop per case, each a select the compiler vectorises (a branch on the
        // sign of `z` would be mispredicted half the time).
        let slope = self.activation.negative_slope(l - 1);
        for_rows(prev, rows, move |r0, chunk| {
            let at = r0 * rows..r0 * rows + chunk.len();
            let units = chunk.iter_mut().zip(&pre[at.clone()]);
            let mask = |k: u8| if k == 1 { scale } else { 0.0 };
            match (slope == 0.0, kept.is_empty()) {
                (true, true) => units.for_each(|(d, &z)| *d = if z > 0.0 { *d } else { 0.0 }),
                (true, false) => units.zip(&kept[at]).for_each(|((d, &z), &k)| {
                    let dm = *d * mask(k);
                    *d = if z > 0.0 { dm } else { 0.0 };
                }),
                (false, true) => units.for_each(|(d, &z)| {
                    let below = *d * slope;
                    *d = if z > 0.0 { *d } else { below };
                }),
                (false, false) => units.zip(&kept[at]).for_each(|((d, &z), &k)| {
                    let dm = *d * mask(k);
                    *d = if z > 0.0 { dm } else { dm * slope };
                }),
            }
        });
        flops
    }

    /// One training step: forward with dropout, backward, the method's hooks and the optimizer
    /// update (unless the method takes over the step).
    pub fn train_step(
        &mut self,
        input: &Batch,
        labels: &[u32],
        method: &mut dyn DstMethod,
        clock: TrainingClock,
        dropout_rng: &mut ChaCha8Rng,
        topology_rng: &mut dyn RngCore,
    ) -> StepReport {
        let rngs = StepRngs {
            dropout: dropout_rng,
            topology: topology_rng,
        };
        self.train_step_scored(input, labels, method, clock, rngs, None)
    }

    /// [`train_step`](Self::train_step), with growth scores taken on `growth` instead of the
    /// batch when the method wants gradients at this step: an evaluation-mode forward and
    /// backward pass on those examples (no dropout, so the dropout stream is untouched) fills
    /// the activations and deltas the scores are streamed from; the batch's own pass then
    /// computes the update exactly as without `growth`.
    pub fn train_step_scored(
        &mut self,
        input: &Batch,
        labels: &[u32],
        method: &mut dyn DstMethod,
        clock: TrainingClock,
        rngs: StepRngs,
        growth: Option<GrowthBatch>,
    ) -> StepReport {
        let StepRngs {
            dropout: dropout_rng,
            topology: topology_rng,
        } = rngs;
        let wants = method.wants_gradients(&clock);
        let mut flops = 0u64;
        let mut scored = None;
        if let (true, Some(g)) = (wants, growth) {
            self.scope_rows(g.labels);
            flops += self.forward(&g.batch, None, false);
            flops += self.backward(g.labels, DeltaBuffers::Separate, GradientUse::Kept);
            scored = Some(ScoreBuffers {
                acts: std::mem::take(&mut self.ws.acts),
                deltas: std::mem::take(&mut self.ws.deltas),
                rows: self.ws.rows,
            });
        }
        // The method reads this batch's activations and deltas after the pass only when it
        // wants gradients and no growth batch supplied them.
        let buffers = if wants && scored.is_none() {
            DeltaBuffers::Separate
        } else {
            DeltaBuffers::OverOutputs
        };
        let recompute =
            buffers == DeltaBuffers::OverOutputs && self.recomputes_first_hidden(input.rows);
        self.scope_rows(labels);
        flops += self.forward(input, Some(dropout_rng), recompute);
        self.ws.row_scope = None;
        let probs = self.ws.probs.clone();
        // A method that reads no gradient gets each layer updated within the backward pass
        // and no `after_backward` call (see `DstMethod::reads_gradients`).
        let gradients = if wants || method.reads_gradients() {
            GradientUse::Kept
        } else {
            GradientUse::Applied
        };
        flops += self.backward(labels, buffers, gradients);
        let mut edits = Vec::new();
        let diverged;
        let outcome = {
            let (layers, ws) = (&mut self.layers, &self.ws);
            let mut source = match &scored {
                Some(s) => BatchGradients {
                    acts: &s.acts,
                    deltas: &s.deltas,
                    rows: s.rows,
                },
                None => BatchGradients::of(ws),
            };
            let mut ctx = DstContext {
                layers,
                clock,
                rng: topology_rng,
                gradients: if wants { Some(&mut source) } else { None },
            };
            if gradients == GradientUse::Kept {
                let out = method.after_backward(&mut ctx);
                edits.extend(out.edits.iter().copied());
                if !out.skip_optimizer_step {
                    update_layers(&self.sgd, ctx.layers);
                }
            }
            // Checked before the method's next hook: DeepR's rewiring after this step, or
            // any method's topology update later, would drop non-finite weights unseen.
            diverged = !probs.iter().all(|p| p.is_finite())
                || !ctx.layers.iter().all(SparseLayer::is_finite);
            if diverged {
                HookOutcome::none()
            } else {
                // The batch's scores stay valid after the update: they depend on the
                // activations and deltas of the batch only, not on the weights.
                method.after_step(&mut ctx)
            }
        };
        edits.extend(outcome.edits);
        StepReport {
            probs,
            flops,
            edits,
            diverged,
        }
    }

    /// Whether every weight and bias is finite (see [`SparseLayer::is_finite`]).
    pub fn is_finite(&self) -> bool {
        self.layers.iter().all(SparseLayer::is_finite)
    }

    /// Calls the method's end-of-epoch hook (SET's evolution).
    pub fn end_of_epoch(
        &mut self,
        method: &mut dyn DstMethod,
        clock: TrainingClock,
        topology_rng: &mut dyn RngCore,
    ) -> HookOutcome {
        let mut ctx = DstContext {
            layers: &mut self.layers,
            clock,
            rng: topology_rng,
            gradients: None,
        };
        method.end_of_epoch(&mut ctx)
    }

    /// Softmax outputs in evaluation mode (no dropout), `rows x n_classes`.
    pub fn predict_proba(&mut self, input: &Batch) -> Vec<f32> {
        self.forward(input, None, false);
        self.ws.probs.clone()
    }

    /// Predicted class of each example.
    pub fn predict(&mut self, input: &Batch) -> Vec<u32> {
        let k = self.n_classes();
        argmax_rows(&self.predict_proba(input), k)
    }

    /// Mean cross-entropy in evaluation mode.
    pub fn loss(&mut self, input: &Batch, labels: &[u32]) -> f64 {
        let k = self.n_classes();
        cross_entropy(&self.predict_proba(input), labels, k)
    }

    /// Evaluation-mode gradient of the mean cross-entropy (no dropout, no update): fills each
    /// layer's `grad` and `bias_grad`. For gradient checks and analysis tools.
    pub fn compute_gradients(&mut self, input: &Batch, labels: &[u32]) {
        self.scope_rows(labels);
        self.forward(input, None, false);
        self.ws.row_scope = None;
        // Analysis tools may read the activations and deltas afterwards.
        self.backward(labels, DeltaBuffers::Separate, GradientUse::Kept);
    }

    /// Scores each training example over the classes of its own label's group only:
    /// `groups[c]` is the group (task) of class `c`. Replayed examples of earlier tasks are then
    /// trained on their own task's classes, next to the current task's examples on the current
    /// task's classes (van de Ven et al.'s task-incremental replay), while prediction keeps
    /// the classes of [`set_active_classes`](Self::set_active_classes). `None`: training
    /// scores the active classes too.
    ///
    /// # Panics
    /// If `groups` does not name one group per class.
    pub fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        let k = self.n_classes();
        if let Some(g) = groups {
            assert_eq!(g.len(), k, "one group per class");
        }
        self.class_groups = groups.map(<[u32]>::to_vec);
    }

    /// Prepares the per-row class scope of the next training pass over `labels`.
    fn scope_rows(&mut self, labels: &[u32]) {
        self.ws.row_scope = self.class_groups.as_deref().map(|g| label_scope(g, labels));
    }

    /// Every layer's parameters as dense matrices, to start the burn dense MLP from the same
    /// weights (for dense runs and the cross-check). Allocates `n_in x n_out` per layer, so it
    /// is meant for layers that are dense anyway, never for training a sparse one.
    pub fn to_dense_params(&self) -> Vec<crate::dense::LayerParams> {
        self.layers
            .iter()
            .map(|l| crate::dense::LayerParams {
                n_in: l.n_in(),
                n_out: l.n_out(),
                weights: l.weights.to_dense(),
                bias: l.bias.clone(),
            })
            .collect()
    }

    /// Serialises the model (topology, weights, optimizer state) to JSON.
    pub fn to_json(&self) -> Result<String, ModelError> {
        Ok(serde_json::to_string(self)?)
    }

    /// `saved` (a model of a checkpoint) validated against this one: the same layer sizes,
    /// dynamic flags, dropout, activation and optimizer, every per-connection array aligned
    /// with its layer. Its topology, weights, biases and momentum are the state to continue
    /// from; gradients and workspace start empty, as every step recomputes them.
    pub fn restored(&self, saved: SparseMlp) -> Result<SparseMlp, ModelError> {
        let bad = |what: String| Err(ModelError::State(what));
        if saved.sizes() != self.sizes() {
            return bad(format!(
                "layer sizes {:?}, the model's are {:?}",
                saved.sizes(),
                self.sizes()
            ));
        }
        if (saved.dropout, saved.activation, saved.sgd) != (self.dropout, self.activation, self.sgd)
        {
            return bad("dropout, activation or optimizer differ from the model's".into());
        }
        for (l, (a, b)) in saved.layers.iter().zip(&self.layers).enumerate() {
            if a.dynamic != b.dynamic {
                return bad(format!(
                    "layer {l} is dynamic in one and static in the other"
                ));
            }
            if a.momentum.len() != a.nnz()
                || a.bias.len() != a.n_out()
                || a.bias_momentum.len() != a.n_out()
            {
                return bad(format!("layer {l}: momentum or bias not aligned"));
            }
        }
        Ok(Self::from_layers(saved.layers, saved.dropout, saved.sgd)?
            .with_activation(saved.activation))
    }

    /// Loads a model saved by [`SparseMlp::to_json`], re-validating every matrix.
    pub fn from_json(s: &str) -> Result<Self, ModelError> {
        let m: SparseMlp = serde_json::from_str(s)?;
        Ok(Self::from_layers(m.layers, m.dropout, m.sgd)?.with_activation(m.activation))
    }
}

/// Applies the optimizer update to every layer's weights and biases, from their `grad`.
fn update_layers(sgd: &SgdParams, layers: &mut [SparseLayer]) {
    for layer in layers {
        let grad = std::mem::take(&mut layer.grad);
        update_layer(sgd, layer, &grad);
        layer.grad = grad;
    }
}

/// Applies the optimizer update to one layer's weights, from `grad` (aligned with them), and
/// to its bias.
fn update_layer(sgd: &SgdParams, layer: &mut SparseLayer, grad: &[f32]) {
    let step = |w: &mut [f32], g: &[f32], v: &mut [f32]| sgd.update(w, g, v);
    zip3(layer.weights.values_mut(), grad, &mut layer.momentum, step);
    sgd.update(&mut layer.bias, &layer.bias_grad, &mut layer.bias_momentum);
}

/// The batch's observed entries as a `rows x n_in` CSR.
fn observed_entries(x: &[f32], observed: &[bool], rows: usize, n_in: usize) -> Csr {
    assert_eq!(observed.len(), x.len(), "mask must align with the batch");
    let mut row_ptr = Vec::with_capacity(rows + 1);
    let mut cols = Vec::new();
    let mut vals = Vec::new();
    row_ptr.push(0);
    for r in 0..rows {
        for i in 0..n_in {
            if observed[r * n_in + i] {
                cols.push(i as u32);
                vals.push(x[r * n_in + i]);
            }
        }
        row_ptr.push(cols.len());
    }
    Csr::try_from_parts(rows, n_in, row_ptr, cols, vals).expect("built sorted and in range")
}

/// Sets the logits of inactive classes to -inf, so that their softmax outputs, and with them
/// their gradients `p - y`, are exactly 0. `active` is one row of flags for every row of `z`,
/// or one row of flags per row of `z`.
fn mask_inactive(z: &mut [f32], active: &[bool]) {
    let flags = active.iter().cycle();
    for (v, &on) in z.iter_mut().zip(flags) {
        if !on {
            *v = f32::NEG_INFINITY;
        }
    }
}

/// Per row of `labels` and class, whether the class is in the label's group.
fn label_scope(groups: &[u32], labels: &[u32]) -> Vec<bool> {
    labels
        .iter()
        .flat_map(|&y| {
            let g = groups[y as usize];
            groups.iter().map(move |&h| h == g)
        })
        .collect()
}

fn softmax_rows(z: &mut [f32], width: usize) {
    for row in z.chunks_exact_mut(width) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// The activations and deltas of a growth batch's pass, kept aside while the training batch
/// reuses the workspace.
struct ScoreBuffers {
    acts: Vec<AlignedBuf>,
    deltas: Vec<AlignedBuf>,
    rows: usize,
}

/// Streams `|Σ_b A_l[b, i] dZ_l[b, j]|` of a batch, a block of rows at a time (the
/// dense-gradient magnitude RigL grows by), from the activations and deltas of its backward
/// pass.
struct BatchGradients<'a> {
    acts: &'a [AlignedBuf],
    deltas: &'a [AlignedBuf],
    rows: usize,
}

impl<'a> BatchGradients<'a> {
    fn of(ws: &'a Workspace) -> Self {
        BatchGradients {
            acts: &ws.acts,
            deltas: &ws.deltas,
            rows: ws.rows,
        }
    }
}

impl GradientSource for BatchGradients<'_> {
    fn fill_rows(&mut self, layer: usize, rows: Range<usize>, out: &mut [f32]) {
        let (a, d) = (&self.acts[layer], &self.deltas[layer]);
        kernels::dense_scores(a, d, self.rows, rows, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rngs::stream;

    /// Records the growth scores of layer 0 it is offered; never edits.
    #[derive(Debug, Default)]
    struct ScoreRecorder {
        scores: Vec<f32>,
    }

    impl DstMethod for ScoreRecorder {
        fn name(&self) -> &'static str {
            "score-recorder"
        }
        fn wants_gradients(&self, _clock: &TrainingClock) -> bool {
            true
        }
        fn after_backward(&mut self, ctx: &mut sparse_core::DstContext<'_>) -> HookOutcome {
            let (n_in, n_out) = (ctx.layers[0].n_in(), ctx.layers[0].n_out());
            self.scores = vec![0.0; n_in * n_out];
            let source = ctx.gradients.as_mut().expect("asked for gradients");
            source.fill_rows(0, 0..n_in, &mut self.scores);
            HookOutcome::none()
        }
    }

    /// A 20-24-17-3 model (two sparse hidden layers, dropout 0.3) with `activation`.
    fn two_hidden(activation: Activation) -> SparseMlp {
        let init = SparseInit {
            densities: vec![0.5, 0.6, 1.0],
            dynamic: vec![true, true, false],
            init: WeightInit::HeUniform,
            fan: FanMode::Sparse,
        };
        let (mut t, mut w) = (stream(4, "t"), stream(4, "w"));
        SparseMlp::new(
            &[20, 24, 17, 3],
            &init,
            0.3,
            SgdParams::default(),
            &mut t,
            &mut w,
        )
        .unwrap()
        .with_activation(activation)
    }

    /// 18 rows of 20 features (some exact zeros) and their labels among 3 classes.
    fn eighteen_rows() -> (Vec<f32>, Vec<u32>) {
        let x = (0..18 * 20)
            .map(|v| ((v * 7) % 13) as f32 / 4.0 - 1.4)
            .collect();
        (x, (0..18).map(|r| r % 3).collect())
    }

    /// A mask observing 3 of every 7 cells of `x`, and `x` zero-filled at the others.
    fn some_missing(x: &[f32]) -> (Vec<bool>, Vec<f32>) {
        let observed: Vec<bool> = (0..x.len()).map(|i| (i * 5) % 7 < 3).collect();
        let zero_filled = x
            .iter()
            .zip(&observed)
            .map(|(&v, &o)| if o { v } else { 0.0 })
            .collect();
        (observed, zero_filled)
    }

    /// Step `step` of a one-epoch run of four steps.
    fn four_steps(step: usize) -> TrainingClock {
        TrainingClock {
            epoch: 0,
            epochs: 1,
            step,
            steps_per_epoch: 4,
        }
    }

    /// ReLU layers activated in place (no pre-activation or flag kept) train exactly as the
    /// stored pre-activation path: all-ReLU with slope 0 computes the same function through
    /// `pre` and `kept`. Steps with dropout and without, over two hidden layers, with the
    /// growth scores a method reads (from the activations and deltas).
    #[test]
    fn relu_in_place_trains_as_the_stored_pre_activation() {
        let (mut relu, mut stored) = (
            two_hidden(Activation::Relu),
            two_hidden(Activation::AllRelu { alpha: 0.0 }),
        );
        assert!(relu.activation().is_relu() && !stored.activation().is_relu());
        let (x, y) = eighteen_rows();
        let batch = Batch::dense(&x, 18);
        let (mut d1, mut d2) = (stream(4, "d"), stream(4, "d"));
        for step in 0..4 {
            let clock = four_steps(step);
            let (mut m1, mut m2) = (ScoreRecorder::default(), ScoreRecorder::default());
            let (mut t1, mut t2) = (stream(4, "topo"), stream(4, "topo"));
            let r1 = relu.train_step(&batch, &y, &mut m1, clock, &mut d1, &mut t1);
            let r2 = stored.train_step(&batch, &y, &mut m2, clock, &mut d2, &mut t2);
            assert_eq!(r1.probs, r2.probs, "step {step}");
            assert_eq!(m1.scores, m2.scores, "step {step}");
            for (a, b) in relu.layers().iter().zip(stored.layers()) {
                assert_eq!(a.weights.values(), b.weights.values(), "step {step}");
                assert_eq!(a.bias, b.bias, "step {step}");
            }
            assert_eq!(relu.predict_proba(&batch), stored.predict_proba(&batch));
        }
        // The in-place model holds no pre-activation or flags for its hidden layers.
        assert!(
            relu.ws.pre[..2].iter().all(|p| p.is_empty()) && relu.ws.kept.iter().all(Vec::is_empty)
        );
        assert!(relu.footprint_bytes() < stored.footprint_bytes());
    }

    /// Never asks for gradients, so the backward pass writes each hidden delta over its
    /// layer's output.
    #[derive(Debug)]
    struct Blind;

    impl DstMethod for Blind {
        fn name(&self) -> &'static str {
            "blind"
        }
        fn wants_gradients(&self, _clock: &TrainingClock) -> bool {
            false
        }
    }

    /// Deltas written over the outputs train exactly as deltas kept beside them (a method
    /// that reads gradients keeps them), for ReLU (the gate in the kernel's store) and
    /// All-ReLU (the separate derivative pass), with dropout; the model that never keeps
    /// them holds no buffer for its hidden deltas.
    #[test]
    fn deltas_over_the_outputs_train_as_deltas_kept_beside_them() {
        for activation in [Activation::Relu, Activation::AllRelu { alpha: 0.6 }] {
            let (mut over, mut beside) = (two_hidden(activation), two_hidden(activation));
            let (x, y) = eighteen_rows();
            let batch = Batch::dense(&x, 18);
            let (mut d1, mut d2) = (stream(5, "d"), stream(5, "d"));
            for step in 0..4 {
                let clock = four_steps(step);
                let (mut t1, mut t2) = (stream(5, "topo"), stream(5, "topo"));
                let mut reader = ScoreRecorder::default();
                let r1 = over.train_step(&batch, &y, &mut Blind, clock, &mut d1, &mut t1);
                let r2 = beside.train_step(&batch, &y, &mut reader, clock, &mut d2, &mut t2);
                assert_eq!(r1.probs, r2.probs, "{activation:?} step {step}");
                for (a, b) in over.layers().iter().zip(beside.layers()) {
                    let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(a.weights.values()), bits(b.weights.values()));
                    assert_eq!(bits(&a.bias), bits(&b.bias), "{activation:?} step {step}");
                }
            }
            assert!(over.ws.deltas[..2].iter().all(|d| d.is_empty()));
            assert!(beside.ws.deltas[..2].iter().all(|d| !d.is_empty()));
            assert!(over.footprint_bytes() < beside.footprint_bytes());
        }
    }

    /// Reads no gradient, so the model updates each layer within the backward pass.
    #[derive(Debug)]
    struct Gradientless;

    impl DstMethod for Gradientless {
        fn name(&self) -> &'static str {
            "gradientless"
        }
        fn reads_gradients(&self) -> bool {
            false
        }
    }

    /// Each layer updated within the backward pass, from one buffer, trains exactly as every
    /// layer updated after it from its own gradient (ReLU and All-ReLU, with dropout), and
    /// the model that does so keeps no gradient in any layer.
    #[test]
    fn updates_within_the_backward_pass_train_as_after_it() {
        let (x, y) = eighteen_rows();
        let (observed, zero_filled) = some_missing(&x);
        let absent = Batch {
            observed: Some(&observed),
            ..Batch::dense(&zero_filled, 18)
        };
        let activations = [Activation::Relu, Activation::AllRelu { alpha: 0.6 }];
        for (activation, batch) in activations
            .into_iter()
            .flat_map(|a| [(a, Batch::dense(&x, 18)), (a, absent)])
        {
            let (mut within, mut after) = (two_hidden(activation), two_hidden(activation));
            let (mut d1, mut d2) = (stream(6, "d"), stream(6, "d"));
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for step in 0..4 {
                let clock = four_steps(step);
                let (mut t1, mut t2) = (stream(6, "topo"), stream(6, "topo"));
                let r1 = within.train_step(&batch, &y, &mut Gradientless, clock, &mut d1, &mut t1);
                let r2 = after.train_step(&batch, &y, &mut Blind, clock, &mut d2, &mut t2);
                assert_eq!(
                    bits(&r1.probs),
                    bits(&r2.probs),
                    "{activation:?} step {step}"
                );
                for (a, b) in within.layers().iter().zip(after.layers()) {
                    assert_eq!(bits(a.weights.values()), bits(b.weights.values()));
                    assert_eq!(bits(&a.momentum), bits(&b.momentum));
                    assert_eq!(bits(&a.bias), bits(&b.bias), "{activation:?} step {step}");
                    assert_eq!(bits(&a.bias_momentum), bits(&b.bias_momentum));
                }
            }
            assert!(within.layers().iter().all(|l| l.grad.is_empty()));
            assert!(after.layers().iter().all(|l| l.grad.len() == l.nnz()));
            assert!(within.footprint_bytes() < after.footprint_bytes());
            // A later pass that keeps gradients fills them again.
            within.compute_gradients(&batch, &y);
            after.compute_gradients(&batch, &y);
            for (a, b) in within.layers().iter().zip(after.layers()) {
                assert_eq!(bits(&a.grad), bits(&b.grad), "{activation:?}");
            }
        }
    }

    /// A 20-24-17-19-3 ReLU model (three sparse hidden layers, dropout 0.3, the third
    /// narrower than the first) keeping or recomputing its first hidden output.
    fn three_hidden(memory: ActivationMemory) -> SparseMlp {
        let init = SparseInit {
            densities: vec![0.5, 0.6, 0.7, 1.0],
            dynamic: vec![true, true, true, false],
            init: WeightInit::HeUniform,
            fan: FanMode::Sparse,
        };
        let (mut t, mut w) = (stream(5, "t"), stream(5, "w"));
        let sizes = [20, 24, 17, 19, 3];
        let sgd = SgdParams::default();
        let mut m = SparseMlp::new(&sizes, &init, 0.3, sgd, &mut t, &mut w).unwrap();
        m.set_activation_memory(memory);
        m
    }

    /// Recomputing the first hidden output in the backward pass trains exactly as keeping it
    /// (dense and absent inputs; a method that reads gradients and one that does not), counts
    /// the first layer's product once more, and holds one hidden output less.
    #[test]
    fn recomputing_the_first_hidden_output_trains_as_keeping_it() {
        let (x, y) = eighteen_rows();
        let (observed, zero_filled) = some_missing(&x);
        let absent = Batch {
            observed: Some(&observed),
            ..Batch::dense(&zero_filled, 18)
        };
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let methods: [&dyn Fn() -> Box<dyn DstMethod>; 2] =
            [&|| Box::new(Blind), &|| Box::new(Gradientless)];
        for batch in [Batch::dense(&x, 18), absent] {
            for method in methods {
                let mut kept = three_hidden(ActivationMemory::Keep);
                let mut recomputed = three_hidden(ActivationMemory::Recompute);
                let (mut m1, mut m2) = (method(), method());
                let (mut d1, mut d2) = (stream(7, "d"), stream(7, "d"));
                for step in 0..4 {
                    let clock = four_steps(step);
                    let (mut t1, mut t2) = (stream(7, "topo"), stream(7, "topo"));
                    let r1 = kept.train_step(&batch, &y, &mut *m1, clock, &mut d1, &mut t1);
                    let r2 = recomputed.train_step(&batch, &y, &mut *m2, clock, &mut d2, &mut t2);
                    let name = m1.name();
                    assert_eq!(bits(&r1.probs), bits(&r2.probs), "{name} step {step}");
                    let first = match batch.observed {
                        Some(_) => recomputed.ws.sparse_input_macs,
                        None => (18 * recomputed.layers()[0].nnz()) as u64,
                    };
                    assert_eq!(r2.flops, r1.flops + first, "{name} step {step}");
                    for (a, b) in kept.layers().iter().zip(recomputed.layers()) {
                        assert_eq!(bits(a.weights.values()), bits(b.weights.values()));
                        assert_eq!(bits(&a.momentum), bits(&b.momentum), "{name}");
                        assert_eq!(bits(&a.bias), bits(&b.bias), "{name} step {step}");
                        assert_eq!(bits(&a.bias_momentum), bits(&b.bias_momentum));
                    }
                }
                let hidden = 18 * 19 * size_of::<f32>();
                assert!(recomputed.footprint_bytes() + hidden <= kept.footprint_bytes());
                // Prediction afterwards sees the same network.
                assert_eq!(
                    bits(&kept.predict_proba(&batch)),
                    bits(&recomputed.predict_proba(&batch))
                );
            }
        }
    }

    /// `Auto` recomputes only where the first hidden output reaches
    /// [`RECOMPUTE_ABOVE_BYTES`], and only a ReLU network with three hidden layers can.
    #[test]
    fn auto_recomputes_only_large_first_hidden_outputs() {
        let m = three_hidden(ActivationMemory::Auto);
        let rows_at = RECOMPUTE_ABOVE_BYTES.div_ceil(24 * size_of::<f32>());
        assert!(!m.recomputes_first_hidden(rows_at - 1));
        assert!(m.recomputes_first_hidden(rows_at));
        let all_relu = three_hidden(ActivationMemory::Recompute)
            .with_activation(Activation::AllRelu { alpha: 0.6 });
        assert!(!all_relu.recomputes_first_hidden(rows_at));
        let mut two = two_hidden(Activation::Relu);
        two.set_activation_memory(ActivationMemory::Recompute);
        assert!(!two.recomputes_first_hidden(rows_at));
        assert!(!three_hidden(ActivationMemory::Keep).recomputes_first_hidden(rows_at));
    }

    /// A growth batch changes the scores the method sees, to those of the growth examples,
    /// and nothing else: the weights after the step equal those of a plain step.
    #[test]
    fn growth_batch_changes_only_the_scores() {
        let init = SparseInit {
            densities: vec![0.5, 1.0],
            dynamic: vec![true, false],
            init: WeightInit::HeUniform,
            fan: FanMode::Sparse,
        };
        let mlp = SparseMlp::new(
            &[5, 8, 3],
            &init,
            0.2,
            SgdParams::default(),
            &mut stream(2, "t"),
            &mut stream(2, "w"),
        )
        .unwrap();
        let xa: Vec<f32> = (0..4 * 5)
            .map(|v| ((v * 5) % 7) as f32 / 3.0 - 1.0)
            .collect();
        let xg: Vec<f32> = (0..3 * 5)
            .map(|v| ((v * 3) % 11) as f32 / 4.0 - 1.2)
            .collect();
        let (ya, yg) = ([0u32, 1, 2, 1], [2u32, 0, 1]);
        let clock = TrainingClock {
            epoch: 0,
            epochs: 1,
            step: 0,
            steps_per_epoch: 1,
        };
        let step = |growth: Option<GrowthBatch>| {
            let (mut m, mut method) = (mlp.clone(), ScoreRecorder::default());
            m.train_step_scored(
                &Batch::dense(&xa, 4),
                &ya,
                &mut method,
                clock,
                StepRngs {
                    dropout: &mut stream(2, "d"),
                    topology: &mut stream(2, "topo"),
                },
                growth,
            );
            (m, method.scores)
        };
        let (plain, plain_scores) = step(None);
        let g = GrowthBatch {
            batch: Batch::dense(&xg, 3),
            labels: &yg,
        };
        let (scored, scores) = step(Some(g));
        for (a, b) in plain.layers.iter().zip(&scored.layers) {
            assert_eq!(a.weights.values(), b.weights.values());
            assert_eq!(a.bias, b.bias);
        }
        // The scores are the growth batch's evaluation-mode |Xᵀ dZ|.
        let mut probe = mlp.clone();
        probe.compute_gradients(&Batch::dense(&xg, 3), &yg);
        let mut want = vec![0.0; scores.len()];
        BatchGradients::of(&probe.ws).fill_rows(0, 0..5, &mut want);
        assert_eq!(scores, want);
        assert_ne!(scores, plain_scores);
    }

    /// The streamed dense-gradient scores equal a brute-force `|Xᵀ dZ|`, and at the stored
    /// connections they equal the magnitude of the SDDMM gradient.
    #[test]
    fn streamed_gradient_scores_match_brute_force() {
        let init = SparseInit {
            densities: vec![0.5, 0.4, 1.0],
            dynamic: vec![true, true, false],
            init: WeightInit::HeUniform,
            fan: FanMode::Sparse,
        };
        let sgd = SgdParams::default();
        let mut mlp = SparseMlp::new(
            &[6, 9, 7, 3],
            &init,
            0.0,
            sgd,
            &mut stream(1, "t"),
            &mut stream(1, "w"),
        )
        .unwrap();
        let x: Vec<f32> = (0..5 * 6)
            .map(|v| ((v * 7) % 11) as f32 / 5.0 - 1.0)
            .collect();
        mlp.compute_gradients(&Batch::dense(&x, 5), &[0, 1, 2, 1, 0]);
        for l in 0..3 {
            let (n_in, n_out) = (mlp.layers[l].n_in(), mlp.layers[l].n_out());
            let mut got = vec![0.0f32; n_in * n_out];
            // Two blocks of rows, as a streaming caller would ask.
            let half = n_in / 2;
            let mut src = BatchGradients::of(&mlp.ws);
            src.fill_rows(l, 0..half, &mut got[..half * n_out]);
            src.fill_rows(l, half..n_in, &mut got[half * n_out..]);
            let (a, d) = (&mlp.ws.acts[l], &mlp.ws.deltas[l]);
            for i in 0..n_in {
                for j in 0..n_out {
                    let want: f32 = (0..5).map(|b| a[i * 5 + b] * d[j * 5 + b]).sum();
                    assert!((got[i * n_out + j] - want.abs()).abs() < 1e-6);
                }
            }
            let w = &mlp.layers[l].weights;
            let rows = w.row_indices();
            for (k, (&i, &j)) in rows.iter().zip(w.col_idx()).enumerate() {
                let p = i as usize * n_out + j as usize;
                assert!((got[p] - mlp.layers[l].grad[k].abs()).abs() < 1e-6);
            }
        }
    }
}
