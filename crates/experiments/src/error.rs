//! Errors of loading configs and running experiments, each naming the file and field.

use std::path::PathBuf;
use thiserror::Error;

/// A config that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not valid TOML, a missing field, a wrong type or an unknown field.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A field with a value outside its valid range.
    #[error("{}: field `{field}`: {reason}", path.display())]
    Field {
        /// The config file.
        path: PathBuf,
        /// The field, dotted (`grid.sparsity`).
        field: String,
        /// Why it is rejected.
        reason: String,
    },
}
