"""`kstore` refuses what it cannot do, before it starts anything, and says why."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from kstore.config import free_ports


def kstore(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kstore.supervisor.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def test_bad_config_exits_2_naming_the_key(state_dir: Path) -> None:
    (state_dir / "bad.yaml").write_text("nodes: {count: -1}\n")
    r = kstore("up", "--config", state_dir / "bad.yaml", "--state-dir", state_dir)
    assert r.returncode == 2
    assert "bad config: nodes.count: invalid value -1" in r.stderr
    assert not (state_dir / "supervisor.json").exists()


def test_busy_port_is_refused_before_starting(state_dir: Path) -> None:
    base = free_ports(1)[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", base))
        s.listen()
        r = kstore("up", "--state-dir", state_dir, "--base-port", base)
    assert r.returncode == 1
    assert "ports in use" in r.stderr and f"bus rpc: 127.0.0.1:{base}" in r.stderr
    assert not (state_dir / "logs" / "supervisor.log").exists()


def test_status_and_down_without_a_cluster(state_dir: Path) -> None:
    r = kstore("status", "--state-dir", state_dir)
    assert r.returncode == 1 and "no cluster in" in r.stderr
    r = kstore("down", "--state-dir", state_dir / "never-made")
    assert r.returncode == 0 and "nothing to do" in r.stdout
