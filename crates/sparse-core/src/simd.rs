//! Which vector instructions the kernels may use, chosen once at run time.
//!
//! The kernels are written as plain loops over fixed-size lane arrays, which the compiler
//! vectorises; [`multiversion!`](crate::multiversion) compiles each one a second and third time
//! with AVX2 and AVX-512 enabled and picks the widest the CPU supports. A binary built for the
//! baseline x86-64 target therefore runs at full vector width on a modern node and still runs
//! on an old one (a cluster's nodes are rarely all alike; `-C target-cpu=native` would make a
//! binary built on one crash on another).
//!
//! Results do not depend on the level: the lane arrays fix the order of every sum, and only
//! separate multiplies and adds are used (no fused multiply-add), each rounded as IEEE 754
//! says on any machine. So the same seed gives the same numbers on every x86-64 CPU.

use std::sync::atomic::{AtomicU8, Ordering};

/// A set of vector instructions the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// The target's baseline (SSE2 on x86-64).
    Baseline,
    /// 256-bit AVX2.
    Avx2,
    /// 512-bit AVX-512 (foundation).
    Avx512,
}

impl SimdLevel {
    /// Every level this CPU can run, narrowest first.
    pub fn available() -> Vec<SimdLevel> {
        let best = detect();
        [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .filter(|&l| l as u8 <= best as u8)
            .collect()
    }

    /// A short name for reports (`avx512`, `avx2`, `baseline`).
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }
}

fn detect() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return SimdLevel::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Baseline
}

/// `level`, or the widest supported level below it when this CPU cannot run it.
#[doc(hidden)]
pub fn supported(level: SimdLevel) -> SimdLevel {
    let best = detect();
    if level as u8 <= best as u8 {
        level
    } else {
        best
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);

/// The widest level this CPU supports, detected once. `DST_SIMD=baseline|avx2|avx512` caps
/// it (to compare levels in a benchmark, or to rule the vector code out when chasing a bug).
pub fn level() -> SimdLevel {
    let cached = LEVEL.load(Ordering::Relaxed);
    if cached != u8::MAX {
        return from_u8(cached);
    }
    let best = detect();
    let chosen = match std::env::var("DST_SIMD").ok().as_deref() {
        Some("baseline") => SimdLevel::Baseline,
        Some("avx2") if best as u8 >= SimdLevel::Avx2 as u8 => SimdLevel::Avx2,
        _ => best,
    };
    LEVEL.store(chosen as u8, Ordering::Relaxed);
    chosen
}

fn from_u8(v: u8) -> SimdLevel {
    match v {
        0 => SimdLevel::Baseline,
        1 => SimdLevel::Avx2,
        _ => SimdLevel::Avx512,
    }
}

/// Runs `f` compiled for the widest [`level`] this CPU supports: `f` is inlined into a
/// wrapper with that level's target features (a callee whose features are a subset of its
/// caller's may be inlined into it), so the loops inlined with it are vectorised at that
/// width. For the passes outside the kernels that treat every value alone (bias, ReLU and
/// dropout, the optimizer's halves, the divergence check): built for the baseline target
/// they ran four lanes wide (SSE2; `perf annotate` of a 784-4000-4000-4000-10 epoch). A
/// closure of more than a loop or two needs `#[inline(always)]` to be inlined (the dropout's
/// stayed a function of its own, and SSE2, without it). Values computed alone, with
/// separate multiplies and adds, have the same bits at any width, as do integer reductions.
#[inline]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2")]
        fn v512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        fn v256<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match level() {
            // SAFETY: `level` is at most what this CPU supports: it has AVX-512F and AVX2.
            SimdLevel::Avx512 => return unsafe { v512(f) },
            // SAFETY: as above, this CPU has AVX2.
            SimdLevel::Avx2 => return unsafe { v256(f) },
            SimdLevel::Baseline => {}
        }
    }
    f()
}

/// Defines `pub(crate) fn $name(level: SimdLevel, args...)` that runs `$inner(args...)`
/// compiled for the requested [`SimdLevel`]. `$inner` must be `#[inline(always)]` so that its
/// body is compiled inside each target-feature wrapper.
#[macro_export]
#[doc(hidden)]
macro_rules! multiversion {
    ($name:ident => $inner:ident ( $($arg:ident : $ty:ty),* $(,)? )) => {
        // The wrapper takes the wrapped kernel's arguments, however many it has.
        #[allow(clippy::too_many_arguments)]
        pub(crate) fn $name(level: $crate::simd::SimdLevel, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2")]
                #[allow(clippy::too_many_arguments)] // as above
                unsafe fn v512($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)] // as above
                unsafe fn v256($($arg: $ty),*) {
                    $inner($($arg),*)
                }
                match $crate::simd::supported(level) {
                    // SAFETY: `supported` caps the level at what this CPU can run, so it has
                    // AVX-512F and AVX2 here.
                    $crate::simd::SimdLevel::Avx512 => return unsafe { v512($($arg),*) },
                    // SAFETY: as above, this CPU has AVX2.
                    $crate::simd::SimdLevel::Avx2 => return unsafe { v256($($arg),*) },
                    $crate::simd::SimdLevel::Baseline => {}
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            let _ = level;
            $inner($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element-wise operations of a training step give the same bits inside
    /// [`vectorized`] as outside it: no multiply and add fused, no lane order changed.
    #[test]
    fn vectorized_passes_keep_every_bit() {
        let n = 1003;
        let a: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
            .collect();
        let b: Vec<f32> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f32 * 3e-2 - 9.0)
            .collect();
        let pass = |out: &mut Vec<f32>| {
            for ((o, &x), &y) in out.iter_mut().zip(&a).zip(&b) {
                *o = (0.9 * *o + (x + 1e-3 * y)).max(0.0) - 0.01 * y;
            }
            out.iter().map(|v| v.to_bits()).max()
        };
        let (mut plain, mut wide) = (b.clone(), b.clone());
        let plain_max = pass(&mut plain);
        let wide_max = vectorized(|| pass(&mut wide));
        let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&plain), bits(&wide));
        assert_eq!(plain_max, wide_max);
    }

    #[test]
    fn levels_are_ordered_and_include_the_detected_one() {
        let levels = SimdLevel::available();
        assert_eq!(levels[0], SimdLevel::Baseline);
        assert!(levels.contains(&level()) || std::env::var("DST_SIMD").is_ok());
        assert!(levels.windows(2).all(|w| (w[0] as u8) < (w[1] as u8)));
    }
}
