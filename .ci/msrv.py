#!/usr/bin/env python3
"""The MSRV check: every workspace package declares a rust-version at least
as high as what its dependencies (normal and build, transitively) declare.

CI cannot download older toolchains here, so this checks the declarations
cargo would enforce on a user's older compiler: a package whose dependency
needs Rust 1.89 cannot itself claim 1.85.
"""
import json
import subprocess
import sys


def version(v):
    return tuple(int(x) for x in (v or "0").split(".")[:3])


meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"]))
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}


def needs(pid, seen):
    """The highest rust-version among pid's normal/build dependencies."""
    best = ("0", None)
    for dep in nodes[pid]["deps"]:
        kinds = {k["kind"] for k in dep["dep_kinds"]}
        if kinds <= {"dev"}:
            continue
        did = dep["pkg"]
        if did in seen:
            continue
        seen.add(did)
        own = packages[did].get("rust_version") or "0"
        if version(own) > version(best[0]):
            best = (own, packages[did]["name"])
        deeper = needs(did, seen)
        if version(deeper[0]) > version(best[0]):
            best = deeper
    return best


failures = 0
for member in meta["workspace_members"]:
    package = packages[member]
    declared = package.get("rust_version")
    if package.get("publish") == []:
        continue  # examples, benches and suites are not published
    required, by = needs(member, set())
    status = "ok"
    if declared is None or version(required) > version(declared):
        status = "FAILS"
        failures += 1
    print(f"{package['name']:<22} declares {declared}, needs {required} ({by}): {status}")
sys.exit(1 if failures else 0)
