//! The passes of a training step that treat every value alone (bias, activation, dropout,
//! its derivative, the optimizer step), split between threads when they are large.
//!
//! Every value is computed by itself, so how the values are split changes no bit: the
//! results are the same with one thread or many. Small passes (a WDBC batch) stay on the
//! calling thread, where a parallel task would cost more than the work. Each task runs
//! inside [`vectorized`], at the CPU's widest vector level (the same bits at any width).

use rayon::prelude::*;
use sparse_core::simd::vectorized;

/// Values per parallel task; a pass over fewer runs on the calling thread.
pub const TASK_VALUES: usize = 1 << 15;

/// Runs `f(first_row, rows)` over `out` split into whole rows of `row_len` values, in
/// parallel when `out` holds more than [`TASK_VALUES`].
pub fn for_rows<T: Send>(out: &mut [T], row_len: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    if row_len == 0 || out.is_empty() {
        return;
    }
    if out.len() <= TASK_VALUES {
        return vectorized(|| f(0, out));
    }
    let per = (TASK_VALUES / row_len).max(1);
    out.par_chunks_mut(per * row_len)
        .enumerate()
        .for_each(|(c, chunk)| vectorized(|| f(c * per, chunk)));
}

/// Runs `f(a, b, c)` over aligned chunks of three buffers of one length, in parallel when
/// they hold more than [`TASK_VALUES`].
pub fn zip3(
    a: &mut [f32],
    b: &[f32],
    c: &mut [f32],
    f: impl Fn(&mut [f32], &[f32], &mut [f32]) + Sync + Send,
) {
    assert!(a.len() == b.len() && b.len() == c.len(), "aligned buffers");
    if a.len() <= TASK_VALUES {
        return vectorized(|| f(a, b, c));
    }
    a.par_chunks_mut(TASK_VALUES)
        .zip(b.par_chunks(TASK_VALUES))
        .zip(c.par_chunks_mut(TASK_VALUES))
        .for_each(|((a, b), c)| vectorized(|| f(a, b, c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_whole_and_numbered_from_their_first() {
        for (len, row_len) in [(0usize, 3usize), (12, 3), (3 * TASK_VALUES + 7, 7)] {
            let len = len - len % row_len;
            let mut out = vec![0.0f32; len];
            for_rows(&mut out, row_len, |r0, chunk| {
                assert_eq!(chunk.len() % row_len, 0);
                for (r, row) in chunk.chunks_exact_mut(row_len).enumerate() {
                    row.fill((r0 + r) as f32);
                }
            });
            for (i, v) in out.iter().enumerate() {
                assert_eq!(*v, (i / row_len) as f32);
            }
        }
    }

    #[test]
    fn zip3_visits_every_value_once() {
        let n = 2 * TASK_VALUES + 5;
        let (mut a, b, mut c) = (vec![1.0f32; n], vec![2.0f32; n], vec![0.0f32; n]);
        zip3(&mut a, &b, &mut c, |a, b, c| {
            for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                *a += b;
                *c += 1.0;
            }
        });
        assert!(a.iter().all(|&v| v == 3.0) && c.iter().all(|&v| v == 1.0));
    }
}
