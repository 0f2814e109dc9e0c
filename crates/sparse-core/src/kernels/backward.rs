//! The backward pass of a sparse layer in one sweep over the rows of `W`: the input delta
//! ([`super::input_grad`] or [`super::input_grad_relu`]) and the weight gradient
//! ([`super::weight_grad_fold`]) read the same rows of `dZᵀ`, one per stored entry `(i, j)`:
//! the first sums `w_ij dZᵀ[j, :]` into `dXᵀ[i, :]`, the second takes `Xᵀ[i, :] · dZᵀ[j, :]`.
//! Made apart, each gathers every such row, 512 bytes at batch 128; made together, each row
//! is loaded into registers once and serves both. With AVX-512 and a batch of at most 128
//! (the input row and the delta's sums then fit in registers beside each other) this is one
//! kernel; elsewhere the two products run one after the other. Both give the same bits as
//! the separate kernels: each delta lane and each gradient lane adds its terms in the same
//! order, and the lanes of a gradient meet in the same tree.

use super::{
    check_dense, input_grad_at, input_grad_relu_at, row_blocks_by, row_sums, row_sums_rows,
    weight_grad_fold_at, RowStore, PAR_THRESHOLD, TASK_WORK,
};
use crate::csr::Csr;
use crate::simd::{self, SimdLevel};
use rayon::prelude::*;
use std::ops::Range;

/// Where [`input_and_weight_grad`] reads the layer's input `Xᵀ` (`n_in x batch`), which the
/// weight gradient multiplies and a ReLU gate reads.
#[derive(Clone, Copy, Debug)]
pub enum LayerInput<'a> {
    /// In a buffer of its own.
    Beside(&'a [f32]),
    /// In `dxt`, which the input delta overwrites: each row is read before its own store.
    InPlace,
}

impl<'a> LayerInput<'a> {
    fn beside(self) -> Option<&'a [f32]> {
        match self {
            LayerInput::Beside(x) => Some(x),
            LayerInput::InPlace => None,
        }
    }
}

/// Blocks of 16 examples the fused kernel keeps in registers: the input row and the delta's
/// sums take two registers a block, so eight (a batch of 128) take 16 of AVX-512's 32.
const FUSED_BLOCKS: usize = 8;

/// The weight gradient and the input delta of one sparse layer. `out` is aligned with the
/// entries of `w` and takes the gradients through `fold(entries, grad, out_block)` a block
/// of whole rows at a time, as [`super::weight_grad_fold`] gives them; `dxt` (`n_in x
/// batch`) gets `(dZ Wᵀ)ᵀ`, or with `gate = Some(scale)` that delta through ReLU and dropout
/// as [`super::input_grad_relu`] makes it, the gate reading the layer's input. With
/// `dx_sums`, it also gets the sums of the rows of `dxt` as [`super::row_sums`] makes them
/// (the bias gradient of the layer below, when `dxt` is its delta), each made by the task
/// that wrote the row, while it is in cache, where a pass of their own read the whole delta
/// again (2% of the samples of a 784-4000-4000-4000-10 epoch at 1% in `perf`; that epoch
/// with the sums made here: medians of 33 epochs 0.540-0.550 against 0.574-0.579 s, the
/// two interleaved in a scratch program). The same bits
/// as `weight_grad_fold` followed by `input_grad_relu` or `input_grad` (and `row_sums`),
/// whatever the threads.
#[allow(clippy::too_many_arguments)] // the two products' operands, as their kernels take them
pub fn input_and_weight_grad(
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(Range<usize>, &[f32], &mut [f32]) + Sync + Send,
) {
    let level = simd::level();
    input_and_weight_grad_at(level, dzt, batch, w, input, gate, dxt, dx_sums, out, fold)
}

/// [`input_and_weight_grad`] at a given vector level (the fused kernel needs AVX-512).
#[allow(clippy::too_many_arguments)] // as above
pub fn input_and_weight_grad_at(
    level: SimdLevel,
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(Range<usize>, &[f32], &mut [f32]) + Sync + Send,
) {
    check_operands(dzt, batch, w, input, dxt, dx_sums.as_deref(), out);
    #[cfg(target_arch = "x86_64")]
    if fuses(level, batch) {
        let (row_ptr, col_idx) = (w.row_ptr(), w.col_idx());
        let fold = |at: Range<usize>, _: &[f32], g: &[f32], o: &mut [f32]| fold(at, g, o);
        let operands = (row_ptr, col_idx, w.values());
        return fused(dzt, batch, operands, input, gate, dxt, dx_sums, out, fold);
    }
    in_turn(level, dzt, batch, w, input, gate, dxt, dx_sums, out, fold)
}

/// [`input_and_weight_grad`] with the layer's update inside the sweep: each block's
/// gradients go into `out` (the momentum) through `fold(weights, grads, out)`, then
/// `step(weights, out)` moves the block's weights, once the block's input gradient has read
/// them and while both are in cache, where the weights' half of the SGD step was a pass of
/// its own over the layer (the 784-4000-4000-4000-10 SET epoch at 1%: medians of 30 epochs
/// 0.581 against 0.594 s and 0.534 against 0.558, the two interleaved in a scratch program).
/// Where the fused kernel does not run, the products run in turn (`fold` in the weight
/// gradient's blocks), then `step` over the layer. The same bits as
/// [`input_and_weight_grad`] with `fold` followed by `step` over the layer.
#[allow(clippy::too_many_arguments)] // as above
pub fn input_and_weight_grad_step(
    dzt: &[f32],
    batch: usize,
    w: &mut Csr,
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(&[f32], &[f32], &mut [f32]) + Sync + Send,
    step: impl Fn(&mut [f32], &[f32]) + Sync + Send,
) {
    let level = simd::level();
    input_and_weight_grad_step_at(
        level, dzt, batch, w, input, gate, dxt, dx_sums, out, fold, step,
    )
}

/// [`input_and_weight_grad_step`] at a given vector level.
#[allow(clippy::too_many_arguments)] // as above
pub fn input_and_weight_grad_step_at(
    level: SimdLevel,
    dzt: &[f32],
    batch: usize,
    w: &mut Csr,
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(&[f32], &[f32], &mut [f32]) + Sync + Send,
    step: impl Fn(&mut [f32], &[f32]) + Sync + Send,
) {
    check_operands(dzt, batch, w, input, dxt, dx_sums.as_deref(), out);
    #[cfg(target_arch = "x86_64")]
    if fuses(level, batch) {
        let update = |_: Range<usize>, wb: &mut [f32], g: &[f32], o: &mut [f32]| {
            fold(wb, g, o);
            step(wb, o);
        };
        let operands = w.pattern_and_values_mut();
        return fused(dzt, batch, operands, input, gate, dxt, dx_sums, out, update);
    }
    let values = w.values();
    let fold_at = |at: Range<usize>, g: &[f32], o: &mut [f32]| fold(&values[at], g, o);
    in_turn(
        level, dzt, batch, w, input, gate, dxt, dx_sums, out, fold_at,
    );
    let step_block = |(wb, o): (&mut [f32], &[f32])| simd::vectorized(|| step(wb, o));
    let pairs = w
        .values_mut()
        .par_chunks_mut(TASK_WORK)
        .zip(out.par_chunks(TASK_WORK));
    pairs.for_each(step_block);
}

/// Checks the operands of the sweep against `w` and `batch`.
fn check_operands(
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    input: LayerInput,
    dxt: &[f32],
    dx_sums: Option<&[f32]>,
    out: &[f32],
) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("dzt", dzt, n_out, batch);
    check_dense("dxt", dxt, n_in, batch);
    if let Some(x) = input.beside() {
        check_dense("input", x, n_in, batch);
    }
    if let Some(sums) = dx_sums {
        assert_eq!(sums.len(), n_in, "one sum per row of dxt");
    }
    assert_eq!(out.len(), w.nnz(), "out must be aligned with the non-zeros");
}

/// Whether the fused kernel runs: AVX-512 and a batch whose input row and sums fit in
/// registers.
#[cfg(target_arch = "x86_64")]
fn fuses(level: SimdLevel, batch: usize) -> bool {
    simd::supported(level) == SimdLevel::Avx512 && (1..=16 * FUSED_BLOCKS).contains(&batch)
}

/// The two products one after the other: the weight gradient first (an input in place is
/// the delta's buffer, which the input gradient overwrites).
#[allow(clippy::too_many_arguments)] // as above
fn in_turn(
    level: SimdLevel,
    dzt: &[f32],
    batch: usize,
    w: &Csr,
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(Range<usize>, &[f32], &mut [f32]) + Sync + Send,
) {
    match input {
        LayerInput::Beside(x) => weight_grad_fold_at(level, x, dzt, batch, w, out, fold),
        LayerInput::InPlace => weight_grad_fold_at(level, dxt, dzt, batch, w, out, fold),
    }
    match gate {
        Some(scale) => input_grad_relu_at(level, dzt, batch, w, input.beside(), scale, dxt),
        None => input_grad_at(level, dzt, batch, w, dxt),
    }
    if let Some(sums) = dx_sums {
        row_sums(dxt, batch, sums);
    }
}

/// A block's weights as the fused kernel hands them to its fold: to read, or to step.
#[cfg(target_arch = "x86_64")]
trait BlockWeights: Sized + Send {
    fn read(&self) -> &[f32];
    fn split(self, mid: usize) -> (Self, Self);
}

#[cfg(target_arch = "x86_64")]
impl BlockWeights for &[f32] {
    fn read(&self) -> &[f32] {
        self
    }
    fn split(self, mid: usize) -> (Self, Self) {
        self.split_at(mid)
    }
}

#[cfg(target_arch = "x86_64")]
impl BlockWeights for &mut [f32] {
    fn read(&self) -> &[f32] {
        self
    }
    fn split(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

/// The fused kernel over blocks of whole rows (about [`TASK_WORK`] entries' worth of each
/// product), each with its rows of `dxt`, its entries of `out` and of the weights, and a
/// scratch buffer for its gradients, in parallel when the work is large. `operands` are the
/// layer's row pointers, column indices and weights; `fold(entries, weights, grads, out)`
/// gets each block's after its rows are done.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)] // as above
fn fused<W: BlockWeights>(
    dzt: &[f32],
    batch: usize,
    (row_ptr, col_idx, values): (&[usize], &[u32], W),
    input: LayerInput,
    gate: Option<f32>,
    dxt: &mut [f32],
    dx_sums: Option<&mut [f32]>,
    out: &mut [f32],
    fold: impl Fn(Range<usize>, W, &[f32], &mut [f32]) + Sync + Send,
) {
    let store = match gate {
        Some(scale) => RowStore::ReluGate {
            outputs: input.beside(),
            scale,
        },
        None => RowStore::Sums,
    };
    let sweep = Sweep {
        batch,
        input: input.beside(),
        store,
        dzt,
        row_ptr,
        col_idx,
    };
    // A block's rows, their entries' gradients, their rows of `dxt` and of `dx_sums` (empty
    // without it), and their entries' weights.
    type Block<'o, W> = (Range<usize>, &'o mut [f32], &'o mut [f32], &'o mut [f32], W);
    let block = |scratch: &mut Vec<f32>, (rows, grads, dx, sums, weights): Block<W>| {
        let entries = row_ptr[rows.start]..row_ptr[rows.end];
        scratch.resize(entries.len(), 0.0);
        // SAFETY: `input_and_weight_grad_at` calls this only where the CPU has AVX-512F.
        unsafe { avx512::rows(&sweep, rows.start, dx, weights.read(), scratch) };
        simd::vectorized(
            #[inline(always)]
            || {
                fold(entries, weights, scratch, grads);
                if !sums.is_empty() {
                    row_sums_rows(sums, batch, dx);
                }
            },
        );
    };
    let mut blocks: Vec<Block<W>> = Vec::new();
    let (mut rest, mut sums_rest) = (dxt, dx_sums.unwrap_or_default());
    let mut weights_rest = values;
    for (rows, grads) in row_blocks_by(row_ptr, out, (TASK_WORK / batch).max(1)) {
        let (dx, tail) = rest.split_at_mut(rows.len() * batch);
        let (sums, sums_tail) = sums_rest.split_at_mut(rows.len().min(sums_rest.len()));
        let (weights, weights_tail) = weights_rest.split(grads.len());
        blocks.push((rows, grads, dx, sums, weights));
        (rest, sums_rest, weights_rest) = (tail, sums_tail, weights_tail);
    }
    if 2 * batch * row_ptr[row_ptr.len() - 1] < PAR_THRESHOLD {
        let mut scratch = Vec::new();
        blocks.into_iter().for_each(|b| block(&mut scratch, b));
    } else {
        blocks.into_par_iter().for_each_init(Vec::new, block);
    }
}

/// What the fused kernel reads, shared by every block.
#[cfg(target_arch = "x86_64")]
struct Sweep<'a> {
    batch: usize,
    /// The layer's input where it has a buffer of its own; `None`: in the delta's rows.
    input: Option<&'a [f32]>,
    store: RowStore<'a>,
    dzt: &'a [f32],
    row_ptr: &'a [usize],
    col_idx: &'a [u32],
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Sweep, FUSED_BLOCKS};
    use crate::kernels::avx512::lane_tree;
    use crate::kernels::{prefetch_lines, PREFETCH_AHEAD};
    use std::arch::x86_64::*;

    /// Rows `first..` of `W` (as many as `dx` holds), their weights in `weights` and their
    /// gradients into `grad` (both from the first row's first entry on): the batch in `B`
    /// register blocks of 16, the last one masked unless the batch fills it.
    ///
    /// # Safety
    /// The CPU must have AVX-512F.
    pub(super) unsafe fn rows(
        sweep: &Sweep,
        first: usize,
        dx: &mut [f32],
        weights: &[f32],
        grad: &mut [f32],
    ) {
        let whole = sweep.batch.is_multiple_of(16);
        macro_rules! by_blocks {
            ($($b:literal)*) => {
                match sweep.batch.div_ceil(16) {
                    // SAFETY: the CPU has AVX-512F (this function's contract).
                    $($b if whole => unsafe { rows_by::<$b, false>(sweep, first, dx, weights, grad) },
                    // SAFETY: as above.
                    $b => unsafe { rows_by::<$b, true>(sweep, first, dx, weights, grad) },)*
                    _ => unreachable!("a batch of at most {} examples", 16 * FUSED_BLOCKS),
                }
            };
        }
        by_blocks!(1 2 3 4 5 6 7 8)
    }

    /// Lanes `16 k..16 k + 16` of `p`, those of `mask` only where `MASKED` (the others 0,
    /// neither read nor faulted).
    ///
    /// # Safety
    /// The CPU must have AVX-512F, and the lanes read must lie in `p`'s allocation.
    #[inline(always)]
    unsafe fn block<const MASKED: bool>(p: *const f32, k: usize, mask: __mmask16) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe {
            if MASKED {
                _mm512_maskz_loadu_ps(mask, p.add(16 * k))
            } else {
                _mm512_loadu_ps(p.add(16 * k))
            }
        }
    }

    /// [`rows`] for a batch of `B` blocks. Per row `i`: the input row `Xᵀ[i, :]` into
    /// registers; then per entry `(i, j)` each block of `dZᵀ[j, :]` is loaded once, added
    /// times `w_ij` into the delta's sums (`acc + w · d`, as the gathering kernels) and
    /// times the input's block into the entry's lanes (`lanes + x · d`, as `dot`), whose
    /// tree is the gradient; last, the sums go through the store into `dXᵀ[i, :]`, which may
    /// be where the input row was.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn rows_by<const B: usize, const MASKED: bool>(
        sweep: &Sweep,
        first: usize,
        dx: &mut [f32],
        weights: &[f32],
        grad: &mut [f32],
    ) {
        let Sweep {
            batch,
            input,
            store,
            dzt,
            row_ptr,
            col_idx,
        } = *sweep;
        let mut masks = [u16::MAX; B];
        for (k, m) in masks.iter_mut().enumerate() {
            *m = ((1u32 << (batch - 16 * k).min(16)) - 1) as u16;
        }
        let base = row_ptr[first];
        for (r, drow) in dx.chunks_exact_mut(batch).enumerate() {
            let i = first + r;
            let x = match input {
                Some(x) => &x[i * batch..(i + 1) * batch],
                None => &*drow,
            };
            let mut xi = [_mm512_setzero_ps(); B];
            for (k, v) in xi.iter_mut().enumerate() {
                // SAFETY: AVX-512F (`target_feature`); block `k` of a row of `batch` values
                // (`B` blocks cover it), masked to the batch's lanes unless it fills them.
                *v = unsafe { block::<MASKED>(x.as_ptr(), k, masks[k]) };
            }
            let mut acc = [_mm512_setzero_ps(); B];
            for e in row_ptr[i]..row_ptr[i + 1] {
                if let Some(&ahead) = col_idx.get(e + PREFETCH_AHEAD) {
                    prefetch_lines(dzt, ahead as usize * batch, batch);
                }
                let j = col_idx[e] as usize;
                let z = &dzt[j * batch..(j + 1) * batch];
                let w = _mm512_set1_ps(weights[e - base]);
                let mut lanes = _mm512_setzero_ps();
                for k in 0..B {
                    // SAFETY: as for the input row.
                    let d = unsafe { block::<MASKED>(z.as_ptr(), k, masks[k]) };
                    acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(w, d));
                    lanes = _mm512_add_ps(lanes, _mm512_mul_ps(xi[k], d));
                }
                grad[e - base] = lane_tree(lanes);
            }
            let mut sums = [[0.0f32; 16]; B];
            for (s, a) in sums.iter_mut().zip(acc) {
                // SAFETY: AVX-512F; 16 values into an array of 16.
                unsafe { _mm512_storeu_ps(s.as_mut_ptr(), a) };
            }
            store.put(drow, i * batch, sums.as_flattened());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::tests::{big_layer, csr_strategy, values};
    use crate::kernels::{input_grad_relu_at, weight_grad_at};
    use proptest::prelude::*;

    /// The separate kernels' delta and gradient, and the fused call's, as bits: the input
    /// beside the delta or in its buffer, with the ReLU gate or the plain sums.
    fn both(
        w: &Csr,
        batch: usize,
        level: SimdLevel,
        in_place: bool,
        gate: Option<f32>,
    ) -> [(Vec<u32>, Vec<u32>); 2] {
        let (n_in, n_out) = (w.n_rows(), w.n_cols());
        let seed = [0.7f32, -1.3, 0.0, 2.1, -0.4, 1.9, -2.5];
        let xt = values(n_in * batch, &seed, 5);
        let dzt = values(n_out * batch, &seed, 3);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut g = vec![0.0; w.nnz()];
        weight_grad_at(SimdLevel::Baseline, &xt, &dzt, batch, w, &mut g);
        let mut dx = if in_place {
            xt.clone()
        } else {
            vec![0.0; n_in * batch]
        };
        let outputs = (!in_place).then_some(&xt[..]);
        match gate {
            Some(s) => input_grad_relu_at(SimdLevel::Baseline, &dzt, batch, w, outputs, s, &mut dx),
            None => super::super::input_grad_at(SimdLevel::Baseline, &dzt, batch, w, &mut dx),
        }
        let want = (bits(&dx), bits(&g));
        let mut fused_dx = if in_place {
            xt.clone()
        } else {
            vec![f32::NAN; n_in * batch]
        };
        let mut fused_g = vec![f32::NAN; w.nnz()];
        let input = match in_place {
            true => LayerInput::InPlace,
            false => LayerInput::Beside(&xt),
        };
        let fold = |_: Range<usize>, g: &[f32], o: &mut [f32]| o.copy_from_slice(g);
        let mut sums = vec![f32::NAN; n_in];
        input_and_weight_grad_at(
            level,
            &dzt,
            batch,
            w,
            input,
            gate,
            &mut fused_dx,
            Some(&mut sums),
            &mut fused_g,
            fold,
        );
        let mut want_sums = vec![0.0; n_in];
        row_sums(&fused_dx, batch, &mut want_sums);
        assert_eq!(bits(&sums), bits(&want_sums), "the delta's row sums");
        [want, (bits(&fused_dx), bits(&fused_g))]
    }

    /// The sweep with its weight step, and the sweep with its fold then the step over the
    /// layer: the delta, the momentum and the weights, as bits.
    fn stepped(
        w: &Csr,
        batch: usize,
        level: SimdLevel,
        in_place: bool,
        gate: Option<f32>,
    ) -> [[Vec<u32>; 3]; 2] {
        let (n_in, n_out) = (w.n_rows(), w.n_cols());
        let seed = [0.7f32, -1.3, 0.0, 2.1, -0.4, 1.9, -2.5];
        let xt = values(n_in * batch, &seed, 5);
        let dzt = values(n_out * batch, &seed, 3);
        let momentum = values(w.nnz(), &seed, 7);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let fold = |w: &[f32], g: &[f32], v: &mut [f32]| {
            for ((&w, &g), v) in w.iter().zip(g).zip(v.iter_mut()) {
                *v = 0.9 * *v + (g + 0.01 * w);
            }
        };
        let step = |w: &mut [f32], v: &[f32]| {
            for (w, &v) in w.iter_mut().zip(v) {
                *w -= 0.1 * v;
            }
        };
        let input = |xt| match in_place {
            true => LayerInput::InPlace,
            false => LayerInput::Beside(xt),
        };
        let dx0 = if in_place {
            xt.clone()
        } else {
            vec![f32::NAN; n_in * batch]
        };
        let (mut w1, mut dx1, mut m1) = (w.clone(), dx0.clone(), momentum.clone());
        let fold_at = |at: Range<usize>, g: &[f32], v: &mut [f32]| fold(&w.values()[at], g, v);
        let x1 = input(&xt);
        input_and_weight_grad_at(
            level, &dzt, batch, w, x1, gate, &mut dx1, None, &mut m1, fold_at,
        );
        step(w1.values_mut(), &m1);
        let (mut w2, mut dx2, mut m2) = (w.clone(), dx0, momentum);
        let x2 = input(&xt);
        input_and_weight_grad_step_at(
            level, &dzt, batch, &mut w2, x2, gate, &mut dx2, None, &mut m2, fold, step,
        );
        [
            [bits(&dx1), bits(&m1), bits(w1.values())],
            [bits(&dx2), bits(&m2), bits(w2.values())],
        ]
    }

    proptest! {
        /// Every batch from 1 to 140 (the fused kernel up to 128, whole and masked last
        /// blocks; the separate kernels above), every vector level, both inputs and stores;
        /// and the sweep that steps the weights gives the bits of the step after it.
        #[test]
        fn one_sweep_gives_the_bits_of_the_two_products(
            w in csr_strategy(12, 12),
            batch in 1usize..140,
            in_place in any::<bool>(),
            relu in any::<bool>(),
        ) {
            let gate = relu.then_some(1.25f32);
            for level in SimdLevel::available() {
                let [want, got] = both(&w, batch, level, in_place, gate);
                prop_assert!(want == got, "{} at batch {batch}", level.name());
                let [want, got] = stepped(&w, batch, level, in_place, gate);
                prop_assert!(want == got, "stepped, {} at batch {batch}", level.name());
            }
        }
    }

    /// The kernels' parallel test layer, at the batches of the benchmarks (128, 100) and past
    /// the fused kernel (130), with one to three threads.
    #[test]
    fn parallel_sweeps_give_the_bits_of_the_two_products() {
        let (w, _) = big_layer();
        for batch in [128, 100, 130] {
            assert!(2 * batch * w.nnz() >= PAR_THRESHOLD);
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                for (in_place, gate) in [(true, Some(1.1f32)), (false, None)] {
                    let [want, got] =
                        pool.install(|| both(&w, batch, simd::level(), in_place, gate));
                    assert!(want == got, "batch {batch}, {threads} threads");
                    let [want, got] =
                        pool.install(|| stepped(&w, batch, simd::level(), in_place, gate));
                    assert!(want == got, "stepped, batch {batch}, {threads} threads");
                }
            }
        }
    }
}
