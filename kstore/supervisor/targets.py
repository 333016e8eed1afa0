"""Prometheus file_sd targets for every kstore process: `<state>/prometheus/targets.json`.

One target group per process, labelled `component` (apistore, kubelet, ...) and, for
kubelets, `node`; Prometheus adds `instance` (host:port) itself. `grafana/prometheus.yml`
reads this file, so a Prometheus started from `grafana/` scrapes whatever cluster is up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kstore.config import KUBELET, ClusterConfig
from kstore.supervisor.files import write_atomic


def targets_path(state_dir: Path) -> Path:
    return state_dir / "prometheus" / "targets.json"


def target_groups(cfg: ClusterConfig) -> list[dict[str, Any]]:
    groups = []
    for process in cfg.metrics_ports:
        host = cfg.metrics_url(process).removeprefix("http://")
        if process.startswith(f"{KUBELET}-"):
            labels = {"component": KUBELET, "node": process.removeprefix(f"{KUBELET}-")}
        else:
            labels = {"component": process}
        groups.append({"targets": [host], "labels": labels})
    return groups


def write_targets(cfg: ClusterConfig) -> Path:
    """Write the targets file atomically (Prometheus re-reads it on change)."""
    path = targets_path(cfg.state_dir)
    write_atomic(path, json.dumps(target_groups(cfg), indent=1))
    return path
