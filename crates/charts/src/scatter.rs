//! The grouped scatter plot.

use super::*;

pub(crate) const SCATTER_W: u32 = 1000;
pub(crate) const SCATTER_H: u32 = 720;

pub(crate) struct Scatter<'a> {
    pub(crate) title: &'a str,
    pub(crate) x_label: &'a str,
    pub(crate) y_label: &'a str,
    pub(crate) groups: &'a [(String, Vec<(f64, f64)>)],
    pub(crate) legend: Legend,
}

impl<'a> Scatter<'a> {
    pub(crate) fn new(
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
        let rest = draw_title(root, self.title)?;
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
