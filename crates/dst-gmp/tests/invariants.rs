//! Property test of GMP over random small networks, schedules and seeds: the CSR stays valid,
//! per-connection state stays aligned, only the smallest weights go, and every layer's number
//! of connections follows the cubic schedule exactly (never increasing, the target after
//! `t_end`).

use conformance::fixtures::check_layer;
use dst_gmp::{Gmp, GmpConfig};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::{DstContext, DstMethod, SparseLayer, TrainingClock, WeightSampler};

/// Expected connections of a pruned layer after step `t`, written out independently of the
/// crate: the count at the last pruning step `<= t` (`t0 + k delta_t < t_end`, or `t_end`),
/// the initial count before any.
fn expected_count(
    t: usize,
    total: usize,
    cfg: &GmpConfig,
    shape: (usize, usize),
    initial: f64,
    target: f64,
) -> usize {
    let t_end = ((cfg.end_fraction * total as f64).floor() as usize).min(total - 1);
    let t0 = ((cfg.begin_fraction * total as f64).floor() as usize).min(t_end);
    let last = if t >= t_end {
        Some(t_end)
    } else if t >= t0 {
        Some(t0 + (t - t0) / cfg.delta_t * cfg.delta_t)
    } else {
        None
    };
    let (n_in, n_out) = shape;
    match last {
        None => connection_count(n_in, n_out, initial),
        Some(s) if s == t_end => connection_count(n_in, n_out, target),
        Some(s) => {
            let r = 1.0 - (s - t0) as f64 / (t_end - t0) as f64;
            let d = target + (initial - target) * r * r * r;
            connection_count(n_in, n_out, d).max(connection_count(n_in, n_out, target))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nnz_follows_the_schedule_and_state_stays_aligned(
        sizes in proptest::collection::vec(1usize..9, 3..5),
        targets in proptest::collection::vec(0.02f64..=1.0, 4),
        initial_density in 0.2f64..=1.0,
        delta_t in 1usize..15,
        begin_fraction in 0.0f64..0.5,
        span in 0.0f64..=0.5,
        epochs in 1usize..5,
        steps_per_epoch in 1usize..15,
        seed: u64,
    ) {
        let cfg = GmpConfig { initial_density, delta_t, begin_fraction, end_fraction: begin_fraction + span };
        let mut gmp = Gmp::new(cfg).unwrap();
        let n_layers = sizes.len() - 1;
        // The last layer is the dense static output layer, as in the models crate.
        let mut targets: Vec<f64> = targets[..n_layers].to_vec();
        targets[n_layers - 1] = 1.0;
        let initial = gmp.initial_densities(&targets);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers: Vec<SparseLayer> = (0..n_layers).map(|l| {
            let (n_in, n_out) = (sizes[l], sizes[l + 1]);
            let count = connection_count(n_in, n_out, initial[l]);
            SparseLayer::new(random_pattern(n_in, n_out, count, &mut rng).unwrap(),
                             WeightSampler::Uniform { limit: 1.0 }, l + 1 < n_layers)
        }).collect();
        let total = epochs * steps_per_epoch;
        let mut previous: Vec<usize> = layers.iter().map(SparseLayer::nnz).collect();
        for t in 0..total {
            // "Training": new weights (ties included), momentum and gradient tied to them.
            let mut before = Vec::new();
            for layer in layers.iter_mut() {
                for v in layer.weights.values_mut() {
                    *v = rng.random_range(-8i32..=8) as f32 / 8.0;
                }
                layer.momentum = layer.weights.values().iter().map(|w| 2.0 * w).collect();
                layer.grad = layer.weights.values().iter().map(|w| -w).collect();
                before.push(layer.weights.values().to_vec());
            }
            let clock = TrainingClock { epoch: t / steps_per_epoch, epochs, step: t, steps_per_epoch };
            let out = gmp.after_step(&mut DstContext {
                layers: &mut layers, clock, rng: &mut rng, gradients: None,
            });
            prop_assert!(!out.skip_optimizer_step);
            for (l, layer) in layers.iter().enumerate() {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                let w = &layer.weights;
                prop_assert_eq!(check_layer(layer), Ok(()));
                for (k, &v) in w.values().iter().enumerate() {
                    prop_assert_eq!(layer.momentum[k], 2.0 * v);
                    prop_assert_eq!(layer.grad[k], -v);
                }
                // The schedule, exactly; never increasing.
                let want = if l + 1 < n_layers && targets[l] < initial[l] {
                    expected_count(t, total, &cfg, (n_in, n_out), initial[l], targets[l])
                } else {
                    previous[l]
                };
                prop_assert_eq!(layer.nnz(), want, "layer {} step {}", l, t);
                prop_assert!(layer.nnz() <= previous[l]);
                // The removed weights are the smallest: none kept is smaller than one removed.
                let removed = previous[l] - layer.nnz();
                let edit = out.edits.iter().find(|e| e.layer == l);
                prop_assert_eq!(edit.map_or(0, |e| e.removed), removed);
                prop_assert_eq!(edit.map_or(0, |e| e.grown), 0);
                if removed > 0 {
                    let mut old: Vec<f32> = before[l].iter().map(|v| v.abs()).collect();
                    old.sort_by(f32::total_cmp);
                    let min_kept = w.values().iter().map(|v| v.abs()).fold(f32::INFINITY, f32::min);
                    prop_assert!(min_kept >= old[removed - 1]);
                }
            }
            previous = layers.iter().map(SparseLayer::nnz).collect();
        }
        // After the run every pruned layer sits exactly at its target count.
        for (l, layer) in layers.iter().enumerate().take(n_layers - 1) {
            let target = connection_count(sizes[l], sizes[l + 1], targets[l].min(initial[l]));
            prop_assert_eq!(layer.nnz(), target);
        }
    }
}
