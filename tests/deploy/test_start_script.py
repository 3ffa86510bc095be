"""The documented way to start the Procfile on PostgreSQL: scripts/run-postgres.sh."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from projections.store import StoreSettings
from tests.deploy.conftest import ROOT, deploy_env, free_port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_script_starts_two_web_processes_and_the_worker_and_stops_them(
    pg_schema: StoreSettings, tmp_path: Path
) -> None:
    env = {**deploy_env(pg_schema), "CIRCLES_RUN_DIR": str(tmp_path)}
    ports = [free_port(), free_port()]
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "run-postgres.sh"), *map(str, ports)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        pending = list(ports)
        while pending:
            assert script.poll() is None and time.monotonic() < deadline, "did not start"
            try:
                url = f"http://127.0.0.1:{pending[0]}/healthz/projections"
                with urllib.request.urlopen(url, timeout=1) as reply:
                    assert b'"mode": "worker"' in reply.read()
                pending.pop(0)
            except OSError:
                time.sleep(0.1)
        pids = {n: int((tmp_path / f"{n}.pid").read_text()) for n in ("web1", "web2", "worker")}
        assert all(_pid_alive(pid) for pid in pids.values())

        script.send_signal(signal.SIGTERM)
        script.wait(timeout=30)
        time.sleep(0.2)
        assert not [n for n, pid in pids.items() if _pid_alive(pid)]
        assert not list(tmp_path.glob("*.pid"))
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait()
