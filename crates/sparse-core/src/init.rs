//! Initial topologies and weights: how many connections each layer gets, where they go, and
//! the values they start from.
//!
//! Sparsity is spread over layers in one of two ways, both hitting an exact total:
//! [`DensityDistribution::Uniform`] (every sparse layer at the target density) or
//! [`DensityDistribution::ErdosRenyi`] (density proportional to `(n_in + n_out) / (n_in n_out)`,
//! SET's rule of Mocanu et al. 2018, §Methods; with RigL's capping of layers that would exceed
//! density 1, Evci et al. 2020, Appendix). SET's own parameterisation by `epsilon` is
//! [`erdos_renyi_density`]. Positions are drawn uniformly with an exact count in memory
//! `O(nnz)`: never a dense mask.

use crate::csr::Csr;
use crate::error::SparseError;
use crate::sample::SortedSubset;
use rand::RngCore;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// Density of an `n_in x n_out` layer under SET's Erdős–Rényi rule,
/// `epsilon (n_in + n_out) / (n_in n_out)`, capped at 1 (Mocanu et al. 2018, Eq. 1).
pub fn erdos_renyi_density(epsilon: f64, n_in: usize, n_out: usize) -> f64 {
    let size = n_in as f64 * n_out as f64;
    if size == 0.0 {
        return 1.0;
    }
    (epsilon * (n_in + n_out) as f64 / size).min(1.0)
}

/// How a network-wide target sparsity is spread over its sparse layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DensityDistribution {
    /// Every sparse layer gets the target density.
    #[default]
    Uniform,
    /// Densities proportional to `(n_in + n_out) / (n_in n_out)`, scaled so the sparse layers
    /// together hold exactly the target share of weights; layers that would exceed density 1
    /// are made dense, their weights taken off the budget, and the rest re-solved until no
    /// layer exceeds 1. This is Evci et al.'s ERK (RigL, ICML 2020, §4.1; `erk` in configs)
    /// for fully connected layers, whose kernel dimensions are 1; SET's fixed-epsilon rule is
    /// the `epsilon` grid axis instead.
    #[serde(alias = "erk")]
    ErdosRenyi,
}

/// Per-layer densities for layers of shapes `(n_in, n_out)`: layers with `sparse[l] == false`
/// stay dense; the sparse ones together keep `1 - sparsity` of their weights.
pub fn layer_densities(
    shapes: &[(usize, usize)],
    sparse: &[bool],
    sparsity: f64,
    distribution: DensityDistribution,
) -> Result<Vec<f64>, SparseError> {
    if !(0.0..1.0).contains(&sparsity) {
        return Err(SparseError::Parameter {
            name: "sparsity",
            reason: format!("{sparsity} is not in [0, 1)"),
        });
    }
    assert_eq!(shapes.len(), sparse.len(), "one sparse flag per layer");
    let density = 1.0 - sparsity;
    let mut out: Vec<f64> = sparse.iter().map(|_| 1.0).collect();
    match distribution {
        DensityDistribution::Uniform => {
            for (l, &s) in sparse.iter().enumerate() {
                if s {
                    out[l] = density;
                }
            }
        }
        DensityDistribution::ErdosRenyi => {
            let size = |l: usize| shapes[l].0 as f64 * shapes[l].1 as f64;
            let budget: f64 = (0..shapes.len())
                .filter(|&l| sparse[l])
                .map(|l| density * size(l))
                .sum();
            let mut capped = vec![false; shapes.len()];
            loop {
                let fixed: f64 = (0..shapes.len())
                    .filter(|&l| sparse[l] && capped[l])
                    .map(size)
                    .sum();
                let raw: f64 = (0..shapes.len())
                    .filter(|&l| sparse[l] && !capped[l])
                    .map(|l| (shapes[l].0 + shapes[l].1) as f64)
                    .sum();
                let eps = if raw > 0.0 {
                    (budget - fixed) / raw
                } else {
                    0.0
                };
                let mut changed = false;
                for l in 0..shapes.len() {
                    if sparse[l] && !capped[l] {
                        let d = erdos_renyi_density(eps, shapes[l].0, shapes[l].1);
                        if d >= 1.0 {
                            capped[l] = true;
                            changed = true;
                        }
                        out[l] = d;
                    }
                }
                if !changed {
                    break;
                }
                for l in 0..shapes.len() {
                    if capped[l] {
                        out[l] = 1.0;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Number of connections of an `n_in x n_out` layer at `density`, rounded to the nearest
/// integer and at least 1 for a non-empty layer (a layer with no connection cuts the network).
pub fn connection_count(n_in: usize, n_out: usize, density: f64) -> usize {
    let size = n_in * n_out;
    if size == 0 {
        return 0;
    }
    ((density * size as f64).round() as usize).clamp(1, size)
}

/// Draws `count` distinct positions uniformly among the positions of `pattern` that are not
/// stored, returned sorted by `(row, col)`.
///
/// A uniform `count`-subset of the ranks `0..F` of the `F` free positions is drawn in
/// increasing order ([`SortedSubset`], memory `O(min(count, F - count))`, never `O(F)`) and
/// mapped to positions in one pass over the rows. Cost `O(n_rows + nnz + count log count)`;
/// unlike rejection sampling against the pattern it does not slow down as a layer fills up.
pub fn sample_free_positions(
    pattern: &Csr,
    count: usize,
    rng: &mut (impl RngCore + ?Sized),
) -> Result<Vec<(u32, u32)>, SparseError> {
    let mut out = Vec::with_capacity(count);
    visit_free_positions(pattern, count, rng, |i, j| out.push((i, j)))?;
    Ok(out)
}

/// [`sample_free_positions`] without the list: calls `visit(row, col)` for each drawn
/// position in `(row, col)` order, from the same random draws. A caller that builds a
/// pattern from the positions stores each one once (4 bytes of column index) instead of
/// holding the 8-byte list beside it.
pub fn visit_free_positions(
    pattern: &Csr,
    count: usize,
    rng: &mut (impl RngCore + ?Sized),
    visit: impl FnMut(u32, u32),
) -> Result<(), SparseError> {
    let n_cols = pattern.n_cols();
    let free_total: usize = (0..pattern.n_rows())
        .map(|i| n_cols - pattern.row_cols(i).len())
        .sum();
    if count > free_total {
        return Err(SparseError::Parameter {
            name: "count",
            reason: format!("cannot place {count} connections in {free_total} free positions"),
        });
    }
    // Ranks below 2^32 are held as u32 (4 bytes each): all layers of fewer than 2^32
    // positions.
    match u32::try_from(free_total) {
        Ok(total) => map_ranks(
            pattern,
            SortedSubset::draw(rng, total, count as u64).iter(),
            visit,
        ),
        Err(_) => map_ranks(
            pattern,
            SortedSubset::draw(rng, free_total as u64, count as u64).iter(),
            visit,
        ),
    }
    Ok(())
}

/// Maps increasing ranks among the free positions of `pattern` (row by row, columns
/// increasing) to their `(row, col)`, skipping occupied columns.
fn map_ranks(pattern: &Csr, ranks: impl Iterator<Item = usize>, mut visit: impl FnMut(u32, u32)) {
    let n_cols = pattern.n_cols();
    let mut ranks = ranks.peekable();
    let mut offset = 0usize;
    for i in 0..pattern.n_rows() {
        if ranks.peek().is_none() {
            break;
        }
        let occupied = pattern.row_cols(i);
        let free = n_cols - occupied.len();
        // Map the r-th free column of this row to its column index, skipping occupied ones.
        let mut p = 0usize;
        while let Some(r) = ranks.next_if(|&r| r < offset + free) {
            let r = r - offset;
            while p < occupied.len() && occupied[p] as usize <= r + p {
                p += 1;
            }
            visit(i as u32, (r + p) as u32);
        }
        offset += free;
    }
}

/// An `n_in x n_out` pattern with exactly `count` uniformly placed connections, all values 0.
///
/// Built straight from the drawn positions: the only memory beyond the pattern itself is the
/// sorted ranks (4 bytes per connection), so building a layer does not need several times its
/// own size (which set the peak memory of training at 10^7 connections).
pub fn random_pattern(
    n_in: usize,
    n_out: usize,
    count: usize,
    rng: &mut (impl RngCore + ?Sized),
) -> Result<Csr, SparseError> {
    let mut row_ptr = vec![0usize; n_in + 1];
    let mut col_idx = Vec::with_capacity(count);
    visit_free_positions(&Csr::empty(n_in, n_out), count, rng, |i, j| {
        row_ptr[i as usize + 1] += 1;
        col_idx.push(j);
    })?;
    for i in 0..n_in {
        row_ptr[i + 1] += row_ptr[i];
    }
    Csr::try_from_parts(n_in, n_out, row_ptr, col_idx, vec![0.0; count])
}

/// The distribution initial (and regrown) weights are drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum WeightInit {
    /// `U(-sqrt(6 / fan_in), sqrt(6 / fan_in))` (He et al. 2015; Curci's SET default).
    #[default]
    HeUniform,
    /// `U(-sqrt(6 / (fan_in + fan_out)), +...)` (Glorot & Bengio 2010).
    XavierUniform,
    /// `N(0, std^2)`; `std = 0.1` is the SET reference code's `N(0,1)/10`.
    Normal {
        /// Standard deviation.
        std: f32,
    },
}

/// Which fan-in and fan-out scale the weights: the sparse topology's or the dense layer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FanMode {
    /// The layer's mean in-degree `nnz / n_out` (and out-degree `nnz / n_in`), so activations
    /// keep their scale at high sparsity.
    #[default]
    Sparse,
    /// `n_in` and `n_out` as if the layer were dense (the reference SET code's choice).
    Dense,
}

/// A resolved per-layer weight distribution; cheap to copy and to sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum WeightSampler {
    /// `U(-limit, limit)`.
    Uniform {
        /// Half-width.
        limit: f32,
    },
    /// `N(0, std^2)`.
    Normal {
        /// Standard deviation.
        std: f32,
    },
}

impl WeightSampler {
    /// Resolves `init` for a layer of the given shape and number of connections.
    pub fn new(init: WeightInit, fan: FanMode, n_in: usize, n_out: usize, nnz: usize) -> Self {
        let (fan_in, fan_out) = match fan {
            FanMode::Dense => (n_in as f64, n_out as f64),
            FanMode::Sparse => (
                (nnz as f64 / n_out.max(1) as f64).max(1.0),
                (nnz as f64 / n_in.max(1) as f64).max(1.0),
            ),
        };
        match init {
            WeightInit::HeUniform => WeightSampler::Uniform {
                limit: (6.0 / fan_in).sqrt() as f32,
            },
            WeightInit::XavierUniform => WeightSampler::Uniform {
                limit: (6.0 / (fan_in + fan_out)).sqrt() as f32,
            },
            WeightInit::Normal { std } => WeightSampler::Normal { std },
        }
    }

    /// Draws one weight.
    pub fn sample(&self, rng: &mut (impl RngCore + ?Sized)) -> f32 {
        match *self {
            WeightSampler::Uniform { limit } if limit > 0.0 => {
                Uniform::new(-limit, limit).expect("limit > 0").sample(rng)
            }
            WeightSampler::Uniform { .. } => 0.0,
            WeightSampler::Normal { std } => {
                Normal::new(0.0, std).map(|d| d.sample(rng)).unwrap_or(0.0)
            }
        }
    }

    /// Fills `out` with independent draws.
    pub fn fill(&self, out: &mut [f32], rng: &mut (impl RngCore + ?Sized)) {
        for v in out {
            *v = self.sample(rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn erdos_renyi_density_follows_set_rule() {
        assert!((erdos_renyi_density(1.0, 100, 100) - 0.02).abs() < 1e-12);
        assert_eq!(erdos_renyi_density(20.0, 100, 2), 1.0);
    }

    #[test]
    fn uniform_distribution_keeps_dense_layers_dense() {
        let d = layer_densities(
            &[(30, 100), (100, 2)],
            &[true, false],
            0.75,
            DensityDistribution::Uniform,
        )
        .unwrap();
        assert_eq!(d, vec![0.25, 1.0]);
        assert!(layer_densities(&[(3, 3)], &[true], 1.0, DensityDistribution::Uniform).is_err());
    }

    #[test]
    fn erdos_renyi_distribution_hits_total_and_caps() {
        let shapes = [(30, 100), (100, 100), (100, 100), (100, 2)];
        let sparse = [true, true, true, false];
        for s in [0.25, 0.5, 0.9, 0.99] {
            let d = layer_densities(&shapes, &sparse, s, DensityDistribution::ErdosRenyi).unwrap();
            let kept: f64 = (0..3)
                .map(|l| d[l] * (shapes[l].0 * shapes[l].1) as f64)
                .sum();
            assert!((kept - (1.0 - s) * 23000.0).abs() < 1e-6, "s={s} d={d:?}");
            assert!(d.iter().all(|&x| x <= 1.0));
            assert_eq!(d[3], 1.0);
        }
        // At 25% sparsity the 30x100 layer would exceed density 1 and is capped.
        let d = layer_densities(&shapes, &sparse, 0.25, DensityDistribution::ErdosRenyi).unwrap();
        assert_eq!(d[0], 1.0);
    }

    /// ERK as the RigL reference code solves it (`get_sparsities_erdos_renyi`): one epsilon
    /// for the layers not yet dense, any layer pushed above 1 made dense and the solve
    /// repeated, written independently here.
    #[test]
    fn erk_matches_the_reference_formulation() {
        let parsed: DensityDistribution = serde_json::from_str("\"erk\"").unwrap();
        assert_eq!(parsed, DensityDistribution::ErdosRenyi);
        let shapes = [(784, 300), (300, 100), (100, 50), (50, 10)];
        let sparse = [true, true, true, true];
        for s in [0.1, 0.5, 0.8, 0.95, 0.99] {
            let n: Vec<f64> = shapes.iter().map(|&(a, b)| (a * b) as f64).collect();
            let raw: Vec<f64> = shapes
                .iter()
                .map(|&(a, b)| (a + b) as f64 / (a * b) as f64)
                .collect();
            let mut dense = [false; 4];
            let eps = loop {
                let rhs: f64 = (0..4)
                    .map(|l| {
                        if dense[l] {
                            -n[l] * s
                        } else {
                            n[l] * (1.0 - s)
                        }
                    })
                    .sum();
                let divisor: f64 = (0..4).filter(|&l| !dense[l]).map(|l| raw[l] * n[l]).sum();
                let eps = rhs / divisor;
                let over = (0..4).find(|&l| !dense[l] && eps * raw[l] > 1.0);
                match over {
                    Some(l) => dense[l] = true,
                    None => break eps,
                }
            };
            let want: Vec<f64> = (0..4)
                .map(|l| if dense[l] { 1.0 } else { eps * raw[l] })
                .collect();
            let got =
                layer_densities(&shapes, &sparse, s, DensityDistribution::ErdosRenyi).unwrap();
            for l in 0..4 {
                assert!(
                    (got[l] - want[l]).abs() < 1e-9,
                    "s={s} layer {l}: {got:?} vs {want:?}"
                );
            }
        }
    }

    #[test]
    fn weight_sampler_uses_sparse_fan_in() {
        // 100 x 100 with 1000 connections: mean fan-in 10.
        let s = WeightSampler::new(WeightInit::HeUniform, FanMode::Sparse, 100, 100, 1000);
        assert_eq!(
            s,
            WeightSampler::Uniform {
                limit: (0.6f64).sqrt() as f32
            }
        );
        let d = WeightSampler::new(WeightInit::HeUniform, FanMode::Dense, 100, 100, 1000);
        assert_eq!(
            d,
            WeightSampler::Uniform {
                limit: (0.06f64).sqrt() as f32
            }
        );
    }

    proptest! {
        #[test]
        fn free_positions_are_distinct_free_and_exact(rows in 0usize..8, cols in 0usize..8,
                                                      fill in 0.0f64..1.0, frac in 0.0f64..=1.0, seed: u64) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let pre = connection_count(rows, cols, fill).min(rows * cols);
            let pattern = random_pattern(rows, cols, pre, &mut rng).unwrap();
            prop_assert_eq!(pattern.nnz(), pre);
            let free = rows * cols - pre;
            let want = (frac * free as f64).floor() as usize;
            let got = sample_free_positions(&pattern, want, &mut rng).unwrap();
            prop_assert_eq!(got.len(), want);
            for w in got.windows(2) { prop_assert!(w[0] < w[1]); }
            for &(i, j) in &got {
                prop_assert!((i as usize) < rows && (j as usize) < cols);
                prop_assert!(!pattern.contains(i as usize, j));
            }
            prop_assert!(sample_free_positions(&pattern, free + 1, &mut rng).is_err());
        }
    }

    #[test]
    fn huge_layers_need_memory_for_the_connections_only() {
        // 10^10 positions (beyond u32): a dense mask would need gigabytes.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let w = random_pattern(100_000, 100_000, 5_000, &mut rng).unwrap();
        assert_eq!(w.nnz(), 5_000);
        let more = sample_free_positions(&w, 5_000, &mut rng).unwrap();
        assert!(more.iter().all(|&(i, j)| !w.contains(i as usize, j)));
    }

    #[test]
    fn free_positions_are_uniform() {
        // Each of the 12 free positions of a 4x4 layer with its diagonal stored should be
        // chosen with probability 3/12 when 3 are drawn.
        let diag = Csr::from_triplets(4, 4, (0..4).map(|i| (i, i, 1.0)).collect()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut hits = [0usize; 16];
        let trials = 20_000;
        for _ in 0..trials {
            for (i, j) in sample_free_positions(&diag, 3, &mut rng).unwrap() {
                hits[i as usize * 4 + j as usize] += 1;
            }
        }
        for (p, &h) in hits.iter().enumerate() {
            if p % 5 == 0 {
                assert_eq!(h, 0);
            } else {
                let f = h as f64 / trials as f64;
                assert!((f - 0.25).abs() < 0.02, "position {p}: {f}");
            }
        }
    }
}
