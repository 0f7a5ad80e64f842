#!/usr/bin/env python3
"""Throughput of the reference Python SDK's line formatters (wavefront-sdk-python 2.1.0).

Run with the conformance venv (create it with ``python3 conformance/generate.py``):

    conformance/.venv/bin/python conformance/bench_reference.py [--seconds S]

Prints one JSON object on stdout:

    {"python_metric_lines_per_sec": ..., "python_histogram_lines_per_sec": ...,
     "python_span_lines_per_sec": ...}

Each figure is single-threaded calls per second of the package's own function,
run in a loop for about S seconds (default 2) after a short warm-up.  The exact
inputs, so that the Rust bench can format the same lines:

(a) metric: wavefront_sdk.common.utils.metric_to_line_data(
        "request.latency", 42.5, 1700000000, "host-1", METRIC_TAGS, "default-source")
    METRIC_TAGS (in this order) = application=Ordering, cluster=us-west-1,
        service=styling, shard=primary
    output:
    "request.latency" 42.5 1700000000 source="host-1" "application"="Ordering" "cluster"="us-west-1" "service"="styling" "shard"="primary"\\n

(b) histogram: wavefront_sdk.common.utils.histogram_to_line_data(
        "request.latency", CENTROIDS, ["!M"], 1700000040000, "host-1",
        METRIC_TAGS, "default-source")
    CENTROIDS = [(mean, count)] = (1.0, 3), (2.5, 7), (10.25, 1), (100.0, 12), (1234.5, 2)
    output:
    !M 1700000040000 #3 1.0 #7 2.5 #1 10.25 #12 100.0 #2 1234.5 "request.latency" source="host-1" "application"="Ordering" "cluster"="us-west-1" "service"="styling" "shard"="primary"\\n

(c) span: wavefront_sdk.common.utils.tracing_span_to_line_data(
        "make_shirts", 1700000000123, 343, "host-1", TRACE_ID, SPAN_ID,
        [PARENT_ID], [], SPAN_TAGS, None, "default-source")
    TRACE_ID  = uuid.UUID("11111111-2222-4333-8444-555555555555")
    SPAN_ID   = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")
    PARENT_ID = uuid.UUID("2f64e538-9457-11e8-9eb6-529269fb1459")
    SPAN_TAGS (list of pairs, in this order) = application=Ordering,
        cluster=us-west-1, service=styling, shard=primary, component=flask,
        span.kind=server, http.method=GET, http.status_code=200,
        http.url=http://localhost:5000/style/blue/make, flask.func=make_shirts
    output:
    "make_shirts" source="host-1" traceId=11111111-2222-4333-8444-555555555555 spanId=66666666-7777-4888-9999-aaaaaaaaaaaa parent=2f64e538-9457-11e8-9eb6-529269fb1459 "application"="Ordering" "cluster"="us-west-1" "service"="styling" "shard"="primary" "component"="flask" "span.kind"="server" "http.method"="GET" "http.status_code"="200" "http.url"="http://localhost:5000/style/blue/make" "flask.func"="make_shirts" 1700000000123 343\\n

The script asserts these outputs before timing.
"""

import argparse
import json
import time
import uuid

from wavefront_sdk.common.utils import (histogram_to_line_data,
                                        metric_to_line_data,
                                        tracing_span_to_line_data)

DEFAULT_SOURCE = "default-source"
METRIC_TAGS = {"application": "Ordering", "cluster": "us-west-1",
               "service": "styling", "shard": "primary"}
CENTROIDS = [(1.0, 3), (2.5, 7), (10.25, 1), (100.0, 12), (1234.5, 2)]
TRACE_ID = uuid.UUID("11111111-2222-4333-8444-555555555555")
SPAN_ID = uuid.UUID("66666666-7777-4888-9999-aaaaaaaaaaaa")
PARENT_ID = uuid.UUID("2f64e538-9457-11e8-9eb6-529269fb1459")
SPAN_TAGS = [("application", "Ordering"), ("cluster", "us-west-1"),
             ("service", "styling"), ("shard", "primary"),
             ("component", "flask"), ("span.kind", "server"),
             ("http.method", "GET"), ("http.status_code", "200"),
             ("http.url", "http://localhost:5000/style/blue/make"),
             ("flask.func", "make_shirts")]

TAG_TEXT = ('"application"="Ordering" "cluster"="us-west-1" '
            '"service"="styling" "shard"="primary"')
EXPECTED_METRIC = ('"request.latency" 42.5 1700000000 source="host-1" '
                   + TAG_TEXT + "\n")
EXPECTED_HISTOGRAM = ('!M 1700000040000 #3 1.0 #7 2.5 #1 10.25 #12 100.0 '
                      '#2 1234.5 "request.latency" source="host-1" '
                      + TAG_TEXT + "\n")
EXPECTED_SPAN = (
    '"make_shirts" source="host-1" '
    'traceId=11111111-2222-4333-8444-555555555555 '
    'spanId=66666666-7777-4888-9999-aaaaaaaaaaaa '
    'parent=2f64e538-9457-11e8-9eb6-529269fb1459 ' + TAG_TEXT +
    ' "component"="flask" "span.kind"="server" "http.method"="GET" '
    '"http.status_code"="200" '
    '"http.url"="http://localhost:5000/style/blue/make" '
    '"flask.func"="make_shirts" 1700000000123 343\n')


def metric():
    return metric_to_line_data("request.latency", 42.5, 1700000000, "host-1",
                               METRIC_TAGS, DEFAULT_SOURCE)


def histogram():
    return histogram_to_line_data("request.latency", CENTROIDS, ["!M"],
                                  1700000040000, "host-1", METRIC_TAGS,
                                  DEFAULT_SOURCE)


def span():
    return tracing_span_to_line_data("make_shirts", 1700000000123, 343,
                                     "host-1", TRACE_ID, SPAN_ID, [PARENT_ID],
                                     [], SPAN_TAGS, None, DEFAULT_SOURCE)


def lines_per_sec(fn, seconds):
    """Call fn in batches of 1000 until `seconds` have passed; return calls/s."""
    for _ in range(2000):  # warm-up
        fn()
    calls = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            fn()
        calls += 1000
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time per kind of line (default 2)")
    args = parser.parse_args()
    assert metric() == EXPECTED_METRIC, metric()
    assert histogram() == EXPECTED_HISTOGRAM, histogram()
    assert span() == EXPECTED_SPAN, span()
    result = {
        "python_metric_lines_per_sec": round(lines_per_sec(metric, args.seconds), 1),
        "python_histogram_lines_per_sec": round(lines_per_sec(histogram, args.seconds), 1),
        "python_span_lines_per_sec": round(lines_per_sec(span, args.seconds), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
