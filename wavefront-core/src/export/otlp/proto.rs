//! OTLP requests written straight into their protobuf bytes.
//!
//! Building `opentelemetry-proto`'s message structs for every span and point
//! costs an allocation per string (each tag's key and value): 5 and 13
//! times the Wavefront encoder's time per span and per point. This is at or
//! under it (`benches/benches/export.rs`). This writer produces the same
//! messages (the tests decode its output with those structs and with
//! OpenTelemetry's Python classes) from borrowed data: each span's size is
//! computed first, then its fields are written once; what repeats is encoded
//! once and copied: the resource and scope per exporter, a tracer's shared
//! tags per batch, each series' attributes per exporter. A span with a tag
//! key given twice (an array attribute) goes through the structs.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::encode;
use super::OtlpNaming;
use crate::export::{MetricPoint, PointValue};
use crate::registry::{self, Entry};
use crate::trace::{FinishedSpan, Text};
use crate::wire::{ids, Centroid, Runs, SpanLog};

// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Bytes of `v` as a varint.
fn varint_len(v: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field's key (all field numbers here are below 16: one byte, except
/// `Span.flags`, 16, which takes two).
fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wire_type)));
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

/// Size of a length-delimited field whose content is `len` bytes.
fn field_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

fn put_len(out: &mut Vec<u8>, field: u32, len: usize) {
    put_key(out, field, LEN);
    put_varint(out, len as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_len(out, field, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

/// `KeyValue { key, value: AnyValue { string_value } }`: its content size.
fn key_value_len(key: &str, value: &str) -> usize {
    field_len(1, key.len()) + field_len(2, field_len(1, value.len()))
}

/// A string attribute as field `field` of its message.
fn put_key_value(out: &mut Vec<u8>, field: u32, key: &str, value: &str) {
    put_len(out, field, key_value_len(key, value));
    put_bytes(out, 1, key.as_bytes());
    put_len(out, 2, field_len(1, value.len()));
    put_bytes(out, 1, value.as_bytes());
}

/// Encoded attributes (`KeyValue`s as field `field`), with a key given
/// twice merged into an array as the struct encoder does.
fn attributes_bytes<'a>(field: u32, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for kv in encode::attributes(tags) {
        put_bytes(&mut out, field, &kv.encode_to_vec());
    }
    out
}

/// A request's bytes: its items written after room left for the frame,
/// `Export…ServiceRequest { resource_…s(1) { resource(1), scope_…s(2) {
/// scope(1), items(2)… } } }`, which is filled in once the items' length is
/// known, so that the items are never copied.
#[derive(Debug)]
pub(super) struct Body {
    buf: Vec<u8>,
    /// Where the request starts in `buf`.
    start: usize,
}

impl Body {
    /// Room for the three lengths (at most 10 bytes each, with their keys).
    const LENGTHS: usize = 3 * 11;

    /// An empty body expecting about `capacity` bytes of items.
    fn new(frame: &Frame, capacity: usize) -> Self {
        let room = Self::LENGTHS + frame.resource.len() + frame.scope.len() + 11;
        let mut buf = Vec::with_capacity(room + capacity);
        buf.resize(room, 0);
        Body { buf, start: room }
    }

    fn items(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes the frame in front of the items.
    fn finish(mut self, frame: &Frame) -> Body {
        let items = self.buf.len() - self.start;
        let scoped = field_len(1, frame.scope.len()) + items;
        let resourced = field_len(1, frame.resource.len()) + field_len(2, scoped);
        let mut head = Vec::with_capacity(self.start);
        put_len(&mut head, 1, resourced);
        put_bytes(&mut head, 1, &frame.resource);
        put_len(&mut head, 2, scoped);
        put_bytes(&mut head, 1, &frame.scope);
        let start = self.start - head.len();
        self.buf[start..self.start].copy_from_slice(&head);
        self.start = start;
        self
    }

    /// The request's bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// The request's bytes, owned (moves them to the front).
    pub(super) fn into_vec(mut self) -> Vec<u8> {
        self.buf.drain(..self.start);
        self.buf
    }
}

/// The resource and scope, encoded once per exporter.
#[derive(Debug)]
pub(super) struct Frame {
    resource: Vec<u8>,
    scope: Vec<u8>,
}

impl Frame {
    pub(super) fn new(resource: &Resource) -> Self {
        Frame {
            resource: resource.encode_to_vec(),
            scope: encode::scope().encode_to_vec(),
        }
    }

    /// An empty frame, for requests sent before any resource was known.
    pub(super) fn unknown() -> Self {
        Frame {
            resource: Vec::new(),
            scope: InstrumentationScope::default().encode_to_vec(),
        }
    }
}

// ===== spans =====

/// A tracer's shared tags, encoded once per batch (spans share one `Arc`).
struct SharedAttributes {
    key: usize,
    bytes: Vec<u8>,
    keys: Vec<Box<str>>,
    /// The [`key_bit`]s of `keys`.
    key_bits: u64,
}

/// One of 64 bits, the same for equal keys, from a key's length and two of
/// its bytes: keys whose bits differ need no comparison.
fn key_bit(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0));
    let h = (bytes.len() as u64) ^ (byte(0) << 8) ^ (byte(bytes.len().saturating_sub(1)) << 16);
    1 << (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58)
}

/// Whether a span tag becomes an attribute: `span.kind` becomes the kind,
/// `error=true` the status.
fn is_attribute(key: &str, value: &str) -> bool {
    key != "span.kind" && !(key == "error" && value.eq_ignore_ascii_case("true"))
}

/// The span kind and error its tags say.
fn kind_and_error(tags: &[(Text, Text)]) -> (i32, bool) {
    let mut kind = encode::kind("internal") as i32;
    let mut error = false;
    for (k, v) in tags {
        match &**k {
            "span.kind" => kind = encode::kind(v) as i32,
            "error" if v.eq_ignore_ascii_case("true") => error = true,
            _ => {}
        }
    }
    (kind, error)
}

/// Whether an attribute key of `tags` is given twice, or is one of
/// `shared` (whose keys' bits are `shared_bits`): compared only when the
/// keys' bits meet.
fn has_duplicate_key(shared: &[Box<str>], shared_bits: u64, tags: &[(Text, Text)]) -> bool {
    let mut bits = shared_bits;
    for (k, v) in tags {
        if is_attribute(k, v) {
            let bit = key_bit(k);
            if bits & bit != 0 {
                return compare_keys(shared, tags);
            }
            bits |= bit;
        }
    }
    false
}

/// [`has_duplicate_key`], comparing every pair.
fn compare_keys(shared: &[Box<str>], tags: &[(Text, Text)]) -> bool {
    let same = |a: &str, b: &str| a.len() == b.len() && a == b;
    let keys = || {
        tags.iter()
            .filter(|(k, v)| is_attribute(k, v))
            .map(|(k, _)| &**k)
    };
    keys().enumerate().any(|(i, key)| {
        shared.iter().any(|s| same(s, key)) || keys().take(i).any(|earlier| same(earlier, key))
    })
}

fn event_len(log: &SpanLog) -> usize {
    let name = event_name(log);
    let attrs: usize = log
        .fields
        .iter()
        .map(|(k, v)| field_len(3, key_value_len(k, v)))
        .sum();
    (1 + 8) + field_len(2, name.len()) + attrs
}

fn event_name(log: &SpanLog) -> &str {
    log.fields
        .iter()
        .find(|(k, _)| k == "event")
        .map_or("log", |(_, v)| v)
}

/// Writes spans, one batch at a time.
pub(super) struct SpanWriter<'f> {
    frame: &'f Frame,
    body: Body,
    shared: Vec<SharedAttributes>,
    /// A span's own attributes, written before their length is.
    attributes: Vec<u8>,
    /// Runs of consecutive attributes encoded together.
    runs: Runs<Vec<u8>>,
    /// Spans left out: an all-zero id.
    pub(super) invalid: usize,
}

impl<'f> SpanWriter<'f> {
    /// A writer of about `spans` spans.
    pub(super) fn new(frame: &'f Frame, spans: usize) -> Self {
        SpanWriter {
            frame,
            body: Body::new(frame, spans * 512),
            shared: Vec::new(),
            attributes: Vec::new(),
            runs: Runs::default(),
            invalid: 0,
        }
    }

    /// Appends the attributes of a span's own `tags` to `out`: tags whose
    /// texts are shared (a route's) in runs encoded once a batch, the rest
    /// (a URL) each time.
    fn own_attributes(&mut self, tags: &[(Text, Text)], out: &mut Vec<u8>) {
        let shared = |(k, v): &(Text, Text)| !k.owns_buffer() && !v.owns_buffer();
        let mut at = 0;
        while let Some((k, v)) = tags.get(at) {
            let run = tags[at..].iter().take_while(|t| shared(t)).count();
            if run > 1 {
                out.extend_from_slice(self.run(at, &tags[at..at + run]));
                at += run;
                continue;
            }
            if is_attribute(k, v) {
                put_key_value(out, 9, k, v);
            }
            at += 1;
        }
    }

    /// The attributes of `tags` (at `at` among a span's), encoded at the
    /// first span of the batch that has them there.
    fn run(&mut self, at: usize, tags: &[(Text, Text)]) -> &[u8] {
        let id = |i: usize| ids(&tags[i].0, &tags[i].1);
        let found = self.runs.find(at, tags.len(), id).unwrap_or_else(|| {
            let mut bytes = Vec::new();
            for (k, v) in tags.iter().filter(|(k, v)| is_attribute(k, v)) {
                put_key_value(&mut bytes, 9, k, v);
            }
            self.runs
                .insert(at, (0..tags.len()).map(id).collect(), bytes)
        });
        self.runs.get(at, found)
    }

    fn shared(&mut self, tags: &Arc<[(Text, Text)]>) -> usize {
        let key = Arc::as_ptr(tags).cast::<()>() as usize;
        if let Some(at) = self.shared.iter().position(|s| s.key == key) {
            return at;
        }
        let pairs = tags.iter().map(|(k, v)| (&**k, &**v));
        self.shared.push(SharedAttributes {
            key,
            bytes: attributes_bytes(9, pairs),
            keys: tags.iter().map(|(k, _)| Box::from(&**k)).collect(),
            key_bits: tags.iter().fold(0, |bits, (k, _)| bits | key_bit(k)),
        });
        self.shared.len() - 1
    }

    /// Adds one span; one whose id is all zero is left out and counted.
    pub(super) fn push(&mut self, span: &FinishedSpan) {
        let d = &span.data;
        let id = crate::trace::span_id_64;
        let Some(span_id) = id(d.context.span_id) else {
            self.invalid += 1;
            return;
        };
        let mut own = std::mem::take(&mut self.attributes);
        own.clear();
        self.own_attributes(&d.tags, &mut own);
        let shared = d.shared_tags().map(|tags| self.shared(tags));
        let (shared_bytes, shared_keys, shared_bits) = match shared {
            Some(at) => {
                let shared = &self.shared[at];
                (&shared.bytes[..], &shared.keys[..], shared.key_bits)
            }
            None => (&[][..], &[][..], 0),
        };
        // A key given twice (Wavefront allows it) becomes one array
        // attribute: the struct encoder handles that rare case.
        if has_duplicate_key(shared_keys, shared_bits, &d.tags) {
            if let Some(full) = encode::span(span) {
                put_bytes(self.body.items(), 2, &full.encode_to_vec());
            }
            self.attributes = own;
            return;
        }
        let (kind, error) = kind_and_error(&d.tags);
        let mut parents = d.parents.iter().filter_map(|&p| id(p));
        let parent = parents.next();
        let links = || {
            parents
                .clone()
                .chain(d.follows_from.iter().filter_map(|&p| id(p)))
        };
        let link_len = field_len(1, 16) + field_len(2, 8);
        let len = field_len(1, 16)
            + field_len(2, 8)
            + parent.map_or(0, |_| field_len(4, 8))
            + field_len(5, d.operation.len())
            + 1
            + varint_len(kind as u64)
            + 2 * (1 + 8)
            + shared_bytes.len()
            + own.len()
            + d.logs
                .iter()
                .map(|l| field_len(11, event_len(l)))
                .sum::<usize>()
            + links().count() * field_len(13, link_len)
            + if error { field_len(15, 2) } else { 0 }
            + key_len(16)
            + 4;
        let out = self.body.items();
        let before = out.len();
        put_len(out, 2, len);
        let trace_id = d.context.trace_id.to_u128().to_be_bytes();
        put_bytes(out, 1, &trace_id);
        put_bytes(out, 2, &span_id.to_be_bytes());
        if let Some(parent) = parent {
            put_bytes(out, 4, &parent.to_be_bytes());
        }
        put_bytes(out, 5, d.operation.as_bytes());
        put_varint_field(out, 6, kind as u64);
        let start = d.start_micros.saturating_mul(1_000);
        put_fixed64(out, 7, start);
        put_fixed64(
            out,
            8,
            start.saturating_add(span.duration_micros.saturating_mul(1_000)),
        );
        out.extend_from_slice(shared_bytes);
        out.extend_from_slice(&own);
        for log in &d.logs {
            put_len(out, 11, event_len(log));
            put_fixed64(out, 1, log.timestamp_micros.saturating_mul(1_000));
            put_bytes(out, 2, event_name(log).as_bytes());
            for (k, v) in &log.fields {
                put_key_value(out, 3, k, v);
            }
        }
        for link in links() {
            put_len(out, 13, link_len);
            put_bytes(out, 1, &trace_id);
            put_bytes(out, 2, &link.to_be_bytes());
        }
        if error {
            put_len(out, 15, 2);
            put_varint_field(out, 3, 2); // STATUS_CODE_ERROR
        }
        put_key(out, 16, FIXED32);
        out.extend_from_slice(&1u32.to_le_bytes()); // W3C flags: sampled
        debug_assert_eq!(out.len() - before, field_len(2, len));
        self.attributes = own;
    }

    /// The request.
    pub(super) fn finish(self) -> Body {
        self.body.finish(self.frame)
    }
}

// ===== metrics =====

/// What a series' points share, encoded once per exporter.
#[derive(Debug)]
struct SeriesBytes {
    /// Kept alive, so that its address stays a unique key.
    _series: Arc<Entry>,
    /// `name(1)` and `unit(3)` of its `Metric`.
    head: Vec<u8>,
    /// Its data points' attributes (field 7 of a number point, 1 of a
    /// histogram point).
    attributes: Vec<u8>,
    /// Multiplies a histogram's values (a unit change), else 1.
    factor: f64,
}

impl SeriesBytes {
    fn new(series: &Arc<Entry>, naming: OtlpNaming) -> Self {
        let semconv = match series.metric() {
            registry::Metric::Histogram(h) if naming == OtlpNaming::SemanticConventions => {
                h.http_request().map(|http| (http, h.scale()))
            }
            _ => None,
        };
        let field = match series.metric() {
            registry::Metric::Histogram(_) => 1,
            _ => 7,
        };
        let (name, unit, attributes, factor) = match semconv {
            // Recorded in nanoseconds, reported scaled: back to seconds.
            Some((http, scale)) => {
                let mut bytes = Vec::new();
                for kv in encode::http_attributes(series, http) {
                    put_bytes(&mut bytes, field, &kv.encode_to_vec());
                }
                (encode::SEMCONV_DURATION, "s", bytes, 1e-9 / scale)
            }
            None => {
                let tags = series.tags().iter().map(|(k, v)| (&**k, &**v));
                (series.name(), "", attributes_bytes(field, tags), 1.0)
            }
        };
        let mut head = Vec::new();
        put_bytes(&mut head, 1, name.as_bytes());
        if !unit.is_empty() {
            put_bytes(&mut head, 3, unit.as_bytes());
        }
        SeriesBytes {
            _series: Arc::clone(series),
            head,
            attributes,
            factor,
        }
    }
}

/// Writes metrics requests, remembering each series' bytes.
#[derive(Debug, Default)]
pub(super) struct MetricWriter {
    series: HashMap<usize, SeriesBytes, BuildHasherDefault<AddressHasher>>,
    /// The size of the last request.
    last_len: usize,
}

/// Hashes a series' address: one multiplication (Fibonacci hashing), as
/// addresses are already unique and their low bits are alignment.
#[derive(Debug, Default)]
struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_usize(&mut self, address: usize) {
        self.0 = (address as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl MetricWriter {
    /// One request with a `Metric` per point.
    pub(super) fn write<'a>(
        &mut self,
        frame: &Frame,
        points: impl IntoIterator<Item = encode::TimedPoint<'a>>,
        naming: OtlpNaming,
    ) -> Body {
        // As large as the last request, so it rarely grows.
        let mut body = Body::new(frame, self.last_len);
        for encode::TimedPoint {
            point,
            start_ns,
            time_ns,
        } in points
        {
            let key = Arc::as_ptr(&point.series) as usize;
            let series = self
                .series
                .entry(key)
                .or_insert_with(|| SeriesBytes::new(&point.series, naming));
            write_point(body.items(), series, point, start_ns, time_ns);
        }
        let body = body.finish(frame);
        self.last_len = body.bytes().len();
        body
    }
}

/// The buckets of one sign: counts from `offset`, at most
/// [`encode::MAX_BUCKETS`] of them (the scale was chosen so).
struct Buckets {
    offset: i64,
    counts: [u64; encode::MAX_BUCKETS as usize],
    len: usize,
    /// The bytes of the packed counts.
    packed_len: usize,
}

impl Buckets {
    /// Buckets of the values of one sign (`sign` 1.0 or -1.0) whose
    /// magnitudes span `range`; `None` if there is none, or (never, by the
    /// choice of scale) too many.
    fn of(
        values: impl Iterator<Item = (f64, u64)>,
        sign: f64,
        range: Option<(f64, f64)>,
        scale: i32,
    ) -> Option<Buckets> {
        // The index grows with the value: the range comes from the extremes.
        let (smallest, largest) = range?;
        let low = encode::bucket_index(smallest, scale);
        let high = encode::bucket_index(largest, scale);
        let indexes = values
            .filter(move |(v, _)| v * sign > 0.0)
            .map(move |(v, n)| (encode::bucket_index(v * sign, scale), n));
        let len = usize::try_from(high - low + 1)
            .ok()
            .filter(|&l| l <= encode::MAX_BUCKETS as usize)?;
        let mut counts = [0; encode::MAX_BUCKETS as usize];
        for (i, n) in indexes {
            if let Some(count) = usize::try_from(i - low)
                .ok()
                .and_then(|at| counts.get_mut(at))
            {
                *count += n;
            }
        }
        let packed_len = counts[..len].iter().map(|&c| varint_len(c)).sum();
        Some(Buckets {
            offset: low,
            counts,
            len,
            packed_len,
        })
    }

    /// `Buckets { offset(1) sint32, bucket_counts(2) packed }`: content size.
    fn message_len(&self) -> usize {
        let offset = if self.offset == 0 {
            0
        } else {
            1 + varint_len(zigzag(self.offset))
        };
        offset + field_len(2, self.packed_len)
    }

    fn put(&self, out: &mut Vec<u8>, field: u32) {
        put_len(out, field, self.message_len());
        if self.offset != 0 {
            put_varint_field(out, 1, zigzag(self.offset));
        }
        put_len(out, 2, self.packed_len);
        for &c in &self.counts[..self.len] {
            put_varint(out, c);
        }
    }
}

/// `sint32`/`sint64` encoding.
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// An `ExponentialHistogramDataPoint`, summarized and bucketed, ready to
/// be measured and written.
struct ExponentialPoint {
    e: encode::Exponential,
    positive: Option<Buckets>,
    negative: Option<Buckets>,
    start_ns: u64,
}

impl ExponentialPoint {
    fn new(centroids: &[Centroid], factor: f64, start_ns: u64) -> Self {
        let e = encode::summarize(centroids, factor);
        let values = encode::values(centroids, factor);
        ExponentialPoint {
            positive: Buckets::of(values.clone(), 1.0, e.positive, e.scale),
            negative: Buckets::of(values, -1.0, e.negative, e.scale),
            e,
            start_ns,
        }
    }

    /// Content size, with `attributes` bytes of attributes.
    fn len(&self, attributes: usize) -> usize {
        let e = &self.e;
        let fixed = |v: u64| if v == 0 { 0 } else { 1 + 8 };
        attributes
            + fixed(self.start_ns)
            + (1 + 8) // time
            + fixed(e.count)
            + (1 + 8) // sum
            + if e.scale == 0 { 0 } else { 1 + varint_len(zigzag(i64::from(e.scale))) }
            + fixed(e.zero_count)
            + self.positive.as_ref().map_or(0, |b| field_len(8, b.message_len()))
            + self.negative.as_ref().map_or(0, |b| field_len(9, b.message_len()))
            + e.min.map_or(0, |_| 1 + 8)
            + e.max.map_or(0, |_| 1 + 8)
    }

    fn put(&self, out: &mut Vec<u8>, attributes: &[u8]) {
        let e = &self.e;
        out.extend_from_slice(attributes);
        if self.start_ns != 0 {
            put_fixed64(out, 2, self.start_ns);
        }
        put_fixed64(out, 3, self.start_ns.saturating_add(encode::MINUTE_NS));
        if e.count != 0 {
            put_fixed64(out, 4, e.count);
        }
        put_fixed64(out, 5, e.sum.to_bits());
        if e.scale != 0 {
            put_varint_field(out, 6, zigzag(i64::from(e.scale)));
        }
        if e.zero_count != 0 {
            put_fixed64(out, 7, e.zero_count);
        }
        if let Some(b) = &self.positive {
            b.put(out, 8);
        }
        if let Some(b) = &self.negative {
            b.put(out, 9);
        }
        if let Some(min) = e.min {
            put_fixed64(out, 12, min.to_bits());
        }
        if let Some(max) = e.max {
            put_fixed64(out, 13, max.to_bits());
        }
    }
}

/// One data point of a metric.
// A temporary on the stack, one at a time: boxing the large variant would
// only add an allocation per histogram.
#[allow(clippy::large_enum_variant)]
enum DataPoint {
    /// `NumberDataPoint`: the value's field (`as_double` 4, `as_int` 6),
    /// its bits, and the interval's start (0: none).
    Number {
        field: u32,
        bits: u64,
        start_ns: u64,
        time_ns: u64,
    },
    Exponential(ExponentialPoint),
}

impl DataPoint {
    fn len(&self, attributes: usize) -> usize {
        match self {
            DataPoint::Number { start_ns, .. } => {
                attributes + if *start_ns == 0 { 0 } else { 1 + 8 } + 2 * (1 + 8)
            }
            DataPoint::Exponential(p) => p.len(attributes),
        }
    }

    fn put(&self, out: &mut Vec<u8>, attributes: &[u8]) {
        match self {
            DataPoint::Number {
                field,
                bits,
                start_ns,
                time_ns,
            } => {
                out.extend_from_slice(attributes);
                if *start_ns != 0 {
                    put_fixed64(out, 2, *start_ns);
                }
                put_fixed64(out, 3, *time_ns);
                put_fixed64(out, *field, *bits);
            }
            DataPoint::Exponential(p) => p.put(out, attributes),
        }
    }
}

/// `Metric { name, unit, sum | gauge | exponential_histogram { data_points:
/// [point], … } }` as field 2 of `ScopeMetrics`.
fn write_point(
    out: &mut Vec<u8>,
    series: &SeriesBytes,
    point: &MetricPoint,
    start_ns: u64,
    time_ns: u64,
) {
    let number = |field, bits, start_ns| DataPoint::Number {
        field,
        bits,
        start_ns,
        time_ns,
    };
    // The metric's data field (gauge 5, sum 7, exponential histogram 10),
    // its temporality (delta 1, cumulative 2), whether monotonic.
    let (data_field, temporality, monotonic, data_point) = match &point.value {
        PointValue::Counter(n) => {
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            (7, Some(2), true, number(6, n as u64, start_ns))
        }
        PointValue::Delta(v) => (7, Some(1), true, number(4, v.to_bits(), 0)),
        PointValue::Gauge(v) => (5, None, false, number(4, v.to_bits(), 0)),
        PointValue::Histogram(d) => {
            let start = d.minute_ms.saturating_mul(1_000_000);
            let p = ExponentialPoint::new(&d.centroids, series.factor, start);
            (10, Some(1), false, DataPoint::Exponential(p))
        }
    };
    let point_len = data_point.len(series.attributes.len());
    let data_len = field_len(1, point_len)
        + temporality.map_or(0, |t: u64| 1 + varint_len(t))
        + if monotonic { 2 } else { 0 };
    put_len(out, 2, series.head.len() + field_len(data_field, data_len));
    out.extend_from_slice(&series.head);
    put_len(out, data_field, data_len);
    put_len(out, 1, point_len);
    data_point.put(out, &series.attributes);
    if let Some(t) = temporality {
        put_varint_field(out, 2, t);
    }
    if monotonic {
        put_varint_field(out, 3, 1);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    use super::*;
    use crate::export::otlp::reference;
    use crate::histogram::Distribution;
    use crate::registry::Registry;
    use crate::trace::{SpanContext, Tracer};
    use crate::wire::Centroid;
    use crate::{ApplicationTags, SpanId, TraceId};

    fn app() -> ApplicationTags {
        ApplicationTags::builder("Ordering", "styling")
            .cluster("us-west-1")
            .custom_tag("env", "prod")
            .build()
            .unwrap()
    }

    /// Spans of every shape the writer handles: shared tags or not, parents,
    /// follows-from, logs, errors, kinds, a key given twice, an all-zero id.
    fn spans() -> Vec<FinishedSpan> {
        let tracer = Tracer::builder(app()).source("host-1").build();
        let root = tracer
            .span("GET /checkout")
            .tag("span.kind", "server")
            .tag("http.url", "http://h/checkout?q=ü")
            .start();
        let child = root.child("charge_card");
        child.log(vec![
            ("event".into(), "error".into()),
            ("message".into(), "declined".into()),
        ]);
        child.log(vec![("note".into(), "no event field".into())]);
        child.finish();
        let other = tracer
            .span("retry")
            .tag("error", "true")
            .tag("span.kind", "client")
            .start();
        other.finish();
        let dup = tracer
            .span("dup")
            .tag("env", "again")
            .tag("x", "1")
            .tag("x", "2")
            .start();
        dup.finish();
        // One route's spans: runs of its shared texts around a URL of each
        // span's own.
        for url in ["http://h/style/1/make", "http://h/style/2/make"] {
            let span = tracer
                .span("make_shirts")
                .tag("component", "axum")
                .tag("span.kind", "server")
                .tag("http.method", "GET")
                .tag("http.url", String::from(url))
                .tag("axum.func", "make_shirts")
                .tag("http.status_code", "200")
                .start();
            span.finish();
        }
        root.finish();
        let mut spans = tracer.take_finished();
        // Parents beyond the first and follows-from become links.
        let mut linked = spans[0].clone();
        linked.data.parents = vec![SpanId::from_u128(7), SpanId::from_u128(5 << 64)];
        linked.data.follows_from = vec![SpanId::from_u128(9)];
        spans.push(linked);
        let mut invalid = spans[0].clone();
        invalid.data.context = SpanContext::new(TraceId::from_u128(1), SpanId::from_u128(0));
        spans.push(invalid);
        spans
    }

    #[test]
    fn spans_decode_to_what_the_message_structs_make() {
        let resource = encode::resource("host-1", &app());
        let frame = Frame::new(&resource);
        let spans = spans();
        let mut writer = SpanWriter::new(&frame, 8);
        for span in &spans {
            writer.push(span);
        }
        assert_eq!(writer.invalid, 1);
        let bytes = writer.finish().into_vec();
        let decoded = ExportTraceServiceRequest::decode(&bytes[..]).unwrap();
        let (expected, invalid) = reference::traces(&resource, &spans);
        assert_eq!(invalid, 1);
        let spans_of =
            |r: &ExportTraceServiceRequest| r.resource_spans[0].scope_spans[0].spans.clone();
        for (got, want) in spans_of(&decoded).iter().zip(spans_of(&expected)) {
            assert_eq!(got, &want);
        }
        assert_eq!(decoded, expected);
        let written = &decoded.resource_spans[0].scope_spans[0].spans;
        assert_eq!(written.len(), spans.len() - 1);
        assert!(written.iter().any(|s| s.links.len() == 2));
        assert!(written.iter().any(|s| s.events.len() == 2));
    }

    #[test]
    fn points_decode_to_what_the_message_structs_make() {
        let registry = Registry::new();
        registry.counter("orders.count", &[("region", "eu")]).inc();
        registry
            .delta_counter("refunds.count", &[("region", "eu"), ("dup", "a")])
            .inc();
        registry
            .gauge("pool.size", &[] as &[(&str, &str)])
            .set(-2.5);
        registry.histogram("latency", &[("route", "/x")]).record(1);
        let latency = registry.histogram_with("semconv", &[("route", "/x")], |b| {
            b.scale(1e-6)
                .http_request(crate::histogram::HttpRequestDuration {
                    route: Some("/style/{id}/make".into()),
                    method: "GET",
                    status: 200,
                })
        });
        latency.record(1);
        let centroids = vec![
            Centroid {
                mean: 0.5,
                count: 2,
            },
            Centroid {
                mean: 0.0,
                count: 1,
            },
            Centroid {
                mean: -2.0,
                count: 4,
            },
            Centroid {
                mean: 12.0,
                count: 3,
            },
        ];
        let points: Vec<MetricPoint> = registry
            .entries()
            .into_iter()
            .flat_map(|series| {
                let values = match series.metric() {
                    registry::Metric::Counter(_) => {
                        vec![PointValue::Counter(u64::MAX), PointValue::Counter(0)]
                    }
                    registry::Metric::DeltaCounter(_) => vec![PointValue::Delta(3.0)],
                    registry::Metric::Gauge(_) => {
                        vec![PointValue::Gauge(-2.5), PointValue::Gauge(0.0)]
                    }
                    _ => vec![
                        PointValue::Histogram(Distribution {
                            minute_ms: 1_700_000_040_000,
                            centroids: centroids.clone(),
                        }),
                        PointValue::Histogram(Distribution {
                            minute_ms: 1_700_000_100_000,
                            centroids: Vec::new(),
                        }),
                    ],
                };
                values.into_iter().map(move |value| MetricPoint {
                    series: Arc::clone(&series),
                    value,
                })
            })
            .collect();
        let resource = encode::resource("host-1", &app());
        let frame = Frame::new(&resource);
        for naming in [OtlpNaming::Wavefront, OtlpNaming::SemanticConventions] {
            let timed = || {
                points.iter().map(|point| encode::TimedPoint {
                    point,
                    start_ns: 5,
                    time_ns: 1_700_000_100_000_000_000,
                })
            };
            let mut writer = MetricWriter::default();
            let bytes = writer.write(&frame, timed(), naming).into_vec();
            // Twice: the second report uses the remembered series.
            assert_eq!(writer.write(&frame, timed(), naming).bytes(), &bytes[..]);
            let decoded = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
            assert_eq!(
                decoded,
                reference::metrics(&resource, timed(), naming),
                "{naming:?}"
            );
            let _ = Duration::ZERO;
        }
    }

    #[test]
    fn duplicate_keys_are_found_whether_or_not_their_bits_meet() {
        let tags = |keys: &[&str]| -> Vec<(Text, Text)> {
            keys.iter()
                .map(|k| (Text::from(k.to_string()), Text::from("v")))
                .collect()
        };
        let shared: Vec<Box<str>> = vec!["application".into(), "service".into()];
        let bits = shared.iter().fold(0, |b, k| b | key_bit(k));
        // Two different keys with the same bit: compared, and not the same.
        let names: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let (a, b) = names
            .iter()
            .enumerate()
            .find_map(|(i, a)| {
                names[..i]
                    .iter()
                    .find(|b| key_bit(b) == key_bit(a))
                    .map(|b| (a.as_str(), b.as_str()))
            })
            .unwrap();
        assert!(!has_duplicate_key(&shared, bits, &tags(&[a, b])));
        assert!(has_duplicate_key(&shared, bits, &tags(&[a, "x", a])));
        assert!(has_duplicate_key(&shared, bits, &tags(&["service"])));
        // `span.kind` and `error=true` are not attributes.
        assert!(!has_duplicate_key(
            &shared,
            bits,
            &tags(&["span.kind", "span.kind"])
        ));
    }

    #[test]
    fn varints_take_the_bytes_they_need() {
        for (v, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!((out.len(), varint_len(v)), (len, len), "{v}");
        }
        assert_eq!(key_len(15), 1);
        assert_eq!(key_len(16), 2);
    }
}
