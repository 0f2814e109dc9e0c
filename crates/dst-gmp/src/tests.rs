//! Unit tests of GMP: the hook against a dense brute-force reference on a 7 x 6 layer, the
//! edge cases of the window, and the configuration.

use super::*;
use conformance::fixtures::clock;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::random_pattern;
use sparse_core::{Csr, SparseLayer, WeightSampler};

/// A layer with all `count` positions drawn uniformly, weights in (-1, 1), momentum `2 w`.
fn layer(
    n_in: usize,
    n_out: usize,
    count: usize,
    dynamic: bool,
    rng: &mut ChaCha8Rng,
) -> SparseLayer {
    let mut layer = SparseLayer::new(
        random_pattern(n_in, n_out, count, rng).unwrap(),
        WeightSampler::Uniform { limit: 1.0 },
        dynamic,
    );
    for v in layer.weights.values_mut() {
        *v = rng.random_range(-1.0..1.0);
    }
    layer.momentum = layer.weights.values().iter().map(|w| 2.0 * w).collect();
    layer
}

fn run_step(gmp: &mut Gmp, layers: &mut [SparseLayer], c: TrainingClock) -> HookOutcome {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    gmp.after_step(&mut DstContext {
        layers,
        clock: c,
        rng: &mut rng,
        gradients: None,
    })
}

#[test]
fn initial_densities_start_dense_and_remember_targets() {
    let mut gmp = Gmp::new(GmpConfig::default()).unwrap();
    assert_eq!(gmp.name(), "gmp");
    assert_eq!(gmp.initial_densities(&[0.1, 0.5, 1.0]), vec![1.0, 1.0, 1.0]);
    let c = clock(750, 10, 100);
    assert_eq!(gmp.scheduled_count(0, 10, 10, &c), Some(10));
    assert_eq!(gmp.scheduled_count(1, 10, 10, &c), Some(50));
    assert_eq!(gmp.scheduled_count(2, 10, 10, &c), None, "dense layer");
    assert!(!gmp.wants_gradients(&c));

    // Sparse-to-sparse start: layers denser than the start begin (and stay) at their target.
    let mut gmp = Gmp::new(GmpConfig {
        initial_density: 0.3,
        ..GmpConfig::default()
    })
    .unwrap();
    assert_eq!(gmp.initial_densities(&[0.1, 0.5, 1.0]), vec![0.3, 0.5, 1.0]);
    assert_eq!(gmp.scheduled_count(0, 10, 10, &clock(0, 10, 100)), Some(30));
    assert_eq!(
        gmp.scheduled_count(1, 10, 10, &c),
        None,
        "already at target"
    );
}

#[test]
fn config_validation_names_the_field() {
    let field = |cfg: GmpConfig| match Gmp::new(cfg) {
        Err(SparseError::Parameter { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    let d = GmpConfig::default();
    for bad in [0.0, 1.5, f64::NAN] {
        let cfg = GmpConfig {
            initial_density: bad,
            ..d
        };
        assert_eq!(field(cfg), "initial_density");
    }
    assert_eq!(field(GmpConfig { delta_t: 0, ..d }), "delta_t");
    let cfg = GmpConfig {
        begin_fraction: -0.1,
        ..d
    };
    assert_eq!(field(cfg), "begin_fraction");
    let cfg = GmpConfig {
        end_fraction: 1.1,
        ..d
    };
    assert_eq!(field(cfg), "end_fraction");
    let cfg = GmpConfig {
        begin_fraction: 0.5,
        end_fraction: 0.4,
        ..d
    };
    assert_eq!(field(cfg), "end_fraction");
    assert!(Gmp::new(d).is_ok());
}

/// The whole run on a dense 7 x 6 layer (target 0.3) and a static 6 x 3 output layer,
/// against a dense re-implementation: a dense weight grid, a dense mask, the schedule written
/// in sparsities as in the paper, and removal of the smallest `|w|` (ties: row-major
/// position) among the unmasked. Weights are redrawn every step from a coarse grid, so that
/// ties and zeros are common.
#[test]
fn whole_run_matches_a_dense_brute_force() {
    let (n_in, n_out, n) = (7usize, 6usize, 42usize);
    let (epochs, spe) = (4usize, 10usize);
    let cfg = GmpConfig {
        delta_t: 5,
        ..GmpConfig::default()
    };
    for seed in 0..10u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut gmp = Gmp::new(cfg).unwrap();
        let init = gmp.initial_densities(&[0.3, 1.0]);
        assert_eq!(init, vec![1.0, 1.0]);
        let mut layers = vec![
            layer(n_in, n_out, n, true, &mut rng),
            layer(6, 3, 18, false, &mut rng),
        ];
        let output_before = layers[1].clone();

        // Dense reference state.
        let mut mask = vec![true; n];
        let (t0, t_end) = (0usize, 30usize); // floor(0.75 * 40)
        let (s_i, s_f) = (0.0f64, 0.7f64);
        for t in 0..epochs * spe {
            // "Training": new weights on a grid of quarters in [-1, 1] (zeros and ties).
            let fresh: Vec<f32> = (0..n)
                .map(|_| rng.random_range(-4i32..=4) as f32 / 4.0)
                .collect();
            let rows = layers[0].weights.row_indices();
            let cols = layers[0].weights.col_idx().to_vec();
            for k in 0..layers[0].nnz() {
                let p = rows[k] as usize * n_out + cols[k] as usize;
                layers[0].weights.values_mut()[k] = fresh[p];
                layers[0].momentum[k] = 2.0 * fresh[p];
                layers[0].grad[k] = 3.0 * fresh[p];
            }

            let out = run_step(&mut gmp, &mut layers, clock(t, epochs, spe));

            // Reference: prune at t0, t0 + 5, ... below t_end, and at t_end.
            let prunes = t == t_end || (t >= t0 && t < t_end && (t - t0) % 5 == 0);
            let mut want_removed = 0;
            if prunes {
                let frac = (t - t0) as f64 / (t_end - t0) as f64;
                let s_t = s_f + (s_i - s_f) * (1.0 - frac).powi(3);
                let keep_count = ((1.0 - s_t) * n as f64).round() as usize;
                let mut live: Vec<usize> = (0..n).filter(|&p| mask[p]).collect();
                live.sort_by(|&a, &b| fresh[a].abs().total_cmp(&fresh[b].abs()).then(a.cmp(&b)));
                want_removed = live.len().saturating_sub(keep_count);
                for &p in &live[..want_removed] {
                    mask[p] = false;
                }
            }
            let want_edits = if want_removed > 0 {
                vec![EditStats {
                    layer: 0,
                    removed: want_removed,
                    grown: 0,
                }]
            } else {
                vec![]
            };
            assert_eq!(out.edits, want_edits, "seed {seed} step {t}");
            assert!(!out.skip_optimizer_step);

            let l = &layers[0];
            let dense: Vec<f32> = (0..n)
                .map(|p| if mask[p] { fresh[p] } else { 0.0 })
                .collect();
            let want = Csr::from_triplets(
                n_in,
                n_out,
                (0..n)
                    .filter(|&p| mask[p])
                    .map(|p| ((p / n_out) as u32, (p % n_out) as u32, fresh[p]))
                    .collect(),
            )
            .unwrap();
            assert_eq!(l.weights, want, "seed {seed} step {t}: pattern and values");
            assert_eq!(l.weights.to_dense(), dense);
            let m2: Vec<f32> = l.weights.values().iter().map(|w| 2.0 * w).collect();
            let g3: Vec<f32> = l.weights.values().iter().map(|w| 3.0 * w).collect();
            assert_eq!(l.momentum, m2, "momentum follows its connection");
            assert_eq!(l.grad, g3, "gradient follows its connection");
        }
        // Ends at exactly round(0.3 * 42) = 13 connections; the output layer is untouched.
        assert_eq!(layers[0].nnz(), 13);
        assert_eq!(layers[1], output_before);
    }
}

/// A method restored from mid-run state prunes the rest of the schedule exactly like the one
/// that kept running; without the state it would not know its targets.
#[test]
fn restored_mid_run_state_continues_identically() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let config = GmpConfig {
        delta_t: 3,
        ..GmpConfig::default()
    };
    let mut gmp = Gmp::new(config).unwrap();
    gmp.initial_densities(&[0.2, 0.4]);
    let mut layers = vec![
        layer(10, 5, 50, true, &mut rng),
        layer(5, 4, 20, true, &mut rng),
    ];
    for t in 0..20 {
        run_step(&mut gmp, &mut layers, clock(t, 5, 10));
    }
    let mut restored = Gmp::new(config).unwrap();
    restored.load_state(&gmp.save_state()).unwrap();
    let mut b = layers.clone();
    for t in 20..50 {
        let ea = run_step(&mut gmp, &mut layers, clock(t, 5, 10));
        let eb = run_step(&mut restored, &mut b, clock(t, 5, 10));
        assert_eq!(ea, eb, "step {t}");
    }
    assert_eq!(layers, b);
    assert_eq!((b[0].nnz(), b[1].nnz()), (10, 8));
    let mut bad = Gmp::new(config).unwrap();
    assert!(bad.load_state(&[0xff]).is_err());
}

#[test]
fn delta_t_longer_than_the_run_still_reaches_the_target() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut gmp = Gmp::new(GmpConfig {
        delta_t: 10_000,
        ..GmpConfig::default()
    })
    .unwrap();
    gmp.initial_densities(&[0.2]);
    let mut layers = vec![layer(10, 5, 50, true, &mut rng)];
    // 5 epochs of 10 steps: t_end = floor(0.75 * 50) = 37.
    for t in 0..50 {
        let out = run_step(&mut gmp, &mut layers, clock(t, 5, 10));
        let want = if t < 37 { 50 } else { 10 };
        assert_eq!(layers[0].nnz(), want, "step {t}");
        assert_eq!(out.edits.len(), usize::from(t == 37), "step {t}");
    }
}

#[test]
fn a_one_step_run_prunes_to_the_target_at_once() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut gmp = Gmp::new(GmpConfig::default()).unwrap();
    gmp.initial_densities(&[0.25]);
    let mut layers = vec![layer(4, 4, 16, true, &mut rng)];
    let out = run_step(&mut gmp, &mut layers, clock(0, 1, 1));
    assert_eq!(layers[0].nnz(), 4);
    assert_eq!(
        out.edits,
        vec![EditStats {
            layer: 0,
            removed: 12,
            grown: 0
        }]
    );
}

#[test]
fn a_missed_t_end_is_caught_up_on_the_next_call() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut gmp = Gmp::new(GmpConfig::default()).unwrap();
    gmp.initial_densities(&[0.1]);
    let mut layers = vec![layer(10, 10, 100, true, &mut rng)];
    // Only steps off the grid after t_end = 750 are seen: the first one prunes to the target,
    // later ones do nothing.
    run_step(&mut gmp, &mut layers, clock(753, 10, 100));
    assert_eq!(layers[0].nnz(), 10);
    let out = run_step(&mut gmp, &mut layers, clock(800, 10, 100));
    assert_eq!(out, HookOutcome::none());
}

#[test]
fn layers_at_target_dense_or_static_are_never_touched() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut gmp = Gmp::new(GmpConfig {
        initial_density: 0.5,
        delta_t: 1,
        ..GmpConfig::default()
    })
    .unwrap();
    // Layer 0 starts at its target 0.5, layer 1 is dense, layer 2 is static (not dynamic).
    assert_eq!(gmp.initial_densities(&[0.5, 1.0, 0.1]), vec![0.5, 1.0, 0.5]);
    let mut layers = vec![
        layer(6, 6, 18, true, &mut rng),
        layer(6, 6, 36, true, &mut rng),
        layer(6, 6, 18, false, &mut rng),
    ];
    let before = layers.clone();
    for t in 0..20 {
        assert_eq!(
            run_step(&mut gmp, &mut layers, clock(t, 2, 10)),
            HookOutcome::none()
        );
    }
    assert_eq!(layers, before);
}
