//! Annealing schedules shared by DST methods (one definition, one set of tests).

/// Cosine annealing from `from` at `t = 0` to `to` at `t = total`:
/// `to + (from - to) (1 + cos(pi t / total)) / 2` (PyTorch's `CosineAnnealingLR`). RigL's
/// drop fraction (`from = alpha`, `to = 0`, over `T_end`) and SNFS's prune rate (`p_0` to
/// `p_min` over training) are this schedule. Callers clamp `t` to `[0, total]` and keep
/// `total > 0`.
pub fn cosine_anneal(from: f64, to: f64, t: f64, total: f64) -> f64 {
    to + (from - to) * (1.0 + (std::f64::consts::PI * t / total).cos()) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_anneal_runs_from_start_to_end_through_the_midpoint() {
        assert_eq!(cosine_anneal(0.3, 0.0, 0.0, 10.0), 0.3);
        assert!(cosine_anneal(0.3, 0.0, 10.0, 10.0).abs() < 1e-17);
        assert!((cosine_anneal(0.5, 0.1, 5.0, 10.0) - 0.3).abs() < 1e-15);
        // Monotone between the ends.
        let v: Vec<f64> = (0..=10)
            .map(|t| cosine_anneal(0.5, 0.1, t as f64, 10.0))
            .collect();
        assert!(v.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn to_zero_it_is_rigls_form_bit_for_bit() {
        // RigL writes alpha/2 (1 + cos): the same bits (halving is exact).
        for alpha in [0.1, 0.3, 0.5, 0.77] {
            for t in 0..=40 {
                let (t, total) = (t as f64, 40.0);
                let rigl = alpha / 2.0 * (1.0 + (std::f64::consts::PI * t / total).cos());
                assert_eq!(
                    cosine_anneal(alpha, 0.0, t, total).to_bits(),
                    rigl.to_bits()
                );
            }
        }
    }
}
