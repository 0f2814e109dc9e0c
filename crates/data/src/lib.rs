//! Tabular classification data for the sparse-training experiments: loading CSV files into a
//! [`Dataset`] with an explicit missingness mask, stratified train/test splits, and feature
//! scalers fitted on observed training values only. Missingness simulators, imputers and
//! categorical encodings build on these types.

pub mod csv_source;
pub mod dataset;
pub mod error;
pub mod scaling;
pub mod split;

pub use csv_source::{load_csv, CsvOptions};
pub use dataset::Dataset;
pub use error::DataError;
pub use scaling::{Scaler, ScalingKind};
pub use split::{stratified_split, Split};
