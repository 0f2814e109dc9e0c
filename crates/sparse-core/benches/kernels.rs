//! Criterion benchmarks of the sparse-layer kernels at three layer sizes and three densities,
//! batch 32: forward `X W`, input gradient `dZ Wᵀ` and the weight-gradient SDDMM.
//!
//! `cargo bench -p sparse-core` (add `-- --quick` for a short pass).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sparse_core::init::{connection_count, random_pattern};
use sparse_core::kernels::{forward, input_grad, weight_grad, GradScratch};

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
            let mut scratch = GradScratch::default();
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
                b.iter(|| weight_grad(&x, &dz, batch, &w, &mut grad, &mut scratch))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
