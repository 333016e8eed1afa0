"""The attach/detach controller's metrics as Prometheus sees them: names, types, labels, values
computed from the caches at scrape time, and the forced-detach counter's exposition."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kstore.client.clock import FakeClock
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, DesiredStateOfWorld
from kstore.controllers.attachdetach.metrics import AttachDetachCollector, record_forced_detach
from kstore.controllers.attachdetach.testing import RWX, volume
from kstore.controllers.attachdetach.volumes import NodeName, PodRef, PodUID

N1, N2 = NodeName("node-1"), NodeName("node-2")
LABEL = "kubernetes.io/csi:kstore.io.block"


def test_total_volumes_and_volumes_in_use() -> None:
    dsw, asw = DesiredStateOfWorld(), ActualStateOfWorld(clock=FakeClock())
    v1, shared = volume("pv-1"), volume("pv-rwx", modes=(RWX,))
    for n in (N1, N2):
        dsw.add_node(n)
    dsw.add_pod(PodRef(PodUID("a"), "default", "a"), "d", v1, N1)
    dsw.add_pod(PodRef(PodUID("b"), "default", "b"), "d", shared, N1)
    dsw.add_pod(PodRef(PodUID("c"), "default", "c"), "d", shared, N1)
    dsw.add_pod(PodRef(PodUID("d"), "default", "d"), "d", shared, N2)
    asw.mark_attached(v1, N1, device_path="/dev/loop0", attachment="x")
    asw.mark_uncertain(shared, N1, attachment="y")
    registry = CollectorRegistry()
    registry.register(AttachDetachCollector(dsw, asw))
    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
    total = families["attachdetach_controller_total_volumes"]
    assert total.type == "gauge"
    assert {(s.labels["plugin_name"], s.labels["state"]): s.value for s in total.samples} == {
        (LABEL, "desired_state_of_world"): 3.0, (LABEL, "actual_state_of_world"): 2.0}
    in_use = families["storage_count_attachable_volumes_in_use"]
    assert in_use.type == "gauge"
    assert {(s.labels["node"], s.labels["volume_plugin"]): s.value for s in in_use.samples} == {
        (N1, LABEL): 3.0, (N2, LABEL): 1.0}


def test_forced_detaches_counter() -> None:
    def value(reason: str) -> float:
        return REGISTRY.get_sample_value("attachdetach_controller_forced_detaches_total", {"reason": reason}) or 0.0

    before = value("timeout"), value("out-of-service")
    record_forced_detach("timeout")
    assert (value("timeout"), value("out-of-service")) == (before[0] + 1, before[1])
    text = generate_latest(REGISTRY).decode()
    assert "# TYPE attachdetach_controller_forced_detaches_total counter" in text
    assert 'attachdetach_controller_forced_detaches_total{reason="out-of-service"}' in text  # exposed from the start
