//! The products of training a sparse layer on a batch, each `O(batch x nnz)`.
//!
//! Activations are stored **feature-major** ("batch-contiguous"): a `features x batch` buffer
//! holds the whole batch's values of feature `i` at `[i * batch .. (i + 1) * batch]`. The
//! model keeps its activations in this layout from the first layer to the last, so that with
//! `W` an `n_in x n_out` [`Csr`]:
//! - [`forward`]: `Zᵀ = (X W)ᵀ`, each output row `Zᵀ[j, :]` a sum of `w_ij Xᵀ[i, :]` over the
//!   column `j` of `W` (its cached column view);
//! - [`input_grad`]: `dXᵀ = (dZ Wᵀ)ᵀ`, each row `dXᵀ[i, :]` a sum of `w_ij dZᵀ[j, :]` over row
//!   `i` of `W`;
//! - [`weight_grad`]: `dW = Xᵀ dZ` at the stored entries only (an SDDMM), each entry a dot
//!   product of two contiguous rows `Xᵀ[i, :] · dZᵀ[j, :]`;
//! - [`forward_sparse_input`] and [`weight_grad_sparse_input`]: the same with `X` a [`Csr`]
//!   of observed entries (missing inputs absent), with the bits of the dense kernels on the
//!   zero-filled batch; [`forward_absent`] and [`weight_grad_absent`] run whichever is faster
//!   (module `sparse_input`);
//! - [`input_and_weight_grad`]: [`input_grad`] (or [`input_grad_relu`]) and the SDDMM in one
//!   sweep over the rows of `W`, each gathered row of `dZᵀ` serving both (module `backward`);
//! - [`dense_scores`]: `|Xᵀ dZ|` for a block of rows, the streamed growth score of RigL.
//!
//! So the inner loop of every product runs over the batch, contiguous in memory: a vector
//! multiply-add over `batch` values per stored weight, in registers for blocks of
//! [`LANES`] examples ([`crate::simd`] picks the vector width at run time).
//!
//! Every output element is a sum taken in one fixed order, whatever the number of threads and
//! the vector width, so results are bit-identical with and without parallelism and across
//! CPUs. Outputs are split between threads by rows, never shared. Work below
//! [`PAR_THRESHOLD`] multiply-adds runs on the calling thread, where rayon's overhead would
//! dominate.

use crate::csr::{Csr, IndexSlice};
use crate::multiversion;

mod backward;
mod sparse_input;
mod transpose;
use crate::simd::{self, SimdLevel};
pub use backward::{
    input_and_weight_grad, input_and_weight_grad_at, input_and_weight_grad_step,
    input_and_weight_grad_step_at, LayerInput,
};
use rayon::prelude::*;
pub use sparse_input::{
    forward_absent, forward_sparse_input, sparse_input_work, weight_grad_absent,
    weight_grad_sparse_input, AbsentPaths, InputPath, PathChooser, FORWARD_SPARSE_BELOW,
    WEIGHT_GRAD_SPARSE_BELOW,
};
pub use transpose::{
    transpose, transpose_at, transpose_rows, transpose_rows_at, transpose_tile_u32,
    transpose_tile_u32_part,
};

/// Multiply-adds below which a kernel stays on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 17;

/// Examples one pass of the axpy kernels keeps in registers (four AVX-512 or eight AVX2
/// registers): four blocks of 16.
pub const LANES: usize = 16 * PASS_BLOCKS;

/// Partial sums of a dot product over the batch: lane `l` sums the examples `t ≡ l (mod 16)`.
const DOT_LANES: usize = 16;

/// Multiply-adds a parallel task should get at least (so tasks are not too small).
const TASK_WORK: usize = 1 << 14;

fn check_dense(name: &str, buf: &[f32], rows: usize, cols: usize) {
    assert_eq!(
        buf.len(),
        rows * cols,
        "{name} has {} elements, expected {rows} x {cols}",
        buf.len()
    );
}

/// Rows per parallel task so that each task has about [`TASK_WORK`] multiply-adds.
fn rows_per_task(rows: usize, work: usize) -> usize {
    let per_row = (work / rows.max(1)).max(1);
    (TASK_WORK / per_row).clamp(1, rows.max(1))
}

/// Runs `f(first_row, rows_chunk)` over `out` split into whole rows of `width` values,
/// in parallel when `work` (multiply-adds) is large.
fn for_row_chunks(
    out: &mut [f32],
    width: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    for_aligned_row_chunks(out, width, work, 1, f)
}

/// [`for_row_chunks`] in chunks of a multiple of `align` rows (but the last).
fn for_aligned_row_chunks(
    out: &mut [f32],
    width: usize,
    work: usize,
    align: usize,
    f: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    if width == 0 || out.is_empty() {
        return;
    }
    let rows = out.len() / width;
    if work < PAR_THRESHOLD {
        f(0, out);
    } else {
        let per = rows_per_task(rows, work).next_multiple_of(align.max(1));
        out.par_chunks_mut(per * width)
            .enumerate()
            .for_each(|(c, chunk)| f(c * per, chunk));
    }
}

/// Stored entries ahead whose row of `dZᵀ` the weight gradient and the backward sweep ask the
/// cache for ([`prefetch_lines`]). Both do enough work per entry (a 16-lane tree, and in the
/// sweep forty vector operations) that the loads of the next entries do not start early by
/// themselves: the sweep of 4000 x 4000 at 1%, batch 128, ran at 65% of the speed of its row
/// gathers. With the rows of 8 entries ahead fetched, it took 0.90-0.93 ms against 1.23-1.45
/// (2 threads) and 1.9 against 2.4-2.5 (1 thread), the weight gradient 0.83-0.88 against
/// 1.03-1.04 (784 x 4000: 0.18-0.20 against 0.24-0.27); 16 ahead was no better, 32 worse
/// (scratch program, interleaved rounds, Intel Xeon).
const PREFETCH_AHEAD: usize = 8;

/// Size of `dZᵀ` from which the weight gradient prefetches. Where `dZᵀ` fits well inside
/// the core's second-level cache, its rows come fast anyway and the prefetches only add to
/// the loop: at 4000 x 4000 at 1% the weight gradient ran 0.88x as fast with them at batch 32
/// (512 KB), 1.1x at batch 64 (1 MB), 1.2x at batch 128; at 3072 x 1024, batch 100 (400 KB),
/// no faster (same scratch program). The sweep, with more work per entry to hide them
/// behind, prefetches at every size (4000 x 4000 at 1%, batch 32: 0.32-0.33 ms against
/// 0.34-0.36; batch 10: the same).
const SDDMM_PREFETCH_FROM_BYTES: usize = 1 << 20;

/// Asks the cache for the lines of `buf[start..start + len]` (a hint: it reads nothing).
#[inline(always)]
fn prefetch_lines(buf: &[f32], start: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let first = buf.as_ptr().wrapping_add(start).cast::<i8>();
        for line in (0..len).step_by(16) {
            // SAFETY: a prefetch reads nothing and cannot fault, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(4 * line)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (buf, start, len);
}

/// `acc[t] += w * x[t]` for one block of `L` examples; kept in registers by the caller's loop.
#[inline(always)]
fn axpy_block<const L: usize>(acc: &mut [f32; L], w: f32, x: &[f32]) {
    let x: &[f32; L] = x[..L].try_into().expect("block of L values");
    for l in 0..L {
        acc[l] += w * x[l];
    }
}

/// Blocks of 16 examples one pass of [`weighted_row_sum`] keeps in registers. Eight (128
/// examples in one pass) measured slower at batch 128 (4000 x 4000 at 1%, Xeon: 1.78 ms
/// against 1.62 per forward product).
const PASS_BLOCKS: usize = 4;

/// `out[t] = Σ_p w_p · src[rows_p * batch + t]` for every `t`, the terms `p` in the given
/// order, starting from 0: the body of the forward and input-gradient kernels for one output
/// row. Each pass keeps up to [`PASS_BLOCKS`] blocks of 16 examples in registers and walks
/// the terms once (reloading each index and weight), so a pass takes as many blocks as are
/// left: a batch of 100 is two passes, 64 + 36, where passes of 64 or 16 examples made it
/// four (64 + 16 + 16 + 4; measured 0.32 ms against 0.23 for the forward product of
/// 3072 x 1024 at 1%, one thread, Xeon).
/// `at` is the position of `out[0]` in the whole output, for a [`RowStore`] that reads
/// values beside it.
#[inline(always)]
fn weighted_row_sum(
    out: &mut [f32],
    at: usize,
    store: RowStore,
    src: Source,
    terms: impl Iterator<Item = (usize, f32)> + Clone,
) {
    let mut t0 = 0;
    while t0 < src.batch {
        let blocks = (src.batch - t0).div_ceil(16);
        let (t, out) = (terms.clone(), &mut *out);
        t0 += match blocks {
            1 => row_sum_pass::<1>(out, at, store, src, t0, t),
            2 => row_sum_pass::<2>(out, at, store, src, t0, t),
            3 => row_sum_pass::<3>(out, at, store, src, t0, t),
            _ => row_sum_pass::<PASS_BLOCKS>(out, at, store, src, t0, t),
        };
    }
}

/// The feature-major buffer whose rows the forward and input-gradient kernels gather
/// (`batch` values per row), and how a pass that ends inside a 16-lane block reads them.
#[derive(Clone, Copy)]
pub(crate) struct Source<'a> {
    values: &'a [f32],
    batch: usize,
    partial: PartialBlocks,
}

impl<'a> Source<'a> {
    /// `values`, `rows x batch`, read as fast as `level` allows.
    fn new(level: SimdLevel, values: &'a [f32], batch: usize) -> Self {
        Source {
            values,
            batch,
            partial: PartialBlocks::at(level),
        }
    }
}

/// How [`row_sum_pass`] reads the rows of a pass that ends inside a 16-lane block: every pass
/// of a batch of 10, the last of a batch of 100.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PartialBlocks {
    /// AVX-512 masked loads of the pass's lanes only (`avx512::masked_pass`); made only by
    /// [`PartialBlocks::at`], where the CPU has AVX-512F. The portable loop (`Portable`) kept
    /// its accumulators on the stack (a store of one every term, `perf annotate`) and ran the
    /// input gradient of 1000 x 1000 at 1%, batch 10, at 0.74x the speed of `efd65c6`'s
    /// loop; this one at 0.95-1.03x there, and at 1.3x (input gradient) and 1.2-1.5x
    /// (forward) of `efd65c6` at 4000 x 4000 (scratch program, interleaved runs, Xeon).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Masked,
    /// Whole 16-lane blocks where the buffer goes on past them, a copy where it does not.
    Portable,
}

impl PartialBlocks {
    fn at(level: SimdLevel) -> Self {
        #[cfg(target_arch = "x86_64")]
        if simd::supported(level) == SimdLevel::Avx512 {
            return PartialBlocks::Masked;
        }
        let _ = level;
        PartialBlocks::Portable
    }
}

/// What the forward and input-gradient kernels do with a row's sums.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowStore<'a> {
    /// Overwrite the output with them.
    Sums,
    /// The backward pass through ReLU and dropout, fused into the store: `sum · scale` where
    /// the layer's output is positive (there its pre-activation is, and the unit was kept),
    /// 0 elsewhere; the same operations as a separate pass after [`Self::Sums`], so the same
    /// bits. `outputs`: the layer's output, laid out as the destination; `None` when the
    /// destination holds it (the delta overwrites the output, each value read before its own
    /// store).
    ReluGate {
        outputs: Option<&'a [f32]>,
        scale: f32,
    },
}

impl RowStore<'_> {
    /// Stores `sums` into `out`, whose first value is at `at` in the whole output.
    #[inline(always)]
    fn put(self, out: &mut [f32], at: usize, sums: &[f32]) {
        let sums = &sums[..out.len()];
        let gate = |s: f32, a: f32, scale: f32| if a > 0.0 { s * scale } else { 0.0 };
        match self {
            RowStore::Sums => copy_lanes(out, sums),
            RowStore::ReluGate {
                outputs: Some(outputs),
                scale,
            } => {
                let outputs = &outputs[at..at + out.len()];
                for ((o, &s), &a) in out.iter_mut().zip(sums).zip(outputs) {
                    *o = gate(s, a, scale);
                }
            }
            RowStore::ReluGate {
                outputs: None,
                scale,
            } => {
                for (o, &s) in out.iter_mut().zip(sums) {
                    *o = gate(s, *o, scale);
                }
            }
        }
    }
}

/// `out.copy_from_slice(&src[..out.len()])` for the lanes of one register pass (at most
/// [`LANES`]) in fixed-width pieces (32, 16, 8, 4, 2, 1), which compile to register moves:
/// the copy of a length known only at run time is a call to `memmove`, which took a fifth of
/// the time of the forward and input-gradient products at batch 10, where every row stores
/// 10 sums (1000 x 1000 at 1%, one thread, `perf`).
#[inline(always)]
fn copy_lanes(out: &mut [f32], src: &[f32]) {
    #[inline(always)]
    fn piece<const W: usize>(out: &mut [f32], src: &[f32], at: &mut usize) {
        while out.len() - *at >= W {
            let o: &mut [f32; W] = (&mut out[*at..*at + W]).try_into().expect("W values");
            *o = src[*at..*at + W].try_into().expect("W values");
            *at += W;
        }
    }
    let mut at = 0;
    piece::<32>(out, src, &mut at);
    piece::<16>(out, src, &mut at);
    piece::<8>(out, src, &mut at);
    piece::<4>(out, src, &mut at);
    piece::<2>(out, src, &mut at);
    piece::<1>(out, src, &mut at);
}

/// One pass of [`weighted_row_sum`]: examples `t0..` in `B` register blocks of 16; returns
/// how many it stored (the last block may be partial). A partial block takes masked loads
/// where the CPU has them ([`PartialBlocks`]); otherwise it reads whole 16-lane blocks past
/// the batch where the buffer goes on (those lanes hold the next row's values and are never
/// stored), and only terms whose row ends the buffer copy their lanes first (zeros past
/// them). Each stored lane is `acc += w · x` term by term on every path, so all give the
/// same bits.
#[inline(always)]
fn row_sum_pass<const B: usize>(
    out: &mut [f32],
    at: usize,
    store: RowStore,
    source: Source,
    t0: usize,
    terms: impl Iterator<Item = (usize, f32)>,
) -> usize {
    let Source {
        values: src,
        batch,
        partial,
    } = source;
    let lanes = (batch - t0).min(16 * B);
    let mut acc = [[0.0f32; 16]; B];
    if lanes == 16 * B {
        // Whole blocks: every read stays in its own row, so no term needs the check below
        // (checking every term: 1.9 ms against 1.6 for the forward product of 4000 x 4000 at
        // 1%, batch 128, one thread). The two loops stay separate: one closure for both kept
        // `acc` out of registers (2.0 ms there).
        for (i, w) in terms {
            let x = &src[i * batch + t0..];
            for (k, a) in acc.iter_mut().enumerate() {
                axpy_block(a, w, &x[16 * k..]);
            }
        }
        store.put(&mut out[t0..t0 + lanes], at + t0, acc.as_flattened());
        return lanes;
    }
    #[cfg(target_arch = "x86_64")]
    if partial == PartialBlocks::Masked {
        // SAFETY: `Masked` is made only where the CPU has AVX-512F.
        return unsafe { avx512::masked_pass::<B>(out, at, store, source, t0, terms) };
    }
    for (i, w) in terms {
        let start = i * batch + t0;
        if start + 16 * B <= src.len() {
            for (k, a) in acc.iter_mut().enumerate() {
                axpy_block(a, w, &src[start + 16 * k..]);
            }
        } else {
            let mut x = [[0.0f32; 16]; B];
            copy_lanes(&mut x.as_flattened_mut()[..lanes], &src[start..]);
            for (a, x) in acc.iter_mut().zip(&x) {
                axpy_block(a, w, x);
            }
        }
    }
    store.put(&mut out[t0..t0 + lanes], at + t0, acc.as_flattened());
    lanes
}

/// `Σ_{t < n} a[t] b[t]` in a fixed order: lane `l` sums the terms `t ≡ l (mod 16)` in
/// increasing `t`, then the lanes are added pairwise (`l` with `l + 8`, then `l + 4`, ...).
/// `a` and `b` may extend past `n` (the rest of a feature-major buffer): the last partial
/// block is then read whole and its extra lanes masked to 0, which gives the same sums as
/// the lane-by-lane loop used when they do not.
#[inline(always)]
fn dot(a: &[f32], b: &[f32], n: usize) -> f32 {
    let mut acc = [0.0f32; DOT_LANES];
    let mut t0 = 0;
    while t0 + DOT_LANES <= n {
        let x: &[f32; DOT_LANES] = a[t0..t0 + DOT_LANES].try_into().expect("block");
        let y: &[f32; DOT_LANES] = b[t0..t0 + DOT_LANES].try_into().expect("block");
        for l in 0..DOT_LANES {
            acc[l] += x[l] * y[l];
        }
        t0 += DOT_LANES;
    }
    let rem = n - t0;
    if rem > 0 && a.len() >= t0 + DOT_LANES && b.len() >= t0 + DOT_LANES {
        let x: &[f32; DOT_LANES] = a[t0..t0 + DOT_LANES].try_into().expect("block");
        let y: &[f32; DOT_LANES] = b[t0..t0 + DOT_LANES].try_into().expect("block");
        for l in 0..DOT_LANES {
            acc[l] += if l < rem { x[l] * y[l] } else { 0.0 };
        }
    } else {
        for l in 0..rem {
            acc[l] += a[t0 + l] * b[t0 + l];
        }
    }
    let mut width = DOT_LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// A row index the gathering kernels read: `u16` (a narrow column view) or `u32`.
trait RowIndex: Copy {
    fn at(self) -> usize;
}

impl RowIndex for u16 {
    #[inline(always)]
    fn at(self) -> usize {
        self as usize
    }
}

impl RowIndex for u32 {
    #[inline(always)]
    fn at(self) -> usize {
        self as usize
    }
}

/// Where the forward product reads each term's weight.
#[derive(Clone, Copy)]
pub(crate) enum ColumnWeights<'a> {
    /// Gathered into column-view order first ([`gather_by_column`]): batches of more than
    /// one pass read each weight once per pass, so the gather pays for itself there.
    /// `values[p - base]` is the weight at column-view position `p` (the buffer holds one
    /// group of columns, starting at position `base`).
    InOrder { values: &'a [f32], base: usize },
    /// Through the column view's CSR positions: a batch of one pass reads each weight once
    /// anyway, and the gather would be a pass over the non-zeros on top (measured: the
    /// forward product of 4000 x 4000 at 1%, batch 10, ran at 0.73x the speed of `efd65c6`,
    /// which read this way).
    ByPosition {
        values: &'a [f32],
        csr_pos: &'a [u32],
    },
}

#[inline(always)]
fn forward_rows<I: RowIndex>(
    zt: &mut [f32],
    first: usize,
    xt: Source,
    col_ptr: &[usize],
    row_idx: &[I],
    weights: ColumnWeights,
) {
    for (r, zrow) in zt.chunks_exact_mut(xt.batch).enumerate() {
        let j = first + r;
        let span = col_ptr[j]..col_ptr[j + 1];
        let at = j * xt.batch;
        match weights {
            ColumnWeights::InOrder { values, base } => {
                let values = &values[..span.end - base];
                let terms = span.map(|p| (row_idx[p].at(), values[p - base]));
                weighted_row_sum(zrow, at, RowStore::Sums, xt, terms);
            }
            ColumnWeights::ByPosition { values, csr_pos } => {
                let terms = span.map(|p| (row_idx[p].at(), values[csr_pos[p] as usize]));
                weighted_row_sum(zrow, at, RowStore::Sums, xt, terms);
            }
        }
    }
}
multiversion!(forward_rows_at => forward_rows(
    zt: &mut [f32], first: usize, xt: Source<'_>, col_ptr: &[usize],
    row_idx: &[u32], weights: ColumnWeights<'_>
));
multiversion!(forward_rows_narrow_at => forward_rows(
    zt: &mut [f32], first: usize, xt: Source<'_>, col_ptr: &[usize],
    row_idx: &[u16], weights: ColumnWeights<'_>
));

/// `Zᵀ = (X W)ᵀ`: `xt` is `n_in x batch`, `zt` (overwritten) is `n_out x batch`.
///
/// Each output row is summed over the inputs of its column in increasing input order, the
/// order of a naive loop, so the result equals the textbook product bit for bit.
pub fn forward(xt: &[f32], batch: usize, w: &Csr, zt: &mut [f32]) {
    forward_with(xt, batch, w, &mut Vec::new(), zt)
}

/// [`forward`] with `by_column` as the buffer of the weights in column-view order, kept
/// between calls (the model keeps one for all its layers). When the batch takes more than
/// one pass of register blocks (more than 64 examples), the weights are gathered into it once
/// per call, a pass over the non-zeros, so that the product reads them in order instead of
/// through the column view's CSR positions once per pass (measured: that gather held the
/// product to 61% of its roofline, 4000 x 4000 at 1%, batch 128); smaller batches read them
/// through the positions, once, and leave the buffer alone (`ColumnWeights`). The weights are
/// gathered a group of columns at a time, at most [`BY_COLUMN_GROUP`] of them (a column with
/// more alone), so the buffer stays small whatever the layer.
pub fn forward_with(xt: &[f32], batch: usize, w: &Csr, by_column: &mut Vec<f32>, zt: &mut [f32]) {
    forward_at(simd::level(), xt, batch, w, by_column, zt)
}

/// [`forward_with`], then `then(first_row, rows)` on each run of output rows (of `zt`) in
/// the task that wrote it, while the rows are in cache: a layer's bias, activation and
/// dropout fused into its product, without a pass of their own over the layer's output (nor
/// the second thread woken once more for it; the 784-4000-4000-4000-10 SET epoch at 1%:
/// medians of 30 epochs 0.517 against 0.521 s, minima 0.478 against 0.487, the two
/// interleaved in a scratch program). The runs are whole multiples of `align` rows
/// (a tile of the dropout's draw), but the last and where a column alone exceeds
/// [`BY_COLUMN_GROUP`]; every output row is in exactly one run.
pub fn forward_then(
    xt: &[f32],
    batch: usize,
    w: &Csr,
    by_column: &mut Vec<f32>,
    zt: &mut [f32],
    align: usize,
    then: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    let (level, group) = (simd::level(), BY_COLUMN_GROUP);
    forward_in_groups(level, xt, batch, w, by_column, zt, group, align, then)
}

/// Weights [`forward_with`] gathers into column order at a time: 4 MiB of buffer, where a
/// whole layer of 13 million connections (the million-neuron network's hidden layers) would
/// take 53 MB, 1.5 bytes per connection of that network.
pub const BY_COLUMN_GROUP: usize = 1 << 20;

/// `out[p - positions.start] = w.values()[csr_pos[p]]` for the column-view positions
/// `positions`: those weights in the order of the column view.
fn gather_by_column(w: &Csr, positions: std::ops::Range<usize>, out: &mut Vec<f32>) {
    let (pos, values) = (&w.csc_index().csr_pos[positions], w.values());
    if out.len() < pos.len() {
        // Exactly: a doubling growth would hold up to twice the largest group.
        out.reserve_exact(pos.len() - out.len());
        out.resize(pos.len(), 0.0);
    }
    let out = &mut out[..pos.len()];
    let gather = |(o, p): (&mut [f32], &[u32])| {
        for (o, &p) in o.iter_mut().zip(p) {
            *o = values[p as usize];
        }
    };
    if pos.len() < TASK_WORK {
        gather((out, pos));
    } else {
        out.par_chunks_mut(TASK_WORK)
            .zip(pos.par_chunks(TASK_WORK))
            .for_each(gather);
    }
}

/// [`forward_with`] at a given vector level (to compare levels in tests and benches).
pub fn forward_at(
    level: SimdLevel,
    xt: &[f32],
    batch: usize,
    w: &Csr,
    by_column: &mut Vec<f32>,
    zt: &mut [f32],
) {
    let no_more = |_: usize, _: &mut [f32]| {};
    forward_in_groups(
        level,
        xt,
        batch,
        w,
        by_column,
        zt,
        BY_COLUMN_GROUP,
        1,
        no_more,
    )
}

/// [`forward_at`] gathering the weights in column order `group` at a time, with
/// [`forward_then`]'s `then` on runs of `align` rows.
#[allow(clippy::too_many_arguments)] // the product's operands, and what follows it
fn forward_in_groups(
    level: SimdLevel,
    xt: &[f32],
    batch: usize,
    w: &Csr,
    by_column: &mut Vec<f32>,
    zt: &mut [f32],
    group: usize,
    align: usize,
    then: impl Fn(usize, &mut [f32]) + Sync + Send,
) {
    check_dense("xt", xt, w.n_rows(), batch);
    check_dense("zt", zt, w.n_cols(), batch);
    if batch == 0 {
        return;
    }
    let n_out = w.n_cols();
    let csc = w.csc_index();
    let col_ptr = &csc.col_ptr[..];
    let xt = Source::new(level, xt, batch);
    // The outputs `columns` (rows of `zt`) with their weights read through `weights`.
    let outputs = |columns: std::ops::Range<usize>, zt: &mut [f32], weights: ColumnWeights| {
        let work = batch * (col_ptr[columns.end] - col_ptr[columns.start]);
        let zt = &mut zt[columns.start * batch..columns.end * batch];
        let j0 = columns.start;
        match csc.row_idx.as_slice() {
            IndexSlice::Narrow(rows) => {
                for_aligned_row_chunks(zt, batch, work, align, |first, chunk| {
                    forward_rows_narrow_at(level, chunk, j0 + first, xt, col_ptr, rows, weights);
                    then(j0 + first, chunk);
                })
            }
            IndexSlice::Wide(rows) => {
                for_aligned_row_chunks(zt, batch, work, align, |first, chunk| {
                    forward_rows_at(level, chunk, j0 + first, xt, col_ptr, rows, weights);
                    then(j0 + first, chunk);
                })
            }
        }
    };
    if batch <= 16 * PASS_BLOCKS {
        let weights = ColumnWeights::ByPosition {
            values: w.values(),
            csr_pos: &csc.csr_pos,
        };
        return outputs(0..n_out, zt, weights);
    }
    let mut j0 = 0;
    while j0 < n_out {
        let base = col_ptr[j0];
        let within = col_ptr[j0 + 1..].partition_point(|&p| p - base <= group);
        let mut j1 = j0 + within.max(1);
        // A group ends on a multiple of `align` where it can, so that the runs after it do.
        let aligned = j1 - j1 % align.max(1);
        if j1 < n_out && aligned > j0 {
            j1 = aligned;
        }
        gather_by_column(w, base..col_ptr[j1], by_column);
        let values = &by_column[..col_ptr[j1] - base];
        outputs(j0..j1, zt, ColumnWeights::InOrder { values, base });
        j0 = j1;
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)] // the CSR's slices as stored, as `weight_grad_rows_by`
fn input_grad_rows(
    dxt: &mut [f32],
    first: usize,
    store: RowStore,
    dzt: Source,
    row_ptr: &[usize],
    col_idx: &[u32],
    values: &[f32],
) {
    for (r, drow) in dxt.chunks_exact_mut(dzt.batch).enumerate() {
        let i = first + r;
        let span = row_ptr[i]..row_ptr[i + 1];
        let terms = span.map(|k| (col_idx[k] as usize, values[k]));
        weighted_row_sum(drow, i * dzt.batch, store, dzt, terms);
    }
}
multiversion!(input_grad_rows_at => input_grad_rows(
    dxt: &mut [f32], first: usize, store: RowStore<'_>, dzt: Source<'_>,
    row_ptr: &[usize], col_idx: &[u32], values: &[f32]
));

/// `dXᵀ = (dZ Wᵀ)ᵀ`: `dzt` is `n_out x batch`, `dxt` (overwritten) is `n_in x batch`.
///
/// Each row sums over the outputs of its CSR row in increasing output order.
pub fn input_grad(dzt: &[f32], batch: usize, w: &Csr, dxt: &mut [f32]) {
    input_grad_at(simd::level(), dzt, batch, w, dxt)
}

/// [`input_grad`] at a given vector level.
pub fn input_grad_at(level: SimdLevel, dzt: &[f32], batch: usize, w: &Csr, dxt: &mut [f32]) {
    input_grad_stored(level, dzt, batch, w, RowStore::Sums, dxt)
}

/// The delta of a ReLU layer (with dropout) from the next layer's: `dXᵀ = (dZ Wᵀ)ᵀ`, then
/// `· scale` where the layer's output is positive and 0 elsewhere, in the kernel's store
/// instead of a pass of its own. `outputs` is that output (`n_in x batch`, activated and
/// dropped out); `None` reads it from `dxt` itself, which the delta then overwrites: a
/// training step whose activations no one reads after the backward pass needs no buffer for
/// its deltas. `scale` is dropout's `1 / (1 - p)`, or 1 without dropout. Each value equals
/// [`input_grad`] followed by that gate, bit for bit.
pub fn input_grad_relu(
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    outputs: Option<&[f32]>,
    scale: f32,
    dxt: &mut [f32],
) {
    input_grad_relu_at(simd::level(), dzt, batch, w, outputs, scale, dxt)
}

/// [`input_grad_relu`] at a given vector level.
pub fn input_grad_relu_at(
    level: SimdLevel,
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    outputs: Option<&[f32]>,
    scale: f32,
    dxt: &mut [f32],
) {
    if let Some(outputs) = outputs {
        check_dense("outputs", outputs, w.n_rows(), batch);
    }
    let store = RowStore::ReluGate { outputs, scale };
    input_grad_stored(level, dzt, batch, w, store, dxt)
}

fn input_grad_stored(
    level: SimdLevel,
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    store: RowStore,
    dxt: &mut [f32],
) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("dzt", dzt, n_out, batch);
    check_dense("dxt", dxt, n_in, batch);
    if batch == 0 {
        return;
    }
    let (row_ptr, col_idx, values) = (w.row_ptr(), w.col_idx(), w.values());
    let dzt = Source::new(level, dzt, batch);
    for_row_chunks(dxt, batch, batch * w.nnz(), |first, chunk| {
        input_grad_rows_at(level, chunk, first, store, dzt, row_ptr, col_idx, values)
    });
}

#[inline(always)]
fn gather_rows_body(
    out: &mut [f32],
    first: usize,
    src: Source,
    ptr: &[usize],
    rows: &[impl RowIndex],
) {
    for (r, orow) in out.chunks_exact_mut(src.batch).enumerate() {
        let span = ptr[first + r]..ptr[first + r + 1];
        // A weight of 1 folds away: the loop is the products' loads and adds, no multiply.
        let terms = span.map(|p| (rows[p].at(), 1.0f32));
        weighted_row_sum(orow, (first + r) * src.batch, RowStore::Sums, src, terms);
    }
}
multiversion!(gather_rows_at => gather_rows_body(
    out: &mut [f32], first: usize, src: Source<'_>, ptr: &[usize], rows: &[u32]
));
multiversion!(gather_rows_narrow_at => gather_rows_body(
    out: &mut [f32], first: usize, src: Source<'_>, ptr: &[usize], rows: &[u16]
));

/// `out[r, :] = Σ_p src[rows[p], :]` over `p` in `ptr[r]..ptr[r + 1]`, feature-major with
/// `batch` values per row: the row gathers of a product without its multiplies, split
/// between threads as the products are. With the column view (`col_ptr`, `row_idx`) these
/// are the loads of [`forward`]; with the rows (`row_ptr`, `col_idx`) those of [`input_grad`]
/// and, one `dZᵀ` row per stored entry, of [`weight_grad`]. Their rate is the products' memory
/// roofline, measured on the same rows in the same order (`cargo xtask bench`).
pub fn gather_rows<'a>(
    src: &[f32],
    batch: usize,
    ptr: &[usize],
    rows: impl Into<IndexSlice<'a>>,
    out: &mut [f32],
) {
    let rows = rows.into();
    let n_out = ptr.len().saturating_sub(1);
    check_dense("out", out, n_out, batch);
    assert!(
        rows.max().is_none_or(|i| (i + 1) * batch <= src.len()),
        "row beyond the source"
    );
    if batch == 0 {
        return;
    }
    let level = simd::level();
    let work = batch * rows.len();
    let src = Source::new(level, src, batch);
    match rows {
        IndexSlice::Narrow(rows) => for_row_chunks(out, batch, work, |first, chunk| {
            gather_rows_narrow_at(level, chunk, first, src, ptr, rows)
        }),
        IndexSlice::Wide(rows) => for_row_chunks(out, batch, work, |first, chunk| {
            gather_rows_at(level, chunk, first, src, ptr, rows)
        }),
    }
}

/// The SDDMM over whole rows `rows` of `W`, each entry one `dot` (the portable [`dot`] or
/// its AVX-512 twin, which give the same bits).
#[inline(always)]
// A hot kernel takes the CSR's and the batch's slices as they are stored, so the inner loops
// index plain slices; a struct of them would be built per row range for nothing.
#[allow(clippy::too_many_arguments)]
fn weight_grad_rows_by(
    dot: impl Fn(&[f32], &[f32], usize) -> f32,
    grad: &mut [f32],
    rows: std::ops::Range<usize>,
    batch: usize,
    xt: &[f32],
    dzt: &[f32],
    row_ptr: &[usize],
    col_idx: &[u32],
) {
    // Two loops, the choice made once: with the test inside the loop, the SDDMM at batches 1
    // and 10 (which never prefetch) took 1.3-1.65x as long (1000 x 1000 at 1%, batch 10: 33
    // us against 20; scratch program, Intel Xeon).
    if size_of_val(dzt) >= SDDMM_PREFETCH_FROM_BYTES {
        sddmm_rows::<true>(dot, grad, rows, batch, xt, dzt, row_ptr, col_idx)
    } else {
        sddmm_rows::<false>(dot, grad, rows, batch, xt, dzt, row_ptr, col_idx)
    }
}

/// The loop of [`weight_grad_rows_by`], with or without prefetching (`PREFETCH`).
#[inline(always)]
#[allow(clippy::too_many_arguments)] // as `weight_grad_rows_by`
fn sddmm_rows<const PREFETCH: bool>(
    dot: impl Fn(&[f32], &[f32], usize) -> f32,
    grad: &mut [f32],
    rows: std::ops::Range<usize>,
    batch: usize,
    xt: &[f32],
    dzt: &[f32],
    row_ptr: &[usize],
    col_idx: &[u32],
) {
    let base = row_ptr[rows.start];
    for i in rows {
        let x = &xt[i * batch..];
        for k in row_ptr[i]..row_ptr[i + 1] {
            if PREFETCH {
                if let Some(&ahead) = col_idx.get(k + PREFETCH_AHEAD) {
                    prefetch_lines(dzt, ahead as usize * batch, batch);
                }
            }
            let j = col_idx[k] as usize;
            grad[k - base] = dot(x, &dzt[j * batch..], batch);
        }
    }
}

#[inline(always)]
fn weight_grad_rows(
    grad: &mut [f32],
    rows: std::ops::Range<usize>,
    batch: usize,
    xt: &[f32],
    dzt: &[f32],
    row_ptr: &[usize],
    col_idx: &[u32],
) {
    weight_grad_rows_by(dot, grad, rows, batch, xt, dzt, row_ptr, col_idx)
}
multiversion!(weight_grad_rows_at => weight_grad_rows(
    grad: &mut [f32], rows: std::ops::Range<usize>, batch: usize, xt: &[f32], dzt: &[f32],
    row_ptr: &[usize], col_idx: &[u32]
));

/// `grad[k] = Σ_b X[b, i] dZ[b, j]` for every stored entry `k = (i, j)` of `w` (SDDMM), with
/// `xt` (`n_in x batch`) and `dzt` (`n_out x batch`) feature-major, so every entry is a dot
/// product of two contiguous rows, summed in the fixed lane order of the kernels. Blocks of
/// whole rows of `W` go to different threads. `grad` is overwritten and aligned with
/// `w.values()`.
pub fn weight_grad(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr, grad: &mut [f32]) {
    weight_grad_at(simd::level(), xt, dzt, batch, w, grad)
}

/// [`weight_grad`] at a given vector level.
pub fn weight_grad_at(
    level: SimdLevel,
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    grad: &mut [f32],
) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("xt", xt, n_in, batch);
    check_dense("dzt", dzt, n_out, batch);
    assert_eq!(
        grad.len(),
        w.nnz(),
        "grad must be aligned with the non-zeros"
    );
    let block = weight_grad_block(level, xt, dzt, batch, (w.row_ptr(), w.col_idx()));
    if batch * w.nnz() < PAR_THRESHOLD {
        block((0..n_in, grad));
    } else {
        let per_block = (TASK_WORK / batch.max(1)).max(1);
        row_blocks(w, grad, per_block)
            .into_par_iter()
            .for_each(block);
    }
}

/// The SDDMM of [`weight_grad_at`] for one block of whole rows of the layer whose row
/// pointers and column indices are `pattern`, into the block's slice of the gradient.
fn weight_grad_block<'a>(
    level: SimdLevel,
    xt: &'a [f32],
    dzt: &'a [f32],
    batch: usize,
    (row_ptr, col_idx): (&'a [usize], &'a [u32]),
) -> impl Fn((std::ops::Range<usize>, &mut [f32])) + Sync + Send + 'a {
    #[cfg(target_arch = "x86_64")]
    let avx512 = simd::supported(level) == SimdLevel::Avx512;
    move |(rows, g)| {
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the CPU supports AVX-512 (`supported` checked it).
            return unsafe { avx512::weight_grad_rows(g, rows, batch, xt, dzt, row_ptr, col_idx) };
        }
        weight_grad_rows_at(level, g, rows, batch, xt, dzt, row_ptr, col_idx)
    }
}

/// [`weight_grad`] with no buffer of one value per connection: each block of whole rows of
/// `w` (about `TASK_WORK` multiply-adds) gets its gradients in a scratch buffer of its own
/// size, which `fold(entries, grad, out_block)` then folds into `out_block = &mut
/// out[entries]` (`out` aligned with `w.values()`; an optimizer's momentum, say). The same
/// gradients, bit for bit, and `fold` sees each entry once.
pub fn weight_grad_fold(
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    out: &mut [f32],
    fold: impl Fn(std::ops::Range<usize>, &[f32], &mut [f32]) + Sync + Send,
) {
    weight_grad_fold_at(simd::level(), xt, dzt, batch, w, out, fold)
}

/// [`weight_grad_fold`] at a given vector level.
fn weight_grad_fold_at(
    level: SimdLevel,
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    out: &mut [f32],
    fold: impl Fn(std::ops::Range<usize>, &[f32], &mut [f32]) + Sync + Send,
) {
    check_weight_grad_operands(xt, dzt, batch, w, out);
    let per_block = (TASK_WORK / batch.max(1)).max(1);
    let blocks = row_blocks(w, out, per_block).into_iter();
    let blocks = blocks.map(|(rows, o)| (rows, o, ())).collect();
    let pattern = (w.row_ptr(), w.col_idx());
    let fold = |entries, _: (), g: &[f32], o: &mut [f32]| fold(entries, g, o);
    weight_grad_blocks(level, xt, dzt, batch, pattern, blocks, fold);
}

/// [`weight_grad_fold`] with the layer's update inside its blocks: each block's gradients
/// go into `out` (the momentum) through `fold(weights, grads, out)`, then `step(weights,
/// out)` moves the block's weights while both are in cache, where the weights' half of the
/// SGD step was a pass of its own over the layer. For a layer whose weights nothing reads
/// after its weight gradient (the first layer, which has no input delta to make). The same
/// bits as [`weight_grad_fold`] with `fold` followed by `step` over the layer.
pub fn weight_grad_step(
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    w: &mut Csr,
    out: &mut [f32],
    fold: impl Fn(&[f32], &[f32], &mut [f32]) + Sync + Send,
    step: impl Fn(&mut [f32], &[f32]) + Sync + Send,
) {
    check_weight_grad_operands(xt, dzt, batch, w, out);
    let per_block = (TASK_WORK / batch.max(1)).max(1);
    let (row_ptr, col_idx, mut weights_rest) = w.pattern_and_values_mut();
    let mut blocks = Vec::new();
    for (rows, o) in row_blocks_by(row_ptr, out, per_block) {
        let (weights, tail) = std::mem::take(&mut weights_rest).split_at_mut(o.len());
        blocks.push((rows, o, weights));
        weights_rest = tail;
    }
    let update = |_, weights: &mut [f32], g: &[f32], o: &mut [f32]| {
        fold(weights, g, o);
        step(weights, o);
    };
    let level = simd::level();
    weight_grad_blocks(level, xt, dzt, batch, (row_ptr, col_idx), blocks, update);
}

/// Checks the operands of a folded weight gradient against `w` and `batch`.
fn check_weight_grad_operands(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr, out: &[f32]) {
    check_dense("xt", xt, w.n_rows(), batch);
    check_dense("dzt", dzt, w.n_cols(), batch);
    assert_eq!(out.len(), w.nnz(), "out must be aligned with the non-zeros");
}

/// The SDDMM of [`weight_grad`] over `blocks` of whole rows (each its rows, its entries of
/// `out` and what else `fold` needs of it), each block's gradients made in a scratch buffer
/// of the block's size and handed to `fold(entries, extra, grads, out_block)`, in parallel
/// when the layer's work is large.
fn weight_grad_blocks<B: Send>(
    level: SimdLevel,
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    pattern: (&[usize], &[u32]),
    blocks: Vec<(std::ops::Range<usize>, &mut [f32], B)>,
    fold: impl Fn(std::ops::Range<usize>, B, &[f32], &mut [f32]) + Sync + Send,
) {
    let row_ptr = pattern.0;
    let grad_block = weight_grad_block(level, xt, dzt, batch, pattern);
    let block = |scratch: &mut Vec<f32>, (rows, o, extra): (std::ops::Range<usize>, _, B)| {
        let entries = row_ptr[rows.start]..row_ptr[rows.end];
        scratch.resize(entries.len(), 0.0);
        grad_block((rows, &mut scratch[..]));
        simd::vectorized(|| fold(entries, extra, scratch, o));
    };
    if batch * row_ptr[row_ptr.len() - 1] < PAR_THRESHOLD {
        let mut scratch = Vec::new();
        blocks.into_iter().for_each(|b| block(&mut scratch, b));
    } else {
        blocks.into_par_iter().for_each_init(Vec::new, block);
    }
}

/// Splits `out` (aligned with the entries of `w`) into blocks of whole rows holding about
/// `entries` entries each, for row-wise parallel work without shared writes.
fn row_blocks<'a>(
    w: &Csr,
    out: &'a mut [f32],
    entries: usize,
) -> Vec<(std::ops::Range<usize>, &'a mut [f32])> {
    row_blocks_by(w.row_ptr(), out, entries)
}

/// [`row_blocks`] of the rows `row_ptr` delimits.
fn row_blocks_by<'a>(
    ptr: &[usize],
    out: &'a mut [f32],
    entries: usize,
) -> Vec<(std::ops::Range<usize>, &'a mut [f32])> {
    let n_rows = ptr.len() - 1;
    let mut blocks = Vec::new();
    let mut rest = out;
    let mut start = 0;
    while start < n_rows {
        let mut end = start + 1;
        while end < n_rows && ptr[end] - ptr[start] < entries {
            end += 1;
        }
        let (head, tail) = rest.split_at_mut(ptr[end] - ptr[start]);
        blocks.push((start..end, head));
        rest = tail;
        start = end;
    }
    blocks
}

/// `|Xᵀ dZ|` for the rows of `out`, each entry one `dot` (see [`weight_grad_rows_by`]).
#[inline(always)]
fn dense_score_rows_by(
    dot: impl Fn(&[f32], &[f32], usize) -> f32,
    out: &mut [f32],
    first: usize,
    batch: usize,
    xt: &[f32],
    dzt: &[f32],
) {
    let n_out = dzt.len() / batch;
    for (r, orow) in out.chunks_exact_mut(n_out).enumerate() {
        let x = &xt[(first + r) * batch..];
        for (j, o) in orow.iter_mut().enumerate() {
            *o = dot(x, &dzt[j * batch..], batch).abs();
        }
    }
}

#[inline(always)]
fn dense_score_rows(out: &mut [f32], first: usize, batch: usize, xt: &[f32], dzt: &[f32]) {
    dense_score_rows_by(dot, out, first, batch, xt, dzt)
}
multiversion!(dense_score_rows_at => dense_score_rows(
    out: &mut [f32], first: usize, batch: usize, xt: &[f32], dzt: &[f32]
));

/// `out[r, j] = |Σ_b X[b, rows.start + r] dZ[b, j]|` for a block of input rows and every
/// output: the dense-gradient magnitude that gradient-based growth (RigL, SNFS) ranks empty
/// positions by, computed a block at a time so no `n_in x n_out` buffer is ever held.
/// At a stored entry it equals `|weight_grad|` bit for bit (same dot product).
pub fn dense_scores(
    xt: &[f32],
    dzt: &[f32],
    batch: usize,
    rows: std::ops::Range<usize>,
    out: &mut [f32],
) {
    if batch == 0 {
        out.fill(0.0);
        return;
    }
    let n_out = dzt.len() / batch;
    check_dense("out", out, rows.len(), n_out);
    assert!(rows.end * batch <= xt.len(), "rows beyond the input");
    let level = simd::level();
    let first = rows.start;
    #[cfg(target_arch = "x86_64")]
    let avx512 = simd::supported(level) == SimdLevel::Avx512;
    for_row_chunks(out, n_out, batch * rows.len() * n_out, |r0, chunk| {
        #[cfg(target_arch = "x86_64")]
        if avx512 {
            // SAFETY: the CPU supports AVX-512 (`supported` checked it).
            return unsafe { avx512::dense_score_rows(chunk, first + r0, batch, xt, dzt) };
        }
        dense_score_rows_at(level, chunk, first + r0, batch, xt, dzt)
    });
}

#[inline(always)]
fn row_sums_rows(out: &mut [f32], batch: usize, src: &[f32]) {
    for (o, row) in out.iter_mut().zip(src.chunks_exact(batch)) {
        *o = sum_lanes(row);
    }
}
multiversion!(row_sums_rows_at => row_sums_rows(out: &mut [f32], batch: usize, src: &[f32]));

/// `Σ_t a[t]` in the fixed lane order of [`dot`].
#[inline(always)]
fn sum_lanes(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; DOT_LANES];
    let mut chunks = a.chunks_exact(DOT_LANES);
    for c in &mut chunks {
        for l in 0..DOT_LANES {
            acc[l] += c[l];
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        acc[l] += v;
    }
    let mut width = DOT_LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// `out[j] = Σ_b src[j, b]` for a feature-major `out.len() x batch` buffer (a bias gradient),
/// summed in the fixed lane order of the dot products.
pub fn row_sums(src: &[f32], batch: usize, out: &mut [f32]) {
    check_dense("src", src, out.len(), batch);
    if batch == 0 {
        out.fill(0.0);
        return;
    }
    row_sums_rows_at(simd::level(), out, batch, src)
}

/// The dot-product kernels with explicit AVX-512 instructions. The portable [`dot`] compiles
/// to 2-lane operations (the compiler splits its 16-lane partial sums), a quarter of the width
/// of the other kernels; these compute the same sums in the same order (lane `l` over
/// `t ≡ l (mod 16)`, separate multiply and add, masked tail, then the pairwise tree), so every
/// result is bit-identical to the portable one (tested across levels).
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{RowStore, Source};
    use std::arch::x86_64::*;

    /// [`super::row_sum_pass`] for a pass of `B` blocks whose last is partial: each term
    /// loads the pass's lanes of its row only (masked-off lanes are neither read nor faulted),
    /// so no term needs a copy at the buffer's end. Each lane is `acc + w · x`, a multiply
    /// then an add, as in the portable loop: the same bits.
    ///
    /// Inlined into its caller's loop over rows, which `multiversion!` compiles with AVX-512
    /// enabled; as a function of its own (`#[target_feature]` cannot be inlined always) it
    /// was a call per row, which ran layers of one to four terms a row at 0.53-0.78x the
    /// speed of `efd65c6` (`cargo xtask bench --only kernels --baseline efd65c6` at
    /// `1187509`, density 0.001, batch 10).
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    #[inline(always)]
    pub(super) unsafe fn masked_pass<const B: usize>(
        out: &mut [f32],
        at: usize,
        store: RowStore,
        source: Source,
        t0: usize,
        terms: impl Iterator<Item = (usize, f32)>,
    ) -> usize {
        let Source {
            values: src, batch, ..
        } = source;
        let lanes = (batch - t0).min(16 * B);
        let mut masks: [__mmask16; B] = [0; B];
        for (k, m) in masks.iter_mut().enumerate() {
            *m = ((1u32 << lanes.saturating_sub(16 * k).min(16)) - 1) as u16;
        }
        // SAFETY: the caller's CPU has AVX-512F (this function's contract); a masked load
        // reads only the lanes set in `masks[k]`, which lie in `x`; a store writes the 16
        // values of `sums[k]`.
        let sums = unsafe {
            let mut acc = [_mm512_setzero_ps(); B];
            for (i, w) in terms {
                let x = &src[i * batch + t0..i * batch + t0 + lanes];
                let w = _mm512_set1_ps(w);
                for k in 0..B {
                    let v = _mm512_maskz_loadu_ps(masks[k], x.as_ptr().add(16 * k));
                    acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, v));
                }
            }
            let mut sums = [[0.0f32; 16]; B];
            for k in 0..B {
                _mm512_storeu_ps(sums[k].as_mut_ptr(), acc[k]);
            }
            sums
        };
        store.put(&mut out[t0..t0 + lanes], at + t0, sums.as_flattened());
        lanes
    }

    /// [`super::dot`] with 512-bit vectors. Needs `a.len() >= n` and `b.len() >= n`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn dot(a: &[f32], b: &[f32], n: usize) -> f32 {
        assert!(a.len() >= n && b.len() >= n, "dot over {n} values");
        let mut acc = _mm512_setzero_ps();
        let mut t0 = 0;
        while t0 + 16 <= n {
            // SAFETY: t0 + 16 <= n <= len of both slices.
            let (x, y) = unsafe {
                (
                    _mm512_loadu_ps(a.as_ptr().add(t0)),
                    _mm512_loadu_ps(b.as_ptr().add(t0)),
                )
            };
            acc = _mm512_add_ps(acc, _mm512_mul_ps(x, y));
            t0 += 16;
        }
        let rem = n - t0;
        if rem > 0 {
            let m: __mmask16 = ((1u32 << rem) - 1) as u16;
            // SAFETY: masked-off lanes are not read (AVX-512 suppresses their faults); the
            // `rem` read lanes are within both slices.
            let (x, y) = unsafe {
                (
                    _mm512_maskz_loadu_ps(m, a.as_ptr().add(t0)),
                    _mm512_maskz_loadu_ps(m, b.as_ptr().add(t0)),
                )
            };
            acc = _mm512_add_ps(acc, _mm512_mul_ps(x, y));
        }
        lane_tree(acc)
    }

    /// The sum of the 16 lanes of `acc` in [`super::dot`]'s order: lanes `l + 8`, then
    /// `l + 4`, `l + 2`, `l + 1`, the portable tree.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn lane_tree(acc: __m512) -> f32 {
        let lo = _mm512_castps512_ps256(acc);
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(acc)));
        let h8 = _mm256_add_ps(lo, hi);
        let h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps::<1>(h8));
        let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        let h1 = _mm_add_ss(h2, _mm_shuffle_ps::<0b01>(h2, h2));
        _mm_cvtss_f32(h1)
    }

    /// [`super::weight_grad_rows`] over [`dot`].
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)] // the slices of `weight_grad_rows_by`, as there
    pub(super) fn weight_grad_rows(
        grad: &mut [f32],
        rows: std::ops::Range<usize>,
        batch: usize,
        xt: &[f32],
        dzt: &[f32],
        row_ptr: &[usize],
        col_idx: &[u32],
    ) {
        super::weight_grad_rows_by(
            |a, b, n| dot(a, b, n),
            grad,
            rows,
            batch,
            xt,
            dzt,
            row_ptr,
            col_idx,
        )
    }

    /// [`super::dense_score_rows`] over [`dot`].
    #[target_feature(enable = "avx512f")]
    pub(super) fn dense_score_rows(
        out: &mut [f32],
        first: usize,
        batch: usize,
        xt: &[f32],
        dzt: &[f32],
    ) {
        super::dense_score_rows_by(|a, b, n| dot(a, b, n), out, first, batch, xt, dzt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A random sparse matrix strategy: shape up to `max_rows x max_cols`, any density
    /// including 0 and 1.
    pub(super) fn csr_strategy(max_rows: usize, max_cols: usize) -> impl Strategy<Value = Csr> {
        (0..=max_rows, 0..=max_cols).prop_flat_map(|(r, c)| {
            (
                Just(r),
                Just(c),
                proptest::collection::vec((any::<bool>(), -2.0f32..2.0), r * c),
                0.0f64..=1.0,
            )
                .prop_map(|(r, c, cells, bias)| {
                    let mut t = Vec::new();
                    for (p, (on, v)) in cells.into_iter().enumerate() {
                        // `bias` pushes some cases towards empty or full patterns.
                        let keep = if bias < 0.1 {
                            false
                        } else if bias > 0.9 {
                            true
                        } else {
                            on
                        };
                        if keep {
                            t.push(((p / c) as u32, (p % c) as u32, v));
                        }
                    }
                    Csr::from_triplets(r, c, t).unwrap()
                })
        })
    }

    /// Naive row-major `a (n x k) * b (k x m)`.
    fn dense_matmul(a: &[f32], b: &[f32], n: usize, k: usize, m: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; n * m];
        for i in 0..n {
            for p in 0..k {
                for j in 0..m {
                    out[i * m + j] += a[i * k + p] * b[p * m + j];
                }
            }
        }
        out
    }

    pub(super) fn t(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut d = vec![0.0; src.len()];
        transpose(src, rows, cols, &mut d);
        d
    }

    pub(super) fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + x.abs().max(y.abs())))
    }

    /// A deterministic row-major batch (`batch x n`) with some exact zeros.
    pub(super) fn values(n: usize, seed: &[f32], mult: usize) -> Vec<f32> {
        (0..n)
            .map(|v| seed[(v * mult) % seed.len()] * ((v % 7) as f32 - 3.0))
            .collect()
    }

    proptest! {
        #[test]
        fn forward_matches_dense(w in csr_strategy(12, 12), batch in 1usize..80,
                                 seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let x = values(batch * n_in, &seed, 1);
            let mut zt = vec![f32::NAN; batch * n_out];
            forward(&t(&x, batch, n_in), batch, &w, &mut zt);
            let want = dense_matmul(&x, &w.to_dense(), batch, n_in, n_out);
            prop_assert!(close(&zt, &t(&want, batch, n_out)));
        }

        #[test]
        fn input_grad_matches_dense(w in csr_strategy(12, 12), batch in 1usize..80,
                                    seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let dz = values(batch * n_out, &seed, 3);
            let mut dxt = vec![f32::NAN; batch * n_in];
            input_grad(&t(&dz, batch, n_out), batch, &w, &mut dxt);
            let wt = t(&w.to_dense(), n_in, n_out);
            let want = dense_matmul(&dz, &wt, batch, n_out, n_in);
            prop_assert!(close(&dxt, &t(&want, batch, n_in)));
        }

        /// The ReLU gate fused into the store gives [`input_grad`] then the gate, bit for
        /// bit, at every vector level, reading the outputs beside the destination or from it.
        #[test]
        fn input_grad_relu_is_input_grad_then_the_gate(
            w in csr_strategy(12, 12), batch in 1usize..80,
            seed in proptest::collection::vec(-1.0f32..1.0, 1..20),
            scale in prop_oneof![Just(1.0f32), 0.5f32..2.0]) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let dzt = t(&values(batch * n_out, &seed, 3), batch, n_out);
            // Outputs of a ReLU layer with dropout: positive, or exactly 0.
            let outputs: Vec<f32> = values(batch * n_in, &seed, 7).iter().map(|v| v.max(0.0)).collect();
            let mut want = vec![f32::NAN; batch * n_in];
            input_grad(&dzt, batch, &w, &mut want);
            for (d, &a) in want.iter_mut().zip(&outputs) {
                *d = if a > 0.0 { *d * scale } else { 0.0 };
            }
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for level in SimdLevel::available() {
                let mut beside = vec![f32::NAN; batch * n_in];
                input_grad_relu_at(level, &dzt, batch, &w, Some(&outputs), scale, &mut beside);
                prop_assert_eq!(bits(&beside), bits(&want));
                let mut in_place = outputs.clone();
                input_grad_relu_at(level, &dzt, batch, &w, None, scale, &mut in_place);
                prop_assert_eq!(bits(&in_place), bits(&want));
            }
        }

        #[test]
        fn weight_grad_matches_dense(w in csr_strategy(12, 12), batch in 1usize..80,
                                     seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let x = values(batch * n_in, &seed, 1);
            let dz = values(batch * n_out, &seed, 5);
            let (xt, dzt) = (t(&x, batch, n_in), t(&dz, batch, n_out));
            let mut g = vec![f32::NAN; w.nnz()];
            weight_grad(&xt, &dzt, batch, &w, &mut g);
            let full = dense_matmul(&xt, &dz, n_in, batch, n_out);
            let rows = w.row_indices();
            let want: Vec<f32> = (0..w.nnz())
                .map(|k| full[rows[k] as usize * n_out + w.col_idx()[k] as usize])
                .collect();
            prop_assert!(close(&g, &want));
            // The streamed growth scores agree with |grad| at the stored entries, bit for bit,
            // and with the dense product everywhere.
            if n_in > 0 && n_out > 0 {
                let mut s = vec![f32::NAN; n_in * n_out];
                dense_scores(&xt, &dzt, batch, 0..n_in, &mut s);
                for k in 0..w.nnz() {
                    let p = rows[k] as usize * n_out + w.col_idx()[k] as usize;
                    prop_assert_eq!(s[p].to_bits(), g[k].abs().to_bits());
                }
                let abs: Vec<f32> = full.iter().map(|v| v.abs()).collect();
                prop_assert!(close(&s, &abs));
            }
        }
    }

    proptest! {
        /// Weights gathered a group of columns at a time (a column larger than the group
        /// alone) give the bits of one gather for the whole layer; gradients folded block by
        /// block reach `fold` once each, with the bits of [`weight_grad`].
        #[test]
        fn column_groups_and_folded_gradients_keep_the_bits(
            w in csr_strategy(12, 12), batch in 65usize..100, group in 1usize..30,
            align in 1usize..5, seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let xt = t(&values(batch * n_in, &seed, 1), batch, n_in);
            let dzt = t(&values(batch * n_out, &seed, 5), batch, n_out);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            for level in SimdLevel::available() {
                let mut whole = vec![f32::NAN; batch * n_out];
                let none = |_: usize, _: &mut [f32]| {};
                forward_in_groups(level, &xt, batch, &w, &mut Vec::new(), &mut whole, usize::MAX, 1, none);
                let mut grouped = vec![f32::NAN; batch * n_out];
                let runs = std::sync::Mutex::new(Vec::new());
                let then = |first: usize, rows: &mut [f32]| {
                    runs.lock().unwrap().push(first..first + rows.len() / batch);
                    rows.iter_mut().for_each(|v| *v = -*v);
                };
                forward_in_groups(level, &xt, batch, &w, &mut Vec::new(), &mut grouped, group, align, then);
                let negated: Vec<f32> = whole.iter().map(|v| -v).collect();
                prop_assert_eq!(bits(&grouped), bits(&negated));
                prop_assert_eq!(covered_once(runs.into_inner().unwrap(), 1), n_out);
            }
            prop_assert_eq!(bits(&folded_twice_plus(&xt, &dzt, batch, &w)),
                            bits(&twice_plus(&xt, &dzt, batch, &w)));
            let ((momentum, weights), (by_hand_momentum, by_hand_weights)) =
                (stepped(&xt, &dzt, batch, &w), stepped_by_hand(&xt, &dzt, batch, &w));
            prop_assert_eq!(bits(&momentum), bits(&by_hand_momentum));
            prop_assert_eq!(bits(&weights), bits(&by_hand_weights));
        }
    }

    /// The number of rows the runs cover, asserting that they cover `0..` once each and
    /// that each starts on a multiple of `align`.
    fn covered_once(mut runs: Vec<std::ops::Range<usize>>, align: usize) -> usize {
        runs.sort_by_key(|r| r.start);
        let mut end = 0;
        for r in runs {
            assert_eq!(r.start, end, "runs cover each row once");
            assert_eq!(
                r.start % align,
                0,
                "run {r:?} starts on a multiple of {align}"
            );
            end = r.end;
        }
        end
    }

    /// `2 (k + 1) + grad[k]` for every entry, through [`weight_grad_fold`].
    fn folded_twice_plus(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr) -> Vec<f32> {
        let mut out: Vec<f32> = (0..w.nnz()).map(|k| k as f32 + 1.0).collect();
        weight_grad_fold(xt, dzt, batch, w, &mut out, |at, g, o| {
            assert!(at.len() == g.len() && g.len() == o.len(), "aligned blocks");
            for (o, &g) in o.iter_mut().zip(g) {
                *o = 2.0 * *o + g;
            }
        });
        out
    }

    /// `2 (k + 1) + grad[k]` for every entry, through [`weight_grad`].
    fn twice_plus(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr) -> Vec<f32> {
        let mut g = vec![f32::NAN; w.nnz()];
        weight_grad(xt, dzt, batch, w, &mut g);
        g.iter()
            .enumerate()
            .map(|(k, &g)| 2.0 * (k as f32 + 1.0) + g)
            .collect()
    }

    /// Through [`weight_grad_step`]: the momentum `2 (k + 1) + grad[k] + w[k]`, then the
    /// weights `w[k] - momentum[k] / 4`, for every entry.
    fn stepped(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr) -> (Vec<f32>, Vec<f32>) {
        let mut w = w.clone();
        let mut out: Vec<f32> = (0..w.nnz()).map(|k| k as f32 + 1.0).collect();
        let fold = |w: &[f32], g: &[f32], o: &mut [f32]| {
            assert!(w.len() == g.len() && g.len() == o.len(), "aligned blocks");
            for ((o, &g), &w) in o.iter_mut().zip(g).zip(w) {
                *o = 2.0 * *o + g + w;
            }
        };
        let step = |w: &mut [f32], o: &[f32]| {
            assert_eq!(w.len(), o.len(), "aligned blocks");
            for (w, &o) in w.iter_mut().zip(o) {
                *w -= o / 4.0;
            }
        };
        weight_grad_step(xt, dzt, batch, &mut w, &mut out, fold, step);
        (out, w.values().to_vec())
    }

    /// The same from [`weight_grad`], then the step over the layer.
    fn stepped_by_hand(xt: &[f32], dzt: &[f32], batch: usize, w: &Csr) -> (Vec<f32>, Vec<f32>) {
        let twice = twice_plus(xt, dzt, batch, w);
        let momentum: Vec<f32> = twice.iter().zip(w.values()).map(|(o, w)| o + w).collect();
        let weights = w.values().iter().zip(&momentum).map(|(w, o)| w - o / 4.0);
        let weights = weights.collect();
        (momentum, weights)
    }

    /// The same on a layer large enough for parallel blocks and several column groups of
    /// the default size.
    #[test]
    fn large_layers_fold_and_group_with_the_same_bits() {
        let (n_in, n_out, batch) = (1500usize, 1400usize, 72usize);
        let t: Vec<(u32, u32, f32)> = (0..n_in * n_out)
            .filter(|p| p % 2 == 0)
            .map(|p| {
                (
                    (p / n_out) as u32,
                    (p % n_out) as u32,
                    ((p % 17) as f32 - 8.0) / 8.0,
                )
            })
            .collect();
        let w = Csr::from_triplets(n_in, n_out, t).unwrap();
        assert!(w.nnz() > BY_COLUMN_GROUP && batch * w.nnz() > PAR_THRESHOLD);
        let xt: Vec<f32> = (0..n_in * batch)
            .map(|v| ((v % 13) as f32 - 6.0) / 7.0)
            .collect();
        let dzt: Vec<f32> = (0..n_out * batch)
            .map(|v| ((v % 11) as f32 - 5.0) / 9.0)
            .collect();
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let level = simd::level();
        let mut whole = vec![f32::NAN; batch * n_out];
        let none = |_: usize, _: &mut [f32]| {};
        let (by_column, max) = (&mut Vec::new(), usize::MAX);
        forward_in_groups(level, &xt, batch, &w, by_column, &mut whole, max, 1, none);
        let (mut grouped, mut buffer) = (vec![f32::NAN; batch * n_out], Vec::new());
        forward_with(&xt, batch, &w, &mut buffer, &mut grouped);
        assert_eq!(bits(&grouped), bits(&whole));
        assert!(buffer.capacity() <= BY_COLUMN_GROUP, "one group at a time");
        // Runs of whole tiles of 16 rows across both groups, each row negated once.
        let runs = std::sync::Mutex::new(Vec::new());
        let then = |first: usize, rows: &mut [f32]| {
            runs.lock().unwrap().push(first..first + rows.len() / batch);
            rows.iter_mut().for_each(|v| *v = -*v);
        };
        forward_then(&xt, batch, &w, &mut buffer, &mut grouped, 16, then);
        let negated: Vec<f32> = whole.iter().map(|v| -v).collect();
        assert_eq!(bits(&grouped), bits(&negated));
        let runs = runs.into_inner().unwrap();
        assert!(runs.len() > 2, "several runs");
        assert_eq!(covered_once(runs, 16), n_out);
        assert_eq!(
            bits(&folded_twice_plus(&xt, &dzt, batch, &w)),
            bits(&twice_plus(&xt, &dzt, batch, &w))
        );
        let (momentum, weights) = stepped(&xt, &dzt, batch, &w);
        let (by_hand_momentum, by_hand_weights) = stepped_by_hand(&xt, &dzt, batch, &w);
        assert_eq!(bits(&momentum), bits(&by_hand_momentum));
        assert_eq!(bits(&weights), bits(&by_hand_weights));
    }

    /// A layer of more than 2^16 inputs (32-bit column view rows) multiplies like a narrow one:
    /// at every vector level, each output is the sum over its inputs in increasing order.
    #[test]
    fn forward_with_wide_row_indices_sums_each_column_in_input_order() {
        let (n_in, n_out, batch) = ((1usize << 16) + 40, 3usize, 21usize);
        let t: Vec<(u32, u32, f32)> = (0..n_in as u32)
            .step_by(997)
            .chain([n_in as u32 - 1])
            .flat_map(|i| (0..n_out as u32).map(move |j| (i, j, (i % 7) as f32 - 3.0 + j as f32)))
            .collect();
        let w = Csr::from_triplets(n_in, n_out, t).unwrap();
        assert!(matches!(w.csc_index().row_idx, crate::RowIndices::Wide(_)));
        let xt: Vec<f32> = (0..n_in * batch)
            .map(|v| (v % 11) as f32 * 0.25 - 1.0)
            .collect();
        let mut want = vec![0.0f32; n_out * batch];
        for j in 0..n_out {
            for b in 0..batch {
                want[j * batch + b] = (0..n_in)
                    .filter_map(|i| w.position(i, j as u32).map(|k| (i, w.values()[k])))
                    .fold(0.0, |acc, (i, v)| acc + v * xt[i * batch + b]);
            }
        }
        for level in SimdLevel::available() {
            let mut zt = vec![f32::NAN; n_out * batch];
            forward_at(level, &xt, batch, &w, &mut Vec::new(), &mut zt);
            assert_eq!(zt, want, "level {}", level.name());
        }
    }

    /// A layer big enough for the parallel path, with a pattern of varied row lengths.
    pub(super) fn big_layer() -> (Csr, usize) {
        let (n_in, n_out, batch) = (300usize, 200usize, 70usize);
        let mut t = Vec::new();
        for i in 0..n_in {
            for j in (i % 3..n_out).step_by(1 + i % 5) {
                t.push((
                    i as u32,
                    j as u32,
                    ((i * 31 + j * 17) % 13) as f32 / 13.0 - 0.5,
                ));
            }
        }
        let w = Csr::from_triplets(n_in, n_out, t).unwrap();
        assert!(batch * w.nnz() >= PAR_THRESHOLD);
        (w, batch)
    }

    /// Every product at every vector level and with one or two threads, as bits.
    fn all_products(w: &Csr, batch: usize, level: SimdLevel) -> Vec<u32> {
        let (n_in, n_out) = (w.n_rows(), w.n_cols());
        let xt: Vec<f32> = (0..batch * n_in)
            .map(|v| ((v * 7) % 11) as f32 / 11.0 - 0.3)
            .collect();
        let dzt: Vec<f32> = (0..batch * n_out)
            .map(|v| ((v * 5) % 9) as f32 / 9.0 - 0.4)
            .collect();
        let mut z = vec![0.0; batch * n_out];
        forward_at(level, &xt, batch, w, &mut Vec::new(), &mut z);
        let mut dx = vec![0.0; batch * n_in];
        input_grad_at(level, &dzt, batch, w, &mut dx);
        let mut g = vec![0.0; w.nnz()];
        weight_grad_at(level, &xt, &dzt, batch, w, &mut g);
        // `xt` as a layer's outputs, overwritten by its delta in every task's rows.
        let mut gated = xt.clone();
        input_grad_relu_at(level, &dzt, batch, w, None, 1.25, &mut gated);
        let all = z.iter().chain(&dx).chain(&g).chain(&gated);
        all.map(|v| v.to_bits()).collect()
    }

    /// At batch 70 the second pass is one partial block, at 100 three blocks of which the
    /// last is partial: the masked loads (AVX-512) against the portable loop.
    #[test]
    fn results_do_not_depend_on_threads_or_vector_width() {
        let (w, batch) = big_layer();
        for batch in [batch, 100] {
            let reference = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(|| all_products(&w, batch, SimdLevel::Baseline));
            for level in SimdLevel::available() {
                for threads in [1, 2, 3] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let got = pool.install(|| all_products(&w, batch, level));
                    assert!(
                        got == reference,
                        "{} with {threads} threads differs at batch {batch}",
                        level.name()
                    );
                }
            }
        }
    }

    #[test]
    fn forward_sums_in_input_order_like_a_naive_loop() {
        let (w, batch) = big_layer();
        let (n_in, n_out) = (w.n_rows(), w.n_cols());
        let x: Vec<f32> = (0..batch * n_in)
            .map(|v| ((v * 7) % 11) as f32 / 11.0)
            .collect();
        let mut zt = vec![0.0; batch * n_out];
        forward(&t(&x, batch, n_in), batch, &w, &mut zt);
        for b in (0..batch).step_by(7) {
            let mut zr = vec![0.0f32; n_out];
            for i in 0..n_in {
                for k in w.row_range(i) {
                    zr[w.col_idx()[k] as usize] += x[b * n_in + i] * w.values()[k];
                }
            }
            for j in 0..n_out {
                assert_eq!(zt[j * batch + b].to_bits(), zr[j].to_bits());
            }
        }
    }

    /// Every batch size from 1 to 140 splits into passes differently (whole passes of 64,
    /// one of 1 to 4 blocks, a partial last block reading into the next row or, for the last
    /// row, copied): each output equals the naive input-ordered loop bit for bit.
    #[test]
    fn forward_and_input_grad_match_a_naive_loop_at_every_pass_split() {
        let (n_in, n_out) = (9usize, 7usize);
        let t: Vec<(u32, u32, f32)> = (0..n_in * n_out)
            .filter(|k| k % 3 != 1)
            .map(|k| {
                (
                    (k / n_out) as u32,
                    (k % n_out) as u32,
                    (k % 11) as f32 / 7.0 - 0.6,
                )
            })
            .collect();
        let w = Csr::from_triplets(n_in, n_out, t).unwrap();
        for batch in 1..=140 {
            let xt: Vec<f32> = (0..n_in * batch)
                .map(|v| ((v * 13) % 17) as f32 / 9.0 - 0.9)
                .collect();
            let dzt: Vec<f32> = (0..n_out * batch)
                .map(|v| ((v * 5) % 19) as f32 / 8.0 - 1.1)
                .collect();
            let (mut zt, mut dxt) = (vec![f32::NAN; n_out * batch], vec![f32::NAN; n_in * batch]);
            forward(&xt, batch, &w, &mut zt);
            input_grad(&dzt, batch, &w, &mut dxt);
            let (mut want_z, mut want_dx) =
                (vec![0.0f32; n_out * batch], vec![0.0f32; n_in * batch]);
            for i in 0..n_in {
                for k in w.row_range(i) {
                    let (j, v) = (w.col_idx()[k] as usize, w.values()[k]);
                    for b in 0..batch {
                        want_z[j * batch + b] += v * xt[i * batch + b];
                        want_dx[i * batch + b] += v * dzt[j * batch + b];
                    }
                }
            }
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&zt), bits(&want_z), "forward, batch {batch}");
            assert_eq!(bits(&dxt), bits(&want_dx), "input_grad, batch {batch}");
        }
    }

    #[test]
    fn dot_reads_past_the_end_without_changing_the_sum() {
        let a: Vec<f32> = (0..40).map(|v| (v as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..40).map(|v| (v as f32 * 0.91).cos()).collect();
        for n in 0..=24 {
            let tight = dot(&a[..n], &b[..n], n);
            let slack = dot(&a, &b, n);
            assert_eq!(tight.to_bits(), slack.to_bits(), "n = {n}");
        }
    }

    #[test]
    fn gather_rows_sums_the_listed_rows() {
        let (w, batch) = big_layer();
        let (n_in, n_out) = (w.n_rows(), w.n_cols());
        let src: Vec<f32> = (0..n_in * batch).map(|v| (v % 13) as f32).collect();
        let csc = w.csc_index();
        let mut out = vec![f32::NAN; n_out * batch];
        gather_rows(&src, batch, &csc.col_ptr, &csc.row_idx, &mut out);
        for j in (0..n_out).step_by(17) {
            for b in (0..batch).step_by(5) {
                let want: f32 = (csc.col_ptr[j]..csc.col_ptr[j + 1])
                    .map(|p| src[csc.row_idx.get(p) * batch + b])
                    .sum();
                assert_eq!(out[j * batch + b], want);
            }
        }
    }

    #[test]
    fn transpose_round_trips() {
        // Small (one task), many rows, and wide enough for several parallel tasks.
        for (rows, cols) in [(37, 19), (20_000, 3), (100, 3072), (1, 40_000)] {
            let a: Vec<f32> = (0..rows * cols).map(|v| v as f32).collect();
            let at = t(&a, rows, cols);
            for (r, c) in [(0, 0), (rows - 1, cols - 1), (rows / 2, cols / 3)] {
                assert_eq!(at[c * rows + r], a[r * cols + c], "{rows} x {cols}");
            }
            assert_eq!(t(&at, cols, rows), a, "{rows} x {cols}");
        }
    }
}
