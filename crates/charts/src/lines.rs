//! Line panels: series with shaded bands, one chart per panel.

use super::*;

/// A series reduced to drawable points, x already mapped to the axis' linear space (ln x on a
/// log axis) so that clipping interpolates along the straight screen segment.
pub(crate) struct Prepared {
    pub(crate) color: RGBColor,
    pub(crate) dashed: bool,
    pub(crate) line: Vec<(f64, f64)>,
    pub(crate) band: Vec<(f64, f64, f64)>,
}

pub(crate) struct LinePanels<'a> {
    pub(crate) title: &'a str,
    pub(crate) panels: &'a [Panel],
    pub(crate) columns: usize,
    pub(crate) rows: usize,
    pub(crate) legend: Legend,
}

impl<'a> LinePanels<'a> {
    pub(crate) fn new(title: &'a str, panels: &'a [Panel], columns: usize) -> Self {
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
        let rest = draw_title(root, self.title)?;
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

pub(crate) fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<()>
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

pub(crate) fn draw_chart<DB, X>(
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
