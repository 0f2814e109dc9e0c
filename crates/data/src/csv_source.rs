//! Loading a [`Dataset`] from a CSV file with a header row. The `csv` crate reads records in
//! flexible mode so that this module, not the reader, reports ragged rows, with the file, line
//! and column of every bad cell. A feature column is numeric unless
//! the options declare it categorical; text in an undeclared column is an error that suggests
//! the declaration, so a typo in a numeric column is never silently turned into a level.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::DataError;

/// Cell texts (after trimming) that mean "missing". Any other spelling of NaN that Rust's float
/// parser accepts (`NAN`, `-nan`) is treated as missing too, never stored as a NaN value.
pub const MISSING_TOKENS: [&str; 5] = ["", "NA", "NaN", "nan", "?"];

/// How to read a CSV file: which column holds the class, which feature columns are
/// categorical, and what to call the dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsvOptions {
    /// Name of the label column; `None` means the last column.
    pub label: Option<String>,
    /// Name of the dataset; `None` means the file stem (`wdbc` for `datasets/wdbc.csv`).
    pub name: Option<String>,
    /// Feature columns to read as categorical (`categorical = ["island", "sex"]`); empty by
    /// default, so every feature column is numeric unless declared here.
    /// Each must name a column of the header other than the label.
    pub categorical: Vec<String>,
}

/// What a feature cell's text means.
enum Cell {
    Missing,
    Value(f32),
    NotANumber,
    Infinite,
}

fn parse_cell(text: &str) -> Cell {
    if MISSING_TOKENS.contains(&text) {
        return Cell::Missing;
    }
    match text.parse::<f64>() {
        Err(_) => Cell::NotANumber,
        Ok(v) if v.is_nan() => Cell::Missing,
        Ok(v) => {
            // Checked after narrowing: 1e39 is finite in f64 but infinite in f32.
            let v32 = v as f32;
            if v32.is_finite() {
                Cell::Value(v32)
            } else {
                Cell::Infinite
            }
        }
    }
}

/// Loads a classification dataset from a CSV file with a header row.
///
/// Every column except the label is a feature: numeric unless named in
/// [`CsvOptions::categorical`]. Missing cells (see [`MISSING_TOKENS`]) are recorded in the
/// observed mask and stored as `0.0`, in both kinds of column. In a categorical column each
/// other cell's text (trimmed) is a level; the levels that occur are sorted lexicographically
/// into [`Dataset::categories`] and the cell's value is its level's index as `f32` (one-hot
/// encoding is a separate step: [`crate::encoding::OneHotEncoder`]). Classes are sorted (numerically when
/// every label is an integer, so `"01"` and `"1"` are one class named `"1"`; otherwise
/// lexicographically), so class indices do not depend on row order. Row ids are the 0-based
/// data rows of the file.
///
/// # Errors
/// A [`DataError`] naming the file, line and column for an unreadable file, a bad header
/// (empty, unnamed or duplicate column, label not found, no feature column), a categorical
/// declaration naming no column or the label, a ragged row, text in an undeclared (numeric)
/// column or an infinite value in one, a missing label, no data rows, or a single class.
pub fn load_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let pathbuf = || path.to_path_buf();
    // Read whole: line numbers are recovered from byte offsets (see `record_line`).
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: pathbuf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let csv_err = |source| DataError::Csv {
        path: pathbuf(),
        source,
    };

    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.is_empty() {
        return Err(DataError::NoHeader { path: pathbuf() });
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            return Err(DataError::EmptyColumnName {
                path: pathbuf(),
                index: i + 1,
            });
        }
        if let Some(&first) = seen.get(name.as_str()) {
            return Err(DataError::DuplicateColumn {
                path: pathbuf(),
                column: name.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
        seen.insert(name, i);
    }
    let label_col = match &opts.label {
        None => header.len() - 1,
        Some(label) => *seen
            .get(label.as_str())
            .ok_or_else(|| DataError::LabelNotFound {
                path: pathbuf(),
                label: label.clone(),
                available: header.join(", "),
            })?,
    };
    if header.len() < 2 {
        return Err(DataError::NoFeatureColumns {
            path: pathbuf(),
            label: header[label_col].clone(),
        });
    }
    let feature_names: Vec<String> = (0..header.len())
        .filter(|&c| c != label_col)
        .map(|c| header[c].clone())
        .collect();
    // Per file column: `Some` (levels in order of first appearance, with their index) where
    // declared categorical; remapped to sorted order once every level is known, as classes are.
    let mut levels: Vec<Option<RawLevels>> = (0..header.len()).map(|_| None).collect();
    for column in &opts.categorical {
        let c = *seen
            .get(column.as_str())
            .ok_or_else(|| DataError::CategoricalNotFound {
                path: pathbuf(),
                column: column.clone(),
                available: header.join(", "),
            })?;
        if c == label_col {
            return Err(DataError::CategoricalLabel {
                path: pathbuf(),
                column: column.clone(),
            });
        }
        levels[c] = Some(RawLevels::default());
    }

    let mut values = Vec::new();
    let mut observed = Vec::new();
    // Labels first as indices into `raw_classes` (order of first appearance), remapped to the
    // sorted order once every class is known.
    let mut raw_labels: Vec<u32> = Vec::new();
    let mut raw_classes: Vec<String> = Vec::new();
    let mut raw_index: HashMap<String, u32> = HashMap::new();
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_err)? {
        let line = record_line(&bytes, &record);
        if record.len() != header.len() {
            return Err(DataError::RaggedRow {
                path: pathbuf(),
                line,
                expected: header.len(),
                found: record.len(),
            });
        }
        for (c, text) in record.iter().enumerate() {
            if c == label_col {
                if MISSING_TOKENS.contains(&text) {
                    return Err(DataError::MissingLabel {
                        path: pathbuf(),
                        line,
                        column: header[c].clone(),
                    });
                }
                let next = raw_classes.len() as u32;
                let idx = *raw_index.entry(text.to_owned()).or_insert_with(|| {
                    raw_classes.push(text.to_owned());
                    next
                });
                raw_labels.push(idx);
                continue;
            }
            let cell = parse_cell(text);
            if let Some(raw) = &mut levels[c] {
                let (v, o) = match cell {
                    Cell::Missing => (0.0, false),
                    _ => (raw.index_of(text) as f32, true),
                };
                values.push(v);
                observed.push(o);
                continue;
            }
            let (v, o) = match cell {
                Cell::Value(v) => (v, true),
                Cell::Missing => (0.0, false),
                Cell::NotANumber => {
                    return Err(DataError::NonNumeric {
                        path: pathbuf(),
                        line,
                        column: header[c].clone(),
                        text: text.to_owned(),
                    })
                }
                Cell::Infinite => {
                    return Err(DataError::InfiniteValue {
                        path: pathbuf(),
                        line,
                        column: header[c].clone(),
                        text: text.to_owned(),
                    })
                }
            };
            values.push(v);
            observed.push(o);
        }
    }

    if raw_labels.is_empty() {
        return Err(DataError::NoDataRows { path: pathbuf() });
    }
    let (class_names, remap) = sort_classes(&raw_classes);
    if class_names.len() < 2 {
        return Err(DataError::SingleClass {
            path: pathbuf(),
            column: header[label_col].clone(),
            class: class_names[0].clone(),
        });
    }
    let labels = raw_labels.iter().map(|&r| remap[r as usize]).collect();
    let row_ids = (0..raw_labels.len()).collect();
    let name = opts.name.clone().unwrap_or_else(|| default_name(path));
    let d = feature_names.len();
    let mut categories = Vec::with_capacity(d);
    let feature_levels = levels
        .into_iter()
        .enumerate()
        .filter(|&(c, _)| c != label_col);
    for (j, (c, raw)) in feature_levels.enumerate() {
        let Some(raw) = raw else {
            categories.push(Vec::new());
            continue;
        };
        if raw.names.len() > MAX_LEVELS {
            return Err(DataError::TooManyLevels {
                path: pathbuf(),
                column: header[c].clone(),
                count: raw.names.len(),
                max: MAX_LEVELS,
            });
        }
        let (sorted, remap) = raw.sorted();
        for k in (j..values.len()).step_by(d) {
            if observed[k] {
                values[k] = remap[values[k] as usize] as f32;
            }
        }
        categories.push(sorted);
    }
    Ok(Dataset {
        name,
        feature_names,
        class_names,
        values,
        observed,
        labels,
        row_ids,
        categories,
    })
}

/// Most levels a categorical column may have: every index up to 2^24 is exact in `f32`, the
/// type that stores it.
const MAX_LEVELS: usize = 1 << 24;

/// The levels of one categorical column in order of first appearance.
#[derive(Default)]
struct RawLevels {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl RawLevels {
    /// The raw index of level `text`, adding it if new.
    fn index_of(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.index.get(text) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(text.to_owned());
        self.index.insert(text.to_owned(), i);
        i
    }

    /// Level names sorted lexicographically and, for each raw index, its sorted index.
    fn sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut sorted = self.names.clone();
        sorted.sort();
        let remap = self
            .names
            .iter()
            .map(|s| sorted.binary_search(s).expect("level is in sorted") as u32)
            .collect();
        (sorted, remap)
    }
}

/// Sorted class names and, for each raw class (in first-appearance order), its final index.
/// Integer labels sort numerically and are renamed to their canonical spelling.
fn sort_classes(raw: &[String]) -> (Vec<String>, Vec<u32>) {
    let ints: Option<Vec<i64>> = raw.iter().map(|s| s.parse::<i64>().ok()).collect();
    match ints {
        Some(ints) => {
            let mut sorted = ints.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let remap = ints
                .iter()
                .map(|v| sorted.binary_search(v).expect("value is in sorted") as u32)
                .collect();
            (sorted.iter().map(i64::to_string).collect(), remap)
        }
        None => {
            let mut sorted = raw.to_vec();
            sorted.sort();
            let remap = raw
                .iter()
                .map(|s| sorted.binary_search(s).expect("name is in sorted") as u32)
                .collect();
            (sorted, remap)
        }
    }
}

/// 1-based line of the file where `record` starts. `csv::Position::line` (and `byte`) point at
/// the first of any blank lines the reader skipped before the record (rust-csv issue #208), so
/// skip those line breaks here and count the newlines before the record's first byte.
fn record_line(bytes: &[u8], record: &csv::StringRecord) -> u64 {
    let start = record
        .position()
        .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
        .min(bytes.len());
    let blank = bytes[start..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .count();
    let newlines = bytes[..start + blank]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    1 + newlines as u64
}

fn default_name(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Writes `contents` to a fresh temp file, unique per process and call (no `tempfile` crate).
    fn temp_csv(stem: &str, contents: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sparse-data-{stem}-{}-{n}.csv", std::process::id()));
        std::fs::write(&path, contents).expect("temp dir is writable");
        path
    }

    /// Loads `contents` from a temp file, removes it, and returns the result and the path.
    fn load(
        stem: &str,
        contents: &str,
        opts: &CsvOptions,
    ) -> (Result<Dataset, DataError>, PathBuf) {
        let path = temp_csv(stem, contents);
        let result = load_csv(&path, opts);
        std::fs::remove_file(&path).expect("temp file exists");
        (result, path)
    }

    /// Loads bad `contents` and checks the error message names the file and contains `parts`.
    fn expect_error(contents: &str, opts: &CsvOptions, parts: &[&str]) -> DataError {
        let (result, path) = load("bad", contents, opts);
        let err = result.expect_err("bad CSV must fail");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        for part in parts {
            assert!(msg.contains(part), "message {msg:?} lacks {part:?}");
        }
        err
    }

    #[test]
    fn loads_values_mask_and_sorted_text_classes() {
        let csv = "a, b ,class\n1.5,NA,yes\n,2,no\n3,?,yes\nnan, 4 ,no\n-2.5e1,NaN,no\n";
        let (ds, path) = load("good", csv, &CsvOptions::default());
        let ds = ds.expect("valid CSV");
        assert_eq!(ds.name, path.file_stem().unwrap().to_string_lossy());
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.class_names, vec!["no", "yes"]);
        assert_eq!(ds.labels, vec![1, 0, 1, 0, 0]);
        assert_eq!(
            ds.values,
            vec![1.5, 0.0, 0.0, 2.0, 3.0, 0.0, 0.0, 4.0, -25.0, 0.0]
        );
        let obs = [
            true, false, false, true, true, false, false, true, true, false,
        ];
        assert_eq!(ds.observed, obs);
        assert_eq!(ds.row_ids, vec![0, 1, 2, 3, 4]);
        assert!((ds.missing_fraction() - 0.5).abs() < 1e-12);
        assert!(ds.validate().is_ok());
    }

    #[test]
    fn integer_labels_sort_numerically_and_label_can_be_any_column() {
        let opts = CsvOptions {
            label: Some("y".into()),
            name: Some("toy".into()),
            ..CsvOptions::default()
        };
        let csv = "a,y,b\n1,10,2\n3,2,4\n5,02,6\n7,10,8\n";
        let (ds, _) = load("ints", csv, &opts);
        let ds = ds.expect("valid CSV");
        assert_eq!(ds.name, "toy");
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        // lexicographic order would put "10" before "2"; "02" and "2" are one class
        assert_eq!(ds.class_names, vec!["2", "10"]);
        assert_eq!(ds.labels, vec![1, 0, 0, 1]);
        assert_eq!(ds.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        assert_eq!(ds.class_counts(), vec![2, 2]);
    }

    #[test]
    fn class_order_does_not_depend_on_row_order() {
        let (a, _) = load("o1", "x,y\n1,b\n2,a\n3,c\n", &CsvOptions::default());
        let (b, _) = load("o2", "x,y\n3,c\n1,b\n2,a\n", &CsvOptions::default());
        let (a, b) = (a.expect("valid"), b.expect("valid"));
        assert_eq!(a.class_names, b.class_names);
        assert_eq!(a.labels, vec![1, 0, 2]);
        assert_eq!(b.labels, vec![2, 1, 0]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let none = CsvOptions::default();
        let missing = Path::new("/nonexistent-dir/no-such.csv");
        let msg = load_csv(missing, &none).unwrap_err().to_string();
        assert!(
            msg.contains("/nonexistent-dir/no-such.csv: cannot read file"),
            "{msg}"
        );

        let e = expect_error(
            "a,b,y\n1,2,p\n1,q\n",
            &none,
            &[":3:", "expected 3", "found 2"],
        );
        assert!(matches!(e, DataError::RaggedRow { line: 3, .. }));
        // blank lines are skipped but still counted in line numbers, with either line ending
        let e = expect_error("a,y\n1,p\n\n\n1,2,q\n", &none, &[":5:", "found 3"]);
        assert!(matches!(e, DataError::RaggedRow { line: 5, .. }));
        let e = expect_error("a,y\r\n\r\n1,p\r\nx,q\r\n", &none, &[":4:", "column 'a'"]);
        assert!(matches!(e, DataError::NonNumeric { line: 4, .. }));
        // a quoted field spanning lines: the error names the line where the row starts
        let e = expect_error("a,y\n1,\"p\nq\"\n3,q,r\n", &none, &[":4:"]);
        assert!(matches!(e, DataError::RaggedRow { line: 4, .. }));
        let e = expect_error(
            "a,b,y\n1,2,p\n1,abc,q\n",
            &none,
            &[":3:", "column 'b'", "'abc'", "categorical = [\"b\"]"],
        );
        assert!(matches!(e, DataError::NonNumeric { line: 3, .. }));
        for inf in ["inf", "-Infinity", "1e39"] {
            let csv = format!("a,b,y\n1,2,p\n{inf},1,q\n");
            let e = expect_error(&csv, &none, &[":3:", "column 'a'", inf, "infinite"]);
            assert!(matches!(e, DataError::InfiniteValue { line: 3, .. }));
        }
        let target = CsvOptions {
            label: Some("target".into()),
            ..CsvOptions::default()
        };
        let e = expect_error("a,b,y\n1,2,p\n", &target, &[":1:", "'target'", "a, b, y"]);
        assert!(matches!(e, DataError::LabelNotFound { .. }));
        let e = expect_error("a,y\n1,p\n2,\n3,q\n", &none, &[":3:", "column 'y'"]);
        assert!(matches!(e, DataError::MissingLabel { line: 3, .. }));
        let e = expect_error("a,y\n1,p\n2,q\n3,NA\n", &none, &[":4:", "missing class"]);
        assert!(matches!(e, DataError::MissingLabel { line: 4, .. }));
        let e = expect_error("a,y\n", &none, &["no data rows"]);
        assert!(matches!(e, DataError::NoDataRows { .. }));
        let e = expect_error("a,y\n1,p\n2,p\n", &none, &["'y'", "only one class ('p')"]);
        assert!(matches!(e, DataError::SingleClass { .. }));
        let e = expect_error(
            "a,b,a,y\n1,2,3,p\n",
            &none,
            &[":1:", "'a'", "columns 1 and 3"],
        );
        assert!(matches!(e, DataError::DuplicateColumn { .. }));
        let e = expect_error("", &none, &[":1:", "no header"]);
        assert!(matches!(e, DataError::NoHeader { .. }));
        let e = expect_error("a,,y\n1,2,p\n", &none, &[":1:", "column 2"]);
        assert!(matches!(e, DataError::EmptyColumnName { index: 2, .. }));
        let e = expect_error("y\np\nq\n", &none, &[":1:", "'y'"]);
        assert!(matches!(e, DataError::NoFeatureColumns { .. }));
    }

    fn categorical(columns: &[&str]) -> CsvOptions {
        CsvOptions {
            categorical: columns.iter().map(|c| c.to_string()).collect(),
            ..CsvOptions::default()
        }
    }

    #[test]
    fn declared_categorical_columns_hold_sorted_level_indices() {
        // levels are trimmed, sorted whatever the row order, and a digit is a level like any
        // other text; missing tokens stay missing
        let csv = "c, x ,d,y\n b ,1,2,p\nNA,2,1,q\na,3,?,p\nb,,10,q\n?,5,1,p\n";
        let (ds, _) = load("cat", csv, &categorical(&["c", "d"]));
        let ds = ds.expect("valid CSV");
        assert_eq!(ds.feature_names, vec!["c", "x", "d"]);
        assert_eq!(
            ds.categories,
            vec![vec!["a", "b"], vec![], vec!["1", "10", "2"]]
        );
        #[rustfmt::skip]
        let values = vec![
            1.0, 1.0, 2.0,
            0.0, 2.0, 0.0,
            0.0, 3.0, 0.0,
            1.0, 0.0, 1.0,
            0.0, 5.0, 0.0,
        ];
        assert_eq!(ds.values, values);
        #[rustfmt::skip]
        let observed = vec![
            true, true, true,
            false, true, true,
            true, true, false,
            true, false, true,
            false, true, true,
        ];
        assert_eq!(ds.observed, observed);
        assert!(ds.validate().is_ok());
        // a declared column that happens to be all missing has no level, like a numeric one
        let (ds, _) = load("cat-empty", "c,x,y\nNA,1,p\n,2,q\n", &categorical(&["c"]));
        let ds = ds.expect("valid CSV");
        assert_eq!(ds.categories, vec![Vec::<String>::new(), Vec::new()]);
        assert_eq!(ds.observed, vec![false, true, false, true]);
    }

    #[test]
    fn bad_categorical_declarations_are_errors() {
        let e = expect_error(
            "a,b,y\n1,u,p\n",
            &categorical(&["b", "bb"]),
            &[":1:", "categorical column 'bb' not found", "a, b, y"],
        );
        assert!(matches!(e, DataError::CategoricalNotFound { .. }));
        let e = expect_error(
            "a,b,y\n1,u,p\n",
            &categorical(&["y"]),
            &[":1:", "'y' is the label"],
        );
        assert!(matches!(e, DataError::CategoricalLabel { .. }));
        // declaring one text column does not make another one categorical
        let e = expect_error(
            "a,b,y\nu,v,p\n",
            &categorical(&["a"]),
            &[":2:", "column 'b'", "'v'", "categorical = [\"b\"]"],
        );
        assert!(matches!(e, DataError::NonNumeric { line: 2, .. }));
    }

    #[test]
    fn options_deserialize_with_defaults_and_reject_unknown_fields() {
        let opts: CsvOptions = serde_json::from_str(r#"{"label":"species"}"#).expect("valid");
        assert_eq!(opts.label.as_deref(), Some("species"));
        assert_eq!(opts.name, None);
        assert!(opts.categorical.is_empty());
        let opts: CsvOptions =
            serde_json::from_str(r#"{"categorical":["island","sex"]}"#).expect("valid");
        assert_eq!(opts.categorical, vec!["island", "sex"]);
        assert!(serde_json::from_str::<CsvOptions>(r#"{"lable":"x"}"#).is_err());
    }
}
