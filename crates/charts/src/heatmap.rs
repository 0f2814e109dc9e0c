//! The diverging heat map with its colour bar.

use super::*;

pub(crate) const HEAT_W: u32 = 1200;
pub(crate) const HEAT_BAR_AREA: u32 = 190;
pub(crate) const CELL_TEXT_MAX: f64 = 22.0;
/// Cell annotations smaller than this would be illegible, so they are left out.
pub(crate) const CELL_TEXT_MIN: f64 = 12.0;
pub(crate) const NO_DATA_GREY: RGBColor = RGBColor(200, 200, 200);

/// RdBu-like stops from -1 (blue) through 0 (near white) to +1 (red).
pub(crate) const DIVERGING: [(f64, RGBColor); 5] = [
    (-1.0, RGBColor(33, 102, 172)),
    (-0.5, RGBColor(146, 197, 222)),
    (0.0, RGBColor(247, 247, 247)),
    (0.5, RGBColor(244, 165, 130)),
    (1.0, RGBColor(178, 24, 43)),
];

/// Colour of `t` in [-1, 1] on the diverging scale (clamped outside).
pub(crate) fn diverging(t: f64) -> RGBColor {
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

pub(crate) fn is_dark(c: RGBColor) -> bool {
    0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64 <= 140.0
}

pub(crate) struct HeatMap<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) x_ticks: &'a [String],
    pub(crate) y_ticks: &'a [String],
    pub(crate) values: &'a [Vec<f64>],
    /// Half-width of the symmetric colour scale.
    pub(crate) scale: f64,
    pub(crate) left: u32,
    pub(crate) cell_w: u32,
    pub(crate) cell_h: u32,
    /// x tick labels drawn vertically because they do not fit in a cell.
    pub(crate) x_ticks_vertical: bool,
    pub(crate) x_tick_h: u32,
    pub(crate) cell_text: f64,
}

impl<'a> HeatMap<'a> {
    pub(crate) fn new(
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

    pub(crate) fn grid_h(&self) -> u32 {
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
        // Cells are placed in the whole figure's coordinates, below the title.
        draw_title(root, self.title)?;
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
    pub(crate) fn draw_colour_bar<DB: DrawingBackend>(
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
