//! Property test of DeepR over random small networks, seeds and settings: many simulated
//! training steps keep every layer a valid truly sparse layer with its number of connections,
//! and every surviving connection keeps the sign it had before the optimizer step.

use conformance::fixtures::{check_layer, random_network};
use dst_deepr::{DeepR, DeepRConfig, NEW_THETA};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sparse_core::{DstContext, DstMethod, TrainingClock};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn rewiring_keeps_counts_validity_and_signs(
        seed: u64,
        r in 1usize..8, c in 1usize..8, c2 in 1usize..6,
        fill1 in 0.05f64..=1.0, fill2 in 0.05f64..=1.0,
        temperature in prop_oneof![Just(0.0), Just(1e-5), Just(1e-1)],
        l1 in prop_oneof![Just(0.0), Just(1e-5), Just(50.0)],
        move_scale in 0.01f32..1.0,
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n1 = ((fill1 * (r * c) as f64).round() as usize).clamp(1, r * c);
        let n2 = ((fill2 * (c * c2) as f64).round() as usize).clamp(1, c * c2);
        let mut layers = random_network(&mut rng, &[(r, c, n1), (c, c2, n2), (c2, 2, c2 * 2)]);
        let counts: Vec<usize> = layers.iter().map(|l| l.nnz()).collect();
        let cfg = DeepRConfig { temperature, l1, eta: 1e-3, temperature_schedule: vec![(0.5, 0.0)] };
        let mut deepr = DeepR::new(cfg).unwrap();
        let steps = 12;
        for step in 0..steps {
            let clock = TrainingClock { epoch: 0, epochs: 1, step, steps_per_epoch: steps };
            let outcome = deepr.after_backward(&mut DstContext {
                layers: &mut layers, clock, rng: &mut rng, gradients: None,
            });
            prop_assert!(outcome.edits.is_empty());
            let signs: Vec<Vec<f32>> = layers.iter().map(|l| l.weights.to_dense()
                .iter().map(|w| w.signum() * f32::from(*w != 0.0)).collect()).collect();
            // The "optimizer": a random move (flipping some signs, sometimes to exactly 0),
            // and a non-zero momentum everywhere so that new connections (momentum 0) stand out.
            for l in layers.iter_mut() {
                for v in l.weights.values_mut() {
                    if rng.random_bool(0.05) {
                        *v = 0.0;
                    } else {
                        let z: f32 = rng.sample(StandardNormal);
                        *v += move_scale * z;
                    }
                }
                l.momentum.iter_mut().for_each(|m| *m = 0.5);
            }
            let mid: Vec<Vec<f32>> = layers.iter().map(|l| l.weights.to_dense()).collect();
            let outcome = deepr.after_step(&mut DstContext {
                layers: &mut layers, clock, rng: &mut rng, gradients: None,
            });
            for e in &outcome.edits {
                prop_assert!(layers[e.layer].dynamic, "only dynamic layers are edited");
                prop_assert_eq!(e.removed, e.grown);
                prop_assert!(e.removed > 0, "an edit is reported only when something changed");
            }
            for (l, layer) in layers.iter().enumerate() {
                prop_assert_eq!(check_layer(layer), Ok(()));
                prop_assert_eq!(layer.nnz(), counts[l], "layer {} keeps its nnz", l);
                if !layer.dynamic {
                    prop_assert_eq!(&layer.weights.to_dense(), &mid[l]);
                    continue;
                }
                let n_cols = layer.n_out();
                let rows = layer.weights.row_indices();
                let mut new = 0usize;
                for (k, &i) in rows.iter().enumerate() {
                    let p = i as usize * n_cols + layer.weights.col_idx()[k] as usize;
                    let w = layer.weights.values()[k];
                    prop_assert!(w != 0.0 && w.is_finite());
                    if layer.momentum[k] == 0.0 {
                        new += 1;
                        prop_assert_eq!(w.abs(), NEW_THETA);
                    } else {
                        // A survivor keeps the sign read before the optimizer step.
                        prop_assert!(signs[l][p] * w > 0.0, "layer {} position {}", l, p);
                    }
                }
                let edit = outcome.edits.iter().find(|e| e.layer == l);
                prop_assert_eq!(new, edit.map_or(0, |e| e.grown));
                // With neither noise nor shrinkage, exactly the crossings are removed.
                let quiet = l1 == 0.0 && (temperature == 0.0 || step * 2 >= steps);
                if quiet {
                    let crossed = signs[l].iter().zip(&mid[l])
                        .filter(|(s, w)| **s != 0.0 && **s * **w <= 0.0).count();
                    prop_assert_eq!(edit.map_or(0, |e| e.removed), crossed);
                }
            }
        }
    }
}
