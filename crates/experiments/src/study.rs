//! The extension point for studies, as [`sparse_core::NamedMethod`] is for methods.
//!
//! A study is a kind of experiment with its own analysis of a results folder: the tables it
//! writes from the runs' files, its figures, and its section of `results/README.md`. A config
//! turns a study's analyses on by naming their kinds in `report.figures`. The studies, their
//! registry, the drawing and the README live in the `studies` crate, which depends on this one:
//! the runner never draws, so it builds without plotters. Next (issue 24, step 4): a study's
//! config section, grid variants and per-run files behind this trait too.

use crate::config::FigureKind;
use crate::paired::PairedRow;
use crate::results::{EpochRow, RunRow};
use anyhow::Result;
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

/// A kind of experiment with its own analysis.
pub trait Study: Sync {
    /// The `report.figures` entries that turn the study's analyses on (Part I's plain-training
    /// study has several figures a config picks from; a Part II study has one entry).
    fn kinds(&self) -> &'static [FigureKind];

    /// Writes the tables of the study's analysis `kind` into the results folder and draws its
    /// figures (nothing when the folder lacks the study's per-run files).
    fn analyse(&self, kind: FigureKind, analysis: &Analysis) -> Result<Vec<Figure>>;

    /// The study's tables for `results/README.md`, read from the files [`Study::analyse`]
    /// wrote into `dir` (`None` when there are none).
    fn readme(&self, dir: &Path) -> Result<Option<String>>;
}
