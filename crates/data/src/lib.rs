//! Tabular classification data for the sparse-training experiments: loading CSV files into a
//! [`Dataset`] with an explicit missingness mask, stratified train/test splits, feature
//! scalers fitted on observed training values only, categorical encoding, missingness
//! simulators (amputation), imputers, and per-example training dynamics.

pub mod csv_source;
pub mod dataset;
pub mod dynamics;
pub mod encoding;
pub mod error;
pub mod imputation;
pub mod missingness;
pub mod scaling;
pub mod split;

pub use csv_source::{load_csv, CsvOptions};
pub use dataset::Dataset;
pub use error::DataError;
pub use scaling::{Scaler, ScalingKind};
pub use split::{stratified_split, Split};
