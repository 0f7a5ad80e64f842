//! Wall-clock minutes for histogram bins, read with one atomic load.
//!
//! Reading the system clock costs tens of nanoseconds, most of a histogram
//! record's budget, and a minute bin only needs to know which minute it is.
//! [`Clock::system`] therefore reads a process-wide minute that a background
//! thread advances at each minute boundary (it sleeps in between, so it costs
//! one wake-up a minute). Samples taken in the first milliseconds of a minute
//! may land in the previous bin. Tests use [`ManualClock`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One minute, in milliseconds.
pub const MINUTE_MS: u64 = 60_000;

/// Milliseconds since the Unix epoch, now.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Nanoseconds from `earlier` to `later` (zero if `later` is not later).
pub(crate) fn nanos_between(earlier: Instant, later: Instant) -> u64 {
    later
        .saturating_duration_since(earlier)
        .as_nanos()
        .try_into()
        .unwrap_or(u64::MAX)
}

fn minute_start(ms: u64) -> u64 {
    ms - ms % MINUTE_MS
}

/// The process-wide current minute, advanced by a sleeping thread.
fn system_minute() -> &'static AtomicU64 {
    static MINUTE: OnceLock<&'static AtomicU64> = OnceLock::new();
    MINUTE.get_or_init(|| {
        let minute: &'static AtomicU64 =
            Box::leak(Box::new(AtomicU64::new(minute_start(now_ms()))));
        let spawned = std::thread::Builder::new()
            .name("wavefront-minute-clock".into())
            .spawn(move || loop {
                let now = now_ms();
                minute.fetch_max(minute_start(now), Ordering::Relaxed);
                let until_next = MINUTE_MS - now % MINUTE_MS;
                std::thread::sleep(Duration::from_millis(until_next + 1));
            });
        // Without the thread the minute would stand still; readers check
        // `CLOCK_THREAD_FAILED` and fall back to reading the clock.
        if spawned.is_err() {
            CLOCK_THREAD_FAILED.store(true, Ordering::Relaxed);
        }
        minute
    })
}

static CLOCK_THREAD_FAILED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Where a histogram (and the reporter) reads the current minute.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock, through the process-wide minute.
    #[default]
    System,
    /// A clock the caller sets (tests, simulations).
    Manual(ManualClock),
}

impl Clock {
    /// The system clock.
    #[must_use]
    pub fn system() -> Self {
        Clock::System
    }

    /// Start of the current minute, in epoch milliseconds.
    #[must_use]
    pub fn minute_ms(&self) -> u64 {
        match self {
            Clock::System if !CLOCK_THREAD_FAILED.load(Ordering::Relaxed) => {
                system_minute().load(Ordering::Relaxed)
            }
            Clock::System => minute_start(now_ms()),
            Clock::Manual(clock) => minute_start(clock.now_ms()),
        }
    }

    /// Current time in epoch milliseconds (exact, for timestamps).
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        match self {
            Clock::System => now_ms(),
            Clock::Manual(clock) => clock.now_ms(),
        }
    }
}

/// A clock that only moves when told to.
///
/// ```
/// use wavefront_core::clock::{Clock, ManualClock};
///
/// let manual = ManualClock::new(1_700_000_070_000);
/// let clock = Clock::Manual(manual.clone());
/// assert_eq!(clock.minute_ms(), 1_700_000_040_000);
/// manual.advance_ms(60_000);
/// assert_eq!(clock.minute_ms(), 1_700_000_100_000);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `ms` milliseconds since the epoch.
    #[must_use]
    pub fn new(ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(ms)))
    }

    /// The time shown, in epoch milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Sets the time.
    pub fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed);
    }

    /// Moves the time forward.
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }
}
