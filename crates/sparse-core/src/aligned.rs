//! A growable `f32` buffer that starts on a cache line, for the kernels' feature-major
//! activations.
//!
//! The kernels load whole rows of `batch` values as 64-byte vectors. In a buffer from the
//! global allocator (16-byte aligned) every such load straddles two cache lines, which costs
//! a second access; measured on an Intel Xeon (4000 x 4000 at 1%, batch 128), the three
//! products run 20–35% faster on aligned rows. With `batch` a multiple of 16, every row of
//! an [`AlignedBuf`] starts on a line.

use bytemuck::{Pod, Zeroable};
use std::ops::{Deref, DerefMut};

/// Values per cache line (and per 512-bit vector).
pub const LINE_VALUES: usize = 16;

/// One cache line of values; a `Vec` of them is 64-byte aligned.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([f32; LINE_VALUES]);

/// `len` values on whole cache lines, starting on a line boundary; derefs to `[f32]`.
#[derive(Clone, Debug, Default)]
pub struct AlignedBuf {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer (no allocation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Resizes to `len` values as `Vec::resize` does: the first values are kept and new ones
    /// are `value`. Shrinking keeps the memory for the next batch.
    pub fn resize(&mut self, len: usize, value: f32) {
        let lines = len.div_ceil(LINE_VALUES);
        if lines > self.lines.len() {
            self.lines.resize(lines, Line::zeroed());
        }
        let old = self.len;
        self.len = len;
        if len > old {
            self[old..].fill(value);
        }
    }

    /// A copy of `values` on aligned memory.
    pub fn from_slice(values: &[f32]) -> Self {
        let mut b = Self::new();
        b.resize(values.len(), 0.0);
        b.copy_from_slice(values);
        b
    }

    /// Sets the length to 0, keeping the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Values the buffer can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.lines.capacity() * LINE_VALUES
    }
}

impl Deref for AlignedBuf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut bytemuck::cast_slice_mut(&mut self.lines)[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_like_a_vec_and_starts_on_a_line() {
        let mut a = AlignedBuf::new();
        let mut v: Vec<f32> = Vec::new();
        for (len, value) in [
            (5, 1.0),
            (40, 2.0),
            (17, 3.0),
            (0, 4.0),
            (33, 5.0),
            (33, 6.0),
        ] {
            a.resize(len, value);
            v.resize(len, value);
            assert_eq!(&a[..], &v[..]);
            a.iter_mut().enumerate().for_each(|(i, x)| *x += i as f32);
            v.iter_mut().enumerate().for_each(|(i, x)| *x += i as f32);
            if len > 0 {
                assert_eq!(a.as_ptr() as usize % 64, 0);
            }
        }
        assert!(a.capacity() >= 40);
        let c = AlignedBuf::from_slice(&v);
        assert_eq!(&c[..], &v[..]);
        a.clear();
        assert!(a.is_empty());
    }
}
