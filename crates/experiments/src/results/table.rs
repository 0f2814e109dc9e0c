//! The files of studies, held as CSV records under their header ([`StudyRows`], [`StudyTable`]):
//! the store appends, prunes and merges them by their `run_id` column without knowing their
//! row type, and writes the text a typed writer would.

use super::io::{append_durably, write_atomically};
use super::RunKeyed;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Mutex;

/// A study's file read as CSV records (see [`StudyRows`]).
#[derive(Debug, Clone)]
pub struct StudyTable {
    pub(super) header: csv::StringRecord,
    pub(super) records: Vec<csv::StringRecord>,
    /// Whether the file ended in a torn (unterminated) line, dropped on reading.
    pub(super) torn: bool,
}

impl StudyTable {
    /// Reads `path`, dropping a torn last line; `None` when there is no file or no header.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let mut text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        if torn {
            text.truncate(text.rfind('\n').map_or(0, |p| p + 1));
        }
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let header = rdr.headers()?.clone();
        if header.is_empty() {
            return Ok(None);
        }
        let records = rdr
            .records()
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(StudyTable {
            header,
            records,
            torn,
        }))
    }

    /// The records whose `run_id` column passes `keep`, in file order.
    pub fn of_runs(&self, keep: impl Fn(&str) -> bool) -> Result<Self> {
        let id = self
            .header
            .iter()
            .position(|h| h == "run_id")
            .context("a per-run file without a run_id column")?;
        Ok(StudyTable {
            header: self.header.clone(),
            records: self
                .records
                .iter()
                .filter(|r| r.get(id).is_some_and(&keep))
                .cloned()
                .collect(),
            torn: false,
        })
    }

    /// Rows of one file gathered from several tables (the shards of a grid), stably sorted
    /// by run, under the header of `header` (columns matched by name; one a table lacks is
    /// empty).
    pub fn merged(header: &csv::StringRecord, tables: &[StudyTable]) -> Result<Self> {
        let mut records: Vec<csv::StringRecord> = Vec::new();
        for t in tables {
            records.extend(t.under(header));
        }
        let id = header
            .iter()
            .position(|h| h == "run_id")
            .context("a per-run file without a run_id column")?;
        records.sort_by(|a, b| a.get(id).cmp(&b.get(id)));
        Ok(StudyTable {
            header: header.clone(),
            records,
            torn: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records rearranged under `header`, columns matched by name.
    fn under(&self, header: &csv::StringRecord) -> Vec<csv::StringRecord> {
        if &self.header == header {
            return self.records.clone();
        }
        let from: Vec<Option<usize>> = header
            .iter()
            .map(|h| self.header.iter().position(|o| o == h))
            .collect();
        self.records
            .iter()
            .map(|r| {
                from.iter()
                    .map(|i| i.and_then(|i| r.get(i)).unwrap_or(""))
                    .collect()
            })
            .collect()
    }

    /// Writes the table atomically (see [`write_all_rows`](super::write_all_rows)).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomically(path, |w| {
            w.write_record(&self.header)?;
            for r in &self.records {
                w.write_record(r)?;
            }
            Ok(())
        })
    }

    /// Appends `rows` to `path` durably; a file written under another header (an older
    /// version of the row type) is first rewritten under the new one, columns matched by name.
    pub(super) fn append(path: &Path, rows: &StudyRows) -> Result<()> {
        if let Some(old) = StudyTable::read(path)? {
            if old.header != rows.header || old.torn {
                let mut all = StudyTable {
                    records: old.under(&rows.header),
                    header: rows.header.clone(),
                    torn: false,
                };
                all.records.extend(rows.records.iter().cloned());
                return all.write(path);
            }
        }
        append_durably(path, false, |w, new| {
            if new {
                w.write_record(&rows.header)?;
            }
            for r in &rows.records {
                w.write_record(r)?;
            }
            Ok(())
        })
    }
}

/// Rows of a per-run file a study adds (a [`crate::recording::Recording`]'s or a protocol's),
/// held as CSV records under their header: the runner appends, prunes and merges them by
/// their `run_id` column without knowing their type, and writes the text a typed writer would.
#[derive(Debug, Clone)]
pub struct StudyRows {
    /// The file, beside `runs.csv`.
    pub file: &'static str,
    pub(super) header: csv::StringRecord,
    pub(super) records: Vec<csv::StringRecord>,
}

impl StudyRows {
    /// The rows as the csv crate writes them (a header from the row type's field names).
    pub fn of<T: RunKeyed>(file: &'static str, rows: &[T]) -> Result<Self> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in rows {
            w.serialize(r)?;
        }
        let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut rdr = csv::Reader::from_reader(bytes.as_slice());
        let header = rdr.headers()?.clone();
        let records = rdr.records().collect::<Result<_, _>>()?;
        Ok(StudyRows {
            file,
            header,
            records,
        })
    }
}

/// The per-run files of the installed studies, in the order they were registered.
static STUDY_FILES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Adds studies' per-run files to the ones every results folder may hold (the installs of
/// [`crate::protocol`] and [`crate::recording`] call it), so the store deletes, prunes and
/// merges them with the others; a file registered twice is kept once.
pub fn register_study_files(files: impl IntoIterator<Item = &'static str>) {
    let mut known = STUDY_FILES.lock().unwrap_or_else(|e| e.into_inner());
    for file in files {
        if !known.contains(&file) {
            known.push(file);
        }
    }
}

/// The registered per-run files of studies.
pub fn study_files() -> Vec<&'static str> {
    STUDY_FILES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}
