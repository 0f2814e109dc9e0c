//! Metrics of an accuracy matrix `r[i][j]`: accuracy on task j after training on task i
//! (square, 0-based tasks), as GEM (Lopez-Paz & Ranzato 2017) and Chaudhry et al. (2018)
//! define them.

/// Average accuracy over the tasks seen so far after task `i`: `mean_{j <= i} r[i][j]`.
pub fn average_accuracy(r: &[Vec<f64>], i: usize) -> f64 {
    r[i][..=i].iter().sum::<f64>() / (i + 1) as f64
}

/// GEM's ACC: mean accuracy over all tasks after the last one.
pub fn acc(r: &[Vec<f64>]) -> f64 {
    average_accuracy(r, r.len() - 1)
}

/// GEM's backward transfer, as in the paper: `1/(T-1) Σ_{j<T} (r[T][j] - r[j][j])` (GEM's code
/// divides by T instead). NaN for a single task.
pub fn bwt(r: &[Vec<f64>]) -> f64 {
    let t = r.len() - 1;
    if t == 0 {
        return f64::NAN;
    }
    (0..t).map(|j| r[t][j] - r[j][j]).sum::<f64>() / t as f64
}

/// Chaudhry et al. (2018)'s average forgetting after task `k`: the mean over tasks `j < k` of
/// `max_{l < k} r[l][j] - r[k][j]`, the drop from the best accuracy the task ever had. NaN for
/// `k = 0`.
pub fn forgetting(r: &[Vec<f64>], k: usize) -> f64 {
    if k == 0 {
        return f64::NAN;
    }
    (0..k)
        .map(|j| {
            let best = (0..k).map(|l| r[l][j]).fold(f64::NEG_INFINITY, f64::max);
            best - r[k][j]
        })
        .sum::<f64>()
        / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tasks; row i = after task i.
    fn r() -> Vec<Vec<f64>> {
        vec![
            vec![0.9, 0.1, 0.0],
            vec![0.6, 0.8, 0.2],
            vec![0.5, 0.7, 0.95],
        ]
    }

    #[test]
    fn metrics_of_a_hand_made_matrix() {
        let r = r();
        assert!((average_accuracy(&r, 0) - 0.9).abs() < 1e-12);
        assert!((average_accuracy(&r, 1) - 0.7).abs() < 1e-12);
        // ACC = (0.5 + 0.7 + 0.95) / 3.
        assert!((acc(&r) - 2.15 / 3.0).abs() < 1e-12);
        // BWT = ((0.5 - 0.9) + (0.7 - 0.8)) / 2 = -0.25 (GEM's code would give -0.5 / 3).
        assert!((bwt(&r) + 0.25).abs() < 1e-12);
        // F_1 = max(0.9) - 0.6 = 0.3; F_2 = ((0.9 - 0.5) + (0.8 - 0.7)) / 2 = 0.25.
        assert!((forgetting(&r, 1) - 0.3).abs() < 1e-12);
        assert!((forgetting(&r, 2) - 0.25).abs() < 1e-12);
        assert!(forgetting(&r, 0).is_nan());
        assert!(bwt(&r[..1].iter().map(|v| v[..1].to_vec()).collect::<Vec<_>>()).is_nan());
    }

    #[test]
    fn forgetting_takes_the_best_earlier_accuracy_not_the_diagonal() {
        // Task 1 improves after task 2 (positive transfer), then drops.
        let r = vec![
            vec![0.6, 0.0, 0.0],
            vec![0.9, 0.8, 0.0],
            vec![0.7, 0.8, 0.9],
        ];
        // F_2 = ((0.9 - 0.7) + (0.8 - 0.8)) / 2 = 0.1, BWT = ((0.7 - 0.6) + 0) / 2 = 0.05.
        assert!((forgetting(&r, 2) - 0.1).abs() < 1e-12);
        assert!((bwt(&r) - 0.05).abs() < 1e-12);
    }
}
