//! Criterion benchmarks of the sparse-layer kernels at three layer sizes and three densities,
//! batch 32: forward `X W`, input gradient `dZ Wᵀ` and the weight-gradient SDDMM (activations
//! feature-major, as the model keeps them); and the
//! first-layer forward with absent (missing) inputs at 0, 50 and 90% missing.
//!
//! `cargo bench -p sparse-core` (add `-- --quick` for a short pass).

// `criterion_group!` defines `pub fn benches` without a doc comment.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::kernels::{forward, forward_sparse_input, input_grad, transpose, weight_grad};
use sparse_core::Csr;

fn kernels(c: &mut Criterion) {
    let batch = 32;
    let mut group = c.benchmark_group("kernels");
    group.sample_size(10);
    for &n in &[256usize, 1024, 4096] {
        for &density in &[0.01f64, 0.1, 0.5] {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            let nnz = connection_count(n, n, density);
            let mut w = random_pattern(n, n, nnz, &mut rng).expect("valid count");
            for v in w.values_mut() {
                *v = rng.random_range(-1.0..1.0);
            }
            let x: Vec<f32> = (0..batch * n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let dz: Vec<f32> = (0..batch * n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let mut out = vec![0.0f32; batch * n];
            let mut grad = vec![0.0f32; nnz];
            // Multiply-adds per product: batch x nnz.
            group.throughput(Throughput::Elements((batch * nnz) as u64));
            let id = format!("{n}x{n}/d{density}");
            group.bench_function(BenchmarkId::new("forward", &id), |b| {
                b.iter(|| forward(&x, batch, &w, &mut out))
            });
            group.bench_function(BenchmarkId::new("input_grad", &id), |b| {
                b.iter(|| input_grad(&dz, batch, &w, &mut out))
            });
            group.bench_function(BenchmarkId::new("weight_grad", &id), |b| {
                b.iter(|| weight_grad(&x, &dz, batch, &w, &mut grad))
            });
        }
    }
    group.finish();
}

/// First-layer forward with missing inputs left absent: the cost must fall with the missing
/// rate (0%, 50%, 90%), against the dense-input kernel on the zero-filled batch.
fn absent_inputs(c: &mut Criterion) {
    let (n_in, n_out, batch, density) = (784usize, 1000usize, 32usize, 0.1f64);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let nnz = connection_count(n_in, n_out, density);
    let mut w = random_pattern(n_in, n_out, nnz, &mut rng).expect("valid count");
    for v in w.values_mut() {
        *v = rng.random_range(-1.0..1.0);
    }
    let mut group = c.benchmark_group("absent_inputs");
    group.sample_size(20);
    let mut z = vec![0.0f32; batch * n_out];
    for missing in [0.0f64, 0.5, 0.9] {
        let mut x = vec![0.0f32; batch * n_in];
        let mut triplets = Vec::new();
        for b in 0..batch {
            for i in 0..n_in {
                if rng.random::<f64>() >= missing {
                    let v = rng.random_range(-1.0f32..1.0);
                    x[b * n_in + i] = v;
                    triplets.push((b as u32, i as u32, v));
                }
            }
        }
        let xs = Csr::from_triplets(batch, n_in, triplets).expect("valid triplets");
        let mut xt = vec![0.0f32; batch * n_in];
        transpose(&x, batch, n_in, &mut xt);
        let id = format!("missing{}", (missing * 100.0) as u32);
        group.bench_function(BenchmarkId::new("forward_sparse_input", &id), |b| {
            b.iter(|| forward_sparse_input(&xs, &w, &mut z))
        });
        group.bench_function(BenchmarkId::new("forward_zero_filled", &id), |b| {
            b.iter(|| forward(&xt, batch, &w, &mut z))
        });
    }
    group.finish();
}

criterion_group!(benches, kernels, absent_inputs);
criterion_main!(benches);
