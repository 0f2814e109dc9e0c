//! Compressed sparse row storage of a layer's weight matrix.
//!
//! A layer maps `n_rows` inputs to `n_cols` outputs; row `i` lists the outputs that input `i`
//! connects to. With this orientation all three training products (`X W`, `dZ Wᵀ` and the
//! weight gradient sampled at the non-zeros) walk the rows of `W` in order, so no second layout
//! has to be kept in step with the first after a topology edit. Column-oriented access (the
//! fan-in of an output neuron) is served by [`CscIndex`], derived on demand from the CSR.

use crate::error::SparseError;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// A sparse `n_rows x n_cols` matrix of `f32` in CSR form with `u32` column indices.
///
/// Invariants (checked by every constructor, relied upon by every kernel): `row_ptr` has
/// `n_rows + 1` non-decreasing entries starting at 0 and ending at `nnz`; within each row the
/// column indices are strictly increasing (sorted, no duplicates) and `< n_cols`.
///
/// The column view ([`Csr::csc_index`]) is built on first use and kept until the pattern
/// changes: values may change every optimizer step without invalidating it (it stores CSR
/// offsets, not values), and every pattern edit goes through a constructor, which starts
/// without one. So the forward kernel pays for the column view once per topology update,
/// not once per batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "CsrParts", into = "CsrParts")]
pub struct Csr {
    n_rows: usize,
    n_cols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    values: Vec<f32>,
    columns: OnceLock<CscIndex>,
}

impl PartialEq for Csr {
    /// Equal shape, pattern and values (the cached column view is derived, not compared).
    fn eq(&self, other: &Self) -> bool {
        self.n_rows == other.n_rows
            && self.n_cols == other.n_cols
            && self.row_ptr == other.row_ptr
            && self.col_idx == other.col_idx
            && self.values == other.values
    }
}

/// The raw arrays of a [`Csr`], as serialised; turned back into a `Csr` only through
/// [`Csr::try_from_parts`], so a corrupted file cannot produce an invalid matrix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CsrParts {
    /// Number of rows (layer inputs).
    pub n_rows: usize,
    /// Number of columns (layer outputs).
    pub n_cols: usize,
    /// Row start offsets, `n_rows + 1` entries.
    pub row_ptr: Vec<usize>,
    /// Column index of each stored entry.
    pub col_idx: Vec<u32>,
    /// Value of each stored entry.
    pub values: Vec<f32>,
}

impl TryFrom<CsrParts> for Csr {
    type Error = SparseError;
    fn try_from(p: CsrParts) -> Result<Self, SparseError> {
        Csr::try_from_parts(p.n_rows, p.n_cols, p.row_ptr, p.col_idx, p.values)
    }
}

impl From<Csr> for CsrParts {
    fn from(c: Csr) -> Self {
        CsrParts {
            n_rows: c.n_rows,
            n_cols: c.n_cols,
            row_ptr: c.row_ptr,
            col_idx: c.col_idx,
            values: c.values,
        }
    }
}

impl Csr {
    /// Builds a matrix from its CSR arrays, checking every invariant the kernels rely on.
    pub fn try_from_parts(
        n_rows: usize,
        n_cols: usize,
        row_ptr: Vec<usize>,
        col_idx: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<Self, SparseError> {
        check_parts(n_rows, n_cols, &row_ptr, &col_idx, &values)?;
        Ok(Csr {
            n_rows,
            n_cols,
            row_ptr,
            col_idx,
            values,
            columns: OnceLock::new(),
        })
    }

    /// Builds a matrix from `(row, col, value)` triplets in any order; duplicates are an error.
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        mut triplets: Vec<(u32, u32, f32)>,
    ) -> Result<Self, SparseError> {
        triplets.sort_unstable_by_key(|&(r, c, _)| (r, c));
        let mut row_ptr = vec![0usize; n_rows + 1];
        for &(r, c, _) in &triplets {
            if r as usize >= n_rows || c as usize >= n_cols {
                return Err(SparseError::Invalid(format!(
                    "entry ({r}, {c}) outside {n_rows} x {n_cols}"
                )));
            }
            row_ptr[r as usize + 1] += 1;
        }
        for i in 0..n_rows {
            row_ptr[i + 1] += row_ptr[i];
        }
        let col_idx = triplets.iter().map(|t| t.1).collect();
        let values = triplets.iter().map(|t| t.2).collect();
        Self::try_from_parts(n_rows, n_cols, row_ptr, col_idx, values)
    }

    /// An all-zero pattern (no stored entries) of the given shape.
    pub fn empty(n_rows: usize, n_cols: usize) -> Self {
        Csr {
            n_rows,
            n_cols,
            row_ptr: vec![0; n_rows + 1],
            col_idx: Vec::new(),
            values: Vec::new(),
            columns: OnceLock::new(),
        }
    }

    /// Number of rows (inputs of the layer).
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns (outputs of the layer).
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    /// Number of stored entries (the layer's connections).
    pub fn nnz(&self) -> usize {
        self.col_idx.len()
    }

    /// Stored entries over all positions, `nnz / (n_rows n_cols)`; 0 for an empty shape.
    pub fn density(&self) -> f64 {
        let size = self.n_rows as f64 * self.n_cols as f64;
        if size == 0.0 {
            0.0
        } else {
            self.nnz() as f64 / size
        }
    }

    /// Row start offsets (`n_rows + 1` entries).
    pub fn row_ptr(&self) -> &[usize] {
        &self.row_ptr
    }

    /// Column index of every stored entry, row by row.
    pub fn col_idx(&self) -> &[u32] {
        &self.col_idx
    }

    /// Value of every stored entry, aligned with [`Csr::col_idx`].
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Mutable values; the pattern cannot be changed through this.
    pub fn values_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// [`Csr::row_ptr`] and [`Csr::col_idx`] beside [`Csr::values_mut`], for a kernel that
    /// walks the pattern while it changes the values (the backward sweep's weight step).
    pub fn pattern_and_values_mut(&mut self) -> (&[usize], &[u32], &mut [f32]) {
        (&self.row_ptr, &self.col_idx, &mut self.values)
    }

    /// Range of entry offsets of row `i`.
    #[inline]
    pub fn row_range(&self, i: usize) -> std::ops::Range<usize> {
        self.row_ptr[i]..self.row_ptr[i + 1]
    }

    /// Column indices of row `i`.
    #[inline]
    pub fn row_cols(&self, i: usize) -> &[u32] {
        &self.col_idx[self.row_range(i)]
    }

    /// Whether position `(i, j)` is stored (binary search within the row).
    pub fn contains(&self, i: usize, j: u32) -> bool {
        self.position(i, j).is_some()
    }

    /// Where position `(i, j)` is stored (its index into [`values`](Self::values)), if it is.
    pub fn position(&self, i: usize, j: u32) -> Option<usize> {
        let start = self.row_ptr[i];
        self.row_cols(i).binary_search(&j).ok().map(|k| start + k)
    }

    /// Number of stored entries in each row: the out-degree of every input neuron.
    pub fn row_degrees(&self) -> Vec<usize> {
        self.row_ptr.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Number of stored entries in each column: the fan-in of every output neuron.
    pub fn col_degrees(&self) -> Vec<usize> {
        let mut deg = vec![0usize; self.n_cols];
        for &c in &self.col_idx {
            deg[c as usize] += 1;
        }
        deg
    }

    /// Row index of every stored entry, aligned with [`Csr::col_idx`] (COO rows).
    pub fn row_indices(&self) -> Vec<u32> {
        let mut rows = Vec::with_capacity(self.nnz());
        for i in 0..self.n_rows {
            rows.extend(std::iter::repeat_n(
                i as u32,
                self.row_ptr[i + 1] - self.row_ptr[i],
            ));
        }
        rows
    }

    /// The column-major index of this pattern (see [`CscIndex`]), built on first use and
    /// cached until the pattern changes.
    pub fn csc_index(&self) -> &CscIndex {
        self.columns.get_or_init(|| CscIndex::build(self))
    }

    /// Bytes of heap memory held: the CSR arrays and, once built, the column view.
    pub fn heap_bytes(&self) -> usize {
        let csr = self.row_ptr.capacity() * size_of::<usize>()
            + self.col_idx.capacity() * size_of::<u32>()
            + self.values.capacity() * size_of::<f32>();
        let csc = self.columns.get().map_or(0, |c| {
            c.col_ptr.capacity() * size_of::<usize>()
                + c.row_idx.heap_bytes()
                + c.csr_pos.capacity() * size_of::<u32>()
        });
        csr + csc
    }

    /// Dense row-major copy. For tests, small examples and debugging only: a sparse layer never
    /// materialises this in training or topology updates.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut d = vec![0.0; self.n_rows * self.n_cols];
        for i in 0..self.n_rows {
            for k in self.row_range(i) {
                d[i * self.n_cols + self.col_idx[k] as usize] = self.values[k];
            }
        }
        d
    }

    /// Checks every invariant again (after an in-place edit, in tests and debug builds).
    pub fn validate(&self) -> Result<(), SparseError> {
        check_parts(
            self.n_rows,
            self.n_cols,
            &self.row_ptr,
            &self.col_idx,
            &self.values,
        )
    }

    /// The raw arrays for an in-place edit by [`crate::SparseLayer`], which keeps the
    /// invariants; the cached column view is dropped since the pattern is about to change.
    pub(crate) fn raw_parts_mut(&mut self) -> (&mut Vec<usize>, &mut Vec<u32>, &mut Vec<f32>) {
        self.columns = OnceLock::new();
        (&mut self.row_ptr, &mut self.col_idx, &mut self.values)
    }
}

/// Checks the CSR invariants (see [`Csr`]).
fn check_parts(
    n_rows: usize,
    n_cols: usize,
    row_ptr: &[usize],
    col_idx: &[u32],
    values: &[f32],
) -> Result<(), SparseError> {
    if n_cols > u32::MAX as usize {
        return Err(SparseError::Shape(format!(
            "{n_cols} columns do not fit u32 indices"
        )));
    }
    if row_ptr.len() != n_rows + 1 {
        return Err(SparseError::Invalid(format!(
            "row_ptr has {} entries, expected {}",
            row_ptr.len(),
            n_rows + 1
        )));
    }
    if col_idx.len() != values.len() {
        return Err(SparseError::Invalid(format!(
            "{} column indices but {} values",
            col_idx.len(),
            values.len()
        )));
    }
    if row_ptr[0] != 0 || row_ptr[n_rows] != col_idx.len() {
        return Err(SparseError::Invalid(
            "row_ptr must start at 0 and end at nnz".into(),
        ));
    }
    for i in 0..n_rows {
        let (lo, hi) = (row_ptr[i], row_ptr[i + 1]);
        if lo > hi {
            return Err(SparseError::Invalid(format!(
                "row_ptr decreases at row {i}"
            )));
        }
        let cols = &col_idx[lo..hi];
        for (k, &c) in cols.iter().enumerate() {
            if c as usize >= n_cols {
                return Err(SparseError::Invalid(format!(
                    "column {c} out of range {n_cols} in row {i}"
                )));
            }
            if k > 0 && cols[k - 1] >= c {
                return Err(SparseError::Invalid(format!(
                    "columns of row {i} are not strictly increasing"
                )));
            }
        }
    }
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(SparseError::Invalid(format!(
            "non-finite value at entry {k}"
        )));
    }
    Ok(())
}

/// Column-major index of a CSR pattern: for each column, the rows it is connected to and the
/// CSR offset of each such entry (so values stay stored once, in the CSR).
///
/// Derived from the CSR (and cached in it) rather than edited beside it, so it can never be
/// stale after an edit; building it is `O(nnz + n_cols)`, the order of the edit itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CscIndex {
    /// Column start offsets, `n_cols + 1` entries.
    pub col_ptr: Vec<usize>,
    /// Row index of each entry in column-major order (increasing within a column).
    pub row_idx: RowIndices,
    /// CSR offset of each entry in column-major order (32 bits: a layer holds fewer than
    /// 2^32 connections, 16 GB of weights alone).
    pub csr_pos: Vec<u32>,
}

impl CscIndex {
    fn build(m: &Csr) -> Self {
        let mut col_ptr = vec![0usize; m.n_cols + 1];
        for &c in &m.col_idx {
            col_ptr[c as usize + 1] += 1;
        }
        for j in 0..m.n_cols {
            col_ptr[j + 1] += col_ptr[j];
        }
        let mut next = col_ptr.clone();
        let mut row_idx = RowIndices::zeros(m.n_rows, m.nnz());
        let mut csr_pos = vec![0u32; m.nnz()];
        for i in 0..m.n_rows {
            for k in m.row_range(i) {
                let c = m.col_idx[k] as usize;
                row_idx.set(next[c], i);
                csr_pos[next[c]] =
                    u32::try_from(k).expect("a layer holds fewer than 2^32 connections");
                next[c] += 1;
            }
        }
        CscIndex {
            col_ptr,
            row_idx,
            csr_pos,
        }
    }
}

/// Row indices of a column view in the narrowest type that holds the matrix's rows: 2 bytes
/// per connection for layers of up to 65,536 inputs (every layer of the studies and of the
/// epoch benches), 4 beyond (the million-neuron network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowIndices {
    /// At most 2^16 rows.
    Narrow(Vec<u16>),
    /// More than 2^16 rows.
    Wide(Vec<u32>),
}

impl RowIndices {
    /// `len` zero indices, narrow when every row of `n_rows` fits in 16 bits.
    fn zeros(n_rows: usize, len: usize) -> Self {
        if n_rows <= 1 << 16 {
            RowIndices::Narrow(vec![0; len])
        } else {
            RowIndices::Wide(vec![0; len])
        }
    }

    fn set(&mut self, p: usize, row: usize) {
        match self {
            RowIndices::Narrow(v) => v[p] = row as u16,
            RowIndices::Wide(v) => v[p] = row as u32,
        }
    }

    /// The row of entry `p`.
    pub fn get(&self, p: usize) -> usize {
        match self {
            RowIndices::Narrow(v) => v[p] as usize,
            RowIndices::Wide(v) => v[p] as usize,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The indices as a slice of either width.
    pub fn as_slice(&self) -> IndexSlice<'_> {
        match self {
            RowIndices::Narrow(v) => IndexSlice::Narrow(v),
            RowIndices::Wide(v) => IndexSlice::Wide(v),
        }
    }

    /// The indices widened to `u32` (a copy, for tests and tools).
    pub fn to_vec(&self) -> Vec<u32> {
        (0..self.len()).map(|p| self.get(p) as u32).collect()
    }

    /// Bytes of heap memory held.
    pub fn heap_bytes(&self) -> usize {
        match self {
            RowIndices::Narrow(v) => v.capacity() * size_of::<u16>(),
            RowIndices::Wide(v) => v.capacity() * size_of::<u32>(),
        }
    }
}

/// A borrowed list of row indices of either width (a column view's [`RowIndices`], or a CSR's
/// `u32` column indices), for kernels that gather rows by index.
#[derive(Debug, Clone, Copy)]
pub enum IndexSlice<'a> {
    /// 16-bit indices.
    Narrow(&'a [u16]),
    /// 32-bit indices.
    Wide(&'a [u32]),
}

impl IndexSlice<'_> {
    /// Number of indices.
    pub fn len(&self) -> usize {
        match self {
            IndexSlice::Narrow(v) => v.len(),
            IndexSlice::Wide(v) => v.len(),
        }
    }

    /// Whether there are no indices.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest index, if any.
    pub fn max(&self) -> Option<usize> {
        match self {
            IndexSlice::Narrow(v) => v.iter().max().map(|&i| i as usize),
            IndexSlice::Wide(v) => v.iter().max().map(|&i| i as usize),
        }
    }
}

impl<'a> From<&'a [u32]> for IndexSlice<'a> {
    fn from(v: &'a [u32]) -> Self {
        IndexSlice::Wide(v)
    }
}

impl<'a> From<&'a RowIndices> for IndexSlice<'a> {
    fn from(v: &'a RowIndices) -> Self {
        v.as_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Csr {
        // [[0, 1, 0],
        //  [2, 0, 3]]
        Csr::from_triplets(2, 3, vec![(1, 2, 3.0), (0, 1, 1.0), (1, 0, 2.0)]).unwrap()
    }

    #[test]
    fn triplets_are_sorted_into_rows() {
        let m = small();
        assert_eq!(m.row_ptr(), &[0, 1, 3]);
        assert_eq!(m.col_idx(), &[1, 0, 2]);
        assert_eq!(m.values(), &[1.0, 2.0, 3.0]);
        assert_eq!(m.to_dense(), vec![0.0, 1.0, 0.0, 2.0, 0.0, 3.0]);
        assert_eq!(m.row_degrees(), vec![1, 2]);
        assert_eq!(m.col_degrees(), vec![1, 1, 1]);
        assert_eq!(m.row_indices(), vec![0, 1, 1]);
        assert!(m.contains(1, 2) && !m.contains(0, 0));
        assert!((m.density() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn position_indexes_the_stored_values() {
        let m = small();
        assert_eq!(m.position(1, 2).map(|k| m.values()[k]), Some(3.0));
        assert_eq!(m.position(1, 0).map(|k| m.values()[k]), Some(2.0));
        assert_eq!(m.position(0, 1), Some(0));
        assert_eq!(m.position(0, 2), None);
    }

    #[test]
    fn invalid_parts_are_rejected() {
        assert!(Csr::try_from_parts(1, 3, vec![0, 2], vec![2, 1], vec![1.0, 1.0]).is_err());
        assert!(Csr::try_from_parts(1, 3, vec![0, 2], vec![1, 1], vec![1.0, 1.0]).is_err());
        assert!(Csr::try_from_parts(1, 3, vec![0, 1], vec![3], vec![1.0]).is_err());
        assert!(Csr::try_from_parts(1, 3, vec![0, 1], vec![0], vec![f32::NAN]).is_err());
        assert!(Csr::try_from_parts(2, 3, vec![0, 1], vec![0], vec![1.0]).is_err());
        assert!(Csr::from_triplets(2, 2, vec![(0, 0, 1.0), (0, 0, 2.0)]).is_err());
    }

    #[test]
    fn column_view_rows_are_narrow_up_to_65536_rows_and_wide_beyond() {
        for (n_rows, wide) in [(1usize << 16, false), ((1 << 16) + 1, true)] {
            let last = n_rows as u32 - 1;
            let m =
                Csr::from_triplets(n_rows, 2, vec![(last, 0, 1.0), (3, 0, 2.0), (last, 1, 3.0)])
                    .unwrap();
            let rows = &m.csc_index().row_idx;
            assert_eq!(matches!(rows, RowIndices::Wide(_)), wide, "{n_rows} rows");
            assert_eq!(rows.to_vec(), vec![3, last, last]);
            let width = if wide { 4 } else { 2 };
            assert_eq!(rows.heap_bytes(), 3 * width);
        }
    }

    #[test]
    fn csc_index_lists_each_column_in_row_order() {
        let m = small();
        let csc = m.csc_index();
        assert_eq!(csc.col_ptr, vec![0, 1, 2, 3]);
        assert_eq!(csc.row_idx.to_vec(), vec![1, 0, 1]);
        assert_eq!(csc.csr_pos, vec![1, 0, 2]);
    }

    #[test]
    fn serde_round_trip_validates() {
        let m = small();
        let parts: CsrParts = m.clone().into();
        let back = Csr::try_from(parts).unwrap();
        assert_eq!(back, m);
        let bad = CsrParts {
            n_rows: 1,
            n_cols: 2,
            row_ptr: vec![0, 2],
            col_idx: vec![1, 0],
            values: vec![1.0, 1.0],
        };
        assert!(Csr::try_from(bad).is_err());
    }
}
