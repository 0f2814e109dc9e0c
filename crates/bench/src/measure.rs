//! Timing and memory readings of the running process.

use std::time::Instant;

/// Seconds per call of `f`: the fastest of five rounds, each averaging enough calls to take a
/// fifth of `budget` (at least 3 calls), after one warm-up call. Taking the fastest round
/// keeps a burst of activity elsewhere on a shared machine out of the ratio.
pub fn time_it(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut reps = 0u32;
            while reps < 3 || start.elapsed().as_secs_f64() < budget / 5.0 {
                f();
                reps += 1;
            }
            start.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
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
}
