//! The kit's short run: a toy problem, the small sparse MLP trained on it, and the observer
//! that checks the layers after every epoch and keeps a checkpoint.

use crate::fixtures::check_layer;
use crate::Property;
use models::rngs::stream;
use models::train::TrainObserver;
use models::{
    train_from, Batch, Classifier, DenseMlp, EpochRecord, Examples, LoopState, RngPositions,
    RunData, RunRngs, SgdParams, SparseInit, SparseMlp, SparseNetwork, TrainOptions, TrainOutcome,
};
use rand::Rng;
use sparse_core::init::connection_count;
use sparse_core::{DstMethod, FanMode, WeightInit};
use std::panic::AssertUnwindSafe;

/// Widths of the network, input first: two hidden layers, so that methods that move
/// connections between layers (SNFS, DSR) have somewhere to move them.
const SIZES: [usize; 4] = [8, 24, 16, 3];
/// Target densities of the three weight layers (the output layer dense, as in the studies).
const TARGETS: [f64; 3] = [0.4, 0.5, 1.0];
const ROWS: usize = 60;
const EPOCHS: usize = 6;
const BATCH: usize = 8;
const SEED: u64 = 7;
const DROPOUT: f32 = 0.2;

/// One run's settings; every check trains this run.
pub(crate) struct ShortRun {
    x: Vec<f32>,
    y: Vec<u32>,
    ids: Vec<usize>,
    /// Epochs after which a checkpoint is kept for the resume check.
    pub(crate) checkpoint_after: usize,
}

/// A checkpoint: the loop's state, the model's and the random streams' positions.
pub(crate) type Saved = (LoopState, Vec<u8>, RngPositions);

impl Default for ShortRun {
    fn default() -> Self {
        let (x, y) = toy_data(ROWS, SIZES[0], SIZES[3]);
        ShortRun {
            x,
            y,
            ids: (100..100 + ROWS).collect(),
            checkpoint_after: 3,
        }
    }
}

fn sgd() -> SgdParams {
    SgdParams {
        learning_rate: 0.05,
        momentum: 0.9,
        weight_decay: 1e-4,
    }
}

fn options() -> TrainOptions {
    TrainOptions {
        epochs: EPOCHS,
        batch_size: BATCH,
        track_topology: true,
    }
}

/// A small problem with a little structure: `n` rows of `d` features, labels `0..k`.
fn toy_data(n: usize, d: usize, k: usize) -> (Vec<f32>, Vec<u32>) {
    let mut rng = stream(SEED, "toy");
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for r in 0..n {
        let c = r % k;
        for j in 0..d {
            let centre = if j % k == c { 1.0 } else { -0.5 };
            x.push(centre + rng.random_range(-0.7f32..0.7));
        }
        y.push(c as u32);
    }
    (x, y)
}

impl ShortRun {
    /// The network a run of `method` starts from, built as the runner builds one: the
    /// method's initial densities, the run seed's topology and weight streams.
    pub(crate) fn sparse_network(mut method: Box<dyn DstMethod>) -> SparseNetwork {
        let densities = method.initial_densities(&TARGETS);
        // As the runner builds it: the dense output layer static, the hidden layers dynamic.
        let dynamic = (0..densities.len())
            .map(|l| l + 1 < densities.len())
            .collect();
        let init = SparseInit {
            dynamic,
            densities,
            init: WeightInit::HeUniform,
            fan: FanMode::Sparse,
        };
        let mlp = SparseMlp::new(
            &SIZES,
            &init,
            DROPOUT,
            sgd(),
            &mut stream(SEED, "topology-init"),
            &mut stream(SEED, "weight-init"),
        )
        .expect("the kit's network is valid");
        SparseNetwork { mlp, method }
    }

    /// The dense MLP of the same widths, its first weights those of a sparse network that
    /// starts dense (as the runner draws a dense run's weights).
    pub(crate) fn dense_network() -> DenseMlp {
        let params = Self::sparse_network(Box::new(Dense)).mlp.to_dense_params();
        DenseMlp::from_params(&params, DROPOUT, sgd())
    }

    /// Connections the target densities allow.
    pub(crate) fn target_budget(&self) -> usize {
        SIZES
            .windows(2)
            .zip(TARGETS)
            .map(|(w, d)| connection_count(w[0], w[1], d))
            .sum()
    }

    fn data(&self) -> RunData<'_> {
        let set = Examples {
            x: &self.x,
            observed: None,
            labels: &self.y,
            n_features: SIZES[0],
        };
        RunData {
            train: set,
            ids: &self.ids,
            test: set,
            validation: Some(set),
        }
    }

    /// The model's class probabilities on the kit's rows.
    pub(crate) fn outputs(&self, model: &mut dyn Classifier) -> Vec<f32> {
        model.predict_proba(&Batch::dense(&self.x, ROWS))
    }

    /// Trains `model` from the start; timings zeroed so runs compare. A panic is caught and
    /// returned as its message.
    pub(crate) fn train(
        &self,
        model: &mut dyn Classifier,
        observer: &mut Recorder,
    ) -> Result<TrainOutcome, String> {
        self.train_from(model, observer, RunRngs::from_seed(SEED), None)
    }

    /// Restores `saved` into a freshly built `model` and fresh streams, and trains on.
    pub(crate) fn resume(
        &self,
        model: &mut dyn Classifier,
        (state, model_state, positions): Saved,
        observer: &mut Recorder,
    ) -> Result<TrainOutcome, String> {
        let restore = |e: models::ModelError| format!("restoring the checkpoint failed: {e}");
        model.load_state(&model_state).map_err(restore)?;
        let mut rngs = RunRngs::from_seed(SEED);
        rngs.restore(&positions).map_err(restore)?;
        self.train_from(model, observer, rngs, Some(state))
    }

    fn train_from(
        &self,
        model: &mut dyn Classifier,
        observer: &mut Recorder,
        mut rngs: RunRngs,
        state: Option<LoopState>,
    ) -> Result<TrainOutcome, String> {
        let data = self.data();
        let run =
            AssertUnwindSafe(|| train_from(model, &data, options(), &mut rngs, observer, state));
        std::panic::catch_unwind(run)
            .map(without_time)
            .map_err(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("a panic without a message");
                format!("training panicked: {message}")
            })
    }
}

/// A method that starts every layer dense and never edits: how the dense model's first
/// weights are drawn.
#[derive(Debug)]
struct Dense;

impl DstMethod for Dense {
    fn name(&self) -> &'static str {
        "dense"
    }
    fn initial_densities(&mut self, targets: &[f64]) -> Vec<f64> {
        vec![1.0; targets.len()]
    }
}

fn without_time(mut o: TrainOutcome) -> TrainOutcome {
    o.train_seconds = 0.0;
    o.epochs.iter_mut().for_each(|e: &mut EpochRecord| {
        e.seconds = 0.0;
        e.topology_seconds = 0.0;
    });
    o
}

/// Records every batch's outputs (as bits), checks the layers after every epoch when
/// watching, and keeps the checkpoint taken after `keep_after` epochs.
pub(crate) struct Recorder {
    /// Connections at the start, when the layers are watched.
    watch: Option<usize>,
    keep_after: Option<usize>,
    /// The checkpoint kept.
    pub(crate) saved: Option<Saved>,
    /// `(epoch, row ids, output bits)` of every batch.
    pub(crate) batches: Vec<(usize, Vec<usize>, Vec<u32>)>,
    /// The first property a layer failed.
    pub(crate) violation: Option<(Property, String)>,
}

impl Recorder {
    fn new(watch: Option<usize>, keep_after: Option<usize>) -> Self {
        Recorder {
            watch,
            keep_after,
            saved: None,
            batches: Vec::new(),
            violation: None,
        }
    }

    /// Records batches only.
    pub(crate) fn quiet() -> Self {
        Self::new(None, None)
    }

    /// Records batches and checks the layers of a network that started with `initial`
    /// connections.
    pub(crate) fn watching(initial: usize) -> Self {
        Self::new(Some(initial), None)
    }

    /// Records batches and keeps the checkpoint taken after `epochs` epochs.
    pub(crate) fn saving_after(epochs: usize) -> Self {
        Self::new(None, Some(epochs))
    }

    fn check(
        &self,
        epoch: usize,
        model: &dyn Classifier,
        initial: usize,
    ) -> Result<(), (Property, String)> {
        let Some(layers) = model.sparse_layers() else {
            return Ok(());
        };
        for (l, layer) in layers.iter().enumerate() {
            let (shape, built) = ((layer.n_in(), layer.n_out()), (SIZES[l], SIZES[l + 1]));
            if shape != built {
                let detail = format!("epoch {epoch}, layer {l}: shape {shape:?}, built {built:?}");
                return Err((Property::WellFormedLayers, detail));
            }
            check_layer(layer).map_err(|e| {
                (
                    Property::WellFormedLayers,
                    format!("epoch {epoch}, layer {l}: {e}"),
                )
            })?;
        }
        let now: usize = layers.iter().map(|l| l.nnz()).sum();
        if now > initial {
            let detail = format!(
                "epoch {epoch}: {now} connections, more than the {initial} it started with"
            );
            return Err((Property::ConnectionBudget, detail));
        }
        Ok(())
    }
}

impl TrainObserver for Recorder {
    fn on_batch(&mut self, epoch: usize, ids: &[usize], _labels: &[u32], probs: &[f32]) {
        let bits = probs.iter().map(|p| p.to_bits()).collect();
        self.batches.push((epoch, ids.to_vec(), bits));
    }

    fn after_epoch(&mut self, epoch: usize, model: &mut dyn Classifier) {
        if let (Some(initial), None) = (self.watch, &self.violation) {
            self.violation = self.check(epoch, model, initial).err();
        }
    }

    fn checkpoint_due(&mut self, _epochs_done: usize) -> bool {
        self.keep_after.is_some()
    }

    fn on_checkpoint(&mut self, state: &LoopState, model: &dyn Classifier, rngs: &RunRngs) {
        if Some(state.epochs_done) == self.keep_after {
            self.saved = Some((state.clone(), model.save_state(), rngs.positions()));
        }
    }
}
