//! Our encoders against the reference SDK's own output.
//!
//! `conformance/generate.py` runs wavefront-sdk-python 2.1.0's formatting and
//! sanitising functions over hundreds of inputs and commits the results as
//! `conformance/vectors/*.jsonl`. Each vector must come out of our encoder
//! byte for byte; where we deliberately differ, the vector carries a `rust`
//! expectation and a `why`, and that documented form is checked instead.

use std::path::Path;

use serde_json::Value;
use wavefront_core::wire::{self, Centroid, Encoded, Granularity, SpanLine, SpanLog};
use wavefront_core::{sanitize, SpanId, TraceId, WireError};

/// What a vector expects of us.
enum Expect {
    Ok(String),
    /// An error; `Some(name)` when the vector names our variant.
    Error(Option<String>),
    NotSent,
}

fn expectation(record: &Value) -> Expect {
    let side = record.get("rust").unwrap_or(&record["python"]);
    if let Some(ok) = side.get("ok") {
        Expect::Ok(ok.as_str().unwrap().to_owned())
    } else if side.get("not_sent").is_some() {
        Expect::NotSent
    } else {
        let ours = record
            .get("rust")
            .and_then(|r| r["error"].as_str())
            .map(str::to_owned);
        Expect::Error(ours)
    }
}

fn vectors(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/vectors")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| (s(&p[0]).to_owned(), s(&p[1]).to_owned()))
        .collect()
}

fn float(v: &Value) -> f64 {
    s(v).parse().unwrap()
}

fn variant(e: &WireError) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap()
        .to_owned()
}

/// Runs every vector of `file` through `encode` and reports all mismatches at once.
fn check(
    file: &str,
    min: usize,
    encode: impl Fn(&Value, &mut String) -> Result<Option<()>, String>,
) {
    let quote_name = file == "delta.jsonl";
    let records = vectors(file);
    assert!(
        records.len() >= min,
        "{file}: only {} vectors",
        records.len()
    );
    let mut failures = Vec::new();
    for record in &records {
        let id = s(&record["id"]);
        let mut out = String::new();
        let got = encode(&record["input"], &mut out);
        let mut expect = expectation(record);
        if let (true, Expect::Ok(raw)) = (quote_name, &expect) {
            let mut quoted = String::new();
            sanitize::write_name(&mut quoted, raw).unwrap();
            expect = Expect::Ok(quoted);
        }
        let verdict = match (expect, got) {
            (Expect::Ok(want), Ok(Some(()))) if want == out => None,
            (Expect::NotSent, Ok(None)) => None,
            (Expect::Error(None), Err(_)) => None,
            (Expect::Error(Some(want)), Err(got)) if want == got => None,
            (Expect::Ok(want), got) => Some(format!("want {want:?}\n  got {got:?} {out:?}")),
            (Expect::NotSent, got) => Some(format!("want nothing sent, got {got:?} {out:?}")),
            (Expect::Error(want), got) => Some(format!("want error {want:?}, got {got:?} {out:?}")),
        };
        if let Some(v) = verdict {
            failures.push(format!("{id}: {v}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        records.len(),
        failures.join("\n")
    );
}

fn wire_err(e: WireError) -> String {
    variant(&e)
}

#[test]
fn sanitize_name() {
    check("sanitize_name.jsonl", 120, |input, out| {
        sanitize::write_name(out, s(&input["s"]))
            .map(Some)
            .map_err(|_| "BlankName".to_owned())
    });
}

#[test]
fn sanitize_value() {
    check("sanitize_value.jsonl", 80, |input, out| {
        sanitize::write_value(out, s(&input["s"]))
            .map(Some)
            .map_err(|_| "BlankTagValue".to_owned())
    });
}

#[test]
fn metric() {
    check("metric.jsonl", 100, |input, out| {
        let tags = pairs(&input["tags"]);
        let ts = input["timestamp"].as_u64();
        wire::write_metric(
            out,
            s(&input["name"]),
            float(&input["value"]),
            ts,
            s(&input["source"]),
            &tags,
        )
        .map(Some)
        .map_err(wire_err)
    });
}

#[test]
fn delta() {
    // The reference reports the raw name it sent (with its `∆`); our line must
    // carry that name, sanitised.
    check("delta.jsonl", 30, |input, out| {
        let tags: &[(&str, &str)] = &[];
        let mut line = String::new();
        match wire::write_delta(
            &mut line,
            s(&input["name"]),
            float(&input["value"]),
            "h",
            tags,
        ) {
            Ok(Encoded::Line) => {
                out.push_str(&line[..line.find("\" ").unwrap() + 1]);
                Ok(Some(()))
            }
            Ok(Encoded::Nothing) => Ok(None),
            Err(e) => Err(wire_err(e)),
        }
    });
}

fn granularity(marker: &str) -> Granularity {
    match marker {
        "!M" => Granularity::Minute,
        "!H" => Granularity::Hour,
        "!D" => Granularity::Day,
        other => panic!("granularity {other}"),
    }
}

#[test]
fn histogram() {
    check("histogram.jsonl", 40, |input, out| {
        let centroids: Vec<Centroid> = input["centroids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| Centroid {
                mean: float(&c[0]),
                count: c[1].as_u64().unwrap(),
            })
            .collect();
        let tags = pairs(&input["tags"]);
        let granularities = input["granularities"].as_array().unwrap();
        if granularities.is_empty() {
            return Err("no granularity".into());
        }
        for g in granularities {
            wire::write_histogram(
                out,
                granularity(s(g)),
                input["timestamp"].as_u64(),
                &centroids,
                s(&input["name"]),
                s(&input["source"]),
                &tags,
            )
            .map_err(wire_err)?;
        }
        // The reference joins its lines with "\n" and ends the last with one.
        Ok(Some(()))
    });
}

fn ids(v: &Value) -> Vec<SpanId> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|id| s(id).parse().unwrap())
        .collect()
}

#[test]
fn span() {
    check("span.jsonl", 60, |input, out| {
        let tags = pairs(&input["tags"]);
        let (parents, follows_from) = (ids(&input["parents"]), ids(&input["follows_from"]));
        let line = SpanLine {
            operation: s(&input["name"]),
            source: s(&input["source"]),
            trace_id: s(&input["trace_id"]).parse::<TraceId>().unwrap(),
            span_id: s(&input["span_id"]).parse().unwrap(),
            parents: &parents,
            follows_from: &follows_from,
            tags: &tags,
            start: input["start_millis"].as_u64().unwrap(),
            duration: input["duration_millis"].as_u64().unwrap(),
            has_logs: input["has_span_logs"].as_bool().unwrap(),
        };
        wire::write_span(out, &line).map(Some).map_err(wire_err)
    });
}

#[test]
fn span_logs() {
    check("span_logs.jsonl", 15, |input, out| {
        let logs: Vec<SpanLog> = input["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|log| SpanLog {
                timestamp_micros: log["timestamp"].as_u64().unwrap(),
                fields: pairs(&log["fields"])
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            })
            .collect();
        let trace_id = s(&input["trace_id"]).parse().unwrap();
        let span_id = s(&input["span_id"]).parse().unwrap();
        wire::write_span_logs(out, trace_id, span_id, &logs, s(&input["span_line"]));
        Ok(Some(()))
    });
}
