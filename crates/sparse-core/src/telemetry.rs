//! What topology updates do to a network, epoch by epoch: density, connections removed and
//! grown, turnover, and the in-time over-parameterisation rate (Liu et al., ICML 2021, §3: the
//! fraction of all positions of a layer that have ever been active during training).
//!
//! The ever-active set is kept as a sorted list of position keys, merged with the layer's
//! pattern after every edit: memory grows with the positions explored, never with
//! `n_in x n_out`.

use crate::layer::{EditStats, SparseLayer};
use serde::{Deserialize, Serialize};

/// One layer at the end of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerTopology {
    /// Index of the layer, input side first.
    pub layer: usize,
    /// Connections at the end of the epoch.
    pub nnz: usize,
    /// `nnz / (n_in n_out)`.
    pub density: f64,
    /// Connections removed during the epoch.
    pub removed: usize,
    /// Connections grown during the epoch.
    pub grown: usize,
    /// `removed / nnz` at the start of the epoch: the share of the connections replaced.
    pub turnover: f64,
    /// Fraction of all positions of the layer ever active so far (ITOP rate).
    pub itop_rate: f64,
}

/// Tracks the ever-active positions of every layer and the edits of the current epoch.
/// Serialisable, so a checkpoint can carry it (the ITOP rate depends on the whole history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyTracker {
    ever: Vec<Vec<u64>>,
    nnz_at_start: Vec<usize>,
    removed: Vec<usize>,
    grown: Vec<usize>,
}

/// The positions of a layer as sorted keys `i * n_out + j` (CSR order is sorted already).
fn keys(layer: &SparseLayer) -> impl Iterator<Item = u64> + '_ {
    let w = &layer.weights;
    let n_out = w.n_cols() as u64;
    (0..w.n_rows()).flat_map(move |i| {
        w.row_cols(i)
            .iter()
            .map(move |&j| i as u64 * n_out + j as u64)
    })
}

/// Sorted union of `a` and the sorted iterator `b`.
fn union(a: &[u64], b: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut b = b.peekable();
    let mut i = 0;
    loop {
        match (a.get(i), b.peek()) {
            (Some(&x), Some(&y)) if x < y => {
                out.push(x);
                i += 1;
            }
            (Some(&x), Some(&y)) => {
                out.push(y);
                b.next();
                if x == y {
                    i += 1;
                }
            }
            (Some(&x), None) => {
                out.push(x);
                i += 1;
            }
            (None, Some(&y)) => {
                out.push(y);
                b.next();
            }
            (None, None) => break,
        }
    }
    out
}

impl TopologyTracker {
    /// Starts from the initial topology.
    pub fn new(layers: &[SparseLayer]) -> Self {
        TopologyTracker {
            ever: layers.iter().map(|l| keys(l).collect()).collect(),
            nnz_at_start: layers.iter().map(|l| l.nnz()).collect(),
            removed: vec![0; layers.len()],
            grown: vec![0; layers.len()],
        }
    }

    /// Records edits just made: the edited layers' new positions join the ever-active set.
    pub fn observe(&mut self, layers: &[SparseLayer], edits: &[EditStats]) {
        for e in edits {
            self.removed[e.layer] += e.removed;
            self.grown[e.layer] += e.grown;
            if e.grown > 0 {
                self.ever[e.layer] = union(&self.ever[e.layer], keys(&layers[e.layer]));
            }
        }
    }

    /// The epoch's rows (one per layer); starts counting the next epoch.
    pub fn end_epoch(&mut self, layers: &[SparseLayer]) -> Vec<LayerTopology> {
        let rows = layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let size = (layer.n_in() * layer.n_out()).max(1) as f64;
                LayerTopology {
                    layer: l,
                    nnz: layer.nnz(),
                    density: layer.nnz() as f64 / size,
                    removed: self.removed[l],
                    grown: self.grown[l],
                    turnover: self.removed[l] as f64 / self.nnz_at_start[l].max(1) as f64,
                    itop_rate: self.ever[l].len() as f64 / size,
                }
            })
            .collect();
        self.nnz_at_start = layers.iter().map(|l| l.nnz()).collect();
        self.removed.iter_mut().for_each(|v| *v = 0);
        self.grown.iter_mut().for_each(|v| *v = 0);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csr::Csr;
    use crate::init::WeightSampler;

    fn layer(t: Vec<(u32, u32, f32)>) -> SparseLayer {
        SparseLayer::new(
            Csr::from_triplets(3, 4, t).unwrap(),
            WeightSampler::Uniform { limit: 1.0 },
            true,
        )
    }

    #[test]
    fn itop_counts_every_position_ever_active() {
        let mut layers = vec![layer(vec![(0, 0, 1.0), (1, 2, 1.0), (2, 3, 1.0)])];
        let mut t = TopologyTracker::new(&layers);
        // Move (0, 0) to (0, 1), then (0, 1) back to (0, 0) and (1, 2) to (2, 0).
        layers[0].retain(&[false, true, true]);
        layers[0].insert(&[(0, 1)], &[1.0]).unwrap();
        t.observe(
            &layers,
            &[EditStats {
                layer: 0,
                removed: 1,
                grown: 1,
            }],
        );
        layers[0].retain(&[false, false, true]);
        layers[0].insert(&[(0, 0), (2, 0)], &[1.0, 1.0]).unwrap();
        t.observe(
            &layers,
            &[EditStats {
                layer: 0,
                removed: 2,
                grown: 2,
            }],
        );
        let rows = t.end_epoch(&layers);
        assert_eq!(rows[0].nnz, 3);
        assert_eq!((rows[0].removed, rows[0].grown), (3, 3));
        assert!((rows[0].turnover - 1.0).abs() < 1e-12);
        // Ever active: (0,0), (0,1), (1,2), (2,0), (2,3) of 12.
        assert!((rows[0].itop_rate - 5.0 / 12.0).abs() < 1e-12);
        let next = t.end_epoch(&layers);
        assert_eq!((next[0].removed, next[0].turnover), (0, 0.0));
        assert!((next[0].itop_rate - 5.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn union_is_sorted_and_distinct() {
        assert_eq!(
            union(&[1, 4, 7], [0, 4, 5, 9].into_iter()),
            vec![0, 1, 4, 5, 7, 9]
        );
        assert_eq!(union(&[], [2].into_iter()), vec![2]);
    }
}
