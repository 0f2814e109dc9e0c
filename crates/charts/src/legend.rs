//! The legend: swatches and labels laid out in rows under a figure.

use super::*;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    Line { dashed: bool, band: bool },
    Marker,
}

#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    pub(crate) swatch: Swatch,
}

pub(crate) const SWATCH_W: u32 = 52;
pub(crate) const SWATCH_GAP: u32 = 10;
pub(crate) const ENTRY_SPACING: u32 = 36;
pub(crate) const LEGEND_LINE_H: u32 = 38;
pub(crate) const LEGEND_PAD: u32 = 12;

/// A legend laid out in centred lines that wrap at the figure width.
pub(crate) struct Legend {
    pub(crate) entries: Vec<LegendEntry>,
    /// Per line: the entry indices and the line's width in pixels.
    pub(crate) lines: Vec<(Vec<usize>, u32)>,
}

impl Legend {
    pub(crate) fn new(entries: Vec<LegendEntry>, max_width: u32) -> Self {
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

    pub(crate) fn height(&self) -> u32 {
        if self.lines.is_empty() {
            0
        } else {
            self.lines.len() as u32 * LEGEND_LINE_H + 2 * LEGEND_PAD
        }
    }

    pub(crate) fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
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
