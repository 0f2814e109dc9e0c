//! A sparse layer as a DST method sees it: weights, bias, and the per-connection optimizer
//! state and gradient stored as arrays aligned with the non-zeros.
//!
//! Keeping every per-connection array beside the weights, and editing them only through
//! [`SparseLayer::retain`] and [`SparseLayer::insert`], is what keeps momentum attached to the
//! right connection across topology updates.

use crate::csr::Csr;
use crate::error::SparseError;
use crate::init::WeightSampler;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// One sparse weight layer with its training state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseLayer {
    /// Connections and their weights, `n_in x n_out`.
    pub weights: Csr,
    /// Dense bias, one per output.
    pub bias: Vec<f32>,
    /// Momentum of each connection, aligned with `weights.values()`.
    pub momentum: Vec<f32>,
    /// Momentum of each bias entry.
    pub bias_momentum: Vec<f32>,
    /// Loss gradient at each connection from the last backward pass (aligned), or empty when
    /// the model applies each layer's update as soon as its gradient is known and keeps none
    /// ([`crate::DstMethod::reads_gradients`]); topology edits keep it aligned when held.
    #[serde(skip)]
    pub grad: Vec<f32>,
    /// Loss gradient of the bias from the last backward pass.
    #[serde(skip)]
    pub bias_grad: Vec<f32>,
    /// Distribution new connections are initialised from.
    pub sampler: WeightSampler,
    /// Whether DST methods may change this layer's topology.
    pub dynamic: bool,
}

/// What one topology edit did to one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EditStats {
    /// Index of the layer in the network, input side first.
    pub layer: usize,
    /// Connections removed.
    pub removed: usize,
    /// Connections added.
    pub grown: usize,
}

impl SparseLayer {
    /// A layer with the given connections, zero bias and zero optimizer state.
    pub fn new(weights: Csr, sampler: WeightSampler, dynamic: bool) -> Self {
        let (nnz, n_out) = (weights.nnz(), weights.n_cols());
        SparseLayer {
            weights,
            bias: vec![0.0; n_out],
            momentum: vec![0.0; nnz],
            bias_momentum: vec![0.0; n_out],
            grad: vec![0.0; nnz],
            bias_grad: vec![0.0; n_out],
            sampler,
            dynamic,
        }
    }

    /// Number of inputs.
    pub fn n_in(&self) -> usize {
        self.weights.n_rows()
    }

    /// Number of outputs.
    pub fn n_out(&self) -> usize {
        self.weights.n_cols()
    }

    /// Number of connections.
    pub fn nnz(&self) -> usize {
        self.weights.nnz()
    }

    /// Bytes of heap memory held: weights, indices, column view, momentum, gradient, bias.
    pub fn heap_bytes(&self) -> usize {
        self.weights.heap_bytes()
            + (self.momentum.capacity()
                + self.grad.capacity()
                + self.bias.capacity()
                + self.bias_momentum.capacity()
                + self.bias_grad.capacity())
                * size_of::<f32>()
    }

    /// Whether every weight and bias is finite. A diverged run's NaN or infinite weights must
    /// be caught before a topology update sees them: magnitude pruning drops NaN weights
    /// silently (every comparison with NaN is false), and ReLU (`max(z, 0)`) turns a NaN
    /// pre-activation into 0, so the outputs alone need not show them. `O(nnz)`.
    pub fn is_finite(&self) -> bool {
        all_finite(self.weights.values()) && all_finite(&self.bias)
    }

    /// Whether the layer holds a gradient per connection (see [`SparseLayer::grad`]): an
    /// empty `grad` beside connections is not held; any other is brought into line with the
    /// connections.
    fn holds_grad(&mut self) -> bool {
        let held = !(self.grad.is_empty() && self.nnz() > 0);
        if held {
            self.grad.resize(self.nnz(), 0.0);
        }
        held
    }

    /// Restores the derived buffers after deserialisation (gradients are not saved).
    pub fn ensure_buffers(&mut self) {
        self.grad.resize(self.nnz(), 0.0);
        self.bias_grad.resize(self.n_out(), 0.0);
    }

    /// Keeps the connections with `keep[k]` true (and their momentum and gradient), removing
    /// the others. Returns the number removed. `O(nnz)`, in place: no allocation, so an
    /// update never holds two copies of a layer.
    pub fn retain(&mut self, keep: &[bool]) -> usize {
        assert_eq!(keep.len(), self.nnz(), "one keep flag per connection");
        let held = self.holds_grad();
        let n = self.n_in();
        let (row_ptr, cols, vals) = self.weights.raw_parts_mut();
        let (momentum, grad) = (&mut self.momentum, &mut self.grad);
        let mut w = 0;
        let mut start = row_ptr[0];
        for i in 0..n {
            let end = row_ptr[i + 1];
            for k in start..end {
                if keep[k] {
                    cols[w] = cols[k];
                    vals[w] = vals[k];
                    momentum[w] = momentum[k];
                    if held {
                        grad[w] = grad[k];
                    }
                    w += 1;
                }
            }
            start = end;
            row_ptr[i + 1] = w;
        }
        let removed = cols.len() - w;
        for v in [&mut *vals, &mut *momentum, &mut *grad] {
            v.truncate(w);
        }
        cols.truncate(w);
        debug_assert!(self.weights.validate().is_ok());
        removed
    }

    /// One topology update of layer `index`, the step every DST method shares: removes the
    /// connections with `keep[k]` false, asks `grow` for as many new positions on the pruned
    /// pattern (sorted, free), and adds them with weights from `new_weight`, drawn in position
    /// order; momentum and gradient of new connections start at 0.
    pub fn rewire(
        &mut self,
        index: usize,
        keep: &[bool],
        rng: &mut dyn RngCore,
        grow: impl FnOnce(&Csr, usize, &mut dyn RngCore) -> Vec<(u32, u32)>,
        new_weight: impl Fn(&WeightSampler, &mut dyn RngCore) -> f32,
    ) -> EditStats {
        let removed = self.retain(keep);
        let positions = grow(&self.weights, removed, &mut *rng);
        let values: Vec<f32> = positions
            .iter()
            .map(|_| new_weight(&self.sampler, &mut *rng))
            .collect();
        let grown = self
            .insert(&positions, &values)
            .expect("growth rules return free, sorted, in-range positions");
        EditStats {
            layer: index,
            removed,
            grown,
        }
    }

    /// Adds connections at `positions` (sorted by `(row, col)`, distinct, not yet stored) with
    /// the given weights; their momentum and gradient start at 0. `O(nnz + added log d)`, in
    /// place: the arrays grow at their end and entries are merged from the back, so no second
    /// copy of the layer is made (nor any allocation when the arrays kept their capacity, as
    /// after a [`SparseLayer::retain`] that removed as many). The positions are checked before
    /// anything is changed.
    pub fn insert(
        &mut self,
        positions: &[(u32, u32)],
        values: &[f32],
    ) -> Result<usize, SparseError> {
        assert_eq!(
            positions.len(),
            values.len(),
            "one value per new connection"
        );
        if positions.is_empty() {
            return Ok(0);
        }
        let (n, m) = (self.n_in(), self.n_out());
        for (g, &(r, c)) in positions.iter().enumerate() {
            if r as usize >= n || c as usize >= m {
                return Err(SparseError::Invalid(format!(
                    "new position ({r}, {c}) is outside {n} x {m}"
                )));
            }
            if g > 0 && positions[g - 1] >= (r, c) {
                return Err(SparseError::Invalid(format!(
                    "new position ({r}, {c}) is out of order or repeated"
                )));
            }
            if self.weights.contains(r as usize, c) {
                return Err(SparseError::Invalid(format!(
                    "new position ({r}, {c}) is already stored"
                )));
            }
            if !values[g].is_finite() {
                return Err(SparseError::Invalid(format!(
                    "new weight at ({r}, {c}) is not finite"
                )));
            }
        }
        let held = self.holds_grad();
        let old = self.nnz();
        let total = old + positions.len();
        let (row_ptr, cols, vals) = self.weights.raw_parts_mut();
        let (momentum, grad) = (&mut self.momentum, &mut self.grad);
        cols.resize(total, 0);
        for v in [&mut *vals, &mut *momentum] {
            v.resize(total, 0.0);
        }
        if held {
            grad.resize(total, 0.0);
        }
        // Walk rows from the last, writing each row's merged entries at the end of its new
        // range; the write position never falls below the read position, so nothing unread
        // is overwritten.
        let mut g = positions.len();
        let mut dest = total;
        for i in (0..n).rev() {
            let (lo, mut k) = (row_ptr[i], row_ptr[i + 1]);
            row_ptr[i + 1] = dest;
            loop {
                let new = (g > 0 && positions[g - 1].0 as usize == i).then(|| positions[g - 1].1);
                let take_old = match new {
                    Some(c) => k > lo && cols[k - 1] > c,
                    None => k > lo,
                };
                dest -= 1;
                if take_old {
                    k -= 1;
                    cols[dest] = cols[k];
                    vals[dest] = vals[k];
                    momentum[dest] = momentum[k];
                    if held {
                        grad[dest] = grad[k];
                    }
                } else if let Some(c) = new {
                    g -= 1;
                    cols[dest] = c;
                    vals[dest] = values[g];
                    momentum[dest] = 0.0;
                    if held {
                        grad[dest] = 0.0;
                    }
                } else {
                    dest += 1;
                    break;
                }
            }
        }
        debug_assert_eq!((g, dest), (0, 0));
        debug_assert!(self.weights.validate().is_ok());
        Ok(positions.len())
    }
}

/// Whether no value is NaN or infinite: the largest magnitude, compared as bits (a
/// non-finite `f32` has every exponent bit set), so the scan is an integer max that
/// vectorises, with no branch per value.
fn all_finite(values: &[f32]) -> bool {
    const MAGNITUDE: u32 = 0x7fff_ffff;
    let largest = crate::simd::vectorized(
        #[inline(always)]
        || {
            values
                .iter()
                .map(|v| v.to_bits() & MAGNITUDE)
                .max()
                .unwrap_or(0)
        },
    );
    largest < f32::INFINITY.to_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn all_finite_agrees_with_is_finite(values in prop::collection::vec(
            prop_oneof![
                any::<f32>(),
                Just(f32::NAN),
                Just(f32::INFINITY),
                Just(f32::NEG_INFINITY),
                Just(f32::MAX),
                Just(-0.0f32),
            ],
            0..40,
        )) {
            prop_assert_eq!(all_finite(&values), values.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn a_non_finite_weight_or_bias_is_found() {
        let mut l = layer();
        assert!(l.is_finite());
        l.weights.values_mut()[1] = f32::NAN;
        assert!(!l.is_finite());
        let mut l = layer();
        l.bias[2] = f32::NEG_INFINITY;
        assert!(!l.is_finite());
    }

    fn layer() -> SparseLayer {
        let w = Csr::from_triplets(2, 3, vec![(0, 1, 1.0), (1, 0, 2.0), (1, 2, 3.0)]).unwrap();
        let mut l = SparseLayer::new(w, WeightSampler::Uniform { limit: 0.1 }, true);
        l.momentum = vec![10.0, 20.0, 30.0];
        l
    }

    #[test]
    fn retain_keeps_momentum_aligned() {
        let mut l = layer();
        assert_eq!(l.retain(&[true, false, true]), 1);
        assert_eq!(l.weights.values(), &[1.0, 3.0]);
        assert_eq!(l.momentum, vec![10.0, 30.0]);
        assert_eq!(l.weights.col_idx(), &[1, 2]);
    }

    #[test]
    fn insert_merges_in_order_with_zero_momentum() {
        let mut l = layer();
        l.insert(&[(0, 0), (0, 2), (1, 1)], &[5.0, 6.0, 7.0])
            .unwrap();
        assert_eq!(l.weights.to_dense(), vec![5.0, 1.0, 6.0, 2.0, 7.0, 3.0]);
        assert_eq!(l.momentum, vec![0.0, 10.0, 0.0, 20.0, 0.0, 30.0]);
        assert!(
            l.clone().insert(&[(0, 1)], &[1.0]).is_err(),
            "duplicate rejected"
        );
        assert!(
            l.clone().insert(&[(5, 0)], &[1.0]).is_err(),
            "out of range rejected"
        );
    }

    proptest::proptest! {
        /// In-place retain then insert equal a rebuild from triplets, with momentum and
        /// gradient following their connection.
        #[test]
        fn in_place_edits_match_a_rebuild(
            cells in proptest::collection::vec(0u8..4, 0..64),
            cols in 1usize..9,
        ) {
            let rows = cells.len() / cols;
            let cell = |i: usize, j: usize| cells[i * cols + j];
            let mut t = Vec::new();
            for i in 0..rows { for j in 0..cols {
                if cell(i, j) >= 2 { t.push((i as u32, j as u32, (i * 10 + j) as f32)); }
            } }
            let w = Csr::from_triplets(rows, cols, t).unwrap();
            let mut l = SparseLayer::new(w, WeightSampler::Uniform { limit: 0.1 }, true);
            l.momentum = l.weights.values().iter().map(|v| v + 0.5).collect();
            l.grad = l.weights.values().iter().map(|v| v - 0.5).collect();
            // Remove the cells marked 2, add those marked 1.
            let rix = l.weights.row_indices();
            let keep: Vec<bool> = (0..l.nnz())
                .map(|k| cell(rix[k] as usize, l.weights.col_idx()[k] as usize) == 3)
                .collect();
            l.retain(&keep);
            let mut add = Vec::new();
            for i in 0..rows { for j in 0..cols {
                if cell(i, j) == 1 { add.push((i as u32, j as u32)); }
            } }
            let vals: Vec<f32> = add.iter().map(|&(i, j)| -((i * 10 + j) as f32)).collect();
            l.insert(&add, &vals).unwrap();
            let mut want = Vec::new();
            for i in 0..rows { for j in 0..cols {
                match cell(i, j) {
                    3 => want.push((i as u32, j as u32, (i * 10 + j) as f32)),
                    1 => want.push((i as u32, j as u32, -((i * 10 + j) as f32))),
                    _ => {}
                }
            } }
            let want = Csr::from_triplets(rows, cols, want).unwrap();
            proptest::prop_assert_eq!(&l.weights, &want);
            proptest::prop_assert!(l.weights.validate().is_ok());
            for (k, &v) in l.weights.values().iter().enumerate() {
                let (m, g) = if v >= 0.0 { (v + 0.5, v - 0.5) } else { (0.0, 0.0) };
                // New connections (negative values, or the zero at (0, 0)) start at zero.
                let fresh = v < 0.0 || (v == 0.0 && cell(0, 0) == 1);
                proptest::prop_assert_eq!(l.momentum[k], if fresh { 0.0 } else { m });
                proptest::prop_assert_eq!(l.grad[k], if fresh { 0.0 } else { g });
            }
            // The column view follows the new pattern.
            proptest::prop_assert_eq!(l.weights.csc_index(), want.csc_index());
        }
    }
}
