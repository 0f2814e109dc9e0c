//! The conformance kit over the whole registry: every registered method trains the kit's short
//! run with well-formed layers, within its connection budget, rewiring as it declares,
//! deterministically, and resumes from a checkpoint bit for bit. A new method is checked here
//! by being registered; nothing in this file names it.

use experiments::registry::{self, MethodVisitor};
use sparse_core::NamedMethod;

/// Runs the kit on each method and keeps every failure, so one run of the test lists them all.
#[derive(Default)]
struct Kit {
    checked: Vec<&'static str>,
    failures: Vec<String>,
}

impl MethodVisitor for Kit {
    fn visit<M: NamedMethod>(&mut self) {
        self.checked.push(M::NAME);
        match conformance::check::<M>() {
            Ok(report) => {
                assert!(report.initial_connections > 0, "{}: {report:?}", M::NAME);
                if !M::REWIRES {
                    assert_eq!(report.edits, 0);
                }
            }
            Err(violation) => self.failures.push(violation.to_string()),
        }
    }
}

#[test]
fn every_registered_method_conforms() {
    let mut kit = Kit::default();
    registry::visit_methods(&mut kit);
    assert!(kit.failures.is_empty(), "{}", kit.failures.join("\n"));
    let mut names = registry::names();
    names.retain(|n| *n != registry::DENSE);
    assert_eq!(
        kit.checked, names,
        "the kit saw every registered method, in order"
    );
}
