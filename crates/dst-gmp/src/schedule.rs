//! The cubic sparsity schedule of gradual magnitude pruning (Zhu & Gupta 2018, §3, Eq. 1):
//! which steps of a run prune, and how many connections a layer keeps after each.
//!
//! Everything here is a pure function of the clock and the layer's shape, initial and target
//! density, so the number of connections at any step can be stated (and tested) without
//! running the method.

use sparse_core::init::connection_count;

/// The steps of a run at which layers are pruned: `t0, t0 + delta_t, t0 + 2 delta_t, ...`
/// strictly below `t_end`, and `t_end` itself, where every layer reaches its target.
///
/// Zhu & Gupta choose `t_end = t0 + n delta_t`; here `t_end` is a fraction of the run, so it
/// need not be on the `delta_t` grid. Always pruning at `t_end` is what guarantees the target
/// is reached (the TensorFlow and GraNet implementations prune only on the grid and can stop
/// short of the final sparsity when the window is not a multiple of `delta_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruningWindow {
    /// First pruning step `t0` (0-based global step).
    pub begin: usize,
    /// Step `t_end` at which every layer reaches its target; always inside the run.
    pub end: usize,
    /// Steps between pruning steps, `delta_t` (at least 1).
    pub delta_t: usize,
}

impl PruningWindow {
    /// The window of a run of `total_steps` steps: `t0 = floor(begin_fraction T)`,
    /// `t_end = floor(end_fraction T)`, with `t_end` clamped to the last step `T - 1` (so an
    /// `end_fraction` of 1 still prunes to the target within the run) and `t0` to `t_end`.
    pub fn new(begin_fraction: f64, end_fraction: f64, delta_t: usize, total_steps: usize) -> Self {
        let last = total_steps.saturating_sub(1);
        let at = |fraction: f64| (fraction * total_steps as f64).floor() as usize;
        let end = at(end_fraction).min(last);
        let begin = at(begin_fraction).min(end);
        PruningWindow {
            begin,
            end,
            delta_t: delta_t.max(1),
        }
    }

    /// Whether step `t` is a scheduled pruning step.
    pub fn is_pruning_step(&self, t: usize) -> bool {
        t == self.end
            || (t >= self.begin && t < self.end && (t - self.begin).is_multiple_of(self.delta_t))
    }

    /// How far through the window step `t` is, `(t - t0) / (t_end - t0)` clamped to `[0, 1]`;
    /// exactly 1 from `t_end` on (also when `t0 == t_end`).
    pub fn progress(&self, t: usize) -> f64 {
        if t >= self.end {
            1.0
        } else if t <= self.begin {
            0.0
        } else {
            (t - self.begin) as f64 / (self.end - self.begin) as f64
        }
    }
}

/// Zhu & Gupta's Eq. 1 written in densities, `d_t = d_f + (d_i - d_f) (1 - progress)^3`, the
/// same curve as `s_t = s_f + (s_i - s_f) (1 - progress)^3` with `s = 1 - d`.
///
/// Densities rather than sparsities so that `progress = 1` gives back `target` bit for bit
/// (`1 - (1 - d)` need not equal `d` in floating point, which could move a rounded count).
pub fn cubic_density(initial: f64, target: f64, progress: f64) -> f64 {
    let remaining = 1.0 - progress.clamp(0.0, 1.0);
    // Plain products rather than `powi`, whose precision is unspecified.
    target + (initial - target) * (remaining * remaining * remaining)
}

/// Connections an `n_in x n_out` layer holds at `progress` through the window:
/// `connection_count(n_in, n_out, d_t)` (the rounded `d_t n_in n_out`, at least 1), never
/// below the target count, and exactly `connection_count(n_in, n_out, target)` at
/// `progress >= 1`.
pub fn scheduled_count(
    n_in: usize,
    n_out: usize,
    initial: f64,
    target: f64,
    progress: f64,
) -> usize {
    let final_count = connection_count(n_in, n_out, target);
    if progress >= 1.0 {
        return final_count;
    }
    connection_count(n_in, n_out, cubic_density(initial, target, progress)).max(final_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_of_the_default_config() {
        // 1000 steps, begin 0, end 0.75, delta_t 100: prune at 0, 100, ..., 700 and 750.
        let w = PruningWindow::new(0.0, 0.75, 100, 1000);
        assert_eq!((w.begin, w.end, w.delta_t), (0, 750, 100));
        let steps: Vec<usize> = (0..1000).filter(|&t| w.is_pruning_step(t)).collect();
        let mut want: Vec<usize> = (0..=7).map(|k| k * 100).collect();
        want.push(750);
        assert_eq!(steps, want);
    }

    #[test]
    fn window_with_an_offset_start_and_edges() {
        // 200 steps, begin 0.1 (t0 = 20), end 0.5 (t_end = 100), delta_t 30: 20, 50, 80, 100.
        let w = PruningWindow::new(0.1, 0.5, 30, 200);
        let steps: Vec<usize> = (0..200).filter(|&t| w.is_pruning_step(t)).collect();
        assert_eq!(steps, vec![20, 50, 80, 100]);
        // delta_t longer than the run: only t0 and t_end (floor(0.75 * 50) = 37).
        let w = PruningWindow::new(0.0, 0.75, 10_000, 50);
        let steps: Vec<usize> = (0..50).filter(|&t| w.is_pruning_step(t)).collect();
        assert_eq!(steps, vec![0, 37]);
        // end_fraction 1 ends on the last step, not after the run.
        let w = PruningWindow::new(0.0, 1.0, 4, 10);
        assert_eq!(w.end, 9);
        let steps: Vec<usize> = (0..10).filter(|&t| w.is_pruning_step(t)).collect();
        assert_eq!(steps, vec![0, 4, 8, 9]);
        // A one-step run prunes straight to the target at step 0.
        let w = PruningWindow::new(0.0, 0.75, 100, 1);
        assert_eq!((w.begin, w.end), (0, 0));
        assert!(w.is_pruning_step(0));
        assert_eq!(w.progress(0), 1.0);
        // begin == end: one pruning step, to the target.
        let w = PruningWindow::new(0.5, 0.5, 3, 20);
        let steps: Vec<usize> = (0..20).filter(|&t| w.is_pruning_step(t)).collect();
        assert_eq!(steps, vec![10]);
        assert_eq!((w.progress(9), w.progress(10)), (0.0, 1.0));
    }

    #[test]
    fn cubic_values_by_hand() {
        let w = PruningWindow::new(0.0, 0.75, 100, 1000);
        // t = 375: progress 1/2, d = 0.1 + 0.9 / 8 = 0.2125.
        assert!((cubic_density(1.0, 0.1, w.progress(375)) - 0.2125).abs() < 1e-12);
        // t = 100: progress 2/15, (13/15)^3 = 2197/3375, d = 0.1 + 0.9 * 2197 / 3375.
        let d100 = 0.1 + 0.9 * 2197.0 / 3375.0;
        assert!((cubic_density(1.0, 0.1, w.progress(100)) - d100).abs() < 1e-12);
        // ... = 0.685866..., so a 10 x 10 layer keeps 69 connections.
        assert_eq!(scheduled_count(10, 10, 1.0, 0.1, w.progress(100)), 69);
        // t = 700: progress 14/15, d = 0.1 + 0.9 / 3375 = 0.1002666...; 100 x 100 keeps 1003.
        assert_eq!(scheduled_count(100, 100, 1.0, 0.1, w.progress(700)), 1003);
        // Start and end of the window: the initial and the target counts exactly.
        assert_eq!(scheduled_count(100, 100, 1.0, 0.1, w.progress(0)), 10_000);
        assert_eq!(scheduled_count(100, 100, 1.0, 0.1, w.progress(750)), 1000);
        assert_eq!(cubic_density(0.7, 0.3, 1.0), 0.3);
        assert_eq!(cubic_density(0.7, 0.3, 0.0), 0.7);
        // Sparse-to-sparse start (GraNet's s_i = 0.5): 0.5 -> 0.1, halfway d = 0.1 + 0.4 / 8.
        assert!((cubic_density(0.5, 0.1, 0.5) - 0.15).abs() < 1e-12);
        // The count never falls below the target's, even where connection_count clamps to 1.
        assert_eq!(scheduled_count(3, 3, 1.0, 0.01, 0.99), 1);
    }
}
