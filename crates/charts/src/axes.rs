//! Axis ranges, ticks and clipping of lines and bands to the plotted range.

use super::*;

/// `lo..hi` widened by 5% on each side (in log space for a log axis); a degenerate range (one x
/// value) is widened around its value so the point lands in the middle.
pub(crate) fn padded(lo: f64, hi: f64, log: bool) -> Range<f64> {
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
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
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
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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
pub(crate) fn clip_segment(
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
pub(crate) fn clip_polyline(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
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
pub(crate) fn clip_polygon(poly: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(f64, f64)> {
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
