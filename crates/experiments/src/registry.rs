//! The one registry of training methods: the only place that knows every method crate.
//!
//! Adding a DST method means writing its crate (implementing [`sparse_core::NamedMethod`]),
//! naming it in `crates/experiments/Cargo.toml`, and adding one line to [`visit_methods`]; the
//! conformance kit (`crates/conformance`) then checks it with every other method. Its
//! hyper-parameters are then read from the config's `[methods.<name>]` table, validated, and
//! made part of the key of its runs.
//!
//! A config may also name a *variant* of a registered method: `[methods.set-zero]` with
//! `base = "set"` and the base method's parameters (`regrow_init = "zero"`) makes `set-zero`
//! a method of its own in `grid.methods`, with its own name in the run key, so that two
//! settings of one method share a grid.

use crate::config::MethodsConfig;
use serde::Serialize;
use sparse_core::{DstMethod, NamedMethod, SparseError};

/// Every registered DST method, in the order tables and figures list them: the one list of
/// method types (adding a method is one line here).
pub fn visit_methods(visitor: &mut impl MethodVisitor) {
    visitor.visit::<dst_set::StaticSparse>();
    visitor.visit::<dst_set::Set>();
    visitor.visit::<dst_rigl::RigL>();
    visitor.visit::<dst_mest::Mest>();
    visitor.visit::<dst_snfs::Snfs>();
    visitor.visit::<dst_deepr::DeepR>();
    visitor.visit::<dst_dsr::Dsr>();
    visitor.visit::<dst_gmp::Gmp>();
}

/// Something done for each registered method type, by [`visit_methods`]: building the
/// registry's entries, or the conformance kit's checks (`crates/experiments/tests`).
pub trait MethodVisitor {
    /// Called once per registered method, in registry order.
    fn visit<M: NamedMethod>(&mut self);
}

fn entries() -> Vec<Entry> {
    struct Entries(Vec<Entry>);
    impl MethodVisitor for Entries {
        fn visit<M: NamedMethod>(&mut self) {
            self.0.push(Entry::of::<M>());
        }
    }
    let mut entries = Entries(Vec::new());
    visit_methods(&mut entries);
    entries.0
}

/// The dense model's name: a model, not a DST method.
pub const DENSE: &str = "dense";

/// Static sparse training's name: the fixed-topology reference the rewiring methods are
/// compared with.
pub const STATIC: &str = <dst_set::StaticSparse as NamedMethod>::NAME;

/// How to build one registered method from its config table.
struct Entry {
    name: &'static str,
    rewires: bool,
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
            rewires: M::REWIRES,
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

/// Whether the method `name` changes its connectivity during training (`dense` and static
/// sparse training do not). A name the registry does not know (a config's variant) counts as
/// rewiring.
pub fn rewires(name: &str) -> bool {
    name != DENSE
        && entries()
            .iter()
            .find(|e| e.name == name)
            .is_none_or(|e| e.rewires)
}

/// The chart colour of the method `name`: its place in the registry, so every figure gives a
/// method the same colour and the legend order follows the registry; dense is black
/// (`usize::MAX`); a variant's colour comes from its name, past the registry's.
pub fn colour(name: &str) -> usize {
    if name == DENSE {
        return usize::MAX;
    }
    let entries = entries();
    match entries.iter().position(|e| e.name == name) {
        Some(i) => i,
        None => entries.len() + name.bytes().map(usize::from).sum::<usize>() % 8,
    }
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

/// The key of a variant's table that names its registered method.
const BASE: &str = "base";

/// The registered method `name` stands for in `cfg` and its parameter table: its own entry
/// and `[methods.<name>]`, or, for a variant, its base's entry and its table without `base`.
fn resolve<'a>(
    name: &str,
    cfg: &'a MethodsConfig,
) -> Result<(Entry, std::borrow::Cow<'a, toml::Table>), SparseError> {
    let entry_of = |n: &str| entries().into_iter().find(|e| e.name == n);
    let own = cfg.get(name);
    if let Some(entry) = entry_of(name) {
        let table = own.map_or_else(
            || std::borrow::Cow::Owned(toml::Table::new()),
            std::borrow::Cow::Borrowed,
        );
        return Ok((entry, table));
    }
    let Some(table) = own else {
        return Err(unknown(name));
    };
    let base = table
        .get(BASE)
        .and_then(|b| b.as_str())
        .ok_or_else(|| SparseError::Parameter {
            name: "base",
            reason: format!(
                "`{name}` is not a registered method; a variant names one in `base` (known: {})",
                names().join(", ")
            ),
        })?;
    let entry = entry_of(base).ok_or_else(|| SparseError::Parameter {
        name: "base",
        reason: format!(
            "`{base}` is not a registered DST method (known: {}; dense has no variants)",
            names()[1..].join(", ")
        ),
    })?;
    let mut params = table.clone();
    params.remove(BASE);
    Ok((entry, std::borrow::Cow::Owned(params)))
}

/// Whether `name` is a method in `cfg`: `dense`, a registered method, or a variant
/// `[methods.<name>]` with a registered `base`.
pub fn is_known_in(name: &str, cfg: &MethodsConfig) -> bool {
    name == DENSE || resolve(name, cfg).is_ok()
}

/// Builds the method `name` (registered or a variant of `cfg`) with its hyper-parameters.
pub fn build(name: &str, cfg: &MethodsConfig) -> Result<MethodKind, SparseError> {
    if name == DENSE {
        return Ok(MethodKind::Dense);
    }
    let (entry, table) = resolve(name, cfg)?;
    Ok(MethodKind::Sparse((entry.build)(&table)?))
}

/// The method's own hyper-parameters (defaults filled in) as JSON: part of the run key, so
/// changing them reruns only that method's runs. Empty for `dense` and parameterless methods.
/// A variant's are those of its table (its name is in the key already).
pub fn params_json(name: &str, cfg: &MethodsConfig) -> String {
    resolve(name, cfg)
        .ok()
        .and_then(|(e, t)| (e.params_json)(&t).ok())
        .unwrap_or_default()
}

/// Checks every `[methods.<name>]` table: the name is registered or the table is a variant
/// with a registered `base`, and its parameters parse and validate. Errors name the table.
pub fn validate(cfg: &MethodsConfig) -> Result<(), (String, String)> {
    for name in cfg.keys() {
        let field = format!("methods.{name}");
        let (entry, table) = resolve(name, cfg).map_err(|e| (field.clone(), e.to_string()))?;
        (entry.params_json)(&table).map_err(|e| (field, e.to_string()))?;
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
    fn identity_comes_from_the_registry() {
        assert!(!rewires(DENSE) && !rewires(STATIC));
        assert!(names()[1..]
            .iter()
            .filter(|n| **n != STATIC)
            .all(|n| rewires(n)));
        assert!(rewires("set-zero"));
        let colours: Vec<usize> = names().iter().map(|n| colour(n)).collect();
        assert_eq!(colours[0], usize::MAX);
        assert_eq!(colours[1..], (0..names().len() - 1).collect::<Vec<_>>());
        assert!(colour("set-zero") >= names().len() - 1);
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

    /// `[methods.set-zero]` with `base = "set"` is SET with its own parameters and name.
    #[test]
    fn a_named_variant_is_its_base_method_with_its_own_parameters() {
        let mut cfg = MethodsConfig::default();
        cfg.insert("set".into(), toml::from_str("zeta = 0.1").unwrap());
        cfg.insert(
            "set-zero".into(),
            toml::from_str("base = \"set\"\nzeta = 0.1\nregrow_init = \"zero\"").unwrap(),
        );
        assert!(validate(&cfg).is_ok());
        assert!(is_known_in("set-zero", &cfg) && !is_known_in("set-one", &cfg));
        assert_eq!(params_json("set", &cfg), r#"{"zeta":0.1}"#);
        assert_eq!(
            params_json("set-zero", &cfg),
            r#"{"zeta":0.1,"regrow_init":"zero"}"#
        );
        match build("set-zero", &cfg).unwrap() {
            MethodKind::Sparse(m) => assert_eq!(m.name(), "set"),
            MethodKind::Dense => panic!("a SET variant"),
        }
        for (table, says) in [
            ("zeta = 0.1", "base"),
            ("base = \"sett\"", "sett"),
            ("base = \"dense\"", "dense"),
            ("base = \"set\"\nzeta = 7.0", "zeta"),
        ] {
            let mut bad = cfg.clone();
            bad.insert("set-x".into(), toml::from_str(table).unwrap());
            let (field, reason) = validate(&bad).unwrap_err();
            assert_eq!(field, "methods.set-x");
            assert!(reason.contains(says), "{table}: {reason}");
        }
    }
}
