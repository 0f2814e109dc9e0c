//! Unit tests of DeepR: the rewiring against a dense brute-force reference, hand-computed
//! shrinkage and schedules, the noise scale, and config validation.

use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sparse_core::init::random_pattern;
use sparse_core::{Csr, EditStats, SparseLayer, TrainingClock, WeightSampler};

/// Step `step` of a run of 4 epochs of 25 steps.
fn clock(step: usize) -> TrainingClock {
    TrainingClock {
        epoch: step / 25,
        epochs: 4,
        step,
        steps_per_epoch: 25,
    }
}

/// A deterministic configuration: no noise, no shrinkage.
fn quiet() -> DeepRConfig {
    DeepRConfig {
        temperature: 0.0,
        temperature_schedule: Vec::new(),
        l1: 0.0,
        ..DeepRConfig::default()
    }
}

/// A layer with `nnz` random connections whose weights have magnitude in `[0.1, 1)`.
fn layer(rng: &mut ChaCha8Rng, rows: usize, cols: usize, nnz: usize, dynamic: bool) -> SparseLayer {
    let mut l = SparseLayer::new(
        random_pattern(rows, cols, nnz, rng).unwrap(),
        WeightSampler::Uniform { limit: 1.0 },
        dynamic,
    );
    for v in l.weights.values_mut() {
        let m: f32 = rng.random_range(0.1..1.0);
        *v = if rng.random::<bool>() { m } else { -m };
    }
    l.momentum = vec![1.0; nnz];
    l
}

fn backward(m: &mut DeepR, layers: &mut [SparseLayer], step: usize, rng: &mut ChaCha8Rng) {
    let out = m.after_backward(&mut DstContext {
        layers,
        clock: clock(step),
        rng,
        gradients: None,
    });
    assert_eq!(out, HookOutcome::none());
}

fn step(
    m: &mut DeepR,
    layers: &mut [SparseLayer],
    step: usize,
    rng: &mut ChaCha8Rng,
) -> HookOutcome {
    m.after_step(&mut DstContext {
        layers,
        clock: clock(step),
        rng,
        gradients: None,
    })
}

/// A method restored from the state saved between `after_backward` and `after_step` (its
/// sign record) continues exactly like the one that kept running, noise included.
#[test]
fn restored_mid_run_state_continues_identically() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut layers = vec![
        layer(&mut rng, 8, 6, 20, true),
        layer(&mut rng, 6, 3, 10, false),
    ];
    let mut m = DeepR::new(DeepRConfig::default()).unwrap();
    let mut topo = ChaCha8Rng::seed_from_u64(9);
    for t in 0..3 {
        backward(&mut m, &mut layers, t, &mut topo);
        step(&mut m, &mut layers, t, &mut topo);
    }
    backward(&mut m, &mut layers, 3, &mut topo);
    // Flip every sign after the record: only the record can tell they crossed zero.
    for v in layers[0].weights.values_mut() {
        *v = -*v;
    }
    let mut restored = DeepR::new(DeepRConfig::default()).unwrap();
    restored.load_state(&m.save_state()).unwrap();
    let (mut b, mut topo_b) = (layers.clone(), topo.clone());
    for t in 3..6 {
        if t > 3 {
            backward(&mut m, &mut layers, t, &mut topo);
            backward(&mut restored, &mut b, t, &mut topo_b);
        }
        let ea = step(&mut m, &mut layers, t, &mut topo);
        let eb = step(&mut restored, &mut b, t, &mut topo_b);
        assert_eq!(ea, eb, "step {t}");
        if t == 3 {
            assert!(
                !ea.edits.is_empty(),
                "the recorded signs removed the flipped weights"
            );
        }
    }
    assert_eq!(layers, b);
    assert!(restored.load_state(&[0x01]).is_err());
}

#[test]
fn sign_flips_are_removed_and_regrown_like_brute_force() {
    let (rows, cols, nnz) = (7usize, 6usize, 15usize);
    for seed in 0..30u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers = vec![layer(&mut rng, rows, cols, nnz, true)];
        let mut deepr = DeepR::new(quiet()).unwrap();
        let old = layers[0].weights.to_dense();
        backward(&mut deepr, &mut layers, 3, &mut rng);
        // The "optimizer": flips some weights, zeroes some, shrinks the rest.
        for v in layers[0].weights.values_mut() {
            match rng.random_range(0..4) {
                0 => *v *= -0.5,
                1 if seed % 3 == 0 => *v = 0.0,
                _ => *v *= 0.9,
            }
        }
        let mid = layers[0].weights.to_dense();
        let mut replay = rng.clone();
        let out = step(&mut deepr, &mut layers, 3, &mut rng);

        // Brute force over every position: θ = s·w with the sign read before the step.
        let mut survivors = Vec::new();
        let mut dormant = 0usize;
        for p in 0..rows * cols {
            let s = old[p].signum();
            if old[p] == 0.0 {
                continue; // never active
            }
            if s * mid[p] > 0.0 {
                survivors.push(((p / cols) as u32, (p % cols) as u32, mid[p]));
            } else {
                dormant += 1;
            }
        }
        let pruned = Csr::from_triplets(rows, cols, survivors.clone()).unwrap();
        let grown = sample_free_positions(&pruned, dormant, &mut replay).unwrap();
        let mut want = pruned.to_dense();
        let mut want_momentum = vec![f32::NAN; rows * cols];
        for &(i, j, _) in &survivors {
            want_momentum[i as usize * cols + j as usize] = 1.0;
        }
        for &(i, j) in &grown {
            let p = i as usize * cols + j as usize;
            assert_eq!(want[p], 0.0, "grown at a free position");
            want[p] = if replay.random::<bool>() {
                1e-12
            } else {
                -1e-12
            };
            want_momentum[p] = 0.0;
        }

        let after = &layers[0];
        assert_eq!(after.weights.to_dense(), want, "seed {seed}");
        assert_eq!(after.nnz(), nnz);
        let rows_idx = after.weights.row_indices();
        for (k, &i) in rows_idx.iter().enumerate() {
            let p = i as usize * cols + after.weights.col_idx()[k] as usize;
            assert_eq!(after.momentum[k], want_momentum[p]);
        }
        if dormant == 0 {
            assert!(out.edits.is_empty());
        } else {
            assert_eq!(
                out.edits,
                vec![EditStats {
                    layer: 0,
                    removed: dormant,
                    grown: dormant
                }]
            );
        }
    }
}

#[test]
fn l1_shrinks_theta_and_removes_what_reaches_zero() {
    let w = Csr::from_triplets(
        2,
        3,
        vec![(0, 0, 0.2), (0, 2, -0.2), (1, 0, 0.03), (1, 1, -0.03)],
    )
    .unwrap();
    let mut layers = vec![SparseLayer::new(
        w,
        WeightSampler::Uniform { limit: 1.0 },
        true,
    )];
    let cfg = DeepRConfig {
        eta: 0.1,
        l1: 0.5,
        ..quiet()
    };
    let mut deepr = DeepR::new(cfg).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    backward(&mut deepr, &mut layers, 0, &mut rng);
    let out = step(&mut deepr, &mut layers, 0, &mut rng);
    // θ ← θ − 0.1·0.5: 0.2 -> 0.15 (sign kept), 0.03 -> −0.02 (dormant).
    assert_eq!(
        out.edits,
        vec![EditStats {
            layer: 0,
            removed: 2,
            grown: 2
        }]
    );
    let d = layers[0].weights.to_dense();
    assert!(
        (d[0] - 0.15).abs() < 1e-7 && (d[2] + 0.15).abs() < 1e-7,
        "{d:?}"
    );
    // The two others are new connections of magnitude 1e-12 at the three free positions.
    let new: Vec<f32> = [1, 3, 4, 5]
        .iter()
        .map(|&p| d[p])
        .filter(|&v| v != 0.0)
        .collect();
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|v| v.abs() == NEW_THETA));
}

#[test]
fn noise_has_the_langevin_scale() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 20_000;
    let mut layers = vec![layer(&mut rng, 200, 200, n, true)];
    for v in layers[0].weights.values_mut() {
        *v = v.signum();
    }
    let cfg = DeepRConfig {
        eta: 1e-3,
        temperature: 1e-3,
        ..quiet()
    };
    let want_std = (2.0f64 * 1e-3 * 1e-3).sqrt();
    let mut deepr = DeepR::new(cfg).unwrap();
    assert_eq!(deepr.config().noise_std(&clock(0)), want_std);
    let before = layers[0].weights.values().to_vec();
    backward(&mut deepr, &mut layers, 0, &mut rng);
    let out = step(&mut deepr, &mut layers, 0, &mut rng);
    assert!(out.edits.is_empty(), "|θ| = 1 is far from 0");
    let d: Vec<f64> = before
        .iter()
        .zip(layers[0].weights.values())
        .map(|(&b, &a)| f64::from(b.signum()) * f64::from(a - b))
        .collect();
    let mean = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    assert!(
        mean.abs() < 4.0 * want_std / (n as f64).sqrt(),
        "mean {mean}"
    );
    assert!(
        (var.sqrt() / want_std - 1.0).abs() < 0.03,
        "std {}",
        var.sqrt()
    );
}

#[test]
fn default_temperature_schedule_by_quarters() {
    let c = DeepRConfig::default();
    for (s, t) in [
        (0, 1e-5),
        (24, 1e-5),
        (25, 1e-8),
        (49, 1e-8),
        (50, 1e-12),
        (74, 1e-12),
        (75, 1e-15),
        (99, 1e-15),
    ] {
        assert_eq!(c.temperature_at(&clock(s)), t, "step {s}");
    }
    // √(2 · 0.001 · 1e-5) = √(2e-8).
    assert!((c.noise_std(&clock(0)) - 1.414_213_562_373_095e-4).abs() < 1e-18);
    assert!((c.noise_std(&clock(80)) - 1.414_213_562_373_095e-9).abs() < 1e-22);
    let constant = DeepRConfig {
        temperature_schedule: Vec::new(),
        ..DeepRConfig::default()
    };
    assert_eq!(constant.temperature_at(&clock(99)), 1e-5);
    let off = DeepRConfig {
        temperature_schedule: vec![(0.5, 0.0)],
        ..DeepRConfig::default()
    };
    assert_eq!(off.noise_std(&clock(50)), 0.0);
    assert!(off.noise_std(&clock(49)) > 0.0);
}

#[test]
fn config_errors_name_the_field() {
    assert!(DeepRConfig::default().validate().is_ok());
    let field = |c: DeepRConfig| match DeepR::new(c) {
        Err(SparseError::Parameter { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    let d = DeepRConfig::default;
    assert_eq!(field(DeepRConfig { eta: -1.0, ..d() }), "eta");
    assert_eq!(
        field(DeepRConfig {
            eta: f64::INFINITY,
            ..d()
        }),
        "eta"
    );
    assert_eq!(
        field(DeepRConfig {
            temperature: f64::NAN,
            ..d()
        }),
        "temperature"
    );
    assert_eq!(field(DeepRConfig { l1: -1e-5, ..d() }), "l1");
    for schedule in [
        vec![(0.0, 1e-8)],
        vec![(1.5, 1e-8)],
        vec![(0.5, -1.0)],
        vec![(0.5, 1e-8), (0.5, 1e-9)],
        vec![(0.6, 1e-8), (0.5, 1e-9)],
    ] {
        assert_eq!(
            field(DeepRConfig {
                temperature_schedule: schedule,
                ..d()
            }),
            "temperature_schedule"
        );
    }
}

#[test]
fn static_layers_are_untouched_and_runs_are_deterministic() {
    let run = || {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut layers = vec![
            layer(&mut rng, 7, 6, 12, true),
            layer(&mut rng, 6, 2, 12, false),
        ];
        let original_static = layers[1].clone();
        let cfg = DeepRConfig {
            temperature: 0.1,
            l1: 10.0,
            temperature_schedule: Vec::new(),
            eta: 0.01,
        };
        let mut deepr = DeepR::new(cfg).unwrap();
        let mut removed = 0;
        for s in 0..20 {
            backward(&mut deepr, &mut layers, s, &mut rng);
            for e in step(&mut deepr, &mut layers, s, &mut rng).edits {
                assert_eq!(e.layer, 0);
                assert_eq!(e.removed, e.grown);
                removed += e.removed;
            }
            assert_eq!(layers[1], original_static);
            assert_eq!(layers[0].nnz(), 12);
        }
        assert!(
            removed > 0,
            "std 0.045 and shrinkage 0.1 must kill something"
        );
        layers
    };
    assert_eq!(run(), run());
}

#[test]
fn without_a_record_the_current_sign_is_used() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut layers = vec![layer(&mut rng, 7, 6, 10, true)];
    let mut deepr = DeepR::new(quiet()).unwrap();
    let before = layers[0].clone();
    // No after_backward: nothing can be seen crossing zero.
    assert!(step(&mut deepr, &mut layers, 0, &mut rng).edits.is_empty());
    assert_eq!(layers[0], before);
    // A record is used once: after a rewiring, a second after_step must not reuse it.
    backward(&mut deepr, &mut layers, 1, &mut rng);
    layers[0].weights.values_mut()[0] *= -1.0;
    assert_eq!(step(&mut deepr, &mut layers, 1, &mut rng).edits.len(), 1);
    let rewired = layers[0].clone();
    assert!(step(&mut deepr, &mut layers, 1, &mut rng).edits.is_empty());
    assert_eq!(layers[0], rewired);
}

#[test]
fn trait_defaults() {
    let mut deepr = DeepR::new(DeepRConfig::default()).unwrap();
    assert_eq!(deepr.name(), "deepr");
    assert!(!deepr.wants_gradients(&clock(0)));
    assert_eq!(deepr.initial_densities(&[0.1, 1.0]), vec![0.1, 1.0]);
}
