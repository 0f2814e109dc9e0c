//! Models of the framework: the truly sparse MLP ([`SparseMlp`]) trained by a DST method, the
//! dense MLP on burn ([`DenseMlp`]) with the same hyper-parameters and update rule, and the
//! training loop that drives either through the [`Classifier`] trait.

pub mod activation;
pub mod batch;
pub mod classifier;
pub mod dense;
pub mod elementwise;
pub mod error;
pub mod optim;
pub mod policy;
pub mod rngs;
pub mod sparse_mlp;
pub mod train;

pub use activation::Activation;
pub use batch::{Batch, GrowthBatch, Inputs};
pub use classifier::{Classifier, RngPositions, RunRngs, SparseNetwork, StreamPosition};
pub use dense::DenseMlp;
pub use error::ModelError;
pub use optim::SgdParams;
pub use policy::{DataSampler, GrowthBatchSource, OnlineForgetting, PlainData};
pub use sparse_mlp::{
    ActivationMemory, SparseInit, SparseMlp, StepReport, StepRngs, RECOMPUTE_ABOVE_BYTES,
};
pub use train::{
    evaluate, predict_proba_all, train, train_from, train_with, DataPolicies, EpochRecord,
    Examples, LoopState, RunData, TrainObserver, TrainOptions, TrainOutcome,
};
