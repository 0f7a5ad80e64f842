#!/usr/bin/env python3
"""Where the axum layer's cost goes, in process: the harness's Wavefront
variant with parts of its work turned off, side by side with the
hand-written metrics-rs layer, in paired rounds.

Each round runs bare axum, then every configuration (in a rotated order),
then bare again; a configuration's added cost is its ns/request less the
mean of the two bare runs around it, so the machine's drift (this VM's
speed moves by half from minute to minute) falls out of each pair. Prints
a Markdown table of the medians, and, from the variant's proof line,
the SDK's threads' time on the CPU (Linux's schedstat) per request: the
part of the added cost paid off the request thread (on the same core).

Usage (from the project root; builds the harness with benches/peers/wavefront.rs):
    PEERS_VARIANT=benches/peers/wavefront.rs ../shared/bench-peers/run.sh . list
    python3 benches/decompose.py [rounds]        # 9 rounds, about 3 minutes
"""
import os
import re
import statistics
import subprocess
import sys

HARNESS = os.environ.get("PEERS_BIN", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), "peers-bench/target/release/peers-bench"))
REQUESTS = "100000"

# (label, harness variant, environment)
CONFIGS = [
    ("hand-written metrics-rs layer", "metrics-direct", {}),
    ("WavefrontLayer, spans sampled out (0 %), no RED metrics: the request path, "
     "and the 502s' spans (forced by their error) sent", "wavefront",
     {"WAVEFRONT_BENCH_SAMPLING": "0", "WAVEFRONT_BENCH_RED": "off"}),
    ("… every span sent, no RED metrics", "wavefront", {"WAVEFRONT_BENCH_RED": "off"}),
    ("… everything on (every span sent, RED metrics)", "wavefront", {}),
]


def run(variant, env):
    out = subprocess.run(
        ["taskset", "-c", "1", HARNESS, "inproc-worker", "--variant", variant,
         "--requests", REQUESTS, "--warmup", "10000"],
        capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    ns = float(re.search(r"ns_per_req=([\d.]+)", out).group(1))
    dropped = re.search(r"dropped=(\d+)", out)
    threads = {name: float(ms) for name, ms in re.findall(r"([\w-]+)=([\d.]+)ms", out)}
    return ns, int(dropped.group(1)) if dropped else 0, threads


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    added = [[] for _ in CONFIGS]
    dropped = [0] * len(CONFIGS)
    threads = [{} for _ in CONFIGS]
    bare_runs = []
    for r in range(rounds):
        order = [(r + i) % len(CONFIGS) for i in range(len(CONFIGS))]
        before = run("bare", {})[0]
        results = {i: run(CONFIGS[i][1], CONFIGS[i][2]) for i in order}
        after = run("bare", {})[0]
        bare_runs += [before, after]
        for i, (ns, lost, times) in results.items():
            added[i].append(ns - (before + after) / 2)
            dropped[i] += lost
            for name, ms in times.items():
                threads[i].setdefault(name, []).append(ms)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    reference = statistics.quantiles(added[0], n=4)[1]
    print(f"bare axum: median {statistics.median(bare_runs):,.0f} ns/request "
          f"({min(bare_runs):,.0f}..{max(bare_runs):,.0f}); {rounds} paired rounds of "
          f"{int(REQUESTS):,} requests\n")
    print("| configuration | added ns/request (median) | quartiles | × metrics-rs layer | spans dropped |")
    print("|---|---:|---:|---:|---:|")
    for (label, _, _), values, lost in zip(CONFIGS, added, dropped):
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"| {label} | +{median:,.0f} | {q1:,.0f}..{q3:,.0f} "
              f"| {median / reference:.2f} | {lost} |")
    # Time the SDK's threads ran, per request of the run (warm-up included).
    per_request = lambda ms: statistics.median(ms) * 1e6 / (int(REQUESTS) + 10_000)
    sdk = ["wavefront-repor", "wavefront-proxy", "proxy-stand-in"]
    print("\n| configuration | reporter thread | sender's worker | proxy stand-in (its reads) |")
    print("|---|---:|---:|---:|")
    for (label, variant, _), times in zip(CONFIGS, threads):
        if variant.startswith("wavefront"):
            cells = " | ".join(f"{per_request(times[t]):,.0f} ns" if t in times else "–" for t in sdk)
            print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
