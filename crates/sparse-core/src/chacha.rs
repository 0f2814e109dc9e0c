//! The ChaCha8 keystream as 32-bit words, sixteen blocks at a time with AVX-512: the words
//! `rand_chacha`'s `ChaCha8Rng` hands out, for the dropout masks of a training step.
//!
//! Why our own: dropout draws one word per hidden unit and example, and at 1% density those
//! words were 8% of an epoch's samples in a `perf` profile of 784-4000-4000-4000-10 and of
//! 3072-1024-512-10 (Intel Xeon). `rand_chacha` 0.9 generates them with AVX2 at about 2.7
//! GB/s per thread there, RustCrypto's `chacha20` 0.10 at 3.0 (3.5 with its AVX-512 backend,
//! which needs a `--cfg` flag for the whole build). With AVX-512 each of the sixteen state
//! words of sixteen consecutive blocks sits in one register, every quarter round is four
//! vector adds, xors and rotates, and the sixteen blocks come out through the 16 x 16
//! transpose of [`crate::kernels::transpose_tile_u32`]: 8.0 GB/s per thread on that Xeon.
//!
//! The stream is D. J. Bernstein's ChaCha ("ChaCha, a variant of Salsa20", 2008) with 8
//! rounds, a 64-bit block counter and a 64-bit stream id, laid out as `rand_chacha` lays it
//! out (state words 12–13 the counter, 14–15 the stream), so a word position means what
//! `ChaCha8Rng::get_word_pos` means. Tests compare every path with `rand_chacha`, bit for bit.

use crate::simd::{self, SimdLevel};

/// Words of one ChaCha block.
const BLOCK_WORDS: usize = 16;

/// "expand 32-byte k".
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Words of the sixteen blocks the AVX-512 path makes at once.
const GROUP_WORDS: usize = BLOCK_WORDS * BLOCK_WORDS;

/// Double rounds of ChaCha8.
const DOUBLE_ROUNDS: usize = 4;

/// Where a ChaCha8 stream is: its 256-bit key (the seed of `rand_chacha`'s `ChaCha8Rng`) and
/// its stream id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChaCha8Stream {
    key: [u32; 8],
    stream: u64,
}

impl ChaCha8Stream {
    /// The stream of `seed` (as `ChaCha8Rng::from_seed`) and `stream` (as
    /// `ChaCha8Rng::set_stream`).
    pub fn new(seed: [u8; 32], stream: u64) -> Self {
        let key = std::array::from_fn(|i| {
            u32::from_le_bytes([
                seed[4 * i],
                seed[4 * i + 1],
                seed[4 * i + 2],
                seed[4 * i + 3],
            ])
        });
        Self { key, stream }
    }

    /// Whether [`ChaCha8Stream::words`] runs sixteen blocks at once on this CPU (with AVX-512);
    /// without it, a caller with a vectorised generator at hand should rather use that.
    pub fn is_wide() -> bool {
        simd::supported(simd::level()) == SimdLevel::Avx512
    }

    /// Fills `out` with the stream's words from word `word_pos` on: what `ChaCha8Rng::fill`
    /// gives after `set_word_pos(word_pos)`.
    pub fn words(&self, word_pos: u128, out: &mut [u32]) {
        self.words_at(simd::level(), word_pos, out)
    }

    /// [`ChaCha8Stream::words`] at a given vector level (to compare levels in tests).
    pub fn words_at(&self, level: SimdLevel, word_pos: u128, out: &mut [u32]) {
        let wide = cfg!(target_arch = "x86_64") && simd::supported(level) == SimdLevel::Avx512;
        // Block counters are 64-bit and wrap, as rand_chacha's do.
        let mut block = (word_pos / BLOCK_WORDS as u128) as u64;
        let mut skip = (word_pos % BLOCK_WORDS as u128) as usize;
        let mut out = out;
        // Whole groups of sixteen blocks go straight into `out`; a group that starts inside
        // a block or runs past the end goes through a scratch group whose extra words are
        // dropped: sixteen blocks at once took 128 ns, one scalar block 160 ns (Intel Xeon,
        // one thread), so even a single block is cheaper as a group.
        while wide && !out.is_empty() {
            let mut scratch = [0u32; GROUP_WORDS];
            let direct = skip == 0 && out.len() >= GROUP_WORDS;
            let group = if direct {
                &mut out[..GROUP_WORDS]
            } else {
                &mut scratch[..]
            };
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512 (`supported` checked it).
            unsafe {
                avx512::sixteen_blocks(self, block, group)
            };
            let n = out.len().min(GROUP_WORDS - skip);
            if !direct {
                out[..n].copy_from_slice(&scratch[skip..skip + n]);
            }
            out = &mut out[n..];
            block = block.wrapping_add(BLOCK_WORDS as u64);
            skip = 0;
        }
        if skip > 0 {
            let words = self.block(block);
            let n = out.len().min(BLOCK_WORDS - skip);
            out[..n].copy_from_slice(&words[skip..skip + n]);
            out = &mut out[n..];
            block = block.wrapping_add(1);
        }
        for chunk in out.chunks_mut(BLOCK_WORDS) {
            let words = self.block(block);
            chunk.copy_from_slice(&words[..chunk.len()]);
            block = block.wrapping_add(1);
        }
    }

    /// Word `i` of the sixteen blocks `first + k stride` (`k < 16`, counters wrapping) into
    /// `out[i][k]`. Where each of sixteen runs of sixteen words a caller wants fills one block
    /// and the runs lie `stride` blocks apart (the dropout words of sixteen examples' sixteen
    /// features, `stride` the layer's width over 16), this is their 16 x 16 transpose as the
    /// generator's registers hold it: [`ChaCha8Stream::words`] transposes them into stream
    /// order, and the caller would transpose them back.
    pub fn strided_blocks(
        &self,
        first: u64,
        stride: u64,
        out: &mut [[u32; BLOCK_WORDS]; BLOCK_WORDS],
    ) {
        self.strided_blocks_at(simd::level(), first, stride, out)
    }

    /// [`ChaCha8Stream::strided_blocks`] at a given vector level.
    pub fn strided_blocks_at(
        &self,
        level: SimdLevel,
        first: u64,
        stride: u64,
        out: &mut [[u32; BLOCK_WORDS]; BLOCK_WORDS],
    ) {
        let counters = std::array::from_fn(|k| first.wrapping_add(stride.wrapping_mul(k as u64)));
        #[cfg(target_arch = "x86_64")]
        if simd::supported(level) == SimdLevel::Avx512 {
            // SAFETY: the CPU has AVX-512 (`supported` checked it).
            unsafe { avx512::by_word(self, &counters, out) };
            return;
        }
        for (k, &block) in counters.iter().enumerate() {
            for (column, word) in out.iter_mut().zip(self.block(block)) {
                column[k] = word;
            }
        }
    }

    /// The input state of block `block`.
    fn state(&self, block: u64) -> [u32; BLOCK_WORDS] {
        let mut s = [0u32; BLOCK_WORDS];
        s[..4].copy_from_slice(&CONSTANTS);
        s[4..12].copy_from_slice(&self.key);
        s[12] = block as u32;
        s[13] = (block >> 32) as u32;
        s[14] = self.stream as u32;
        s[15] = (self.stream >> 32) as u32;
        s
    }

    /// The 16 words of block `block`, one block at a time.
    fn block(&self, block: u64) -> [u32; BLOCK_WORDS] {
        let input = self.state(block);
        let mut x = input;
        for _ in 0..DOUBLE_ROUNDS {
            for [a, b, c, d] in QUARTER_ROUNDS {
                x[a] = x[a].wrapping_add(x[b]);
                x[d] = (x[d] ^ x[a]).rotate_left(16);
                x[c] = x[c].wrapping_add(x[d]);
                x[b] = (x[b] ^ x[c]).rotate_left(12);
                x[a] = x[a].wrapping_add(x[b]);
                x[d] = (x[d] ^ x[a]).rotate_left(8);
                x[c] = x[c].wrapping_add(x[d]);
                x[b] = (x[b] ^ x[c]).rotate_left(7);
            }
        }
        std::array::from_fn(|i| x[i].wrapping_add(input[i]))
    }
}

/// The state words of the eight quarter rounds of a double round: the columns, then the
/// diagonals.
const QUARTER_ROUNDS: [[usize; 4]; 8] = [
    [0, 4, 8, 12],
    [1, 5, 9, 13],
    [2, 6, 10, 14],
    [3, 7, 11, 15],
    [0, 5, 10, 15],
    [1, 6, 11, 12],
    [2, 7, 8, 13],
    [3, 4, 9, 14],
];

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{ChaCha8Stream, BLOCK_WORDS, DOUBLE_ROUNDS};
    use crate::kernels::transpose_tile_u32;
    use std::arch::x86_64::*;

    /// Blocks `block..block + 16` into `out` (256 words): [`by_word`], then the 16 x 16
    /// transpose puts each block's words together.
    #[target_feature(enable = "avx512f")]
    pub(super) fn sixteen_blocks(stream: &ChaCha8Stream, block: u64, out: &mut [u32]) {
        assert_eq!(out.len(), BLOCK_WORDS * BLOCK_WORDS, "sixteen blocks");
        let counters = std::array::from_fn(|k| block.wrapping_add(k as u64));
        let mut words = [[0u32; BLOCK_WORDS]; BLOCK_WORDS];
        by_word(stream, &counters, &mut words);
        let out: &mut [u32; BLOCK_WORDS * BLOCK_WORDS] =
            out.try_into().expect("sixteen blocks (asserted)");
        transpose_tile_u32(words.as_flattened(), BLOCK_WORDS, bytemuck::cast_mut(out));
    }

    /// The blocks of `counters`, word `i` of block `counters[k]` into `out[i][k]`: lane `k` of
    /// register `i` is word `i` of block `counters[k]`, so a quarter round is the scalar one on
    /// whole registers.
    #[target_feature(enable = "avx512f")]
    pub(super) fn by_word(
        stream: &ChaCha8Stream,
        counters: &[u64; BLOCK_WORDS],
        out: &mut [[u32; BLOCK_WORDS]; BLOCK_WORDS],
    ) {
        let scalar = stream.state(0);
        let low: [u32; BLOCK_WORDS] = std::array::from_fn(|k| counters[k] as u32);
        let high: [u32; BLOCK_WORDS] = std::array::from_fn(|k| (counters[k] >> 32) as u32);
        let mut input = [_mm512_setzero_si512(); BLOCK_WORDS];
        for (v, &w) in input.iter_mut().zip(&scalar) {
            *v = _mm512_set1_epi32(w as i32);
        }
        // SAFETY: `low` and `high` hold 16 words each.
        unsafe {
            input[12] = _mm512_loadu_si512(low.as_ptr().cast());
            input[13] = _mm512_loadu_si512(high.as_ptr().cast());
        }
        // Sixteen named registers: indexing an array of vectors in a loop left the state in
        // memory (a third slower than rand_chacha's AVX2).
        let [mut x0, mut x1, mut x2, mut x3] = [input[0], input[1], input[2], input[3]];
        let [mut x4, mut x5, mut x6, mut x7] = [input[4], input[5], input[6], input[7]];
        let [mut x8, mut x9, mut x10, mut x11] = [input[8], input[9], input[10], input[11]];
        let [mut x12, mut x13, mut x14, mut x15] = [input[12], input[13], input[14], input[15]];
        macro_rules! quarter_round {
            ($a:ident, $b:ident, $c:ident, $d:ident) => {
                $a = _mm512_add_epi32($a, $b);
                $d = _mm512_rol_epi32::<16>(_mm512_xor_si512($d, $a));
                $c = _mm512_add_epi32($c, $d);
                $b = _mm512_rol_epi32::<12>(_mm512_xor_si512($b, $c));
                $a = _mm512_add_epi32($a, $b);
                $d = _mm512_rol_epi32::<8>(_mm512_xor_si512($d, $a));
                $c = _mm512_add_epi32($c, $d);
                $b = _mm512_rol_epi32::<7>(_mm512_xor_si512($b, $c));
            };
        }
        for _ in 0..DOUBLE_ROUNDS {
            // The rows of QUARTER_ROUNDS.
            quarter_round!(x0, x4, x8, x12);
            quarter_round!(x1, x5, x9, x13);
            quarter_round!(x2, x6, x10, x14);
            quarter_round!(x3, x7, x11, x15);
            quarter_round!(x0, x5, x10, x15);
            quarter_round!(x1, x6, x11, x12);
            quarter_round!(x2, x7, x8, x13);
            quarter_round!(x3, x4, x9, x14);
        }
        let x = [
            x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15,
        ];
        for ((v, start), row) in x.iter().zip(input).zip(out) {
            // SAFETY: `row` is 16 words.
            unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), _mm512_add_epi32(*v, start)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn reference(rng: &ChaCha8Rng, word_pos: u128, len: usize) -> Vec<u32> {
        let mut r = rng.clone();
        r.set_word_pos(word_pos);
        let mut words = vec![0u32; len];
        r.fill(&mut words[..]);
        words
    }

    /// Every level gives rand_chacha's words from any position, for any length: starts inside
    /// a block, runs shorter than a block, whole groups of sixteen blocks and remainders, and
    /// block counters carrying into their upper half inside a group of sixteen.
    #[test]
    fn every_level_gives_rand_chachas_words() {
        for (seed, stream) in [(1u64, 0u64), (7, 3), (42, u64::MAX - 1)] {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(stream);
            let ours = ChaCha8Stream::new(rng.get_seed(), stream);
            let carry = ((1u128 << 32) - 5) * BLOCK_WORDS as u128;
            for word_pos in [0, 1, 15, 16, 17, 255, 256, 1000, carry, carry + 7] {
                for len in [0, 1, 5, 16, 31, 256, 257, 600, 4099] {
                    let want = reference(&rng, word_pos, len);
                    for level in SimdLevel::available() {
                        let mut got = vec![0u32; len];
                        ours.words_at(level, word_pos, &mut got);
                        assert!(
                            got == want,
                            "seed {seed}, stream {stream}, from word {word_pos}, {len} words at {}",
                            level.name()
                        );
                    }
                }
            }
        }
    }

    /// Strided blocks are the stream's blocks at those counters, word by word, at every level,
    /// with counters that wrap and carry into their upper half.
    #[test]
    fn strided_blocks_are_the_streams_blocks_by_word() {
        let rng = ChaCha8Rng::seed_from_u64(9);
        let ours = ChaCha8Stream::new(rng.get_seed(), rng.get_stream());
        let near_carry = (1u64 << 32) - 40;
        for (first, stride) in [(0u64, 1u64), (3, 250), (near_carry, 7), (u64::MAX - 20, 3)] {
            for level in SimdLevel::available() {
                let mut got = [[0u32; BLOCK_WORDS]; BLOCK_WORDS];
                ours.strided_blocks_at(level, first, stride, &mut got);
                for k in 0..BLOCK_WORDS {
                    let block = first.wrapping_add(stride.wrapping_mul(k as u64));
                    let want = reference(&rng, block as u128 * BLOCK_WORDS as u128, BLOCK_WORDS);
                    for (i, (column, &w)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(column[k], w, "block {block}, word {i}, at {}", level.name());
                    }
                }
            }
        }
    }

    /// A mutation check of the test above: another stream id gives other words.
    #[test]
    fn the_stream_id_selects_the_words() {
        let rng = ChaCha8Rng::seed_from_u64(1);
        let mut got = vec![0u32; 256];
        ChaCha8Stream::new(rng.get_seed(), 1).words(0, &mut got);
        assert_ne!(got, reference(&rng, 0, 256));
    }
}
