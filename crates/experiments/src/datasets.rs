//! Where a config's `data.dataset` points: a bundled dataset by name, or a CSV by path.

use crate::config::DataConfig;
use anyhow::{Context, Result};
use data::{load_csv, CsvOptions, Dataset};
use std::path::{Path, PathBuf};

/// The bundled datasets: name, file under `datasets/`, label column.
pub const BUNDLED: &[(&str, &str, &str)] = &[
    ("wdbc", "wdbc.csv", "diagnosis"),
    ("digits", "digits.csv", "digit"),
    ("penguins", "penguins.csv", "species"),
];

/// The repository's `datasets/` folder.
pub fn bundled_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Loads the dataset a config names; relative paths are resolved from `config_dir`.
pub fn load(cfg: &DataConfig, config_dir: &Path) -> Result<Dataset> {
    let (path, default_label, name) = match BUNDLED.iter().find(|b| b.0 == cfg.dataset) {
        Some(&(name, file, label)) => (bundled_dir().join(file), Some(label), name.to_string()),
        None => {
            let p = Path::new(&cfg.dataset);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                config_dir.join(p)
            };
            if !p.exists() {
                let names: Vec<&str> = BUNDLED.iter().map(|b| b.0).collect();
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
    };
    load_csv(&path, &opts).with_context(|| format!("loading dataset `{}`", cfg.dataset))
}
