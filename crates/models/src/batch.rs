//! What a model is fed: a batch of examples, dense or with missing inputs left absent.

use crate::elementwise::TASK_VALUES;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sparse_core::chacha::ChaCha8Stream;
use sparse_core::kernels::transpose_tile_u32_part;
use sparse_core::simd::vectorized;
use std::borrow::Cow;

/// A batch of `rows` examples of `n_features` values each.
///
/// With `observed` set, missing inputs are *absent*: the sparse MLP feeds only the observed
/// entries to its first layer (the sparse-input kernels), and work scales with the observed
/// count. The values must be 0 at the missing entries, so a dense model fed the same batch
/// computes the same function (absent = zero after standardisation = mean imputation).
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// Feature values, 0 where not observed.
    pub x: Inputs<'a>,
    /// Number of examples.
    pub rows: usize,
    /// Observation mask, row-major `rows x n_features`, when missing inputs are fed as absent.
    pub observed: Option<&'a [bool]>,
}

/// Where a batch's feature values are.
#[derive(Debug, Clone, Copy)]
pub enum Inputs<'a> {
    /// The batch's own rows, row-major `rows x n_features`.
    Rows(&'a [f32]),
    /// Rows `ids` (the batch's examples, in order) of the row-major data set `data`, read
    /// where they are: the sparse MLP transposes them straight into its first layer's layout
    /// ([`sparse_core::kernels::transpose_rows`]), so the training loop does not copy them
    /// into a batch first (on 100 CIFAR-10 images, 1.2 MB per step read back at once).
    Picked {
        /// The data set, row-major.
        data: &'a [f32],
        /// The rows of `data` the batch holds.
        ids: &'a [usize],
    },
}

impl<'a> Inputs<'a> {
    /// The batch's values, row-major with `width` values per example: borrowed when they
    /// are the batch's own rows, copied when picked from a data set.
    pub fn to_rows(&self, width: usize) -> Cow<'a, [f32]> {
        match *self {
            Inputs::Rows(x) => Cow::Borrowed(x),
            Inputs::Picked { data, ids } => Cow::Owned(
                ids.iter()
                    .flat_map(|&r| &data[r * width..(r + 1) * width])
                    .copied()
                    .collect(),
            ),
        }
    }
}

/// The examples (and their labels) on which a gradient-growing method scores growth at a step,
/// when a [`GrowthBatchSource`](crate::policy::GrowthBatchSource) chose them.
#[derive(Debug, Clone, Copy)]
pub struct GrowthBatch<'a> {
    /// The examples.
    pub batch: Batch<'a>,
    /// Their classes.
    pub labels: &'a [u32],
}

impl<'a> Batch<'a> {
    /// A dense batch of its own rows.
    pub fn dense(x: &'a [f32], rows: usize) -> Self {
        Batch {
            x: Inputs::Rows(x),
            rows,
            observed: None,
        }
    }

    /// A dense batch of rows `ids` of the row-major data set `data`, read in place.
    pub fn picked(data: &'a [f32], ids: &'a [usize]) -> Self {
        Batch {
            x: Inputs::Picked { data, ids },
            rows: ids.len(),
            observed: None,
        }
    }
}

/// EL2N of one example (Paul et al. 2021): `‖probs − onehot(label)‖₂` of its softmax outputs.
pub fn el2n(probs: &[f32], label: u32) -> f32 {
    probs
        .iter()
        .enumerate()
        .map(|(c, &q)| (q - (c == label as usize) as u8 as f32).powi(2))
        .sum::<f32>()
        .sqrt()
}

/// Fills `mask` with an inverted-dropout mask: each entry 0 with probability `p`, else
/// `1 / (1 - p)`. One draw per entry, in order, so the sparse and the dense MLP consume the
/// dropout stream identically.
pub fn fill_dropout_mask(mask: &mut [f32], p: f32, rng: &mut (impl RngCore + ?Sized)) {
    let keep = dropout_scale(p);
    for m in mask {
        *m = if rng.random::<f32>() < p { 0.0 } else { keep };
    }
}

/// The value of a kept unit in an inverted-dropout mask, `1 / (1 - p)`.
pub fn dropout_scale(p: f32) -> f32 {
    1.0 / (1.0 - p)
}

/// [`fill_dropout_mask`] for a feature-major `width x rows` mask, as one flag per unit (1:
/// kept, 0: dropped; the mask value is [`dropout_scale`] or 0), a byte where the mask value
/// takes four: [`apply_dropout_transposed`] storing the flags.
pub fn fill_dropout_kept_transposed(
    kept: &mut [u8],
    rows: usize,
    width: usize,
    p: f32,
    rng: &mut ChaCha8Rng,
) {
    apply_dropout_transposed(kept, rows, width, p, rng, |_, row, flags| {
        row.copy_from_slice(flags)
    });
}

/// Dropout on a feature-major `width x rows` buffer: `apply(feature, row, flags)` for every
/// feature's row of `rows` values, `flags[b]` 1 where [`fill_dropout_mask`] would keep the
/// unit of example `b`, 0 where it would drop it. The draws are taken in example-major order
/// (example by example, feature by feature), so a feature-major model and an example-major
/// one fed the same stream drop the same units, and `rng` is left where one draw per unit
/// would leave it.
///
/// No buffer of the whole batch's words or flags: ChaCha is a counter-mode cipher, so each
/// task (a run of features) draws its own words from their stream positions
/// (`StreamWords`), sixteen examples by up to [`DRAW_RUN`] features at a time, turns them
/// feature-major 16 x 16 at a time (AVX-512 shuffles where there are) into the flags of its
/// run (128 KB at batch 128), then hands them out row by row, in order. Each hidden layer of
/// the bench's million-neuron network (333,333 units, batch 128) needed 171 MB of words and
/// 43 MB of flags for this before. (Applying each tile's flags straight to the 16 rows it
/// covers, a cache line of each at a time, took 13–14% of the samples of a
/// 784-4000-4000-4000-10 epoch at 1% in `perf`; flags first, then whole rows: 4.7%.)
/// Where the width and the stream position are multiples of 16 and the CPU has AVX-512,
/// the words come out of the generator already feature-major
/// ([`DropoutDraw::apply_by_blocks`]), two 16 x 16 transposes fewer per tile: that epoch
/// 3.6% faster (medians of 15 epochs, 0.513 against 0.532 s, the two paths interleaved in
/// one scratch program).
pub fn apply_dropout_transposed<T: Send>(
    out: &mut [T],
    rows: usize,
    width: usize,
    p: f32,
    rng: &mut ChaCha8Rng,
    apply: impl Fn(usize, &mut [T], &[u8]) + Sync,
) {
    assert_eq!(out.len(), rows * width, "mask must be width x rows");
    if out.is_empty() {
        return;
    }
    let draw = DropoutDraw::new(rng, rows, width, p);
    // Runs of up to `DRAW_RUN` features per task, the layer split between all threads: the
    // words of a run that starts inside a block group cost a group more than the run. Whole
    // tiles of features, as `apply_by_blocks` takes them.
    let threads = rayon::current_num_threads();
    let per_task = DRAW_RUN.min(width.div_ceil(threads)).next_multiple_of(TILE);
    if rows * width <= TASK_VALUES || per_task >= width {
        draw.apply_to(0, out, &apply);
    } else {
        out.par_chunks_mut(per_task * rows)
            .enumerate()
            .for_each(|(c, chunk)| draw.apply_to(c * per_task, chunk, &apply));
    }
    let end = draw.end();
    rng.set_word_pos(end);
}

/// One layer's dropout draw, to be applied to its features in any runs and in any order
/// ([`DropoutDraw::apply_to`]), in parallel or inside another pass over the layer's rows (the
/// forward product's), with the flags [`apply_dropout_transposed`] gives: ChaCha is a
/// counter-mode cipher, so each run draws its own words from their stream positions. The
/// generator is moved past the draw by its owner, to [`DropoutDraw::end`].
pub struct DropoutDraw<'a> {
    layout: DrawLayout,
    words: StreamWords<'a>,
}

impl<'a> DropoutDraw<'a> {
    /// Features per tile: runs of [`DropoutDraw::apply_to`] starting on and holding whole
    /// tiles keep its faster path.
    pub const TILE: usize = TILE;

    /// The draw of a feature-major `width x rows` layer at drop rate `p`, from where `rng`
    /// stands.
    pub fn new(rng: &'a ChaCha8Rng, rows: usize, width: usize, p: f32) -> Self {
        let layout = DrawLayout {
            start: rng.get_word_pos(),
            rows,
            width,
            threshold: drop_threshold(p),
        };
        DropoutDraw {
            layout,
            words: StreamWords::of(rng),
        }
    }

    /// Whether runs of whole tiles of features take the fast path
    /// ([`DropoutDraw::apply_by_blocks`]): other layouts draw best in long runs
    /// ([`apply_dropout_transposed`]'s), as a run of 16 features there costs the ChaCha
    /// blocks of 256 words per example.
    pub fn by_tiles(&self) -> bool {
        matches!(self.words, StreamWords::Wide(_)) && self.layout.in_whole_blocks()
    }

    /// The stream position after the draw (one word per unit), where the generator goes next.
    pub fn end(&self) -> u128 {
        let DrawLayout {
            start, rows, width, ..
        } = self.layout;
        start + (rows * width) as u128
    }

    /// `apply(feature, row, flags)` for the features `j0..` whose rows `chunk` holds, as
    /// [`apply_dropout_transposed`] calls it. Runs of whole tiles of 16 features keep the
    /// faster path where the layout has it ([`DropoutDraw::apply_by_blocks`]).
    pub fn apply_to<T>(
        &self,
        j0: usize,
        chunk: &mut [T],
        apply: &(impl Fn(usize, &mut [T], &[u8]) + Sync),
    ) {
        let rows = self.layout.rows;
        if chunk.is_empty() {
            return;
        }
        assert!(
            chunk.len().is_multiple_of(rows),
            "whole rows of the layer's {rows} examples"
        );
        assert!(
            j0 + chunk.len() / rows <= self.layout.width,
            "features {j0}.. beyond the layer's {}",
            self.layout.width
        );
        let whole_tiles = j0.is_multiple_of(TILE) && (chunk.len() / rows).is_multiple_of(TILE);
        match &self.words {
            StreamWords::Wide(stream) if whole_tiles && self.by_tiles() => {
                self.apply_by_blocks(stream, j0, chunk, apply)
            }
            _ => self.apply_by_runs(j0, chunk, apply),
        }
    }

    /// One run of features of [`DropoutDraw::apply_to`] on any layout: sixteen examples by up
    /// to [`DRAW_RUN`] features of words at a time in stream order, turned feature-major 16 x
    /// 16 at a time into the run's flags.
    fn apply_by_runs<T>(
        &self,
        j0: usize,
        chunk: &mut [T],
        apply: &(impl Fn(usize, &mut [T], &[u8]) + Sync),
    ) {
        let (words, layout) = (&self.words, self.layout);
        let DrawLayout {
            start, rows, width, ..
        } = layout;
        let features = chunk.len() / rows;
        let run = features.min(DRAW_RUN);
        // Word `b * width + j` is feature `j` of example `b`: sixteen runs of `run` words.
        let mut drawn = vec![0u32; TILE.min(rows) * run];
        let mut flags = vec![0u8; run * rows];
        let mut tile = [[0u32; TILE]; TILE];
        for f0 in (0..features).step_by(run) {
            let m = run.min(features - f0);
            for b0 in (0..rows).step_by(TILE) {
                let n = TILE.min(rows - b0);
                for (b, dst) in drawn.chunks_exact_mut(m).take(n).enumerate() {
                    let at = start + ((b0 + b) * width + j0 + f0) as u128;
                    words.at(at, dst);
                }
                vectorized(
                    #[inline(always)]
                    || {
                        for t0 in (0..m).step_by(TILE) {
                            let cols = TILE.min(m - t0);
                            transpose_tile_u32_part(&drawn[t0..], m, [n, cols], &mut tile);
                            for (jj, column) in tile.iter().take(cols).enumerate() {
                                let kept = &mut flags[(t0 + jj) * rows + b0..][..n];
                                for (k, &w) in kept.iter_mut().zip(column) {
                                    *k = layout.flag(w);
                                }
                            }
                        }
                    },
                );
            }
            let values = chunk[f0 * rows..(f0 + m) * rows].chunks_exact_mut(rows);
            vectorized(
                #[inline(always)]
                || {
                    for (jj, (row, kept)) in values.zip(flags.chunks_exact(rows)).enumerate() {
                        apply(j0 + f0 + jj, row, kept);
                    }
                },
            );
        }
    }

    /// One run of [`DropoutDraw::apply_to`] (features `j0..`, `chunk` their rows) of whole
    /// tiles where the layout is [in whole blocks](DrawLayout::in_whole_blocks): sixteen
    /// examples' blocks for one tile of features lie `width / 16` blocks apart, and
    /// [`ChaCha8Stream::strided_blocks`] gives them feature by feature, the tile of flags as
    /// the model wants it, where the other path draws the words in stream order (the
    /// generator transposing its registers) and transposes them back. A tile of features'
    /// flags (2 KB at batch 128) is made, then applied to its rows.
    fn apply_by_blocks<T>(
        &self,
        stream: &ChaCha8Stream,
        j0: usize,
        chunk: &mut [T],
        apply: &(impl Fn(usize, &mut [T], &[u8]) + Sync),
    ) {
        let layout = self.layout;
        let DrawLayout {
            start, rows, width, ..
        } = layout;
        let stride = (width / TILE) as u64;
        let mut words = [[0u32; TILE]; TILE];
        let mut flags = vec![0u8; TILE * rows];
        for (t, tile_rows) in chunk.chunks_exact_mut(TILE * rows).enumerate() {
            let f0 = j0 + t * TILE;
            for b0 in (0..rows).step_by(TILE) {
                let n = TILE.min(rows - b0);
                // Block counters are 64-bit and wrap, as `ChaCha8Stream::words` takes them.
                let first = ((start + (b0 * width + f0) as u128) / TILE as u128) as u64;
                stream.strided_blocks(first, stride, &mut words);
                vectorized(
                    #[inline(always)]
                    || {
                        for (kept, column) in flags.chunks_exact_mut(rows).zip(&words) {
                            for (k, &w) in kept[b0..b0 + n].iter_mut().zip(column) {
                                *k = layout.flag(w);
                            }
                        }
                    },
                );
            }
            vectorized(
                #[inline(always)]
                || {
                    let rows_and_flags = tile_rows
                        .chunks_exact_mut(rows)
                        .zip(flags.chunks_exact(rows));
                    for (i, (row, kept)) in rows_and_flags.enumerate() {
                        apply(f0 + i, row, kept);
                    }
                },
            );
        }
    }
}

/// Side of the tiles of examples and features the dropout's words are turned around in.
const TILE: usize = 16;

/// Where a layer's dropout words are: word `start + b * width + j` of the stream decides
/// unit `j` of example `b` (of `rows`), kept where its top 24 bits reach `threshold`.
#[derive(Clone, Copy)]
struct DrawLayout {
    start: u128,
    rows: usize,
    width: usize,
    threshold: u32,
}

impl DrawLayout {
    /// The flag of a word: 1 kept, 0 dropped.
    #[inline(always)]
    fn flag(&self, word: u32) -> u8 {
        u8::from((word >> 8) >= self.threshold)
    }

    /// Whether every example's words for the sixteen features from a multiple of 16 fill one
    /// ChaCha block.
    fn in_whole_blocks(&self) -> bool {
        self.width.is_multiple_of(TILE) && self.start.is_multiple_of(TILE as u128)
    }
}

/// Features whose words one task of [`apply_dropout_transposed`] draws per example at a time:
/// sixteen runs of them (64 KB of words at most) and the run's flags stay in the second-level
/// cache. A run starting at any word costs about one group of sixteen ChaCha blocks more
/// than its words: runs of 1024 words came at 7.2 GB/s, of 256 at 4.0 (one thread, Intel Xeon).
pub const DRAW_RUN: usize = 1024;

/// The words of a ChaCha8 generator's stream from any position, without moving it: from
/// [`ChaCha8Stream`] where the CPU has AVX-512 (sixteen blocks at once, 2.6 times
/// `rand_chacha`'s AVX2 rate on an Intel Xeon), elsewhere from a copy of the generator set to
/// the position (`rand_chacha`'s own vector code).
enum StreamWords<'a> {
    Wide(ChaCha8Stream),
    Copies(&'a ChaCha8Rng),
}

impl<'a> StreamWords<'a> {
    fn of(rng: &'a ChaCha8Rng) -> Self {
        if ChaCha8Stream::is_wide() {
            StreamWords::Wide(ChaCha8Stream::new(rng.get_seed(), rng.get_stream()))
        } else {
            StreamWords::Copies(rng)
        }
    }

    /// `out` = the words from word position `at` on, what `rng.fill(out)` gives there.
    fn at(&self, at: u128, out: &mut [u32]) {
        match self {
            StreamWords::Wide(stream) => stream.words(at, out),
            StreamWords::Copies(rng) => {
                let mut r = (*rng).clone();
                r.set_word_pos(at);
                r.fill(out);
            }
        }
    }
}

/// The integer form of `u < p` for rand's uniform `f32` `u` of a word `w` (its top 24 bits
/// times `2^-24`): `(w >> 8) < drop_threshold(p)`. The top 24 bits `k` and `k · 2^-24` are
/// exact in `f32`, so `k · 2^-24 < p` exactly when `k < p · 2^24`, and for an integer `k`
/// that is `k < ceil(p · 2^24)`.
fn drop_threshold(p: f32) -> u32 {
    (p as f64 * (1u64 << 24) as f64)
        .ceil()
        .clamp(0.0, (1u64 << 24) as f64) as u32
}

/// Index of the largest probability of each row (ties: the first), the predicted class.
pub fn argmax_rows(probs: &[f32], n_classes: usize) -> Vec<u32> {
    probs
        .chunks_exact(n_classes)
        .map(|r| {
            let mut best = 0;
            for c in 1..n_classes {
                if r[c] > r[best] {
                    best = c;
                }
            }
            best as u32
        })
        .collect()
}

/// Mean cross-entropy of `probs` (rows of softmax outputs) against `labels`, in f64.
pub fn cross_entropy(probs: &[f32], labels: &[u32], n_classes: usize) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let total: f64 = probs
        .chunks_exact(n_classes)
        .zip(labels)
        .map(|(r, &y)| -(r[y as usize].max(1e-30) as f64).ln())
        .sum();
    total / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn dropout_mask_rate_and_scale() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut m = vec![0.0; 100_000];
        fill_dropout_mask(&mut m, 0.1, &mut rng);
        let zeros = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
        assert!((zeros - 0.1).abs() < 0.005);
        assert!(m.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.9).abs() < 1e-7));
    }

    /// The same draws in the same order, across ChaCha's 64-word blocks, leaving the stream
    /// where one draw per unit would.
    #[test]
    fn transposed_mask_is_the_transpose_of_the_example_major_one() {
        let big = (300, 400, 0.1); // more than one parallel task, in whole blocks
                                   // Tasks of 885 features, drawn in runs of 256 and a last of 117, 37 = 2 x 16 + 5 rows.
        let runs = (37, 1000, 0.2);
        // In whole blocks: a batch of 128 and one of 7 (a partial tile of examples).
        let blocks = [(128, 4000, 0.1), (7, 48, 0.3), (37, 1008, 0.2)];
        let cases = [
            (7, 5, 0.4),
            (33, 100, 0.1),
            (3, 1, 0.5),
            (0, 4, 0.1),
            big,
            runs,
        ];
        // From word 0 and from word 5: the stream out of whole blocks, the other path.
        let starts = [0, 5];
        let cases = cases.into_iter().chain(blocks);
        for ((rows, width, p), skip) in cases.flat_map(|c| starts.map(|s| (c, s))) {
            let mut a = vec![0.0; rows * width];
            let mut b = vec![0u8; rows * width];
            let mut ra = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            ra.set_word_pos(skip);
            let mut rb = ra.clone();
            fill_dropout_mask(&mut a, p, &mut ra);
            fill_dropout_kept_transposed(&mut b, rows, width, p, &mut rb);
            for r in 0..rows {
                for j in 0..width {
                    let value = if b[j * rows + r] == 1 {
                        dropout_scale(p)
                    } else {
                        0.0
                    };
                    assert_eq!(a[r * width + j].to_bits(), value.to_bits());
                }
            }
            assert_eq!(ra.next_u32(), rb.next_u32(), "{rows} x {width}");
        }
    }

    /// A draw applied in runs of any length and order (some off the tiles of 16 features)
    /// gives the flags of the whole layer in one pass.
    #[test]
    fn a_draw_in_any_runs_gives_the_flags_of_the_whole() {
        for (rows, width, skip) in [(37, 96, 0u128), (128, 160, 0), (20, 96, 3)] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
            rng.set_word_pos(skip);
            let mut whole = vec![0u8; rows * width];
            fill_dropout_kept_transposed(&mut whole, rows, width, 0.3, &mut rng.clone());
            let draw = DropoutDraw::new(&rng, rows, width, 0.3);
            let mut runs = vec![0u8; rows * width];
            let copy = |_: usize, row: &mut [u8], flags: &[u8]| row.copy_from_slice(flags);
            let mut rest = &mut runs[..];
            let mut j0 = 0;
            for len in [16, 5, 11, 32, 1].into_iter().cycle() {
                let len = len.min(width - j0);
                let (run, tail) = rest.split_at_mut(len * rows);
                draw.apply_to(j0, run, &copy);
                (rest, j0) = (tail, j0 + len);
                if j0 == width {
                    break;
                }
            }
            assert!(runs == whole, "{rows} x {width} from word {skip}");
            assert_eq!(draw.end(), skip + (rows * width) as u128);
        }
    }

    /// Both sources of stream words give what the generator hands out from that position,
    /// inside blocks and across them, and leave the generator where it was.
    #[test]
    fn stream_words_are_the_generators_words_from_any_position() {
        let rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let wide = ChaCha8Stream::new(rng.get_seed(), rng.get_stream());
        for (at, len) in [(0u128, 1usize), (5, 17), (250, 256), (1003, 300), (64, 0)] {
            let mut want = vec![0u32; len];
            let mut r = rng.clone();
            r.set_word_pos(at);
            r.fill(&mut want[..]);
            for source in [StreamWords::Wide(wide), StreamWords::Copies(&rng)] {
                let mut got = vec![1u32; len];
                source.at(at, &mut got);
                assert_eq!(got, want, "from word {at}, {len} words");
            }
        }
        assert_eq!(rng.get_word_pos(), 0);
    }

    /// rand's uniform `f32` in `[0, 1)` from one 32-bit word: its top 24 bits times `2^-24`.
    fn unit_f32(word: u32) -> f32 {
        (word >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    #[test]
    fn the_integer_drop_test_is_the_float_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for p in [0.0f32, 1e-9, 0.1, 0.25, 0.3, 0.5, 0.999_999_9, 1.0] {
            let t = drop_threshold(p);
            let edges = [
                0u32,
                255,
                256,
                (t.max(1) - 1) << 8,
                t << 8,
                (t << 8) | 255,
                u32::MAX,
            ];
            let words = edges.into_iter().chain((0..10_000).map(|_| rng.next_u32()));
            for w in words {
                assert_eq!((w >> 8) < t, unit_f32(w) < p, "p = {p}, word {w:#x}");
            }
        }
    }

    #[test]
    fn argmax_and_cross_entropy_by_hand() {
        let p = [0.2, 0.8, 0.6, 0.4];
        assert_eq!(argmax_rows(&p, 2), vec![1, 0]);
        let ce = cross_entropy(&p, &[1, 1], 2);
        assert!((ce - (-(0.8f64).ln() - (0.4f64).ln()) / 2.0).abs() < 1e-6);
    }
}
