//! The protocol axis of a grid: how a run uses its data beyond plain training. Part I studies
//! have one protocol, plain training; each Part II study adds one config section whose values
//! expand into protocol variants (data-aware options, subset rules x fractions, continual
//! scenarios), a grid axis like the methods or the sparsities.
//!
//! A variant's name is part of the run key (`/variant=<name>`, left out for plain training so
//! Part I keys never change) and of the `variant` column of `runs.csv` and `summary.csv`.

use crate::config::{ExperimentConfig, MethodsConfig};
use crate::continual::ContinualOption;
use crate::data_aware::DataAwareOption;
use crate::subsets::SubsetVariant;
use serde::Serialize;

/// One value of the protocol axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Protocol {
    /// Every training row once per epoch, growth scored on the step's batch.
    Plain,
    /// Data-aware dynamic sparse training (`[data_aware]`, part2-data-aware).
    DataAware(DataAwareOption),
    /// A continual-learning scenario, regime and memory (`[continual]`, part2-continual).
    Continual(ContinualOption),
    /// Training on a subset of the data chosen by a rule (`[subsets]`, part2-subsets).
    Subset(SubsetVariant),
}

impl Protocol {
    /// The variant's name: empty for plain training, else the study's label of the variant.
    pub fn name(&self) -> String {
        match self {
            Protocol::Plain => String::new(),
            Protocol::DataAware(o) => o.name().to_string(),
            Protocol::Continual(o) => o.name(),
            Protocol::Subset(v) => v.name(),
        }
    }

    /// Whether the variant means something for `method`; variants that would train exactly
    /// like another one (rehearsal after topology updates for a method that never updates,
    /// hardness-driven growth for a method that never grows by gradient) are not run.
    pub fn applies_to(&self, method: &str, methods: &MethodsConfig) -> bool {
        match self {
            Protocol::Plain | Protocol::Continual(_) => true,
            Protocol::DataAware(o) => o.applies_to(method, methods),
            Protocol::Subset(_) => true,
        }
    }
}

/// The protocol variants of `cfg`, in config order: its Part II section's values, or plain
/// training alone.
pub fn variants(cfg: &ExperimentConfig) -> Vec<Protocol> {
    if let Some(c) = &cfg.continual {
        return c.options().into_iter().map(Protocol::Continual).collect();
    }
    if let Some(s) = &cfg.subsets {
        return crate::subsets::variants(s)
            .into_iter()
            .map(Protocol::Subset)
            .collect();
    }
    match &cfg.data_aware {
        Some(d) => d.options.iter().copied().map(Protocol::DataAware).collect(),
        None => vec![Protocol::Plain],
    }
}
