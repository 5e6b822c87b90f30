"""Specification: both examples in ``docs/embedding.md`` run exactly as written.

The ``python`` blocks run as one program; the ``sh`` blocks run as one bash
script that starts a real ``yishi serve`` (on a free port of 127.0.0.1 in place
of 8000), registers the bundled procedures with curl, runs a case and fetches
a verifying audit. Both run in a scratch directory holding a copy of
``procedures/``, with the installed ``yishi`` first on ``PATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from server_support import free_port

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "embedding.md"
BIN = Path(sys.executable).parent
BASH = shutil.which("bash") or "/bin/bash"


def blocks(language: str) -> list[str]:
    """The fenced code blocks of ``docs/embedding.md`` in ``language``, in order."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def scratch(tmp_path: Path) -> Path:
    """A working directory with the bundled procedures, as the repository root has them."""
    shutil.copytree(ROOT / "procedures", tmp_path / "procedures")
    return tmp_path


def environment() -> dict[str, str]:
    """The environment with the installed ``yishi`` (and its python3) first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_the_python_example_runs_and_its_audit_verifies(tmp_path: Path) -> None:
    """Load, open, fire, a refusal, a conflict, a key mismatch, explain, records, verify: exit 0."""
    code = "\n".join(blocks("python"))
    assert code.count("engine.fire(") >= 5
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=scratch(tmp_path), env=environment(),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "not-authorised - 李主任 holds village_director" in out
    assert "conflict: case '2024-001' is at seq 4, not 3" in out
    assert "mismatch: idempotency key 'propose-1'" in out
    assert "guard:" in out
    assert out.rstrip().endswith("ok: 4 records in 1 cases")


def test_the_curl_example_runs_a_case_over_http_to_a_verifying_audit(tmp_path: Path) -> None:
    """Serve, register, open, fire as four tokens (one refusal), fetch and verify the audit."""
    script = "\n".join(blocks("sh"))
    assert "--port 8000" in script and "curl" in script
    port = free_port()
    script = script.replace("8000", str(port))
    where = scratch(tmp_path)
    done = subprocess.run(
        [BASH, "-c", script], cwd=where, env=environment(),
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    log = (
        (where / "server.log").read_text(encoding="utf-8")
        if (where / "server.log").exists()
        else ""
    )
    assert done.returncode == 0, done.stdout + done.stderr + log
    out = done.stdout
    assert '"registered":true' in out
    assert out.count(" -> 200") == 5 and out.count(" -> 422") == 1
    assert '"code":"not-authorised"' in out
    assert 'etag: "7"' in out.lower()
    assert "ok: 7 records in 1 cases" in out
    assert '"ok":true' in out
    tokens = (where / "tokens.yaml").read_text(encoding="utf-8")
    assert "sha256:" in tokens and "token:" not in tokens
