//! Layer fixtures the method crates' tests share: where training stands, random truly sparse
//! layers, and the check that a layer is well formed. Hook-level tests (one method's rule
//! against a brute-force reference) build on these instead of copying them.

use rand::Rng;
use sparse_core::init::random_pattern;
use sparse_core::{SparseLayer, TrainingClock, WeightSampler};

/// Step `step` of a run of `epochs` epochs of `steps_per_epoch` steps.
pub fn clock(step: usize, epochs: usize, steps_per_epoch: usize) -> TrainingClock {
    TrainingClock {
        epoch: step / steps_per_epoch,
        epochs,
        step,
        steps_per_epoch,
    }
}

/// Layers of the given `(n_in, n_out, connections)` shapes, positions drawn uniformly and
/// weights from U(-1, 1) (the layer's sampler), zero optimizer state; every layer dynamic but
/// the last, which stays static as the models crate's output layer does.
pub fn random_network(rng: &mut impl Rng, shapes: &[(usize, usize, usize)]) -> Vec<SparseLayer> {
    shapes
        .iter()
        .enumerate()
        .map(|(l, &(n_in, n_out, nnz))| {
            let pattern = random_pattern(n_in, n_out, nnz, rng).expect("a valid fixture shape");
            let mut layer = SparseLayer::new(
                pattern,
                WeightSampler::Uniform { limit: 1.0 },
                l + 1 < shapes.len(),
            );
            let sampler = layer.sampler;
            sampler.fill(layer.weights.values_mut(), rng);
            layer
        })
        .collect()
}

/// Whether `layer` is well formed: a valid CSR pattern ([`sparse_core::Csr::validate`]: row pointers ending
/// at the number of connections, each row's columns sorted, in range and without duplicates,
/// finite weights), momentum and gradient aligned with the connections (the gradient may be
/// empty: a model training a method that reads none keeps none), bias and its state one per
/// output. The error says what is wrong and where.
pub fn check_layer(layer: &SparseLayer) -> Result<(), String> {
    let w = &layer.weights;
    w.validate()
        .map_err(|e| format!("not a valid CSR pattern: {e}"))?;
    let grad_len = if layer.grad.is_empty() {
        w.nnz()
    } else {
        layer.grad.len()
    };
    let aligned = [
        ("momentum", layer.momentum.len(), w.nnz()),
        ("grad", grad_len, w.nnz()),
        ("bias", layer.bias.len(), w.n_cols()),
        ("bias momentum", layer.bias_momentum.len(), w.n_cols()),
    ];
    for (what, len, want) in aligned {
        if len != want {
            return Err(format!("{what}: {len} entries for {want}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn random_layers_are_well_formed_and_misaligned_state_is_caught() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut layers = random_network(&mut rng, &[(5, 7, 12), (7, 2, 14)]);
        assert_eq!(
            layers.iter().map(SparseLayer::nnz).collect::<Vec<_>>(),
            [12, 14]
        );
        assert!(layers[0].dynamic && !layers[1].dynamic);
        assert!(layers.iter().all(|l| check_layer(l).is_ok()));
        assert!(layers[0].weights.values().iter().all(|v| v.abs() < 1.0));
        layers[0].momentum.pop();
        let err = check_layer(&layers[0]).unwrap_err();
        assert!(err.contains("momentum: 11 entries for 12"), "{err}");
        layers[1].bias.push(0.0);
        assert!(check_layer(&layers[1]).unwrap_err().contains("bias"));
    }

    #[test]
    fn clock_places_the_step_in_its_epoch() {
        let c = clock(7, 3, 5);
        assert_eq!((c.epoch, c.step, c.total_steps()), (1, 7, 15));
    }
}
