"""A real kstore cluster for end-to-end tests: `kstore up` in a temp state dir, the real
kubectl (with its own cache dir) against it, and `kstore down` afterwards whatever happened."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kstore.config import read_cluster_file
from kstore.supervisor import cleanup
from tests.seed import MANIFESTS  # noqa: F401  (re-exported for the e2e tests)

KUBECTL = os.environ.get("KSTORE_TEST_KUBECTL", "kubectl")
REPO = Path(__file__).resolve().parents[2]


def kstore_cli(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "kstore"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "kstore.supervisor.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def until(what: str, cond: Callable[[], Any], timeout: float = 30.0, *, poll: float = 0.1) -> Any:
    """Poll `cond` (what a user would poll with kubectl) until it returns something truthy, and
    return that; fail with `what` after `timeout` seconds. Polling, not a sleep as synchronisation."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll)


def reconcile_passes(state_dir: Path, process: str, loop: str = "reconciler") -> float:
    """How many reconcile passes of `loop` the process (e.g. `ad-controller`, `kubelet-node-2`)
    has finished: kstore_reconcile_duration_seconds_count from its /metrics."""
    url = read_cluster_file(state_dir / "cluster.json").metrics_url(process) + "/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kstore_reconcile_duration_seconds_count" and sample.labels.get("loop") == loop:
                return sample.value
    return 0.0


def after_passes(state_dir: Path, process: str, passes: int = 5, timeout: float = 30.0) -> None:
    """Wait until the process has finished `passes` more reconcile passes than now: the way to
    let a controller act before asserting that it did nothing (not a sleep)."""
    start = reconcile_passes(state_dir, process)
    until(f"{passes} reconcile passes of {process}",
          lambda: reconcile_passes(state_dir, process) >= start + passes, timeout, poll=0.05)


class Cluster:
    def __init__(self, state_dir: Path, *, nodes: int = 3) -> None:
        self.state_dir = state_dir
        self.nodes = nodes
        self.kubeconfig = state_dir / "kubeconfig"
        self.cache_dir = state_dir.parent / "kube-cache"

    def up(self) -> None:
        r = kstore_cli("up", "--state-dir", self.state_dir, "--base-port", "0", "--nodes", str(self.nodes))
        if r.returncode != 0:
            raise RuntimeError(f"kstore up failed:\n{r.stdout}\n{r.stderr}")

    def down(self) -> None:
        kstore_cli("down", "--state-dir", self.state_dir, timeout=120)

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 60,
                check: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        return r

    def namespace(self, name: str) -> None:
        """Create a namespace from YAML (the typed `kubectl create namespace` is tested on its own)."""
        self.kubectl("apply", "-f", "-", input=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n",
                     check=True)

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json", check=True).stdout)

    def popen_kubectl(self, *args: str) -> subprocess.Popen[str]:
        cmd = [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", str(self.cache_dir), *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextlib.contextmanager
def started(c: Cluster) -> Iterator[Cluster]:
    """`kstore up` the cluster for a fixture, and `kstore down` it (and clean what a crash
    left) whatever happens; skip when there is no kubectl to drive it."""
    if shutil.which(KUBECTL) is None:
        pytest.skip("kubectl is not installed")
    try:
        c.up()
        yield c
    finally:
        c.down()
        cleanup.down(c.state_dir)
