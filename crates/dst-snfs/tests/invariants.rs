//! Property test of SNFS over whole training runs on random small networks: the patterns stay
//! valid CSR, the per-connection arrays stay aligned, static layers never change, and the
//! budget holds (total connections over the dynamic layers constant, each layer within
//! `[0, n_in n_out]`).

use conformance::fixtures::check_layer;
use dst_snfs::{Snfs, SnfsConfig};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::random_pattern;
use sparse_core::{
    DstContext, DstMethod, GradientSource, SparseLayer, TrainingClock, WeightSampler,
};
use std::ops::Range;

/// Pseudo-random gradient scores of a batch, quantised to a few levels so ties are common.
struct HashScores {
    salt: u64,
    n_out: Vec<usize>,
}

impl GradientSource for HashScores {
    fn fill_rows(&mut self, layer: usize, rows: Range<usize>, out: &mut [f32]) {
        let n_out = self.n_out[layer];
        for (a, i) in rows.enumerate() {
            for j in 0..n_out {
                let mut h = self.salt ^ ((layer as u64) << 40) ^ ((i as u64) << 20) ^ j as u64;
                h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                h ^= h >> 29;
                out[a * n_out + j] = (h % 5) as f32;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn runs_keep_patterns_valid_and_the_budget_exact(
        shapes in proptest::collection::vec((1usize..8, 1usize..8, 0.0f64..=1.0), 2..=4),
        seed: u64,
        update_every in 0usize..4,
        epochs in 2usize..5,
        steps_per_epoch in 1usize..5,
        with_gradients: bool,
        prune_rate in 0.0f64..=1.0,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let last = shapes.len() - 1;
        let mut layers: Vec<SparseLayer> = shapes
            .iter()
            .enumerate()
            .map(|(l, &(r, c, fill))| {
                // The output layer is static and dense, like the models crate's default.
                let n = if l == last { r * c } else { ((r * c) as f64 * fill).round() as usize };
                let mut layer = SparseLayer::new(
                    random_pattern(r, c, n, &mut rng).unwrap(),
                    WeightSampler::Uniform { limit: 1.0 },
                    l != last,
                );
                for v in layer.weights.values_mut() {
                    *v = rng.random_range(-1.0..1.0);
                }
                layer
            })
            .collect();
        let budget: usize = layers[..last].iter().map(|l| l.nnz()).sum();
        let frozen = layers[last].clone();
        let n_out: Vec<usize> = layers.iter().map(|l| l.n_out()).collect();
        let mut snfs = Snfs::new(SnfsConfig {
            prune_rate,
            prune_rate_min: prune_rate.min(0.005),
            update_every,
        })
        .unwrap();
        let mut topo_rng = ChaCha8Rng::seed_from_u64(seed ^ 1);
        let mut updates = 0;
        for step in 0..epochs * steps_per_epoch {
            let clock = TrainingClock {
                epoch: step / steps_per_epoch,
                epochs,
                step,
                steps_per_epoch,
            };
            // A stand-in for training: new values, momentum and gradients at every dynamic
            // connection (the static layer stays frozen so it can be compared whole).
            for layer in layers.iter_mut().filter(|l| l.dynamic) {
                for v in layer.weights.values_mut() {
                    *v += rng.random_range(-0.1..0.1);
                }
                let n = layer.nnz();
                layer.momentum = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
                layer.grad = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
            }
            let mut scores = HashScores { salt: seed ^ step as u64, n_out: n_out.clone() };
            let wants = snfs.wants_gradients(&clock) && with_gradients;
            let mut ctx = DstContext {
                layers: &mut layers,
                clock,
                rng: &mut topo_rng,
                gradients: if wants { Some(&mut scores) } else { None },
            };
            prop_assert!(snfs.after_backward(&mut ctx).edits.is_empty());
            let out = snfs.after_step(&mut ctx);
            let removed: usize = out.edits.iter().map(|e| e.removed).sum();
            let grown: usize = out.edits.iter().map(|e| e.grown).sum();
            prop_assert_eq!(removed, grown);
            prop_assert!(out.edits.iter().all(|e| e.layer != last));
            updates += usize::from(!out.edits.is_empty());
            if (step + 1) % steps_per_epoch == 0 {
                ctx.gradients = None;
                prop_assert!(snfs.end_of_epoch(&mut ctx).edits.is_empty());
            }
            for layer in &layers {
                prop_assert_eq!(check_layer(layer), Ok(()));
            }
            let total: usize = layers[..last].iter().map(|l| l.nnz()).sum();
            prop_assert_eq!(total, budget);
            prop_assert_eq!(&layers[last], &frozen);
        }
        let scheduled = (0..epochs * steps_per_epoch)
            .filter(|&t| snfs.is_update_step(&TrainingClock { epoch: 0, epochs, step: t, steps_per_epoch }))
            .count();
        // Every scheduled update edits when there is something to prune (the rate never
        // falls below `prune_rate_min > 0`, so `ceil(p nnz) >= 1`), and none edits otherwise.
        if prune_rate > 0.0 && budget > 0 {
            prop_assert_eq!(updates, scheduled);
        } else {
            prop_assert_eq!(updates, 0);
        }
    }
}
