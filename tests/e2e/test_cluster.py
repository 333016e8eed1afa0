"""The whole thing, as a user runs it: `kstore up` → `kstore status` → kill -9 of a kubelet →
the supervisor restarts it → `kstore down` leaves no process behind."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

EXPECTED = ["apistore", "pv-controller", "ad-controller", "scheduler", "controller-manager",
            "kubelet-node-1", "kubelet-node-2", "kubelet-node-3"]
LAUNCHERS = {"apistore": "cmd/apistore.py", "pv-controller": "cmd/pv-controller.py",
             "ad-controller": "cmd/ad-controller.py", "scheduler": "cmd/scheduler.py",
             "controller-manager": "cmd/controller-manager.py"}


def kstore(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "kstore"  # the installed entry point
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "kstore.supervisor.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@dataclasses.dataclass(frozen=True)
class Row:
    pid: int | None
    ready: bool
    restarts: int
    metrics: int


def status(state: Path) -> dict[str, Row]:
    """`kstore status`'s table, parsed."""
    r = kstore("status", "--state-dir", state)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PID", "READY", "RESTARTS", "METRICS"]
    rows = {}
    for line in lines[1:]:
        if line.startswith("supervisor:"):
            break
        name, pid, ready, restarts, metrics = line.split()
        rows[name] = Row(None if pid == "-" else int(pid), ready == "yes", int(restarts), int(metrics))
    return rows


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def processes_naming(path: Path) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and str(path) in " ".join(args := cmdline(int(entry))):
            found.append(f"{entry}: {' '.join(args)}")
    return found


def test_up_status_kill_restart_down(state_dir: Path) -> None:
    up = kstore("up", "--state-dir", state_dir, "--base-port", "0", "--nodes", "3", timeout=180)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "kstore is up: 8 processes ready" in up.stdout
    assert str(state_dir / "prometheus" / "targets.json") in up.stdout

    rows = status(state_dir)
    assert list(rows) == EXPECTED
    assert all(r.ready and r.restarts == 0 and r.pid for r in rows.values()), rows
    assert len({r.pid for r in rows.values()}) == 8
    # each process is its own OS process, and its command line says which one it is
    for name, row in rows.items():
        args = " ".join(cmdline(row.pid))
        if name.startswith("kubelet-"):
            assert "cmd/kubelet.py" in args and f"--node {name.removeprefix('kubelet-')}" in args, args
        else:
            assert LAUNCHERS[name] in args, args
        with urllib.request.urlopen(f"http://127.0.0.1:{row.metrics}/metrics", timeout=5) as resp:
            assert resp.status == 200
        assert (state_dir / "logs" / f"{name}.log").exists()
    targets = json.loads((state_dir / "prometheus" / "targets.json").read_text())
    assert sorted(t["targets"][0] for t in targets) == sorted(f"127.0.0.1:{r.metrics}" for r in rows.values())

    again = kstore("up", "--state-dir", state_dir, "--base-port", "0")
    assert again.returncode == 1 and "already running" in again.stderr

    # kill -9 one kubelet: the supervisor starts a new one, and nothing else moves
    old = rows["kubelet-node-2"].pid
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = status(state_dir)
        k = now["kubelet-node-2"]
        if k.ready and k.restarts == 1 and k.pid not in (None, old):
            break
        assert time.monotonic() < deadline, f"kubelet-node-2 not restarted: {k}"
        time.sleep(0.2)
    assert k.pid is not None and "--node node-2" in " ".join(cmdline(k.pid))
    assert {n: (r.pid, r.restarts) for n, r in now.items() if n != "kubelet-node-2"} == \
        {n: (r.pid, 0) for n, r in rows.items() if n != "kubelet-node-2"}

    down = kstore("down", "--state-dir", state_dir, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not state_dir.exists()
    assert processes_naming(state_dir) == []
    assert all(not Path(f"/proc/{r.pid}").exists() for r in [*rows.values(), k])
    assert kstore("status", "--state-dir", state_dir).returncode == 1
