//! SGD with momentum and coupled L2 weight decay, the one update rule of both the sparse and
//! the burn dense MLP.
//!
//! `v ← μ v + (g + λ w)`, `w ← w − η v` (no dampening, no Nesterov), applied to weights and
//! biases alike. This is burn's `Sgd` with `MomentumConfig { dampening: 0 }` and
//! `WeightDecayConfig { penalty: λ }`; for a constant learning rate it equals the SET reference
//! code's `v ← μ v − η g`, `w ← w + v` up to the placement of η.

use serde::{Deserialize, Serialize};

/// Hyper-parameters of SGD with momentum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdParams {
    /// Step size η.
    pub learning_rate: f32,
    /// Momentum μ.
    pub momentum: f32,
    /// Coupled L2 weight decay λ (0: none, the seed paper's setting).
    #[serde(default)]
    pub weight_decay: f32,
}

impl Default for SgdParams {
    fn default() -> Self {
        SgdParams {
            learning_rate: 0.001,
            momentum: 0.9,
            weight_decay: 0.0,
        }
    }
}

impl SgdParams {
    /// Applies one update to `w` with gradient `g` and momentum buffer `v`, all aligned.
    #[inline]
    pub fn update(&self, w: &mut [f32], g: &[f32], v: &mut [f32]) {
        debug_assert!(w.len() == g.len() && g.len() == v.len());
        let (lr, mu, wd) = (self.learning_rate, self.momentum, self.weight_decay);
        for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
            *v = mu * *v + (g + wd * *w);
            *w -= lr * *v;
        }
    }

    /// The first half of [`update`](Self::update): `v ← μ v + (g + λ w)`, the weights left as
    /// they are (a backward pass that still reads them, then
    /// [`step_by_momentum`](Self::step_by_momentum)); the same operations, so the same bits.
    #[inline]
    pub fn fold_momentum(&self, w: &[f32], g: &[f32], v: &mut [f32]) {
        debug_assert!(w.len() == g.len() && g.len() == v.len());
        let (mu, wd) = (self.momentum, self.weight_decay);
        for ((&w, &g), v) in w.iter().zip(g).zip(v.iter_mut()) {
            *v = mu * *v + (g + wd * w);
        }
    }

    /// The second half of [`update`](Self::update): `w ← w − η v`.
    #[inline]
    pub fn step_by_momentum(&self, w: &mut [f32], v: &[f32]) {
        debug_assert!(w.len() == v.len());
        let lr = self.learning_rate;
        for (w, &v) in w.iter_mut().zip(v) {
            *w -= lr * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The update in two halves gives the bits of the update in one.
    #[test]
    fn the_halves_make_the_update() {
        let p = SgdParams {
            learning_rate: 0.03,
            momentum: 0.9,
            weight_decay: 0.001,
        };
        let (mut w1, mut v1) = (vec![0.7f32, -1.3, 2.9e-3], vec![0.1f32, -0.2, 0.0]);
        let (mut w2, mut v2) = (w1.clone(), v1.clone());
        let g = [0.33f32, 1.7e-2, -4.1];
        for _ in 0..3 {
            p.update(&mut w1, &g, &mut v1);
            p.fold_momentum(&w2, &g, &mut v2);
            p.step_by_momentum(&mut w2, &v2);
        }
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&w1), bits(&w2));
        assert_eq!(bits(&v1), bits(&v2));
    }

    #[test]
    fn two_steps_by_hand() {
        let p = SgdParams {
            learning_rate: 0.1,
            momentum: 0.5,
            weight_decay: 0.01,
        };
        let (mut w, mut v) = (vec![1.0f32], vec![0.0f32]);
        p.update(&mut w, &[2.0], &mut v);
        // v = 2 + 0.01 = 2.01, w = 1 - 0.201 = 0.799
        assert!((v[0] - 2.01).abs() < 1e-6 && (w[0] - 0.799).abs() < 1e-6);
        p.update(&mut w, &[2.0], &mut v);
        // v = 0.5*2.01 + 2 + 0.00799 = 3.01299, w = 0.799 - 0.301299
        assert!((v[0] - 3.01299).abs() < 1e-5 && (w[0] - 0.497701).abs() < 1e-5);
    }
}
