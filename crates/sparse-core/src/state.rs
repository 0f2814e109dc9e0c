//! Exact binary encoding of training state, for checkpoints.
//!
//! A checkpoint must give back every `f32` and `f64` bit for bit (a resumed run has to end with
//! the numbers of an uninterrupted one) and must survive NaN or infinite values of a diverged
//! run. JSON can do neither (no NaN; an `f32` read back through `f64` may round twice), so
//! state is encoded as CBOR (RFC 8949) with `ciborium`, which stores each float in the
//! narrowest width that holds it exactly. `ciborium` is already built for burn, so it costs
//! nothing.

use crate::error::SparseError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// `value` as CBOR bytes.
///
/// # Panics
/// If `value`'s `Serialize` fails, which the plain structs of training state never do.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("serialising plain state to memory");
    out
}

/// Decodes bytes written by [`encode`]; `what` names the state in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, SparseError> {
    ciborium::from_reader(bytes).map_err(|e| SparseError::State(format!("{what}: {e}")))
}

/// `#[serde(with = "sparse_core::state::bytes")]` for a `Vec<u8>` field: stored as one CBOR
/// byte string instead of a sequence of small integers (half the size, one copy).
pub mod bytes {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::Serializer;

    /// Writes the bytes as one byte string.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    /// Reads a byte string (or a sequence of bytes).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize)]
    struct Sample {
        f: Vec<f32>,
        d: Vec<f64>,
        #[serde(with = "bytes")]
        raw: Vec<u8>,
    }

    /// Every float comes back with its exact bits, including those JSON cannot write.
    #[test]
    fn floats_round_trip_bit_for_bit() {
        let f = vec![
            0.1f32,
            1.0 / 3.0,
            f32::MIN_POSITIVE,
            1e-45,
            -0.0,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
            16_777_217.0,
            0.300_000_03,
        ];
        let d = vec![0.1f64, 1.0 / 3.0, 5e-324, -0.0, f64::NEG_INFINITY, f64::NAN];
        let s = Sample {
            f: f.clone(),
            d: d.clone(),
            raw: vec![0, 1, 255, 42],
        };
        let bytes = encode(&s);
        let back: Sample = decode(&bytes, "sample").unwrap();
        let bits32 = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let bits64 = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits32(&back.f), bits32(&f));
        assert_eq!(bits64(&back.d), bits64(&d));
        assert_eq!(back.raw, vec![0, 1, 255, 42]);
    }

    #[test]
    fn truncated_bytes_are_an_error_naming_the_state() {
        let bytes = encode(&vec![1.5f32; 10]);
        let err = decode::<Vec<f32>>(&bytes[..bytes.len() - 3], "weights").unwrap_err();
        assert!(err.to_string().contains("weights"), "{err}");
    }
}
