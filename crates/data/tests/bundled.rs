//! Loads the datasets bundled in `datasets/` and checks their documented shapes and class
//! counts (`datasets/README.md`), so a corrupted copy or a loader regression fails loudly.

use std::path::{Path, PathBuf};

use data::encoding::OneHotEncoder;
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

const PENGUINS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/penguins.csv");

fn penguins_options(categorical: &[&str]) -> CsvOptions {
    CsvOptions {
        label: Some("species".into()),
        categorical: categorical.iter().map(|c| c.to_string()).collect(),
        ..CsvOptions::default()
    }
}

#[test]
fn penguins_with_declared_categories() {
    let ds = load_csv(Path::new(PENGUINS), &penguins_options(&["island", "sex"]))
        .expect("penguins loads");
    assert_eq!(ds.name, "penguins");
    assert_eq!((ds.n_rows(), ds.n_features(), ds.n_classes()), (344, 7, 3));
    assert_eq!(ds.class_names, vec!["Adelie", "Chinstrap", "Gentoo"]);
    assert_eq!(ds.class_counts(), vec![152, 68, 124]);
    let features = [
        "island",
        "bill_length_mm",
        "bill_depth_mm",
        "flipper_length_mm",
        "body_mass_g",
        "sex",
        "year",
    ];
    assert_eq!(ds.feature_names, features);
    assert_eq!(ds.categories[0], vec!["Biscoe", "Dream", "Torgersen"]);
    assert_eq!(ds.categories[5], vec!["female", "male"]);
    for (names, feature) in ds.categories.iter().zip(features).take(5).skip(1) {
        assert!(names.is_empty(), "{feature} is numeric");
    }
    // year stays numeric: the values themselves, not level indices
    assert!(ds.categories[6].is_empty());
    let years: Vec<f32> = (0..ds.n_rows()).map(|i| ds.row(i)[6]).collect();
    assert!(years.iter().all(|&y| (2007.0..=2009.0).contains(&y)));
    assert_eq!(years.iter().filter(|&&y| y == 2009.0).count(), 120);
    // first data row (line 2): Torgersen, 39.1, 18.7, 181, 3750, male, 2007
    assert_eq!(ds.row(0), &[2.0, 39.1, 18.7, 181.0, 3750.0, 1.0, 2007.0]);

    // missing cells per column: the two rows without measurements and 11 without sex
    let missing: Vec<usize> = (0..7)
        .map(|j| (0..ds.n_rows()).filter(|&i| !ds.observed_row(i)[j]).count())
        .collect();
    assert_eq!(missing, vec![0, 2, 2, 2, 2, 11, 0]);
    let no_measurements = (0..ds.n_rows())
        .filter(|&i| ds.observed_row(i)[1..5].iter().all(|&o| !o))
        .count();
    assert_eq!(no_measurements, 2);
    let island_counts: Vec<usize> = (0..3)
        .map(|l| {
            (0..ds.n_rows())
                .filter(|&i| ds.row(i)[0] == l as f32)
                .count()
        })
        .collect();
    assert_eq!(island_counts, vec![168, 124, 52]);
    assert!(ds.validate().is_ok());

    // one-hot: 3 island + 4 measurements + 2 sex + year; a missing sex stays missing
    let enc = OneHotEncoder::fit(&ds);
    let oh = enc.transform(&ds);
    assert_eq!(oh.n_features(), 10);
    assert_eq!(
        oh.feature_names[..3],
        ["island=Biscoe", "island=Dream", "island=Torgersen"]
    );
    assert_eq!(oh.feature_names[7..], ["sex=female", "sex=male", "year"]);
    let missing_cells = oh.observed.iter().filter(|&&o| !o).count();
    assert_eq!(missing_cells, 4 * 2 + 2 * 11);
    assert_eq!(
        oh.row(0),
        &[0.0, 0.0, 1.0, 39.1, 18.7, 181.0, 3750.0, 0.0, 1.0, 2007.0]
    );
    assert!(oh.validate().is_ok());
}

#[test]
fn penguins_text_column_asks_for_categorical_declaration() {
    let err = load_csv(Path::new(PENGUINS), &penguins_options(&[])).expect_err("island is text");
    assert!(
        matches!(&err, DataError::NonNumeric { line: 2, column, text, .. }
            if column == "island" && text == "Torgersen"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("penguins.csv:2: column 'island'"), "{msg}");
    assert!(msg.contains(r#"categorical = ["island"]"#), "{msg}");
    // declaring island alone moves the error on to sex, on the same line
    let err = load_csv(Path::new(PENGUINS), &penguins_options(&["island"])).expect_err("sex");
    assert!(
        err.to_string()
            .contains(r#"penguins.csv:2: column 'sex': text 'male'"#),
        "{err}"
    );
}

#[test]
fn penguins_unknown_categorical_column_is_an_error() {
    let err = load_csv(
        Path::new(PENGUINS),
        &penguins_options(&["island", "colour"]),
    )
    .expect_err("no column colour");
    assert!(matches!(&err, DataError::CategoricalNotFound { column, .. } if column == "colour"));
    let msg = err.to_string();
    assert!(
        msg.contains("penguins.csv:1: categorical column 'colour' not found"),
        "{msg}"
    );
    assert!(msg.contains("species, island, bill_length_mm"), "{msg}");
}
