"""manager.py: informer events reach the right queues, and a queued key goes through the view,
the pure sync and the applier to store calls (a fake client; no sockets)."""

from __future__ import annotations

import copy
from typing import Any

from bus import codec
from kstore.api.errors import not_found
from kstore.client.clock import FakeClock
from kstore.controllers.workloads import testing as t
from kstore.controllers.workloads.manager import ControllerManager
from kstore.controllers.workloads.meta import format_time
from kstore.controllers.workloads.model import Obj
from kstore.controllers.workloads.monitor import LifecycleSettings


class RecordingClient:
    def __init__(self) -> None:
        self.created: list[Obj] = []
        self.deleted: list[tuple[str, str, str | None]] = []
        self.rv = 1000

    async def create(self, obj: Obj) -> Obj:
        self.rv += 1
        out = copy.deepcopy(obj)
        meta = out["metadata"]
        meta.setdefault("name", f"{meta.get('generateName', '')}{self.rv}")
        meta.update(uid=f"uid-{meta['name']}", resourceVersion=str(self.rv))
        self.created.append(out)
        return out

    async def update(self, obj: Obj) -> Obj:
        self.rv += 1
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}

    update_status = update

    async def delete(self, kind: str, namespace: str | None, name: str, **kw: Any) -> Obj:
        self.deleted.append((kind, name, kw.get("propagation_policy")))
        return {}


def manager() -> tuple[ControllerManager, RecordingClient]:
    client = RecordingClient()
    mgr = ControllerManager(client, settings=LifecycleSettings(), clock=FakeClock(0.0, epoch=t.NOW))  # type: ignore[arg-type]
    return mgr, client


def feed(mgr: ControllerManager, obj: Obj, etype: str = "ADDED") -> None:
    mgr.informers[obj["kind"]].on_event(etype, int(obj["metadata"]["resourceVersion"]), codec.encode(obj))


async def queued(mgr: ControllerManager, name: str) -> set[str]:
    """Take everything ready from one of the manager's queues."""
    q = mgr.queues[name] if name in mgr.queues else getattr(mgr.gc, name)
    out = set()
    while len(q):
        item = await q.get()
        q.done(item)
        out.add(item)
    return out


async def test_events_reach_their_controllers_queues() -> None:
    mgr, _ = manager()
    d = t.deployment("web")
    rs = t.replica_set("web-abc", owner=d, labels={"app": "web"})
    feed(mgr, d)
    feed(mgr, rs)
    feed(mgr, t.pod("web-abc-x", owner=rs, labels={"app": "web"}))
    feed(mgr, t.pod("eph", volumes=[{"name": "v", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]))
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "uid": "uid-ns", "resourceVersion": "1",
                                                                "deletionTimestamp": format_time(t.NOW)}}
    feed(mgr, ns)
    assert await queued(mgr, "deployment") == {"default/web"}
    assert await queued(mgr, "replicaset") == {"default/web-abc"}
    assert await queued(mgr, "ephemeral_volume") == {"default/eph"}
    assert await queued(mgr, "namespace") == {"x"}
    assert await queued(mgr, "attempt_to_delete") == {"uid-web-abc", "uid-web-abc-x"}  # they have owners
    assert [n.name for n in mgr.gc.graph.dependents("uid-web-abc")] == ["web-abc-x"]


async def test_a_deleted_owner_queues_its_dependents_for_the_garbage_collector() -> None:
    mgr, _ = manager()
    rs = t.replica_set("rs")
    feed(mgr, rs)
    feed(mgr, t.pod("p", owner=rs))
    await queued(mgr, "attempt_to_delete")
    feed(mgr, rs, "DELETED")
    assert await queued(mgr, "attempt_to_delete") == {"uid-p"}


async def test_a_replica_set_sync_creates_its_pods_through_the_applier() -> None:
    mgr, client = manager()
    feed(mgr, t.replica_set("rs", 2, labels={"app": "a"}))
    await mgr.sync_replica_set("default/rs")
    assert sorted(p["metadata"]["generateName"] for p in client.created) == ["rs-", "rs-"]
    # assumed into the cache: a second sync does not create them again
    await mgr.sync_replica_set("default/rs")
    assert len(client.created) == 2


async def test_the_garbage_collector_deletes_a_pod_whose_owner_the_store_does_not_have() -> None:
    mgr, client = manager()

    async def get(kind: str, namespace: str | None, name: str) -> Obj:
        raise not_found("replicasets", name)

    client.get = get  # type: ignore[attr-defined]
    feed(mgr, t.pod("p", owner=t.replica_set("gone")))
    await mgr.gc.sync_attempt_to_delete("uid-p")
    assert client.deleted == [("Pod", "p", "Background")]
