//! Loads the datasets bundled in `datasets/` and checks their documented shapes and class
//! counts (`datasets/README.md`), so a corrupted copy or a loader regression fails loudly.

use std::path::PathBuf;

use data::{load_csv, CsvOptions, DataError};

fn bundled(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(file)
}

#[test]
fn wdbc_shape_and_classes() {
    let ds = load_csv(&bundled("wdbc.csv"), &CsvOptions::default()).expect("wdbc loads");
    assert_eq!(ds.name, "wdbc");
    assert_eq!((ds.n_rows(), ds.n_features(), ds.n_classes()), (569, 30, 2));
    assert_eq!(ds.class_names, vec!["benign", "malignant"]);
    assert_eq!(ds.class_counts(), vec![357, 212]);
    assert_eq!(ds.feature_names[0], "mean radius");
    assert_eq!(ds.row(0)[0], 17.99);
    assert_eq!(ds.missing_fraction(), 0.0);
    assert!(ds.validate().is_ok());
}

#[test]
fn digits_shape_and_classes() {
    let ds = load_csv(&bundled("digits.csv"), &CsvOptions::default()).expect("digits loads");
    assert_eq!(
        (ds.n_rows(), ds.n_features(), ds.n_classes()),
        (1797, 64, 10)
    );
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    assert_eq!(ds.class_names, names);
    assert_eq!(ds.class_counts().iter().sum::<usize>(), 1797);
    assert!(ds.values.iter().all(|&v| (0.0..=16.0).contains(&v)));
    assert_eq!(ds.missing_fraction(), 0.0);
}

#[test]
fn penguins_text_column_asks_for_categorical_declaration() {
    let opts = CsvOptions {
        label: Some("species".into()),
        name: None,
    };
    let err = load_csv(&bundled("penguins.csv"), &opts).expect_err("island is text");
    assert!(
        matches!(&err, DataError::NonNumeric { line: 2, column, text, .. }
            if column == "island" && text == "Torgersen"),
        "{err}"
    );
    assert!(err.to_string().contains("penguins.csv:2: column 'island'"));
}
