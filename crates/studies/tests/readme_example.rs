//! The README's "Adding a study" example is the doc test of `studies::Study`, so it compiles and
//! runs; this keeps the two copies identical (the doc test's hidden `# ` lines aside).

#[test]
fn readme_study_example_is_the_doc_tested_one() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let source = std::fs::read_to_string(format!("{root}/crates/studies/src/study.rs")).unwrap();
    let start = readme
        .find("```rust\n//! Runs per method")
        .expect("the example in the README's \"Adding a study\"");
    let body = &readme[start + "```rust\n".len()..];
    let body = &body[..body.find("```").expect("closed block")];
    let doc: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("///"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .skip_while(|l| !l.starts_with("//! Runs per method"))
        .take_while(|l| *l != "```")
        .filter(|l| !l.starts_with("# ") && *l != "#")
        .collect();
    assert_eq!(body.trim_end(), doc.join("\n"));
}
