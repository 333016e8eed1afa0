"""The scheduler's metrics as Prometheus sees them: Kubernetes' names, types and labels."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kstore.client.clock import FakeClock
from kstore.scheduler import metrics
from kstore.scheduler.assume import AssumeCache
from kstore.scheduler.queue import SchedulingQueue
from kstore.scheduler.testing import make_pvc

EXPECTED = {
    "scheduler_scheduling_attempt_duration_seconds": ("histogram", {"result", "profile"}),
    "scheduler_schedule_attempts": ("counter", {"result", "profile"}),
    "scheduler_pending_pods": ("gauge", {"queue"}),
    "scheduler_volume_binder_cache_requests": ("counter", {"operation"}),
    "scheduler_volume_scheduling_stage_error": ("counter", {"operation"}),
}


def test_names_types_and_labels() -> None:
    metrics.SCHEDULING_ATTEMPT_DURATION.labels("scheduled", "default-scheduler").observe(0.01)
    metrics.SCHEDULE_ATTEMPTS.labels("unschedulable", "default-scheduler").inc()
    metrics.VOLUME_SCHEDULING_STAGE_ERRORS.labels("bind").inc()
    SchedulingQueue(clock=FakeClock())
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(REGISTRY).decode())}
    for name, (kind, labels) in EXPECTED.items():
        family = families[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    queues = {s.labels["queue"] for s in families["scheduler_pending_pods"].samples}
    assert queues == {"active", "backoff", "unschedulable", "gated"}


def test_binder_cache_counts_add_update_delete() -> None:
    def value(op: str) -> float:
        return REGISTRY.get_sample_value("scheduler_volume_binder_cache_requests_total", {"operation": op}) or 0.0

    before = {op: value(op) for op in ("add", "update", "delete")}
    cache = AssumeCache("PersistentVolumeClaim", lambda o: f"{o['metadata']['namespace']}/{o['metadata']['name']}")
    cache.put(make_pvc("a"))
    cache.put(make_pvc("b"))
    cache.assume(make_pvc("a", selected_node="n1"))
    cache.assume(make_pvc("b", selected_node="n1"))
    cache.restore("testns/a")  # the binding did not happen
    cache.put(make_pvc("b", selected_node="n1", rv="2"))  # the store caught up
    assert {op: value(op) - before[op] for op in before} == {"add": 2, "update": 1, "delete": 1}
