//! Named random streams derived from a run's seed.
//!
//! Every purpose (topology init, weight init, shuffling, dropout, topology updates, ...) gets
//! its own ChaCha stream of the run seed, selected by a stable hash of its name, so adding a
//! draw in one place never shifts the numbers of another.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// FNV-1a hash of a stream name: stable across platforms and Rust versions.
fn stream_id(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The random stream `name` of run seed `seed`.
pub fn stream(seed: u64, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream_id(name));
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_differ_by_name_and_repeat_by_seed() {
        let a: u64 = stream(1, "init").random();
        let b: u64 = stream(1, "dropout").random();
        let c: u64 = stream(1, "init").random();
        let d: u64 = stream(2, "init").random();
        assert_ne!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, d);
    }
}
