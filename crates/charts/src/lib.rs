//! Generic plotting primitives for the study's figures: line panels with shaded bands, a
//! diverging heat map and a grouped scatter plot. Each function writes the same drawing twice,
//! as `<path>.png` and `<path>.svg`, through one routine generic over plotters'
//! `DrawingBackend`, so the two files cannot drift apart. The font (DejaVu Sans) is vendored and
//! registered once, so rendering does not depend on the fonts of the machine. Assembling the
//! study's numbers into [`Panel`]s and grids is done elsewhere (the `experiments` crate's
//! `plots`); this crate knows no experiment, and it is the only one that depends on plotters.

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

/// DejaVu Sans, vendored so that figures look the same on every machine.
static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));
const FAMILY: &str = "sans-serif";

// Font sizes in plotters units. plotters scales a glyph so that ascent-to-descent spans this many
// pixels, which makes the em (what SVG calls font-size) size / 1.24: 20 units = 16 px text.
const FIGURE_TITLE_SIZE: f64 = 30.0;
const PANEL_TITLE_SIZE: f64 = 25.0;
const AXIS_LABEL_SIZE: f64 = 22.0;
const TICK_SIZE: f64 = 20.0;
const LEGEND_SIZE: f64 = 22.0;

/// Width of one panel: two panels make 1200 px.
const PANEL_W: u32 = 600;
const PANEL_H: u32 = 480;
const TITLE_H: u32 = 60;
/// Series with at most this many points also get a marker at each point, so that single points
/// and sparse sweeps stay visible; denser curves (training traces) would be cluttered by them.
const MARKER_MAX_POINTS: usize = 25;
const LINE_WIDTH: u32 = 3;
const BAND_ALPHA: f64 = 0.15;
/// Dash and gap lengths in pixels of dashed lines.
const DASH: u32 = 12;
const DASH_GAP: u32 = 8;

/// Okabe & Ito's colour-blind-safe palette without its black (which is `usize::MAX`), ordered so
/// that the first colours are the most distinct from each other; yellow, hard to see on white,
/// comes before a grey added for an eighth series.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(128, 128, 128), // grey
];

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
    pub title: String,
    pub x_label: String,
    pub y_label: String,
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
        title: String,
        columns: usize,
        panels: Vec<Panel>,
    },
    /// [`heatmap`].
    Heatmap {
        title: String,
        x_label: String,
        y_label: String,
        x_ticks: Vec<String>,
        y_ticks: Vec<String>,
        values: Vec<Vec<f64>>,
    },
    /// [`scatter`].
    Scatter {
        title: String,
        x_label: String,
        y_label: String,
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

// ---------------------------------------------------------------------------------------------
// Shared machinery: font, output files, text, colours, legend.

fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if !ok {
        bail!("the vendored font assets/DejaVuSans.ttf could not be parsed");
    }
    Ok(())
}

/// A figure of a known pixel size that can draw itself on any plotters backend.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// `path` with `.ext` appended (not `with_extension`, which would eat a dot in the stem such as
/// `missing-0.3`).
fn with_suffix(path: &Path, ext: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn write_both(path: &Path, figure: &impl Figure) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating directory {}", parent.display()))?;
    }
    let size = figure.size();
    let png = with_suffix(path, "png");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE)?;
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .with_context(|| format!("writing {}", png.display()))?;
    }
    let svg = with_suffix(path, "svg");
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        figure
            .draw(&root)
            .with_context(|| format!("drawing {}", svg.display()))?;
        root.present()
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    Ok(())
}

fn palette(index: usize) -> RGBColor {
    if index == usize::MAX {
        BLACK
    } else {
        PALETTE[index % PALETTE.len()]
    }
}

/// Width in pixels of `text` at `size`, as the renderer will lay it out.
fn text_width(text: &str, size: f64) -> u32 {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        // Only reachable if the font failed to register, which `ensure_font` has ruled out.
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

fn text_style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK).pos(Pos::new(h, v))
}

/// Tick label with at most four significant digits, no trailing zeros, exponent form outside
/// [1e-3, 1e5).
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { format!("{v}") };
    }
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Writes "no data" in the middle of `area`.
fn draw_no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, h) = area.dim_in_pixel();
    area.draw_text(
        "no data",
        &text_style(PANEL_TITLE_SIZE, HPos::Center, VPos::Center),
        ((w / 2) as i32, (h / 2) as i32),
    )?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Swatch {
    Line { dashed: bool, band: bool },
    Marker,
}

#[derive(Debug, Clone)]
struct LegendEntry {
    label: String,
    color: RGBColor,
    swatch: Swatch,
}

const SWATCH_W: u32 = 52;
const SWATCH_GAP: u32 = 10;
const ENTRY_SPACING: u32 = 36;
const LEGEND_LINE_H: u32 = 38;
const LEGEND_PAD: u32 = 12;

/// A legend laid out in centred lines that wrap at the figure width.
struct Legend {
    entries: Vec<LegendEntry>,
    /// Per line: the entry indices and the line's width in pixels.
    lines: Vec<(Vec<usize>, u32)>,
}

impl Legend {
    fn new(entries: Vec<LegendEntry>, max_width: u32) -> Self {
        let mut lines: Vec<(Vec<usize>, u32)> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let w = SWATCH_W + SWATCH_GAP + text_width(&e.label, LEGEND_SIZE);
            match lines.last_mut() {
                Some((idx, lw)) if *lw + ENTRY_SPACING + w <= max_width => {
                    idx.push(i);
                    *lw += ENTRY_SPACING + w;
                }
                _ => lines.push((vec![i], w)),
            }
        }
        Legend { entries, lines }
    }

    fn height(&self) -> u32 {
        if self.lines.is_empty() {
            0
        } else {
            self.lines.len() as u32 * LEGEND_LINE_H + 2 * LEGEND_PAD
        }
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = area.dim_in_pixel();
        let label_style = text_style(LEGEND_SIZE, HPos::Left, VPos::Center);
        for (li, (idx, line_w)) in self.lines.iter().enumerate() {
            let mut x = (w.saturating_sub(*line_w) / 2) as i32;
            let y = (LEGEND_PAD + li as u32 * LEGEND_LINE_H + LEGEND_LINE_H / 2) as i32;
            for &i in idx {
                let e = &self.entries[i];
                let x1 = x + SWATCH_W as i32;
                match e.swatch {
                    Swatch::Line { dashed, band } => {
                        if band {
                            area.draw(&Rectangle::new(
                                [(x, y - 9), (x1, y + 9)],
                                e.color.mix(BAND_ALPHA * 1.5).filled(),
                            ))?;
                        }
                        let style = e.color.stroke_width(LINE_WIDTH);
                        if dashed {
                            area.draw(&DashedPathElement::new(
                                vec![(x, y), (x1, y)],
                                DASH,
                                DASH_GAP,
                                style,
                            ))?;
                        } else {
                            area.draw(&PathElement::new(vec![(x, y), (x1, y)], style))?;
                        }
                    }
                    Swatch::Marker => {
                        area.draw(&Circle::new((x1 - 12, y), 7, e.color.filled()))?;
                    }
                }
                area.draw_text(&e.label, &label_style, (x1 + SWATCH_GAP as i32, y))?;
                x += (SWATCH_W + SWATCH_GAP + text_width(&e.label, LEGEND_SIZE) + ENTRY_SPACING)
                    as i32;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Axis ranges, ticks and clipping.

/// `lo..hi` widened by 5% on each side (in log space for a log axis); a degenerate range (one x
/// value) is widened around its value so the point lands in the middle.
fn padded(lo: f64, hi: f64, log: bool) -> Range<f64> {
    let (a, b) = if log { (lo.ln(), hi.ln()) } else { (lo, hi) };
    let (a, b) = if b > a {
        let m = (b - a) * 0.05;
        (a - m, b + m)
    } else {
        let d = if a == 0.0 { 1.0 } else { a.abs() * 0.1 };
        (a - d, b + d)
    };
    if log {
        a.exp()..b.exp()
    } else {
        a..b
    }
}

/// Evenly spaced "nice" ticks (steps of 1, 2 or 5 times a power of ten) inside `lo..hi`.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let raw = (hi - lo) / target.max(1) as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks for a log axis over `lo..hi` (both > 0): decades, then 1-3 or 1-2-5 subdivisions when
/// fewer than three decades fit, then linear ticks for ranges narrower than that.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let stride = ((d1 - d0) / 8 + 1) as usize;
    for mults in [&[1.0][..], &[1.0, 3.0], &[1.0, 2.0, 5.0]] {
        let ticks: Vec<f64> = (d0..=d1)
            .step_by(stride)
            .flat_map(|d| mults.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| (lo..=hi).contains(v))
            .collect();
        if ticks.len() >= 3 {
            return ticks;
        }
    }
    nice_ticks(lo, hi, 5)
}

/// The part of the segment `p`-`q` with `lo <= y <= hi` (Liang-Barsky in y only: x ranges are
/// fitted to the data, y ranges may be fixed by the caller).
fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    lo: f64,
    hi: f64,
) -> Option<((f64, f64), (f64, f64))> {
    let dy = q.1 - p.1;
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    if dy == 0.0 {
        if p.1 < lo || p.1 > hi {
            return None;
        }
    } else {
        let (ta, tb) = ((lo - p.1) / dy, (hi - p.1) / dy);
        t0 = t0.max(ta.min(tb));
        t1 = t1.min(ta.max(tb));
        if t0 > t1 {
            return None;
        }
    }
    let at = |t: f64| {
        if t == 0.0 {
            p
        } else if t == 1.0 {
            q
        } else {
            (p.0 + t * (q.0 - p.0), p.1 + t * dy)
        }
    };
    Some((at(t0), at(t1)))
}

/// Splits a polyline into the runs that lie inside `lo <= y <= hi`.
fn clip_polyline(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for w in points.windows(2) {
        match clip_segment(w[0], w[1], lo, hi) {
            Some((a, b)) => {
                if run.last() != Some(&a) {
                    if run.len() >= 2 {
                        runs.push(std::mem::take(&mut run));
                    }
                    run.clear();
                    run.push(a);
                }
                run.push(b);
            }
            None => {
                if run.len() >= 2 {
                    runs.push(std::mem::take(&mut run));
                }
                run.clear();
            }
        }
    }
    if run.len() >= 2 {
        runs.push(run);
    }
    runs
}

/// Sutherland-Hodgman clipping of a polygon to the strip `lo <= y <= hi`.
fn clip_polygon(poly: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    let half = |poly: &[(f64, f64)], inside: &dyn Fn(f64) -> bool, bound: f64| {
        let mut out = Vec::with_capacity(poly.len() + 4);
        let cross = |p: (f64, f64), q: (f64, f64)| {
            let t = (bound - p.1) / (q.1 - p.1);
            (p.0 + t * (q.0 - p.0), bound)
        };
        for (i, &cur) in poly.iter().enumerate() {
            let prev = poly[(i + poly.len() - 1) % poly.len()];
            match (inside(prev.1), inside(cur.1)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur)),
                (false, true) => {
                    out.push(cross(prev, cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
        out
    };
    let above = half(poly, &|y| y >= lo, lo);
    half(&above, &|y| y <= hi, hi)
}

// ---------------------------------------------------------------------------------------------
// Line panels.

/// A series reduced to drawable points, x already mapped to the axis' linear space (ln x on a
/// log axis) so that clipping interpolates along the straight screen segment.
struct Prepared {
    color: RGBColor,
    dashed: bool,
    line: Vec<(f64, f64)>,
    band: Vec<(f64, f64, f64)>,
}

struct LinePanels<'a> {
    title: &'a str,
    panels: &'a [Panel],
    columns: usize,
    rows: usize,
    legend: Legend,
}

impl<'a> LinePanels<'a> {
    fn new(title: &'a str, panels: &'a [Panel], columns: usize) -> Self {
        let columns = columns.clamp(1, panels.len().max(1));
        let rows = panels.len().div_ceil(columns).max(1);
        let mut entries: Vec<LegendEntry> = Vec::new();
        for s in panels.iter().flat_map(|p| &p.series) {
            if !s.label.is_empty() && entries.iter().all(|e| e.label != s.label) {
                entries.push(LegendEntry {
                    label: s.label.clone(),
                    color: palette(s.color),
                    swatch: Swatch::Line {
                        dashed: s.dashed,
                        band: s.band,
                    },
                });
            }
        }
        let legend = Legend::new(entries, columns as u32 * PANEL_W - 40);
        LinePanels {
            title,
            panels,
            columns,
            rows,
            legend,
        }
    }
}

impl Figure for LinePanels<'_> {
    fn size(&self) -> (u32, u32) {
        (
            self.columns as u32 * PANEL_W,
            TITLE_H + self.rows as u32 * PANEL_H + self.legend.height(),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = root.dim_in_pixel();
        let (top, rest) = root.split_vertically(TITLE_H);
        top.draw_text(
            self.title,
            &text_style(FIGURE_TITLE_SIZE, HPos::Center, VPos::Center),
            ((w / 2) as i32, (TITLE_H / 2) as i32),
        )?;
        let (grid, legend) = rest.split_vertically(self.rows as u32 * PANEL_H);
        if self.panels.is_empty() {
            draw_no_data(&grid)?;
        }
        for (panel, cell) in self
            .panels
            .iter()
            .zip(grid.split_evenly((self.rows, self.columns)))
        {
            draw_panel(&cell, panel)?;
        }
        self.legend.draw(&legend)
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let tx = |x: f64| if panel.x_log { x.ln() } else { x };
    let prepared: Vec<Prepared> = panel
        .series
        .iter()
        .map(|s| {
            let kept = s
                .points
                .iter()
                .filter(|p| p.0.is_finite() && p.1.is_finite() && (!panel.x_log || p.0 > 0.0));
            Prepared {
                color: palette(s.color),
                dashed: s.dashed,
                line: kept.clone().map(|p| (tx(p.0), p.1)).collect(),
                band: if s.band {
                    kept.filter(|p| p.2.is_finite() && p.3.is_finite())
                        .map(|p| (tx(p.0), p.2, p.3))
                        .collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();

    let xs = prepared.iter().flat_map(|s| s.line.iter().map(|p| p.0));
    let ys = prepared.iter().flat_map(|s| {
        s.line
            .iter()
            .map(|p| p.1)
            .chain(s.band.iter().flat_map(|b| [b.1, b.2]))
    });
    let fold = |it: &mut dyn Iterator<Item = f64>| {
        it.fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
    };
    let (x_bounds, y_bounds) = (fold(&mut xs.clone()), fold(&mut ys.clone()));
    let (Some((x0, x1)), Some((y0, y1))) = (x_bounds, y_bounds) else {
        return draw_chart(area, panel, 0.0..1.0, 0.0..1.0, &[], false, true);
    };
    let x_range = if panel.x_log {
        padded(x0.exp(), x1.exp(), true)
    } else {
        padded(x0, x1, false)
    };
    let y_range = match panel.y_range {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => lo..hi,
        _ => padded(y0, y1, false),
    };
    if panel.x_log {
        let ticks = log_ticks(x_range.start, x_range.end);
        let spec = x_range.log_scale().with_key_points(ticks);
        draw_chart(area, panel, spec, y_range, &prepared, true, false)
    } else {
        draw_chart(area, panel, x_range, y_range, &prepared, false, false)
    }
}

fn draw_chart<DB, X>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    x_spec: X,
    y_range: Range<f64>,
    series: &[Prepared],
    x_log: bool,
    empty: bool,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FAMILY, PANEL_TITLE_SIZE))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(72)
        .y_label_area_size(96)
        .build_cartesian_2d(x_spec, y_range.clone())?;
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .axis_desc_style((FAMILY, AXIS_LABEL_SIZE))
        .label_style((FAMILY, TICK_SIZE))
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_tick(*v))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(TRANSPARENT)
        .draw()?;
    if empty {
        return draw_no_data(&chart.plotting_area().strip_coord_spec());
    }
    let (lo, hi) = (y_range.start, y_range.end);
    let ux = |x: f64| if x_log { x.exp() } else { x };
    let back = |pts: Vec<(f64, f64)>| -> Vec<(f64, f64)> {
        pts.into_iter().map(|(x, y)| (ux(x), y)).collect()
    };
    // Bands first, so that every line is drawn on top of every band.
    for s in series {
        let fill = s.color.mix(BAND_ALPHA).filled();
        match s.band.as_slice() {
            [] => {}
            [(x, l, u)] => {
                // A band over one x value is an interval: draw it as an error bar.
                if let Some((a, b)) = clip_segment((*x, *l), (*x, *u), lo, hi) {
                    let style = s.color.mix(0.6).stroke_width(LINE_WIDTH);
                    chart
                        .draw_series(std::iter::once(PathElement::new(back(vec![a, b]), style)))?;
                }
            }
            band => {
                let outline: Vec<(f64, f64)> = band
                    .iter()
                    .map(|b| (b.0, b.2))
                    .chain(band.iter().rev().map(|b| (b.0, b.1)))
                    .collect();
                let clipped = clip_polygon(&outline, lo, hi);
                if clipped.len() >= 3 {
                    chart.draw_series(std::iter::once(Polygon::new(back(clipped), fill)))?;
                }
            }
        }
    }
    for s in series {
        let style = s.color.stroke_width(LINE_WIDTH);
        for run in clip_polyline(&s.line, lo, hi) {
            if s.dashed {
                chart.draw_series(DashedLineSeries::new(back(run), DASH, DASH_GAP, style))?;
            } else {
                chart.draw_series(LineSeries::new(back(run), style))?;
            }
        }
        if s.line.len() <= MARKER_MAX_POINTS {
            let inside = s.line.iter().filter(|p| (lo..=hi).contains(&p.1));
            chart
                .draw_series(inside.map(|&(x, y)| Circle::new((ux(x), y), 5, s.color.filled())))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Heat map.

const HEAT_W: u32 = 1200;
const HEAT_BAR_AREA: u32 = 190;
const CELL_TEXT_MAX: f64 = 22.0;
/// Cell annotations smaller than this would be illegible, so they are left out.
const CELL_TEXT_MIN: f64 = 12.0;
const NO_DATA_GREY: RGBColor = RGBColor(200, 200, 200);

/// RdBu-like stops from -1 (blue) through 0 (near white) to +1 (red).
const DIVERGING: [(f64, RGBColor); 5] = [
    (-1.0, RGBColor(33, 102, 172)),
    (-0.5, RGBColor(146, 197, 222)),
    (0.0, RGBColor(247, 247, 247)),
    (0.5, RGBColor(244, 165, 130)),
    (1.0, RGBColor(178, 24, 43)),
];

/// Colour of `t` in [-1, 1] on the diverging scale (clamped outside).
fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(-1.0, 1.0);
    let k = DIVERGING
        .windows(2)
        .position(|w| t <= w[1].0)
        .unwrap_or(DIVERGING.len() - 2);
    let ((t0, c0), (t1, c1)) = (DIVERGING[k], DIVERGING[k + 1]);
    let f = (t - t0) / (t1 - t0);
    let mix = |a: u8, b: u8| (a as f64 + f * (b as f64 - a as f64)).round() as u8;
    RGBColor(mix(c0.0, c1.0), mix(c0.1, c1.1), mix(c0.2, c1.2))
}

fn is_dark(c: RGBColor) -> bool {
    0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64 <= 140.0
}

struct HeatMap<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    x_ticks: &'a [String],
    y_ticks: &'a [String],
    values: &'a [Vec<f64>],
    /// Half-width of the symmetric colour scale.
    scale: f64,
    left: u32,
    cell_w: u32,
    cell_h: u32,
    /// x tick labels drawn vertically because they do not fit in a cell.
    x_ticks_vertical: bool,
    x_tick_h: u32,
    cell_text: f64,
}

impl<'a> HeatMap<'a> {
    fn new(
        title: &'a str,
        x_label: &'a str,
        y_label: &'a str,
        x_ticks: &'a [String],
        y_ticks: &'a [String],
        values: &'a [Vec<f64>],
    ) -> Self {
        let (rows, cols) = (y_ticks.len().max(1), x_ticks.len().max(1));
        let max_abs = values
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if max_abs > 0.0 { max_abs } else { 1.0 };
        let y_tick_w = y_ticks
            .iter()
            .map(|t| text_width(t, TICK_SIZE))
            .max()
            .unwrap_or(0);
        let left = 20 + 30 + 16 + y_tick_w + 12;
        let cell_w = (HEAT_W.saturating_sub(left + HEAT_BAR_AREA) / cols as u32).max(8);
        // Tall enough for one line of text, and a grid of at least 260 px so the colour bar
        // beside it has room for its ticks.
        let cell_h = (cell_w * 3 / 5).clamp(56, 90).max(260 / rows as u32);
        let x_tick_w = x_ticks
            .iter()
            .map(|t| text_width(t, TICK_SIZE))
            .max()
            .unwrap_or(0);
        let x_ticks_vertical = x_tick_w + 8 > cell_w;
        let x_tick_h = if x_ticks_vertical { x_tick_w + 16 } else { 36 };
        let widest = values
            .iter()
            .flatten()
            .map(|v| text_width(&fmt_value(*v), CELL_TEXT_MAX))
            .max()
            .unwrap_or(1)
            .max(1);
        let fit = CELL_TEXT_MAX * (cell_w.saturating_sub(8)) as f64 / widest as f64;
        HeatMap {
            title,
            x_label,
            y_label,
            x_ticks,
            y_ticks,
            values,
            scale,
            left,
            cell_w,
            cell_h,
            x_ticks_vertical,
            x_tick_h,
            cell_text: fit.min(CELL_TEXT_MAX),
        }
    }

    fn grid_h(&self) -> u32 {
        self.y_ticks.len().max(1) as u32 * self.cell_h
    }
}

impl Figure for HeatMap<'_> {
    fn size(&self) -> (u32, u32) {
        (HEAT_W, TITLE_H + 10 + self.grid_h() + self.x_tick_h + 50)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (w, _) = root.dim_in_pixel();
        root.draw_text(
            self.title,
            &text_style(FIGURE_TITLE_SIZE, HPos::Center, VPos::Center),
            ((w / 2) as i32, (TITLE_H / 2) as i32),
        )?;
        let top = (TITLE_H + 10) as i32;
        let (left, cw, ch) = (self.left as i32, self.cell_w as i32, self.cell_h as i32);
        let cols = self.x_ticks.len() as i32;
        let grid_w = cw * cols.max(1);
        let grid_h = self.grid_h() as i32;
        if self.values.is_empty() || self.x_ticks.is_empty() {
            root.draw_text(
                "no data",
                &text_style(PANEL_TITLE_SIZE, HPos::Center, VPos::Center),
                (left + grid_w / 2, top + grid_h / 2),
            )?;
        }
        let tick = text_style(TICK_SIZE, HPos::Right, VPos::Center);
        for (r, row) in self.values.iter().enumerate() {
            let y = top + r as i32 * ch;
            root.draw_text(&self.y_ticks[r], &tick, (left - 12, y + ch / 2))?;
            for (c, &v) in row.iter().enumerate() {
                let x = left + c as i32 * cw;
                let fill = if v.is_finite() {
                    diverging(v / self.scale)
                } else {
                    NO_DATA_GREY
                };
                // One pixel of white between cells keeps neighbouring colours apart.
                root.draw(&Rectangle::new(
                    [(x + 1, y + 1), (x + cw - 1, y + ch - 1)],
                    fill.filled(),
                ))?;
                if self.cell_text >= CELL_TEXT_MIN {
                    let colour = if v.is_nan() {
                        RGBColor(90, 90, 90)
                    } else if is_dark(fill) {
                        WHITE
                    } else {
                        BLACK
                    };
                    let style = text_style(self.cell_text, HPos::Center, VPos::Center);
                    root.draw_text(
                        &fmt_value(v),
                        &style.color(&colour),
                        (x + cw / 2, y + ch / 2),
                    )?;
                }
            }
        }
        let x_tick_top = top + grid_h + 8;
        for (c, t) in self.x_ticks.iter().enumerate() {
            let x = left + c as i32 * cw + cw / 2;
            if self.x_ticks_vertical {
                let style = text_style(TICK_SIZE, HPos::Right, VPos::Center)
                    .transform(FontTransform::Rotate270);
                root.draw_text(t, &style, (x, x_tick_top))?;
            } else {
                let style = text_style(TICK_SIZE, HPos::Center, VPos::Top);
                root.draw_text(t, &style, (x, x_tick_top))?;
            }
        }
        root.draw_text(
            self.x_label,
            &text_style(AXIS_LABEL_SIZE, HPos::Center, VPos::Center),
            (left + grid_w / 2, x_tick_top + self.x_tick_h as i32 + 14),
        )?;
        root.draw_text(
            self.y_label,
            &text_style(AXIS_LABEL_SIZE, HPos::Center, VPos::Center)
                .transform(FontTransform::Rotate270),
            (30, top + grid_h / 2),
        )?;
        self.draw_colour_bar(root, left + grid_w + 40, top, grid_h)
    }
}

impl HeatMap<'_> {
    /// A vertical bar from +scale (top) to -scale (bottom) with five labelled ticks.
    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x: i32,
        top: i32,
        h: i32,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        const BAR_W: i32 = 28;
        const STEP: i32 = 2;
        let mut y = 0;
        while y < h {
            let t = 1.0 - 2.0 * (y as f64 + STEP as f64 / 2.0) / h as f64;
            root.draw(&Rectangle::new(
                [(x, top + y), (x + BAR_W, top + (y + STEP).min(h))],
                diverging(t).filled(),
            ))?;
            y += STEP;
        }
        root.draw(&Rectangle::new(
            [(x, top), (x + BAR_W, top + h)],
            BLACK.mix(0.5).stroke_width(1),
        ))?;
        let style = text_style(TICK_SIZE, HPos::Left, VPos::Center);
        for k in 0..5 {
            let t = 1.0 - k as f64 * 0.5;
            let ty = top + (k * h) / 4;
            root.draw(&PathElement::new(
                vec![(x + BAR_W, ty), (x + BAR_W + 6, ty)],
                BLACK.stroke_width(1),
            ))?;
            root.draw_text(&fmt_value(t * self.scale), &style, (x + BAR_W + 10, ty))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Scatter.

const SCATTER_W: u32 = 1000;
const SCATTER_H: u32 = 720;

struct Scatter<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    groups: &'a [(String, Vec<(f64, f64)>)],
    legend: Legend,
}

impl<'a> Scatter<'a> {
    fn new(
        title: &'a str,
        x_label: &'a str,
        y_label: &'a str,
        groups: &'a [(String, Vec<(f64, f64)>)],
    ) -> Self {
        let entries = groups
            .iter()
            .enumerate()
            .map(|(i, (label, _))| LegendEntry {
                label: label.clone(),
                color: palette(i),
                swatch: Swatch::Marker,
            })
            .collect();
        Scatter {
            title,
            x_label,
            y_label,
            groups,
            legend: Legend::new(entries, SCATTER_W - 40),
        }
    }
}

impl Figure for Scatter<'_> {
    fn size(&self) -> (u32, u32) {
        (SCATTER_W, TITLE_H + SCATTER_H + self.legend.height())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let points = || self.groups.iter().flat_map(|g| g.1.iter().filter(finite));
        let bounds = |f: fn(&(f64, f64)) -> f64| {
            points().map(f).fold(None, |acc: Option<(f64, f64)>, v| {
                Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
            })
        };
        let (x_range, y_range) = match (bounds(|p| p.0), bounds(|p| p.1)) {
            (Some((x0, x1)), Some((y0, y1))) => (padded(x0, x1, false), padded(y0, y1, false)),
            _ => (0.0..1.0, 0.0..1.0),
        };
        let (w, _) = root.dim_in_pixel();
        let (top, rest) = root.split_vertically(TITLE_H);
        top.draw_text(
            self.title,
            &text_style(FIGURE_TITLE_SIZE, HPos::Center, VPos::Center),
            ((w / 2) as i32, (TITLE_H / 2) as i32),
        )?;
        let (plot, legend) = rest.split_vertically(SCATTER_H);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(32)
            .x_label_area_size(72)
            .y_label_area_size(100)
            .build_cartesian_2d(x_range, y_range)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .axis_desc_style((FAMILY, AXIS_LABEL_SIZE))
            .label_style((FAMILY, TICK_SIZE))
            .x_label_formatter(&|v| fmt_tick(*v))
            .y_label_formatter(&|v| fmt_tick(*v))
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(TRANSPARENT)
            .draw()?;
        if points().next().is_none() {
            draw_no_data(&chart.plotting_area().strip_coord_spec())?;
        }
        for (i, (_, pts)) in self.groups.iter().enumerate() {
            // Translucent markers show where many points pile up.
            let style = palette(i).mix(0.55).filled();
            chart.draw_series(pts.iter().filter(finite).map(|&p| Circle::new(p, 4, style)))?;
        }
        self.legend.draw(&legend)
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
