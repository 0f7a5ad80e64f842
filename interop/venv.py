#!/usr/bin/env python3
"""Create (or refresh) an interop virtualenv and print its interpreter's path.

Usage (from any directory):

    python3 interop/venv.py          # the reference Flask SDK
    python3 interop/venv.py otlp     # OpenTelemetry's own protobuf classes

On first use this creates ``interop/.venv`` with ``python3 -m venv`` and
installs ``interop/requirements.txt`` into it: the reference Flask SDK and the
exact dependency set of ``shared/reference/flask-captures/requirements-current.txt``.
With a name, the venv is ``interop/.venv-NAME`` and its requirements
``interop/NAME-requirements.txt`` (``otlp``: the ``opentelemetry-proto``
package, which decodes what the OTLP exporter sends).
A SHA-256 of the requirements file is kept in ``.venv/.requirements.sha256``;
when the file changes, the requirements are installed again.  The last line
written to stdout is the absolute path of the venv's ``python``; everything
else (pip's output, progress) goes to stderr.

Exit status is non-zero when the venv cannot be created or pip fails (for
example because PyPI is unreachable); the caller is expected to fail loudly.
"""

import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = sys.argv[1] if len(sys.argv) > 1 else None
VENV = os.path.join(HERE, ".venv-%s" % NAME if NAME else ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
REQUIREMENTS = os.path.join(HERE, "%s-requirements.txt" % NAME if NAME else "requirements.txt")
STAMP = os.path.join(VENV, ".requirements.sha256")


def _log(msg):
    sys.stderr.write("interop/venv.py: %s\n" % msg)
    sys.stderr.flush()


def _run(cmd):
    # pip's own output goes to stderr so that stdout carries only the path.
    result = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr)
    if result.returncode != 0:
        _log("command failed (exit %d): %s" % (result.returncode, " ".join(cmd)))
        sys.exit(result.returncode or 1)


def main():
    with open(REQUIREMENTS, "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()

    if not os.path.exists(VENV_PY):
        _log("creating %s" % VENV)
        _run([sys.executable, "-m", "venv", VENV])

    have = None
    if os.path.exists(STAMP):
        with open(STAMP) as f:
            have = f.read().strip()

    if have != want:
        _log("installing %s (this can take a few minutes the first time)" % REQUIREMENTS)
        # A partial install must not be taken for a complete one.
        if os.path.exists(STAMP):
            os.remove(STAMP)
        _run([VENV_PY, "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", "-r", REQUIREMENTS])
        with open(STAMP, "w") as f:
            f.write(want + "\n")

    sys.stdout.write(VENV_PY + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
