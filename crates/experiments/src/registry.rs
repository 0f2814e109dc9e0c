//! The one registry of training methods: the only place that knows every method crate.
//!
//! Adding a DST method means adding its crate to `Cargo.toml`, one arm in [`build`], its name in
//! [`NAMES`], and its config struct in [`crate::config::MethodsConfig`].

use crate::config::MethodsConfig;
use dst_mest::Mest;
use dst_rigl::RigL;
use dst_set::{Set, StaticSparse};
use sparse_core::{DstMethod, SparseError};

/// Every method name a config may use. `dense` is a model, not a DST method.
pub const NAMES: &[&str] = &["dense", "static", "set", "rigl", "mest"];

/// Names of the known methods.
pub fn names() -> Vec<&'static str> {
    NAMES.to_vec()
}

/// Whether `name` is a registered method.
pub fn is_known(name: &str) -> bool {
    NAMES.contains(&name)
}

/// What a method name stands for.
#[derive(Debug)]
pub enum MethodKind {
    /// The dense MLP on burn.
    Dense,
    /// A sparse MLP trained by this DST method.
    Sparse(Box<dyn DstMethod>),
}

/// Builds the method `name` with its hyper-parameters from `cfg`.
pub fn build(name: &str, cfg: &MethodsConfig) -> Result<MethodKind, SparseError> {
    Ok(match name {
        "dense" => MethodKind::Dense,
        "static" => MethodKind::Sparse(Box::new(StaticSparse)),
        "set" => MethodKind::Sparse(Box::new(Set::new(cfg.set)?)),
        "rigl" => MethodKind::Sparse(Box::new(RigL::new(cfg.rigl)?)),
        "mest" => MethodKind::Sparse(Box::new(Mest::new(cfg.mest.clone())?)),
        other => {
            return Err(SparseError::Parameter {
                name: "method",
                reason: format!("unknown method `{other}`; known: {}", NAMES.join(", ")),
            })
        }
    })
}

/// The method's own hyper-parameters as JSON (part of the run key, so changing them reruns
/// only that method's runs).
pub fn params_json(name: &str, cfg: &MethodsConfig) -> String {
    match name {
        "set" => serde_json::to_string(&cfg.set).expect("plain struct serialises"),
        "rigl" => serde_json::to_string(&cfg.rigl).expect("plain struct serialises"),
        "mest" => serde_json::to_string(&cfg.mest).expect("plain struct serialises"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds() {
        for n in NAMES {
            assert!(build(n, &MethodsConfig::default()).is_ok(), "{n}");
        }
        assert!(build("rigl2", &MethodsConfig::default()).is_err());
        match build("set", &MethodsConfig::default()).unwrap() {
            MethodKind::Sparse(m) => assert_eq!(m.name(), "set"),
            MethodKind::Dense => panic!("set is sparse"),
        }
    }
}
