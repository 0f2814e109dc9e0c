//! The three products of a sparse layer (and the backward pair of them in one sweep, as
//! training runs it) against a dense GEMM of the same shape, and the first layer's products
//! when inputs are missing (absent).

use super::measure::{time_it, time_pair};
use models::dense::burn_matmul;
use models::rngs::stream;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::kernels::{
    forward_absent, forward_sparse_input, forward_with, gather_rows, input_and_weight_grad,
    input_grad, sparse_input_work, weight_grad, weight_grad_absent, weight_grad_sparse_input,
    AbsentPaths, InputPath, LayerInput,
};
use sparse_core::{AlignedBuf, Csr};

/// One kernel measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelRow {
    /// `forward` (X W), `input_grad` (dZ Wᵀ), `weight_grad` (SDDMM) or `backward` (the
    /// last two in one sweep over the rows of W, `kernels::input_and_weight_grad`, as
    /// training's backward pass runs them past the first layer).
    pub kernel: String,
    /// Layer inputs.
    pub n_in: usize,
    /// Layer outputs.
    pub n_out: usize,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Non-zeros.
    pub nnz: usize,
    /// Seconds per call.
    pub seconds: f64,
    /// `2 batch nnz / seconds / 1e9` per product (`backward` counts its two).
    pub gflops: f64,
    /// Dense GEMM rate on the same shape (burn flex), GFLOP/s counted as `2 batch n_in n_out`.
    pub dense_gflops: f64,
    /// `gflops / dense_gflops`.
    pub ratio_to_dense_rate: f64,
    /// Dense GEMM time / sparse time (> 1: sparse faster).
    pub speedup_vs_dense: f64,
    /// The kernel's memory roofline: its row gathers alone (`gather_rows`, the same rows in the
    /// same order, adds but no multiplies), as GFLOP/s of the kernel's `2 batch nnz`.
    #[serde(default = "f64_nan")]
    pub roofline_gflops: f64,
    /// `gflops / roofline_gflops`: how close the kernel runs to its own gathers.
    #[serde(default = "f64_nan")]
    pub share_of_roofline: f64,
}

/// For files written before a column existed.
fn f64_nan() -> f64 {
    f64::NAN
}

/// The kernel name of the backward sweep's rows.
pub const BACKWARD: &str = "backward";

fn random_layer(n_in: usize, n_out: usize, density: f64, rng: &mut impl Rng) -> Csr {
    let nnz = connection_count(n_in, n_out, density);
    let mut w = random_pattern(n_in, n_out, nnz, rng).expect("count fits");
    for v in w.values_mut() {
        *v = rng.random_range(-1.0..1.0);
    }
    w
}

/// Kernels at layers `n x n`, densities and batches (a subset with `quick`).
pub fn kernels(quick: bool, budget: f64) -> Vec<KernelRow> {
    let sizes: &[usize] = if quick { &[1000] } else { &[1000, 4000] };
    let densities: &[f64] = if quick {
        &[0.01, 0.2]
    } else {
        &[0.001, 0.01, 0.05, 0.2, 1.0]
    };
    let batches: &[usize] = if quick { &[32] } else { &[1, 10, 32, 128] };
    let mut rng = stream(1, "bench-kernels");
    let mut rows = Vec::new();
    for &n in sizes {
        for &batch in batches {
            let a: Vec<f32> = (0..batch * n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            // Feature-major rows on cache lines, as the model's activations are.
            let a_rows = AlignedBuf::from_slice(&a);
            let b: Vec<f32> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
            let dense_s = time_it(budget, || {
                std::hint::black_box(burn_matmul(&a, &b, batch, n, n));
            });
            let dense_gflops = 2.0 * (batch * n * n) as f64 / dense_s / 1e9;
            for &d in densities {
                let w = random_layer(n, n, d, &mut rng);
                let nnz = w.nnz();
                let mut out = AlignedBuf::new();
                out.resize(batch * n, 0.0);
                let mut grad = vec![0.0f32; nnz];
                let mut by_column = Vec::new();
                // The same buffer serves as Xᵀ and dZᵀ (feature-major, `n x batch`).
                let timings = [
                    (
                        "forward",
                        time_it(budget, || {
                            forward_with(&a_rows, batch, &w, &mut by_column, &mut out)
                        }),
                    ),
                    (
                        "input_grad",
                        time_it(budget, || input_grad(&a_rows, batch, &w, &mut out)),
                    ),
                    (
                        "weight_grad",
                        time_it(budget, || {
                            weight_grad(&a_rows, &a_rows, batch, &w, &mut grad)
                        }),
                    ),
                    (
                        BACKWARD,
                        time_it(budget, || {
                            let input = LayerInput::Beside(&a_rows);
                            let fold = |_: std::ops::Range<usize>, g: &[f32], o: &mut [f32]| {
                                o.copy_from_slice(g)
                            };
                            input_and_weight_grad(
                                &a_rows, batch, &w, input, None, &mut out, None, &mut grad, fold,
                            )
                        }),
                    ),
                ];
                // The rooflines: forward gathers Xᵀ rows over the column view; the input
                // gradient and the SDDMM gather dZᵀ rows over the rows of W.
                let csc = w.csc_index();
                let by_columns = time_it(budget, || {
                    gather_rows(&a_rows, batch, &csc.col_ptr, &csc.row_idx, &mut out)
                });
                let by_rows = time_it(budget, || {
                    gather_rows(&a_rows, batch, w.row_ptr(), w.col_idx(), &mut out)
                });
                for (kernel, s) in timings {
                    // The backward sweep makes two products from one gather of the rows.
                    let products = if kernel == BACKWARD { 2.0 } else { 1.0 };
                    let flops = products * 2.0 * (batch * nnz) as f64;
                    let gflops = flops / s / 1e9;
                    let gather = if kernel == "forward" {
                        by_columns
                    } else {
                        by_rows
                    };
                    let roofline_gflops = flops / gather / 1e9;
                    rows.push(KernelRow {
                        kernel: kernel.into(),
                        n_in: n,
                        n_out: n,
                        density: d,
                        batch,
                        nnz,
                        seconds: s,
                        gflops,
                        dense_gflops,
                        ratio_to_dense_rate: gflops / dense_gflops,
                        speedup_vs_dense: products * dense_s / s,
                        roofline_gflops,
                        share_of_roofline: gflops / roofline_gflops,
                    });
                }
            }
        }
    }
    rows
}

/// One first-layer measurement with missing inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparseInputRow {
    /// Layer shape, `n_in x n_out`.
    pub layer: String,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// Fraction of input cells missing.
    pub missing: f64,
    /// `zero-filled` (the dense kernels on the batch with zeros at the missing entries),
    /// `absent` (what training with absent inputs runs: per product, the faster of the
    /// sparse-input and the zero-filled kernel; same numbers either way) or `sparse-kernels`
    /// (the sparse-input kernels alone, whatever their speed).
    pub path: String,
    /// Kernels that served the forward product and the weight gradient (`observed` or
    /// `zero-filled`).
    #[serde(default)]
    pub kernels: String,
    /// Seconds of forward plus weight gradient.
    pub seconds: f64,
    /// Zero-filled time at the same missing rate / this time.
    #[serde(default = "f64_nan")]
    pub speedup_vs_zero_filled: f64,
    /// Multiply-adds the two products performed.
    #[serde(default)]
    pub macs_performed: usize,
    /// Multiply-adds on observed inputs (what `train_flops` counts for absent inputs).
    #[serde(default)]
    pub macs_observed: usize,
}

/// The first layer (784 -> 4000, or smaller with `quick`) at 0, 50 and 90% missing inputs:
/// absent inputs against the zero-filled batch, and the sparse-input kernels alone.
pub fn sparse_input(quick: bool, budget: f64) -> Vec<SparseInputRow> {
    let (n_in, n_out, density, batch) = if quick {
        (784, 1000, 0.05, 32)
    } else {
        (784, 4000, 0.05, 128)
    };
    let mut rng = stream(2, "bench-sparse-input");
    let w = random_layer(n_in, n_out, density, &mut rng);
    let dzt: Vec<f32> = (0..n_out * batch)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let dzt = AlignedBuf::from_slice(&dzt);
    let mut zt = AlignedBuf::new();
    zt.resize(n_out * batch, 0.0);
    let mut grad = vec![0.0f32; w.nnz()];
    let (mut by_column, mut by_column_absent) = (Vec::new(), Vec::new());
    let mut rows = Vec::new();
    let dense_macs = 2 * batch * w.nnz();
    for missing in [0.0f64, 0.5, 0.9] {
        let mut xt = vec![0.0f32; n_in * batch];
        let mut triplets = Vec::new();
        for b in 0..batch {
            for i in 0..n_in {
                if rng.random::<f64>() >= missing {
                    let v = rng.random_range(-1.0f32..1.0);
                    xt[i * batch + b] = v;
                    triplets.push((b as u32, i as u32, v));
                }
            }
        }
        let xs = Csr::from_triplets(batch, n_in, triplets).expect("valid triplets");
        let xt = AlignedBuf::from_slice(&xt);
        let observed_macs = 2 * sparse_input_work(&xs, &w);
        let mut paths = (InputPath::ZeroFilled, InputPath::ZeroFilled);
        // As a model keeps them: the choosers learn which path is faster on the first calls.
        let mut choosers = AbsentPaths::default();
        let (mut absent_zt, mut absent_grad) = (zt.clone(), grad.clone());
        let (filled, absent) = time_pair(
            budget,
            || {
                forward_with(&xt, batch, &w, &mut by_column, &mut zt);
                weight_grad(&xt, &dzt, batch, &w, &mut grad);
            },
            || {
                let (forward, grad) = (&mut choosers.forward, &mut choosers.weight_grad);
                paths = (
                    forward_absent(forward, &xs, &xt, &w, &mut by_column_absent, &mut absent_zt),
                    weight_grad_absent(grad, &xs, &xt, &dzt, &w, &mut absent_grad),
                );
            },
        );
        let sparse = time_it(budget, || {
            forward_sparse_input(&xs, &w, &mut zt);
            weight_grad_sparse_input(&xs, &dzt, &w, &mut grad);
        });
        let macs = |p: InputPath| match p {
            InputPath::Observed => observed_macs / 2,
            InputPath::ZeroFilled => dense_macs / 2,
        };
        let measured = [
            (
                "zero-filled",
                (InputPath::ZeroFilled, InputPath::ZeroFilled),
                filled,
            ),
            ("absent", paths, absent),
            (
                "sparse-kernels",
                (InputPath::Observed, InputPath::Observed),
                sparse,
            ),
        ];
        for (path, (forward_path, grad_path), s) in measured {
            let kernels = format!("{}+{}", forward_path.name(), grad_path.name());
            let performed = macs(forward_path) + macs(grad_path);
            rows.push(SparseInputRow {
                layer: format!("{n_in}x{n_out}"),
                density,
                batch,
                missing,
                path: path.into(),
                kernels,
                seconds: s,
                speedup_vs_zero_filled: filled / s,
                macs_performed: performed,
                macs_observed: observed_macs,
            });
        }
    }
    rows
}

/// One product timed with normal operands and with one operand subnormal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubnormalRow {
    /// `forward`, `input_grad` or `weight_grad`.
    pub kernel: String,
    /// Layer inputs.
    pub n_in: usize,
    /// Layer outputs.
    pub n_out: usize,
    /// Layer density.
    pub density: f64,
    /// Batch size.
    pub batch: usize,
    /// The operand made subnormal: `weights` (forward, input gradient) or `deltas` (the
    /// weight gradient's `dZ`).
    pub subnormal: String,
    /// Seconds per call, all operands normal.
    pub normal_seconds: f64,
    /// Seconds per call with the subnormal operand.
    pub subnormal_seconds: f64,
    /// `normal_seconds` as GFLOP/s (`2 batch nnz`).
    pub normal_gflops: f64,
    /// `subnormal_seconds` as GFLOP/s.
    pub subnormal_gflops: f64,
    /// `subnormal_seconds / normal_seconds`.
    pub slowdown: f64,
}

/// `values` scaled by 2^-130 into the subnormal range (below `f32::MIN_POSITIVE`, 2^-126): a
/// value of magnitude in [2^-19, 1) keeps 19 or fewer of its 24 significant bits and stays
/// non-zero.
fn subnormal(values: &[f32]) -> Vec<f32> {
    let scale = 2f32.powi(-65);
    values.iter().map(|v| v * scale * scale).collect()
}

/// What subnormal operands cost the three products (4000 x 4000 at 1%, batch 128; 1000 x 1000
/// at batch 32 with `quick`): each timed in turns with normal operands and with one operand
/// scaled into the subnormal range. Where a CPU takes a microcode assist for a subnormal
/// input or result, every vector instruction that meets one is slowed. Flushing them to zero
/// in hardware (the FTZ and DAZ bits of x86's MXCSR, which PyTorch's
/// `torch.set_flush_denormal` sets) is not something Rust code may do: the standard library
/// documents any change of those bits as undefined behaviour, since the compiler assumes the
/// default floating-point environment. This section measures what is at stake.
pub fn subnormals(quick: bool, budget: f64) -> Vec<SubnormalRow> {
    let (n, density, batch) = if quick {
        (1000, 0.01, 32)
    } else {
        (4000, 0.01, 128)
    };
    let mut rng = stream(3, "bench-subnormals");
    let w = random_layer(n, n, density, &mut rng);
    let mut tiny_w = w.clone();
    tiny_w.values_mut().copy_from_slice(&subnormal(w.values()));
    let a: Vec<f32> = (0..batch * n)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let (a_rows, tiny_rows) = (
        AlignedBuf::from_slice(&a),
        AlignedBuf::from_slice(&subnormal(&a)),
    );
    // One product with normal (`tiny` false) or subnormal operands, into buffers of its own
    // so that both can be timed in turns.
    let product = |kernel: &'static str, tiny: bool| {
        let (w, dz) = if tiny {
            (&tiny_w, &tiny_rows)
        } else {
            (&w, &a_rows)
        };
        // Only the weight gradient writes one value per connection.
        let grad_len = if kernel == "weight_grad" { w.nnz() } else { 0 };
        let (a_rows, mut out, mut grad) = (&a_rows, AlignedBuf::new(), vec![0.0f32; grad_len]);
        out.resize(batch * n, 0.0);
        let mut by_column = Vec::new();
        move || match kernel {
            "forward" => forward_with(a_rows, batch, w, &mut by_column, &mut out),
            "input_grad" => input_grad(a_rows, batch, w, &mut out),
            _ => weight_grad(a_rows, dz, batch, w, &mut grad),
        }
    };
    let flops = 2.0 * (batch * w.nnz()) as f64 / 1e9;
    ["forward", "input_grad", "weight_grad"]
        .into_iter()
        .map(|kernel| {
            let (normal_seconds, subnormal_seconds) =
                time_pair(budget, product(kernel, false), product(kernel, true));
            SubnormalRow {
                kernel: kernel.into(),
                n_in: n,
                n_out: n,
                density,
                batch,
                subnormal: if kernel == "weight_grad" {
                    "deltas"
                } else {
                    "weights"
                }
                .into(),
                normal_seconds,
                subnormal_seconds,
                normal_gflops: flops / normal_seconds,
                subnormal_gflops: flops / subnormal_seconds,
                slowdown: subnormal_seconds / normal_seconds,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_operands_are_subnormal_and_rounded_to_their_spacing() {
        let v = [0.999f32, -0.5, 2f32.powi(-19), 0.0, 0.123_456_7, -0.75];
        for (&x, &t) in v.iter().zip(&subnormal(&v)) {
            if x == 0.0 {
                assert_eq!(t, 0.0);
                continue;
            }
            assert!(t.is_subnormal(), "{x} -> {t:e}");
            // Rounded to the subnormal spacing 2^-149: at most half of it off, 2^-20 once
            // scaled back.
            let back = t as f64 * 2f64.powi(130);
            assert!((back - x as f64).abs() <= 2f64.powi(-20), "{x} -> {back}");
        }
    }
}
