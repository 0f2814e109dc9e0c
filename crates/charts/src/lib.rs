//! Generic plotting primitives for the study's figures: line panels with shaded bands, a
//! diverging heat map and a grouped scatter plot. Each function writes the same drawing twice,
//! as `<path>.png` and `<path>.svg`, through one routine generic over plotters'
//! `DrawingBackend`, so the two files cannot drift apart. The font (DejaVu Sans) is vendored and
//! registered once, so rendering does not depend on the fonts of the machine. Assembling the
//! study's numbers into [`Panel`]s and grids is done elsewhere (the `experiments` crate's
//! `plots`); this crate knows no experiment, and it is the only one that depends on plotters.
//!
//! One module per kind of figure (`lines`, `heatmap`, `scatter`) over the shared parts:
//! `legend`, `axes` (ranges, ticks, clipping to the plotted range) and `style` (the font,
//! sizes, palette, text, and writing a figure as PNG and SVG).

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};
use serde::{Deserialize, Serialize};

mod axes;
mod heatmap;
mod legend;
mod lines;
mod scatter;
mod style;

use axes::*;
use heatmap::*;
use legend::*;
use lines::*;
use scatter::*;
use style::*;

/// One line of a panel: points `(x, mean, lower, upper)`; the band between `lower` and `upper` is
/// shaded (alpha 0.15) when `band` is true. Points with a non-finite `x` or `mean` (or `x <= 0`
/// on a log axis) are skipped; band vertices with a non-finite bound are skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Legend text; series of different panels with the same label share one legend entry.
    pub label: String,
    /// Index into a fixed colour-blind-safe palette (taken modulo its length); `usize::MAX` is
    /// black (-1 in the data file, whose integers are signed).
    #[serde(with = "palette_index")]
    pub color: usize,
    /// Dashed instead of solid (e.g. baselines), so lines differ beyond colour.
    pub dashed: bool,
    /// Shade the band between `lower` and `upper` (e.g. a confidence interval).
    pub band: bool,
    /// `(x, mean, lower, upper)`, drawn in the given order.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// `usize::MAX` (black) as -1, for data files whose integers are `i64`.
mod palette_index {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &usize, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(if *v == usize::MAX { -1 } else { *v as i64 })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
        let v = i64::deserialize(d)?;
        Ok(usize::try_from(v).unwrap_or(usize::MAX))
    }
}

/// One plotting area of [`line_panels`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Shown above the panel.
    pub title: String,
    /// Below the x axis.
    pub x_label: String,
    /// Beside the y axis.
    pub y_label: String,
    /// The lines, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Log-scale x axis (e.g. for density).
    pub x_log: bool,
    /// Fixed y range; `None` fits the data with a 5% margin. Data outside it is clipped.
    pub y_range: Option<(f64, f64)>,
}

/// Everything one figure shows, as drawn: written beside the images as `<path>.toml` (the
/// figure's compact data file, committed with the results), so that a figure can be redrawn
/// byte for byte from committed files alone ([`redraw`]), without the per-run files it was
/// computed from. TOML keeps every float exactly (shortest round-trip form) and writes NaN
/// as `nan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureData {
    /// [`line_panels`].
    LinePanels {
        /// The figure's title.
        title: String,
        /// Panels per row.
        columns: usize,
        /// The panels, row by row.
        panels: Vec<Panel>,
    },
    /// [`heatmap`].
    Heatmap {
        /// The figure's title.
        title: String,
        /// Below the columns.
        x_label: String,
        /// Beside the rows.
        y_label: String,
        /// One label per column.
        x_ticks: Vec<String>,
        /// One label per row, top first.
        y_ticks: Vec<String>,
        /// Row by row, one value per column (NaN: an empty cell).
        values: Vec<Vec<f64>>,
    },
    /// [`scatter`].
    Scatter {
        /// The figure's title.
        title: String,
        /// Below the x axis.
        x_label: String,
        /// Beside the y axis.
        y_label: String,
        /// Labelled point sets, one colour each.
        groups: Vec<(String, Vec<(f64, f64)>)>,
    },
}

impl FigureData {
    /// Draws the figure: `<path>.png` and `<path>.svg`, and its data as `<path>.toml`.
    /// A heat map's shape is checked here, so that data read back from a file is too.
    pub fn draw(&self, path: &Path) -> Result<()> {
        let data = toml::to_string(self)
            .with_context(|| format!("serialising the data of {}", path.display()))?;
        ensure_font()?;
        match self {
            FigureData::LinePanels {
                title,
                columns,
                panels,
            } => write_both(path, &LinePanels::new(title, panels, *columns))?,
            FigureData::Heatmap {
                title,
                x_label,
                y_label,
                x_ticks,
                y_ticks,
                values,
            } => {
                check_heatmap_shape(title, x_ticks, y_ticks, values)?;
                write_both(
                    path,
                    &HeatMap::new(title, x_label, y_label, x_ticks, y_ticks, values),
                )?
            }
            FigureData::Scatter {
                title,
                x_label,
                y_label,
                groups,
            } => write_both(path, &Scatter::new(title, x_label, y_label, groups))?,
        }
        // After the images, which created the folder.
        let toml_path = with_suffix(path, "toml");
        std::fs::write(&toml_path, data).with_context(|| format!("writing {}", toml_path.display()))
    }
}

/// One row of values per y tick and one value per x tick in every row.
fn check_heatmap_shape(
    title: &str,
    x_ticks: &[String],
    y_ticks: &[String],
    values: &[Vec<f64>],
) -> Result<()> {
    if values.len() != y_ticks.len() {
        bail!(
            "heatmap {title:?}: {} rows of values but {} y tick labels",
            values.len(),
            y_ticks.len()
        );
    }
    if let Some((r, row)) = values
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != x_ticks.len())
    {
        bail!(
            "heatmap {title:?}: row {r} has {} values but there are {} x tick labels",
            row.len(),
            x_ticks.len()
        );
    }
    Ok(())
}

/// Redraws the figure at `path` (no extension) from its data file `<path>.toml`.
pub fn redraw(path: &Path) -> Result<()> {
    let toml_path = with_suffix(path, "toml");
    let text = std::fs::read_to_string(&toml_path)
        .with_context(|| format!("reading {}", toml_path.display()))?;
    let data: FigureData =
        toml::from_str(&text).with_context(|| format!("{}", toml_path.display()))?;
    data.draw(path)
}

/// Draws `panels` side by side in a grid of `columns` columns (600 px wide each), one overall
/// title on top and one shared legend (each distinct label once) below the grid, outside the
/// plotting areas so it never covers data. Writes `<path>.png`, `<path>.svg` and the data,
/// `<path>.toml`.
pub fn line_panels(path: &Path, title: &str, panels: &[Panel], columns: usize) -> Result<()> {
    FigureData::LinePanels {
        title: title.to_string(),
        columns,
        panels: panels.to_vec(),
    }
    .draw(path)
}

/// Draws a heat map of `values[row][col]` (NaN = no data, drawn grey) on a diverging colour
/// scale centred at 0 (blue negative, red positive) with a colour bar, each cell annotated with
/// [`fmt_value`], rows labelled by `y_ticks` and columns by `x_ticks`. Writes `<path>.png`,
/// `<path>.svg` and the data, `<path>.toml`; an error when the shapes disagree.
pub fn heatmap(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_ticks: &[String],
    y_ticks: &[String],
    values: &[Vec<f64>],
) -> Result<()> {
    FigureData::Heatmap {
        title: title.to_string(),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        x_ticks: x_ticks.to_vec(),
        y_ticks: y_ticks.to_vec(),
        values: values.to_vec(),
    }
    .draw(path)
}

/// Draws a scatter plot of points coloured by group (palette order), with a legend below the
/// plotting area; for dataset cartography (confidence vs variability). Writes `<path>.png`,
/// `<path>.svg` and the data, `<path>.toml`.
pub fn scatter(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    FigureData::Scatter {
        title: title.to_string(),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        groups: groups.to_vec(),
    }
    .draw(path)
}

/// Formats a heat-map value with an explicit sign and about three significant digits
/// (`+0.012`, `-1.25`, `+12.3`); NaN is `n/a`.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if v.is_nan() {
        "n/a".to_string()
    } else if v == 0.0 {
        "0".to_string()
    } else if !v.is_finite() || !(1e-3..1e4).contains(&a) {
        format!("{v:+.1e}")
    } else if a >= 100.0 {
        format!("{v:+.0}")
    } else if a >= 10.0 {
        format!("{v:+.1}")
    } else if a >= 1.0 {
        format!("{v:+.2}")
    } else {
        format!("{v:+.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory per test (tests run in parallel), removed by the test when it passes.
    fn out_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("figures-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// Checks both files exist, are non-trivial, the PNG has the expected size and the SVG
    /// contains every string of `texts`.
    fn check_outputs(path: &Path, size: (u32, u32), texts: &[&str]) {
        let png = std::fs::read(with_suffix(path, "png")).expect("png written");
        assert!(png.len() > 5_000, "png only {} bytes", png.len());
        assert_eq!(&png[1..4], b"PNG");
        let w = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
        let h = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
        assert_eq!((w, h), size);
        let svg = std::fs::read_to_string(with_suffix(path, "svg")).expect("svg written");
        assert!(svg.len() > 400, "svg only {} bytes", svg.len());
        assert!(svg.contains(&format!("width=\"{}\"", size.0)));
        for t in texts {
            assert!(svg.contains(t), "svg lacks {t:?}");
        }
    }

    fn series(label: &str, color: usize, dashed: bool, n: usize) -> Series {
        Series {
            label: label.into(),
            color,
            dashed,
            band: true,
            points: (0..n)
                .map(|i| {
                    let x = 0.01 * 2f64.powi(i as i32);
                    let m = 0.5 + 0.3 * (i as f64 * 0.7).sin() + 0.05 * (color % 8) as f64;
                    (x, m, m - 0.08, m + 0.06)
                })
                .collect(),
        }
    }

    fn panel(title: &str, series: Vec<Series>, x_log: bool) -> Panel {
        Panel {
            title: title.into(),
            x_label: "density".into(),
            y_label: "accuracy".into(),
            series,
            x_log,
            y_range: None,
        }
    }

    fn sample_panels() -> Vec<Panel> {
        let a = vec![
            series("SET", 0, false, 7),
            series("RigL", 1, true, 7),
            series("dense", usize::MAX, true, 7),
        ];
        let b = vec![series("SET", 0, false, 7), series("RigL", 1, true, 7)];
        let mut clipped = panel("fixed y range", b, false);
        clipped.y_range = Some((0.4, 0.8));
        vec![panel("MCAR 30%", a, true), clipped]
    }

    #[test]
    fn figures_line_panels_writes_png_and_svg() {
        let dir = out_dir("line-panels");
        // A dot in the name must survive: the extension is appended, not substituted.
        let path = dir.join("accuracy-mcar-0.3");
        let panels = sample_panels();
        line_panels(&path, "Accuracy vs density", &panels, 2).expect("drawn");
        let layout = LinePanels::new("", &panels, 2);
        let size = layout.size();
        assert_eq!(size.0, 1200);
        assert_eq!(size.1, TITLE_H + PANEL_H + layout.legend.height());
        check_outputs(
            &path,
            size,
            &["Accuracy vs density", "MCAR 30%", "SET", "RigL", "dense"],
        );
        // Each distinct label once in the legend, in order of first appearance.
        let labels: Vec<_> = layout
            .legend
            .entries
            .iter()
            .map(|e| e.label.as_str())
            .collect();
        assert_eq!(labels, ["SET", "RigL", "dense"]);
        std::fs::remove_dir_all(dir).expect("temporary directory removable");
    }

    #[test]
    fn figures_line_panels_survive_empty_and_single_points() {
        let dir = out_dir("line-panels-edge");
        let path = dir.join("edge");
        let mut single = panel("single", vec![series("one", 2, false, 1)], true);
        single.series.push(Series {
            label: "nan".into(),
            color: 3,
            dashed: true,
            band: true,
            points: vec![(f64::NAN, 1.0, 0.0, 2.0), (1.0, f64::INFINITY, 0.0, 1.0)],
        });
        let panels = vec![
            panel("empty", vec![], false),
            panel("empty series", vec![series("none", 0, false, 0)], true),
            single,
        ];
        line_panels(&path, "Edge cases", &panels, 2).expect("drawn");
        let size = LinePanels::new("", &panels, 2).size();
        assert_eq!(
            size,
            (1200, TITLE_H + 2 * PANEL_H + LEGEND_LINE_H + 2 * LEGEND_PAD)
        );
        check_outputs(
            &path,
            size,
            &["Edge cases", "one", "none", "nan", "no data"],
        );
        let path = dir.join("nothing");
        line_panels(&path, "Nothing", &[], 3).expect("drawn");
        check_outputs(&path, (PANEL_W, TITLE_H + PANEL_H), &["Nothing", "no data"]);
        std::fs::remove_dir_all(dir).expect("temporary directory removable");
    }

    #[test]
    fn figures_heatmap_writes_png_and_svg() {
        let dir = out_dir("heatmap");
        let path = dir.join("heatmap");
        let xs: Vec<String> = ["MCAR", "MAR", "MNAR"].map(String::from).to_vec();
        let ys: Vec<String> = ["SET", "RigL"].map(String::from).to_vec();
        let values = vec![vec![0.012, -0.03, f64::NAN], vec![0.0, 0.05, -0.001]];
        heatmap(
            &path,
            "Gap to dense",
            "mechanism",
            "method",
            &xs,
            &ys,
            &values,
        )
        .expect("drawn");
        let map = HeatMap::new("", "", "", &xs, &ys, &values);
        check_outputs(
            &path,
            map.size(),
            &[
                "Gap to dense",
                "mechanism",
                "MNAR",
                "RigL",
                "+0.012",
                "-0.030",
                "n/a",
            ],
        );
        assert!((map.scale - 0.05).abs() < 1e-12);
        let ragged = vec![vec![1.0], vec![1.0, 2.0]];
        assert!(heatmap(&path, "t", "x", "y", &xs[..1], &ys, &ragged).is_err());
        let path = dir.join("empty");
        heatmap(&path, "Empty", "x", "y", &[], &[], &[]).expect("drawn");
        let size = HeatMap::new("", "", "", &[], &[], &[]).size();
        check_outputs(&path, size, &["Empty", "no data"]);
        std::fs::remove_dir_all(dir).expect("temporary directory removable");
    }

    #[test]
    fn figures_scatter_writes_png_and_svg() {
        let dir = out_dir("scatter");
        let path = dir.join("scatter");
        let groups = vec![
            (
                "easy".to_string(),
                (0..50)
                    .map(|i| (0.05 + i as f64 * 0.002, 0.8 + (i % 7) as f64 * 0.02))
                    .collect(),
            ),
            ("hard".to_string(), vec![(0.3, 0.2), (0.25, 0.1)]),
            ("single".to_string(), vec![(0.1, f64::NAN)]),
        ];
        scatter(&path, "Cartography", "variability", "confidence", &groups).expect("drawn");
        check_outputs(
            &path,
            Scatter::new("", "", "", &groups).size(),
            &["Cartography", "variability", "easy", "hard", "single"],
        );
        let one = vec![("one".to_string(), vec![(1.0, 1.0)])];
        let path = dir.join("one");
        scatter(&path, "One", "x", "y", &one).expect("drawn");
        check_outputs(
            &path,
            Scatter::new("", "", "", &one).size(),
            &["One", "one"],
        );
        let path = dir.join("none");
        scatter(&path, "None", "x", "y", &[]).expect("drawn");
        check_outputs(
            &path,
            (SCATTER_W, TITLE_H + SCATTER_H),
            &["None", "no data"],
        );
        std::fs::remove_dir_all(dir).expect("temporary directory removable");
    }

    #[test]
    fn figures_ranges_ticks_and_clipping() {
        let r = padded(0.0, 10.0, false);
        assert!((r.start + 0.5).abs() < 1e-12 && (r.end - 10.5).abs() < 1e-12);
        let r = padded(2.0, 2.0, false);
        assert!(r.start < 2.0 && r.end > 2.0);
        let r = padded(0.01, 1.0, true);
        assert!(r.start < 0.01 && r.start > 0.0 && r.end > 1.0);
        assert_eq!(log_ticks(0.009, 1.1), vec![0.01, 0.1, 1.0]);
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(fmt_tick(0.6000000000000001), "0.6");
        assert_eq!(fmt_tick(0.00025), "2.5e-4");
        assert_eq!(fmt_tick(1500.0), "1500");
        assert_eq!(fmt_value(0.012), "+0.012");
        assert_eq!(fmt_value(-1.234), "-1.23");
        // A segment leaving the strip at y = 1 is cut at x = 0.5.
        let runs = clip_polyline(&[(0.0, 0.0), (1.0, 2.0), (2.0, 0.0)], -1.0, 1.0);
        assert_eq!(
            runs,
            vec![vec![(0.0, 0.0), (0.5, 1.0)], vec![(1.5, 1.0), (2.0, 0.0)]]
        );
        // A square of side 2 clipped to a strip of height 1 keeps half its vertices' span.
        let clipped = clip_polygon(&[(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)], 0.5, 1.5);
        let ys: Vec<f64> = clipped.iter().map(|p| p.1).collect();
        assert!(ys.iter().all(|y| (0.5..=1.5).contains(y)) && clipped.len() == 4);
        assert_eq!(diverging(0.0), RGBColor(247, 247, 247));
        assert_eq!(diverging(-1.0), DIVERGING[0].1);
        assert_eq!(diverging(2.0), DIVERGING[4].1);
    }

    /// Renders one sample of each figure to /tmp/figures-sample/ for looking at by eye.
    #[test]
    #[ignore]
    fn render_samples() {
        let dir = PathBuf::from("/tmp/figures-sample");
        let mut panels = sample_panels();
        panels.push(panel(
            "single point",
            vec![series("SET", 0, false, 1)],
            false,
        ));
        panels.push(panel("empty", vec![], false));
        line_panels(&dir.join("line_panels"), "Accuracy vs density", &panels, 2).expect("drawn");
        // Long traces (no markers), many labels (the legend wraps), an empty grid cell.
        let names = [
            "dense", "static", "SET", "RigL", "MEST", "SNFS", "GraNet", "DSR", "Top-KAST",
        ];
        let traces: Vec<Panel> = ["MCAR", "MAR", "MNAR"]
            .iter()
            .enumerate()
            .map(|(p, mech)| {
                let series = names
                    .iter()
                    .enumerate()
                    .map(|(k, name)| Series {
                        label: name.to_string(),
                        color: if k == 0 { usize::MAX } else { k - 1 },
                        dashed: k % 2 == 1,
                        band: k < 3,
                        points: (0..100)
                            .map(|e| {
                                let t = e as f64;
                                let m = 0.9
                                    - 0.5 * (-t / (10.0 + 3.0 * k as f64)).exp()
                                    - 0.02 * p as f64;
                                (t, m, m - 0.03, m + 0.03)
                            })
                            .collect(),
                    })
                    .collect();
                let mut panel = panel(mech, series, false);
                panel.x_label = "epoch".into();
                panel.y_label = "test accuracy".into();
                panel
            })
            .collect();
        line_panels(&dir.join("traces"), "Training curves", &traces, 2).expect("drawn");
        let xs: Vec<String> = ["0%", "10%", "30%", "50%", "70%"]
            .map(String::from)
            .to_vec();
        let ys: Vec<String> = ["SET", "RigL", "SNIP (static)", "dense"]
            .map(String::from)
            .to_vec();
        let values: Vec<Vec<f64>> = (0..4)
            .map(|r| {
                (0..5)
                    .map(|c| {
                        if r == 3 && c == 4 {
                            f64::NAN
                        } else {
                            (r as f64 - 1.5) * 0.01 * c as f64
                        }
                    })
                    .collect()
            })
            .collect();
        heatmap(
            &dir.join("heatmap"),
            "Accuracy gap to dense",
            "missing rate",
            "method",
            &xs,
            &ys,
            &values,
        )
        .expect("drawn");
        let long: Vec<String> = (0..12).map(|i| format!("MNAR self-masking {i}")).collect();
        let wide: Vec<Vec<f64>> = vec![(0..12).map(|i| (i as f64 - 6.0) * 0.0123).collect(); 3];
        heatmap(
            &dir.join("heatmap_wide"),
            "Many columns",
            "mechanism",
            "method",
            &long,
            &ys[..3],
            &wide,
        )
        .expect("drawn");
        let mut state = 12345u64;
        let mut rnd = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let groups: Vec<(String, Vec<(f64, f64)>)> =
            ["easy-to-learn", "ambiguous", "hard-to-learn"]
                .iter()
                .enumerate()
                .map(|(g, name)| {
                    let pts = (0..300)
                        .map(|_| {
                            let v = 0.05 + 0.1 * g as f64 + 0.1 * rnd();
                            let c = [0.85, 0.5, 0.15][g] + 0.2 * (rnd() - 0.5);
                            (v, c)
                        })
                        .collect();
                    (name.to_string(), pts)
                })
                .collect();
        scatter(
            &dir.join("scatter"),
            "Dataset cartography",
            "variability",
            "confidence",
            &groups,
        )
        .expect("drawn");
    }
}
