//! Reading and writing rows durably: appends flushed and fsynced, whole files replaced
//! atomically (written beside, synced, renamed), a torn last line dropped on resume.

use super::RunKeyed;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::Path;

pub(super) fn remove_if_present(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Drops the rows of unfinished runs and a torn last line from `path`, rewriting it
/// atomically only when something must go.
pub(super) fn prune<T: RunKeyed>(path: &Path, done: &HashSet<String>) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path)?;
    let torn = !text.ends_with('\n');
    let rows: Vec<T> = read_rows(path)?;
    let had = rows.len();
    let kept: Vec<T> = rows
        .into_iter()
        .filter(|r| done.contains(r.run_id()))
        .collect();
    if torn || kept.len() != had || !current_header(&text, &kept)? {
        write_all_rows(path, &kept)?;
    }
    Ok(())
}

/// Whether `text` (a results file) starts with the header `rows` are written with now, so that
/// appending to it keeps one format; a file from before a column was added is rewritten.
pub(super) fn current_header<T: Serialize>(text: &str, rows: &[T]) -> Result<bool> {
    let Some(first) = rows.first() else {
        return Ok(true);
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(first)?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let written = String::from_utf8(bytes)?;
    Ok(text.lines().next() == written.lines().next())
}

/// Reads the rows of a results CSV, dropping a torn (unterminated) last line.
pub fn read_rows<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if !text.ends_with('\n') {
        let cut = text.rfind('\n').map(|p| p + 1).unwrap_or(0);
        text.truncate(cut);
    }
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, rec) in rdr.deserialize().enumerate() {
        let row: T = rec.with_context(|| {
            format!(
                "{}: line {}: not a row of this results format (rerun with --fresh to start over)",
                path.display(),
                i + 2
            )
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes `rows` (with a header) to `path` atomically: a temporary file, synced, then renamed
/// over `path`, so a reader or an interrupted process never sees half a file.
pub fn write_all_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    write_atomically(path, |w| {
        for r in rows {
            w.serialize(r)?;
        }
        Ok(())
    })
}

/// Writes a CSV file through `fill` into a temporary file, synced, then renamed over `path`.
pub(super) fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut csv::Writer<File>) -> Result<()>,
) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    {
        let mut w =
            csv::Writer::from_path(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        fill(&mut w)?;
        w.flush()?;
        w.into_inner()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

pub(super) fn append_rows<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    append_durably(path, true, |w, _| {
        for r in rows {
            w.serialize(r)?;
        }
        Ok(())
    })
}

/// Appends to the CSV file `path` through `fill` (told whether the file is new) and syncs it;
/// with `typed_header`, the writer itself adds the header of a new file from the first row.
pub(super) fn append_durably(
    path: &Path,
    typed_header: bool,
    fill: impl FnOnce(&mut csv::Writer<File>, bool) -> Result<()>,
) -> Result<()> {
    let new = !path.exists() || std::fs::metadata(path)?.len() == 0;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut w = csv::WriterBuilder::new()
        .has_headers(new && typed_header)
        .from_writer(file);
    fill(&mut w, new)?;
    w.flush()?;
    let file: File = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    file.sync_all()?;
    Ok(())
}
