//! The one error type of sparse-core: what went wrong and with which shape or parameter.

use thiserror::Error;

/// Errors raised when a matrix, a topology request or an edit is invalid.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SparseError {
    /// The arrays given for a matrix break a CSR invariant.
    #[error("invalid sparse matrix: {0}")]
    Invalid(String),
    /// Shapes of operands do not fit together, or do not fit the index type.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A density, sparsity, epsilon or count outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    Parameter {
        /// The parameter's name as the user writes it.
        name: &'static str,
        /// Why the value is not accepted.
        reason: String,
    },
    /// Saved training state (a checkpoint) that cannot be read back.
    #[error("unreadable saved state: {0}")]
    State(String),
}
