//! Fonts, sizes, colours, text and the shared drawing helpers of every figure.

use super::*;

/// DejaVu Sans, vendored so that figures look the same on every machine.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/DejaVuSans.ttf"
));
pub(crate) const FAMILY: &str = "sans-serif";

// Font sizes in plotters units. plotters scales a glyph so that ascent-to-descent spans this many
// pixels, which makes the em (what SVG calls font-size) size / 1.24: 20 units = 16 px text.
pub(crate) const FIGURE_TITLE_SIZE: f64 = 30.0;
pub(crate) const PANEL_TITLE_SIZE: f64 = 25.0;
pub(crate) const AXIS_LABEL_SIZE: f64 = 22.0;
pub(crate) const TICK_SIZE: f64 = 20.0;
pub(crate) const LEGEND_SIZE: f64 = 22.0;

/// Width of one panel: two panels make 1200 px.
pub(crate) const PANEL_W: u32 = 600;
pub(crate) const PANEL_H: u32 = 480;
pub(crate) const TITLE_H: u32 = 60;
/// Series with at most this many points also get a marker at each point, so that single points
/// and sparse sweeps stay visible; denser curves (training traces) would be cluttered by them.
pub(crate) const MARKER_MAX_POINTS: usize = 25;
pub(crate) const LINE_WIDTH: u32 = 3;
pub(crate) const BAND_ALPHA: f64 = 0.15;
/// Dash and gap lengths in pixels of dashed lines.
pub(crate) const DASH: u32 = 12;
pub(crate) const DASH_GAP: u32 = 8;

/// Okabe & Ito's colour-blind-safe palette without its black (which is `usize::MAX`), ordered so
/// that the first colours are the most distinct from each other; yellow, hard to see on white,
/// comes before a grey added for an eighth series.
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(240, 228, 66),  // yellow
    RGBColor(128, 128, 128), // grey
];

pub(crate) fn ensure_font() -> Result<()> {
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
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// `path` with `.ext` appended (not `with_extension`, which would eat a dot in the stem such as
/// `missing-0.3`).
pub(crate) fn with_suffix(path: &Path, ext: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

pub(crate) fn write_both(path: &Path, figure: &impl Figure) -> Result<()> {
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

pub(crate) fn palette(index: usize) -> RGBColor {
    if index == usize::MAX {
        BLACK
    } else {
        PALETTE[index % PALETTE.len()]
    }
}

/// Width in pixels of `text` at `size`, as the renderer will lay it out.
pub(crate) fn text_width(text: &str, size: f64) -> u32 {
    (FAMILY, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        // Only reachable if the font failed to register, which `ensure_font` has ruled out.
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

pub(crate) fn text_style(size: f64, h: HPos, v: VPos) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK).pos(Pos::new(h, v))
}

/// Tick label with at most four significant digits, no trailing zeros, exponent form outside
/// [1e-3, 1e5).
pub(crate) fn fmt_tick(v: f64) -> String {
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

/// Writes a figure's title centred in the top `TITLE_H` pixels of `root`; returns the area
/// below it.
pub(crate) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = root.dim_in_pixel();
    let (top, rest) = root.split_vertically(TITLE_H);
    top.draw_text(
        title,
        &text_style(FIGURE_TITLE_SIZE, HPos::Center, VPos::Center),
        ((w / 2) as i32, (TITLE_H / 2) as i32),
    )?;
    Ok(rest)
}

/// Writes "no data" in the middle of `area`.
pub(crate) fn draw_no_data<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>) -> Result<()>
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
