//! The conversion between example-major batches and the kernels' feature-major layout.
//!
//! Every step transposes its input batch once, so on wide inputs it is a large part of the
//! step: 100 x 3072 (a CIFAR-10 batch) took 0.18 ms on one thread with scalar 16 x 16 tiles,
//! as much as the first layer's forward product at 1%. With AVX-512 a whole tile is sixteen
//! loads, four rounds of shuffles and sixteen stores, masked on the tiles at the edges (a
//! batch of 100 ends in tiles of 4 rows, which one value at a time took a third of the
//! transpose's time); processors without AVX-512 keep the scalar loop. A transpose only moves
//! values, so the paths give the same bits.

use super::{check_dense, TASK_WORK};
use crate::simd::{self, SimdLevel};
use rayon::prelude::*;

/// Side of the square tiles the transpose works in.
const TILE: usize = 16;

/// Transposes a `rows x cols` row-major buffer into `dst` (`cols x rows`): the conversion
/// between example-major batches and the kernels' feature-major layout. Large buffers (a
/// batch of images) are split between threads by runs of output rows.
pub fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    transpose_at(simd::level(), src, rows, cols, dst)
}

/// [`transpose`] at a given vector level (to compare levels in tests).
pub fn transpose_at(level: SimdLevel, src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
    check_dense("src", src, rows, cols);
    transpose_by(level, src, cols, rows, |r| r * cols, dst)
}

/// Transposes rows `ids` of the `width`-wide row-major `src` into `dst` (`width x
/// ids.len()`): `dst[c * ids.len() + b] = src[ids[b] * width + c]`. A training step's input
/// batch goes this way from the data set's rows straight into the kernels' layout, without
/// first being copied into a batch of its own (on a CIFAR-10 batch of 100, that copy was a
/// pass over 1.2 MB per step, read back at once by the transpose).
///
/// # Panics
/// If an id is not a row of `src`.
pub fn transpose_rows(src: &[f32], width: usize, ids: &[usize], dst: &mut [f32]) {
    transpose_rows_at(simd::level(), src, width, ids, dst)
}

/// [`transpose_rows`] at a given vector level.
pub fn transpose_rows_at(
    level: SimdLevel,
    src: &[f32],
    width: usize,
    ids: &[usize],
    dst: &mut [f32],
) {
    if let Some(n_rows) = src.len().checked_div(width) {
        assert_eq!(src.len() % width, 0, "src is not a whole number of rows");
        if let Some(&id) = ids.iter().find(|&&id| id >= n_rows) {
            panic!("row {id} is not a row of a {n_rows}-row source");
        }
    }
    transpose_by(level, src, width, ids.len(), |b| ids[b] * width, dst)
}

/// `dst[c * rows + r] = src[start(r) + c]` for `r < rows`, `c < cols`: the transpose of the
/// rows of `src` that begin at `start(0), start(1), ...`, which the callers have checked to
/// hold `cols` values each (the tiles' loads are checked again where they read).
fn transpose_by(
    level: SimdLevel,
    src: &[f32],
    cols: usize,
    rows: usize,
    start: impl Fn(usize) -> usize + Sync,
    dst: &mut [f32],
) {
    check_dense("dst", dst, cols, rows);
    if rows == 0 || cols == 0 {
        return;
    }
    // `out` holds output rows `first..`: columns `first..` of `src`.
    let block = |first: usize, out: &mut [f32]| {
        let n = out.len() / rows;
        for r0 in (0..rows).step_by(TILE) {
            let starts: [usize; TILE] = std::array::from_fn(|k| start((r0 + k).min(rows - 1)));
            let shape = [TILE.min(rows - r0), n];
            band(level, (src, &starts, first), shape, (&mut out[r0..], rows));
        }
    };
    if rows * cols <= TASK_WORK {
        block(0, dst);
    } else {
        // One run of columns per thread, not many short ones: a task reads each row of its
        // tiles over its run of columns, and runs of ~11 cache lines (176 of a CIFAR-10
        // batch's 3072 columns) were too short for the hardware prefetcher to follow; 500
        // picked batches of 100 x 3072 took 41-62 ms with them, 34 ms with two runs.
        let per_thread = cols.div_ceil(rayon::current_num_threads());
        let per_task = (TASK_WORK / rows).max(per_thread).next_multiple_of(TILE);
        dst.par_chunks_mut(per_task * rows)
            .enumerate()
            .for_each(|(t, out)| block(t * per_task, out));
    }
}

/// `dst[c * dst_stride + r] = src[r * src_stride + c]` for `r < rows`, `c < cols` (`shape =
/// [rows, cols]`, `rows` 1 to 16): a band of rows transposed into a destination whose rows
/// are longer than the band. The sparse-input forward product makes its outputs 16 examples
/// at a time, example-major, and writes them into outputs of the whole batch this way.
///
/// # Panics
/// If `rows` is not 1 to 16, or the band reaches beyond `src` or `dst`.
pub(crate) fn transpose_band_at(
    level: SimdLevel,
    (src, src_stride): (&[f32], usize),
    [rows, cols]: [usize; 2],
    (dst, dst_stride): (&mut [f32], usize),
) {
    assert!(
        (1..=TILE).contains(&rows),
        "a band of 1 to 16 rows, not {rows}"
    );
    if cols == 0 {
        return;
    }
    assert!(
        src.len() >= (rows - 1) * src_stride + cols,
        "the band's rows reach beyond the source"
    );
    assert!(
        dst.len() >= (cols - 1) * dst_stride + rows,
        "the band's columns reach beyond the destination"
    );
    let starts: [usize; TILE] = std::array::from_fn(|r| r.min(rows - 1) * src_stride);
    band(level, (src, &starts, 0), [rows, cols], (dst, dst_stride));
}

/// `dst[c * dst_stride + r] = src[starts[r] + first + c]` for `r < rows` (1 to 16), `c <
/// cols`: one band of rows, a 16 x 16 tile at a time, with AVX-512 where the CPU has it. The
/// whole transposes and [`transpose_band_at`] are runs of bands.
fn band(
    level: SimdLevel,
    (src, starts, first): (&[f32], &[usize; TILE], usize),
    [rows, cols]: [usize; 2],
    (dst, dst_stride): (&mut [f32], usize),
) {
    let avx512 = cfg!(target_arch = "x86_64") && simd::supported(level) == SimdLevel::Avx512;
    for c0 in (0..cols).step_by(TILE) {
        let tile_cols = TILE.min(cols - c0);
        let to = &mut dst[c0 * dst_stride..];
        if avx512 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512 (`supported` checked it).
            unsafe {
                avx512::tile(src, (starts, first + c0), to, dst_stride, [rows, tile_cols])
            };
            continue;
        }
        for (r, s) in starts.iter().enumerate().take(rows) {
            for c in 0..tile_cols {
                to[c * dst_stride + r] = src[s + first + c0 + c];
            }
        }
    }
}

/// `out[c][r] = src[r * stride + c]` for `r, c < 16`: one tile of [`transpose`], for callers
/// that consume a tile at a time (the dropout mask turns its random words into flags tile by
/// tile, without a transposed copy of the words).
pub fn transpose_tile_u32(src: &[u32], stride: usize, out: &mut [[u32; TILE]; TILE]) {
    transpose_tile_u32_part(src, stride, [TILE, TILE], out)
}

/// [`transpose_tile_u32`] of the first `rows x cols` of a tile (each 1 to 16, `shape = [rows,
/// cols]`: a batch of 100 ends in tiles of 4 rows, a run of features in tiles of fewer
/// columns): `out[c][r]` for `r < rows`, `c < cols` is set, the rest of `out` left as it was.
pub fn transpose_tile_u32_part(
    src: &[u32],
    stride: usize,
    shape: [usize; 2],
    out: &mut [[u32; TILE]; TILE],
) {
    tile_u32_part_at(simd::level(), src, stride, shape, out)
}

/// [`transpose_tile_u32_part`] at a given vector level.
fn tile_u32_part_at(
    level: SimdLevel,
    src: &[u32],
    stride: usize,
    [rows, cols]: [usize; 2],
    out: &mut [[u32; TILE]; TILE],
) {
    assert!(
        (1..=TILE).contains(&rows) && (1..=TILE).contains(&cols),
        "a tile of 1 to 16 rows and columns, not {rows} x {cols}"
    );
    assert!(
        src.len() >= (rows - 1) * stride + cols,
        "{rows} rows of {cols} values with row stride {stride} need {} values, got {}",
        (rows - 1) * stride + cols,
        src.len()
    );
    #[cfg(target_arch = "x86_64")]
    if simd::supported(level) == SimdLevel::Avx512 {
        // SAFETY: `u32` and `f32` have one size and alignment and every bit pattern is an
        // `f32`; the tile only loads, shuffles and stores them, which keeps every bit.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(src.as_ptr().cast::<f32>(), src.len()),
                std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), TILE * TILE),
            )
        };
        let starts: [usize; TILE] = std::array::from_fn(|r| r * stride);
        // SAFETY: the CPU has AVX-512 (`supported` checked it).
        unsafe { avx512::tile(src, (&starts, 0), dst, TILE, [rows, cols]) };
        return;
    }
    for (c, column) in out.iter_mut().enumerate().take(cols) {
        for (r, v) in column.iter_mut().enumerate().take(rows) {
            *v = src[r * stride + c];
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::TILE;
    use std::arch::x86_64::*;

    /// `dst[c * dst_stride + r] = src[starts[r] + offset + c]` for `r < rows`, `c < cols`,
    /// where
    /// `[rows, cols] = shape` is at most 16 x 16: a whole tile, or one at the edge of the
    /// batch (a batch of 100 ends in tiles of 4 rows), moved with masked loads and stores
    /// instead of one value at a time. Rows past `rows` are neither read nor written. The
    /// row starts come with a separate `offset` (the tile's first column) so that a run of
    /// tiles shares one array of starts.
    ///
    /// Rows `R0..R15` in registers, each four 128-bit lanes of four values. Round 1 interleaves
    /// the values of row pairs, round 2 their pairs, so register `4g + m` holds, in its lane
    /// `L`, rows `4g..4g + 3` at column `4L + m`; rounds 3 and 4 transpose those 4 x 4 blocks
    /// of lanes across the registers `m, 4 + m, 8 + m, 12 + m`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn tile(
        src: &[f32],
        (starts, offset): (&[usize; TILE], usize),
        dst: &mut [f32],
        dst_stride: usize,
        shape: [usize; 2],
    ) {
        let [rows, cols] = shape;
        assert!(
            (1..=TILE).contains(&rows) && (1..=TILE).contains(&cols),
            "a tile of 1 to 16 rows and columns"
        );
        assert!(
            starts[..rows]
                .iter()
                .all(|&s| s + offset + cols <= src.len()),
            "source tile in bounds"
        );
        assert!(
            dst.len() >= (cols - 1) * dst_stride + rows,
            "destination tile in bounds"
        );
        let column_mask: __mmask16 = (1u32 << cols).wrapping_sub(1) as u16;
        let row_mask: __mmask16 = (1u32 << rows).wrapping_sub(1) as u16;
        let mut r = [_mm512_setzero_ps(); TILE];
        for (k, v) in r.iter_mut().enumerate().take(rows) {
            // SAFETY: row k's first `cols` values end at starts[k] + offset + cols <=
            // src.len() (asserted); the masked-off lanes are not read.
            *v =
                unsafe { _mm512_maskz_loadu_ps(column_mask, src.as_ptr().add(starts[k] + offset)) };
        }
        let mut t = [_mm512_setzero_ps(); TILE];
        for i in 0..TILE / 2 {
            t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
        }
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        for g in 0..TILE / 4 {
            let (a, b, c, d) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
            r[4 * g] = ps(_mm512_unpacklo_pd(pd(a), pd(c)));
            r[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(a), pd(c)));
            r[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(b), pd(d)));
            r[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(b), pd(d)));
        }
        for m in 0..4 {
            let (a, b, c, d) = (r[m], r[4 + m], r[8 + m], r[12 + m]);
            let v0 = _mm512_shuffle_f32x4::<0x44>(a, b);
            let v1 = _mm512_shuffle_f32x4::<0xEE>(a, b);
            let v2 = _mm512_shuffle_f32x4::<0x44>(c, d);
            let v3 = _mm512_shuffle_f32x4::<0xEE>(c, d);
            let columns = [
                _mm512_shuffle_f32x4::<0x88>(v0, v2),
                _mm512_shuffle_f32x4::<0xDD>(v0, v2),
                _mm512_shuffle_f32x4::<0x88>(v1, v3),
                _mm512_shuffle_f32x4::<0xDD>(v1, v3),
            ];
            for (lane, v) in columns.into_iter().enumerate() {
                let c = 4 * lane + m;
                if c < cols {
                    // SAFETY: column c's first `rows` values end at c * dst_stride + rows <=
                    // dst.len() (asserted); the masked-off lanes are not written.
                    unsafe {
                        _mm512_mask_storeu_ps(dst.as_mut_ptr().add(c * dst_stride), row_mask, v)
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bands of every height, ending inside a tile or not, into longer destination rows,
    /// at every vector level; what lies outside the band is not written.
    #[test]
    fn a_band_is_the_naive_transpose() {
        let (src_stride, dst_stride) = (45, 37);
        for (level, rows, cols) in SimdLevel::available()
            .into_iter()
            .flat_map(|l| [(1, 1), (16, 45), (5, 33), (16, 16), (3, 0)].map(|(r, c)| (l, r, c)))
        {
            let src: Vec<f32> = (0..rows * src_stride).map(|v| v as f32).collect();
            let mut dst = vec![-1.0f32; cols.max(1) * dst_stride];
            transpose_band_at(
                level,
                (&src, src_stride),
                [rows, cols],
                (&mut dst, dst_stride),
            );
            for (k, &v) in dst.iter().enumerate() {
                let (c, r) = (k / dst_stride, k % dst_stride);
                let want = if r < rows && c < cols {
                    src[r * src_stride + c]
                } else {
                    -1.0
                };
                assert_eq!(
                    v,
                    want,
                    "{} {rows} x {cols}: row {r}, column {c}",
                    level.name()
                );
            }
        }
    }

    #[test]
    fn a_word_tile_is_the_naive_transpose() {
        let stride = 37;
        let src: Vec<u32> = (0..15 * stride as u32 + 16)
            .map(|v| v.wrapping_mul(2_654_435_761))
            .collect();
        let mut out = [[0u32; TILE]; TILE];
        transpose_tile_u32(&src, stride, &mut out);
        for (c, column) in out.iter().enumerate() {
            for (r, &v) in column.iter().enumerate() {
                assert_eq!(v, src[r * stride + c], "row {r}, column {c}");
            }
        }
    }

    /// A part of a tile (fewer rows, fewer columns or both) sets exactly that part and leaves
    /// the rest, at the end of the source (the last row's values are its last values).
    #[test]
    fn a_part_of_a_word_tile_sets_only_that_part() {
        let stride = 21;
        let shapes = [(1, 16), (4, 16), (15, 16), (4, 3), (16, 1)];
        for ((rows, cols), level) in shapes
            .into_iter()
            .flat_map(|s| SimdLevel::available().into_iter().map(move |l| (s, l)))
        {
            let src: Vec<u32> = (0..((rows - 1) * stride + cols) as u32).collect();
            let mut out = [[u32::MAX; TILE]; TILE];
            tile_u32_part_at(level, &src, stride, [rows, cols], &mut out);
            for (c, column) in out.iter().enumerate() {
                for (r, &v) in column.iter().enumerate() {
                    let want = if r < rows && c < cols {
                        src[r * stride + c]
                    } else {
                        u32::MAX
                    };
                    assert_eq!(
                        v,
                        want,
                        "{rows} x {cols} at {}: row {r}, column {c}",
                        level.name()
                    );
                }
            }
        }
    }

    /// Every vector level gives the naive transpose, on shapes with and without edge tiles,
    /// with one task and with several (a CIFAR-10 batch, a tall thin one, one wide row).
    #[test]
    fn every_level_gives_the_naive_transpose() {
        let shapes = [
            (1, 1),
            (16, 16),
            (17, 15),
            (37, 19),
            (32, 48),
            (100, 3072),
            (20_000, 3),
            (1, 40_000),
            (128, 784),
        ];
        for (rows, cols) in shapes {
            let src: Vec<f32> = (0..rows * cols).map(|v| v as f32 - 0.5).collect();
            let mut want = vec![0.0f32; rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    want[c * rows + r] = src[r * cols + c];
                }
            }
            for level in SimdLevel::available() {
                let mut dst = vec![f32::NAN; rows * cols];
                transpose_at(level, &src, rows, cols, &mut dst);
                assert!(dst == want, "{rows} x {cols} at {}", level.name());
            }
        }
    }

    /// Rows picked from a data set, in any order and repeated, give the naive transpose of
    /// the batch they make, at every level (with and without edge tiles, one task and several).
    #[test]
    fn picked_rows_give_the_transpose_of_their_batch() {
        for (n_rows, width, picks) in [(5, 1, 1), (40, 16, 16), (300, 37, 33), (700, 3072, 100)] {
            let src: Vec<f32> = (0..n_rows * width).map(|v| v as f32 * 0.5 - 1.0).collect();
            // A scattered order with repeats: 7b mod n_rows.
            let ids: Vec<usize> = (0..picks).map(|b| (7 * b + b / 3) % n_rows).collect();
            let mut want = vec![0.0f32; width * picks];
            for (b, &id) in ids.iter().enumerate() {
                for c in 0..width {
                    want[c * picks + b] = src[id * width + c];
                }
            }
            for level in SimdLevel::available() {
                let mut dst = vec![f32::NAN; width * picks];
                transpose_rows_at(level, &src, width, &ids, &mut dst);
                assert!(
                    dst == want,
                    "{picks} of {n_rows} x {width} at {}",
                    level.name()
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "row 4 is not a row of a 4-row source")]
    fn a_picked_row_beyond_the_source_is_refused() {
        let src = vec![0.0f32; 4 * 3];
        transpose_rows(&src, 3, &[0, 4], &mut [0.0; 6]);
    }
}
