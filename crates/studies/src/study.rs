//! The extension point for studies, as `sparse_core::NamedMethod` is for methods.
//!
//! A study is a kind of experiment with its own analysis of a results folder: the tables it
//! writes from the runs' files, its figures, and its section of `results/README.md`. A config
//! turns a study's analyses on by naming their kinds in `report.figures`; drawing
//! ([`crate::plots::draw`]) and the README ([`crate::reproduce`]) loop over
//! [`crate::registry`], so a new study is one module and one registry line. The runner
//! (`experiments`) knows none of this: it reads `report.figures` as names and never draws.
//! Next (issue 24, step 4): a study's config section, grid variants and per-run files.

use anyhow::Result;
use experiments::paired::PairedRow;
use experiments::protocol::ProtocolStudy;
use experiments::recording::Recording;
use experiments::results::{EpochRow, RunRow};
use std::path::{Path, PathBuf};

/// What a study's analysis reads.
pub struct Analysis<'a> {
    /// The results folder: the study reads its per-run files here and writes its tables and
    /// (under `figures/`) its figures.
    pub dir: &'a Path,
    /// The runs that trained to the end (a diverged run is left out of every analysis, its
    /// per-run files with it, since they are joined through these rows).
    pub runs: &'a [RunRow],
    /// Every run's per-epoch rows.
    pub epochs: &'a [EpochRow],
    /// The paired differences against dense.
    pub paired: &'a [PairedRow],
}

/// A figure written by an analysis: its path without extension (PNG and SVG beside each
/// other) and its caption.
pub type Figure = (PathBuf, String);

/// One analysis a config can ask for: its name in `report.figures` and what it produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The name a config writes in `report.figures` (kebab-case).
    pub name: &'static str,
    /// What it writes and draws, and what it needs, for error messages and the docs.
    pub about: &'static str,
}

/// A kind of experiment with its own analysis.
///
/// A study that counts the runs of each method that trained to the end, with its table for
/// results/README.md (this example is the README's "Adding a study", run as a doc test):
///
/// ```
/// //! Runs per method: how many runs of each method trained to the end.
/// use anyhow::Result;
/// use experiments::results::{read_rows, write_all_rows};
/// use serde::{Deserialize, Serialize};
/// use std::path::Path;
/// use studies::{Analysis, Figure, Kind, Study};
///
/// /// One row of `runs_per_method.csv`.
/// #[derive(Serialize, Deserialize)]
/// struct Count {
///     method: String,
///     runs: usize,
/// }
///
/// pub struct RunsPerMethod;
///
/// impl Study for RunsPerMethod {
///     fn kinds(&self) -> &'static [Kind] {
///         &[Kind {
///             name: "runs-per-method",
///             about: "runs_per_method.csv: the runs of each method that trained to the end",
///         }]
///     }
///
///     fn analyse(&self, _kind: &str, a: &Analysis) -> Result<Vec<Figure>> {
///         let mut counts: Vec<Count> = Vec::new();
///         for run in a.runs {
///             match counts.iter_mut().find(|c| c.method == run.method) {
///                 Some(c) => c.runs += 1,
///                 None => counts.push(Count { method: run.method.clone(), runs: 1 }),
///             }
///         }
///         write_all_rows(&a.dir.join("runs_per_method.csv"), &counts)?;
///         Ok(Vec::new()) // no figure
///     }
///
///     fn readme(&self, dir: &Path) -> Result<Option<String>> {
///         let path = dir.join("runs_per_method.csv");
///         if !path.exists() {
///             return Ok(None);
///         }
///         let counts: Vec<Count> = read_rows(&path)?;
///         let mut table = String::from("| method | runs |\n|---|---|\n");
///         for c in counts {
///             table += &format!("| {} | {} |\n", c.method, c.runs);
///         }
///         Ok(Some(table))
///     }
/// }
/// # let dir = tempfile::tempdir()?;
/// # let runs: Vec<_> = [("set", 1), ("set", 2), ("dense", 1)]
/// #     .map(|(m, seed)| experiments::results::sample_row(m, seed, 0.9))
/// #     .to_vec();
/// # let a = Analysis { dir: dir.path(), runs: &runs, epochs: &[], paired: &[] };
/// # assert!(RunsPerMethod.readme(dir.path())?.is_none());
/// # RunsPerMethod.analyse("runs-per-method", &a)?;
/// # let table = RunsPerMethod.readme(dir.path())?.unwrap();
/// # assert!(table.contains("| set | 2 |") && table.contains("| dense | 1 |"), "{table}");
/// # Ok::<(), anyhow::Error>(())
/// ```
pub trait Study: Sync {
    /// The `report.figures` entries that turn the study's analyses on (Part I's plain-training
    /// study has several figures a config picks from; a Part II study has one entry).
    fn kinds(&self) -> &'static [Kind];

    /// Writes the tables of the study's analysis `kind` (one of [`Study::kinds`]' names) into
    /// the results folder and draws its figures (nothing when the folder lacks the study's
    /// per-run files).
    fn analyse(&self, kind: &str, analysis: &Analysis) -> Result<Vec<Figure>>;

    /// The study's tables for `results/README.md`, read from the files [`Study::analyse`]
    /// wrote into `dir` (`None` when there are none).
    fn readme(&self, dir: &Path) -> Result<Option<String>>;

    /// The study's own protocol, when its runs do more than train plainly: the config section
    /// it owns, its grid variants and how each runs ([`crate::install`] hands it to the
    /// runner). `None` for a study that only analyses (the default).
    fn protocol(&self) -> Option<&'static dyn ProtocolStudy> {
        None
    }

    /// What the study measures while a run trains, beyond what every run writes (its
    /// `[tracking]` option, the file its rows go to; [`crate::install`] hands it to the
    /// runner). `None` for a study that reads only the runs' common files (the default).
    fn recording(&self) -> Option<&'static dyn Recording> {
        None
    }
}
