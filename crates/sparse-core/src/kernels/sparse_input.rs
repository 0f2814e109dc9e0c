//! The first layer's products when the inputs are a [`Csr`] of observed entries (missing
//! inputs absent), and the choice between them and the dense kernels on the zero-filled batch.
//!
//! Both sparse-input products give the bits of their dense twins on the batch with zeros at
//! the missing entries: the same terms in the same order, minus the zero terms, which change
//! no sum (every sum starts at `+0`, so it is never `-0`, and adding `±0` to it changes
//! nothing). So [`forward_absent`] and [`weight_grad_absent`] pick whichever path is faster
//! for a batch, and the path is a matter of speed, never of numbers (tested bit for bit).
//!
//! - [`forward_sparse_input`] walks each example's observed inputs in increasing input order
//!   and adds `x_bi · W[i, :]` into the outputs: each output element sums its terms in
//!   increasing input order, as [`super::forward`] does.
//! - [`weight_grad_sparse_input`] gives each stored entry `(i, j)` the sum over the examples
//!   where input `i` is observed in the lane order of [`super::weight_grad`]'s dot products
//!   (lane `b mod 16` in increasing `b`, then the lanes pairwise), sixteen entries of a row at
//!   a time: one gather of `dZᵀ` per observed example.
//!
//! The scatter and gather loops do about one multiply-add per cycle where the dense kernels do
//! several, so the sparse paths pay only when few inputs are observed: about below
//! [`FORWARD_SPARSE_BELOW`] and [`WEIGHT_GRAD_SPARSE_BELOW`] of the dense work, a point that
//! moves with the layer, the batch and the processor, so a [`PathChooser`] times both paths
//! near it (`cargo xtask bench --only sparse-input` shows the result).

use super::transpose::transpose_band_at;
use super::{check_dense, row_blocks, PAR_THRESHOLD, TASK_WORK};
use super::{forward_with, weight_grad, DOT_LANES};
use crate::csr::Csr;
use crate::multiversion;
use crate::simd::{self, SimdLevel};
use rayon::prelude::*;
use std::ops::Range;
use std::time::Instant;

/// Entries of a row of `W` handled together by the weight gradient (one 512-bit vector).
const ENTRY_LANES: usize = 16;

/// Share of observed input cells below which the sparse forward product is taken before it
/// has been timed: its gathers and scatters cost about 10 dense multiply-adds per useful one
/// (Intel Xeon, 784 x 4000 at 5%, batch 128).
pub const FORWARD_SPARSE_BELOW: f64 = 1.0 / 16.0;

/// The same for the weight gradient, whose gathers cost about 7 dense multiply-adds each.
pub const WEIGHT_GRAD_SPARSE_BELOW: f64 = 1.0 / 8.0;

/// How far from its prior threshold a share is decided by the prior alone (a factor on either
/// side); in between, both paths are timed.
const PRIOR_BAND: f64 = 4.0;

/// Timings of each path kept per batch shape before the faster is chosen (the best of them
/// counts, so one slow run does not decide). With 3, the bench's 784 x 4000 layer at 90%
/// missing, where each sparse-input product is about 10% faster than its dense twin, kept
/// the slower path for one product or both in each of 4 runs; with 7, the faster for both
/// in each of 4. A few more slow calls at the start of training cost nothing that matters.
const TRIALS: u32 = 7;

/// Width of the share buckets in which a choice is kept.
const BUCKETS_PER_UNIT: f64 = 64.0;

/// Chooses the faster path of one absent-input product from measurements on this machine.
///
/// Where the sparse path stops paying depends on the layer, the batch size and the processor
/// (784 x 1000 at batch 32 loses at 10% observed what 784 x 4000 at batch 128 wins), so a fixed
/// threshold is only a prior: shares far from it (below a quarter or above four times) follow
/// it; in between, each batch size and share bucket (1/64 wide) runs each path seven times
/// (`TRIALS`), then keeps the faster. Both paths give the same bits, so the choice changes
/// the time, never the numbers, and runs stay deterministic.
#[derive(Debug, Clone)]
pub struct PathChooser {
    prior_below: f64,
    cells: Vec<ChoiceCell>,
}

/// The timings of one batch size and share bucket, by [`path_index`].
#[derive(Debug, Clone)]
struct ChoiceCell {
    rows: usize,
    bucket: u32,
    runs: [u32; 2],
    best: [f64; 2],
}

fn path_index(path: InputPath) -> usize {
    match path {
        InputPath::Observed => 0,
        InputPath::ZeroFilled => 1,
    }
}

impl PathChooser {
    /// A chooser with the sparse path taken below `prior_below` until measured otherwise.
    pub fn new(prior_below: f64) -> Self {
        PathChooser {
            prior_below,
            cells: Vec::new(),
        }
    }

    /// The forward product's chooser ([`FORWARD_SPARSE_BELOW`]).
    pub fn forward() -> Self {
        Self::new(FORWARD_SPARSE_BELOW)
    }

    /// The weight gradient's chooser ([`WEIGHT_GRAD_SPARSE_BELOW`]).
    pub fn weight_grad() -> Self {
        Self::new(WEIGHT_GRAD_SPARSE_BELOW)
    }

    fn measured(&self, share: f64) -> bool {
        share >= self.prior_below / PRIOR_BAND && share < self.prior_below * PRIOR_BAND
    }

    /// Where the cell of a batch size and share is in `cells`, with its bucket.
    fn position(&self, rows: usize, share: f64) -> (Option<usize>, u32) {
        let bucket = (share * BUCKETS_PER_UNIT) as u32;
        let at = self
            .cells
            .iter()
            .position(|c| c.rows == rows && c.bucket == bucket);
        (at, bucket)
    }

    fn cell(&self, rows: usize, share: f64) -> Option<&ChoiceCell> {
        self.position(rows, share).0.map(|at| &self.cells[at])
    }

    /// The path to run for a batch of `rows` examples with `share` of its cells observed: the
    /// prior's outside the measured band; inside it, the path with fewer timings until both
    /// have seven (`TRIALS`), then the faster.
    pub fn choose(&self, rows: usize, share: f64) -> InputPath {
        let prior = if share < self.prior_below {
            InputPath::Observed
        } else {
            InputPath::ZeroFilled
        };
        if !self.measured(share) {
            return prior;
        }
        let Some(c) = self.cell(rows, share) else {
            return prior;
        };
        let [obs, zero] = [InputPath::Observed, InputPath::ZeroFilled].map(path_index);
        if c.runs[obs] < TRIALS || c.runs[zero] < TRIALS {
            if c.runs[obs] <= c.runs[zero] {
                InputPath::Observed
            } else {
                InputPath::ZeroFilled
            }
        } else if c.best[obs] < c.best[zero] {
            InputPath::Observed
        } else {
            InputPath::ZeroFilled
        }
    }

    /// Records that `path` took `seconds` on a batch of `rows` with `share` observed.
    pub fn record(&mut self, rows: usize, share: f64, path: InputPath, seconds: f64) {
        if !self.measured(share) {
            return;
        }
        let at = match self.position(rows, share) {
            (Some(at), _) => at,
            (None, bucket) => {
                self.cells.push(ChoiceCell {
                    rows,
                    bucket,
                    runs: [0; 2],
                    best: [f64::INFINITY; 2],
                });
                self.cells.len() - 1
            }
        };
        let (c, p) = (&mut self.cells[at], path_index(path));
        c.runs[p] += 1;
        c.best[p] = c.best[p].min(seconds);
    }

    /// Runs `run` on the chosen path for this batch and records its time.
    fn run(&mut self, x: &Csr, run: impl FnOnce(InputPath)) -> InputPath {
        let share = observed_share(x);
        let path = self.choose(x.n_rows(), share);
        let start = Instant::now();
        run(path);
        self.record(x.n_rows(), share, path, start.elapsed().as_secs_f64());
        path
    }
}

/// The two choosers a model keeps for its first layer when inputs are absent.
#[derive(Debug, Clone)]
pub struct AbsentPaths {
    /// For [`forward_absent`].
    pub forward: PathChooser,
    /// For [`weight_grad_absent`].
    pub weight_grad: PathChooser,
}

impl Default for AbsentPaths {
    fn default() -> Self {
        AbsentPaths {
            forward: PathChooser::forward(),
            weight_grad: PathChooser::weight_grad(),
        }
    }
}

/// Which kernel served a product of a batch with absent inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPath {
    /// The sparse-input kernel on the observed entries.
    Observed,
    /// The dense kernel on the zero-filled batch.
    ZeroFilled,
}

impl InputPath {
    /// A short name for reports (`observed`, `zero-filled`).
    pub fn name(self) -> &'static str {
        match self {
            InputPath::Observed => "observed",
            InputPath::ZeroFilled => "zero-filled",
        }
    }
}

/// The share of the batch's input cells that are observed: the sparse products' share of the
/// dense work when every input has the same out-degree, and O(1) to find (the exact share,
/// [`sparse_input_work`], walks every observed entry).
fn observed_share(x: &Csr) -> f64 {
    let cells = x.n_rows() * x.n_cols();
    if cells == 0 {
        return 0.0;
    }
    x.nnz() as f64 / cells as f64
}

/// `Zᵀ = (X W)ᵀ` for a batch held both ways, `x` its observed entries and `xt` the same batch
/// zero-filled and feature-major (`n_in x batch`, `+0` at every missing entry), on the path
/// `chooser` finds faster; the numbers do not depend on it. `by_column` is
/// [`forward_with`]'s buffer.
pub fn forward_absent(
    chooser: &mut PathChooser,
    x: &Csr,
    xt: &[f32],
    w: &Csr,
    by_column: &mut Vec<f32>,
    zt: &mut [f32],
) -> InputPath {
    check_dense("xt", xt, w.n_rows(), x.n_rows());
    chooser.run(x, |path| match path {
        InputPath::Observed => forward_sparse_input(x, w, zt),
        InputPath::ZeroFilled => forward_with(xt, x.n_rows(), w, by_column, zt),
    })
}

/// The weight gradient for a batch held both ways (see [`forward_absent`]), on the path
/// `chooser` finds faster; the numbers do not depend on it.
pub fn weight_grad_absent(
    chooser: &mut PathChooser,
    x: &Csr,
    xt: &[f32],
    dzt: &[f32],
    w: &Csr,
    grad: &mut [f32],
) -> InputPath {
    check_dense("xt", xt, w.n_rows(), x.n_rows());
    chooser.run(x, |path| match path {
        InputPath::Observed => weight_grad_sparse_input(x, dzt, w, grad),
        InputPath::ZeroFilled => weight_grad(xt, dzt, x.n_rows(), w, grad),
    })
}

/// Examples accumulated together by the forward product before they are stored.
const EXAMPLE_BLOCK: usize = 16;

/// Multiply-adds of a sparse-input product: each observed input times its out-degree.
pub fn sparse_input_work(x: &Csr, w: &Csr) -> usize {
    let ptr = w.row_ptr();
    x.col_idx()
        .iter()
        .map(|&i| ptr[i as usize + 1] - ptr[i as usize])
        .sum()
}

fn check_shapes(x: &Csr, w: &Csr) {
    assert_eq!(
        x.n_cols(),
        w.n_rows(),
        "input width must equal the layer's inputs"
    );
}

/// `Zᵀ = (X W)ᵀ` with `x` a `batch x n_in` [`Csr`] holding only the observed inputs of each
/// example; `zt` (overwritten) is `n_out x batch`. Cost `O(Σ_observed fan-out)`.
///
/// Example by example, each observed input `x_bi` adds `x_bi · w_ij` to the outputs `j` of
/// row `i` of `W`, so every output element sums its terms in increasing input order: the
/// order of [`super::forward`] on the zero-filled batch, minus the zero terms. Threads own
/// ranges of outputs (whole rows of `zt`); each first finds every row's entries in its range
/// (two binary searches a row, no test per entry), then walks the batch 16 examples at a
/// time: their outputs accumulate example-major, one example's outputs in range in the L1
/// cache while its inputs scatter into them (with AVX-512, gathers and scatters of 16 entries
/// of a row), then go into `zt` in 16 x 16 tiles.
pub fn forward_sparse_input(x: &Csr, w: &Csr, zt: &mut [f32]) {
    check_shapes(x, w);
    let (batch, n_in, n_out) = (x.n_rows(), w.n_rows(), w.n_cols());
    check_dense("zt", zt, n_out, batch);
    if batch == 0 || n_out == 0 {
        return;
    }
    let level = simd::level();
    let (x_ptr, x_cols, x_vals) = (x.row_ptr(), x.col_idx(), x.values());
    let (w_ptr, w_cols) = (w.row_ptr(), w.col_idx());
    let outputs = |j0: usize, chunk: &mut [f32]| {
        let width = chunk.len() / batch;
        let j1 = j0 + width;
        // Where each row of `W` enters and leaves the range of outputs.
        let spans: Vec<Range<usize>> = (0..n_in)
            .map(|i| {
                let row = &w_cols[w_ptr[i]..w_ptr[i + 1]];
                let at = |j: usize| w_ptr[i] + row.partition_point(|&c| (c as usize) < j);
                at(j0)..at(j1)
            })
            .collect();
        let mut block = vec![0.0f32; EXAMPLE_BLOCK * width];
        for b0 in (0..batch).step_by(EXAMPLE_BLOCK) {
            let b1 = (b0 + EXAMPLE_BLOCK).min(batch);
            block.fill(0.0);
            for (b, z) in (b0..b1).zip(block.chunks_exact_mut(width)) {
                let q = x_ptr[b]..x_ptr[b + 1];
                let inputs = (&x_cols[q.clone()], &x_vals[q]);
                add_rows_dispatch(level, (z, j0), inputs, &spans, w);
            }
            let band = [b1 - b0, width];
            transpose_band_at(level, (&block, width), band, (&mut chunk[b0..], batch));
        }
    };
    let work = sparse_input_work(x, w);
    if work < PAR_THRESHOLD {
        outputs(0, zt);
    } else {
        // One range of outputs per thread: each range walks the whole batch once, so more
        // ranges would repeat that walk without adding parallelism.
        let ranges = rayon::current_num_threads().min(work / TASK_WORK).max(1);
        let per = n_out.div_ceil(ranges).max(1);
        zt.par_chunks_mut(per * batch)
            .enumerate()
            .for_each(|(r, chunk)| outputs(r * per, chunk));
    }
}

/// `z[c - j0] += v · w` for each observed input `(i, v)` of one example (`inputs`, in
/// increasing input order) and each entry `(c, w)` of row `i` of `W` in `spans[i]`, whose
/// columns must lie in `j0..j0 + z.len()`: the example's outputs in that range get their
/// terms in increasing input order.
#[inline(always)]
fn add_rows(
    (z, j0): (&mut [f32], usize),
    (inputs, values): (&[u32], &[f32]),
    spans: &[Range<usize>],
    (w_cols, w_vals): (&[u32], &[f32]),
) {
    for (&i, &v) in inputs.iter().zip(values) {
        let span = spans[i as usize].clone();
        for (&c, &w) in w_cols[span.clone()].iter().zip(&w_vals[span]) {
            z[c as usize - j0] += v * w;
        }
    }
}
multiversion!(add_rows_at => add_rows(
    out: (&mut [f32], usize), inputs: (&[u32], &[f32]), spans: &[Range<usize>],
    w: (&[u32], &[f32])
));

/// [`add_rows`] with AVX-512 gathers and scatters where the CPU has them.
fn add_rows_dispatch(
    level: SimdLevel,
    out: (&mut [f32], usize),
    inputs: (&[u32], &[f32]),
    spans: &[Range<usize>],
    w: &Csr,
) {
    let entries = (w.col_idx(), w.values());
    #[cfg(target_arch = "x86_64")]
    if simd::supported(level) == SimdLevel::Avx512 && out.0.len() <= i32::MAX as usize {
        // SAFETY: the CPU supports AVX-512 (`supported` checked it).
        unsafe { avx512::add_rows(out, inputs, spans, entries) };
        return;
    }
    add_rows_at(level, out, inputs, spans, entries);
}

/// Weight gradient at the stored entries of `w` when the input `x` (`batch x n_in`) is
/// sparse: `grad[k] = Σ_{b : X[b,i] observed} X[b, i] dZᵀ[j, b]`, summed in the lane order of
/// [`super::weight_grad`] (so with its bits); `dzt` is `n_out x batch`. Cost
/// `O(Σ_observed fan-out)`.
pub fn weight_grad_sparse_input(x: &Csr, dzt: &[f32], w: &Csr, grad: &mut [f32]) {
    check_shapes(x, w);
    let (batch, n_out) = (x.n_rows(), w.n_cols());
    check_dense("dzt", dzt, n_out, batch);
    assert_eq!(
        grad.len(),
        w.nnz(),
        "grad must be aligned with the non-zeros"
    );
    let xc = x.csc_index();
    let (x_vals, w_ptr, w_cols) = (x.values(), w.row_ptr(), w.col_idx());
    let level = simd::level();
    #[cfg(target_arch = "x86_64")]
    let avx512 = simd::supported(level) == SimdLevel::Avx512 && n_out * batch <= i32::MAX as usize;
    let block = |(rows, g): (std::ops::Range<usize>, &mut [f32])| {
        let base = w_ptr[rows.start];
        // The observed examples of the current input and their values, in increasing order.
        let (mut examples, mut values) = (Vec::new(), Vec::new());
        for i in rows {
            let obs = xc.col_ptr[i]..xc.col_ptr[i + 1];
            examples.clear();
            values.clear();
            examples.extend(obs.clone().map(|q| xc.row_idx.get(q) as u32));
            values.extend(obs.map(|q| x_vals[xc.csr_pos[q] as usize]));
            let span = w_ptr[i]..w_ptr[i + 1];
            let out = &mut g[span.start - base..span.end - base];
            let cols = &w_cols[span];
            #[cfg(target_arch = "x86_64")]
            if avx512 {
                // SAFETY: the CPU supports AVX-512 (`supported` checked it).
                unsafe { avx512::entry_sums(out, cols, &examples, &values, dzt, batch) };
                continue;
            }
            entry_sums_at(level, out, cols, &examples, &values, dzt, batch);
        }
    };
    let work = sparse_input_work(x, w);
    if work < PAR_THRESHOLD {
        block((0..w.n_rows(), grad));
    } else {
        let per_block = (TASK_WORK * w.nnz() / work.max(1)).max(1);
        row_blocks(w, grad, per_block)
            .into_par_iter()
            .for_each(block);
    }
}

/// `out[e] = Σ_t values[t] · dzt[cols[e] · batch + examples[t]]` for the entries `cols` of
/// one row of `W`, [`ENTRY_LANES`] entries at a time, each sum in the lane order of the dense
/// dot product: lane `examples[t] mod 16` in increasing order, then the lanes pairwise.
#[inline(always)]
fn entry_sums(
    out: &mut [f32],
    cols: &[u32],
    examples: &[u32],
    values: &[f32],
    dzt: &[f32],
    batch: usize,
) {
    for (o, c) in out.chunks_mut(ENTRY_LANES).zip(cols.chunks(ENTRY_LANES)) {
        let mut acc = [[0.0f32; ENTRY_LANES]; DOT_LANES];
        for (&b, &v) in examples.iter().zip(values) {
            let lane = &mut acc[b as usize % DOT_LANES];
            for (a, &j) in lane.iter_mut().zip(c) {
                *a += v * dzt[j as usize * batch + b as usize];
            }
        }
        let mut width = DOT_LANES / 2;
        while width > 0 {
            let (low, high) = acc.split_at_mut(width);
            for (lo, hi) in low.iter_mut().zip(&*high) {
                for (a, &h) in lo.iter_mut().zip(hi) {
                    *a += h;
                }
            }
            width /= 2;
        }
        o.copy_from_slice(&acc[0][..o.len()]);
    }
}
multiversion!(entry_sums_at => entry_sums(
    out: &mut [f32], cols: &[u32], examples: &[u32], values: &[f32], dzt: &[f32], batch: usize
));

/// [`entry_sums`] with AVX-512 gathers: the same products and sums, entry by entry, in the
/// same order (separate multiply and add), so the same bits.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Range, DOT_LANES, ENTRY_LANES};
    use std::arch::x86_64::*;

    /// Vectors of a row's entries gathered before any of them is scattered back: 8 (128
    /// entries, the whole of most rows' span in a range of outputs) took 0.90 ms where one
    /// vector at a time took 0.98 (784 x 4000 at 5%, batch 128, 90% missing, interleaved),
    /// likely since the gathers no longer queue behind scatters of the same row, whose lanes
    /// they never meet. A scatter with an empty mask is not free (a version that issued them
    /// for the group's unused vectors lost the gain), so the scatters stop at the first.
    const ROW_GROUP: usize = 8;

    /// [`super::add_rows`] sixteen entries of a row a vector, [`ROW_GROUP`] vectors at a time:
    /// gather the outputs at their columns, add the products (separate multiply and add, as
    /// the portable loop, so the same bits), then scatter them back. The columns of a row are
    /// distinct, so no two lanes of a scatter write one output. Each span's first and last
    /// columns are checked to lie in the range of outputs; they bound the rest, since a row's
    /// columns increase. Needs `z.len() <= i32::MAX` (32-bit offsets).
    #[target_feature(enable = "avx512f")]
    pub(super) fn add_rows(
        (z, j0): (&mut [f32], usize),
        (inputs, values): (&[u32], &[f32]),
        spans: &[Range<usize>],
        (w_cols, w_vals): (&[u32], &[f32]),
    ) {
        assert!(z.len() <= i32::MAX as usize, "scatter offsets are 32-bit");
        assert_eq!(inputs.len(), values.len(), "one value per input");
        // `c - j0` in 32-bit lanes: exact, as both are below 2^32 and the difference is an
        // offset into `z`.
        let first = _mm512_set1_epi32(j0 as u32 as i32);
        for (&i, &v) in inputs.iter().zip(values) {
            let span = spans[i as usize].clone();
            let (cols, ws) = (&w_cols[span.clone()], &w_vals[span]);
            let (Some(&lo), Some(&hi)) = (cols.first(), cols.last()) else {
                continue;
            };
            assert!(
                lo as usize >= j0 && (hi as usize) < j0 + z.len(),
                "the span's columns lie in the range of outputs"
            );
            let v = _mm512_set1_ps(v);
            let group = ROW_GROUP * ENTRY_LANES;
            for (cols, ws) in cols.chunks(group).zip(ws.chunks(group)) {
                let mut at = [_mm512_setzero_si512(); ROW_GROUP];
                let mut sums = [_mm512_setzero_ps(); ROW_GROUP];
                let mut masks: [__mmask16; ROW_GROUP] = [0; ROW_GROUP];
                // A loop of constant length, unrolled, keeps `at` and `sums` in registers.
                for t in 0..ROW_GROUP {
                    let start = t * ENTRY_LANES;
                    if start >= cols.len() {
                        break;
                    }
                    let lanes = (cols.len() - start).min(ENTRY_LANES);
                    let m = if lanes == ENTRY_LANES {
                        u16::MAX
                    } else {
                        ((1u32 << lanes) - 1) as u16
                    };
                    // SAFETY: the masked loads read only lanes `start..start + lanes` of `cols`
                    // and `ws`, within them.
                    let (c, w) = unsafe {
                        (
                            _mm512_maskz_loadu_epi32(m, cols.as_ptr().add(start) as *const i32),
                            _mm512_maskz_loadu_ps(m, ws.as_ptr().add(start)),
                        )
                    };
                    at[t] = _mm512_sub_epi32(c, first);
                    // SAFETY: every unmasked lane is `c - j0` for a column `c` of the span,
                    // which lies in `j0..j0 + z.len()` (asserted: the columns of a row
                    // increase), so within `z`; masked lanes are not read.
                    let old = unsafe {
                        _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, at[t], z.as_ptr())
                    };
                    sums[t] = _mm512_add_ps(old, _mm512_mul_ps(v, w));
                    masks[t] = m;
                }
                for t in 0..ROW_GROUP {
                    if masks[t] == 0 {
                        break;
                    }
                    // SAFETY: as for the gathers; the lanes' offsets are distinct (a row's
                    // columns are), so no two lanes write one output.
                    unsafe {
                        _mm512_mask_i32scatter_ps::<4>(z.as_mut_ptr(), masks[t], at[t], sums[t])
                    };
                }
            }
        }
    }

    /// Needs `dzt.len() <= i32::MAX` (gather offsets are 32-bit) and every `cols[l] <
    /// dzt.len() / batch`, `examples[e] < batch`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn entry_sums(
        out: &mut [f32],
        cols: &[u32],
        examples: &[u32],
        values: &[f32],
        dzt: &[f32],
        batch: usize,
    ) {
        assert!(dzt.len() <= i32::MAX as usize, "gather offsets are 32-bit");
        assert_eq!(examples.len(), values.len(), "one value per example");
        let n_out = dzt.len() / batch.max(1);
        assert!(
            cols.iter().all(|&j| (j as usize) < n_out),
            "column beyond dZ"
        );
        assert!(
            examples.iter().all(|&b| (b as usize) < batch),
            "example beyond the batch"
        );
        let stride = _mm512_set1_epi32(batch as i32);
        for (o, c) in out.chunks_mut(ENTRY_LANES).zip(cols.chunks(ENTRY_LANES)) {
            let m: __mmask16 = if c.len() == ENTRY_LANES {
                u16::MAX
            } else {
                ((1u32 << c.len()) - 1) as u16
            };
            // SAFETY: the masked load reads only the `c.len()` lanes of `c`.
            let cols_v = unsafe { _mm512_maskz_loadu_epi32(m, c.as_ptr() as *const i32) };
            let rows = _mm512_mullo_epi32(cols_v, stride);
            let mut acc = [_mm512_setzero_ps(); DOT_LANES];
            for (&b, &v) in examples.iter().zip(values) {
                let idx = _mm512_add_epi32(rows, _mm512_set1_epi32(b as i32));
                // SAFETY: every unmasked lane reads `dzt[cols[l] * batch + b]`, within `dzt`
                // by the assertions above; masked lanes are not read.
                let d = unsafe {
                    _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), m, idx, dzt.as_ptr())
                };
                let lane = &mut acc[b as usize % DOT_LANES];
                *lane = _mm512_add_ps(*lane, _mm512_mul_ps(_mm512_set1_ps(v), d));
            }
            let mut width = DOT_LANES / 2;
            while width > 0 {
                for l in 0..width {
                    acc[l] = _mm512_add_ps(acc[l], acc[l + width]);
                }
                width /= 2;
            }
            // SAFETY: the masked store writes only the `o.len()` lanes of `o`.
            unsafe { _mm512_mask_storeu_ps(o.as_mut_ptr(), m, acc[0]) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::forward;
    use super::super::tests::{csr_strategy, t, values};
    use super::*;
    use proptest::prelude::*;

    /// A `batch x n_in` input with the cells of `mask` observed (some exactly `±0`), as a
    /// [`Csr`] and zero-filled feature-major.
    fn observed(batch: usize, n_in: usize, mask: &[bool], seed: &[f32]) -> (Csr, Vec<f32>) {
        let mut x = values(batch * n_in, seed, 1);
        let mut trip = Vec::new();
        for b in 0..batch {
            for i in 0..n_in {
                if mask[(b * n_in + i) % mask.len()] {
                    trip.push((b as u32, i as u32, x[b * n_in + i]));
                } else {
                    x[b * n_in + i] = 0.0;
                }
            }
        }
        let xs = Csr::from_triplets(batch, n_in, trip).unwrap();
        (xs, t(&x, batch, n_in))
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Both products on both paths, as bits: the sparse-input kernels, the dense kernels on
    /// the zero-filled batch, and the choosing entry points.
    fn both_paths(xs: &Csr, xt: &[f32], dzt: &[f32], w: &Csr) -> [Vec<u32>; 6] {
        let (batch, n_out) = (xs.n_rows(), w.n_cols());
        let z = |f: &dyn Fn(&mut [f32])| {
            let mut z = vec![f32::NAN; batch * n_out];
            f(&mut z);
            bits(&z)
        };
        let g = |f: &dyn Fn(&mut [f32])| {
            let mut g = vec![f32::NAN; w.nnz()];
            f(&mut g);
            bits(&g)
        };
        [
            z(&|o| forward_sparse_input(xs, w, o)),
            z(&|o| forward(xt, batch, w, o)),
            z(&|o| {
                let _ = forward_absent(&mut PathChooser::forward(), xs, xt, w, &mut Vec::new(), o);
            }),
            g(&|o| weight_grad_sparse_input(xs, dzt, w, o)),
            g(&|o| weight_grad(xt, dzt, batch, w, o)),
            g(&|o| {
                let _ = weight_grad_absent(&mut PathChooser::weight_grad(), xs, xt, dzt, w, o);
            }),
        ]
    }

    proptest! {
        #[test]
        fn sparse_input_kernels_give_the_bits_of_the_dense_kernels(
                w in csr_strategy(10, 40), batch in 1usize..40,
                mask in proptest::collection::vec(any::<bool>(), 1..100),
                seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (xs, xt) = observed(batch, w.n_rows(), &mask, &seed);
            let dzt = t(&values(batch * w.n_cols(), &seed, 5), batch, w.n_cols());
            let [zs, zd, za, gs, gd, ga] = both_paths(&xs, &xt, &dzt, &w);
            prop_assert_eq!(&zs, &zd);
            prop_assert_eq!(&za, &zd);
            prop_assert_eq!(&gs, &gd);
            prop_assert_eq!(&ga, &gd);
            // Every vector level's forward row kernel, example by example over all outputs.
            let n_out = w.n_cols();
            let spans: Vec<Range<usize>> = (0..w.n_rows()).map(|i| w.row_range(i)).collect();
            for level in SimdLevel::available().into_iter().filter(|_| n_out > 0) {
                let mut z = vec![f32::NAN; batch * n_out];
                for (b, z) in z.chunks_exact_mut(n_out).enumerate() {
                    z.fill(0.0);
                    let q = xs.row_range(b);
                    let inputs = (&xs.col_idx()[q.clone()], &xs.values()[q]);
                    add_rows_dispatch(level, (z, 0), inputs, &spans, &w);
                }
                prop_assert_eq!(&bits(&t(&z, batch, n_out)), &zd, "level {}", level.name());
            }
            // Every vector level's row kernel, row by row as the parallel blocks call it.
            let xc = xs.csc_index();
            for level in SimdLevel::available() {
                let mut g = vec![f32::NAN; w.nnz()];
                for i in 0..w.n_rows() {
                    let obs = xc.col_ptr[i]..xc.col_ptr[i + 1];
                    let ex: Vec<u32> = obs.clone().map(|q| xc.row_idx.get(q) as u32).collect();
                    let va: Vec<f32> = obs.map(|q| xs.values()[xc.csr_pos[q] as usize]).collect();
                    let span = w.row_range(i);
                    entry_sums_at(level, &mut g[span.clone()], &w.col_idx()[span], &ex, &va,
                                  &dzt, batch);
                }
                prop_assert_eq!(&bits(&g), &gd, "level {}", level.name());
            }
        }
    }

    /// Big enough for the parallel paths, with rows longer than one vector of entries, and
    /// observed shares on both sides of the thresholds.
    #[test]
    fn parallel_sparse_input_kernels_keep_the_dense_bits() {
        let (n_in, n_out, batch) = (300usize, 700usize, 64usize);
        let mut trip = Vec::new();
        for i in 0..n_in {
            for j in (i % 7..n_out).step_by(2 + i % 9) {
                trip.push((
                    i as u32,
                    j as u32,
                    ((i * 13 + j * 7) % 17) as f32 / 17.0 - 0.5,
                ));
            }
        }
        let w = Csr::from_triplets(n_in, n_out, trip).unwrap();
        let seed: Vec<f32> = (0..11).map(|v| (v as f32 * 0.7).sin()).collect();
        let dzt = t(&values(batch * n_out, &seed, 5), batch, n_out);
        for every in [1usize, 3, 20] {
            let mask: Vec<bool> = (0..97).map(|v| v % every == 0).collect();
            let (xs, xt) = observed(batch, n_in, &mask, &seed);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let [zs, zd, za, gs, gd, ga] = pool.install(|| both_paths(&xs, &xt, &dzt, &w));
                assert!(
                    zs == zd && za == zd,
                    "forward, 1 in {every}, {threads} threads"
                );
                assert!(
                    gs == gd && ga == gd,
                    "weight grad, 1 in {every}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn the_sparse_paths_serve_few_observed_inputs() {
        let w = Csr::from_triplets(4, 3, vec![(0, 0, 1.0), (1, 1, 1.0), (3, 2, 1.0)]).unwrap();
        let batch = 32;
        for (every, path) in [(1usize, InputPath::ZeroFilled), (64, InputPath::Observed)] {
            let mask: Vec<bool> = (0..128).map(|v| v % every == 0).collect();
            let (xs, xt) = observed(batch, 4, &mask, &[0.5, -0.25]);
            let mut z = vec![0.0; batch * 3];
            let mut paths = AbsentPaths::default();
            let f = forward_absent(&mut paths.forward, &xs, &xt, &w, &mut Vec::new(), &mut z);
            assert_eq!(f, path);
            let mut g = vec![0.0; 3];
            let wg = weight_grad_absent(&mut paths.weight_grad, &xs, &xt, &z, &w, &mut g);
            assert_eq!(wg, path);
        }
    }

    /// Far from the prior the prior decides and nothing is timed; near it, each batch size
    /// and share bucket times both paths [`TRIALS`] times, then keeps the faster.
    #[test]
    fn the_chooser_times_both_paths_near_its_prior_then_keeps_the_faster() {
        let mut c = PathChooser::new(0.1);
        for (share, prior) in [(0.01, InputPath::Observed), (0.5, InputPath::ZeroFilled)] {
            c.record(128, share, prior, 1.0);
            assert_eq!(c.choose(128, share), prior);
        }
        assert!(c.cells.is_empty(), "nothing recorded outside the band");
        // At 0.15 the prior says zero-filled, but the sparse path is measured faster.
        let share = 0.15;
        assert_eq!(c.choose(128, share), InputPath::ZeroFilled);
        let mut order = Vec::new();
        for _ in 0..2 * TRIALS {
            let path = c.choose(128, share);
            order.push(path);
            let seconds = if path == InputPath::Observed {
                1.0
            } else {
                2.0
            };
            c.record(128, share, path, seconds);
        }
        let observed = order.iter().filter(|&&p| p == InputPath::Observed).count();
        assert_eq!(
            observed as u32, TRIALS,
            "each path timed {TRIALS} times: {order:?}"
        );
        assert_eq!(c.choose(128, share), InputPath::Observed);
        // Another batch size, or a share in another bucket, is measured afresh.
        assert_eq!(c.cell(100, share).map(|x| x.runs), None);
        assert_eq!(c.cell(128, 0.2).map(|x| x.runs), None);
        // One slow outlier does not undo the choice: the best timing counts.
        c.record(128, share, InputPath::Observed, 50.0);
        assert_eq!(c.choose(128, share), InputPath::Observed);
    }
}
