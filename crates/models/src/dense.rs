//! Dense MLP baseline on burn's `flex` CPU backend with autodiff.
//!
//! This is the dense counterpart of the truly sparse MLP: same architecture (ReLU hidden layers,
//! softmax cross-entropy output), same inverted-dropout convention, and the same optimizer
//! (SGD with momentum, dampening 0, not Nesterov, coupled L2 weight decay `g + λ·w` applied to
//! weights and biases alike). It can be started from explicit parameters so that a test can put
//! it and the sparse MLP (with a full mask) on the same starting point and compare trajectories.
//!
//! Dropout masks are supplied by the caller, which draws them from its own seeded RNG; burn's
//! internal RNG is never used, so a run is fully determined by the caller's seed.
//!
//! All tensors are row-major `f32`: inputs `[batch][n_in]`, probabilities `[batch][n_classes]`,
//! weights `[n_in][n_out]` (burn's `Linear` layout: `y = x·W + b`).

use crate::activation::Activation;
use crate::error::ModelError;
use burn::module::{Module, Param, ParamId};
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use sparse_core::state::{decode, encode};

pub use crate::optim::SgdParams;

/// Parameters of one fully connected layer, row-major `[n_in][n_out]` (`weights[i * n_out + j]`
/// connects input `i` to output `j`) plus a bias of length `n_out`.
///
/// Used both to initialise a [`DenseMlp`] from given values (so it can share a starting point with
/// the sparse MLP) and to read its current values back.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerParams {
    /// Number of inputs (fan-in) of the layer.
    pub n_in: usize,
    /// Number of outputs (fan-out) of the layer.
    pub n_out: usize,
    /// Row-major weights, length `n_in * n_out`; `weights[i * n_out + j]` is input `i` → output `j`.
    pub weights: Vec<f32>,
    /// Bias, length `n_out`.
    pub bias: Vec<f32>,
}

/// `A B` for row-major `a` (`m x k`) and `b` (`k x n`) on burn's flex backend, without
/// autodiff: the dense GEMM the benchmarks compare the sparse kernels against.
pub fn burn_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let device = Device::flex();
    let ta = Tensor::<2>::from_data(TensorData::new(a.to_vec(), [m, k]), &device);
    let tb = Tensor::<2>::from_data(TensorData::new(b.to_vec(), [k, n]), &device);
    ta.matmul(tb)
        .into_data()
        .try_into_vec::<f32>()
        .expect("flex tensors hold f32")
}

/// The burn module: a stack of fully connected layers.
#[derive(Module, Debug)]
struct Net {
    layers: Vec<Linear>,
}

impl Net {
    /// Logits of the network; `masks` (possibly empty) multiply the hidden activations after
    /// the activation, whose negative-side slope for hidden layer `k` is `slopes[k]`.
    fn forward(&self, x: Tensor<2>, masks: &[Tensor<2>], activation: Activation) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (k, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if k < last {
                let slope = activation.negative_slope(k);
                h = if slope == 0.0 {
                    relu(h)
                } else {
                    h.clone().clamp_min(0.0) + h.clamp_max(0.0).mul_scalar(slope)
                };
                if let Some(mask) = masks.get(k) {
                    h = h * mask.clone();
                }
            }
        }
        h
    }
}

/// Dense MLP trained with burn's autodiff on the `flex` CPU backend.
///
/// ReLU hidden layers, softmax cross-entropy output (mean over the batch), caller-supplied
/// inverted-dropout masks on hidden activations, and burn's SGD configured as momentum with
/// dampening 0 (not Nesterov) plus coupled L2 weight decay (`grad + λ·w`). This is the dense
/// baseline against which the sparse MLP is compared and cross-checked.
pub struct DenseMlp {
    net: Net,
    optim: ModuleOptimizer,
    device: Device,
    dropout: f32,
    sgd: SgdParams,
    sizes: Vec<usize>,
    activation: Activation,
    /// Per class, 0 where the class is scored and [`MASKED_LOGIT`] where it is not (task-
    /// incremental learning); `None`: every class.
    logit_offsets: Option<Vec<f32>>,
    /// Group (task) of each class for training steps; `None`: the active classes.
    class_groups: Option<Vec<u32>>,
}

/// Added to the logit of an inactive class: its softmax output underflows to exactly 0, so its
/// gradient is 0, while staying finite (an infinite logit would make `0 · log p` NaN).
const MASKED_LOGIT: f32 = -1.0e30;

impl std::fmt::Debug for DenseMlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DenseMlp")
            .field("sizes", &self.sizes)
            .field("dropout", &self.dropout)
            .field("sgd", &self.sgd)
            .finish_non_exhaustive()
    }
}

/// The saved state of a [`DenseMlp`]: parameters, the ids burn's optimizer keys their
/// momentum by, and the optimizer's record.
#[derive(Serialize, Deserialize)]
struct DenseState {
    sizes: Vec<usize>,
    /// Per layer: row-major weights, bias.
    params: Vec<(Vec<f32>, Vec<f32>)>,
    /// Per layer: the weight's and the bias's parameter id.
    ids: Vec<(u64, u64)>,
    /// `ModuleOptimizer::into_bytes` (burn's own format; momentum kept exactly).
    #[serde(with = "sparse_core::state::bytes")]
    optimizer: Vec<u8>,
}

/// Converts a burn tensor to a host `Vec<f32>`.
fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec_as::<f32>()
        .expect("float tensor converts to f32")
}

impl DenseMlp {
    /// Builds the network from explicit initial parameters, one [`LayerParams`] per layer, so that
    /// tests and experiments can start it from the same weights as the sparse MLP.
    ///
    /// `dropout` is the drop probability `p` the caller uses for its masks (recorded for
    /// inspection only; masks are passed to [`train_batch`](Self::train_batch)).
    ///
    /// # Panics
    /// If `layers` is empty, consecutive layers' sizes do not chain, a weight/bias vector has the
    /// wrong length, or `dropout` is outside `[0, 1)`.
    pub fn from_params(layers: &[LayerParams], dropout: f32, sgd: SgdParams) -> Self {
        assert!(!layers.is_empty(), "DenseMlp needs at least one layer");
        assert!(
            (0.0..1.0).contains(&dropout),
            "dropout must be in [0, 1), got {dropout}"
        );
        let device = Device::flex().autodiff();
        let mut sizes = vec![layers[0].n_in];
        let mut linears = Vec::with_capacity(layers.len());
        for (k, lp) in layers.iter().enumerate() {
            assert_eq!(
                lp.n_in, sizes[k],
                "layer {k}: n_in does not match previous n_out"
            );
            assert_eq!(
                lp.weights.len(),
                lp.n_in * lp.n_out,
                "layer {k}: weights length"
            );
            assert_eq!(lp.bias.len(), lp.n_out, "layer {k}: bias length");
            sizes.push(lp.n_out);
            let w = Tensor::<2>::from_data(
                TensorData::new(lp.weights.clone(), [lp.n_in, lp.n_out]),
                &device,
            );
            let b = Tensor::<1>::from_data(TensorData::new(lp.bias.clone(), [lp.n_out]), &device);
            linears.push(Linear {
                weight: Param::from_tensor(w),
                bias: Some(Param::from_tensor(b)),
            });
        }

        let mut config = SgdConfig::new();
        if sgd.momentum > 0.0 {
            config = config.with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(f64::from(sgd.momentum))
                    .with_dampening(0.0)
                    .with_nesterov(false),
            ));
        }
        if sgd.weight_decay > 0.0 {
            config = config.with_weight_decay(Some(WeightDecayConfig::new(sgd.weight_decay)));
        }

        Self {
            net: Net { layers: linears },
            optim: config.init(),
            device,
            dropout,
            sgd,
            sizes,
            activation: Activation::Relu,
            logit_offsets: None,
            class_groups: None,
        }
    }

    /// Scores only `classes` from now on, in training and prediction (van de Ven's
    /// `allowed_classes` of task-incremental learning): the other logits are pushed to
    /// `MASKED_LOGIT` before the softmax, so their outputs and gradients are 0. `None`
    /// scores every class again.
    ///
    /// # Panics
    /// If a class is out of range.
    pub fn set_active_classes(&mut self, classes: Option<&[u32]>) {
        let k = self.n_classes();
        self.logit_offsets = classes.map(|cs| {
            let mut offsets = vec![MASKED_LOGIT; k];
            for &c in cs {
                assert!((c as usize) < k, "class {c} out of range 0..{k}");
                offsets[c as usize] = 0.0;
            }
            offsets
        });
    }

    /// In training steps, scores each example over the classes of its own label's group only
    /// (`groups[c]` the group, or task, of class `c`), as
    /// [`SparseMlp::set_class_groups`](crate::SparseMlp::set_class_groups) does; prediction
    /// keeps the active classes. `None`: training scores the active classes too.
    ///
    /// # Panics
    /// If `groups` does not name one group per class.
    pub fn set_class_groups(&mut self, groups: Option<&[u32]>) {
        if let Some(g) = groups {
            assert_eq!(g.len(), self.n_classes(), "one group per class");
        }
        self.class_groups = groups.map(<[u32]>::to_vec);
    }

    /// `logits` with the classes not scored masked: per row by its label's group when
    /// `labels` are given (training) and groups are set, else the inactive classes (unchanged
    /// when every class is active).
    fn mask_logits(
        &self,
        logits: Tensor<2>,
        batch: usize,
        labels: Option<&[u32]>,
        device: &Device,
    ) -> Tensor<2> {
        let k = self.n_classes();
        let offsets: Vec<f32> = match (&self.class_groups, labels, &self.logit_offsets) {
            (Some(groups), Some(labels), _) => labels
                .iter()
                .flat_map(|&y| {
                    let g = groups[y as usize];
                    groups
                        .iter()
                        .map(move |&h| if h == g { 0.0 } else { MASKED_LOGIT })
                })
                .collect(),
            (_, _, Some(offsets)) => (0..batch).flat_map(|_| offsets.iter().copied()).collect(),
            _ => return logits,
        };
        logits + Tensor::<2>::from_data(TensorData::new(offsets, [batch, k]), device)
    }

    /// The network with `activation` in its hidden layers (ReLU by default).
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Layer widths `[n_in, hidden..., n_classes]`.
    pub fn sizes(&self) -> Vec<usize> {
        self.sizes.clone()
    }

    /// Dropout probability this model was configured with (masks themselves come from the caller).
    pub fn dropout(&self) -> f32 {
        self.dropout
    }

    /// SGD hyper-parameters this model was configured with.
    pub fn sgd(&self) -> SgdParams {
        self.sgd
    }

    fn n_classes(&self) -> usize {
        *self.sizes.last().expect("sizes is non-empty")
    }

    fn input(&self, x: &[f32], batch: usize, device: &Device) -> Tensor<2> {
        let n_in = self.sizes[0];
        assert_eq!(
            x.len(),
            batch * n_in,
            "x must be [batch][n_in] = [{batch}][{n_in}]"
        );
        Tensor::<2>::from_data(TensorData::new(x.to_vec(), [batch, n_in]), device)
    }

    /// Performs one SGD step on a batch and returns the softmax probabilities of this training
    /// forward pass (computed before the step, with dropout applied), `[batch][n_classes]`, so the
    /// caller can compute the loss and per-example correctness without a second forward pass.
    ///
    /// `x` is row-major `[batch][n_in]`; `labels` are class indices in `0..n_classes`.
    /// `dropout_masks` is either empty (no dropout) or holds one mask per hidden layer, each
    /// `[batch][width]` with entries `0` or `1/(1-p)` (inverted dropout), multiplied into the
    /// activation after ReLU. The loss is the batch mean of the cross-entropy.
    ///
    /// # Panics
    /// On inconsistent lengths, a label out of range, or a mask count other than 0 or the number
    /// of hidden layers.
    pub fn train_batch(
        &mut self,
        x: &[f32],
        batch: usize,
        labels: &[u32],
        dropout_masks: &[Vec<f32>],
    ) -> Vec<f32> {
        assert!(batch > 0, "empty batch");
        assert_eq!(labels.len(), batch, "labels must have length batch");
        let n_hidden = self.sizes.len() - 2;
        assert!(
            dropout_masks.is_empty() || dropout_masks.len() == n_hidden,
            "expected 0 or {n_hidden} dropout masks, got {}",
            dropout_masks.len()
        );
        let n_classes = self.n_classes();
        let device = self.device.clone();
        let xt = self.input(x, batch, &device);

        let masks: Vec<Tensor<2>> = dropout_masks
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let width = self.sizes[k + 1];
                assert_eq!(
                    m.len(),
                    batch * width,
                    "dropout mask {k} must be [batch][{width}]"
                );
                Tensor::<2>::from_data(TensorData::new(m.clone(), [batch, width]), &device)
            })
            .collect();

        let mut one_hot = vec![0.0f32; batch * n_classes];
        for (r, &label) in labels.iter().enumerate() {
            let c = label as usize;
            assert!(c < n_classes, "label {c} out of range 0..{n_classes}");
            one_hot[r * n_classes + c] = 1.0;
        }
        let targets = Tensor::<2>::from_data(TensorData::new(one_hot, [batch, n_classes]), &device);

        let logits = self.net.forward(xt, &masks, self.activation);
        let logits = self.mask_logits(logits, batch, Some(labels), &device);
        let log_probs = log_softmax(logits, 1);
        let probs = to_vec(log_probs.clone().inner().exp());
        let loss = (log_probs * targets).sum().neg().div_scalar(batch as f32);

        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        // `step` consumes the module; park an empty (parameter-free) network meanwhile.
        let net = std::mem::replace(&mut self.net, Net { layers: Vec::new() });
        self.net = self
            .optim
            .step(f64::from(self.sgd.learning_rate), net, grads);
        probs
    }

    /// Softmax probabilities in evaluation mode (no dropout, no gradient tape),
    /// `[batch][n_classes]`. `x` is row-major `[batch][n_in]`.
    pub fn predict_proba(&self, x: &[f32], batch: usize) -> Vec<f32> {
        let net = self.net.valid();
        let device = self.device.clone().inner();
        let xt = self.input(x, batch, &device);
        let logits = self.mask_logits(net.forward(xt, &[], self.activation), batch, None, &device);
        to_vec(softmax(logits, 1))
    }

    /// The complete training state (weights, biases, momentum) as bytes, for a checkpoint.
    pub fn to_state(&self) -> Vec<u8> {
        let optimizer = self
            .optim
            .into_bytes()
            .expect("burn writes an optimizer record to memory")
            .to_vec();
        let ids = self
            .net
            .layers
            .iter()
            .map(|l| {
                let bias = l.bias.as_ref().expect("every layer has a bias");
                (l.weight.id.val(), bias.id.val())
            })
            .collect();
        encode(&DenseState {
            sizes: self.sizes.clone(),
            params: self
                .params()
                .into_iter()
                .map(|p| (p.weights, p.bias))
                .collect(),
            ids,
            optimizer,
        })
    }

    /// Restores a state saved by [`DenseMlp::to_state`] into a model of the same sizes and
    /// hyper-parameters. The parameters get back their saved ids, so the restored optimizer
    /// record finds the momentum of each.
    pub fn restore_state(&mut self, state: &[u8]) -> Result<(), ModelError> {
        let s: DenseState = decode(state, "dense model state")?;
        if s.sizes != self.sizes || s.params.len() != self.sizes.len() - 1 {
            return Err(ModelError::State(format!(
                "layer sizes {:?}, the model's are {:?}",
                s.sizes, self.sizes
            )));
        }
        let mut layers = Vec::with_capacity(s.params.len());
        for (k, ((w, b), (w_id, b_id))) in s.params.into_iter().zip(s.ids).enumerate() {
            let (n_in, n_out) = (self.sizes[k], self.sizes[k + 1]);
            if w.len() != n_in * n_out || b.len() != n_out {
                return Err(ModelError::State(format!("layer {k}: parameter lengths")));
            }
            let mut weight = Param::from_tensor(Tensor::<2>::from_data(
                TensorData::new(w, [n_in, n_out]),
                &self.device,
            ));
            weight.id = ParamId::from(w_id);
            let mut bias = Param::from_tensor(Tensor::<1>::from_data(
                TensorData::new(b, [n_out]),
                &self.device,
            ));
            bias.id = ParamId::from(b_id);
            layers.push(Linear {
                weight,
                bias: Some(bias),
            });
        }
        let optim = self
            .optim
            .clone()
            .from_bytes(Bytes::from_bytes_vec(s.optimizer))
            .map_err(|e| ModelError::State(format!("optimizer record: {e:?}")))?;
        self.net = Net { layers };
        self.optim = optim;
        Ok(())
    }

    /// Current parameters of every layer, in the [`LayerParams`] layout (for saving, inspection and
    /// the dense/sparse cross-check).
    pub fn params(&self) -> Vec<LayerParams> {
        self.net
            .layers
            .iter()
            .map(|layer| {
                let [n_in, n_out] = layer.weight.val().dims();
                let bias = match &layer.bias {
                    Some(b) => to_vec(b.val().inner()),
                    None => vec![0.0; n_out],
                };
                LayerParams {
                    n_in,
                    n_out,
                    weights: to_vec(layer.weight.val().inner()),
                    bias,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive f64 reference MLP: forward, mean softmax cross-entropy, backprop through ReLU.
    struct Reference {
        layers: Vec<(usize, usize, Vec<f64>, Vec<f64>)>,
    }

    impl Reference {
        fn new(layers: &[LayerParams]) -> Self {
            let layers = layers
                .iter()
                .map(|l| {
                    (
                        l.n_in,
                        l.n_out,
                        l.weights.iter().map(|&v| f64::from(v)).collect(),
                        l.bias.iter().map(|&v| f64::from(v)).collect(),
                    )
                })
                .collect();
            Self { layers }
        }

        /// Returns (probabilities, gradients per layer as (dW, db)).
        // The test reference's one (probabilities, per-layer (dW, db)) tuple, read once.
        #[allow(clippy::type_complexity)]
        fn forward_backward(
            &self,
            x: &[f32],
            batch: usize,
            labels: &[u32],
            masks: &[Vec<f32>],
        ) -> (Vec<f64>, Vec<(Vec<f64>, Vec<f64>)>) {
            let nl = self.layers.len();
            // acts[k] = input to layer k (after ReLU and mask), per row.
            let mut acts: Vec<Vec<f64>> = vec![x.iter().map(|&v| f64::from(v)).collect()];
            let mut pre: Vec<Vec<f64>> = Vec::new();
            for (k, (n_in, n_out, w, b)) in self.layers.iter().enumerate() {
                let a = &acts[k];
                let mut z = vec![0.0; batch * n_out];
                for r in 0..batch {
                    for j in 0..*n_out {
                        let mut s = b[j];
                        for i in 0..*n_in {
                            s += a[r * n_in + i] * w[i * n_out + j];
                        }
                        z[r * n_out + j] = s;
                    }
                }
                pre.push(z.clone());
                if k + 1 < nl {
                    let mut h: Vec<f64> = z.iter().map(|&v| v.max(0.0)).collect();
                    if let Some(m) = masks.get(k) {
                        for (hv, &mv) in h.iter_mut().zip(m) {
                            *hv *= f64::from(mv);
                        }
                    }
                    acts.push(h);
                }
            }
            let n_classes = self.layers[nl - 1].1;
            let logits = &pre[nl - 1];
            let mut probs = vec![0.0; batch * n_classes];
            for r in 0..batch {
                let row = &logits[r * n_classes..(r + 1) * n_classes];
                let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let den: f64 = row.iter().map(|v| (v - mx).exp()).sum();
                for c in 0..n_classes {
                    probs[r * n_classes + c] = (row[c] - mx).exp() / den;
                }
            }
            // delta = dL/dz for the output layer: (p - y) / batch.
            let mut delta: Vec<f64> = probs.clone();
            for (r, &l) in labels.iter().enumerate() {
                delta[r * n_classes + l as usize] -= 1.0;
            }
            for d in delta.iter_mut() {
                *d /= batch as f64;
            }
            let mut grads = vec![(Vec::new(), Vec::new()); nl];
            for k in (0..nl).rev() {
                let (n_in, n_out, w, _) = &self.layers[k];
                let a = &acts[k];
                let mut dw = vec![0.0; n_in * n_out];
                let mut db = vec![0.0; *n_out];
                for r in 0..batch {
                    for j in 0..*n_out {
                        let d = delta[r * n_out + j];
                        db[j] += d;
                        for i in 0..*n_in {
                            dw[i * n_out + j] += a[r * n_in + i] * d;
                        }
                    }
                }
                if k > 0 {
                    let mut prev = vec![0.0; batch * n_in];
                    for r in 0..batch {
                        for i in 0..*n_in {
                            let mut s = 0.0;
                            for j in 0..*n_out {
                                s += w[i * n_out + j] * delta[r * n_out + j];
                            }
                            let z = pre[k - 1][r * n_in + i];
                            let relu_grad = if z > 0.0 { 1.0 } else { 0.0 };
                            let mask = masks.get(k - 1).map_or(1.0, |m| f64::from(m[r * n_in + i]));
                            prev[r * n_in + i] = s * relu_grad * mask;
                        }
                    }
                    delta = prev;
                }
                grads[k] = (dw, db);
            }
            (probs, grads)
        }
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= tol,
                "{what}[{i}]: got {g}, want {w}"
            );
        }
    }

    /// Deterministic pseudo-random values in [-1, 1) (no RNG crate needed for fixtures).
    fn fixture(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn layer(n_in: usize, n_out: usize, seed: u64) -> LayerParams {
        LayerParams {
            n_in,
            n_out,
            weights: fixture(n_in * n_out, seed),
            bias: fixture(n_out, seed + 1000)
                .iter()
                .map(|v| v * 0.3)
                .collect(),
        }
    }

    const SGD: SgdParams = SgdParams {
        learning_rate: 0.1,
        momentum: 0.9,
        weight_decay: 0.01,
    };

    #[test]
    fn predict_proba_matches_hand_computation() {
        let layers = [
            LayerParams {
                n_in: 2,
                n_out: 3,
                weights: vec![0.5, -1.0, 0.25, 1.5, 0.75, -0.5],
                bias: vec![0.1, -0.2, 0.3],
            },
            LayerParams {
                n_in: 3,
                n_out: 2,
                weights: vec![1.0, -1.0, 0.5, 2.0, -0.25, 0.75],
                bias: vec![0.05, -0.05],
            },
        ];
        let net = DenseMlp::from_params(&layers, 0.0, SGD);
        assert_eq!(net.sizes(), vec![2, 3, 2]);
        let x = [1.0f32, 2.0, -1.0, 0.5];
        let got = net.predict_proba(&x, 2);

        // Row 0, x = (1, 2): z1 = (0.5+3+0.1, -1+1.5-0.2, 0.25-1+0.3) = (3.6, 0.3, -0.45)
        //   h = (3.6, 0.3, 0); z2 = (3.6+0.15+0.05, -3.6+0.6-0.05) = (3.8, -3.05)
        // Row 1, x = (-1, 0.5): z1 = (-0.5+0.75+0.1, 1+0.375-0.2, -0.25-0.25+0.3)
        //   = (0.35, 1.175, -0.2); h = (0.35, 1.175, 0)
        //   z2 = (0.35+0.5875+0.05, -0.35+2.35-0.05) = (0.9875, 1.95)
        let softmax2 = |a: f64, b: f64| {
            let m = a.max(b);
            let (ea, eb) = ((a - m).exp(), (b - m).exp());
            [ea / (ea + eb), eb / (ea + eb)]
        };
        let r0 = softmax2(3.8, -3.05);
        let r1 = softmax2(0.9875, 1.95);
        assert_close(&got, &[r0[0], r0[1], r1[0], r1[1]], 1e-6, "proba");
        // Parameters round-trip exactly.
        assert_eq!(net.params(), layers.to_vec());
    }

    /// Checks two SGD steps (momentum + coupled weight decay) against the f64 reference, with and
    /// without dropout masks.
    fn check_two_steps(masks: &[Vec<f32>]) {
        let init = vec![layer(3, 5, 1), layer(5, 4, 2), layer(4, 3, 3)];
        let batch = 4;
        let x = fixture(batch * 3, 7);
        let labels = [0u32, 2, 1, 2];
        let mut net = DenseMlp::from_params(&init, 0.5, SGD);
        let (lr, mu, wd) = (
            f64::from(SGD.learning_rate),
            f64::from(SGD.momentum),
            f64::from(SGD.weight_decay),
        );

        // Step 1: v = g + λw; w ← w − η v.
        let reference = Reference::new(&init);
        let (probs_ref, grads) = reference.forward_backward(&x, batch, &labels, masks);
        let probs = net.train_batch(&x, batch, &labels, masks);
        assert_close(&probs, &probs_ref, 1e-6, "train probs");
        let mut w1 = Vec::new();
        let mut vel = Vec::new();
        for ((_, _, w, b), (gw, gb)) in reference.layers.iter().zip(&grads) {
            let vw: Vec<f64> = gw.iter().zip(w).map(|(g, w)| g + wd * w).collect();
            let vb: Vec<f64> = gb.iter().zip(b).map(|(g, b)| g + wd * b).collect();
            let nw: Vec<f64> = w.iter().zip(&vw).map(|(w, v)| w - lr * v).collect();
            let nb: Vec<f64> = b.iter().zip(&vb).map(|(b, v)| b - lr * v).collect();
            w1.push((nw, nb));
            vel.push((vw, vb));
        }
        let after1 = net.params();
        for (k, (p, (nw, nb))) in after1.iter().zip(&w1).enumerate() {
            assert_close(&p.weights, nw, 1e-5, &format!("step1 W{k}"));
            assert_close(&p.bias, nb, 1e-5, &format!("step1 b{k}"));
            // The step must actually have moved the weights.
            assert!(p.weights != init[k].weights);
        }

        // Step 2 (different batch): v ← μ v + (g + λw); w ← w − η v.
        let x2 = fixture(batch * 3, 11);
        let labels2 = [1u32, 1, 0, 2];
        let reference = Reference::new(&after1);
        let (probs_ref, grads) = reference.forward_backward(&x2, batch, &labels2, masks);
        let probs = net.train_batch(&x2, batch, &labels2, masks);
        assert_close(&probs, &probs_ref, 1e-6, "train probs step 2");
        let after2 = net.params();
        for (k, (((_, _, w, b), (gw, gb)), (vw, vb))) in
            reference.layers.iter().zip(&grads).zip(&vel).enumerate()
        {
            let nw: Vec<f64> = (0..w.len())
                .map(|i| w[i] - lr * (mu * vw[i] + gw[i] + wd * w[i]))
                .collect();
            let nb: Vec<f64> = (0..b.len())
                .map(|i| b[i] - lr * (mu * vb[i] + gb[i] + wd * b[i]))
                .collect();
            assert_close(&after2[k].weights, &nw, 1e-5, &format!("step2 W{k}"));
            assert_close(&after2[k].bias, &nb, 1e-5, &format!("step2 b{k}"));
        }
    }

    #[test]
    fn sgd_momentum_weight_decay_match_reference() {
        check_two_steps(&[]);
    }

    #[test]
    fn sgd_with_dropout_masks_matches_reference() {
        let batch = 4;
        let scale = 1.0 / (1.0 - 0.5f32);
        let mask = |n: usize, seed: u64| -> Vec<f32> {
            fixture(n, seed)
                .iter()
                .map(|&u| if u < 0.0 { 0.0 } else { scale })
                .collect()
        };
        let masks = vec![mask(batch * 5, 21), mask(batch * 4, 22)];
        assert!(masks.iter().all(|m| m.contains(&0.0) && m.contains(&scale)));
        check_two_steps(&masks);
    }

    #[test]
    fn dropped_unit_makes_output_independent_of_its_weights() {
        let a = vec![layer(3, 4, 5), layer(4, 2, 6)];
        let mut b = a.clone();
        for i in 0..3 {
            b[0].weights[i * 4] = 10.0 * (i as f32 + 1.0); // column 0 of W1
        }
        b[0].bias[0] = 3.0;
        let batch = 3;
        let x = fixture(batch * 3, 9);
        let labels = [0u32, 1, 1];
        let mut m = vec![2.0f32; batch * 4];
        for r in 0..batch {
            m[r * 4] = 0.0;
        }
        let masks = vec![m];
        let mut na = DenseMlp::from_params(&a, 0.5, SGD);
        let mut nb = DenseMlp::from_params(&b, 0.5, SGD);
        let pa = na.train_batch(&x, batch, &labels, &masks);
        let pb = nb.train_batch(&x, batch, &labels, &masks);
        assert_eq!(pa, pb);
        // Without the mask the large column-0 weights do change the output.
        assert_ne!(na.predict_proba(&x, batch), nb.predict_proba(&x, batch));
        // The dropped unit gets no gradient: W1 column 0 and b1[0] only feel weight decay.
        let decay = 1.0 - SGD.learning_rate * SGD.weight_decay;
        let pb1 = nb.params();
        for i in 0..3 {
            let w0 = b[0].weights[i * 4];
            assert!((pb1[0].weights[i * 4] - w0 * decay).abs() < 1e-5);
        }
        assert!((pb1[0].bias[0] - 3.0 * decay).abs() < 1e-5);
        // Every other parameter evolved identically in both nets.
        let pa1 = na.params();
        for i in 0..3 {
            for j in 1..4 {
                assert_eq!(pa1[0].weights[i * 4 + j], pb1[0].weights[i * 4 + j]);
            }
        }
        assert_eq!(pa1[1], pb1[1]);
    }
}
