//! `[continual]`, the section the continual protocol owns: the task sequence and the
//! scenarios, regimes and memories compared, crossed into the grid's protocol axis
//! ([`ContinualOption`]); parsed by its own type, checked field by field.

use serde::{Deserialize, Serialize};

/// How the task is known to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// One head over every class; the model must infer the task.
    ClassIl,
    /// The task is given: only its classes are scored.
    TaskIl,
}

/// How long each task is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// `training.epochs` passes over each task.
    MultiEpoch,
    /// One pass over each task's stream.
    Online,
}

/// How the rehearsal memory is filled at the end of each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryPolicy {
    /// No memory: fine-tuning, the lower baseline.
    None,
    /// A uniform sample of the task's examples.
    Random,
    /// The task's most forgettable examples (never learned first, then forgetting events,
    /// ties by EL2N).
    Forgetting,
    /// The task's examples with the highest EL2N at their last presentation.
    Hardness,
}

impl Scenario {
    /// The name used in configs and variant names.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ClassIl => "class-il",
            Scenario::TaskIl => "task-il",
        }
    }
}

impl Regime {
    /// The name used in configs and variant names.
    pub fn name(self) -> &'static str {
        match self {
            Regime::MultiEpoch => "multi-epoch",
            Regime::Online => "online",
        }
    }
}

impl MemoryPolicy {
    /// The name used in configs and variant names.
    pub fn name(self) -> &'static str {
        match self {
            MemoryPolicy::None => "none",
            MemoryPolicy::Random => "random",
            MemoryPolicy::Forgetting => "forgetting",
            MemoryPolicy::Hardness => "hardness",
        }
    }
}

/// One value of the continual protocol axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ContinualOption {
    /// Class- or task-incremental.
    pub scenario: Scenario,
    /// Multi-epoch or online.
    pub regime: Regime,
    /// How the memory is filled.
    pub memory: MemoryPolicy,
}

impl ContinualOption {
    /// `<scenario>/<regime>/<memory>`, e.g. `class-il/online/random`.
    pub fn name(&self) -> String {
        format!(
            "{}/{}/{}",
            self.scenario.name(),
            self.regime.name(),
            self.memory.name()
        )
    }

    /// The option named `name` (the inverse of [`name`](Self::name)).
    pub fn parse(name: &str) -> Option<Self> {
        let mut parts = name.split('/');
        let mut next = || parts.next().map(|p| toml::Value::String(p.to_string()));
        let option = ContinualOption {
            scenario: next()?.try_into().ok()?,
            regime: next()?.try_into().ok()?,
            memory: next()?.try_into().ok()?,
        };
        parts.next().is_none().then_some(option)
    }
}

/// `[continual]`: the task sequence and the scenarios, regimes and memories compared (crossed
/// into the grid's protocol axis).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinualConfig {
    /// The tasks in training order, each a list of classes; default the digit pairs {0,1},
    /// {2,3}, {4,5}, {6,7}, {8,9}.
    #[serde(default = "ContinualConfig::default_tasks")]
    pub tasks: Vec<Vec<u32>>,
    /// `class-il` and/or `task-il`.
    pub scenarios: Vec<Scenario>,
    /// `multi-epoch` and/or `online`.
    pub regimes: Vec<Regime>,
    /// `none`, `random`, `forgetting`, `hardness`.
    pub memory: Vec<MemoryPolicy>,
    /// Examples kept from each finished task (GEM's per-task episodic memory).
    #[serde(default = "ContinualConfig::default_memory_per_task")]
    pub memory_per_task: usize,
}

impl ContinualConfig {
    fn default_tasks() -> Vec<Vec<u32>> {
        (0..5).map(|t| vec![2 * t, 2 * t + 1]).collect()
    }
    fn default_memory_per_task() -> usize {
        20
    }

    /// Every combination of scenario, regime and memory, in config order.
    pub fn options(&self) -> Vec<ContinualOption> {
        let mut out = Vec::new();
        for &scenario in &self.scenarios {
            for &regime in &self.regimes {
                for &memory in &self.memory {
                    out.push(ContinualOption {
                        scenario,
                        regime,
                        memory,
                    });
                }
            }
        }
        out
    }

    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |f: &str, r: String| Err((format!("continual.{f}"), r));
        if self.tasks.len() < 2 {
            return fail("tasks", "give at least two tasks".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (t, classes) in self.tasks.iter().enumerate() {
            if classes.is_empty() {
                return fail("tasks", format!("task {} has no classes", t + 1));
            }
            for c in classes {
                if !seen.insert(*c) {
                    return fail("tasks", format!("class {c} is in two tasks"));
                }
            }
        }
        for (field, empty) in [
            ("scenarios", self.scenarios.is_empty()),
            ("regimes", self.regimes.is_empty()),
            ("memory", self.memory.is_empty()),
        ] {
            if empty {
                return fail(field, "list at least one value".into());
            }
        }
        let rehearses = self.memory.iter().any(|m| *m != MemoryPolicy::None);
        if rehearses && self.memory_per_task == 0 {
            return fail("memory_per_task", "rehearsal needs at least 1".into());
        }
        Ok(())
    }
}
