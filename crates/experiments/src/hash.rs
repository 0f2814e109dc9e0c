//! FNV-1a, the one hash of run keys, checkpoint names, numerics digests and the guard: stable
//! across platforms and releases (the standard library's hashers are not), so a key or a
//! digest written today is the one the code computes tomorrow.

/// FNV-1a, 64 bits: a hash that is stable across platforms and releases.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV1A_START, bytes)
}

/// The FNV-1a state before any byte.
pub const FNV1A_START: u64 = 0xcbf2_9ce4_8422_2325;

/// The FNV-1a state `h` continued over `bytes`, for hashing a stream piece by piece.
pub fn fnv1a_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
