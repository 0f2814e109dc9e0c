//! Truly sparse building blocks of dynamic sparse training, with no machine-learning policy:
//! a CSR weight matrix ([`Csr`]), the kernels of training a sparse layer on a batch
//! ([`kernels`]), initial topologies and weights ([`init`]), topology selection rules
//! ([`topology`]), uniform subsets of positions ([`sample`]), a layer with per-connection optimizer state ([`SparseLayer`]), the trait
//! every DST method implements ([`DstMethod`]) and the ChaCha8 keystream the dropout masks are
//! drawn from, at AVX-512 width ([`chacha`]).
//!
//! Invariant: memory and time scale with the number of stored connections; no function here
//! allocates an `n_in x n_out` buffer (except [`Csr::to_dense`], for tests and debugging).

pub mod aligned;
pub mod chacha;
pub mod csr;
pub mod dst;
pub mod error;
pub mod init;
pub mod kernels;
pub mod layer;
pub mod sample;
pub mod schedule;
pub mod simd;
pub mod state;
pub mod telemetry;
pub mod topology;

pub use aligned::AlignedBuf;
pub use csr::{CscIndex, Csr, IndexSlice, RowIndices};
pub use dst::{
    DstContext, DstMethod, GradientSource, HookOutcome, LayerScores, NamedMethod, NoParams,
    TrainingClock,
};
pub use error::SparseError;
pub use init::{DensityDistribution, FanMode, WeightInit, WeightSampler};
pub use layer::{EditStats, SparseLayer};
