//! Hidden-layer activations.

use serde::{Deserialize, Serialize};

/// The activation of the hidden layers, shared by the sparse and the dense MLP.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Activation {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// All-ReLU (Curci, Mocanu & Pechenizkiy 2021, "Truly sparse neural networks at scale",
    /// §3): `x` for `x > 0`, `slope x` otherwise, with the slope alternating `-alpha`,
    /// `+alpha`, `-alpha`, ... from the first hidden layer on (their MNIST setting: 0.6).
    AllRelu {
        /// Magnitude of the negative-side slope.
        alpha: f32,
    },
}

impl Activation {
    /// Whether every hidden layer is a plain ReLU: a layer's output alone then gives its
    /// derivative (0 where the output is 0).
    pub fn is_relu(&self) -> bool {
        matches!(self, Activation::Relu)
    }

    /// Slope for negative inputs of hidden layer `hidden` (0-based).
    pub fn negative_slope(&self, hidden: usize) -> f32 {
        match *self {
            Activation::Relu => 0.0,
            Activation::AllRelu { alpha } => {
                if hidden.is_multiple_of(2) {
                    -alpha
                } else {
                    alpha
                }
            }
        }
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Activation::AllRelu { alpha } if !alpha.is_finite() => {
                Err(format!("alpha {alpha} is not finite"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_relu_alternates_from_negative() {
        let a = Activation::AllRelu { alpha: 0.6 };
        assert_eq!(
            (0..3).map(|l| a.negative_slope(l)).collect::<Vec<_>>(),
            vec![-0.6, 0.6, -0.6]
        );
        assert_eq!(Activation::Relu.negative_slope(1), 0.0);
        let parsed: Activation = toml::from_str("kind = \"all-relu\"\nalpha = 0.75").unwrap();
        assert_eq!(parsed, Activation::AllRelu { alpha: 0.75 });
    }
}
