//! The one registry of training methods: the only place that knows every method crate.
//!
//! Adding a DST method means writing its crate (implementing [`sparse_core::NamedMethod`]),
//! naming it in `crates/experiments/Cargo.toml`, and adding one line to [`entries`]. Its
//! hyper-parameters are then read from the config's `[methods.<name>]` table, validated, and
//! made part of the key of its runs.

use crate::config::MethodsConfig;
use serde::Serialize;
use sparse_core::{DstMethod, NamedMethod, SparseError};

/// Every registered DST method, in the order tables and figures list them.
fn entries() -> Vec<Entry> {
    vec![
        Entry::of::<dst_set::StaticSparse>(),
        Entry::of::<dst_set::Set>(),
        Entry::of::<dst_rigl::RigL>(),
        Entry::of::<dst_mest::Mest>(),
        Entry::of::<dst_snfs::Snfs>(),
        Entry::of::<dst_deepr::DeepR>(),
        Entry::of::<dst_dsr::Dsr>(),
        Entry::of::<dst_gmp::Gmp>(),
    ]
}

/// The dense model's name: a model, not a DST method.
pub const DENSE: &str = "dense";

/// How to build one registered method from its config table.
struct Entry {
    name: &'static str,
    build: fn(&toml::Table) -> Result<Box<dyn DstMethod>, SparseError>,
    params_json: fn(&toml::Table) -> Result<String, SparseError>,
}

fn parse<M: NamedMethod>(table: &toml::Table) -> Result<M::Config, SparseError> {
    table
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| SparseError::Parameter {
            name: M::NAME,
            reason: e.message().to_string(),
        })
}

impl Entry {
    fn of<M: NamedMethod>() -> Self {
        Entry {
            name: M::NAME,
            build: |t| Ok(Box::new(M::from_config(parse::<M>(t)?)?)),
            params_json: |t| {
                let c = parse::<M>(t)?;
                M::from_config(parse::<M>(t)?)?;
                Ok(params_string(&c))
            },
        }
    }
}

/// The hyper-parameters as compact JSON, or nothing for a method without any.
fn params_string(c: &impl Serialize) -> String {
    let json = serde_json::to_string(c).expect("plain config serialises");
    if json == "{}" || json == "null" {
        String::new()
    } else {
        json
    }
}

/// Names of every method a config may use, `dense` first.
pub fn names() -> Vec<&'static str> {
    std::iter::once(DENSE)
        .chain(entries().iter().map(|e| e.name))
        .collect()
}

/// Whether `name` is a registered method (or `dense`).
pub fn is_known(name: &str) -> bool {
    names().contains(&name)
}

/// What a method name stands for.
#[derive(Debug)]
pub enum MethodKind {
    /// The dense MLP on burn.
    Dense,
    /// A sparse MLP trained by this DST method.
    Sparse(Box<dyn DstMethod>),
}

fn unknown(name: &str) -> SparseError {
    SparseError::Parameter {
        name: "method",
        reason: format!("unknown method `{name}`; known: {}", names().join(", ")),
    }
}

fn table<'a>(name: &str, cfg: &'a MethodsConfig) -> std::borrow::Cow<'a, toml::Table> {
    match cfg.get(name) {
        Some(t) => std::borrow::Cow::Borrowed(t),
        None => std::borrow::Cow::Owned(toml::Table::new()),
    }
}

/// Builds the method `name` with its hyper-parameters from `cfg`.
pub fn build(name: &str, cfg: &MethodsConfig) -> Result<MethodKind, SparseError> {
    if name == DENSE {
        return Ok(MethodKind::Dense);
    }
    let entry = entries()
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| unknown(name))?;
    Ok(MethodKind::Sparse((entry.build)(&table(name, cfg))?))
}

/// The method's own hyper-parameters (defaults filled in) as JSON: part of the run key, so
/// changing them reruns only that method's runs. Empty for `dense` and parameterless methods.
pub fn params_json(name: &str, cfg: &MethodsConfig) -> String {
    entries()
        .into_iter()
        .find(|e| e.name == name)
        .and_then(|e| (e.params_json)(&table(name, cfg)).ok())
        .unwrap_or_default()
}

/// Checks every `[methods.<name>]` table: the name is registered and the table parses and
/// validates. Errors name the table.
pub fn validate(cfg: &MethodsConfig) -> Result<(), (String, String)> {
    for (name, t) in cfg {
        let entry = entries()
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                (
                    format!("methods.{name}"),
                    format!("no such method; known: {}", names().join(", ")),
                )
            })?;
        (entry.params_json)(t).map_err(|e| (format!("methods.{name}"), e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds_and_reports_its_name() {
        for n in names() {
            match build(n, &MethodsConfig::default()).unwrap() {
                MethodKind::Sparse(m) => assert_eq!(m.name(), n),
                MethodKind::Dense => assert_eq!(n, DENSE),
            }
        }
        assert!(build("rigl2", &MethodsConfig::default()).is_err());
    }

    #[test]
    fn tables_are_validated_by_the_method() {
        let mut cfg = MethodsConfig::default();
        let t: toml::Table = toml::from_str("zeta = 0.1").unwrap();
        cfg.insert("set".into(), t);
        assert!(validate(&cfg).is_ok());
        assert_eq!(params_json("set", &cfg), r#"{"zeta":0.1}"#);
        assert_eq!(params_json("static", &cfg), "");
        cfg.insert("set".into(), toml::from_str("zeta = 3.0").unwrap());
        let (field, reason) = validate(&cfg).unwrap_err();
        assert_eq!(field, "methods.set");
        assert!(reason.contains("zeta"), "{reason}");
        cfg.insert("set".into(), toml::from_str("zetta = 0.1").unwrap());
        assert!(validate(&cfg).unwrap_err().1.contains("zetta"));
        let mut bad = MethodsConfig::default();
        bad.insert("sett".into(), toml::Table::new());
        assert_eq!(validate(&bad).unwrap_err().0, "methods.sett");
    }
}
