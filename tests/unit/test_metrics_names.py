"""The exposition text is what Prometheus, promtool and dashboards see: check it, not the objects.

Every shared metric is exercised once, the default REGISTRY is rendered as Prometheus text
and parsed back with prometheus_client's own parser; the test then asserts each metric's
name, type and label names (DESIGN §6), and lints every family exposed the way
`promtool check metrics` does.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kstore.client.clock import FakeClock
from kstore.client.workqueue import WorkQueue
from kstore.observe import metrics
from kstore.observe.metrics import (
    E2E_LATENCY,
    E2E_STAGES,
    EVENT_DROP_CAUSES,
    EVENTS_DROPPED,
    RECONCILE_DURATION,
    plugin_label,
    time_operation,
)

# (family name as parsed, type, label names without `le`)
EXPECTED = [
    (
        "storage_operation_duration_seconds",
        "histogram",
        {"volume_plugin", "operation_name", "status", "migrated"},
    ),
    ("kstore_reconcile_duration_seconds", "histogram", {"component", "loop"}),
    ("kstore_e2e_latency_seconds", "histogram", {"stage"}),
    ("workqueue_depth", "gauge", {"name"}),
    ("workqueue_adds", "counter", {"name"}),
    ("workqueue_queue_duration_seconds", "histogram", {"name"}),
    ("workqueue_work_duration_seconds", "histogram", {"name"}),
    ("workqueue_retries", "counter", {"name"}),
    ("workqueue_unfinished_work_seconds", "gauge", {"name"}),
    ("workqueue_longest_running_processor_seconds", "gauge", {"name"}),
    ("kstore_events_dropped", "counter", {"cause"}),
]

SNAKE = re.compile(r"^[a-z_][a-z0-9_]*$")
# Non-base units promtool objects to (it wants seconds and bytes).
NON_BASE_UNITS = re.compile(r"_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|us|ns|"
                            r"kilobytes|megabytes|gigabytes|kb|mb|gb)(_|$)")  # fmt: skip


async def exercise_everything() -> None:
    with time_operation("ebs.csi.aws.com", "volume_attach"):
        pass
    async with time_operation("kubernetes.io/host-path", "volume_provision"):
        pass
    RECONCILE_DURATION.labels("kube-controller-manager", "attachdetach").observe(0.002)
    for stage in E2E_STAGES:
        E2E_LATENCY.labels(stage).observe(1.5)
    for cause in EVENT_DROP_CAUSES:
        EVENTS_DROPPED.labels(cause).inc(0)
    q: WorkQueue[str] = WorkQueue("metrics-names", clock=FakeClock())
    q.add("a")
    q.done(await asyncio.wait_for(q.get(), timeout=1))
    q.add_after("b", 1.0)
    q.shut_down()


def exposition() -> str:
    return generate_latest(REGISTRY).decode()


async def test_shared_metrics_have_design_names_types_and_labels() -> None:
    await exercise_everything()
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    for name, mtype, labels in EXPECTED:
        assert name in families, f"{name} not exposed"
        family = families[name]
        assert family.type == mtype, name
        assert family.samples, f"{name} has no samples"
        for s in family.samples:
            assert set(s.labels) - {"le"} == labels, (name, s.labels)


async def test_every_exposed_family_passes_promtool_style_lint() -> None:
    await exercise_everything()
    text = exposition()
    problems = []
    for family in text_string_to_metric_families(text):
        name = family.name
        if not family.documentation.strip():
            problems.append(f"{name}: no HELP text")
        if not SNAKE.match(name):
            problems.append(f"{name}: not snake_case")
        if NON_BASE_UNITS.search(name):
            problems.append(f"{name}: use base units (seconds, bytes)")
        if family.type == "counter":
            bad = [s.name for s in family.samples if not s.name.endswith("_total")]
            if bad:
                problems.append(f"{name}: counter samples without _total: {bad}")
        elif name.endswith("_total"):
            problems.append(f"{name}: only counters end in _total")
        if family.type == "histogram":
            suffixes = {s.name.removeprefix(name) for s in family.samples}
            if not suffixes <= {"_bucket", "_sum", "_count"}:
                problems.append(f"{name}: unexpected histogram samples {suffixes}")
        for s in family.samples:
            for label in s.labels:
                if not SNAKE.match(label) or label.startswith("__"):
                    problems.append(f"{name}: bad label name {label}")
            if s.name.endswith("_created"):
                problems.append(f"{name}: exposes {s.name}; Kubernetes has no _created series")
    assert problems == []
    # The raw text names counters with their suffix, as Kubernetes does.
    assert "# TYPE workqueue_adds_total counter" in text
    assert "# TYPE kstore_events_dropped_total counter" in text


def test_time_durations_are_in_seconds() -> None:
    for name, mtype, _ in EXPECTED:
        if mtype == "histogram":
            assert name.endswith("_seconds"), name


def test_storage_operation_buckets() -> None:
    kubernetes = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600]
    finer = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05]
    assert list(metrics.STORAGE_OPERATION_BUCKETS) == finer + kubernetes
    assert list(metrics.WORKQUEUE_BUCKETS) == [10.0**e for e in range(-8, 2)]


@pytest.mark.parametrize(
    ("driver", "label"),
    [
        ("ebs.csi.aws.com", "kubernetes.io/csi:ebs.csi.aws.com"),
        ("hostpath.csi.k8s.io", "kubernetes.io/csi:hostpath.csi.k8s.io"),
        ("kubernetes.io/host-path", "kubernetes.io/host-path"),
        ("kubernetes.io/csi:ebs.csi.aws.com", "kubernetes.io/csi:ebs.csi.aws.com"),
    ],
)
def test_plugin_label(driver: str, label: str) -> None:
    assert plugin_label(driver) == label
    assert plugin_label(label) == label  # idempotent


def test_plugin_label_rejects_empty() -> None:
    with pytest.raises(ValueError, match="driver name is empty"):
        plugin_label("")


def op_sample(suffix: str, plugin: str, operation: str, status: str, **extra: str) -> float:
    labels = {
        "volume_plugin": plugin,
        "operation_name": operation,
        "status": status,
        "migrated": "false",
        **extra,
    }
    return REGISTRY.get_sample_value("storage_operation_duration_seconds" + suffix, labels) or 0.0


class Boom(Exception):
    pass


async def test_time_operation_statuses_and_durations() -> None:
    clock = FakeClock()
    plugin = "kubernetes.io/csi:timing.test"

    with time_operation("timing.test", "volume_mount", clock=clock):
        clock.advance(0.25)
    assert op_sample("_sum", plugin, "volume_mount", "success") == 0.25
    assert op_sample("_count", plugin, "volume_mount", "success") == 1

    with pytest.raises(Boom), time_operation("timing.test", "volume_mount", clock=clock):
        clock.advance(2.0)
        raise Boom
    assert op_sample("_sum", plugin, "volume_mount", "fail-unknown") == 2.0

    async with time_operation("timing.test", "volume_mount", clock=clock) as op:
        clock.advance(1.0)
        op.mark_failed()
    assert op_sample("_count", plugin, "volume_mount", "fail-unknown") == 2
    assert op_sample("_sum", plugin, "volume_mount", "fail-unknown") == 3.0

    # Cancelled: neither success nor failure, not observed.
    async def cancelled() -> None:
        async with time_operation("timing.test", "volume_unmount", clock=clock):
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await cancelled()
    assert op_sample("_count", plugin, "volume_unmount", "success") == 0
    assert op_sample("_count", plugin, "volume_unmount", "fail-unknown") == 0

    buckets = {
        le: op_sample("_bucket", plugin, "volume_mount", "success", le=le) for le in ("0.1", "0.25", "0.5")
    }
    assert buckets == {"0.1": 0.0, "0.25": 1.0, "0.5": 1.0}
