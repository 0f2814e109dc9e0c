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
        name: "madelon",
        file: "madelon.csv",
        label: "label",
        categorical: &[],
    },
    Bundled {
        name: "penguins",
        file: "penguins.csv",
        label: "species",
        categorical: &["island", "sex"],
    },
];

/// Madelon's 20 relevant features (5 informative and 15 linear combinations of them; the other
/// 480 are noise), as listed in `datasets/README.md`. For *measuring* feature selection only:
/// nothing may train on this list.
pub const MADELON_RELEVANT: [&str; 20] = [
    "f029", "f049", "f065", "f106", "f129", "f154", "f242", "f282", "f319", "f337", "f339", "f379",
    "f434", "f443", "f452", "f454", "f456", "f473", "f476", "f494",
];

/// The repository's `datasets/` folder.
pub fn bundled_dir() -> PathBuf {
    crate::repo::root().join("datasets")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn bundled(name: &str) -> Dataset {
        let cfg: DataConfig = toml::from_str(&format!("dataset = \"{name}\"")).unwrap();
        load(&cfg, Path::new(".")).unwrap()
    }

    /// Every column over the first `rows` rows, centred and scaled to unit norm: the dot
    /// product of two is their Pearson correlation.
    fn unit_columns(d: &Dataset, rows: usize) -> Vec<Vec<f64>> {
        let n = d.n_features();
        (0..n)
            .map(|j| {
                let x: Vec<f64> = (0..rows).map(|i| f64::from(d.values[i * n + j])).collect();
                let m = x.iter().sum::<f64>() / rows as f64;
                let norm = x.iter().map(|v| (v - m).powi(2)).sum::<f64>().sqrt();
                x.iter().map(|v| (v - m) / norm).collect()
            })
            .collect()
    }

    #[test]
    fn madelon_is_bundled_as_its_provenance_says() {
        let d = bundled("madelon");
        assert_eq!((d.n_rows(), d.n_features()), (2600, 500));
        assert_eq!(d.class_names, ["neg", "pos"]);
        assert_eq!(d.class_counts(), [1300, 1300]);
        assert!(d.observed.iter().all(|&o| o));
        // The relevant features are the ones correlated with another feature (|r| >= 0.69 on
        // the 2000 training rows), every noise feature at most 0.09, both to two decimals as
        // the README gives them (f339 reaches 0.686, f048 0.092): the list is the data's.
        let relevant: Vec<usize> = MADELON_RELEVANT
            .iter()
            .map(|f| d.feature_names.iter().position(|n| n == f).expect("listed"))
            .collect();
        let cols = unit_columns(&d, 2000);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        for j in 0..d.n_features() {
            let strongest = (0..d.n_features())
                .filter(|&k| k != j)
                .map(|k| dot(&cols[j], &cols[k]).abs())
                .fold(0.0, f64::max);
            if relevant.contains(&j) {
                assert!(strongest >= 0.685, "{}: {strongest}", d.feature_names[j]);
            } else {
                assert!(strongest < 0.095, "{}: {strongest}", d.feature_names[j]);
            }
        }
    }
}
