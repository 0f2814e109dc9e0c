//! The products of training a sparse layer on a batch, each `O(batch x nnz)`.
//!
//! With `W` an `n_in x n_out` [`Csr`] and a batch stored row-major (one example per row):
//! - [`forward`]: `Z = X W`;
//! - [`input_grad`]: `dX = dZ Wᵀ`;
//! - [`weight_grad`]: `dW = Xᵀ dZ` sampled at the stored entries of `W` only (an SDDMM);
//! - [`forward_sparse_input`] and [`weight_grad_sparse_input`]: the same with `X` itself a
//!   [`Csr`] of observed entries (missing inputs simply absent).
//!
//! Every output element is a sum taken in one fixed order, whatever the number of threads, so
//! results are bit-identical with and without parallelism. Work below [`PAR_THRESHOLD`]
//! multiply-adds runs on the calling thread, where rayon's overhead would dominate.

use crate::csr::Csr;
use rayon::prelude::*;

/// Multiply-adds below which a kernel stays on the calling thread.
pub const PAR_THRESHOLD: usize = 1 << 16;

/// Entries of `W` handled per parallel task in the weight-gradient kernels.
const GRAD_CHUNK: usize = 4096;

fn check_dense(name: &str, buf: &[f32], rows: usize, cols: usize) {
    assert_eq!(
        buf.len(),
        rows * cols,
        "{name} has {} elements, expected {rows} x {cols}",
        buf.len()
    );
}

/// Reusable buffers of the kernels (feature-major copies of the operands and the column view
/// of the layer), so that no allocation happens per batch once they have grown.
#[derive(Debug, Default, Clone)]
pub struct KernelScratch {
    xt: Vec<f32>,
    zt: Vec<f32>,
    col_ptr: Vec<usize>,
    row_idx: Vec<u32>,
    col_vals: Vec<f32>,
    next: Vec<usize>,
}

/// Fills the column view of `w` (rows increasing within each column) with its values.
fn column_view(w: &Csr, s: &mut KernelScratch) {
    let (n_rows, n_cols, nnz) = (w.n_rows(), w.n_cols(), w.nnz());
    let (ptr, cols, vals) = (w.row_ptr(), w.col_idx(), w.values());
    s.col_ptr.clear();
    s.col_ptr.resize(n_cols + 1, 0);
    for &c in cols {
        s.col_ptr[c as usize + 1] += 1;
    }
    for j in 0..n_cols {
        s.col_ptr[j + 1] += s.col_ptr[j];
    }
    s.row_idx.resize(nnz, 0);
    s.col_vals.resize(nnz, 0.0);
    s.next.clear();
    s.next.extend_from_slice(&s.col_ptr[..n_cols]);
    for i in 0..n_rows {
        for k in ptr[i]..ptr[i + 1] {
            let c = cols[k] as usize;
            s.row_idx[s.next[c]] = i as u32;
            s.col_vals[s.next[c]] = vals[k];
            s.next[c] += 1;
        }
    }
}

/// Output rows handled per parallel task in the feature-major kernels.
const ROW_CHUNK: usize = 16;

/// `Z = X W`: `x` is `batch x n_in`, `z` (overwritten) is `batch x n_out`.
///
/// Computed feature-major: with `Xᵀ` (`n_in x batch`) and the column view of `W`, each output
/// row `Zᵀ[j, :]` is a sum of axpys `w_ij Xᵀ[i, :]` over the batch (SIMD-friendly), rows `i`
/// taken in increasing order, so every element is summed in the same order as a row-by-row
/// loop would, and output rows are split between threads without shared writes.
pub fn forward(x: &[f32], batch: usize, w: &Csr, z: &mut [f32], scratch: &mut KernelScratch) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("x", x, batch, n_in);
    check_dense("z", z, batch, n_out);
    if n_out == 0 || batch == 0 {
        return;
    }
    transpose_into(x, batch, n_in, &mut scratch.xt);
    column_view(w, scratch);
    scratch.zt.clear();
    scratch.zt.resize(n_out * batch, 0.0);
    let (xt, col_ptr, row_idx, col_vals) = (
        &scratch.xt,
        &scratch.col_ptr,
        &scratch.row_idx,
        &scratch.col_vals,
    );
    let rows = |(c, chunk): (usize, &mut [f32])| {
        for (r, zrow) in chunk.chunks_exact_mut(batch).enumerate() {
            let j = c * ROW_CHUNK + r;
            for p in col_ptr[j]..col_ptr[j + 1] {
                let i = row_idx[p] as usize;
                let wv = col_vals[p];
                let xrow = &xt[i * batch..(i + 1) * batch];
                for (zv, &xv) in zrow.iter_mut().zip(xrow) {
                    *zv += xv * wv;
                }
            }
        }
    };
    if batch * w.nnz() < PAR_THRESHOLD {
        scratch
            .zt
            .chunks_mut(ROW_CHUNK * batch)
            .enumerate()
            .for_each(rows);
    } else {
        scratch
            .zt
            .par_chunks_mut(ROW_CHUNK * batch)
            .enumerate()
            .for_each(rows);
    }
    transpose_into_slice(&scratch.zt, n_out, batch, z);
}

/// `dX = dZ Wᵀ`: `dz` is `batch x n_out`, `dx` (overwritten) is `batch x n_in`.
///
/// Feature-major like [`forward`]: `dXᵀ[i, :]` is a sum of axpys `w_ij dZᵀ[j, :]` over row `i`
/// of `W` in increasing `j`; rows are split between threads.
pub fn input_grad(dz: &[f32], batch: usize, w: &Csr, dx: &mut [f32], scratch: &mut KernelScratch) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("dz", dz, batch, n_out);
    check_dense("dx", dx, batch, n_in);
    if n_in == 0 || batch == 0 {
        return;
    }
    // dZᵀ goes to `zt`, dXᵀ to `xt`.
    transpose_into(dz, batch, n_out, &mut scratch.zt);
    scratch.xt.clear();
    scratch.xt.resize(n_in * batch, 0.0);
    let (ptr, cols, vals) = (w.row_ptr(), w.col_idx(), w.values());
    let dzt = &scratch.zt;
    let rows = |(c, chunk): (usize, &mut [f32])| {
        for (r, drow) in chunk.chunks_exact_mut(batch).enumerate() {
            let i = c * ROW_CHUNK + r;
            for k in ptr[i]..ptr[i + 1] {
                let j = cols[k] as usize;
                let wv = vals[k];
                let zrow = &dzt[j * batch..(j + 1) * batch];
                for (dv, &zv) in drow.iter_mut().zip(zrow) {
                    *dv += zv * wv;
                }
            }
        }
    };
    if batch * w.nnz() < PAR_THRESHOLD {
        scratch
            .xt
            .chunks_mut(ROW_CHUNK * batch)
            .enumerate()
            .for_each(rows);
    } else {
        scratch
            .xt
            .par_chunks_mut(ROW_CHUNK * batch)
            .enumerate()
            .for_each(rows);
    }
    transpose_into_slice(&scratch.xt, n_in, batch, dx);
}

fn transpose_into(src: &[f32], rows: usize, cols: usize, dst: &mut Vec<f32>) {
    dst.clear();
    dst.resize(rows * cols, 0.0);
    transpose_into_slice(src, rows, cols, dst);
}

/// `dst` (`cols x rows`) = transpose of `src` (`rows x cols`).
fn transpose_into_slice(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// Runs `entry(row, k)` for every stored entry `k` of `w`, writing `out[k]`; in parallel over
/// fixed chunks of entries when the work is large. Each entry is computed independently.
fn for_each_entry(
    w: &Csr,
    work: usize,
    out: &mut [f32],
    entry: impl Fn(usize, usize) -> f32 + Sync,
) {
    let ptr = w.row_ptr();
    let chunk_fn = |(c, chunk): (usize, &mut [f32])| {
        let start = c * GRAD_CHUNK;
        // Row holding entry `start`: the last row whose start offset is <= start.
        let mut row = ptr.partition_point(|&p| p <= start) - 1;
        for (off, g) in chunk.iter_mut().enumerate() {
            let k = start + off;
            while ptr[row + 1] <= k {
                row += 1;
            }
            *g = entry(row, k);
        }
    };
    if work < PAR_THRESHOLD {
        out.chunks_mut(GRAD_CHUNK).enumerate().for_each(chunk_fn);
    } else {
        out.par_chunks_mut(GRAD_CHUNK)
            .enumerate()
            .for_each(chunk_fn);
    }
}

/// `grad[k] = Σ_b X[b, i] dZ[b, j]` for every stored entry `k = (i, j)` of `w` (SDDMM).
///
/// Row `i` of `W` is processed as a whole: for each example `b` with `X[b, i] != 0`, the
/// row's gradients take `X[b, i] dZ[b, cols]` (a gather from one row of `dZ`, which stays in
/// cache). Every entry still sums over `b` in increasing order, and skipping a zero input
/// only skips adding an exact zero, so results equal the plain dot products bit for bit;
/// ReLU and dropout zeros are not multiplied. Blocks of rows go to different threads.
/// `grad` is overwritten and aligned with `w.values()`.
pub fn weight_grad(
    x: &[f32],
    dz: &[f32],
    batch: usize,
    w: &Csr,
    grad: &mut [f32],
    scratch: &mut KernelScratch,
) {
    let (n_in, n_out) = (w.n_rows(), w.n_cols());
    check_dense("x", x, batch, n_in);
    check_dense("dz", dz, batch, n_out);
    assert_eq!(
        grad.len(),
        w.nnz(),
        "grad must be aligned with the non-zeros"
    );
    // Xᵀ so that each row's inputs over the batch are contiguous.
    transpose_into(x, batch, n_in, &mut scratch.xt);
    let (xt, ptr, cols) = (&scratch.xt, w.row_ptr(), w.col_idx());
    let block = |(rows, g): (std::ops::Range<usize>, &mut [f32])| {
        let base = ptr[rows.start];
        g.fill(0.0);
        for i in rows {
            let (lo, hi) = (ptr[i] - base, ptr[i + 1] - base);
            let (gs, cs) = (&mut g[lo..hi], &cols[ptr[i]..ptr[i + 1]]);
            for (t, &xv) in xt[i * batch..(i + 1) * batch].iter().enumerate() {
                if xv == 0.0 {
                    continue;
                }
                let dzrow = &dz[t * n_out..(t + 1) * n_out];
                for (gv, &c) in gs.iter_mut().zip(cs) {
                    *gv += xv * dzrow[c as usize];
                }
            }
        }
    };
    let blocks = row_blocks(w, grad);
    if batch * w.nnz() < PAR_THRESHOLD {
        blocks.into_iter().for_each(block);
    } else {
        blocks.into_par_iter().for_each(block);
    }
}

/// Splits `out` (aligned with the entries of `w`) into blocks of whole rows holding about
/// `GRAD_CHUNK` entries each, for row-wise parallel work without shared writes.
fn row_blocks<'a>(w: &Csr, out: &'a mut [f32]) -> Vec<(std::ops::Range<usize>, &'a mut [f32])> {
    let ptr = w.row_ptr();
    let mut blocks = Vec::new();
    let mut rest = out;
    let mut start = 0;
    while start < w.n_rows() {
        let mut end = start + 1;
        while end < w.n_rows() && ptr[end] - ptr[start] < GRAD_CHUNK {
            end += 1;
        }
        let (head, tail) = rest.split_at_mut(ptr[end] - ptr[start]);
        blocks.push((start..end, head));
        rest = tail;
        start = end;
    }
    blocks
}

/// `Z = X W` with `x` a `batch x n_in` [`Csr`] holding only the observed inputs of each example.
pub fn forward_sparse_input(x: &Csr, w: &Csr, z: &mut [f32]) {
    let (batch, n_out) = (x.n_rows(), w.n_cols());
    assert_eq!(
        x.n_cols(),
        w.n_rows(),
        "input width must equal the layer's inputs"
    );
    check_dense("z", z, batch, n_out);
    if n_out == 0 {
        return;
    }
    let (ptr, cols, vals) = (w.row_ptr(), w.col_idx(), w.values());
    let one = |(b, zr): (usize, &mut [f32])| {
        zr.fill(0.0);
        for (&i, &xi) in x.row_cols(b).iter().zip(&x.values()[x.row_range(b)]) {
            let i = i as usize;
            for k in ptr[i]..ptr[i + 1] {
                zr[cols[k] as usize] += xi * vals[k];
            }
        }
    };
    let work = x.nnz() * w.nnz() / w.n_rows().max(1);
    if work < PAR_THRESHOLD {
        z.chunks_exact_mut(n_out).enumerate().for_each(one);
    } else {
        z.par_chunks_exact_mut(n_out).enumerate().for_each(one);
    }
}

/// Weight gradient at the stored entries of `w` when the input `x` is sparse:
/// `grad[k] = Σ_{b : X[b,i] observed} X[b, i] dZ[b, j]`; cost `O(observed x mean fan-out)`.
pub fn weight_grad_sparse_input(x: &Csr, dz: &[f32], w: &Csr, grad: &mut [f32]) {
    let (batch, n_out) = (x.n_rows(), w.n_cols());
    assert_eq!(
        x.n_cols(),
        w.n_rows(),
        "input width must equal the layer's inputs"
    );
    check_dense("dz", dz, batch, n_out);
    assert_eq!(
        grad.len(),
        w.nnz(),
        "grad must be aligned with the non-zeros"
    );
    let xt = x.csc_index();
    let (xv, cols) = (x.values(), w.col_idx());
    let work = x.nnz() * w.nnz() / w.n_rows().max(1);
    for_each_entry(w, work, grad, |i, k| {
        let j = cols[k] as usize;
        let mut s = 0.0f32;
        for p in xt.col_ptr[i]..xt.col_ptr[i + 1] {
            s += xv[xt.csr_pos[p]] * dz[xt.row_idx[p] as usize * n_out + j];
        }
        s
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A random sparse matrix strategy: shape up to 12 x 12, any density including 0 and 1.
    fn csr_strategy(max_rows: usize, max_cols: usize) -> impl Strategy<Value = Csr> {
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

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + x.abs().max(y.abs())))
    }

    fn batch_for(w: &Csr, batch: usize, seed: &[f32]) -> Vec<f32> {
        (0..batch * w.n_rows())
            .map(|t| seed[t % seed.len()] * ((t % 7) as f32 - 3.0))
            .collect()
    }

    proptest! {
        #[test]
        fn forward_matches_dense(w in csr_strategy(12, 12), batch in 1usize..6,
                                 seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let x = batch_for(&w, batch, &seed);
            let mut z = vec![f32::NAN; batch * w.n_cols()];
            forward(&x, batch, &w, &mut z, &mut KernelScratch::default());
            let want = dense_matmul(&x, &w.to_dense(), batch, w.n_rows(), w.n_cols());
            prop_assert!(close(&z, &want));
        }

        #[test]
        fn input_grad_matches_dense(w in csr_strategy(12, 12), batch in 1usize..6,
                                    seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let dz: Vec<f32> = (0..batch * n_out).map(|t| seed[t % seed.len()] + t as f32 * 0.01).collect();
            let mut dx = vec![f32::NAN; batch * n_in];
            input_grad(&dz, batch, &w, &mut dx, &mut KernelScratch::default());
            // dX = dZ Wᵀ with Wᵀ built densely.
            let wd = w.to_dense();
            let mut wt = vec![0.0; n_in * n_out];
            for i in 0..n_in { for j in 0..n_out { wt[j * n_in + i] = wd[i * n_out + j]; } }
            prop_assert!(close(&dx, &dense_matmul(&dz, &wt, batch, n_out, n_in)));
        }

        #[test]
        fn weight_grad_matches_dense(w in csr_strategy(12, 12), batch in 1usize..6,
                                     seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let x = batch_for(&w, batch, &seed);
            let dz: Vec<f32> = (0..batch * n_out).map(|t| seed[(t * 3) % seed.len()] - 0.5).collect();
            let mut g = vec![f32::NAN; w.nnz()];
            weight_grad(&x, &dz, batch, &w, &mut g, &mut KernelScratch::default());
            let mut xt = vec![0.0; n_in * batch];
            for b in 0..batch { for i in 0..n_in { xt[i * batch + b] = x[b * n_in + i]; } }
            let full = dense_matmul(&xt, &dz, n_in, batch, n_out);
            let rows = w.row_indices();
            let want: Vec<f32> = (0..w.nnz()).map(|k| full[rows[k] as usize * n_out + w.col_idx()[k] as usize]).collect();
            prop_assert!(close(&g, &want));
        }

        #[test]
        fn sparse_input_kernels_match_dense_input(w in csr_strategy(10, 10), batch in 1usize..6,
                mask in proptest::collection::vec(any::<bool>(), 100),
                seed in proptest::collection::vec(-1.0f32..1.0, 1..20)) {
            let (n_in, n_out) = (w.n_rows(), w.n_cols());
            let mut x = batch_for(&w, batch, &seed);
            let mut trip = Vec::new();
            for b in 0..batch { for i in 0..n_in {
                if mask[(b * n_in + i) % mask.len()] { trip.push((b as u32, i as u32, x[b * n_in + i])); }
                else { x[b * n_in + i] = 0.0; }
            } }
            let xs = Csr::from_triplets(batch, n_in, trip).unwrap();
            let mut z1 = vec![0.0; batch * n_out];
            let mut z2 = vec![f32::NAN; batch * n_out];
            forward(&x, batch, &w, &mut z1, &mut KernelScratch::default());
            forward_sparse_input(&xs, &w, &mut z2);
            prop_assert!(close(&z1, &z2));
            let dz: Vec<f32> = (0..batch * n_out).map(|t| seed[(t * 5) % seed.len()]).collect();
            let mut g1 = vec![0.0; w.nnz()];
            let mut g2 = vec![f32::NAN; w.nnz()];
            weight_grad(&x, &dz, batch, &w, &mut g1, &mut KernelScratch::default());
            weight_grad_sparse_input(&xs, &dz, &w, &mut g2);
            prop_assert!(close(&g1, &g2));
        }
    }

    #[test]
    fn parallel_path_is_bit_identical_to_serial_sums() {
        // Large enough to take the parallel path; compare with a serial recomputation.
        let (n_in, n_out, batch) = (300usize, 200usize, 16usize);
        let mut t = Vec::new();
        for i in 0..n_in {
            for j in (i % 3..n_out).step_by(3) {
                t.push((
                    i as u32,
                    j as u32,
                    ((i * 31 + j * 17) % 13) as f32 / 13.0 - 0.5,
                ));
            }
        }
        let w = Csr::from_triplets(n_in, n_out, t).unwrap();
        assert!(batch * w.nnz() >= PAR_THRESHOLD);
        let x: Vec<f32> = (0..batch * n_in)
            .map(|v| ((v * 7) % 11) as f32 / 11.0)
            .collect();
        let dz: Vec<f32> = (0..batch * n_out)
            .map(|v| ((v * 5) % 9) as f32 / 9.0 - 0.4)
            .collect();
        let mut g = vec![0.0; w.nnz()];
        weight_grad(&x, &dz, batch, &w, &mut g, &mut KernelScratch::default());
        let rows = w.row_indices();
        for k in 0..w.nnz() {
            let (i, j) = (rows[k] as usize, w.col_idx()[k] as usize);
            let mut s = 0.0f32;
            for b in 0..batch {
                s += x[b * n_in + i] * dz[b * n_out + j];
            }
            assert_eq!(g[k].to_bits(), s.to_bits());
        }
        let mut z = vec![0.0; batch * n_out];
        forward(&x, batch, &w, &mut z, &mut KernelScratch::default());
        for b in 0..batch {
            let mut zr = vec![0.0f32; n_out];
            for i in 0..n_in {
                for k in w.row_range(i) {
                    zr[w.col_idx()[k] as usize] += x[b * n_in + i] * w.values()[k];
                }
            }
            assert_eq!(&z[b * n_out..(b + 1) * n_out], &zr[..]);
        }
    }
}
