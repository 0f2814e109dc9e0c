//! Errors of building, loading and running models.

use thiserror::Error;

/// What can go wrong when building or loading a model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// Layer sizes, densities or hyper-parameters that do not describe a valid network.
    #[error("invalid architecture: {0}")]
    Architecture(String),
    /// A topology request the sparse engine rejected.
    #[error(transparent)]
    Sparse(#[from] sparse_core::SparseError),
    /// A saved model that cannot be read.
    #[error("cannot read saved model: {0}")]
    Load(#[from] serde_json::Error),
    /// A checkpointed state that does not fit the model or the run it is restored into.
    #[error("cannot restore saved state: {0}")]
    State(String),
}
