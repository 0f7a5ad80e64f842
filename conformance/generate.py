#!/usr/bin/env python3
"""Conformance vectors from the reference Python SDK (wavefront-sdk-python 2.1.0).

Usage (from any directory):

    python3 conformance/generate.py           # (re)write conformance/vectors/*.jsonl
    python3 conformance/generate.py --check   # regenerate into a temp dir and compare

On first use the script creates the virtualenv ``conformance/.venv``, installs
``conformance/requirements.txt`` into it (again whenever that file changes; a
hash is kept in ``.venv/.requirements.sha256``) and re-executes itself with the
venv's interpreter.  Every output line is produced by calling the reference
package's own functions; nothing of the SDK is reimplemented here:

    sanitize_name.jsonl   wavefront_sdk.common.utils.sanitize(string)
    sanitize_value.jsonl  wavefront_sdk.common.utils.sanitize_value(string)
    metric.jsonl          wavefront_sdk.common.utils.metric_to_line_data(
                              name, value, timestamp, source, tags, default_source)
    histogram.jsonl       wavefront_sdk.common.utils.histogram_to_line_data(
                              name, centroids, histogram_granularities, timestamp,
                              source, tags, default_source)
    span.jsonl            wavefront_sdk.common.utils.tracing_span_to_line_data(
                              name, start_millis, duration_millis, source, trace_id,
                              span_id, parents, follows_from, tags, span_logs,
                              default_source)
    span_logs.jsonl       wavefront_sdk.common.utils.span_log_to_line_data(
                              trace_id, span_id, span_logs, span, scrambler=None)
    delta.jsonl           wavefront_sdk.entities.WavefrontMetricSender
                              .send_delta_counter(name, value, source, tags, timestamp=None)
                          called on a subclass whose send_metric() records the
                          name it is handed (the only thing a client adds).

Record schema (one JSON object per line, keys in this order):

    {"id": "<stem>-NNNN", "input": {...},
     "python": {"ok": "<exact output>"} | {"error": "<exception class name>"},
     ["rust": {"ok": ...} | {"error": ...}, "why": "<reason>"]}

Special case: in delta.jsonl, ``"python": {"not_sent": true}`` means
send_delta_counter() sent nothing (it only sends when value > 0).

Inputs passed to Python:
  * float values are given as ``repr(float)`` strings ("42.0", "nan", "-0.0")
    and passed as ``float(s)``; histogram centroids as ``(float(mean), count)``;
  * tag lists ``[[k, v], ...]`` become a dict built in that order for metrics and
    histograms (no vector has a repeated key there) and a list of tuples for spans;
  * span/trace ids are canonical lowercase UUID strings passed as ``uuid.UUID``;
  * ``default_source="default-source"`` wherever the function takes one;
  * span ``has_span_logs: true`` passes ``[SpanLog(1700000000000000, {"k": "v"})]``
    (the function appends the ``_spanLogs`` tag to a copy of the tag list);
  * span-log ``logs`` become ``SpanLog(timestamp, dict(fields))`` objects.

Deviations (``conformance/deviations.json``) are keyed by vector id.  Each
entry repeats the vector's ``input`` as a guard: if the inputs are edited and
the ids shift, generation fails with a message instead of silently attaching a
deviation to the wrong vector.  Unused entries are an error too.  The ``rust``
and ``why`` fields of an entry are copied into the record.

Determinism: fixed inputs plus ``random.Random(<fixed seed>)``; no clocks, no
hash-order dependence; ``json.dumps(ensure_ascii=False)``; files end in "\\n".
"""

import difflib
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
STAMP = os.path.join(VENV, ".requirements.sha256")
VECTORS = os.path.join(HERE, "vectors")
DEVIATIONS = os.path.join(HERE, "deviations.json")

DEFAULT_SOURCE = "default-source"
SEED = 20240601


# --------------------------------------------------------------------------
# bootstrap: make sure we run inside conformance/.venv
# --------------------------------------------------------------------------

def _in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def _bootstrap():
    if _in_venv():
        return
    if os.environ.get("WF_CONFORMANCE_REEXEC") == "1":
        sys.exit("generate.py: re-executed but not running in %s" % VENV)
    if not os.path.exists(VENV_PY):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    with open(REQUIREMENTS, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    have = None
    if os.path.exists(STAMP):
        with open(STAMP) as f:
            have = f.read().strip()
    if have != want:
        subprocess.check_call([VENV_PY, "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check",
                               "-r", REQUIREMENTS])
        with open(STAMP, "w") as f:
            f.write(want + "\n")
    env = dict(os.environ, WF_CONFORMANCE_REEXEC="1")
    os.execve(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:], env)


# --------------------------------------------------------------------------
# shared input material
# --------------------------------------------------------------------------

LONG_ASCII = "".join("abcdefghijklmnopqrstuvwxyz0123456789._-,"[i % 40]
                     for i in range(310))
LONG_MIXED = ("latency 延迟 😀 \"q\" \\ " * 20)[:320]
CJK = "请求延迟"
EMOJI = "😀"                      # astral plane (U+1F600)
ZWJ_FAMILY = "👨\u200d👩\u200d👧"  # ZWJ sequence
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"
COMBINING = "e\u0301"            # e + COMBINING ACUTE ACCENT
PY_WHITESPACE = ["\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u2028",
                 "\u3000", "\x0b", "\x0c"]
NOT_WHITESPACE = ["\u200b", "\ufeff", "\u180e"]

SPECIAL_FLOATS = [
    0.0, -0.0, 1.0, -1.0, 4.0, 42.5, -42.5, 0.1, 0.2, 0.3, 1.5e-05, 1e-07,
    0.0001, 0.001, 1e-05, 123.456, 1e+16, 1e+15, 9999999999999998.0,
    1.2345678901234568e+16, 2.0 ** 53, 2.0 ** 53 + 2, -(2.0 ** 53), 2.0 ** 63,
    2.0 ** 64, 1e+22, 1e+100, -1e+100, 1.7976931348623157e+308,
    -1.7976931348623157e+308, 5e-324, -5e-324, 2.2250738585072014e-308,
    0.005727625999952579, 2.01, 50000.0, 42422.0, 1e-300, 100.0, 1234567.0,
    float("nan"), float("inf"), float("-inf"),
]

STD_TAGS = [["application", "Ordering"], ["cluster", "us-west-1"],
            ["service", "styling"], ["shard", "primary"]]

TRACE_ID = "11111111-2222-4333-8444-555555555555"
SPAN_ID = "66666666-7777-4888-9999-aaaaaaaaaaaa"
UUIDS = ["2f64e538-9457-11e8-9eb6-529269fb1459",
         "5f64e538-9457-11e8-9eb6-529269fb1459",
         "7b3bf470-9456-11e8-9eb6-529269fb1459",
         "0313bafe-9457-11e8-9eb6-529269fb1459",
         "00000000-0000-0000-0000-000000000000"]


def _random_strings(rng, count, alphabet, min_len, max_len):
    out = []
    for _ in range(count):
        n = rng.randint(min_len, max_len)
        s = "".join(rng.choice(alphabet) for _ in range(n))
        if s.strip().endswith("\\"):
            s += "x"   # trailing backslashes are covered by hand-picked cases
        out.append(s)
    return out


RANDOM_ALPHABET = (list("abcxyzABZ019_.,-") + list(" /:=#*~\"'\\\t\n") +
                   ["\u2206", "\u0394", "\u00e9", "\u0301", "中", "文",
                    EMOJI, "\u200d", "\x04", "\x7f", "\u00a0"])


def _uniq(seq):
    seen = set()
    out = []
    for s in seq:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


# --------------------------------------------------------------------------
# input builders
# --------------------------------------------------------------------------

def name_inputs(rng):
    cases = [
        "", " ", "   ", "\t", "\n", "\r\n", "a", "abc", "request.latency",
        "new-york.power.usage", "A-Z_0-9,.", "a_b", "a,b", "a-b", "a.b",
        "a b", " a", "a ", " a ", "a  b", "a/b", "/a/b/", "a//b", "a:b",
        "path:id", "flask.request.style.path:id.make.GET", "a=b", "a#b",
        "a*b", "a+b", "a%b", "a@b", "a!b", "a?b", "a$b", "a^b", "a&b", "a|b",
        "a;b", "<a>", "(a)", "[a]", "{a}", "a`b", "a'b", "'", "''",
        "a\"b", "\"", "\"quoted\"", "a\\b", "a\\", "\\", "\\\\", "\\\"",
        "a\\\"b", "a\nb", "a\rb", "a\r\nb", "a\tb", "\x04", "a\x04b", "\x00",
        "a\x7fb", "\x1b[0m",
        # tilde / delta at every position
        "~", "~a", "~~", "~~a", "a~", "a~b", "ab~c", "~sdk.python.core",
        "\u2206", "\u0394", "\u2206a", "\u0394a", "a\u2206", "a\u0394",
        "a\u2206b", "a\u0394b", "ab\u2206c", "\u2206~x", "\u0394~x", "~\u2206x",
        "~\u0394x", "\u2206\u2206x", "\u0394\u0394x", "\u2206\u0394x",
        "\u0394\u2206x", "\u2206~", "\u0394~", "\u2206~~x", "\u2206x~",
        "\u2206 x", "x\u2206~", "\u2206~sdk.python.points.valid.count",
        "\u2206requests.count", "\u0394requests.count",
        # non-ASCII
        CJK, "指标." + CJK, "日本語の名前", "한국어", "Ω", "ß", "\u0130",
        "\u00e9", COMBINING, "a\u0301b", "\u0301", "\u0301a", EMOJI,
        "a" + EMOJI + "b", ZWJ_FAMILY, RAINBOW_FLAG, "\u2206" + EMOJI,
        "~" + EMOJI, EMOJI + "~",
        # long
        LONG_ASCII, LONG_MIXED, "\u2206" + LONG_ASCII, CJK * 80,
    ]
    cases += ["x%sy" % ws for ws in PY_WHITESPACE + NOT_WHITESPACE]
    cases += list(PY_WHITESPACE) + list(NOT_WHITESPACE) + ["\x1c\x1d"]
    # every printable ASCII character on its own
    cases += [chr(c) for c in range(32, 127)]
    cases += _random_strings(rng, 40, RANDOM_ALPHABET, 1, 24)
    return [{"s": s} for s in _uniq(cases)]


def value_inputs(rng):
    cases = [
        "", " ", "   ", "\t", "\n", " \t\r\n ", "a", "host-1", "us-west-1",
        " a", "a ", "  padded  ", "a b", "a  b",
        "a\"b", "\"", "\"\"", "\"quoted\"", "'", "a'b", "it's",
        "a\\b", "C:\\path\\to", "a\\\\b",
        # trailing backslashes
        "a\\", "a\\\\", "a\\\\\\", "\\", "\\\\", " \\ ", "a\\ ", "\\\n",
        "\"\\", "a\"\\",
        # backslash before a quote
        "a\\\"b", "\\\"", "a\\\"", "\\\"a\\\"",
        # line breaks and controls
        "a\nb", "a\n\nb", "\na\n", "a\rb", "a\r\nb", "a\tb", "\ta\t",
        "\x04", "a\x04", "\x04a", "a\x00b", "a\x7f", "\x1b[1m",
        # separators / punctuation
        "a=b", "k=v,w=x", "#", "a#b", "*", "a*b", "/path/to:x", "a:b",
        "a,b", "a.b", "{a}", "a b=\"c\"",
        # tilde / delta
        "~", "~a", "\u2206", "\u0394", "\u2206a", "\u2206~x", "a\u2206",
        # non-ASCII
        CJK, "Zürich", EMOJI, "a" + EMOJI, ZWJ_FAMILY, RAINBOW_FLAG,
        COMBINING, "\u0301", "a\u0301", "نص عربي", "\u202eabc",
        # long
        LONG_ASCII, LONG_MIXED, CJK * 80, EMOJI * 160,
    ]
    for ws in PY_WHITESPACE + NOT_WHITESPACE:
        cases += [ws, ws + "a" + ws, "a" + ws + "b"]
    cases += _random_strings(rng, 40, RANDOM_ALPHABET, 1, 24)
    return [{"s": s} for s in _uniq(cases)]


def _metric(name="request.latency", value=42.5, timestamp=1700000000,
            source="host-1", tags=None):
    return {"name": name, "value": repr(float(value)), "timestamp": timestamp,
            "source": source, "tags": STD_TAGS if tags is None else tags}


def metric_inputs(rng):
    out = []
    # the bench line and its variants
    out.append(_metric())
    out.append(_metric(tags=[]))
    out.append(_metric(timestamp=None))
    out.append(_metric(timestamp=None, tags=[]))
    out.append(_metric(timestamp=0))
    out.append(_metric(timestamp=1700000000123))
    out.append(_metric(timestamp=1700000000123456789))
    # tag orders
    out.append(_metric(tags=list(reversed(STD_TAGS))))
    out.append(_metric(tags=[STD_TAGS[2], STD_TAGS[0], STD_TAGS[3], STD_TAGS[1]]))
    out.append(_metric(tags=[["z", "1"], ["a", "2"], ["m", "3"]]))
    out.append(_metric(tags=[["a", "2"], ["m", "3"], ["z", "1"]]))
    # values
    for v in SPECIAL_FLOATS:
        out.append(_metric(value=v))
    for _ in range(12):
        out.append(_metric(value=rng.uniform(-1000.0, 1000.0)))
    for _ in range(8):
        out.append(_metric(value=rng.random() * 10.0 ** rng.randint(-12, 20)))
    for _ in range(4):
        out.append(_metric(value=float(rng.randint(-10 ** 9, 10 ** 9))))
    # names
    for name in ["", " ", "\t", "\u2206", "\u0394", "\u2206requests.count",
                 "\u0394requests.count", "~sdk.python.core", "\u2206~sdk.x",
                 "\u0394~x", "~\u2206x", "\u2206\u2206x", "path:id",
                 "a b/c:d=e#f*g", "\"quoted\"", "a\\b\\", "a\nb", CJK,
                 EMOJI + ZWJ_FAMILY, COMBINING, LONG_ASCII, "\x1c"]:
        out.append(_metric(name=name))
    # sources
    for source in ["", " ", "\t\n", "host\\", "\\", " \\\\ ", "a\\\\",
                   " host-1 ", "h\"q", "h\nq", "h\\\"q", CJK, EMOJI,
                   "host=1 #x", "\x1chost\x1f", "\u200bhost", LONG_ASCII]:
        out.append(_metric(source=source))
    # tags: keys
    for key in ["", " ", "\u2206", "a b", "a/b:c", "\u2206k", "\u0394k",
                "~k", "~\u2206k", "k\u2206", "\"k\"", "k\\", CJK, EMOJI,
                " k ", "source", "tag", "k=v", "\x1c"]:
        out.append(_metric(tags=[["application", "Ordering"], [key, "v"]]))
    # tags: values
    for val in ["", " ", "\n", "v\\", "\\", " \\\\ ", "v\\\\", "\"v\"",
                "a\\\"b", "a\nb", " v ", "a=b c", CJK, ZWJ_FAMILY,
                "\x1cv\x1c", "\x04", "\u2206"]:
        out.append(_metric(tags=[["k", val], ["application", "Ordering"]]))
    # keys that sanitise to the same text
    out.append(_metric(tags=[["a b", "1"], ["a-b", "2"], ["a/b", "3"]]))
    # tag length limit: len(key) + len(value) in UTF-16 units, 254 ok, 255 not
    out.append(_metric(tags=[["key", "v" * 251]]))
    out.append(_metric(tags=[["key", "v" * 252]]))
    out.append(_metric(tags=[["k" * 200, "v" * 54]]))
    out.append(_metric(tags=[["k" * 200, "v" * 55]]))
    out.append(_metric(tags=[["k" * 254, "v"]]))
    out.append(_metric(tags=[["k" * 255, "v"]]))
    out.append(_metric(tags=[["k", EMOJI * 126 + "ab"]]))      # 1 + 254 units
    out.append(_metric(tags=[["k", EMOJI * 126 + "a"]]))       # 1 + 253 units
    out.append(_metric(tags=[["k", EMOJI * 127]]))             # 1 + 254 units
    out.append(_metric(tags=[["k", "中" * 253]]))               # 254 units, 760 bytes
    out.append(_metric(tags=[["k", "中" * 254]]))               # 255 units
    out.append(_metric(tags=[[EMOJI * 100, "v" * 153]]))        # key sanitises to 100 units
    out.append(_metric(tags=[[EMOJI * 100, "v" * 154]]))
    out.append(_metric(tags=[["k", "  " + "v" * 253 + "  "]]))  # trimmed: 254
    out.append(_metric(tags=[["k", "\"" * 253]]))               # 254 before escaping
    out.append(_metric(tags=[["application", "Ordering"], ["k", "v" * 300]]))
    # several problems at once are avoided on purpose (error order unspecified)
    # random tag sets
    for _ in range(8):
        tags = []
        used = set()
        for _ in range(rng.randint(1, 5)):
            k = _random_strings(rng, 1, RANDOM_ALPHABET, 1, 10)[0]
            v = _random_strings(rng, 1, RANDOM_ALPHABET, 1, 16)[0]
            if (k in used or not k.strip() or not v.strip()
                    or k in ("\u2206", "\u0394")):
                continue
            used.add(k)
            tags.append([k, v])
        out.append(_metric(tags=tags))
    return out


def _hist(name="request.latency", centroids=None, granularities=None,
          timestamp=1700000040000, source="host-1", tags=None):
    if centroids is None:
        centroids = [[30.0, 20], [5.1, 10]]
    return {"name": name,
            "centroids": [[repr(float(m)), c] for m, c in centroids],
            "granularities": ["!M"] if granularities is None else granularities,
            "timestamp": timestamp, "source": source,
            "tags": STD_TAGS if tags is None else tags}


def histogram_inputs(rng):
    five = [[1.0, 3], [2.5, 7], [10.25, 1], [100.0, 12], [1234.5, 2]]
    out = [
        _hist(),
        _hist(centroids=five),
        _hist(timestamp=None),
        _hist(tags=[]),
        _hist(timestamp=None, tags=[]),
        _hist(centroids=[]),
        _hist(centroids=[[42.0, 1]]),
        _hist(centroids=[[0.0, 0]]),
        _hist(centroids=[[-0.0, 1], [-5.5, 2]]),
        _hist(centroids=[[1e+16, 1], [1e-07, 2], [1.5e-05, 3], [0.1, 4]]),
        _hist(centroids=[[2.0 ** 53, 1], [1.7976931348623157e+308, 2],
                         [5e-324, 3]]),
        _hist(centroids=[[4.0, 2 ** 40], [4.0, 1], [3.0, 5]]),
        _hist(centroids=[[float("nan"), 1]]),
        _hist(centroids=[[1.0, 1], [float("inf"), 1]]),
        _hist(centroids=[[float("-inf"), 2]]),
        _hist(centroids=[[rng.uniform(0, 500), rng.randint(1, 100)]
                         for _ in range(50)]),
        _hist(centroids=[[rng.random() * 10.0 ** rng.randint(-8, 18),
                          rng.randint(1, 10 ** 6)] for _ in range(10)]),
    ]
    for grans in (["!M"], ["!H"], ["!D"], ["!M", "!H", "!D"], ["!D", "!M"],
                  ["!H", "!D"], []):
        out.append(_hist(granularities=grans, centroids=five))
        out.append(_hist(granularities=grans, timestamp=None))
    for name in ["", " ", "\u2206", "\u2206h", "~h", "\u0394~h", "a b:c/d",
                 "\"h\"", CJK, EMOJI]:
        out.append(_hist(name=name))
    for source in ["", " ", "h\\", "\\", " host-1 ", "h\"q", "h\nq", CJK]:
        out.append(_hist(source=source))
    for tags in ([["", "v"]], [[" ", "v"]], [["k", ""]], [["k", " "]],
                 [["k", "v\\"]], [["k", "\\\\"]], [["a b", "c\"d"]],
                 [["k", "a\nb"]], [["\u2206k", CJK]],
                 [["key", "v" * 251]], [["key", "v" * 252]],
                 [["k", EMOJI * 127]], [["k", "中" * 253]],
                 list(reversed(STD_TAGS))):
        out.append(_hist(tags=tags))
    out.append(_hist(granularities=["!M", "!H", "!D"], tags=[["key", "v" * 252]]))
    out.append(_hist(granularities=["!M", "!H"], tags=[["k", "v\\"]]))
    return out


def _span(name="make_shirts", start_millis=1700000000123, duration_millis=343,
          source="host-1", trace_id=TRACE_ID, span_id=SPAN_ID, parents=None,
          follows_from=None, tags=None, has_span_logs=False):
    return {"name": name, "start_millis": start_millis,
            "duration_millis": duration_millis, "source": source,
            "trace_id": trace_id, "span_id": span_id,
            "parents": [UUIDS[0]] if parents is None else parents,
            "follows_from": [] if follows_from is None else follows_from,
            "tags": STD_TAGS if tags is None else tags,
            "has_span_logs": has_span_logs}


SPAN_TAGS_10 = STD_TAGS + [["component", "flask"], ["span.kind", "server"],
                           ["http.method", "GET"], ["http.status_code", "200"],
                           ["http.url", "http://localhost:5000/style/blue/make"],
                           ["flask.func", "make_shirts"]]


def span_inputs(rng):
    out = [
        _span(),
        _span(tags=SPAN_TAGS_10),
        _span(tags=[]),
        _span(tags=[], parents=[]),
        _span(parents=[], follows_from=[]),
        _span(parents=UUIDS[:2]),
        _span(parents=UUIDS[:3]),
        _span(parents=[], follows_from=[UUIDS[1]]),
        _span(parents=[], follows_from=UUIDS[1:3]),
        _span(parents=UUIDS[:3], follows_from=UUIDS[3:5]),
        _span(parents=[UUIDS[0]], follows_from=[UUIDS[1]], tags=SPAN_TAGS_10,
              has_span_logs=True),
        _span(has_span_logs=True),
        _span(tags=[], has_span_logs=True),
        _span(start_millis=0, duration_millis=0),
        _span(duration_millis=123456789),
        _span(trace_id=UUIDS[4], span_id=UUIDS[4], parents=[UUIDS[4]]),
        # repeated keys and duplicates
        _span(tags=[["k", "v1"], ["k", "v2"], ["k", "v1"]]),
        _span(tags=[["k", "v"], ["k", "v"]]),
        _span(tags=[["a b", "v"], ["a-b", "v"], ["a/b", "v"]]),
        _span(tags=[["k", "v"], ["k", " v "]]),
        _span(tags=[["application", "A"], ["application", "B"]]),
        _span(tags=[["_spanLogs", "true"]], has_span_logs=True),
        _span(tags=[["_spanLogs", "true"]]),
        _span(tags=[["_spanLogs", "false"]], has_span_logs=True),
        _span(tags=[["x", "1"], ["_spanLogs", "true"], ["y", "2"]],
              has_span_logs=True),
        _span(tags=list(reversed(SPAN_TAGS_10))),
        # span tags are exempt from the point-tag length limit
        _span(tags=[["key", "v" * 252]]),
        _span(tags=[["k", "v" * 400]]),
        _span(tags=[["k" * 300, "v"]]),
    ]
    for name in ["make shirts", "say \"hi\"", "a\nb", " padded ", "op\\",
                 "\\", " \\\\ ", "a\\\"b", "", " ", "\t", CJK, EMOJI,
                 ZWJ_FAMILY, "GET /style/{id}/make", "a*b", "\u2206op", "~op",
                 "a=b", "op\r", LONG_ASCII, "\x1c"]:
        out.append(_span(name=name))
    for source in ["", " ", "h\\", "\\", " host-1 ", "h\"q", "h\nq", CJK]:
        out.append(_span(source=source))
    for tags in ([["", "v"]], [[" ", "v"]], [["k", ""]], [["k", " "]],
                 [["k", "v\\"]], [["k", "\\"]], [["k", "a\\\"b"]],
                 [["k", "\"v\""]], [["k", "a\nb"]], [["k", "a\tb"]],
                 [["\u2206k", "v"], ["~k", "v"], ["k:1", "v"]],
                 [[CJK, EMOJI], [COMBINING, ZWJ_FAMILY]],
                 [["error", "true"], ["k", " v "]]):
        out.append(_span(tags=tags))
    for _ in range(6):
        tags = []
        for _ in range(rng.randint(0, 6)):
            k = _random_strings(rng, 1, RANDOM_ALPHABET, 1, 8)[0]
            v = _random_strings(rng, 1, RANDOM_ALPHABET, 1, 12)[0]
            if k.strip() and v.strip() and k not in ("\u2206", "\u0394"):
                tags.append([k, v])
        out.append(_span(tags=tags, has_span_logs=rng.random() < 0.5))
    return out


def span_log_inputs(span_line_of):
    base_span = span_line_of(_span(has_span_logs=True))
    odd_span = span_line_of(_span(name="say \"hi\" " + CJK + EMOJI,
                                  tags=[["k", "a\nb"], [CJK, "\\x"]],
                                  has_span_logs=True))
    plain = [["event", "error"], ["message", "boom"]]
    cases = [
        {"logs": [], "span_line": base_span},
        {"logs": [{"timestamp": 1700000000123456, "fields": plain}]},
        {"logs": [{"timestamp": 1700000000123456, "fields": []}]},
        {"logs": [{"timestamp": 0, "fields": [["k", "v"]]}]},
        {"logs": [{"timestamp": 1700000000000001, "fields": [["a", "1"]]},
                  {"timestamp": 1700000000000002, "fields": [["b", "2"]]}]},
        {"logs": [{"timestamp": 1700000000000001, "fields": plain},
                  {"timestamp": 1700000000000002, "fields": []},
                  {"timestamp": 1700000000000003,
                   "fields": [["error.kind", "ValueError"],
                              ["error.object", "None"],
                              ["stack", "Traceback (most recent call last):\n"
                                        "  File \"app.py\", line 1\n"]]}]},
        {"logs": [{"timestamp": 1, "fields": [["z", "1"], ["a", "2"],
                                               ["m", "3"]]}]},
        {"logs": [{"timestamp": 1, "fields": [["msg", "é 中文 " + EMOJI]]}]},
        {"logs": [{"timestamp": 1, "fields": [["msg", ZWJ_FAMILY + RAINBOW_FLAG
                                                + COMBINING]]}]},
        {"logs": [{"timestamp": 1, "fields": [["msg", "say \"hi\""]]}]},
        {"logs": [{"timestamp": 1, "fields": [["path", "C:\\dir\\"],
                                               ["q", "\\\""]]}]},
        {"logs": [{"timestamp": 1, "fields": [["ctl", "\x00\x04\x1f\x7f"],
                                               ["ws", "a\tb\nc\rd\x0b\x0c"]]}]},
        {"logs": [{"timestamp": 1, "fields": [["sep", "\u2028\u2029\x85"],
                                               ["bom", "\ufeff"]]}]},
        {"logs": [{"timestamp": 1, "fields": [[CJK, "v"], [EMOJI, "v"],
                                               ["\"k\"", "v"], ["", "empty key"],
                                               ["empty value", ""]]}]},
        {"logs": [{"timestamp": 1, "fields": [["html", "<a href='x'>&amp;</a>"],
                                               ["slash", "a/b"]]}]},
        {"logs": [{"timestamp": 1, "fields": [["long", LONG_MIXED]]}]},
        {"logs": [{"timestamp": 1, "fields": plain}], "span_line": odd_span},
        {"logs": [{"timestamp": 1, "fields": plain}],
         "span_line": "\"op\" source=\"h\" traceId=%s spanId=%s 1 2\n"
                      % (TRACE_ID, SPAN_ID)},
        {"logs": [{"timestamp": 9007199254740993, "fields": [["k", "v"]]}]},
        {"logs": [{"timestamp": 1, "fields": [["k", "\u2206~x"]]}],
         "trace_id": UUIDS[4], "span_id": UUIDS[4]},
    ]
    out = []
    for c in cases:
        out.append({"trace_id": c.get("trace_id", TRACE_ID),
                     "span_id": c.get("span_id", SPAN_ID),
                     "logs": c["logs"],
                     "span_line": c.get("span_line", base_span)})
    return out


def delta_inputs():
    out = []
    for name in ["requests.count", "\u2206requests.count",
                 "\u0394requests.count", "~sdk.python.x", "\u2206~sdk.x",
                 "\u0394~x", "~\u2206x", "\u2206\u2206x", "x\u2206", " x",
                 " \u2206x", "a b", CJK, EMOJI, "\u2206", "\u0394", "", " ",
                 "\t", "\u2206 x", "path:id"]:
        out.append({"name": name, "value": "1.0"})
    for value in [0.0, -0.0, -1.0, 1e-300, 5e-324, 0.5, 2.0 ** 53,
                  1.7976931348623157e+308, -5e-324, float("nan"),
                  float("inf"), float("-inf")]:
        out.append({"name": "requests.count", "value": repr(value)})
    return out


# --------------------------------------------------------------------------
# calling the reference package
# --------------------------------------------------------------------------

def build_vectors():
    import uuid

    from wavefront_sdk.common import utils
    from wavefront_sdk.entities import WavefrontMetricSender
    from wavefront_sdk.entities.tracing.span_log import SpanLog

    def run(fn):
        try:
            return {"ok": fn()}
        except Exception as exc:  # pylint: disable=broad-except
            return {"error": type(exc).__name__}

    def metric(i):
        return utils.metric_to_line_data(
            i["name"], float(i["value"]), i["timestamp"], i["source"],
            dict((k, v) for k, v in i["tags"]), DEFAULT_SOURCE)

    def histogram(i):
        return utils.histogram_to_line_data(
            i["name"], [(float(m), c) for m, c in i["centroids"]],
            list(i["granularities"]), i["timestamp"], i["source"],
            dict((k, v) for k, v in i["tags"]), DEFAULT_SOURCE)

    def span(i):
        logs = ([SpanLog(1700000000000000, {"k": "v"})]
                if i["has_span_logs"] else None)
        return utils.tracing_span_to_line_data(
            i["name"], i["start_millis"], i["duration_millis"], i["source"],
            uuid.UUID(i["trace_id"]), uuid.UUID(i["span_id"]),
            [uuid.UUID(p) for p in i["parents"]],
            [uuid.UUID(f) for f in i["follows_from"]],
            [(k, v) for k, v in i["tags"]], logs, DEFAULT_SOURCE)

    def span_logs(i):
        logs = [SpanLog(l["timestamp"], dict((k, v) for k, v in l["fields"]))
                for l in i["logs"]]
        return utils.span_log_to_line_data(
            uuid.UUID(i["trace_id"]), uuid.UUID(i["span_id"]), logs,
            i["span_line"])

    class _Recorder(WavefrontMetricSender):
        """A metric sender that records what send_metric() is handed."""

        def __init__(self):
            self.sent = []

        def send_metric(self, name, value, timestamp, source, tags):
            self.sent.append(name)

    def delta(i):
        recorder = _Recorder()
        recorder.send_delta_counter(i["name"], float(i["value"]), "host-1",
                                    {"k": "v"})
        if not recorder.sent:
            return None
        assert len(recorder.sent) == 1
        return recorder.sent[0]

    def span_line_of(i):
        out = run(lambda: span(i))
        assert "ok" in out, i
        return out["ok"]

    rng = random.Random(SEED)
    files = [
        ("sanitize_name", name_inputs(rng), lambda i: utils.sanitize(i["s"])),
        ("sanitize_value", value_inputs(rng),
         lambda i: utils.sanitize_value(i["s"])),
        ("metric", metric_inputs(rng), metric),
        ("histogram", histogram_inputs(rng), histogram),
        ("span", span_inputs(rng), span),
        ("span_logs", span_log_inputs(span_line_of), span_logs),
        ("delta", delta_inputs(), delta),
    ]
    result = []
    for stem, inputs, fn in files:
        records = []
        for n, inp in enumerate(inputs, 1):
            # the functions must not see (or mutate) the recorded input
            snapshot = json.loads(json.dumps(inp))
            out = run(lambda: fn(snapshot))
            if out == {"ok": None}:
                out = {"not_sent": True}
            records.append({"id": "%s-%04d" % (stem, n), "input": inp,
                            "python": out})
        result.append((stem, records))
    return result


def merge_deviations(vectors):
    with open(DEVIATIONS, encoding="utf-8") as f:
        table = json.load(f)
    table.pop("_comment", None)
    by_id = {r["id"]: r for _, recs in vectors for r in recs}
    problems = []
    for vid, dev in table.items():
        rec = by_id.get(vid)
        if rec is None:
            problems.append("%s: no such vector" % vid)
            continue
        if dev.get("input") != rec["input"]:
            problems.append("%s: input in deviations.json does not match the "
                            "vector's input (ids shifted?)" % vid)
            continue
        if set(dev) != {"input", "rust", "why"}:
            problems.append("%s: entry needs exactly input, rust, why" % vid)
            continue
        rec["rust"] = dev["rust"]
        rec["why"] = dev["why"]
    if problems:
        sys.exit("deviations.json:\n  " + "\n  ".join(problems))


def write_vectors(vectors, outdir):
    os.makedirs(outdir, exist_ok=True)
    for stem, records in vectors:
        path = os.path.join(outdir, stem + ".jsonl")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False, sort_keys=False))
                f.write("\n")


def _listing(d):
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if n.endswith(".jsonl"))


def check(vectors):
    total = sum(len(r) for _, r in vectors)
    tmp = tempfile.mkdtemp(prefix="wf-vectors-")
    try:
        write_vectors(vectors, tmp)
        fresh, committed = _listing(tmp), _listing(VECTORS)
        bad = False
        for name in sorted(set(fresh) | set(committed)):
            if name not in committed:
                print("missing in conformance/vectors/: %s" % name)
                bad = True
                continue
            if name not in fresh:
                print("stale file in conformance/vectors/: %s" % name)
                bad = True
                continue
            with open(os.path.join(VECTORS, name), "rb") as f:
                old = f.read()
            with open(os.path.join(tmp, name), "rb") as f:
                new = f.read()
            if old == new:
                continue
            bad = True
            diff = list(difflib.unified_diff(
                old.decode("utf-8", "replace").splitlines(True),
                new.decode("utf-8", "replace").splitlines(True),
                "committed/" + name, "regenerated/" + name, n=0))
            sys.stdout.writelines(diff[:40])
            if len(diff) > 40:
                print("... (%d more diff lines)" % (len(diff) - 40))
        if bad:
            print("vectors: OUT OF DATE; run python3 conformance/generate.py")
            return 1
        print("vectors: up to date (%d vectors)" % total)
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv):
    if argv not in ([], ["--check"]):
        sys.exit("usage: generate.py [--check]")
    vectors = build_vectors()
    merge_deviations(vectors)
    if argv == ["--check"]:
        return check(vectors)
    for name in _listing(VECTORS):
        if name not in {stem + ".jsonl" for stem, _ in vectors}:
            os.remove(os.path.join(VECTORS, name))
    write_vectors(vectors, VECTORS)
    total = sum(len(r) for _, r in vectors)
    print("vectors: wrote %d vectors to %s" % (total, VECTORS))
    for stem, records in vectors:
        print("  %-15s %4d" % (stem, len(records)))
    return 0


if __name__ == "__main__":
    _bootstrap()
    sys.exit(main(sys.argv[1:]))
