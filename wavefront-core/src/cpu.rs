//! CPU time of the current thread, for the `cpu_ns` histograms.
//!
//! An async request moves between threads, so its CPU time is the sum, over
//! each poll of its future, of the polling thread's CPU time during that
//! poll. Each reading is one `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` system
//! call (no vDSO shortcut exists for thread clocks), typically 100–300 ns;
//! two per poll. Adapters let users switch this off.

#![allow(unsafe_code)]

/// Nanoseconds of CPU time this thread has used, if the platform can tell.
#[cfg(unix)]
#[must_use]
pub fn thread_time_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the
    // call; CLOCK_THREAD_CPUTIME_ID needs no other argument.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| {
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    })
}

/// Nanoseconds of CPU time this thread has used, if the platform can tell.
#[cfg(not(unix))]
#[must_use]
pub fn thread_time_ns() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn grows_with_work() {
        let before = super::thread_time_ns().unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = super::thread_time_ns().unwrap();
        assert!(after > before, "{before} {after}");
    }
}
