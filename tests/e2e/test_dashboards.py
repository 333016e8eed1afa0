"""Every metric the Grafana dashboard queries is exposed by the processes of a running cluster,
with the labels the queries group by, once the cluster has done some storage work."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.cluster import REPO, Cluster

DASHBOARDS = REPO / "grafana" / "dashboards"
# Names in PromQL: identifiers that are not functions, keywords or label names.
_NOT_METRICS = {"histogram_quantile", "sum", "rate", "by", "le", "without", "irate", "increase", "avg", "max", "min"}


def queried_metrics(path: Path) -> dict[str, set[str]]:
    """metric name (as exposed, e.g. `..._bucket`) → labels the queries use with it."""
    wanted: dict[str, set[str]] = {}
    for panel in json.loads(path.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            groups = set(re.findall(r"by \(([^)]*)\)", expr))
            labels = {lb.strip() for g in groups for lb in g.split(",")} - {"le"}
            for name in re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s*[\[{)])", expr):
                if name not in _NOT_METRICS and name not in labels:
                    wanted.setdefault(name, set()).update(labels)
    return wanted


def scrape_all(cluster: Cluster) -> dict[str, set[str]]:
    cfg = json.loads((cluster.state_dir / "cluster.json").read_text())
    exposed: dict[str, set[str]] = {}
    for port in cfg["metrics_ports"].values():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for family in text_string_to_metric_families(r.read().decode()):
                for sample in family.samples:
                    exposed.setdefault(sample.name, set()).update(sample.labels)
    return exposed


def test_dashboard_queries_find_their_metrics(cluster: Cluster) -> None:
    cluster.namespace("dash")
    cluster.kubectl("apply", "-n", "dash", "-f", "-", check=True, input=(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"))
    deadline = time.monotonic() + 30
    while cluster.get_json("pvc", "d", "-n", "dash")["status"].get("phase") != "Bound":
        assert time.monotonic() < deadline, "claim not Bound"
        time.sleep(0.1)  # polling as a user would
    exposed = scrape_all(cluster)
    missing = []
    for board in sorted(DASHBOARDS.glob("*.json")):
        for name, labels in queried_metrics(board).items():
            if name not in exposed:
                missing.append(f"{board.name}: {name} is not exposed by any process")
            elif not labels <= exposed[name]:
                missing.append(f"{board.name}: {name} lacks labels {sorted(labels - exposed[name])}")
    assert not missing, "\n".join(missing)
