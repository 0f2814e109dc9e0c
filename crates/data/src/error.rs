//! The one error type of this crate. Every message says where the problem is: the file path,
//! the 1-based line number of the file (the header is line 1) and the column name, so a user
//! can open the file and fix the cell without guessing.

use std::path::PathBuf;

/// Everything that can go wrong while loading, validating, splitting or scaling data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read file: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// The CSV reader itself failed (for example invalid UTF-8); its message carries the position.
    #[error("{}: malformed CSV: {source}", path.display())]
    Csv {
        /// The file that failed.
        path: PathBuf,
        /// The reader's error, which names the record and line.
        #[source]
        source: csv::Error,
    },

    /// The file is empty, so there is no header row naming the columns.
    #[error("{}:1: no header row; the first line must name every column", path.display())]
    NoHeader {
        /// The empty file.
        path: PathBuf,
    },

    /// A header field is empty, so the column could not be referred to.
    #[error("{}:1: column {index} has an empty name; every column needs a name", path.display())]
    EmptyColumnName {
        /// The file.
        path: PathBuf,
        /// 1-based position of the unnamed column.
        index: usize,
    },

    /// Two header fields have the same name, so a column name would be ambiguous.
    #[error(
        "{}:1: duplicate column name '{column}' (columns {first} and {second})",
        path.display()
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        column: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of its second occurrence.
        second: usize,
    },

    /// The requested label column is not in the header.
    #[error(
        "{}:1: label column '{label}' not found; available columns: {available}",
        path.display()
    )]
    LabelNotFound {
        /// The file.
        path: PathBuf,
        /// The name that was asked for.
        label: String,
        /// The header's names, comma-separated.
        available: String,
    },

    /// The header has only the label column, so there is nothing to learn from.
    #[error("{}:1: no feature columns; the only column is the label '{label}'", path.display())]
    NoFeatureColumns {
        /// The file.
        path: PathBuf,
        /// The label column.
        label: String,
    },

    /// A column declared categorical is not in the header.
    #[error(
        "{}:1: categorical column '{column}' not found; available columns: {available}",
        path.display()
    )]
    CategoricalNotFound {
        /// The file.
        path: PathBuf,
        /// The declared name.
        column: String,
        /// The header's names, comma-separated.
        available: String,
    },

    /// The label column is declared categorical; labels are class names, never features.
    #[error(
        "{}:1: column '{column}' is the label; remove it from categorical (class names are \
         read as text already)",
        path.display()
    )]
    CategoricalLabel {
        /// The file.
        path: PathBuf,
        /// The label column's name.
        column: String,
    },

    /// A categorical column has more distinct levels than `f32` can index exactly.
    #[error(
        "{}: categorical column '{column}' has {count} distinct levels, more than {max}; is it \
         really categorical?",
        path.display()
    )]
    TooManyLevels {
        /// The file.
        path: PathBuf,
        /// The column's name.
        column: String,
        /// Its number of distinct levels.
        count: usize,
        /// The most allowed.
        max: usize,
    },

    /// A data row has a different number of fields from the header.
    #[error(
        "{}:{line}: expected {expected} fields (as in the header), found {found}",
        path.display()
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line of the file where the row starts.
        line: u64,
        /// Number of header fields.
        expected: usize,
        /// Number of fields in this row.
        found: usize,
    },

    /// A feature cell holds text that is neither a number nor a missing-value token.
    #[error(
        "{}:{line}: column '{column}': text '{text}' in a numeric feature column; if the \
         column holds categories, declare it categorical (categorical = [\"{column}\"])",
        path.display()
    )]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line of the file.
        line: u64,
        /// The column's name.
        column: String,
        /// The offending cell, trimmed.
        text: String,
    },

    /// A feature cell is infinite, or too large for `f32`; only finite values or missing-value
    /// tokens are allowed, so that a missing cell is never confused with an overflow.
    #[error(
        "{}:{line}: column '{column}': value '{text}' is infinite or beyond the f32 range; \
         write missing cells as empty, NA, NaN or ?",
        path.display()
    )]
    InfiniteValue {
        /// The file.
        path: PathBuf,
        /// 1-based line of the file.
        line: u64,
        /// The column's name.
        column: String,
        /// The offending cell, trimmed.
        text: String,
    },

    /// A row has no class label (empty or a missing-value token in the label column).
    #[error("{}:{line}: column '{column}': missing class label", path.display())]
    MissingLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line of the file.
        line: u64,
        /// The label column's name.
        column: String,
    },

    /// The file has a header but no data rows.
    #[error("{}: no data rows after the header", path.display())]
    NoDataRows {
        /// The file.
        path: PathBuf,
    },

    /// Every row has the same class, so there is nothing to classify.
    #[error(
        "{}: label column '{column}' has only one class ('{class}'); classification needs two",
        path.display()
    )]
    SingleClass {
        /// The file.
        path: PathBuf,
        /// The label column's name.
        column: String,
        /// The only class seen.
        class: String,
    },

    /// A split was asked for with a test fraction outside the open interval (0, 1).
    #[error("test_fraction must lie strictly between 0 and 1, got {value}")]
    InvalidTestFraction {
        /// The fraction given.
        value: f64,
    },

    /// A label is not below the number of classes given.
    #[error("label {label} at position {index} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// 0-based position of the label.
        index: usize,
        /// The label.
        label: u32,
        /// The number of classes given.
        n_classes: usize,
    },

    /// A [`crate::Dataset`] breaks one of its documented invariants.
    #[error("dataset '{name}' is invalid: {reason}")]
    InvalidDataset {
        /// The dataset's name.
        name: String,
        /// Which invariant fails, with the numbers.
        reason: String,
    },
}
