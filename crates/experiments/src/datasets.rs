//! Where a config's `data.dataset` points: a bundled dataset by name, or a CSV by path.

use crate::config::DataConfig;
use anyhow::{Context, Result};
use data::{load_csv, CsvOptions, Dataset};
use std::path::{Path, PathBuf};

/// A dataset shipped in `datasets/`, addressable by name.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    /// Name used in configs.
    pub name: &'static str,
    /// File under `datasets/`.
    pub file: &'static str,
    /// Label column.
    pub label: &'static str,
    /// Columns to read as categorical.
    pub categorical: &'static [&'static str],
}

/// The bundled datasets (provenance in `datasets/README.md`).
pub const BUNDLED: &[Bundled] = &[
    Bundled {
        name: "wdbc",
        file: "wdbc.csv",
        label: "diagnosis",
        categorical: &[],
    },
    Bundled {
        name: "digits",
        file: "digits.csv",
        label: "digit",
        categorical: &[],
    },
    Bundled {
        name: "penguins",
        file: "penguins.csv",
        label: "species",
        categorical: &["island", "sex"],
    },
];

/// The repository's `datasets/` folder.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Loads the dataset a config names; relative paths are resolved from `config_dir`.
pub fn load(cfg: &DataConfig, config_dir: &Path) -> Result<Dataset> {
    let bundled = BUNDLED.iter().find(|b| b.name == cfg.dataset);
    let (path, default_label, name) = match bundled {
        Some(b) => (
            bundled_dir().join(b.file),
            Some(b.label),
            b.name.to_string(),
        ),
        None => {
            let p = Path::new(&cfg.dataset);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                config_dir.join(p)
            };
            if !p.exists() {
                let names: Vec<&str> = BUNDLED.iter().map(|b| b.name).collect();
                anyhow::bail!(
                    "data.dataset: `{}` is neither a bundled dataset ({}) nor an existing file ({})",
                    cfg.dataset,
                    names.join(", "),
                    p.display()
                );
            }
            let stem = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| cfg.dataset.clone());
            (p, None, stem)
        }
    };
    let opts = CsvOptions {
        label: cfg.label.clone().or(default_label.map(String::from)),
        name: Some(name),
        categorical: cfg.categorical.clone().unwrap_or_else(|| {
            bundled
                .map(|b| b.categorical.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default()
        }),
    };
    load_csv(&path, &opts).with_context(|| format!("loading dataset `{}`", cfg.dataset))
}
