//! The README's "Adding a DST method" example is the doc test of `NamedMethod`, so it compiles
//! and runs; this keeps the two copies identical.

#[test]
fn readme_method_example_is_the_doc_tested_one() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let dst = std::fs::read_to_string(format!("{root}/crates/sparse-core/src/dst.rs")).unwrap();
    let start = readme
        .find("```rust\n//! Magnitude removal")
        .expect("the example in the README");
    let body = &readme[start + "```rust\n".len()..];
    let body = &body[..body.find("```").expect("closed block")];
    let doc: Vec<String> = dst
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("///"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l).to_string())
        .collect();
    let doc = doc.join("\n");
    for line in body.lines().skip(1) {
        assert!(
            doc.contains(line),
            "README line missing from the doc test: {line}"
        );
    }
}
