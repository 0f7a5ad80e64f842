//! Sampling: which finished spans are sent.
//!
//! The rules are the Java OpenTracing SDK's (`WavefrontTracer.sample`,
//! `WavefrontSpanBuilder.start`, `WavefrontSpan.doFinish`):
//!
//! * **Head decision.** A span with no inherited decision (a root span, or
//!   the child of an incoming context without a sampled flag) is kept if any
//!   *early* sampler ([`Sampler::is_early`]) keeps it; with no samplers at
//!   all, every span is kept. A span with a parent inherits the parent's
//!   decision, and an incoming sampled flag (`wf-ot-sample`, the
//!   `traceparent` flag, B3's sampling state) is honoured, so a whole trace
//!   is kept or dropped together.
//! * **Forcing by tag**, at any time before the span finishes (and children
//!   started afterwards inherit it): `sampling.priority` with a numeric value
//!   keeps the span if the value (truncated to an integer, as Java's
//!   `intValue`) is > 0 and drops it if ≤ 0, overriding everything;
//!   `debug=true` and `error=true` (also [`SpanHandle::set_error`]) keep it
//!   unless the span was already forced either way.
//! * **Late decision.** At finish, a span that is not forced and has no
//!   positive decision is kept if any *late* sampler (a
//!   [`DurationSampler`], for example) keeps it given its duration.
//!
//! A dropped span is counted ([`Tracer::discarded`]) and not queued for
//! sending, but still reaches the tracer's
//! [`on_finish`](super::TracerBuilder::on_finish) hooks (RED metrics count
//! every span).
//!
//! Differences from the Java SDK: with no samplers at all, an incoming
//! "not sampled" flag is honoured (Java keeps such spans at finish); the
//! late check consults only late samplers, even for a span that lasted less
//! than a millisecond; and a [`CompositeSampler`] of early samplers only is
//! itself early (Java's is always late).
//!
//! ```
//! use std::time::Duration;
//! use wavefront_core::trace::{CompositeSampler, DurationSampler, RateSampler, Tracer};
//! use wavefront_core::ApplicationTags;
//!
//! let tracer = Tracer::builder(ApplicationTags::builder("Ordering", "styling").build()?)
//!     .sampler(RateSampler::new(0.0)?) // keeps about 1 trace in 10,000
//!     .sampler(DurationSampler::new(Duration::from_secs(5))) // and every span over 5 s
//!     .build();
//! let span = tracer.span("checkout").tag("sampling.priority", "1").start();
//! span.finish(); // forced: kept
//! let span = tracer.span("fast").tag("sampling.priority", "0").start();
//! span.finish(); // forced: dropped
//! assert_eq!((tracer.queue_size(), tracer.discarded()), (1, 1));
//!
//! // The same policy as one sampler.
//! let either = CompositeSampler::new()
//!     .with(RateSampler::new(0.1)?)
//!     .with(DurationSampler::new(Duration::from_secs(5)));
//! # let _ = either;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`SpanHandle::set_error`]: super::SpanHandle::set_error
//! [`Tracer::discarded`]: super::Tracer::discarded

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::id::TraceId;

/// Tag forcing a decision: numeric, > 0 keeps, ≤ 0 drops.
pub const SAMPLING_PRIORITY: &str = "sampling.priority";

/// Decides whether spans are kept. Object safe, so a tracer holds any mix.
///
/// An *early* sampler decides at span start (with a zero duration) for spans
/// without an inherited decision; a *late* one at finish, with the span's
/// duration, for spans without a positive decision.
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::trace::Sampler;
/// use wavefront_core::TraceId;
///
/// /// Keeps every span of the `checkout` operation.
/// #[derive(Debug)]
/// struct Checkout;
///
/// impl Sampler for Checkout {
///     fn sample(&self, operation: &str, _: TraceId, _: Duration) -> bool {
///         operation == "checkout"
///     }
///     fn is_early(&self) -> bool {
///         true
///     }
/// }
///
/// let sampler: Box<dyn Sampler> = Box::new(Checkout);
/// assert!(sampler.sample("checkout", TraceId::from_u128(1), Duration::ZERO));
/// ```
pub trait Sampler: Send + Sync + fmt::Debug {
    /// Whether to keep a span of `operation` in trace `trace_id` that lasted
    /// `duration` (zero when deciding at start).
    fn sample(&self, operation: &str, trace_id: TraceId, duration: Duration) -> bool;

    /// Whether the sampler decides at span start (`true`) or at finish.
    fn is_early(&self) -> bool;
}

impl<S: Sampler + ?Sized> Sampler for Arc<S> {
    fn sample(&self, operation: &str, trace_id: TraceId, duration: Duration) -> bool {
        (**self).sample(operation, trace_id, duration)
    }
    fn is_early(&self) -> bool {
        (**self).is_early()
    }
}

impl<S: Sampler + ?Sized> Sampler for Box<S> {
    fn sample(&self, operation: &str, trace_id: TraceId, duration: Duration) -> bool {
        (**self).sample(operation, trace_id, duration)
    }
    fn is_early(&self) -> bool {
        (**self).is_early()
    }
}

/// A sampling rate outside [0, 1] (or not a number).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvalidSamplingRate(pub f64);

impl fmt::Display for InvalidSamplingRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sampling rate {} is not between 0.0 and 1.0", self.0)
    }
}

impl std::error::Error for InvalidSamplingRate {}

const MOD_FACTOR: i64 = 10_000;

/// Keeps a fraction of traces, decided on the trace id alone so every
/// service keeps the same traces: early, and exactly the reference's rule,
/// keep if `|low64(trace id) mod 10000| <= rate * 10000` with the low 64
/// bits read as a signed integer (so rate 0 still keeps about 1 trace in
/// 10,000, and rate 1 keeps all).
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::trace::{RateSampler, Sampler};
/// use wavefront_core::TraceId;
///
/// let half = RateSampler::new(0.5)?;
/// let id = |low: u64| TraceId::from_u128(0xffff_0000_0000_0000_0000_0000_0000_0000 | u128::from(low));
/// assert!(half.sample("op", id(15_000), Duration::ZERO)); // 5000 <= 5000
/// assert!(!half.sample("op", id(15_001), Duration::ZERO));
/// assert!(RateSampler::new(1.5).is_err());
/// # Ok::<(), wavefront_core::trace::InvalidSamplingRate>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSampler {
    rate: f64,
    boundary: i64,
}

impl RateSampler {
    /// A sampler keeping `rate` of traces; `rate` must be in [0, 1].
    ///
    /// # Errors
    /// [`InvalidSamplingRate`] for a rate outside [0, 1] or NaN.
    pub fn new(rate: f64) -> Result<Self, InvalidSamplingRate> {
        if !(0.0..=1.0).contains(&rate) {
            return Err(InvalidSamplingRate(rate));
        }
        // Java: `(long) (samplingRate * MOD_FACTOR)`, truncating.
        let boundary = (rate * MOD_FACTOR as f64) as i64;
        Ok(RateSampler { rate, boundary })
    }

    /// The rate.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.rate
    }
}

impl Sampler for RateSampler {
    fn sample(&self, _operation: &str, trace_id: TraceId, _duration: Duration) -> bool {
        let low = trace_id.to_u128() as u64 as i64;
        (low % MOD_FACTOR).abs() <= self.boundary
    }

    fn is_early(&self) -> bool {
        true
    }
}

/// Keeps spans that lasted strictly longer than a threshold: late.
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::trace::{DurationSampler, Sampler};
/// use wavefront_core::TraceId;
///
/// let slow = DurationSampler::new(Duration::from_millis(100));
/// assert!(slow.sample("op", TraceId::from_u128(1), Duration::from_millis(101)));
/// assert!(!slow.sample("op", TraceId::from_u128(1), Duration::from_millis(100)));
/// assert!(!slow.is_early());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSampler {
    threshold: Duration,
}

impl DurationSampler {
    /// Keeps spans longer than `threshold`.
    #[must_use]
    pub fn new(threshold: Duration) -> Self {
        DurationSampler { threshold }
    }

    /// The threshold.
    #[must_use]
    pub fn threshold(&self) -> Duration {
        self.threshold
    }
}

impl Sampler for DurationSampler {
    fn sample(&self, _operation: &str, _trace_id: TraceId, duration: Duration) -> bool {
        duration > self.threshold
    }

    fn is_early(&self) -> bool {
        false
    }
}

/// Keeps all traces or none: early.
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::trace::{ConstantSampler, Sampler};
/// use wavefront_core::TraceId;
///
/// assert!(!ConstantSampler::new(false).sample("op", TraceId::from_u128(1), Duration::ZERO));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConstantSampler(bool);

impl ConstantSampler {
    /// A sampler that always answers `decision`.
    #[must_use]
    pub fn new(decision: bool) -> Self {
        ConstantSampler(decision)
    }
}

impl Sampler for ConstantSampler {
    fn sample(&self, _operation: &str, _trace_id: TraceId, _duration: Duration) -> bool {
        self.0
    }

    fn is_early(&self) -> bool {
        true
    }
}

/// Keeps a span if any of its samplers does (with none, keeps everything).
/// Early if every one of its samplers is early, else late: then all of them
/// decide at finish. (A tracer's own list of samplers is already any-of,
/// and consults each at its own time.)
///
/// ```
/// use std::time::Duration;
/// use wavefront_core::trace::{CompositeSampler, ConstantSampler, DurationSampler, Sampler};
/// use wavefront_core::TraceId;
///
/// let any = CompositeSampler::new()
///     .with(ConstantSampler::new(false))
///     .with(DurationSampler::new(Duration::from_secs(1)));
/// assert!(!any.is_early());
/// assert!(any.sample("op", TraceId::from_u128(1), Duration::from_secs(2)));
/// assert!(!any.sample("op", TraceId::from_u128(1), Duration::from_millis(2)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CompositeSampler {
    samplers: Vec<Arc<dyn Sampler>>,
}

impl CompositeSampler {
    /// A composite of no samplers yet.
    #[must_use]
    pub fn new() -> Self {
        CompositeSampler::default()
    }

    /// Adds a sampler.
    #[must_use]
    pub fn with(mut self, sampler: impl Sampler + 'static) -> Self {
        self.samplers.push(Arc::new(sampler));
        self
    }
}

impl Sampler for CompositeSampler {
    fn sample(&self, operation: &str, trace_id: TraceId, duration: Duration) -> bool {
        self.samplers.is_empty()
            || self
                .samplers
                .iter()
                .any(|s| s.sample(operation, trace_id, duration))
    }

    fn is_early(&self) -> bool {
        !self.samplers.is_empty() && self.samplers.iter().all(|s| s.is_early())
    }
}

/// The head decision for a span without an inherited one.
pub(super) fn head(samplers: &[Arc<dyn Sampler>], operation: &str, trace_id: TraceId) -> bool {
    samplers.is_empty()
        || samplers
            .iter()
            .any(|s| s.is_early() && s.sample(operation, trace_id, Duration::ZERO))
}

/// The late decision at finish, for a span not forced and without a positive
/// decision.
pub(super) fn late(
    samplers: &[Arc<dyn Sampler>],
    operation: &str,
    trace_id: TraceId,
    duration: Duration,
) -> bool {
    samplers
        .iter()
        .any(|s| !s.is_early() && s.sample(operation, trace_id, duration))
}

/// `sampling.priority` as Java's `Number.intValue() > 0`.
fn priority_keeps(value: &str) -> Option<bool> {
    let value = value.trim();
    if let Ok(n) = value.parse::<i64>() {
        return Some(n > 0);
    }
    let n = value.parse::<f64>().ok().filter(|n| n.is_finite())?;
    Some(n.trunc() > 0.0)
}

/// The forced decision after tag `key=value` is set on a span whose forced
/// decision was `forced`.
pub(super) fn force(key: &str, value: &str, forced: Option<bool>) -> Option<bool> {
    match key {
        SAMPLING_PRIORITY => priority_keeps(value).or(forced),
        "debug" | "error" if value == "true" => forced.or(Some(true)),
        _ => forced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        TraceId::from_u128(0x1234_5678_9abc_def0_0000_0000_0000_0000 | u128::from(low))
    }

    #[test]
    fn rate_boundaries_follow_the_reference() {
        let zero = RateSampler::new(0.0).unwrap();
        let one = RateSampler::new(1.0).unwrap();
        for low in [0u64, 10_000, 20_000, (-10_000i64) as u64] {
            assert!(zero.sample("op", id(low), Duration::ZERO), "{low}");
        }
        for low in [1u64, 9_999, 10_001, u64::MAX, i64::MIN as u64] {
            assert!(!zero.sample("op", id(low), Duration::ZERO), "{low}");
            assert!(one.sample("op", id(low), Duration::ZERO), "{low}");
        }
        // Signed: -1 mod 10000 is -1, |−1| = 1.
        let tiny = RateSampler::new(0.0001).unwrap();
        assert!(tiny.sample("op", id(u64::MAX), Duration::ZERO));
        assert!(!tiny.sample("op", id(u64::MAX - 1), Duration::ZERO));
        // i64::MIN % 10000 = -5808.
        let r = RateSampler::new(0.5808).unwrap();
        assert!(r.sample("op", id(i64::MIN as u64), Duration::ZERO));
        let r = RateSampler::new(0.5807).unwrap();
        assert!(!r.sample("op", id(i64::MIN as u64), Duration::ZERO));
        // The upper 64 bits do not matter.
        assert!(zero.sample(
            "op",
            TraceId::from_u128(u128::from(u64::MAX) << 64),
            Duration::ZERO
        ));
    }

    #[test]
    fn bad_rates_are_rejected() {
        for rate in [-0.0001, 1.0001, f64::NAN, f64::INFINITY, -f64::INFINITY] {
            let err = RateSampler::new(rate).unwrap_err();
            assert!(err.to_string().contains("between 0.0 and 1.0"));
        }
        assert_eq!(RateSampler::new(0.25).unwrap().rate(), 0.25);
    }

    #[test]
    fn duration_and_composite() {
        let d = DurationSampler::new(Duration::from_millis(5));
        assert_eq!(d.threshold(), Duration::from_millis(5));
        assert!(!d.sample("op", id(1), Duration::from_millis(5)));
        assert!(d.sample("op", id(1), Duration::from_micros(5_001)));
        assert!(CompositeSampler::new().sample("op", id(1), Duration::ZERO));
        assert!(!CompositeSampler::new().is_early());
        let early = CompositeSampler::new()
            .with(ConstantSampler::new(false))
            .with(RateSampler::new(0.0).unwrap());
        assert!(early.is_early());
        assert!(early.sample("op", id(10_000), Duration::ZERO));
        assert!(!early.sample("op", id(10_001), Duration::ZERO));
        let mixed = early.clone().with(d);
        assert!(!mixed.is_early());
        assert!(mixed.sample("op", id(10_001), Duration::from_millis(6)));
        assert!(!mixed.sample("op", id(10_001), Duration::from_millis(4)));
    }

    #[test]
    fn head_and_late_consult_their_own_samplers() {
        let samplers: Vec<Arc<dyn Sampler>> = vec![
            Arc::new(ConstantSampler::new(false)),
            Arc::new(DurationSampler::new(Duration::from_millis(1))),
        ];
        assert!(head(&[], "op", id(1)));
        assert!(
            !head(&samplers, "op", id(1)),
            "a late sampler is not asked at start"
        );
        assert!(late(&samplers, "op", id(1), Duration::from_millis(2)));
        assert!(!late(&samplers, "op", id(1), Duration::ZERO));
        let keep: Vec<Arc<dyn Sampler>> = vec![Arc::new(ConstantSampler::new(true))];
        assert!(head(&keep, "op", id(1)));
        assert!(
            !late(&keep, "op", id(1), Duration::from_secs(1)),
            "an early one not at finish"
        );
    }

    #[test]
    fn forcing_tags() {
        assert_eq!(force("sampling.priority", "1", None), Some(true));
        assert_eq!(force("sampling.priority", "10", Some(false)), Some(true));
        assert_eq!(force("sampling.priority", "0", Some(true)), Some(false));
        assert_eq!(force("sampling.priority", "-3", None), Some(false));
        assert_eq!(
            force("sampling.priority", "0.9", None),
            Some(false),
            "intValue"
        );
        assert_eq!(force("sampling.priority", "1.5", None), Some(true));
        assert_eq!(force("sampling.priority", " 2 ", None), Some(true));
        assert_eq!(force("sampling.priority", "high", None), None);
        assert_eq!(force("sampling.priority", "NaN", Some(true)), Some(true));
        assert_eq!(force("debug", "true", None), Some(true));
        assert_eq!(force("debug", "true", Some(false)), Some(false));
        assert_eq!(force("debug", "false", None), None);
        assert_eq!(force("error", "true", None), Some(true));
        assert_eq!(force("error", "true", Some(false)), Some(false));
        assert_eq!(force("error", "yes", None), None);
        assert_eq!(force("other", "true", None), None);
    }
}
