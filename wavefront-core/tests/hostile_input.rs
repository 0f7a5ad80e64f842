//! Hostile input for the library API: the wire encoders and header extraction.
//!
//! 1. **Encoders.** Well over 1,000,000 generated cases (see [`CASES`]) feed
//!    names, tag keys and values, sources, span operation names, span tags
//!    and span-log fields full of control characters (`\0 \n \r \t \x7f
//!    \x1b`, EOT), quotes, backslashes, U+FFFD, blanks and empty strings,
//!    CJK, emoji, combining marks, surrogate escapes written as text, `∆`/`Δ`/`~`
//!    prefixes, reserved keys, lengths on each side of every limit and huge
//!    strings (up to 70,000 characters) to `write_metric`, `write_delta`,
//!    `write_histogram`, `MetricTemplate`, `write_span` and
//!    `write_span_logs`. For each case the encoder either returns an error
//!    (and leaves the buffer exactly as it was) or appends exactly one line
//!    that the strict parser (`wavefront_testkit::parse`) accepts. A panic
//!    fails the test.
//! 2. **Propagation.** Malformed, oversized (1 MB and 100 KB), repeated and
//!    conflicting headers given to `Tracer::extract` (and to each
//!    `Propagation::extract`) yield no context or a valid one, never panic,
//!    and allocate nothing in proportion to the input: a counting global
//!    allocator (counting only on the thread that asks for it) measures it.
//!
//! The generator is a fixed-seed xorshift, so every run sees the same input
//! and a failure message (which prints the seed, the case number and the
//! input) reproduces.
//!
//! The limits the generated inputs rarely reach (tag counts, renamed keys,
//! span tag key lengths, timestamps past `i64::MAX`) have minimal cases of
//! their own below; each was a bug this file found.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to
// `System` (see the SAFETY comments).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use wavefront_core::trace::{Propagation, SpanContext, Tracer};
use wavefront_core::wire::{
    self, Centroid, Encoded, Granularity, MetricTemplate, SpanLine, SpanLog, WireError,
};
use wavefront_core::{ApplicationTags, SpanId, TraceId};
use wavefront_testkit::parse::{self, ParseError};

// ===== counting allocator =====

/// Counts the bytes and calls of allocations made on threads that have
/// switched counting on, and forwards everything to the system allocator.
struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOC_BYTES: Cell<usize> = const { Cell::new(0) };
    static ALLOC_CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count_alloc(bytes: usize) {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOC_BYTES.try_with(|b| b.set(b.get() + bytes));
        let _ = ALLOC_CALLS.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the bookkeeping only touches const-initialised thread-locals of
// plain `Cell`s, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: forwarded as is; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc(new_size.saturating_sub(layout.size()));
        // SAFETY: `ptr` came from `System` through this allocator, with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Allocation made by `f` on this thread: bytes requested and calls.
#[derive(Debug, Clone, Copy)]
struct Allocated {
    bytes: usize,
    calls: usize,
}

fn measure<R>(f: impl FnOnce() -> R) -> (R, Allocated) {
    ALLOC_BYTES.with(|b| b.set(0));
    ALLOC_CALLS.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    let allocated = Allocated {
        bytes: ALLOC_BYTES.with(Cell::get),
        calls: ALLOC_CALLS.with(Cell::get),
    };
    (result, allocated)
}

// ===== generator =====

/// Generated cases per test; the encoder tests add up to [`CASES`].
const METRIC_CASES: usize = 150_000;
const DELTA_CASES: usize = 100_000;
const HISTOGRAM_CASES: usize = 150_000;
const TEMPLATE_CASES: usize = 150_000;
const SPAN_CASES: usize = 150_000;
const SPAN_LOG_CASES: usize = 50_000;
/// Encoder cases in total (two tests each for metrics, spans and span logs): 1,100,000.
const CASES: usize = 2 * METRIC_CASES
    + DELTA_CASES
    + HISTOGRAM_CASES
    + TEMPLATE_CASES
    + 2 * SPAN_CASES
    + 2 * SPAN_LOG_CASES;
const _: () = assert!(CASES >= 1_000_000);
/// Random header sets given to `Tracer::extract`.
const HEADER_CASES: usize = 200_000;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Characters that stress the formats.
const HOSTILE_CHARS: &[char] = &[
    '\0',
    '\n',
    '\r',
    '\t',
    '\x7f',
    '\x1b',
    '\u{4}',
    '\u{8}',
    '\u{b}',
    '\u{c}',
    '\u{1c}',
    '\u{1f}',
    '"',
    '\'',
    '\\',
    ' ',
    '=',
    '#',
    '*',
    '~',
    '∆',
    'Δ',
    '!',
    '{',
    '}',
    '[',
    ':',
    '/',
    ',',
    '.',
    '-',
    '_',
    '\u{fffd}',
    '日',
    '本',
    '語',
    '😀',
    '👩',
    '\u{200d}',
    '\u{301}',
    '\u{85}',
    '\u{a0}',
    '\u{2007}',
    '\u{2028}',
    '\u{3000}',
    '\u{200b}',
    '\u{feff}',
    'é',
    '\u{10ffff}',
    '\u{e000}',
];

/// Whole strings that stress the formats, used as is or as parts.
const SPECIAL_TEXTS: &[&str] = &[
    "",
    " ",
    "  \t ",
    "\n",
    "\r\n",
    "\u{3000}",
    "\u{1c}\u{1d}\u{1e}\u{1f}",
    "\u{85}",
    "\\",
    "\\\\",
    "\"",
    "\\\"",
    "\"\\",
    "a\\",
    "a \\",
    "C:\\dir\\",
    "x\\\n\\",
    "∆",
    "Δ",
    "~",
    "∆~",
    "Δ~",
    "~∆",
    "∆ ",
    "∆∆",
    "\\ud800",
    "\\udfff",
    "\\ud83d\\ude00",
    "\\u0000",
    "\u{fffd}",
    "\u{4}",
    "\u{4}\u{4}",
    "\0",
    "source",
    "host",
    "tag",
    " source ",
    "traceId",
    "spanId",
    "parent",
    "followsFrom",
    "_spanLogs",
    "123",
    "0",
    " 42 ",
    "*",
    "**",
    "a=b",
    "=",
    "#",
    "# 1 2",
    "!M",
    "!M 1 #1 1.0",
    "{",
    "{\"a\": 1}",
    "null",
    "e\u{301}",
    "👩\u{200d}👩\u{200d}👧",
    "日本語",
    "'quoted'",
    "\"quoted\"",
    "a\"b\\\"c\\",
];

/// Lengths on each side of the encoders' and the proxy's limits.
const BOUNDARY_LENS: &[usize] = &[
    1, 2, 127, 128, 129, 243, 244, 245, 249, 250, 251, 252, 253, 254, 255, 256, 511, 512, 513,
    1022, 1023, 1024, 1025,
];

/// How many strings the generators made (for the report).
struct Tally {
    fields: usize,
    huge: usize,
    chars: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            fields: 0,
            huge: 0,
            chars: 0,
        }
    }
}

/// One random character: mostly ASCII letters and digits, often a hostile
/// one, sometimes any scalar value.
fn random_char(rng: &mut Rng) -> char {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    match rng.below(20) {
        0..=9 => char::from(*rng.pick(ALNUM)),
        10..=16 => *rng.pick(HOSTILE_CHARS),
        _ => loop {
            // Any Unicode scalar value, BMP more often than not.
            let bits = if rng.one_in(2) {
                rng.below(0x1_0000)
            } else {
                rng.below(0x11_0000)
            };
            if let Some(c) = char::from_u32(bits as u32) {
                break c;
            }
        },
    }
}

/// A hostile string; `huge_one_in` sets how rare the 1,000-to-70,000-char ones are.
fn text(rng: &mut Rng, tally: &mut Tally, huge_one_in: usize) -> String {
    tally.fields += 1;
    let s = if rng.one_in(huge_one_in) {
        tally.huge += 1;
        let len = 1_000 + rng.below(69_001);
        let mut s = String::with_capacity(len * 2);
        match rng.below(4) {
            // One character repeated (ASCII, non-ASCII, quote, backslash, space).
            0 => {
                let c = *rng.pick(&['a', '"', '\\', ' ', '日', '😀', '\n', '\u{4}']);
                s.extend(std::iter::repeat_n(c, len));
            }
            // Blank but long, then maybe one letter.
            1 => {
                s.extend(std::iter::repeat_n(' ', len));
                if rng.one_in(2) {
                    s.push('x');
                }
            }
            _ => (0..len).for_each(|_| s.push(random_char(rng))),
        }
        s
    } else {
        match rng.below(100) {
            0..=11 => (*rng.pick(SPECIAL_TEXTS)).to_owned(),
            // A special text inside ordinary text.
            12..=19 => {
                let mut s = short(rng);
                s.push_str(rng.pick::<&str>(SPECIAL_TEXTS));
                if rng.one_in(2) {
                    s.push_str(&short(rng));
                }
                s
            }
            // Blank: white space of every kind, or nothing.
            20..=24 => {
                let blanks = [
                    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1f}', '\u{85}',
                    '\u{a0}', '\u{2028}', '\u{3000}',
                ];
                (0..rng.below(12)).map(|_| *rng.pick(&blanks)).collect()
            }
            // A prefix the name rules treat specially.
            25..=31 => {
                let mut s = (*rng.pick(&[
                    "∆", "Δ", "~", "∆~", "Δ~", "~~", "∆∆", " ∆", "∆ ", "\\", "\"",
                ]))
                .to_owned();
                s.push_str(&short(rng));
                s
            }
            // Exactly at, below or above a limit, in 1-, 2- and 3-byte and
            // 2-UTF-16-unit characters, with an occasional escape inside.
            32..=37 => {
                let len = *rng.pick(BOUNDARY_LENS);
                let c = *rng.pick(&['a', 'é', '日', '😀', '"', '-']);
                let mut s: String = std::iter::repeat_n(c, len).collect();
                if rng.one_in(3) {
                    let at = s.char_indices().nth(rng.below(len)).map_or(0, |(i, _)| i);
                    s.insert(at, *rng.pick(&['"', '\n', '\\', ' ', '\u{4}']));
                }
                s
            }
            // Medium, mixed.
            38..=42 => (0..rng.below(600)).map(|_| random_char(rng)).collect(),
            _ => short(rng),
        }
    };
    tally.chars += s.len();
    s
}

/// 0 to 39 random characters.
fn short(rng: &mut Rng) -> String {
    (0..rng.below(40)).map(|_| random_char(rng)).collect()
}

/// Tags: usually a few hostile ones; sometimes around the proxy's tag-count
/// limit (`many`), mostly plain so that the count itself is what is tested.
fn tags(rng: &mut Rng, tally: &mut Tally, many: usize) -> Vec<(String, String)> {
    if rng.one_in(200) {
        let n = many - 5 + rng.below(10);
        return (0..n)
            .map(|i| {
                if rng.one_in(many) {
                    (text(rng, tally, 4_000), text(rng, tally, 4_000))
                } else {
                    (format!("k{i}"), format!("v{i}"))
                }
            })
            .collect();
    }
    (0..rng.below(7))
        .map(|_| (text(rng, tally, 4_000), text(rng, tally, 4_000)))
        .collect()
}

fn value(rng: &mut Rng) -> f64 {
    match rng.below(10) {
        0 => *rng.pick(&[
            0.0,
            -0.0,
            1.0,
            -1.0,
            1e16,
            1.5e-5,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]),
        1..=4 => f64::from_bits(rng.next()),
        _ => (rng.next() % 2_000_000) as f64 / 8.0 - 50_000.0,
    }
}

/// Timestamps the proxy can read (it reads a Java `long`); larger ones are
/// covered by `timestamps_beyond_i64_are_refused_or_readable`.
fn timestamp(rng: &mut Rng) -> Option<u64> {
    match rng.below(4) {
        0 => None,
        1 => Some(*rng.pick(&[0, 1, 999_999_999_999, 1_000_000_000_000, i64::MAX as u64])),
        _ => Some(rng.next() % 10_000_000_000_000_000),
    }
}

fn centroids(rng: &mut Rng) -> Vec<Centroid> {
    (0..rng.below(6))
        .map(|_| Centroid {
            mean: value(rng),
            count: match rng.below(6) {
                0 => 0,
                1 => *rng.pick(&[
                    1,
                    i32::MAX as u64,
                    i32::MAX as u64 + 1,
                    3 * i32::MAX as u64 + 7,
                ]),
                _ => rng.next() % 1_000_000,
            },
        })
        .collect()
}

// ===== checking =====

/// What the generated tests saw.
#[derive(Debug, Default)]
struct Outcome {
    lines: usize,
    errors: usize,
}

impl Outcome {
    fn report(&self, test: &str, cases: usize, tally: &Tally, started: Instant) {
        println!(
            "{test}: {cases} cases ({} lines accepted, {} refused by the encoder), {} generated strings ({} huge, {} bytes), {:.1?}",
            self.lines,
            self.errors,
            tally.fields,
            tally.huge,
            tally.chars,
            started.elapsed(),
        );
    }
}

/// `s` for a failure message: short strings whole, long ones cut.
fn show(s: &str) -> String {
    if s.len() <= 300 {
        format!("{s:?}")
    } else {
        let cut = (0..=200)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        format!("{:?}... ({} bytes)", &s[..cut], s.len())
    }
}

fn show_tags(tags: &[(String, String)]) -> String {
    let mut out = format!("{} tags [", tags.len());
    for (k, v) in tags.iter().take(30) {
        let _ = write!(out, "({}, {}), ", show(k), show(v));
    }
    out.push(']');
    out
}

/// The oracle: `result` is an error and `buf` is unchanged, or `buf` grew by
/// exactly one line that `parse_line` accepts.
fn check<T>(
    outcome: &mut Outcome,
    result: Result<(), WireError>,
    buf: &str,
    before: &str,
    parse_line: impl Fn(&str) -> Result<T, ParseError>,
    describe: impl Fn() -> String,
) {
    match result {
        Err(e) => {
            assert_eq!(
                buf,
                before,
                "{e:?} left a partial line behind; input: {}",
                describe()
            );
            outcome.errors += 1;
        }
        Ok(()) => {
            assert!(
                buf.starts_with(before),
                "earlier output changed; input: {}",
                describe()
            );
            let line = &buf[before.len()..];
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "not exactly one line: {}; input: {}",
                show(line),
                describe()
            );
            match parse_line(line) {
                Ok(_) => outcome.lines += 1,
                Err(e) => panic!(
                    "the encoder accepted a line the strict parser rejects ({e}): {}\ninput: {}",
                    show(line),
                    describe()
                ),
            }
        }
    }
}

/// A buffer that already holds a line, to check that encoders append and
/// roll back only their own output.
const BEFORE: &str = "\"earlier.line\" 1.0 source=\"h\"\n";

// ===== encoders =====

fn metric_points(seed: u64, cases: usize, test: &str) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut buf = String::new();
    for case in 0..cases {
        let name = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let tags = tags(&mut rng, &mut tally, 100);
        let (value, ts) = (value(&mut rng), timestamp(&mut rng));
        buf.clear();
        buf.push_str(BEFORE);
        let result = wire::write_metric(&mut buf, &name, value, ts, &source, &tags);
        check(
            &mut outcome,
            result,
            &buf,
            BEFORE,
            parse::parse_metric,
            || {
                format!(
                "seed {seed} case {case}: write_metric(name {}, value {value:?}, ts {ts:?}, source {}, {})",
                show(&name),
                show(&source),
                show_tags(&tags)
            )
            },
        );
        // The same line must also be accepted where the proxy reads it.
        if outcome.lines > 0 && buf.len() > BEFORE.len() && case % 16 == 0 {
            let line = &buf[BEFORE.len()..];
            if let Err(e) = parse::parse_metrics_port_line(line) {
                panic!("{e}: {}", show(line));
            }
        }
    }
    outcome.report(test, cases, &tally, started);
}

#[test]
fn metric_points_a() {
    metric_points(1, METRIC_CASES, "metric_points_a");
}

#[test]
fn metric_points_b() {
    metric_points(2, METRIC_CASES, "metric_points_b");
}

#[test]
fn delta_counters() {
    let started = Instant::now();
    let seed = 3;
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut buf = String::new();
    for case in 0..DELTA_CASES {
        let name = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let tags = tags(&mut rng, &mut tally, 100);
        let value = value(&mut rng);
        buf.clear();
        buf.push_str(BEFORE);
        let result = wire::write_delta(&mut buf, &name, value, &source, &tags);
        let result = match result {
            Ok(Encoded::Nothing) => {
                assert!(
                    value <= 0.0 && buf == BEFORE,
                    "seed {seed} case {case}: Nothing for {value}"
                );
                continue;
            }
            Ok(Encoded::Line) => Ok(()),
            Err(e) => Err(e),
        };
        check(
            &mut outcome,
            result,
            &buf,
            BEFORE,
            |line| {
                let point = parse::parse_metric(line)?;
                assert!(point.is_delta(), "not a delta counter: {}", show(line));
                assert_eq!(point.timestamp, None);
                Ok(point)
            },
            || {
                format!(
                    "seed {seed} case {case}: write_delta(name {}, value {value:?}, source {}, {})",
                    show(&name),
                    show(&source),
                    show_tags(&tags)
                )
            },
        );
    }
    outcome.report("delta_counters", DELTA_CASES, &tally, started);
}

#[test]
fn histograms() {
    let started = Instant::now();
    let seed = 4;
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut buf = String::new();
    for case in 0..HISTOGRAM_CASES {
        let name = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let tags = tags(&mut rng, &mut tally, 100);
        let centroids = centroids(&mut rng);
        let ts = timestamp(&mut rng);
        let granularity = *rng.pick(&[Granularity::Minute, Granularity::Hour, Granularity::Day]);
        buf.clear();
        buf.push_str(BEFORE);
        let result =
            wire::write_histogram(&mut buf, granularity, ts, &centroids, &name, &source, &tags);
        check(
            &mut outcome,
            result,
            &buf,
            BEFORE,
            |line| {
                // Both the histogram parser and the metrics port's dispatch.
                parse::parse_metrics_port_line(line)?;
                parse::parse_histogram(line)
            },
            || {
                format!(
                    "seed {seed} case {case}: write_histogram({granularity:?}, ts {ts:?}, {centroids:?}, name {}, source {}, {})",
                    show(&name),
                    show(&source),
                    show_tags(&tags)
                )
            },
        );
    }
    outcome.report("histograms", HISTOGRAM_CASES, &tally, started);
}

#[test]
fn metric_templates() {
    let started = Instant::now();
    let seed = 5;
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut buf = String::new();
    for case in 0..TEMPLATE_CASES {
        let name = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let tags = tags(&mut rng, &mut tally, 100);
        let delta = rng.one_in(3);
        let made = if delta {
            MetricTemplate::delta(&name, &source, &tags)
        } else {
            MetricTemplate::new(&name, &source, &tags)
        };
        let describe = || {
            format!(
                "seed {seed} case {case}: MetricTemplate::{}(name {}, source {}, {})",
                if delta { "delta" } else { "new" },
                show(&name),
                show(&source),
                show_tags(&tags)
            )
        };
        let template = match made {
            Ok(template) => template,
            Err(_) => {
                outcome.errors += 1;
                continue;
            }
        };
        // A few writes per template, each checked.
        for _ in 0..3 {
            buf.clear();
            buf.push_str(BEFORE);
            let value = value(&mut rng);
            match rng.below(3) {
                0 => {
                    let ts = timestamp(&mut rng);
                    let result = template.write(&mut buf, value, ts);
                    check(
                        &mut outcome,
                        result,
                        &buf,
                        BEFORE,
                        parse::parse_metric,
                        || format!("{} .write({value:?}, {ts:?})", describe()),
                    );
                }
                1 => match template.write_delta(&mut buf, value) {
                    Ok(Encoded::Nothing) => assert!(value <= 0.0 && buf == BEFORE),
                    result => {
                        let result = result.map(|_| ());
                        check(
                            &mut outcome,
                            result,
                            &buf,
                            BEFORE,
                            parse::parse_metric,
                            || format!("{} .write_delta({value:?})", describe()),
                        );
                    }
                },
                _ => {
                    let centroids = centroids(&mut rng);
                    let ts = timestamp(&mut rng);
                    let result =
                        template.write_histogram(&mut buf, Granularity::Minute, ts, &centroids);
                    check(
                        &mut outcome,
                        result,
                        &buf,
                        BEFORE,
                        parse::parse_histogram,
                        || format!("{} .write_histogram({ts:?}, {centroids:?})", describe()),
                    );
                }
            }
        }
    }
    outcome.report("metric_templates", TEMPLATE_CASES, &tally, started);
}

fn span_ids(rng: &mut Rng, n: usize) -> Vec<SpanId> {
    (0..n)
        .map(|_| SpanId::from_u128(u128::from(rng.next()) << 64 | u128::from(rng.next())))
        .collect()
}

fn spans(seed: u64, cases: usize, test: &str) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut buf = String::new();
    for case in 0..cases {
        let operation = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let mut tags = tags(&mut rng, &mut tally, 20);
        // Sometimes one tag many times (the encoder writes a repeated pair once).
        if rng.one_in(50) && !tags.is_empty() {
            let tag = tags[0].clone();
            tags.extend(std::iter::repeat_n(tag, 40));
        }
        let (n_parents, n_follows) = (rng.below(3), rng.below(2));
        let parents = span_ids(&mut rng, n_parents);
        let follows = span_ids(&mut rng, n_follows);
        let ids = span_ids(&mut rng, 2);
        let span = SpanLine {
            operation: &operation,
            source: &source,
            trace_id: TraceId::from_u128(ids[0].to_u128()),
            span_id: ids[1],
            parents: &parents,
            follows_from: &follows,
            tags: &tags,
            start: timestamp(&mut rng).unwrap_or(0),
            duration: rng.next() % (i64::MAX as u64),
            has_logs: rng.one_in(2),
        };
        buf.clear();
        buf.push_str(BEFORE);
        let result = wire::write_span(&mut buf, &span);
        check(
            &mut outcome,
            result,
            &buf,
            BEFORE,
            |line| {
                let parsed = parse::parse_tracing_port_line(line)?;
                let span = parse::parse_span(line)?;
                assert!(matches!(parsed, parse::Line::Span(_)));
                Ok(span)
            },
            || {
                format!(
                    "seed {seed} case {case}: write_span(operation {}, source {}, {}, start {}, duration {}, has_logs {})",
                    show(&operation),
                    show(&source),
                    show_tags(&tags),
                    span.start,
                    span.duration,
                    span.has_logs
                )
            },
        );
    }
    outcome.report(test, cases, &tally, started);
}

#[test]
fn spans_a() {
    spans(6, SPAN_CASES, "spans_a");
}

#[test]
fn spans_b() {
    spans(7, SPAN_CASES, "spans_b");
}

#[test]
fn span_logs_a() {
    span_logs(8, SPAN_LOG_CASES, "span_logs_a");
}

#[test]
fn span_logs_b() {
    span_logs(10, SPAN_LOG_CASES, "span_logs_b");
}

fn span_logs(seed: u64, cases: usize, test: &str) {
    let started = Instant::now();
    let mut rng = Rng::new(seed);
    let (mut tally, mut outcome) = (Tally::new(), Outcome::default());
    let mut span_line = String::new();
    let mut buf = String::new();
    let no_tags: &[(&str, &str)] = &[];
    for case in 0..cases {
        let ids = span_ids(&mut rng, 2);
        let (trace_id, span_id) = (TraceId::from_u128(ids[0].to_u128()), ids[1]);
        // The span line of the logs: of a hostile span when that encodes,
        // else of a plain one (the encoder's contract is a `write_span` line).
        let operation = text(&mut rng, &mut tally, 2_000);
        let source = text(&mut rng, &mut tally, 2_000);
        let span = |operation: &'_ str, source: &'_ str| -> Result<String, WireError> {
            let mut line = String::new();
            wire::write_span(
                &mut line,
                &SpanLine {
                    operation,
                    source,
                    trace_id,
                    span_id,
                    parents: &[],
                    follows_from: &[],
                    tags: no_tags,
                    start: 1_700_000_000_000_000,
                    duration: 1,
                    has_logs: true,
                },
            )
            .map(|()| line)
        };
        span_line.clear();
        span_line.push_str(&span(&operation, &source).unwrap_or_else(|_| span("op", "h").unwrap()));
        let logs: Vec<SpanLog> = (0..rng.below(4))
            .map(|_| SpanLog {
                timestamp_micros: rng.next() % (i64::MAX as u64 + 1),
                fields: (0..rng.below(5))
                    .map(|_| {
                        (
                            Cow::Owned(text(&mut rng, &mut tally, 2_000)),
                            Cow::Owned(text(&mut rng, &mut tally, 2_000)),
                        )
                    })
                    .collect(),
            })
            .collect();
        buf.clear();
        buf.push_str(BEFORE);
        wire::write_span_logs(&mut buf, trace_id, span_id, &logs, &span_line);
        check(
            &mut outcome,
            Ok(()),
            &buf,
            BEFORE,
            |line| {
                assert!(line.is_ascii(), "span logs are not ASCII: {}", show(line));
                let parsed = parse::parse_span_logs(line)?;
                assert!(parsed.span.is_some());
                assert_eq!(parsed.logs.len(), logs.len());
                for (log, entry) in logs.iter().zip(&parsed.logs) {
                    assert_eq!(entry.timestamp as u64, log.timestamp_micros);
                    // JSON objects keep the last of repeated keys.
                    for (key, value) in &entry.fields {
                        let last = log.fields.iter().rev().find(|(k, _)| k == key);
                        assert_eq!(last.map(|(_, v)| v.as_ref()), Some(value.as_str()));
                    }
                }
                parse::parse_tracing_port_line(line)?;
                parse::parse_metrics_port_line(line)
            },
            || {
                format!(
                    "seed {seed} case {case}: write_span_logs(span line {}, {logs:?})",
                    show(&span_line)
                )
            },
        );
    }
    outcome.report(test, cases, &tally, started);
}

// ===== limits the generated inputs rarely reach: minimal cases =====

fn metric_line(name: &str, ts: Option<u64>, tags: &[(&str, &str)]) -> String {
    let mut line = String::new();
    wire::write_metric(&mut line, name, 1.0, ts, "h", tags).expect("the encoder accepts it");
    line
}

fn span_line(tags: &[(&str, &str)]) -> String {
    let mut line = String::new();
    wire::write_span(
        &mut line,
        &SpanLine {
            operation: "op",
            source: "h",
            trace_id: TraceId::from_u128(1),
            span_id: SpanId::from_u128(2),
            parents: &[],
            follows_from: &[],
            tags,
            start: 1,
            duration: 1,
            has_logs: false,
        },
    )
    .expect("the encoder accepts it");
    line
}

/// The line the encoder wrote is accepted, or the encoder refused it.
fn assert_accepted_or_refused<T: std::fmt::Debug>(
    encoded: Result<String, WireError>,
    parse_line: impl Fn(&str) -> Result<T, ParseError>,
) {
    if let Ok(line) = encoded {
        if let Err(e) = parse_line(&line) {
            panic!("encoded but rejected ({e}): {}", show(&line));
        }
    }
}

/// `"tag"="v…"` with key + value = 254 passes the encoder's `< 255` check,
/// but the proxy renames the key `_tag` (255 > limit, WF-411). Same for
/// `host`, which becomes `_host` next to the line's `source=`.
#[test]
fn a_point_tag_the_proxy_renames_is_checked_at_its_renamed_length() {
    let value = "v".repeat(251);
    for key in ["tag", "host"] {
        let value = &value[..254 - key.len()];
        let mut line = String::new();
        let encoded =
            wire::write_metric(&mut line, "m", 1.0, None, "h", &[(key, value)]).map(|()| line);
        assert_accepted_or_refused(encoded, parse::parse_metric);
    }
}

#[test]
fn more_than_100_point_tags_are_refused() {
    let tags: Vec<(String, String)> = (0..101)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    let mut line = String::new();
    let encoded = wire::write_metric(&mut line, "m", 1.0, None, "h", &tags).map(|()| line);
    assert_accepted_or_refused(encoded, parse::parse_metric);
}

#[test]
fn more_than_20_span_tags_are_refused() {
    let tags: Vec<(String, String)> = (0..21).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let mut line = String::new();
    let span = SpanLine {
        operation: "op",
        source: "h",
        trace_id: TraceId::from_u128(1),
        span_id: SpanId::from_u128(2),
        parents: &[],
        follows_from: &[],
        tags: &tags,
        start: 1,
        duration: 1,
        has_logs: false,
    };
    let encoded = wire::write_span(&mut line, &span).map(|()| line);
    assert_accepted_or_refused(encoded, parse::parse_span);
}

#[test]
fn span_tag_keys_longer_than_128_are_refused() {
    let key = "k".repeat(129);
    let mut line = String::new();
    let span = SpanLine {
        operation: "op",
        source: "h",
        trace_id: TraceId::from_u128(1),
        span_id: SpanId::from_u128(2),
        parents: &[],
        follows_from: &[],
        tags: &[(key.as_str(), "v")],
        start: 1,
        duration: 1,
        has_logs: false,
    };
    let encoded = wire::write_span(&mut line, &span).map(|()| line);
    assert_accepted_or_refused(encoded, parse::parse_span);
}

/// Timestamps, span times and span-log times are `u64`, but the proxy reads
/// a Java `long`: above `i64::MAX` the encoders must refuse (or the line is
/// rejected).
#[test]
fn timestamps_beyond_i64_are_refused() {
    let big = i64::MAX as u64 + 1;
    let mut line = String::new();
    let tags: &[(&str, &str)] = &[];
    let encoded = wire::write_metric(&mut line, "m", 1.0, Some(big), "h", tags).map(|()| line);
    assert_accepted_or_refused(encoded, parse::parse_metric);

    let mut line = String::new();
    let c = [Centroid {
        mean: 1.0,
        count: 1,
    }];
    let encoded = wire::write_histogram(
        &mut line,
        Granularity::Minute,
        Some(big),
        &c,
        "m",
        "h",
        tags,
    )
    .map(|()| line);
    assert_accepted_or_refused(encoded, parse::parse_histogram);

    for (start, duration) in [(big, 1), (1, big)] {
        let mut line = String::new();
        let span = SpanLine {
            operation: "op",
            source: "h",
            trace_id: TraceId::from_u128(1),
            span_id: SpanId::from_u128(2),
            parents: &[],
            follows_from: &[],
            tags,
            start,
            duration,
            has_logs: false,
        };
        let encoded = wire::write_span(&mut line, &span).map(|()| line);
        assert_accepted_or_refused(encoded, parse::parse_span);
    }

    let mut line = String::new();
    let log = SpanLog {
        timestamp_micros: big,
        fields: vec![("event".into(), "error".into())],
    };
    let span = span_line(tags);
    wire::write_span_logs(
        &mut line,
        TraceId::from_u128(1),
        SpanId::from_u128(2),
        &[log],
        &span,
    );
    assert_accepted_or_refused(Ok(line), parse::parse_span_logs);
}

/// The boundaries themselves are accepted.
#[test]
fn lines_at_the_limits_are_accepted() {
    // 100 point tags, and `tag`/`host` one character shorter than the bug's.
    let tags: Vec<(String, String)> = (0..100)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    let mut line = String::new();
    wire::write_metric(&mut line, "m", 1.0, None, "h", &tags).unwrap();
    parse::parse_metric(&line).unwrap();
    for key in ["tag", "host", "source"] {
        let value = "v".repeat(253 - key.len());
        parse::parse_metric(&metric_line(
            "m",
            Some(i64::MAX as u64),
            &[(key, value.as_str())],
        ))
        .unwrap();
    }
    // 20 span tags, keys of 128.
    let tags: Vec<(String, String)> = (0..20).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    parse::parse_span(&span_line(&tags)).unwrap();
    let key = "k".repeat(128);
    parse::parse_span(&span_line(&[(key.as_str(), "v")])).unwrap();
}

// ===== propagation =====

const TRACE_HEX: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_HEX: &str = "00f067aa0ba902b7";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const WF_TRACE: &str = "7b3bf470-9456-11e8-9eb6-529269fb1459";
const WF_SPAN: &str = "0313bafe-9457-11e8-9eb6-529269fb1459";
const B3_SINGLE: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1";

fn tracer() -> Tracer {
    let tags = ApplicationTags::builder("app", "svc").build().unwrap();
    Tracer::builder(tags).source("h").build()
}

/// What any extracted context must look like.
fn check_context(context: &SpanContext, describe: impl Fn() -> String) {
    assert_ne!(
        context.trace_id.to_u128(),
        0,
        "zero trace id from {}",
        describe()
    );
    if context.is_decision_only() {
        assert!(
            context.sampled.is_some(),
            "decision-only context without a decision from {}",
            describe()
        );
        assert!(
            context.baggage.is_empty() && context.trace_state.is_none(),
            "{}",
            describe()
        );
    }
    assert!(
        context.baggage.len() <= 32,
        "{} baggage items from {}",
        context.baggage.len(),
        describe()
    );
    for (key, value) in &context.baggage {
        assert!(
            !key.is_empty() && key.len() + value.len() <= 1024,
            "baggage {key:?} from {}",
            describe()
        );
    }
    if let Some(state) = &context.trace_state {
        assert!(
            !state.is_empty() && state.len() <= wavefront_core::trace::MAX_TRACE_STATE_LEN,
            "{}",
            describe()
        );
    }
}

const HEADER_NAMES: &[&str] = &[
    "wf-ot-traceid",
    "wf-ot-spanid",
    "wf-ot-sample",
    "wf-ot-baggage",
    "wf-ot-",
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-b3-parentspanid",
];

/// A value near a valid one for `name`, or garbage.
fn header_value(rng: &mut Rng, tally: &mut Tally, name: &str) -> String {
    let valid = match name.to_ascii_lowercase().as_str() {
        "wf-ot-traceid" => {
            (*rng.pick(&[WF_TRACE, TRACE_HEX, "7B3BF470-9456-11E8-9EB6-529269FB1459"])).to_owned()
        }
        "wf-ot-spanid" => {
            (*rng.pick(&[WF_SPAN, "00000000-0000-0000-0000-000000000000"])).to_owned()
        }
        "wf-ot-sample" | "x-b3-sampled" => {
            (*rng.pick(&["True", "false", "1", "0", "d", "TRUE", ""])).to_owned()
        }
        "traceparent" => (*rng.pick(&[
            TRACEPARENT,
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-00",
        ]))
        .to_owned(),
        "tracestate" => {
            (*rng.pick(&["congo=t61rcWkgMzE", "a=1,b=2", "a=1,a=2", "t@s=v", "k=,x"])).to_owned()
        }
        "b3" => (*rng.pick(&[
            B3_SINGLE,
            "0",
            "1",
            "d",
            "80f198ee56343ba8-e457b5a2e4d86bd1",
            "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        ]))
        .to_owned(),
        "x-b3-traceid" => {
            (*rng.pick(&["80f198ee56343ba864fe8b2a57d3eff7", "80f198ee56343ba8"])).to_owned()
        }
        "x-b3-spanid" | "x-b3-parentspanid" => "e457b5a2e4d86bd1".to_owned(),
        "x-b3-flags" => "1".to_owned(),
        _ => short(rng),
    };
    match rng.below(10) {
        0..=2 => valid,
        // Mutate one character (maybe to a multi-byte one, changing the length).
        3..=5 if !valid.is_empty() => {
            let mut chars: Vec<char> = valid.chars().collect();
            let at = rng.below(chars.len());
            chars[at] = random_char(rng);
            chars.into_iter().collect()
        }
        // Padding, truncation, repetition.
        6 => format!(
            "{}{valid}{}",
            " ".repeat(rng.below(3)),
            "\t".repeat(rng.below(3))
        ),
        7 => {
            let cut = rng.below(valid.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|&i| valid.is_char_boundary(i))
                .unwrap_or(0);
            valid[..cut].to_owned()
        }
        8 => valid.repeat(1 + rng.below(4)),
        _ => text(rng, tally, 500),
    }
}

fn random_headers(rng: &mut Rng, tally: &mut Tally) -> Vec<(String, String)> {
    let n = rng.below(10);
    let mut headers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut name = match rng.below(10) {
            0 => text(rng, tally, 1_000),
            1 => format!("wf-ot-{}", short(rng)),
            // Names cut inside a multi-byte character near the `wf-ot-` prefix.
            2 => (*rng.pick(&[
                "wf-ot\u{e9}x",
                "wf-o\u{1f600}",
                "wf-ot-\u{e9}",
                "wf",
                "\u{e9}",
            ]))
            .to_owned(),
            _ => (*rng.pick(HEADER_NAMES)).to_owned(),
        };
        if rng.one_in(4) {
            name = name
                .chars()
                .map(|c| {
                    if rng.one_in(2) {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
        }
        let value = header_value(rng, tally, &name);
        let times = if rng.one_in(20) { 2 + rng.below(3) } else { 1 };
        for _ in 0..times {
            headers.push((name.clone(), value.clone()));
        }
    }
    headers
}

#[test]
fn random_headers_give_no_context_or_a_valid_one() {
    let started = Instant::now();
    let seed = 9;
    let mut rng = Rng::new(seed);
    let mut tally = Tally::new();
    let tracer = tracer();
    let (mut some, mut none) = (0, 0);
    for case in 0..HEADER_CASES {
        let owned = random_headers(&mut rng, &mut tally);
        let headers: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let describe = || format!("seed {seed} case {case}: {headers:?}");
        match tracer.extract(headers.as_slice()) {
            Some(context) => {
                check_context(&context, describe);
                some += 1;
            }
            None => none += 1,
        }
        for format in Propagation::ALL {
            if let Some(context) = format.extract(headers.as_slice()) {
                check_context(&context, describe);
            }
        }
    }
    println!(
        "random_headers_give_no_context_or_a_valid_one: {HEADER_CASES} header sets ({some} with a context, {none} without), {} generated strings, {:.1?}",
        tally.fields,
        started.elapsed()
    );
}

/// Extracts from `headers` on this thread, after a warm-up, and returns the
/// context and what extracting allocated.
fn extract_measured(
    tracer: &Tracer,
    headers: &[(&str, &str)],
) -> (Option<SpanContext>, Allocated, Duration) {
    let _ = tracer.extract(headers); // warm-up: thread-local generator
    let started = Instant::now();
    let (context, allocated) = measure(|| tracer.extract(headers));
    (context, allocated, started.elapsed())
}

const MB: usize = 1 << 20;

#[test]
fn one_megabyte_headers_allocate_almost_nothing() {
    let tracer = tracer();
    let fillers: [String; 6] = [
        "a".repeat(MB),
        "0".repeat(MB),
        " ".repeat(MB),
        "日".repeat(MB / 3),
        format!("{TRACEPARENT}{}", "-0".repeat(MB / 2)),
        format!("{}{WF_TRACE}{}", " ".repeat(MB / 2), " ".repeat(MB / 2)),
    ];
    // The counter sees this thread's allocations.
    let (v, allocated) = measure(|| vec![0u8; 10_000]);
    assert!(
        allocated.bytes >= 10_000 && allocated.calls >= 1,
        "{allocated:?}"
    );
    drop(v);
    let names = HEADER_NAMES.iter().copied().chain(["wf-ot-big", "x-other"]);
    for name in names {
        for filler in &fillers {
            // Alone, and next to a full valid context in every format
            // (the big header's own name is then repeated or conflicting).
            let alone = [(name, filler.as_str())];
            let with_context = [
                ("wf-ot-traceid", WF_TRACE),
                ("wf-ot-spanid", WF_SPAN),
                ("traceparent", TRACEPARENT),
                ("tracestate", "congo=t61rcWkgMzE"),
                ("b3", B3_SINGLE),
                (name, filler.as_str()),
            ];
            for headers in [&alone[..], &with_context[..]] {
                let (context, allocated, elapsed) = extract_measured(&tracer, headers);
                if let Some(context) = &context {
                    check_context(context, || format!("{name}: 1 MB"));
                }
                assert!(
                    allocated.bytes < 4096 && allocated.calls <= 8,
                    "extracting with a 1 MB {name:?} header allocated {allocated:?}"
                );
                assert!(elapsed < Duration::from_secs(2), "{name}: {elapsed:?}");
            }
        }
    }
}

#[test]
fn hundred_kilobyte_values_in_every_header_at_once() {
    let tracer = tracer();
    let big = "f".repeat(100 * 1024);
    let mut headers: Vec<(&str, &str)> = HEADER_NAMES.iter().map(|&n| (n, big.as_str())).collect();
    let (context, allocated, _) = extract_measured(&tracer, &headers);
    assert!(context.is_none(), "{context:?}");
    assert!(allocated.bytes < 4096, "{allocated:?}");
    // With a valid W3C context too: W3C is not trusted since `traceparent` is
    // repeated; nothing else is valid.
    headers.push(("traceparent", TRACEPARENT));
    let (context, allocated, _) = extract_measured(&tracer, &headers);
    assert!(context.is_none(), "{context:?}");
    assert!(allocated.bytes < 4096, "{allocated:?}");
}

#[test]
fn repeated_headers_allocate_nothing_in_proportion() {
    let tracer = tracer();
    for (name, value) in [
        ("traceparent", TRACEPARENT),
        ("b3", B3_SINGLE),
        ("wf-ot-traceid", WF_TRACE),
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("x-other", "v"),
    ] {
        let mut allocations = Vec::new();
        for times in [2, 1_000, 100_000] {
            let mut headers = vec![(name, value); times];
            // A valid W3C context after them, so that `tracestate` is read.
            if name == "tracestate" {
                headers.push(("traceparent", TRACEPARENT));
            }
            let (context, allocated, elapsed) = extract_measured(&tracer, &headers);
            match name {
                // A repeated id header is not trusted.
                "traceparent" | "b3" | "wf-ot-traceid" | "x-b3-traceid" | "x-other" => {
                    assert!(context.is_none(), "{name} x{times}: {context:?}");
                }
                _ => {
                    let context = context.expect("traceparent is valid");
                    // Joined, the repeated tracestate is too long, or has duplicate keys.
                    assert!(context.trace_state.is_none(), "{context:?}");
                }
            }
            assert!(allocated.bytes < 4096, "{name} x{times}: {allocated:?}");
            assert!(
                elapsed < Duration::from_secs(2),
                "{name} x{times}: {elapsed:?}"
            );
            allocations.push(allocated.bytes);
        }
        // 1,000 and 100,000 copies: the same allocation (a `tracestate`
        // is joined only up to its 512-byte cap).
        assert_eq!(
            allocations[1], allocations[2],
            "{name}: allocation grew with the number of headers: {allocations:?}"
        );
    }
}

#[test]
fn baggage_is_capped_however_many_headers() {
    let tracer = tracer();
    let keys: Vec<String> = (0..100_000).map(|i| format!("wf-ot-k{i}")).collect();
    let value = "v".repeat(1_000);
    let mut allocations = Vec::new();
    for n in [100, 100_000] {
        let mut headers = vec![("wf-ot-traceid", WF_TRACE), ("wf-ot-spanid", WF_SPAN)];
        headers.extend(keys[..n].iter().map(|k| (k.as_str(), value.as_str())));
        // Also one baggage item of 1 MB, which is dropped.
        let big = "b".repeat(MB);
        headers.push(("wf-ot-big", big.as_str()));
        let (context, allocated, _) = extract_measured(&tracer, &headers);
        let context = context.expect("valid Wavefront ids");
        assert_eq!(context.baggage.len(), 32);
        assert!(context.baggage.iter().all(|(k, _)| k != "big"));
        // 32 items of ~1 KB plus the vector: bounded, whatever n is.
        assert!(
            allocated.bytes < 64 * 1024,
            "{n} baggage headers: {allocated:?}"
        );
        allocations.push(allocated.bytes);
    }
    assert_eq!(
        allocations[0], allocations[1],
        "allocation grew with the number of headers"
    );
}

#[test]
fn conflicting_formats_resolve_in_extraction_order() {
    let all = [
        ("wf-ot-traceid", WF_TRACE),
        ("wf-ot-spanid", WF_SPAN),
        ("wf-ot-sample", "False"),
        ("traceparent", TRACEPARENT),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("b3", B3_SINGLE),
        ("x-b3-traceid", "1111111111111111"),
        ("x-b3-spanid", "2222222222222222"),
        ("x-b3-sampled", "1"),
    ];
    let tracer = tracer();
    let context = tracer.extract(&all).unwrap();
    assert_eq!(context.trace_id.to_string(), WF_TRACE);
    assert_eq!(context.span_id.to_string(), WF_SPAN);
    assert_eq!(context.sampled, Some(false));
    assert_eq!(
        context.trace_state, None,
        "the W3C trace state must not leak into a Wavefront context"
    );

    let tags = ApplicationTags::builder("app", "svc").build().unwrap();
    let w3c_first = Tracer::builder(tags)
        .extract_formats([Propagation::W3c, Propagation::B3, Propagation::Wavefront])
        .build();
    let context = w3c_first.extract(&all).unwrap();
    assert_eq!(
        context.trace_id.to_u128(),
        u128::from_str_radix(TRACE_HEX, 16).unwrap()
    );
    assert_eq!(
        context.span_id.to_u128(),
        u128::from(u64::from_str_radix(SPAN_HEX, 16).unwrap())
    );
    assert_eq!(context.sampled, Some(true));
    assert_eq!(context.trace_state.as_deref(), Some("congo=t61rcWkgMzE"));

    // Wavefront broken (repeated trace id): the next format, W3C, wins.
    let mut broken = all.to_vec();
    broken.push(("WF-OT-TRACEID", WF_TRACE));
    let context = tracer.extract(broken.as_slice()).unwrap();
    assert_eq!(
        context.trace_id.to_u128(),
        u128::from_str_radix(TRACE_HEX, 16).unwrap()
    );
    // W3C broken too (repeated with a different value): B3 single.
    broken.push((
        "traceparent",
        "00-11111111111111111111111111111111-1111111111111111-01",
    ));
    let context = tracer.extract(broken.as_slice()).unwrap();
    assert_eq!(
        context.trace_id.to_string(),
        "80f198ee-5634-3ba8-64fe-8b2a57d3eff7"
    );
    assert_eq!(context.trace_state, None);
    // B3 single only a decision: B3 multi's full context beats it.
    let decision: Vec<(&str, &str)> = broken
        .iter()
        .map(|&(k, v)| if k == "b3" { (k, "0") } else { (k, v) })
        .collect();
    let context = tracer.extract(decision.as_slice()).unwrap();
    assert_eq!(context.trace_id.to_u128(), 0x1111111111111111);
    assert_eq!(context.span_id.to_u128(), 0x2222222222222222);
    // Nothing valid but the decision: a new trace with that decision.
    let only_decision = [
        ("b3", "0"),
        ("traceparent", "garbage"),
        ("wf-ot-traceid", ""),
    ];
    let context = tracer.extract(&only_decision).unwrap();
    assert!(context.is_decision_only() && context.sampled == Some(false));
    check_context(&context, || "decision".into());
}

#[test]
fn malformed_values_give_no_context() {
    let tracer = tracer();
    let uuid_like = [
        "",
        " ",
        "null",
        "7b3bf470945611e89eb6529269fb1459x",
        "+b3bf470945611e89eb6529269fb1459",
        "7b3bf470-9456-11e8-9eb6-529269fb145",
        "7b3bf470-9456-11e8-9eb6-529269fb14591",
        "7b3bf470_9456_11e8_9eb6_529269fb1459",
        "7b3bf470-9456-11e8-9eb6-529269fb145\u{e9}",
        "日本語日本語日本語日本語",
        "00000000-0000-0000-0000-000000000000",
        "00000000000000000000000000000000",
        "\\ud800\\udc00",
        "\u{4}",
    ];
    for bad in uuid_like {
        for headers in [
            [("wf-ot-traceid", bad), ("wf-ot-spanid", WF_SPAN)],
            [("wf-ot-traceid", WF_TRACE), ("wf-ot-spanid", bad)],
        ] {
            assert!(tracer.extract(&headers).is_none(), "{headers:?}");
        }
    }
    let traceparents = [
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        "00-4bf92f3577b34da6a3ce929d0e0e473\u{e9}-00f067aa0ba902b7-01",
        "\u{e9}0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b\u{e9}-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u{e9}",
    ];
    for bad in traceparents {
        assert!(tracer.extract(&[("traceparent", bad)]).is_none(), "{bad:?}");
    }
    let b3s = [
        "",
        "2",
        "-",
        "--",
        "80f198ee56343ba8-",
        "-e457b5a2e4d86bd1",
        "80f198ee56343ba8-e457b5a2e4d86bd1-2",
        "80f198ee56343ba8-e457b5a2e4d86bd1-1-",
        "80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-",
        "80f198ee56343ba8-e457b5a2e4d86bd\u{e9}",
        "80F198EE56343BA8-e457b5a2e4d86bd1",
        "0000000000000000-e457b5a2e4d86bd1",
        "80f198ee56343ba8-0000000000000000",
        "\u{e9}",
        "日",
    ];
    for bad in b3s {
        assert!(tracer.extract(&[("b3", bad)]).is_none(), "{bad:?}");
    }
}

/// Several threads extracting hostile headers at once: no shared state breaks.
#[test]
fn concurrent_extraction_of_hostile_headers() {
    let tracer = tracer();
    std::thread::scope(|scope| {
        for seed in 0..4u64 {
            let tracer = &tracer;
            scope.spawn(move || {
                let mut rng = Rng::new(100 + seed);
                let mut tally = Tally::new();
                for case in 0..5_000 {
                    let owned = random_headers(&mut rng, &mut tally);
                    let headers: Vec<(&str, &str)> = owned
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    if let Some(context) = tracer.extract(headers.as_slice()) {
                        check_context(&context, || {
                            format!("thread {seed} case {case}: {headers:?}")
                        });
                    }
                }
            });
        }
    });
}
