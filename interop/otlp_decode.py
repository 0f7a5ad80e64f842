#!/usr/bin/env python3
"""Decode OTLP/HTTP protobuf request bodies with OpenTelemetry's own classes.

Usage:

    python otlp_decode.py metrics BODY_FILE...
    python otlp_decode.py traces BODY_FILE...

Each file holds one request body (gzip or not). Prints one JSON object per
file and line: the request as ``google.protobuf.json_format`` renders it with
the proto field names (64-bit integers as strings), span and trace ids turned
from base64 into hex, so the caller checks what a decoder written by others
made of the bytes.
"""

import base64
import gzip
import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

KINDS = {"metrics": ExportMetricsServiceRequest, "traces": ExportTraceServiceRequest}


def main():
    kind, files = sys.argv[1], sys.argv[2:]
    for path in files:
        with open(path, "rb") as f:
            body = f.read()
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        message = KINDS[kind]()
        message.ParseFromString(body)
        decoded = MessageToDict(message, preserving_proto_field_name=True)
        for resource in decoded.get("resource_spans", []):
            for scope in resource.get("scope_spans", []):
                for span in scope.get("spans", []):
                    hex_ids(span)
                    for link in span.get("links", []):
                        hex_ids(link)
        print(json.dumps(decoded))


def hex_ids(message):
    for field in ("trace_id", "span_id", "parent_span_id"):
        if field in message:
            message[field] = base64.b64decode(message[field]).hex()


if __name__ == "__main__":
    main()
