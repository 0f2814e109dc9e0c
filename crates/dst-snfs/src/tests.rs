//! Unit tests of SNFS: the schedule against hand-computed values, the configuration checks,
//! and whole updates of a toy network against a dense brute-force re-implementation.

use super::*;
use conformance::fixtures::clock;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::random_pattern;
use sparse_core::{GradientSource, SparseLayer, WeightSampler};
use std::ops::Range;

/// Dense gradient scores of every layer (`n_out`, row-major scores), for the brute force.
struct DenseScores(Vec<(usize, Vec<f32>)>);

impl GradientSource for DenseScores {
    fn fill_rows(&mut self, layer: usize, rows: Range<usize>, out: &mut [f32]) {
        let (n_out, m) = (&self.0[layer].0, &self.0[layer].1);
        out.copy_from_slice(&m[rows.start * n_out..rows.end * n_out]);
    }
}

#[test]
fn updates_at_the_end_of_every_epoch_but_the_last() {
    let snfs = Snfs::new(SnfsConfig::default()).unwrap();
    // 4 epochs of 5 steps: the last steps are 4, 9, 14 and 19; 19 ends training.
    let steps: Vec<usize> = (0..20)
        .filter(|&t| snfs.is_update_step(&clock(t, 4, 5)))
        .collect();
    assert_eq!(steps, [4, 9, 14]);
    for t in 0..20 {
        let c = clock(t, 4, 5);
        assert_eq!(snfs.wants_gradients(&c), snfs.is_update_step(&c));
    }
    let every3 = Snfs::new(SnfsConfig {
        update_every: 3,
        ..SnfsConfig::default()
    })
    .unwrap();
    let steps: Vec<usize> = (0..20)
        .filter(|&t| every3.is_update_step(&clock(t, 4, 5)))
        .collect();
    assert_eq!(steps, [2, 5, 8, 11, 14, 17]);
    // Every step of a one-step-per-epoch run but the last.
    let steps: Vec<usize> = (0..3)
        .filter(|&t| snfs.is_update_step(&clock(t, 3, 1)))
        .collect();
    assert_eq!(steps, [0, 1]);
}

#[test]
fn prune_rate_follows_cosine_annealing() {
    let snfs = Snfs::new(SnfsConfig::default()).unwrap();
    // T = 20; p(t) = 0.005 + 0.495 (1 + cos(pi t / 20)) / 2 at t = step + 1, by hand:
    // t = 5: 0.005 + 0.495 * 0.853553390593 = 0.427508928344
    // t = 10: 0.005 + 0.495 * 0.5 = 0.2525
    // t = 15: 0.005 + 0.495 * 0.146446609407 = 0.077491071656
    // t = 20: 0.005
    let want = [
        (4, 0.427_508_928_344),
        (9, 0.2525),
        (14, 0.077_491_071_656),
        (19, 0.005),
    ];
    for (step, p) in want {
        let got = snfs.prune_rate(&clock(step, 4, 5));
        assert!((got - p).abs() < 1e-11, "step {step}: {got} != {p}");
    }
}

#[test]
fn config_errors_name_the_field() {
    let name = |c: SnfsConfig| match Snfs::new(c) {
        Err(SparseError::Parameter { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    let d = SnfsConfig::default();
    assert_eq!(
        name(SnfsConfig {
            prune_rate: 1.5,
            ..d
        }),
        "prune_rate"
    );
    assert_eq!(
        name(SnfsConfig {
            prune_rate: f64::NAN,
            ..d
        }),
        "prune_rate"
    );
    assert_eq!(
        name(SnfsConfig {
            prune_rate_min: 0.6,
            ..d
        }),
        "prune_rate_min"
    );
    assert_eq!(
        name(SnfsConfig {
            prune_rate_min: -0.1,
            ..d
        }),
        "prune_rate_min"
    );
    let parsed: SnfsConfig = toml::from_str("update_every = 100").unwrap();
    assert_eq!(
        parsed,
        SnfsConfig {
            update_every: 100,
            ..d
        }
    );
    assert!(toml::from_str::<SnfsConfig>("prune_rat = 0.3").is_err());
    assert_eq!(Snfs::new(d).unwrap().name(), "snfs");
}

/// A toy network: two dynamic layers (7x6 with 20 connections, 6x5 with 26 of 30) and a
/// dense static 5x3 output layer, with random weights, gradient scores, and momentum scaled by
/// `scales` per layer (a large scale on the nearly full layer makes its cap bind).
fn network(seed: u64, scales: [f32; 3]) -> (Vec<SparseLayer>, DenseScores) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shapes = [
        (7usize, 6usize, 20usize, true),
        (6, 5, 26, true),
        (5, 3, 15, false),
    ];
    let mut layers = Vec::new();
    let mut scores = Vec::new();
    for (l, &(r, c, n, dynamic)) in shapes.iter().enumerate() {
        let mut layer = SparseLayer::new(
            random_pattern(r, c, n, &mut rng).unwrap(),
            WeightSampler::Uniform { limit: 1.0 },
            dynamic,
        );
        for v in layer.weights.values_mut() {
            *v = rng.random_range(-1.0..1.0);
        }
        layer.momentum = (0..n)
            .map(|_| scales[l] * rng.random_range(-1.0f32..1.0))
            .collect();
        layer.grad = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        layers.push(layer);
        scores.push((c, (0..r * c).map(|_| rng.random_range(0.0..1.0)).collect()));
    }
    (layers, DenseScores(scores))
}

/// One layer as dense arrays, for the brute force only.
struct Dense {
    n_out: usize,
    w: Vec<f32>,
    m: Vec<f32>,
    present: Vec<bool>,
}

fn dense(layer: &SparseLayer) -> Dense {
    let (n_in, n_out) = (layer.n_in(), layer.n_out());
    let mut d = Dense {
        n_out,
        w: vec![0.0; n_in * n_out],
        m: vec![0.0; n_in * n_out],
        present: vec![false; n_in * n_out],
    };
    let rows = layer.weights.row_indices();
    for (k, &i) in rows.iter().enumerate() {
        let p = i as usize * n_out + layer.weights.col_idx()[k] as usize;
        d.w[p] = layer.weights.values()[k];
        d.m[p] = layer.momentum[k];
        d.present[p] = true;
    }
    d
}

/// Brute-force regrowth split: the water-filling point found by trying every subset of capped
/// layers, then the integer split (enumerated) closest to it in squared distance.
fn brute_force_split(total: usize, w: &[f64], caps: &[usize]) -> Vec<usize> {
    let n = w.len();
    let mut x = None;
    for mask in 0..(1usize << n) {
        let inside = |l: usize| mask >> l & 1 == 1;
        let fixed: usize = (0..n).filter(|&l| inside(l)).map(|l| caps[l]).sum();
        let den: f64 = (0..n).filter(|&l| !inside(l)).map(|l| w[l]).sum();
        if fixed > total || (den == 0.0 && fixed != total) {
            continue;
        }
        let level = if den > 0.0 {
            (total - fixed) as f64 / den
        } else {
            0.0
        };
        let ok = (0..n).all(|l| {
            let v = level * w[l];
            if inside(l) {
                v >= caps[l] as f64
            } else {
                v <= caps[l] as f64
            }
        });
        if ok {
            x = Some(
                (0..n)
                    .map(|l| {
                        if inside(l) {
                            caps[l] as f64
                        } else {
                            level * w[l]
                        }
                    })
                    .collect::<Vec<f64>>(),
            );
            break;
        }
    }
    let x = x.expect("a water level exists");
    let mut best = (f64::INFINITY, Vec::new());
    let mut g = vec![0usize; n];
    loop {
        if g.iter().sum::<usize>() == total {
            let d: f64 = (0..n).map(|l| (g[l] as f64 - x[l]).powi(2)).sum();
            if d < best.0 {
                best = (d, g.clone());
            }
        }
        let mut l = 0;
        while l < n && g[l] == caps[l] {
            g[l] = 0;
            l += 1;
        }
        if l == n {
            break;
        }
        g[l] += 1;
    }
    best.1
}

/// The whole SNFS update on dense arrays: returns each dynamic layer's expected dense state
/// after the update and its (removed, grown) counts, and whether a cap was binding.
fn brute_force_update(
    layers: &[SparseLayer],
    scores: &DenseScores,
    rate: f64,
    by_gradient: bool,
) -> (Vec<(usize, Dense, usize, usize)>, bool) {
    let mut plans = Vec::new();
    let mut shares = Vec::new();
    let mut caps = Vec::new();
    for (l, layer) in layers.iter().enumerate() {
        if !layer.dynamic {
            continue;
        }
        let mut d = dense(layer);
        let active: Vec<usize> = (0..d.w.len()).filter(|&p| d.present[p]).collect();
        let mean = active.iter().map(|&p| f64::from(d.m[p].abs())).sum::<f64>()
            / active.len().max(1) as f64;
        let removed = (rate * active.len() as f64).ceil() as usize;
        let mut order = active.clone();
        order.sort_by(|&a, &b| d.w[a].abs().total_cmp(&d.w[b].abs()).then(a.cmp(&b)));
        for &p in &order[..removed] {
            d.present[p] = false;
            d.w[p] = 0.0;
            d.m[p] = 0.0;
        }
        shares.push(mean);
        caps.push(d.present.iter().filter(|&&b| !b).count());
        plans.push((l, d, removed));
    }
    let total: usize = plans.iter().map(|p| p.2).sum();
    let split = brute_force_split(total, &shares, &caps);
    let share_sum: f64 = shares.iter().sum();
    let binding = (0..caps.len()).any(|i| shares[i] / share_sum * total as f64 > caps[i] as f64);
    let mut out = Vec::new();
    for ((l, mut d, removed), &grow) in plans.into_iter().zip(&split) {
        if by_gradient {
            let g = &scores.0[l].1;
            let mut free: Vec<usize> = (0..d.w.len()).filter(|&p| !d.present[p]).collect();
            free.sort_by(|&a, &b| g[b].total_cmp(&g[a]).then(a.cmp(&b)));
            for &p in &free[..grow] {
                d.present[p] = true;
            }
        }
        out.push((l, d, removed, grow));
    }
    (out, binding)
}

#[test]
fn update_matches_a_dense_brute_force() {
    let mut binding_seen = 0;
    for seed in 0..40u64 {
        let scales = if seed % 2 == 0 {
            [1.0, 8.0, 1.0]
        } else {
            [1.0, 0.3, 1.0]
        };
        let (mut layers, mut scores) = network(seed, scales);
        let before = layers.clone();
        let mut snfs = Snfs::new(SnfsConfig::default()).unwrap();
        let c = clock(9, 10, 10);
        let rate = snfs.prune_rate(&c);
        let (want, binding) = brute_force_update(&before, &scores, rate, true);
        binding_seen += usize::from(binding);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let out = snfs.after_step(&mut DstContext {
            layers: &mut layers,
            clock: c,
            rng: &mut rng,
            gradients: Some(&mut scores),
        });
        assert!(!out.skip_optimizer_step);
        assert_eq!(layers[2], before[2], "the static layer is untouched");
        let expected_edits: Vec<EditStats> = want
            .iter()
            .map(|(l, _, removed, grown)| EditStats {
                layer: *l,
                removed: *removed,
                grown: *grown,
            })
            .collect();
        assert_eq!(out.edits, expected_edits, "seed {seed}");
        let nnz = |ls: &[SparseLayer]| ls[0].nnz() + ls[1].nnz();
        assert_eq!(nnz(&layers), nnz(&before), "total budget kept");
        for (l, d, _, _) in &want {
            let got = dense(&layers[*l]);
            assert_eq!(got.present, d.present, "seed {seed} layer {l} pattern");
            // Survivors keep weight and momentum; new connections start at 0 (d has 0 there).
            assert_eq!(got.w, d.w, "seed {seed} layer {l} weights");
            assert_eq!(got.m, d.m, "seed {seed} layer {l} momentum");
            assert_eq!(got.n_out, d.n_out);
            assert_eq!(layers[*l].grad.len(), layers[*l].nnz());
        }
    }
    assert!(
        binding_seen >= 5,
        "the cap must bind in some cases ({binding_seen})"
    );
}

#[test]
fn random_growth_without_gradients_keeps_counts_and_is_seeded() {
    let run = |seed: u64| {
        let (mut layers, scores) = network(seed, [1.0, 8.0, 1.0]);
        let before = layers.clone();
        let mut snfs = Snfs::new(SnfsConfig::default()).unwrap();
        let c = clock(9, 10, 10);
        let (want, _) = brute_force_update(&before, &scores, snfs.prune_rate(&c), false);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let out = snfs.after_step(&mut DstContext {
            layers: &mut layers,
            clock: c,
            rng: &mut rng,
            gradients: None,
        });
        for ((l, kept, removed, grown), e) in want.iter().zip(&out.edits) {
            assert_eq!((e.layer, e.removed, e.grown), (*l, *removed, *grown));
            let got = dense(&layers[*l]);
            for p in 0..got.present.len() {
                if kept.present[p] {
                    assert!(got.present[p], "survivors stay");
                    assert_eq!((got.w[p], got.m[p]), (kept.w[p], kept.m[p]));
                } else if got.present[p] {
                    assert_eq!((got.w[p], got.m[p]), (0.0, 0.0), "new start at zero");
                }
            }
        }
        layers
    };
    for seed in 0..10 {
        assert_eq!(run(seed), run(seed), "same seed, same edits");
    }
}

#[test]
fn other_hooks_and_off_schedule_steps_do_nothing() {
    let (mut layers, mut scores) = network(3, [1.0, 1.0, 1.0]);
    let before = layers.clone();
    let mut snfs = Snfs::new(SnfsConfig::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for step in [0usize, 5, 99] {
        let mut ctx = DstContext {
            layers: &mut layers,
            clock: clock(step, 10, 10),
            rng: &mut rng,
            gradients: Some(&mut scores),
        };
        assert_eq!(snfs.after_step(&mut ctx), HookOutcome::none());
        assert_eq!(snfs.after_backward(&mut ctx), HookOutcome::none());
        assert_eq!(snfs.end_of_epoch(&mut ctx), HookOutcome::none());
    }
    assert_eq!(layers, before);
}

#[test]
fn zero_momentum_regrows_each_layer_what_it_lost() {
    let (mut layers, mut scores) = network(5, [0.0, 0.0, 0.0]);
    let before = layers.clone();
    let mut snfs = Snfs::new(SnfsConfig::default()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let out = snfs.after_step(&mut DstContext {
        layers: &mut layers,
        clock: clock(9, 10, 10),
        rng: &mut rng,
        gradients: Some(&mut scores),
    });
    assert_eq!(out.edits.len(), 2);
    for e in &out.edits {
        assert_eq!(e.removed, e.grown);
        assert_eq!(layers[e.layer].nnz(), before[e.layer].nnz());
    }
}
