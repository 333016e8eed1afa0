"""applier.py, assume.py and view.py: the effectful half — writes in order, chained updates,
slow start, idempotent deletes, events filled in, our own deletions visible at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kstore.api.errors import ApiError
from kstore.client.clock import FakeClock
from kstore.client.informer import Informer
from kstore.client.recorder import EventRecorder
from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.applier import Applier
from kstore.controllers.workloads.assume import AssumedDeletes
from kstore.controllers.workloads.meta import format_time
from kstore.controllers.workloads.model import Create, CreateBatch, Delete, Event, RequeueAfter, Update
from kstore.controllers.workloads.view import CacheView, add_indexes


class FakeClient:
    """Records calls; `fail` maps a verb to the errors its next calls raise, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, list[ApiError]] = {}
        self.rv = 500
        self.delete_reply: dict[str, Any] | None = None

    def _maybe_fail(self, verb: str) -> None:
        errors = self.fail.get(verb)
        if errors:
            raise errors.pop(0)

    def _stored(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        out = copy.deepcopy(obj)
        meta = out["metadata"]
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{self.rv}"
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta["resourceVersion"] = str(self.rv)
        return out

    async def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create", obj["metadata"].get("name") or obj["metadata"].get("generateName")))
        self._maybe_fail("create")
        return self._stored(obj)

    async def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("update", obj["metadata"]["resourceVersion"]))
        self._maybe_fail("update")
        return self._stored(obj)

    async def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("update_status", obj["metadata"]["resourceVersion"]))
        self._maybe_fail("update_status")
        return self._stored(obj)

    async def delete(self, kind: str, namespace: str | None, name: str, **kw: Any) -> dict[str, Any]:
        self.calls.append(("delete", (kind, name, kw)))
        self._maybe_fail("delete")
        return self.delete_reply or {}


def setup() -> tuple[FakeClient, Applier, dict[str, Informer], AssumedDeletes, EventRecorder, FakeClock]:
    client = FakeClient()
    clock = FakeClock(0.0, epoch=t.NOW)
    informers = {k: Informer(client, k) for k in ("Pod", "ReplicaSet")}  # type: ignore[arg-type]
    for inf in informers.values():
        add_indexes(inf, namespaced=True)
    assumed = AssumedDeletes(clock, ttl=60)
    recorder = EventRecorder(client, component="test", clock=clock)  # type: ignore[arg-type]
    return client, Applier(client, informers, assumed), informers, assumed, recorder, clock  # type: ignore[arg-type]


def buffered(recorder: EventRecorder) -> list[str]:
    return [f"{e['type']} {e['reason']} {e['message']}" for e in recorder._buffer]


async def test_updates_of_one_object_are_chained_and_land_in_the_cache() -> None:
    client, applier, informers, _, recorder, _ = setup()
    rs = t.replica_set("rs")
    requeue = await applier.apply([Update(copy.deepcopy(rs)), Update(copy.deepcopy(rs), status=True),
                                   RequeueAfter(5.0), RequeueAfter(2.0)], recorder)
    assert client.calls == [("update", "1"), ("update_status", "501")]
    assert informers["ReplicaSet"].get("default/rs")["metadata"]["resourceVersion"] == "502"
    assert requeue == [5.0, 2.0]


async def test_create_failure_records_the_store_message_and_raises() -> None:
    client, applier, _, _, recorder, _ = setup()
    client.fail["create"] = [ApiError(422, "Invalid", 'Pod "x" is invalid: spec: Required value')]
    rs = t.replica_set("rs")
    with pytest.raises(ApiError):
        await applier.apply([Create(t.pod("x"), on_failure=Event(rs, "Warning", "FailedCreate",
                                                                 "Error creating: {error}")),
                             Create(t.pod("never"))], recorder)
    assert client.calls == [("create", "x")]
    assert buffered(recorder) == ['Warning FailedCreate Error creating: Pod "x" is invalid: spec: Required value']


async def test_slow_start_stops_after_a_failing_batch() -> None:
    client, applier, informers, _, recorder, _ = setup()
    client.fail["create"] = [ApiError(500, "InternalError", "boom")]
    pods = tuple(Create({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "rs-", "namespace": "default"}},
                        on_success=Event(t.replica_set("rs"), "Normal", "SuccessfulCreate", "Created pod: {name}"))
                 for _ in range(10))
    with pytest.raises(ApiError):
        await applier.apply([CreateBatch(pods)], recorder)
    assert len(client.calls) == 1  # the first batch (one pod) failed: nine never tried
    client.calls.clear()
    await applier.apply([CreateBatch(pods[:7])], recorder)
    assert len(client.calls) == 7  # batches of 1, 2, 4
    assert len(informers["Pod"].list()) == 7
    assert buffered(recorder)[0] == "Normal SuccessfulCreate Created pod: rs-501"


@pytest.mark.parametrize("error", [ApiError(404, "NotFound", 'pods "p" not found'),
                                   ApiError(409, "Conflict", "Precondition failed: UID in precondition: a, UID in "
                                                             "object meta: b")])
async def test_delete_of_something_gone_or_replaced_is_not_an_error(error: ApiError) -> None:
    client, applier, _, _, recorder, _ = setup()
    client.fail["delete"] = [error]
    await applier.apply([Delete("Pod", "default", "p", "a", on_success=Event(t.pod("p"), "Normal", "X", "y"))],
                        recorder)
    assert buffered(recorder) == []


async def test_our_deletions_show_in_the_view_until_the_informer_catches_up() -> None:
    client, applier, informers, assumed, recorder, clock = setup()
    cached = t.pod("p", labels={"app": "a"}, owner=t.replica_set("rs"))
    informers["Pod"].cache.put("default/p", cached)
    view = CacheView(informers, assumed)
    client.delete_reply = {**cached, "metadata": {**cached["metadata"], "resourceVersion": "9"}}
    await applier.apply([Delete("Pod", "default", "p", "uid-p", propagation="Background")], recorder)
    assert client.calls == [("delete", ("Pod", "p", {"uid": "uid-p", "propagation_policy": "Background",
                                                      "grace_period_seconds": None}))]
    assert view.controlled_by("Pod", "uid-rs") == [] and view.get("Pod", "default", "p") is None
    # a graceful deletion shows as terminating
    client.delete_reply = {**cached, "metadata": {**cached["metadata"], "resourceVersion": "10",
                                                  "deletionTimestamp": format_time(t.NOW)}}
    await applier.apply([Delete("Pod", "default", "p", "uid-p")], recorder)
    shown = view.get("Pod", "default", "p")
    assert shown is not None and shown["metadata"]["deletionTimestamp"]
    # the informer catches up: its copy wins again
    newer = {**cached, "metadata": {**cached["metadata"], "resourceVersion": "11"}}
    informers["Pod"].cache.put("default/p", newer)
    assert view.get("Pod", "default", "p") is newer and len(assumed) == 0


def test_assumed_deletes_expire() -> None:
    clock = FakeClock(0.0)
    assumed = AssumedDeletes(clock, ttl=10)
    p = t.pod("p")
    assumed.record({**p, "metadata": {**p["metadata"], "resourceVersion": "5"}})
    assert assumed.resolve(p) is None
    clock.advance(11)
    assert assumed.resolve(p) is p


def test_assumed_deletes_nobody_asks_about_are_dropped_once_expired() -> None:
    clock = FakeClock(0.0)
    assumed = AssumedDeletes(clock, ttl=10)
    for i in range(5):
        p = t.pod(f"p{i}")
        assumed.record({**p, "metadata": {**p["metadata"], "resourceVersion": "5"}})
    clock.advance(11)
    p = t.pod("last")
    assumed.record({**p, "metadata": {**p["metadata"], "resourceVersion": "5"}})
    assert len(assumed) == 1
