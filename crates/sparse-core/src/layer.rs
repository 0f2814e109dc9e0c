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
    /// Loss gradient at each connection from the last backward pass (aligned).
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

    /// Restores the derived buffers after deserialisation (gradients are not saved).
    pub fn ensure_buffers(&mut self) {
        self.grad.resize(self.nnz(), 0.0);
        self.bias_grad.resize(self.n_out(), 0.0);
    }

    /// Keeps the connections with `keep[k]` true (and their momentum and gradient), removing
    /// the others. Returns the number removed. `O(nnz)`.
    pub fn retain(&mut self, keep: &[bool]) -> usize {
        assert_eq!(keep.len(), self.nnz(), "one keep flag per connection");
        let n = self.weights.n_rows();
        let (ptr, cols, vals) = (
            self.weights.row_ptr(),
            self.weights.col_idx(),
            self.weights.values(),
        );
        let kept = keep.iter().filter(|&&k| k).count();
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::with_capacity(kept);
        let mut values = Vec::with_capacity(kept);
        let mut momentum = Vec::with_capacity(kept);
        let mut grad = Vec::with_capacity(kept);
        row_ptr.push(0);
        for i in 0..n {
            for k in ptr[i]..ptr[i + 1] {
                if keep[k] {
                    col_idx.push(cols[k]);
                    values.push(vals[k]);
                    momentum.push(self.momentum[k]);
                    grad.push(self.grad.get(k).copied().unwrap_or(0.0));
                }
            }
            row_ptr.push(col_idx.len());
        }
        let removed = self.nnz() - kept;
        self.weights
            .replace(row_ptr, col_idx, values)
            .expect("a subset of a valid pattern is valid");
        self.momentum = momentum;
        self.grad = grad;
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
    /// the given weights; their momentum and gradient start at 0. `O(nnz + added)`.
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
        let n = self.weights.n_rows();
        let total = self.nnz() + positions.len();
        let (ptr, cols, vals) = (
            self.weights.row_ptr(),
            self.weights.col_idx(),
            self.weights.values(),
        );
        let mut row_ptr = Vec::with_capacity(n + 1);
        let mut col_idx = Vec::with_capacity(total);
        let mut new_vals = Vec::with_capacity(total);
        let mut momentum = Vec::with_capacity(total);
        let mut grad = Vec::with_capacity(total);
        row_ptr.push(0);
        let mut g = 0usize;
        for i in 0..n {
            let mut k = ptr[i];
            let end = ptr[i + 1];
            loop {
                let next_new =
                    (g < positions.len() && positions[g].0 as usize == i).then(|| positions[g].1);
                match (k < end, next_new) {
                    (true, Some(c)) if c < cols[k] => {
                        col_idx.push(c);
                        new_vals.push(values[g]);
                        momentum.push(0.0);
                        grad.push(0.0);
                        g += 1;
                    }
                    (true, _) => {
                        col_idx.push(cols[k]);
                        new_vals.push(vals[k]);
                        momentum.push(self.momentum[k]);
                        grad.push(self.grad.get(k).copied().unwrap_or(0.0));
                        k += 1;
                    }
                    (false, Some(c)) => {
                        col_idx.push(c);
                        new_vals.push(values[g]);
                        momentum.push(0.0);
                        grad.push(0.0);
                        g += 1;
                    }
                    (false, None) => break,
                }
            }
            row_ptr.push(col_idx.len());
        }
        if g != positions.len() {
            return Err(SparseError::Invalid(format!(
                "new position {:?} is out of range or out of order",
                positions[g]
            )));
        }
        // try_from_parts rejects duplicates (a position already stored) and disorder.
        self.weights.replace(row_ptr, col_idx, new_vals)?;
        self.momentum = momentum;
        self.grad = grad;
        Ok(positions.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
