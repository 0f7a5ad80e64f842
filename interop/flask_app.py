#!/usr/bin/env python3
"""A Flask service instrumented with the reference Wavefront Flask SDK, for
the interoperability test (``wavefront-axum/tests/interop.rs``).

Run it with the interpreter of the venv that ``interop/venv.py`` prints.

Environment:

    PORT             port to listen on, on 127.0.0.1 (0 = any free port)
    WF_METRICS_PORT  the proxy's metrics port (also used as its distribution
                     port, like a real proxy's port 2878)
    WF_TRACING_PORT  the proxy's tracing port
    RUST_URL         base URL of the Rust service (for ``/call-rust``)
    WF_SOURCE        source of every line (default ``flask-interop``)

Once the server accepts connections it prints ``listening <host>:<port>`` on
stdout.  SIGTERM (or SIGINT) stops it after flushing the reporters.

Wiring (as the SDK's README says, and as in
``shared/reference/flask-captures/REPORT.md`` §2, proxy transport):
``ApplicationTags``, ``WavefrontTracer(WavefrontSpanReporter(
WavefrontProxyClient(...)))`` for spans, a ``WavefrontProxyReporter`` for the
Flask metrics, and ``FlaskTracing(tracer, reporter, application_tags, app)``.
Only the cadences are shortened, so that data arrives within seconds.

Routes:

    GET /hello      -> 200 "hello from flask"
    GET /call-rust  -> calls RUST_URL + "/hello" with the request span's context
                       in ``wf-ot-*`` headers and returns the Rust body
"""

import os
import signal
import sys
import time
import urllib.request

# The Flask SDK calls time.clock(), which Python 3.8 removed; on Linux it was
# the process's CPU time.  This must happen before the SDK is imported.
time.clock = time.process_time

# pylint: disable=wrong-import-position
import opentracing  # noqa: E402
from flask import Flask  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from wavefront_flask_sdk.flask_tracing import FlaskTracing  # noqa: E402
from wavefront_opentracing_sdk import WavefrontTracer  # noqa: E402
from wavefront_opentracing_sdk.reporting import WavefrontSpanReporter  # noqa: E402
from wavefront_pyformance.wavefront_reporter import WavefrontProxyReporter  # noqa: E402
from wavefront_sdk.proxy import WavefrontProxyClient  # noqa: E402
from wavefront_sdk.common import ApplicationTags  # noqa: E402

HOST = "127.0.0.1"


def _env_port(name):
    value = os.environ.get(name)
    if value is None:
        sys.exit("flask_app.py: %s is not set" % name)
    return int(value)


PORT = int(os.environ.get("PORT", "0"))
METRICS_PORT = _env_port("WF_METRICS_PORT")
TRACING_PORT = _env_port("WF_TRACING_PORT")
RUST_URL = os.environ.get("RUST_URL", "").rstrip("/")
SOURCE = os.environ.get("WF_SOURCE", "flask-interop")

app = Flask(__name__)

application_tags = ApplicationTags(
    application="Interop",
    service="flask",
    cluster="c1",
    shard="s1",
)

# Flask metrics: the proxy reporter (HTTP to the port-unified metrics port).
wf_reporter = WavefrontProxyReporter(
    host=HOST,
    port=METRICS_PORT,
    source=SOURCE,
    reporting_interval=1,
).report_minute_distribution()

# Spans, span logs, RED metrics and heartbeats: raw TCP to the proxy's
# ports.  The span reporter's thread sends each span as soon as it finishes.
span_client = WavefrontProxyClient(
    host=HOST,
    metrics_port=METRICS_PORT,
    distribution_port=METRICS_PORT,
    tracing_port=TRACING_PORT,
)
span_reporter = WavefrontSpanReporter(span_client, source=SOURCE)

tracer = WavefrontTracer(span_reporter, application_tags,
                         report_frequency_millis=1000)

tracing = FlaskTracing(tracer=tracer,
                       reporter=wf_reporter,
                       application_tags=application_tags,
                       app=app)


@app.route("/hello")
def hello():
    """A leaf endpoint."""
    return "hello from flask"


@app.route("/call-rust")
def call_rust():
    """Call the Rust service, continuing this request's trace."""
    span = tracing.get_span() or tracer.active_span
    headers = {}
    if span is not None:
        # wavefront_flask_sdk.inject.inject_as_headers is broken (it calls
        # tracer._tracer, which does not exist; REPORT §5.9), so inject with
        # the OpenTracing tracer itself: wf-ot-traceid, wf-ot-spanid,
        # wf-ot-sample.
        tracer.inject(span.context, opentracing.Format.HTTP_HEADERS, headers)
    request = urllib.request.Request(RUST_URL + "/hello", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode("utf-8")


_stopped = False


def _shutdown():
    """Flush and stop the reporters (once), without blocking for long.

    ``tracer.close()`` is not used: ``WavefrontSpanReporter.close()`` joins
    its sender thread for up to 10 s, and that thread sleeps in
    ``Queue.get()`` until another span arrives, so every close takes 10 s.
    This does what ``close()`` does, minus that join (the thread is a daemon).
    """
    global _stopped  # pylint: disable=global-statement
    if _stopped:
        return
    _stopped = True
    steps = [("the Flask reporter", wf_reporter.stop)]
    # pylint: disable=protected-access
    buffer = span_reporter._span_buffer
    deadline = time.monotonic() + 2.0
    steps.append(("draining the span queue",
                  lambda: _wait(lambda: buffer.empty(), deadline)))
    if tracer.wf_derived_reporter is not None:
        steps.append(("the RED reporter", tracer.wf_derived_reporter.stop))
    if tracer.wf_internal_reporter is not None:
        steps.append(("the internal reporter", tracer.wf_internal_reporter.stop))
    if tracer.heartbeater_service is not None:
        steps.append(("the heartbeater", tracer.heartbeater_service.close))
    steps.append(("the span client", span_client.close))
    for what, step in steps:
        try:
            step()
        except Exception as e:  # pylint: disable=broad-except
            sys.stderr.write("flask_app.py: stopping %s: %r\n" % (what, e))


def _wait(done, deadline):
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)


class _Stop(Exception):
    """Raised by the signal handler to leave serve_forever()."""


def _on_signal(signum, _frame):
    # A second signal during shutdown kills the process.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise _Stop(signum)


def main():
    server = make_server(HOST, PORT, app, threaded=False)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sys.stdout.write("listening %s:%d\n" % (HOST, server.server_port))
    sys.stdout.flush()
    try:
        server.serve_forever()
    except _Stop:
        pass
    finally:
        server.server_close()
        _shutdown()


if __name__ == "__main__":
    main()
