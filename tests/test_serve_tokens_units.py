"""Specification: ``yishi serve --tokens FILE`` reads units and auditor over a real socket.

One real server on 127.0.0.1 with a token file holding a village secretary, the
neighbouring village's secretary, a town auditor and an admin: the village's
case is theirs to act on, invisible to the neighbour (403, logged in the server's
log without the token), readable and not writable by the auditor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from server_support import DATA, PROCEDURE_PATH, YISHI, free_port, wait_healthy

from engine.server import token_hash

VILLAGE = "柳河县/城关镇/柳树村"
TOKENS = {
    "village": ("village-token-0123456789", "柳树村书记", "roles: [branch_secretary]", VILLAGE),
    "neighbour": ("neighbour-token-012345678", "王庄村书记", "roles: [branch_secretary]",
                  "柳河县/城关镇/王庄村"),
    "auditor": ("auditor-token-0123456789", "镇审计", "auditor: true", "柳河县/城关镇"),
}  # fmt: skip
ADMIN = "admin-token-0123456789ab"


def _token_file(directory: Path) -> Path:
    lines = ["tokens:", f"  - {{actor: ops, admin: true, sha256: {token_hash(ADMIN)}}}"]
    for token, actor, grant, unit in TOKENS.values():
        lines.append(
            f"  - {{actor: {actor}, {grant}, units: [{unit}], sha256: {token_hash(token)}}}"
        )
    path = directory / "tokens.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _call(url: str, token: str, body: Any = None, content_type: str = "application/json") -> Any:
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - a URL on 127.0.0.1 built by the test
        url, data=data, method="POST" if data is not None else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_reads_units_and_auditor_from_the_token_file(tmp_path: Path) -> None:
    """serve --tokens: units limit a token to its village, an auditor reads and cannot fire."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(YISHI), "serve", "--db", f"sqlite:///{tmp_path / 'y.db'}", "--host", "127.0.0.1",
             "--port", str(port), "--tokens", str(_token_file(tmp_path))],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        wait_healthy(url, process)
        village, neighbour, auditor = (TOKENS[k][0] for k in ("village", "neighbour", "auditor"))
        status, body = _call(
            f"{url}/procedures", ADMIN, PROCEDURE_PATH.read_bytes(), "application/yaml"
        )
        assert status == 201, body
        sha = json.loads(body)["sha256"]

        opened = _call(f"{url}/cases", village, {"id": "c-1", "procedure": sha, "data": DATA})
        mine = _call(f"{url}/cases/c-1", village)
        theirs = _call(f"{url}/cases/c-1", neighbour)
        audited = _call(f"{url}/cases/c-1/audit", auditor)
        fired = _call(f"{url}/cases/c-1/events", auditor, {"event": "propose", "payload": {}})
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    assert opened[0] == 201, opened[1]
    assert mine[0] == 200 and json.loads(mine[1])["unit"] == VILLAGE
    assert theirs[0] == 403 and json.loads(theirs[1])["code"] == "forbidden"
    assert audited[0] == 200 and audited[1].count(b"\n") == 1
    assert fired[0] == 403
    log = log_path.read_text(encoding="utf-8", errors="replace")
    assert "forbidden: GET /cases/c-1 actor=王庄村书记" in log
    assert "forbidden: POST /cases/c-1/events actor=镇审计" in log
    assert all(token not in log for token, *_ in TOKENS.values())
