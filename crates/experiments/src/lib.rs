//! Experiments: configs (TOML), their expansion into runs, the parallel resumable runner,
//! results files and statistics. This crate holds the one registry of training methods
//! ([`registry`]), so a new DST method is registered here and nowhere else. It trains and
//! stores, never draws: the studies (their analyses and figures) and `reproduce` are the
//! `studies` crate's.

pub mod cell;
pub mod checkpoint;
pub mod collect;
pub mod config;
pub mod datasets;
pub mod error;
pub mod grid;
pub mod hash;
pub mod numerics;
pub mod paired;
pub mod pipeline;
pub mod recording;
pub mod registry;
pub mod repo;
pub mod results;
pub mod run;
pub mod runner;
pub mod significance;
pub mod slurm;
pub mod summary;
pub mod validate;

pub use config::ExperimentConfig;
pub use error::ConfigError;
pub use runner::{run_experiment, ExperimentReport, RunOptions};

/// The protocol axis of the grid ([`grid::protocol`]), at the crate root because studies
/// implement its traits.
pub use grid::protocol;
