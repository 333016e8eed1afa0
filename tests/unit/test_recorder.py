"""Tests for kstore.client.recorder: Event shape, dedup by patch, aggregation, spam filter, drops.

The sink is an in-memory store of Events that records every call, rejects duplicate
creates (409) and patches of missing events (404), and can be told to fail. The recorder
runs on a FakeClock; `close()` flushes, so no test waits on time.
"""

from __future__ import annotations

import asyncio
import calendar
import copy
import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from kstore.api.errors import already_exists, not_found
from kstore.client.clock import FakeClock
from kstore.client.recorder import CorrelatorOptions, EventRecorder

EPOCH = float(calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0)))  # 2026-01-02T03:04:05Z


class FakeSink:
    """Events by (namespace, name); every call is appended to `calls`."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.fail_next: list[BaseException] = []
        self.block: asyncio.Event | None = None
        self.rv = 0

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", copy.deepcopy(obj)))
        await self._maybe_fail()
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        if key in self.events:
            raise already_exists("events", key[1])
        stored = copy.deepcopy(obj)
        self.rv += 1
        stored["metadata"]["resourceVersion"] = str(self.rv)
        self.events[key] = stored
        return copy.deepcopy(stored)

    async def patch(
        self, kind: str, namespace: str, name: str, patch: dict[str, Any], patch_type: str = "merge"
    ) -> dict[str, Any]:
        self.calls.append(("patch", kind, namespace, name, copy.deepcopy(patch), patch_type))
        await self._maybe_fail()
        if (namespace, name) not in self.events:
            raise not_found("events", name)
        stored = self.events[(namespace, name)]
        stored.update(patch)
        self.rv += 1
        stored["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(stored)

    async def _maybe_fail(self) -> None:
        if self.block is not None:
            await self.block.wait()
        if self.fail_next:
            raise self.fail_next.pop(0)


def pvc(name: str = "data-web-0", namespace: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": namespace, "uid": "uid-1", "resourceVersion": "7"},
    }


def pv(name: str = "pvc-1234") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "uid": "uid-2"}}


def dropped(cause: str) -> float:
    return REGISTRY.get_sample_value("kstore_events_dropped_total", {"cause": cause}) or 0.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(epoch=EPOCH)


@pytest.fixture
def sink() -> FakeSink:
    return FakeSink()


def recorder(sink: FakeSink, clock: FakeClock, **kwargs: Any) -> EventRecorder:
    return EventRecorder(sink, component="persistentvolume-controller", host="node-1", clock=clock, **kwargs)


async def test_event_shape_namespaced_and_cluster_scoped(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock)
    rec.event(pvc(), "Normal", "ProvisioningSucceeded", "Successfully provisioned volume pvc-1234")
    rec.event(pv(), "Warning", "VolumeFailedDelete", "host_path deleter only supports /tmp/.+")
    await rec.close()

    assert [c[0] for c in sink.calls] == ["create", "create"]
    assert sink.calls[0][1] == {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "data-web-0.1886caf21c963200", "namespace": "default"},
        "involvedObject": {
            "kind": "PersistentVolumeClaim",
            "namespace": "default",
            "name": "data-web-0",
            "uid": "uid-1",
            "apiVersion": "v1",
            "resourceVersion": "7",
        },
        "reason": "ProvisioningSucceeded",
        "message": "Successfully provisioned volume pvc-1234",
        "source": {"component": "persistentvolume-controller", "host": "node-1"},
        "firstTimestamp": "2026-01-02T03:04:05Z",
        "lastTimestamp": "2026-01-02T03:04:05Z",
        "count": 1,
        "type": "Normal",
        "eventTime": None,
        "reportingComponent": "persistentvolume-controller",
        "reportingInstance": "node-1",
    }
    cluster_scoped = sink.calls[1][1]
    assert cluster_scoped["metadata"] == {"name": "pvc-1234.1886caf21c963200", "namespace": "default"}
    assert cluster_scoped["involvedObject"] == {
        "kind": "PersistentVolume",
        "name": "pvc-1234",
        "uid": "uid-2",
        "apiVersion": "v1",
    }


async def test_identical_event_is_patched_with_count(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock)
    rec.event(pvc(), "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found')
    clock.advance(5.0)
    rec.event(pvc(), "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found')
    clock.advance(5.0)
    rec.event(pvc(), "Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found')
    await rec.close()

    msg = 'storageclass.storage.k8s.io "fast" not found'
    assert sink.calls[1:] == [
        ("patch", "Event", "default", "data-web-0.1886caf21c963200",
         {"count": 2, "lastTimestamp": "2026-01-02T03:04:10Z", "message": msg}, "merge"),
        ("patch", "Event", "default", "data-web-0.1886caf21c963200",
         {"count": 3, "lastTimestamp": "2026-01-02T03:04:15Z", "message": msg}, "merge"),
    ]  # fmt: skip
    (stored,) = sink.events.values()
    assert (stored["count"], stored["firstTimestamp"], stored["lastTimestamp"]) == (
        3,
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:15Z",
    )


@pytest.mark.parametrize(
    ("second", "expected_ops"),
    [
        ((pvc(), "Warning", "ProvisioningFailed", "other message"), ["create", "create"]),
        ((pvc(), "Normal", "ProvisioningFailed", "same"), ["create", "create"]),
        ((pvc(), "Warning", "OtherReason", "same"), ["create", "create"]),
        ((pvc(namespace="prod"), "Warning", "ProvisioningFailed", "same"), ["create", "create"]),
        ((pvc(), "Warning", "ProvisioningFailed", "same"), ["create", "patch"]),
    ],
    ids=["message differs", "type differs", "reason differs", "object differs", "identical"],
)
async def test_dedup_key(
    sink: FakeSink, clock: FakeClock, second: tuple[Any, ...], expected_ops: list[str]
) -> None:
    rec = recorder(sink, clock)
    rec.event(pvc(), "Warning", "ProvisioningFailed", "same")
    clock.advance(1.0)
    rec.event(*second)
    await rec.close()
    assert [c[0] for c in sink.calls] == expected_ops


async def test_patch_of_expired_event_falls_back_to_create(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock)
    rec.event(pvc(), "Normal", "ExternalProvisioning", "waiting")
    rec.event(pvc(), "Normal", "ExternalProvisioning", "waiting")
    await rec.flush()
    sink.events.clear()  # the Event's TTL ran out in the store
    sink.calls.clear()

    rec.event(pvc(), "Normal", "ExternalProvisioning", "waiting")
    await rec.close()
    assert [c[0] for c in sink.calls] == ["patch", "create"]
    created = sink.calls[1][1]
    assert (created["count"], created["metadata"]["name"]) == (3, "data-web-0.1886caf21c963200")
    assert "resourceVersion" not in created["metadata"]
    # The next one patches the re-created event.
    assert list(sink.events.values())[0]["count"] == 3


async def test_spam_filter_burst_then_one_per_five_minutes(sink: FakeSink, clock: FakeClock) -> None:
    before = dropped("spam_filter")
    rec = recorder(sink, clock)
    for _ in range(27):
        rec.event(pvc(), "Warning", "FailedMount", "mount failed")
    rec.event(pvc("other"), "Warning", "FailedMount", "mount failed")  # another object has its own budget
    await rec.flush()
    assert len(sink.calls) == 25 + 1
    assert dropped("spam_filter") - before == 2

    clock.advance(299.0)
    rec.event(pvc(), "Warning", "FailedMount", "mount failed")  # bucket not refilled yet
    await rec.flush()
    clock.advance(1.0)
    rec.event(pvc(), "Warning", "FailedMount", "mount failed")
    sink.calls.clear()
    await rec.close()
    assert dropped("spam_filter") - before == 3
    # Dropped repeats were still counted: this is the 29th occurrence.
    assert [(c[0], c[4]["count"]) for c in sink.calls] == [("patch", 29)]


async def test_many_messages_for_one_reason_are_aggregated(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock)
    for i in range(11):
        clock.advance(1.0)
        rec.event(pv(), "Warning", "VolumeFailedRecycle", f"recycler pod failed: attempt {i}")
    await rec.close()

    ops = [(c[0], c[1]["message"] if c[0] == "create" else c[4]["message"]) for c in sink.calls]
    assert ops[:9] == [("create", f"recycler pod failed: attempt {i}") for i in range(9)]
    assert ops[9:] == [
        ("create", "(combined from similar events): recycler pod failed: attempt 9"),
        ("patch", "(combined from similar events): recycler pod failed: attempt 10"),
    ]
    assert sink.calls[10][4]["count"] == 2


async def test_options_change_thresholds(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock, options=CorrelatorOptions(spam_burst=2))
    for _ in range(3):
        rec.event(pvc(), "Normal", "Resizing", "resizing")
    await rec.close()
    assert [c[0] for c in sink.calls] == ["create", "patch"]


async def test_sink_failure_is_logged_and_dropped_never_raised(
    sink: FakeSink, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    before = dropped("sink_error")
    sink.fail_next = [ConnectionError("bus down")]
    rec = recorder(sink, clock)
    with caplog.at_level(logging.WARNING, logger="kstore.client.recorder"):
        rec.event(pvc(), "Normal", "Provisioning", "first")  # fails
        rec.event(pvc(), "Normal", "Provisioning", "second")  # still written
        await rec.close()
    assert dropped("sink_error") - before == 1
    assert [m.getMessage() for m in caplog.records] == [
        "default/data-web-0: event Provisioning dropped: writing it failed: bus down"
    ]
    assert [e["message"] for e in sink.events.values()] == ["second"]


async def test_slow_sink_times_out(sink: FakeSink, clock: FakeClock) -> None:
    before = dropped("sink_error")
    sink.block = asyncio.Event()  # never set: the write hangs
    rec = recorder(sink, clock, sink_timeout=0.01)
    rec.event(pvc(), "Normal", "Provisioning", "x")
    await asyncio.wait_for(rec.close(), timeout=5)
    assert dropped("sink_error") - before == 1 and sink.events == {}


async def test_bounded_buffer_drops_overflow(sink: FakeSink, clock: FakeClock) -> None:
    before = dropped("buffer_full")
    rec = recorder(sink, clock, buffer_size=3)
    for i in range(5):
        rec.event(pvc(f"claim-{i}"), "Normal", "Provisioning", "x")  # returns at once: nothing is running
    assert rec.pending() == 3
    assert dropped("buffer_full") - before == 2
    await rec.close()
    assert sorted(name for _, name in sink.events) == [
        "claim-0.1886caf21c963200",
        "claim-1.1886caf21c963200",
        "claim-2.1886caf21c963200",
    ]


@pytest.mark.parametrize(
    ("obj", "type_"),
    [(pvc(), "Error"), ({"kind": "PersistentVolume", "metadata": {}}, "Normal"), ({}, "Normal")],
    ids=["unknown type", "no name", "no kind"],
)
async def test_invalid_events_are_dropped_not_raised(
    sink: FakeSink, clock: FakeClock, obj: dict[str, Any], type_: str
) -> None:
    before = dropped("invalid")
    rec = recorder(sink, clock)
    rec.event(obj, type_, "Reason", "message")
    await rec.close()
    assert dropped("invalid") - before == 1 and sink.calls == []


async def test_background_writer_and_close(sink: FakeSink, clock: FakeClock) -> None:
    written = asyncio.Event()
    original = sink.create

    async def create(obj: dict[str, Any]) -> dict[str, Any]:
        result = await original(obj)
        written.set()
        return result

    sink.create = create  # type: ignore[method-assign]
    rec = recorder(sink, clock)
    task = rec.start()
    rec.event(pvc(), "Normal", "Provisioning", "x")
    await asyncio.wait_for(written.wait(), timeout=1)
    assert rec.pending() == 0
    await asyncio.wait_for(rec.close(), timeout=1)
    assert task.done() and task.exception() is None

    before = dropped("closed")
    rec.event(pvc(), "Normal", "Provisioning", "after close")
    assert dropped("closed") - before == 1 and rec.pending() == 0


async def test_event_reference_dict_is_accepted(sink: FakeSink, clock: FakeClock) -> None:
    rec = recorder(sink, clock)
    rec.event({"kind": "Node", "name": "node-1", "uid": "n1"}, "Normal", "NodeReady", "ready")
    await rec.close()
    (created,) = sink.events.values()
    assert created["involvedObject"] == {"kind": "Node", "name": "node-1", "uid": "n1"}
    assert created["metadata"]["namespace"] == "default"
