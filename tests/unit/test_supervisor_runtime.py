"""`kstore.runtime.run`, the main every supervised process runs: readiness, metrics, signals,
exit codes, log lines. Each test runs a tiny component as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kstore.config import load_config
from kstore.supervisor.cluster import STATE_ENV, write_cluster_file

COMPONENT = r'''
import asyncio, sys
from pathlib import Path
from kstore.runtime import run

mode, marker = sys.argv[1], Path(sys.argv[2])

async def body(rt):
    marker.write_text(f"started {rt.process_name}")
    try:
        rt.set_ready(False, "warming up caches")
        await asyncio.sleep(0.5)
        if mode == "crash":
            raise RuntimeError("informer died")
        rt.set_ready()
        await asyncio.Event().wait()
    finally:
        marker.write_text("cleaned up")
        if mode == "stuck":  # a shutdown that hangs
            marker.write_text("stuck")
            await asyncio.sleep(60)

component = "kubelet" if mode == "kubelet" else "scheduler"
run(component, body, sys.argv[3:])
'''


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read().decode()


def poll(url: str, want: int, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, _, body = get(url)
            if status == want:
                return body
            last = (status, body)
        except OSError as e:
            last = e
        time.sleep(0.02)
    raise AssertionError(f"{url} never answered {want} (last: {last})")


@pytest.fixture
def cluster(state_dir: Path):
    cfg = load_config(None, state_dir=state_dir, base_port=0, nodes=1)
    write_cluster_file(cfg)
    (state_dir / "component.py").write_text(COMPONENT)
    return cfg


@pytest.fixture
def start(cluster) -> Iterator[Callable[..., subprocess.Popen]]:
    """start(mode, *args): run the component; killed at teardown whatever happened."""
    procs: list[subprocess.Popen] = []

    def _start(mode: str, *extra: str) -> subprocess.Popen:
        sd = cluster.state_dir
        procs.append(subprocess.Popen(
            [sys.executable, str(sd / "component.py"), mode, str(sd / "marker"), "--cluster", str(cluster.cluster_file),
             *extra],
            stderr=subprocess.PIPE, text=True, env={**os.environ, STATE_ENV: str(sd)},
        ))
        return procs[-1]

    yield _start
    for proc in procs:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_ready_metrics_then_signal_exits_0(cluster, start, sig: int) -> None:
    proc = start("ok")
    base = cluster.metrics_url("scheduler")
    assert poll(f"{base}/readyz", 503) == "warming up caches"
    assert poll(f"{base}/healthz", 200) == "ok"
    assert poll(f"{base}/readyz", 200) == "ok"
    status, ctype, text = get(f"{base}/metrics")
    assert status == 200 and ctype.startswith("text/plain") and "version=" in ctype
    assert "process_cpu_seconds_total" in text
    proc.send_signal(sig)
    assert proc.wait(10) == 0
    assert (cluster.state_dir / "marker").read_text() == "cleaned up"  # the body's finally ran
    assert "scheduler kstore.runtime: stopping" in proc.stderr.read()


def test_crash_in_body_logs_traceback_and_exits_1(cluster, start) -> None:
    proc = start("crash")
    assert proc.wait(10) == 1
    err = proc.stderr.read()
    assert "ERROR scheduler kstore.runtime: scheduler crashed" in err
    assert "RuntimeError: informer died" in err and "Traceback" in err
    assert (cluster.state_dir / "marker").read_text() == "cleaned up"


def test_kubelet_is_named_after_its_node(cluster, start) -> None:
    proc = start("kubelet", "--node", "node-1")
    assert poll(f"{cluster.metrics_url('kubelet-node-1')}/readyz", 200) == "ok"
    assert (cluster.state_dir / "marker").read_text() == "started kubelet-node-1"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert "INFO kubelet node-1 kstore.runtime: started" in proc.stderr.read()


def test_unknown_node_and_missing_cluster_file_exit_1(cluster, start) -> None:
    proc = start("kubelet", "--node", "node-9")
    assert proc.wait(10) == 1
    assert "kubelet-node-9 is not in" in proc.stderr.read()
    proc = subprocess.run([sys.executable, str(cluster.state_dir / "component.py"), "ok", "/dev/null",
                           "--cluster", str(cluster.state_dir / "nope.json")], capture_output=True, text=True, timeout=10)
    assert proc.returncode == 1
    assert "nope.json: cannot read it" in proc.stderr


def test_port_in_use_exits_1(cluster, start) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", cluster.metrics_ports["scheduler"]))
        s.listen()
        proc = start("ok")
        assert proc.wait(10) == 1
        assert "address already in use" in proc.stderr.read().lower()


def test_second_signal_forces_exit(cluster, start) -> None:
    proc = start("stuck")
    poll(f"{cluster.metrics_url('scheduler')}/readyz", 200)
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while (cluster.state_dir / "marker").read_text() != "stuck":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert proc.poll() is None  # shutdown hangs ...
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 130  # ... until the second signal
