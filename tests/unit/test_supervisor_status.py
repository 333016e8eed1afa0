"""The status file, the supervisor lock, `kstore status`'s table, the Prometheus targets, and
the process specs of a cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kstore.config import load_config
from kstore.supervisor.cluster import build_specs
from kstore.supervisor.status import (
    AlreadyRunning,
    format_table,
    live_supervisor,
    not_ready_report,
    read_status,
    take_lock,
    write_status,
)
from kstore.supervisor.targets import targets_path, write_targets

SNAPSHOT = {
    "supervisor": {"pid": 10, "state": "starting"},
    "processes": [
        {"name": "apistore", "pid": 11, "ready": True, "restarts": 0, "metrics_port": 17410, "state": "running"},
        {"name": "kubelet-node-2", "pid": None, "ready": False, "restarts": 3, "metrics_port": 17421,
         "state": "backoff", "reason": "exited with 1", "log_path": "/s/logs/kubelet-node-2.log",
         "last_log_lines": ["Traceback (most recent call last):", "RuntimeError: boom"]},
    ],
}


def test_table_and_not_ready_report() -> None:
    assert format_table(SNAPSHOT).splitlines() == [
        "NAME            PID  READY  RESTARTS  METRICS",
        "apistore        11   yes    0         17410",
        "kubelet-node-2  -    no     3         17421",
    ]
    report = not_ready_report(SNAPSHOT)
    assert report.startswith("kubelet-node-2: not ready (backoff: exited with 1); log: /s/logs/kubelet-node-2.log")
    assert "    RuntimeError: boom" in report and "apistore" not in report


def test_status_file_round_trip(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    write_status(tmp_path, SNAPSHOT)
    assert read_status(tmp_path) == SNAPSHOT
    assert [p.name for p in tmp_path.iterdir()] == ["supervisor.json"]  # no tmp file left behind


def test_lock_tells_whether_a_supervisor_runs(tmp_path: Path) -> None:
    assert live_supervisor(tmp_path) is None
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from kstore.supervisor.status import take_lock; "
         "lock = take_lock(Path(sys.argv[1])); print('locked', flush=True); time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert live_supervisor(tmp_path) == holder.pid
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid}"):
            take_lock(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert live_supervisor(tmp_path) is None  # the lock died with its process
    take_lock(tmp_path).close()


def test_specs_and_targets(tmp_path: Path) -> None:
    cfg = load_config(None, state_dir=tmp_path, base_port=20000, nodes=2)
    specs = build_specs(cfg)
    assert [s.name for s in specs] == ["apistore", "pv-controller", "ad-controller", "scheduler",
                                       "controller-manager", "kubelet-node-1", "kubelet-node-2"]
    kubelet = specs[-1]
    assert kubelet.argv[1:] == (str(Path(__file__).resolve().parents[2] / "cmd" / "kubelet.py"),
                                "--cluster", str(tmp_path / "cluster.json"), "--node", "node-2")
    assert kubelet.ready_url == "http://127.0.0.1:20021/readyz" and kubelet.metrics_port == 20021
    assert kubelet.log_path == tmp_path / "logs" / "kubelet-node-2.log"
    assert specs[0].depends_on == () and all(s.depends_on == ("apistore",) for s in specs[1:])
    assert all(Path(s.argv[1]).exists() for s in specs)  # every launcher is there

    write_targets(cfg)
    groups = json.loads(targets_path(tmp_path).read_text())
    assert groups[0] == {"targets": ["127.0.0.1:20010"], "labels": {"component": "apistore"}}
    assert groups[-1] == {"targets": ["127.0.0.1:20021"], "labels": {"component": "kubelet", "node": "node-2"}}
    assert len(groups) == 7
