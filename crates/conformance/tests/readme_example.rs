//! The README's "Adding a DST method" example is the doc test of `conformance::check`, so it
//! compiles and passes the conformance kit; this keeps the two copies identical (the README's
//! first line, the crate's doc comment, and the doc test's call of the kit aside).

#[test]
fn readme_method_example_is_the_doc_tested_one() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let source = std::fs::read_to_string(format!("{root}/crates/conformance/src/lib.rs")).unwrap();
    let start = readme
        .find("```rust\n//! Magnitude removal")
        .expect("the example in the README's \"Adding a DST method\"");
    let body = &readme[start + "```rust\n".len()..];
    let body = &body[..body.find("```").expect("closed block")];
    let readme_lines: Vec<&str> = body.lines().skip(1).collect();
    let doc: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("///"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| !l.starts_with("use serde::"))
        .take_while(|l| *l != "# fn main() {")
        .collect();
    assert_eq!(
        readme_lines.join("\n").trim_end(),
        doc.join("\n").trim_end()
    );
}
