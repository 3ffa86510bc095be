"""R4: schemathesis against /openapi.json of a running server: no 5xx, no schema breaks.

Bounded (a few examples per operation) so the suite stays fast; run it longer by hand with
``CIRCLES_SCHEMATHESIS_EXAMPLES=100``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ROOT, Server

# One worker: with two, schemathesis' own code generation sometimes crashes on Python 3.11
# ("AST constructor recursion depth mismatch"), which is not a finding about Circles.
CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
])  # fmt: skip


def test_schemathesis_finds_no_server_errors_or_schema_violations(server: Server) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "schemathesis is in the test extra: pip install -e '.[test]'"
    examples = os.environ.get("CIRCLES_SCHEMATHESIS_EXAMPLES", "4")
    done = subprocess.run(
        [binary, "run", f"{server.base}/openapi.json",
         "-H", f"Authorization: Bearer {server.key}", "--checks", CHECKS,
         "--max-examples", examples, "--phases", "examples,coverage,fuzzing",
         "--workers", "1", "--seed", "4242", "--no-color"],
        cwd=ROOT, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    summary = done.stdout[-3000:]
    assert done.returncode == 0, summary
