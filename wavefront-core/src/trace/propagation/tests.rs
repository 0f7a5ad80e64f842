use super::w3c::{parse_traceparent, valid_trace_state, TraceParent};
use super::*;

/// Headers written by an injection, as a carrier extraction reads.
fn carrier(format: Propagation, context: &SpanContext) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    format.inject(context, &mut headers);
    headers
}

fn borrow(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn ctx(trace: u128, span: u128, sampled: Option<bool>) -> SpanContext {
    context(trace, span, sampled)
}

const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
const SPAN: u128 = 0x00f0_67aa_0ba9_02b7;

#[test]
fn every_format_round_trips_ids_and_flag() {
    for format in Propagation::ALL {
        for sampled in [Some(true), Some(false)] {
            for (trace, span) in [(TRACE, SPAN), (1, 1), (u128::MAX, u128::from(u64::MAX))] {
                let sent = ctx(trace, span, sampled);
                let headers = carrier(format, &sent);
                let got = format
                    .extract(borrow(&headers).as_slice())
                    .unwrap_or_else(|| panic!("{format} {headers:?}"));
                assert_eq!(
                    (got.trace_id, got.span_id, got.sampled),
                    (sent.trace_id, sent.span_id, sent.sampled),
                    "{format} {headers:?}"
                );
                // And no other format reads them.
                for other in Propagation::ALL.into_iter().filter(|&o| o != format) {
                    assert!(other.extract(borrow(&headers).as_slice()).is_none());
                }
            }
        }
    }
    // Wavefront carries 128-bit span ids, "no decision", and baggage.
    let mut sent = ctx(TRACE, u128::MAX - 1, None);
    sent.baggage = vec![("tenant".into(), "acme".into())];
    let headers = carrier(Propagation::Wavefront, &sent);
    let got = Propagation::Wavefront.extract(borrow(&headers).as_slice());
    assert_eq!(got, Some(sent));
}

#[test]
fn w3c_maps_onto_uuids() {
    let headers = [(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )];
    let got = Propagation::W3c.extract(&headers).unwrap();
    assert_eq!(
        got.trace_id.to_string(),
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
    );
    assert_eq!(
        got.span_id.to_string(),
        "00000000-0000-0000-00f0-67aa0ba902b7"
    );
    assert_eq!(got.sampled, Some(true));
    assert_eq!(got.trace_state, None);
    assert_eq!(
        carrier(Propagation::W3c, &got),
        [(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()
        )]
    );
    let unsampled = [(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )];
    assert_eq!(
        Propagation::W3c.extract(&unsampled).unwrap().sampled,
        Some(false)
    );
    // Only bit 0 matters; flags are written as 00 or 01.
    let other_bits = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe");
    assert_eq!(
        other_bits,
        Some(TraceParent {
            trace_id: TRACE,
            parent_id: SPAN as u64,
            sampled: false
        })
    );
    // Undecided is sent as not sampled.
    let headers = carrier(Propagation::W3c, &ctx(TRACE, SPAN, None));
    assert!(headers[0].1.ends_with("-00"));
}

#[test]
fn w3c_future_versions() {
    let base = "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for ok in [
        format!("01-{base}"),
        format!("cc-{base}-what-the-future-will-be-like"),
        format!("fe-{base}-"),
        format!("  00-{base}\t"),
    ] {
        assert_eq!(
            parse_traceparent(&ok).map(|p| p.trace_id),
            Some(TRACE),
            "{ok}"
        );
    }
    for bad in [
        format!("ff-{base}"),
        format!("00-{base}-extra"),
        format!("00-{base}0"),
        format!("01-{base}x"),
        format!("cc-{base}.more"),
    ] {
        assert_eq!(parse_traceparent(&bad), None, "{bad}");
    }
}

#[test]
fn malformed_traceparents_yield_no_context() {
    let long = format!("00-{}-00f067aa0ba902b7-01", "a".repeat(100_000));
    let bad = [
        "",
        "00",
        "garbage",
        // uppercase
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        // all-zero ids
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // lengths
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e47366-0f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
        "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        // separators and digits
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
        // multi-byte characters at the field boundaries
        "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é",
        long.as_str(),
    ];
    for value in bad {
        assert!(
            Propagation::W3c
                .extract(&[("traceparent", value), ("tracestate", "a=b")])
                .is_none(),
            "{value}"
        );
    }
    // A repeated traceparent (even twice the same) is invalid.
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(Propagation::W3c
        .extract(&[("traceparent", good), ("Traceparent", good)])
        .is_none());
    assert!(Propagation::W3c
        .extract(&[("traceparent", format!("{good},{good}").as_str())])
        .is_none());
}

#[test]
fn tracestate_is_carried_bounded_and_checked() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let state = |headers: &[(&str, &str)]| {
        Propagation::W3c
            .extract(headers)
            .unwrap()
            .trace_state
            .map(|s| s.to_string())
    };
    assert_eq!(
        state(&[
            ("traceparent", tp),
            ("tracestate", "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
        ]),
        Some("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7".into())
    );
    // Several headers are joined.
    assert_eq!(
        state(&[
            ("tracestate", "a=1"),
            ("traceparent", tp),
            ("TraceState", " b@vendor=2 ")
        ]),
        Some("a=1,b@vendor=2".into())
    );
    // Re-injected unchanged, with the new parent id.
    let mut context = Propagation::W3c
        .extract(&[("traceparent", tp), ("tracestate", "a=1,,b=2")])
        .unwrap();
    context.span_id = SpanId::from_u128(0xabc);
    let headers = carrier(Propagation::W3c, &context);
    assert_eq!(
        borrow(&headers),
        [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01"
            ),
            ("tracestate", "a=1,,b=2")
        ]
    );
    // Invalid or too long: dropped, the traceparent still counts.
    let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let too_many = too_many.join(",");
    let max: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let max = max.join(",");
    let long = format!("a={}", "x".repeat(MAX_TRACE_STATE_LEN));
    for bad in [
        "",
        " ",
        "A=1",
        "1a=1",
        "a",
        "a=",
        "=1",
        "a=1,a=2",
        "a=b=c",
        "a=1\t2",
        "a=\u{7f}",
        "a=é",
        "t@=1",
        "@s=1",
        "t@1s=1",
        "t@abcdefghijklmno=1",
        "a b=1",
        too_many.as_str(),
        long.as_str(),
    ] {
        assert_eq!(
            state(&[("traceparent", tp), ("tracestate", bad)]),
            None,
            "{bad}"
        );
    }
    assert!(valid_trace_state(&max));
    assert!(valid_trace_state("1tenant@sys=x y"));
    // Many headers, each short but together too long: dropped, bounded.
    let piece = "abcdefghij=0123456789";
    let mut many = vec![("traceparent", tp)];
    many.extend(std::iter::repeat_n(("tracestate", piece), 10_000));
    assert_eq!(state(&many), None);
    // Exactly at the limit is kept.
    let (a, b) = (
        format!("a={}", "x".repeat(254)),
        format!("b={}", "x".repeat(253)),
    );
    let headers = [("traceparent", tp), ("tracestate", &a), ("tracestate", &b)];
    assert_eq!(state(&headers).map(|s| s.len()), Some(MAX_TRACE_STATE_LEN));
    let c = format!("c={}", "x".repeat(254));
    let headers = [("traceparent", tp), ("tracestate", &a), ("tracestate", &c)];
    assert_eq!(state(&headers), None);
}

#[test]
fn b3_ids_map_onto_uuids() {
    let single = [(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
    )];
    let got = Propagation::B3.extract(&single).unwrap();
    assert_eq!(
        got.trace_id.to_string(),
        "80f198ee-5634-3ba8-64fe-8b2a57d3eff7"
    );
    assert_eq!(
        got.span_id.to_string(),
        "00000000-0000-0000-e457-b5a2e4d86bd1"
    );
    assert_eq!(got.sampled, Some(true));
    // 64-bit trace ids are zero-extended, and written back in 16 digits.
    let short = [("b3", "463ac35c9f6413ad-0020000000000001")];
    let got = Propagation::B3.extract(&short).unwrap();
    assert_eq!(
        got.trace_id.to_string(),
        "00000000-0000-0000-463a-c35c9f6413ad"
    );
    assert_eq!(got.sampled, None);
    assert_eq!(
        carrier(Propagation::B3, &got),
        [(
            "b3".to_owned(),
            "463ac35c9f6413ad-0020000000000001".to_owned()
        )]
    );
    let multi = [
        ("X-B3-TraceId", "463ac35c9f6413ad"),
        ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ("X-B3-ParentSpanId", "0020000000000001"),
        ("X-B3-Sampled", "1"),
    ];
    let got = Propagation::B3Multi.extract(&multi).unwrap();
    assert_eq!(
        (got.trace_id.to_u128(), got.span_id.to_u128(), got.sampled),
        (0x463a_c35c_9f64_13ad, 0xa2fb_4a1d_1a96_d312, Some(true))
    );
    assert_eq!(
        borrow(&carrier(Propagation::B3Multi, &got)),
        [
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-sampled", "1")
        ]
    );
}

#[test]
fn b3_sampling_states() {
    let ids = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1";
    for (state, sampled) in [("1", true), ("0", false), ("d", true)] {
        let value = format!("{ids}-{state}");
        assert_eq!(
            Propagation::B3
                .extract(&[("b3", value.as_str())])
                .unwrap()
                .sampled,
            Some(sampled)
        );
        // Alone: a decision for a new trace.
        let only = Propagation::B3.extract(&[("b3", state)]).unwrap();
        assert!(only.is_decision_only());
        assert_eq!(only.sampled, Some(sampled));
        assert_ne!(only.trace_id.to_u128(), 0);
    }
    let multi = |sampled: &str, flags: Option<&str>| {
        let mut headers = vec![
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", sampled),
        ];
        headers.extend(flags.map(|f| ("x-b3-flags", f)));
        Propagation::B3Multi
            .extract(headers.as_slice())
            .unwrap()
            .sampled
    };
    assert_eq!(multi("1", None), Some(true));
    assert_eq!(multi("true", None), Some(true));
    assert_eq!(multi("True", None), Some(true));
    assert_eq!(multi("0", None), Some(false));
    assert_eq!(multi("false", None), Some(false));
    assert_eq!(multi("yes", None), None);
    assert_eq!(multi("0", Some("1")), Some(true), "debug samples");
    assert_eq!(multi("0", Some("0")), Some(false));
    let only = Propagation::B3Multi
        .extract(&[("x-b3-sampled", "0")])
        .unwrap();
    assert!(only.is_decision_only());
    assert_eq!(only.sampled, Some(false));
    // A decision-only context injects only its decision.
    assert_eq!(borrow(&carrier(Propagation::B3, &only)), [("b3", "0")]);
    assert_eq!(
        borrow(&carrier(Propagation::B3Multi, &only)),
        [("x-b3-sampled", "0")]
    );
    assert!(carrier(Propagation::W3c, &only).is_empty());
    assert!(carrier(Propagation::Wavefront, &only).is_empty());
}

#[test]
fn malformed_b3_yields_no_context() {
    let long = "a".repeat(100_000);
    for value in [
        "",
        "2",
        "x",
        "-",
        "80f198ee56343ba864fe8b2a57d3eff7",
        "80f198ee56343ba864fe8b2a57d3eff7-",
        "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1",
        "80f198ee56343ba864fe8b2a57d3eff7-E457B5A2E4D86BD1",
        "80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1",
        "080f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1",
        "80f198ee56343ba8a-e457b5a2e4d86bd1",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1a",
        "00000000000000000000000000000000-e457b5a2e4d86bd1",
        "0000000000000000-e457b5a2e4d86bd1",
        "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b9",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-0000000000000000",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bé1",
        "+0f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1",
        long.as_str(),
    ] {
        assert!(
            Propagation::B3.extract(&[("b3", value)]).is_none(),
            "{value}"
        );
    }
    let good = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1";
    assert!(Propagation::B3
        .extract(&[("b3", good), ("B3", good)])
        .is_none());

    let t = "80f198ee56343ba864fe8b2a57d3eff7";
    let s = "e457b5a2e4d86bd1";
    for headers in [
        vec![("x-b3-traceid", t)],
        vec![("x-b3-spanid", s)],
        vec![("x-b3-traceid", t), ("x-b3-spanid", "E457B5A2E4D86BD1")],
        vec![("x-b3-traceid", &t[1..]), ("x-b3-spanid", s)],
        vec![
            ("x-b3-traceid", t),
            ("x-b3-spanid", t),
            ("x-b3-sampled", "1"),
        ],
        vec![("x-b3-traceid", "0000000000000000"), ("x-b3-spanid", s)],
        vec![("x-b3-traceid", t), ("x-b3-spanid", "0000000000000000")],
        vec![
            ("x-b3-traceid", long.as_str()),
            ("x-b3-spanid", long.as_str()),
        ],
        vec![("x-b3-traceid", t), ("x-b3-traceid", t), ("x-b3-spanid", s)],
        vec![("x-b3-traceid", t), ("x-b3-spanid", s), ("X-B3-SpanId", s)],
        vec![("x-b3-sampled", "maybe")],
        vec![],
    ] {
        assert!(
            Propagation::B3Multi.extract(headers.as_slice()).is_none(),
            "{headers:?}"
        );
    }
}

#[test]
fn malformed_wavefront_headers_yield_no_context() {
    let uuid = "11111111-2222-4333-8444-555555555555";
    let zero = "00000000-0000-0000-0000-000000000000";
    for headers in [
        vec![("wf-ot-traceid", uuid), ("wf-ot-spanid", zero)],
        vec![("wf-ot-traceid", zero), ("wf-ot-spanid", uuid)],
        vec![
            ("wf-ot-traceid", uuid),
            ("wf-ot-traceid", uuid),
            ("wf-ot-spanid", uuid),
        ],
        vec![
            ("wf-ot-traceid", uuid),
            ("wf-ot-spanid", uuid),
            ("WF-OT-SPANID", uuid),
        ],
        vec![("wf-ot-traceid", "1111111122224333844455555555555é")],
    ] {
        assert!(
            Propagation::Wavefront.extract(headers.as_slice()).is_none(),
            "{headers:?}"
        );
    }
}

#[test]
fn wavefront_baggage_is_bounded() {
    let uuid = "11111111-2222-4333-8444-555555555555";
    let names: Vec<String> = (0..1000).map(|i| format!("wf-ot-k{i}")).collect();
    let big = "v".repeat(1_000_000);
    let mut headers = vec![("wf-ot-traceid", uuid), ("wf-ot-spanid", uuid)];
    headers.push(("wf-ot-huge", &big));
    headers.extend(names.iter().map(|n| (n.as_str(), "v")));
    let got = Propagation::Wavefront.extract(headers.as_slice()).unwrap();
    assert_eq!(got.baggage.len(), wavefront::MAX_BAGGAGE_ITEMS);
    assert!(got
        .baggage
        .iter()
        .all(|(k, v)| k.len() + v.len() <= wavefront::MAX_BAGGAGE_ITEM_LEN));
    assert_eq!(got.baggage[0], ("k0".to_owned(), "v".to_owned()));
}

#[test]
fn extraction_order() {
    let wf = [
        ("wf-ot-traceid", "11111111-2222-4333-8444-555555555555"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
    ];
    let w3c = (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let b3 = ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0");
    let b3m = [
        ("x-b3-traceid", "463ac35c9f6413ad"),
        ("x-b3-spanid", "a2fb4a1d1a96d312"),
    ];
    let mut all: Vec<(&str, &str)> = vec![b3m[0], b3, w3c, b3m[1]];
    all.extend(wf);
    let trace = |formats: &[Propagation], headers: &[(&str, &str)]| {
        extract(formats, headers).map(|c| c.trace_id.to_u128())
    };
    let (t_wf, t_w3c, t_b3, t_b3m) = (
        0x11111111_2222_4333_8444_555555555555,
        TRACE,
        0x80f198ee_5634_3ba8_64fe_8b2a57d3eff7,
        0x463a_c35c_9f64_13ad,
    );
    let default = Propagation::DEFAULT_EXTRACT;
    assert_eq!(trace(&default, &all), Some(t_wf));
    assert_eq!(trace(&default, &all[..4]), Some(t_w3c));
    assert_eq!(trace(&default, &[b3m[0], b3, b3m[1]]), Some(t_b3));
    assert_eq!(trace(&default, &b3m), Some(t_b3m));
    use Propagation::*;
    assert_eq!(trace(&[B3Multi, B3, W3c, Wavefront], &all), Some(t_b3m));
    assert_eq!(trace(&[B3, Wavefront], &all), Some(t_b3));
    assert_eq!(trace(&[W3c], &all), Some(t_w3c));
    assert_eq!(trace(&[], &all), None);
    // A malformed first format falls through to the next.
    let broken = [
        ("wf-ot-traceid", "nope"),
        ("wf-ot-spanid", "66666666-7777-4888-9999-aaaaaaaaaaaa"),
        w3c,
    ];
    assert_eq!(trace(&default, &broken), Some(t_w3c));
    // A decision-only B3 header gives way to any full context.
    assert_eq!(trace(&default, &[("b3", "0"), b3m[0], b3m[1]]), Some(t_b3m));
    let only = extract(&default, &[("b3", "0")]).unwrap();
    assert!(only.is_decision_only());
}

#[test]
fn span_ids_fold_to_64_bits() {
    assert_eq!(span_id_64(SpanId::from_u128(SPAN)), Some(SPAN as u64));
    assert_eq!(
        span_id_64(SpanId::from_u128(0x1234 << 64 | 0x5678)),
        Some(0x5678)
    );
    assert_eq!(span_id_64(SpanId::from_u128(0x1234 << 64)), Some(0x1234));
    assert_eq!(span_id_64(SpanId::from_u128(0)), None);
}

#[test]
fn format_names() {
    for format in Propagation::ALL {
        assert_eq!(format.name().parse(), Ok(format));
        assert_eq!(format.to_string(), format.name());
    }
    assert_eq!(" TraceContext ".parse(), Ok(Propagation::W3c));
    assert_eq!("jaeger".parse::<Propagation>(), Err(ParsePropagationError));
    assert!(ParsePropagationError.to_string().contains("b3multi"));
}

#[cfg(feature = "http")]
#[test]
fn http_header_maps() {
    let mut map = http::HeaderMap::new();
    let context = ctx(TRACE, SPAN, Some(true));
    for format in Propagation::ALL {
        format.inject(&context, &mut map);
    }
    for format in Propagation::ALL {
        let got = format.extract(&map).unwrap();
        assert_eq!(
            (got.trace_id, got.span_id),
            (context.trace_id, context.span_id)
        );
    }
    assert_eq!(Headers::count(&map, "traceparent"), 1);
    map.append(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    assert_eq!(Headers::count(&map, "traceparent"), 2);
    assert!(Propagation::W3c.extract(&map).is_none());
}
