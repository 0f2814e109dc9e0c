//! Timing and memory readings of the running process.

use std::time::Instant;

/// Seconds per call of `f`: the fastest of five rounds, each averaging enough calls to take a
/// fifth of `budget` (at least 3 calls), after one warm-up call. Taking the fastest round
/// keeps a burst of activity elsewhere on a shared machine out of the ratio.
pub fn time_it(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    (0..ROUNDS)
        .map(|_| average(budget / ROUNDS as f64, &mut f))
        .fold(f64::INFINITY, f64::min)
}

/// Seconds per call of `f` and of `g`, timed in turns: five rounds, each averaging enough calls
/// of `f` and then of `g` to take a tenth of `budget` each (at least 3 calls), after one
/// warm-up call of each; the fastest round of each. Two paths compared by a ratio are timed
/// this way so that a slow spell of the machine falls on both: timed one after the other with
/// [`time_it`], the same kernels measured 0.88x each other (absent inputs at 50% missing,
/// where both paths run the zero-filled kernels, at `6962cc2`).
pub fn time_pair(budget: f64, mut f: impl FnMut(), mut g: impl FnMut()) -> (f64, f64) {
    f();
    g();
    let span = budget / (2 * ROUNDS) as f64;
    (0..ROUNDS).fold((f64::INFINITY, f64::INFINITY), |(a, b), _| {
        let a = a.min(average(span, &mut f));
        (a, b.min(average(span, &mut g)))
    })
}

/// Rounds of [`time_it`] and [`time_pair`].
const ROUNDS: usize = 5;

/// Seconds per call of `f` over at least 3 calls and `span` seconds.
fn average(span: f64, f: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut reps = 0u32;
    while reps < 3 || start.elapsed().as_secs_f64() < span {
        f();
        reps += 1;
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// A field of `/proc/self/status` in bytes (`VmRSS`: resident now; `VmHWM`: peak resident).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resident memory now, in bytes (0 where `/proc` is unavailable).
pub fn resident_bytes() -> u64 {
    status_bytes("VmRSS:").unwrap_or(0)
}

/// Peak resident memory since the process started or since the last [`reset_peak`].
pub fn peak_bytes() -> u64 {
    status_bytes("VmHWM:").unwrap_or(0)
}

/// Resets the peak-resident counter to the current resident size (Linux `clear_refs` 5), so
/// the next [`peak_bytes`] covers only what follows. Returns whether the kernel allowed it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The middle value (the mean of the two middle ones for an even count; NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_follows_a_large_allocation() {
        if resident_bytes() == 0 || !reset_peak() {
            return; // no /proc here: nothing to check
        }
        let before = resident_bytes();
        let v = vec![1u8; 64 << 20];
        std::hint::black_box(&v);
        assert!(peak_bytes() >= before + (60 << 20));
    }

    /// Both paths are called in turns, each at least a warm-up and three calls per round,
    /// and each gets its own time.
    #[test]
    fn a_pair_is_timed_in_turns() {
        let calls = std::cell::RefCell::new(Vec::new());
        let sleep = |us| std::thread::sleep(std::time::Duration::from_micros(us));
        let (f, g) = time_pair(
            0.0,
            || {
                calls.borrow_mut().push('f');
                sleep(200);
            },
            || {
                calls.borrow_mut().push('g');
                sleep(2000);
            },
        );
        let calls: String = calls.into_inner().into_iter().collect();
        assert_eq!(calls, format!("fg{}", "fffggg".repeat(ROUNDS)));
        assert!(f >= 200e-6 && g >= 2000e-6 && f < g, "{f} {g}");
    }
}
