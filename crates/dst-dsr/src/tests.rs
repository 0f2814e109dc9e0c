//! Tests of DSR against hand-computed values and a dense brute-force re-implementation of the
//! rewire (dense buffers appear only here, on layers of a few dozen positions).

use super::*;
use conformance::fixtures::clock;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::random_pattern;
use sparse_core::{Csr, SparseLayer, WeightSampler};

/// Brute force: the exact water-filling quotas `q_l = min(cap_l, lambda w_l)` are found by
/// trying every set of capped layers, then every integer vector within the caps summing to
/// the total is scored by its squared distance to `q` (exact, scaled to integers); the
/// closest wins, ties going to the lexicographically largest (lower layers rounded up first).
pub(crate) fn brute_force_allocation(
    total: usize,
    weights: &[usize],
    caps: &[usize],
) -> Vec<usize> {
    let n = weights.len();
    let total = total.min(caps.iter().sum());
    // Scaled quotas q_l * den, as integers, for the one consistent set of capped layers.
    let mut best_q: Option<(Vec<i128>, i128)> = None;
    for mask in 0u32..(1 << n) {
        let capped = |l: usize| mask & (1 << l) != 0;
        let cap_sum: usize = (0..n).filter(|&l| capped(l)).map(|l| caps[l]).sum();
        if cap_sum > total {
            continue;
        }
        let rest = (total - cap_sum) as i128;
        let uncapped_weightless = (0..n).filter(|&l| !capped(l)).all(|l| weights[l] == 0);
        let consistent;
        let ws: Vec<i128>;
        if uncapped_weightless {
            // lambda is infinite: every layer with weight is full, the rest split by room.
            ws = (0..n).map(|l| caps[l] as i128).collect();
            consistent = (0..n).all(|l| !capped(l) || weights[l] > 0 || caps[l] == 0);
        } else {
            ws = (0..n).map(|l| weights[l] as i128).collect();
            let den: i128 = (0..n).filter(|&l| !capped(l)).map(|l| ws[l]).sum();
            consistent = (0..n).all(|l| {
                let (share, cap) = (rest * ws[l], caps[l] as i128 * den);
                if capped(l) {
                    share >= cap
                } else {
                    share <= cap
                }
            });
        }
        let den: i128 = (0..n).filter(|&l| !capped(l)).map(|l| ws[l]).sum();
        if !consistent || (den == 0 && rest != 0) {
            continue;
        }
        let den = den.max(1);
        let q = (0..n)
            .map(|l| {
                if capped(l) {
                    caps[l] as i128 * den
                } else {
                    rest * ws[l]
                }
            })
            .collect();
        best_q = Some((q, den));
        break;
    }
    let (q, den) = best_q.expect("a water-filling solution exists");
    let mut best: Option<(i128, Vec<usize>)> = None;
    let mut a = vec![0usize; n];
    loop {
        if a.iter().sum::<usize>() == total {
            let d: i128 = (0..n).map(|l| (a[l] as i128 * den - q[l]).pow(2)).sum();
            let better = match &best {
                None => true,
                Some((bd, ba)) => d < *bd || (d == *bd && a > *ba),
            };
            if better {
                best = Some((d, a.clone()));
            }
        }
        // Next vector of the box 0..=caps.
        let mut l = 0;
        while l < n && a[l] == caps[l] {
            a[l] = 0;
            l += 1;
        }
        if l == n {
            break;
        }
        a[l] += 1;
    }
    best.expect("some vector sums to the total").1
}

/// A config that rewires after every step until the end, for hook-level tests.
fn every_step(target_pruned: Option<usize>) -> DsrConfig {
    DsrConfig {
        period: 1,
        target_pruned,
        period_doubling_fractions: vec![],
        stop_fraction: 1.0,
        ..DsrConfig::default()
    }
}

fn layer(n_in: usize, n_out: usize, triplets: Vec<(u32, u32, f32)>, dynamic: bool) -> SparseLayer {
    let mut l = SparseLayer::new(
        Csr::from_triplets(n_in, n_out, triplets).unwrap(),
        WeightSampler::Uniform { limit: 1.0 },
        dynamic,
    );
    l.momentum = (0..l.nnz()).map(|k| k as f32 + 1.0).collect();
    l
}

/// Row-major triplets filling the first positions of an `n_out`-wide layer with `values`.
fn first_positions(n_out: usize, values: &[f32]) -> Vec<(u32, u32, f32)> {
    values
        .iter()
        .enumerate()
        .map(|(p, &v)| ((p / n_out) as u32, (p % n_out) as u32, v))
        .collect()
}

fn rewire_at(
    dsr: &mut Dsr,
    layers: &mut [SparseLayer],
    c: TrainingClock,
    seed: u64,
) -> HookOutcome {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    dsr.after_step(&mut DstContext {
        layers,
        clock: c,
        rng: &mut rng,
        gradients: None,
    })
}

/// Dense view of a layer: `Some((weight, momentum))` per position, row-major.
fn dense(l: &SparseLayer) -> Vec<Option<(f32, f32)>> {
    let mut out = vec![None; l.n_in() * l.n_out()];
    let rows = l.weights.row_indices();
    for (k, &i) in rows.iter().enumerate() {
        let p = i as usize * l.n_out() + l.weights.col_idx()[k] as usize;
        out[p] = Some((l.weights.values()[k], l.momentum[k]));
    }
    out
}

fn assert_well_formed(l: &SparseLayer) {
    conformance::fixtures::check_layer(l).unwrap();
}

#[test]
fn threshold_adapts_as_computed_by_hand() {
    // Two dynamic layers and a static output layer whose tiny weights must never be pruned.
    let a = [0.0002, 0.0006, 0.0009, 0.0015, 0.003, 0.0035, 0.2, 0.3];
    let b = [0.0001, 0.0007, 0.0012, 0.25, 0.5, 0.75];
    let mut layers = vec![
        layer(5, 4, first_positions(4, &a), true),
        layer(4, 3, first_positions(3, &b), true),
        layer(3, 2, first_positions(2, &[0.0, 0.0001, 0.0002]), false),
    ];
    let output = layers[2].clone();
    // N = 2: H halves when K >= 3 (> 2.2), doubles when K <= 1 (< 1.8), stays when K = 2.
    let mut dsr = Dsr::new(every_step(Some(2))).unwrap();
    // Round 1, H = 1e-3: A loses 0.0002, 0.0006, 0.0009; B loses 0.0001, 0.0007 (K = 5).
    // Round 2, H = 5e-4: nothing. Round 3, H = 1e-3: nothing (0.0012 and 0.0015 are above).
    // Round 4, H = 2e-3: A loses 0.0015, B loses 0.0012 (K = 2, H stays).
    // Round 5, H = 2e-3: nothing. Round 6, H = 4e-3: A loses 0.003 and 0.0035 (K = 2).
    // Round 7, H = 4e-3: nothing.
    let want_k = [5, 0, 0, 2, 0, 2, 0];
    let want_h = [0.5, 1.0, 2.0, 2.0, 4.0, 4.0, 8.0].map(|x| x * 1e-3);
    // Regrown (removed, grown) per dynamic layer in the rounds that prune. Round 1: survivors
    // 5 and 4 share K = 5 as 2.78 / 2.22 -> 3 / 2. Round 4: survivors 7 and 5 share 2 as
    // 1.17 / 0.83 -> 1 / 1. Round 6: survivors 6 and 6 -> 1 / 1, so B grows from 6 to 7.
    let want_edits = [
        (0, [(3, 3), (2, 2)]),
        (3, [(1, 1), (1, 1)]),
        (5, [(2, 1), (0, 1)]),
    ];
    let mut edits_seen = Vec::new();
    for round in 0..7 {
        let out = rewire_at(&mut dsr, &mut layers, clock(round, 1, 100), round as u64);
        let k: usize = out.edits.iter().map(|e| e.removed).sum();
        assert_eq!(k, want_k[round], "round {round}");
        assert_eq!(dsr.threshold(), want_h[round], "round {round}");
        assert_eq!(out.edits.len(), 2, "only dynamic layers are reported");
        edits_seen.push(out.edits);
        // "Training": new zero-weight connections move far from zero before the next rewire.
        for l in &mut layers[..2] {
            for v in l.weights.values_mut() {
                if *v == 0.0 {
                    *v = 1.0;
                }
            }
        }
    }
    for (round, pairs) in want_edits {
        for (d, &(removed, grown)) in pairs.iter().enumerate() {
            assert_eq!(
                edits_seen[round][d],
                EditStats {
                    layer: d,
                    removed,
                    grown
                },
                "round {round}"
            );
        }
    }
    assert_eq!((layers[0].nnz(), layers[1].nnz()), (7, 7));
    assert_eq!(layers[2], output);
}

/// Random network: two dynamic layers (7x6, 6x5) and a static output layer.
fn network(seed: u64, scale: f32) -> Vec<SparseLayer> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let shapes = [
        (7usize, 6usize, 20usize, true),
        (6, 5, 12, true),
        (5, 3, 15, false),
    ];
    shapes
        .iter()
        .map(|&(r, c, n, dynamic)| {
            let mut l = SparseLayer::new(
                random_pattern(r, c, n, &mut rng).unwrap(),
                WeightSampler::Uniform { limit: 1.0 },
                dynamic,
            );
            for v in l.weights.values_mut() {
                *v = rng.random_range(-scale..scale);
            }
            l.momentum = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            l.grad = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            l
        })
        .collect()
}

#[test]
fn rewire_matches_a_dense_brute_force() {
    for seed in 0..40u64 {
        // Weights within +-4e-3 so that H = 1e-3 prunes about a quarter of them.
        let mut layers = network(seed, 4e-3);
        let before = layers.clone();
        let mut dsr = Dsr::new(DsrConfig {
            period: 5,
            ..DsrConfig::default()
        })
        .unwrap();
        let h = dsr.threshold();
        let out = rewire_at(&mut dsr, &mut layers, clock(4, 10, 100), seed);
        assert_eq!(layers[2], before[2], "static layer untouched");

        // Brute force on the dense grids.
        let (mut pruned, mut surviving, mut room) = (vec![], vec![], vec![]);
        for l in &before[..2] {
            let d = dense(l);
            pruned.push(
                d.iter()
                    .flatten()
                    .filter(|x| f64::from(x.0.abs()) < h)
                    .count(),
            );
            surviving.push(
                d.iter()
                    .flatten()
                    .filter(|x| f64::from(x.0.abs()) >= h)
                    .count(),
            );
            room.push(d.iter().filter(|x| x.is_none()).count());
        }
        let k: usize = pruned.iter().sum();
        assert!(k <= room.iter().sum(), "this network is sparse enough");
        let want = brute_force_allocation(k, &surviving, &room);
        for d in 0..2 {
            let (old, new) = (dense(&before[d]), dense(&layers[d]));
            let mut grown = 0;
            for p in 0..old.len() {
                match (old[p], new[p]) {
                    (Some(o), n) if f64::from(o.0.abs()) >= h => {
                        assert_eq!(n, Some(o), "survivor keeps weight and momentum");
                    }
                    (Some(_), n) => assert_eq!(n, None, "just-pruned position not regrown"),
                    (None, Some(n)) => {
                        assert_eq!(n, (0.0, 0.0), "new connection starts at zero");
                        grown += 1;
                    }
                    (None, None) => {}
                }
            }
            assert_eq!(grown, want[d], "seed {seed} layer {d}");
            assert_eq!(
                out.edits[d],
                EditStats {
                    layer: d,
                    removed: pruned[d],
                    grown
                }
            );
            assert_well_formed(&layers[d]);
        }
        assert_eq!(layers[0].nnz() + layers[1].nnz(), 32, "budget");
        // N = 5% of 32 = 1.6: halve when K > 1.76, double when K < 1.44.
        let want_h = match k {
            0 | 1 => 2e-3,
            _ => 5e-4,
        };
        assert_eq!(dsr.threshold(), want_h, "seed {seed}, K = {k}");
        assert_eq!(dsr.target_pruned(), Some(0.05 * 32.0));
    }
}

#[test]
fn large_prunes_never_regrow_just_pruned_positions() {
    // H above every weight: all connections are pruned, so every survivor count is 0 and the
    // whole budget is placed by room; none may land where a connection just was.
    for seed in 0..30u64 {
        let mut layers = network(seed, 1e-4);
        let before = layers.clone();
        let mut dsr = Dsr::new(every_step(None)).unwrap();
        let out = rewire_at(&mut dsr, &mut layers, clock(0, 1, 10), seed);
        assert_eq!(out.edits.iter().map(|e| e.removed).sum::<usize>(), 32);
        for d in 0..2 {
            let (old, new) = (dense(&before[d]), dense(&layers[d]));
            for p in 0..old.len() {
                assert!(!(old[p].is_some() && new[p].is_some()), "seed {seed}");
            }
            assert_well_formed(&layers[d]);
        }
        // Split by room: 42 - 20 = 22 and 30 - 12 = 18 share 32 as 17.6 / 14.4 -> 18 / 14.
        assert_eq!((layers[0].nnz(), layers[1].nnz()), (18, 14));
    }
}

#[test]
fn dense_layers_refill_just_pruned_positions_to_keep_the_budget() {
    // 3x2 layer with 5 of 6 positions: 3 pruned but room for 1, so 2 go back to pruned spots.
    let w = [0.0001, 0.0002, 0.0003, 0.5, 0.6];
    let mut layers = vec![layer(3, 2, first_positions(2, &w), true)];
    let mut dsr = Dsr::new(every_step(None)).unwrap();
    let out = rewire_at(&mut dsr, &mut layers, clock(0, 1, 10), 1);
    assert_eq!(
        out.edits,
        vec![EditStats {
            layer: 0,
            removed: 3,
            grown: 3
        }]
    );
    let d = dense(&layers[0]);
    assert_eq!(d[5], Some((0.0, 0.0)), "the free position is used first");
    assert_eq!(d[3].unwrap().0, 0.5);
    assert_eq!(d[4].unwrap().0, 0.6);
    assert_eq!(d[..3].iter().flatten().count(), 2);
    assert!(d[..3].iter().flatten().all(|&x| x == (0.0, 0.0)));
}

#[test]
fn schedule_doubles_and_stops_as_computed_by_hand() {
    let dsr = Dsr::new(DsrConfig {
        period: 10,
        ..DsrConfig::default()
    })
    .unwrap();
    // T = 1000: doublings after 125, 400 and 700 steps, no rewire after 950.
    let got: Vec<usize> = (0..1000)
        .filter(|&t| dsr.is_rewire_step(&clock(t, 10, 100)))
        .map(|t| t + 1)
        .collect();
    let mut want: Vec<usize> = (1..=12).map(|k| 10 * k).collect(); // 10 .. 120, period 10
    want.extend((7..=20).map(|k| 20 * k)); // 140 .. 400, period 20
    want.extend((11..=17).map(|k| 40 * k)); // 440 .. 680, period 40
    want.extend([720, 800, 880]); // period 80, stop at 950
    assert_eq!(got, want);
    // The reference's 200 epochs (50 steps each): doubling after epochs 25, 80, 140, none
    // after epoch 190.
    let reference = Dsr::new(DsrConfig::default()).unwrap();
    let at = |s: usize| clock(s - 1, 200, 50);
    assert_eq!(reference.period(&at(1250)), 100);
    assert_eq!(reference.period(&at(1251)), 200);
    assert_eq!(reference.period(&at(4001)), 400);
    assert_eq!(reference.period(&at(7000)), 400);
    assert_eq!(reference.period(&at(7001)), 800);
    assert!(reference.is_rewire_step(&at(8800)));
    assert!(
        !reference.is_rewire_step(&at(9200)),
        "not a multiple of 800"
    );
    assert!(
        !reference.is_rewire_step(&at(9600)),
        "frozen after 95% (9500 steps)"
    );
    assert!(!reference.is_rewire_step(&clock(0, 200, 50)));
}

#[test]
fn no_edit_between_rewires_and_target_fixed_from_the_start() {
    let mut layers = network(3, 4e-3);
    let before = layers.clone();
    let mut dsr = Dsr::new(DsrConfig::default()).unwrap();
    let out = rewire_at(&mut dsr, &mut layers, clock(3, 10, 100), 0);
    assert_eq!(out, HookOutcome::none());
    assert_eq!(layers, before);
    assert_eq!(dsr.target_pruned(), Some(1.6));
    assert_eq!(dsr.threshold(), 1e-3);
    let mut absolute = Dsr::new(every_step(Some(600))).unwrap();
    rewire_at(&mut absolute, &mut layers, clock(3, 10, 100), 0);
    assert_eq!(absolute.target_pruned(), Some(600.0));
    assert_eq!(absolute.name(), "dsr");
    assert!(!absolute.wants_gradients(&clock(3, 10, 100)));
}

/// A method restored from mid-run state (threshold and target adapted by earlier rewires)
/// continues exactly like the one that kept running; a fresh method does not.
#[test]
fn restored_mid_run_state_continues_identically() {
    let mut layers = network(5, 4e-3);
    let mut dsr = Dsr::new(every_step(None)).unwrap();
    for t in 0..3 {
        rewire_at(&mut dsr, &mut layers, clock(t, 1, 10), 42 + t as u64);
    }
    assert_ne!(dsr.threshold(), DsrConfig::default().initial_threshold);
    let mut restored = Dsr::new(every_step(None)).unwrap();
    restored.load_state(&dsr.save_state()).unwrap();
    let mut fresh = Dsr::new(every_step(None)).unwrap();
    let (mut a, mut b, mut c) = (layers.clone(), layers.clone(), layers);
    let (mut kept, mut restarted) = (Vec::new(), Vec::new());
    for t in 3..6 {
        let c_t = clock(t, 1, 10);
        let ea = rewire_at(&mut dsr, &mut a, c_t, 42 + t as u64);
        let eb = rewire_at(&mut restored, &mut b, c_t, 42 + t as u64);
        rewire_at(&mut fresh, &mut c, c_t, 42 + t as u64);
        assert_eq!(ea, eb, "step {t}");
        assert_eq!(dsr.threshold().to_bits(), restored.threshold().to_bits());
        kept.push(dsr.threshold());
        restarted.push(fresh.threshold());
    }
    assert_eq!(a, b);
    assert_ne!(
        kept, restarted,
        "the state matters: a fresh method adapts differently"
    );
    assert!(Dsr::new(every_step(None))
        .unwrap()
        .load_state(&[1, 2])
        .is_err());
}

#[test]
fn same_seed_same_topology() {
    let mut a = network(5, 4e-3);
    let mut b = a.clone();
    let mut d1 = Dsr::new(every_step(None)).unwrap();
    let mut d2 = Dsr::new(every_step(None)).unwrap();
    for t in 0..5 {
        rewire_at(&mut d1, &mut a, clock(t, 1, 10), 42 + t as u64);
        rewire_at(&mut d2, &mut b, clock(t, 1, 10), 42 + t as u64);
    }
    assert_eq!(a, b);
}

#[test]
fn invalid_configs_name_the_field() {
    let field = |c: DsrConfig| match Dsr::new(c) {
        Err(SparseError::Parameter { name, .. }) => name,
        other => panic!("expected a parameter error, got {other:?}"),
    };
    let d = DsrConfig::default;
    assert_eq!(
        field(DsrConfig {
            initial_threshold: 0.0,
            ..d()
        }),
        "initial_threshold"
    );
    assert_eq!(
        field(DsrConfig {
            initial_threshold: f64::NAN,
            ..d()
        }),
        "initial_threshold"
    );
    assert_eq!(field(DsrConfig { period: 0, ..d() }), "period");
    assert_eq!(
        field(DsrConfig {
            target_pruned_fraction: 0.0,
            ..d()
        }),
        "target_pruned_fraction"
    );
    assert_eq!(
        field(DsrConfig {
            target_pruned: Some(0),
            ..d()
        }),
        "target_pruned"
    );
    assert_eq!(
        field(DsrConfig {
            period_doubling_fractions: vec![0.5, 0.2],
            ..d()
        }),
        "period_doubling_fractions"
    );
    assert_eq!(
        field(DsrConfig {
            period_doubling_fractions: vec![1.5],
            ..d()
        }),
        "period_doubling_fractions"
    );
    assert_eq!(
        field(DsrConfig {
            stop_fraction: -0.1,
            ..d()
        }),
        "stop_fraction"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn many_rewires_keep_the_layers_valid_and_the_budget(
        seed: u64,
        shapes in prop::collection::vec((1usize..8, 1usize..8, 0.0f64..=1.0), 1..4),
        period in 1usize..4,
        target in prop::option::of(1usize..10),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers: Vec<SparseLayer> = shapes
            .iter()
            .map(|&(r, c, fill)| {
                let n = ((fill * (r * c) as f64).round() as usize).min(r * c);
                let mut l = SparseLayer::new(
                    random_pattern(r, c, n, &mut rng).unwrap(),
                    WeightSampler::Uniform { limit: 1.0 },
                    true,
                );
                for v in l.weights.values_mut() {
                    // Some exact zeros, as for inputs that never fire.
                    *v = if rng.random_bool(0.2) { 0.0 } else { rng.random_range(-0.01..0.01) };
                }
                l
            })
            .collect();
        // A static output layer that must stay as it is.
        layers.push(SparseLayer::new(
            random_pattern(3, 2, 4, &mut rng).unwrap(),
            WeightSampler::Uniform { limit: 1.0 },
            false,
        ));
        let output = layers.last().unwrap().clone();
        let budget: usize = layers.iter().filter(|l| l.dynamic).map(|l| l.nnz()).sum();
        let mut dsr = Dsr::new(DsrConfig {
            period,
            target_pruned: target,
            period_doubling_fractions: vec![0.5],
            stop_fraction: 1.0,
            ..DsrConfig::default()
        }).unwrap();
        for t in 0..40 {
            let before = layers.clone();
            let h = dsr.threshold();
            let out = rewire_at(&mut dsr, &mut layers, clock(t, 4, 10), seed ^ t as u64);
            let dynamic_nnz: usize = layers.iter().filter(|l| l.dynamic).map(|l| l.nnz()).sum();
            prop_assert_eq!(dynamic_nnz, budget);
            prop_assert_eq!(layers.last().unwrap(), &output);
            let removed: usize = out.edits.iter().map(|e| e.removed).sum();
            let grown: usize = out.edits.iter().map(|e| e.grown).sum();
            prop_assert_eq!(removed, grown);
            prop_assert!(dsr.threshold() > 0.0 && dsr.threshold().is_finite());
            let room: usize = before.iter().filter(|l| l.dynamic)
                .map(|l| l.n_in() * l.n_out() - l.nnz()).sum();
            for e in &out.edits {
                let (old, new) = (&before[e.layer], &layers[e.layer]);
                assert_well_formed(new);
                prop_assert_eq!(new.nnz() + e.removed, old.nnz() + e.grown);
                if room >= removed {
                    // No just-pruned position is regrown when there is room elsewhere.
                    let (od, nd) = (dense(old), dense(new));
                    for p in 0..od.len() {
                        if let Some((w, _)) = od[p] {
                            if f64::from(w.abs()) < h {
                                prop_assert!(nd[p].is_none());
                            }
                        }
                    }
                }
            }
            // "Training": every weight moves a little.
            for l in layers.iter_mut().filter(|l| l.dynamic) {
                for v in l.weights.values_mut() {
                    *v += rng.random_range(-0.002..0.002);
                }
            }
        }
    }
}
