"""The apistore as a real process over real sockets: conflicts, missed events, kill -9."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from bus import codec
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.informer import Handler, Informer
from tests.integration.apistore_proc import ApistoreProcess

pytestmark = pytest.mark.asyncio


def claim(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                     "resources": {"requests": {"storage": "1Gi"}}}}


@contextlib.asynccontextmanager
async def client_for(ap: ApistoreProcess, **kw: Any) -> Any:
    c = BusClient(ap.cluster.rpc_endpoint, ap.cluster.events_endpoint, timeout=10, **kw)
    try:
        await c.wait_ready()
        yield c
    finally:
        c.close()


async def until(cond: Any, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_stale_write_is_409_and_errors_read_like_kube_apiserver(apistore: ApistoreProcess) -> None:
    async with client_for(apistore) as c:
        created = await c.create(claim("data"))
        first = dict(created, metadata=dict(created["metadata"], labels={"v": "1"}))
        await c.update(first)
        stale = dict(created, metadata=dict(created["metadata"], labels={"v": "2"}))
        with pytest.raises(ApiError) as e:
            await c.update(stale)
        assert e.value.code == 409 and e.value.reason == "Conflict"
        assert e.value.message == ('Operation cannot be fulfilled on persistentvolumeclaims "data": the object has '
                                   "been modified; please apply your changes to the latest version and try again")
        with pytest.raises(ApiError) as e:
            await c.get("PersistentVolumeClaim", "default", "nope")
        assert (e.value.code, e.value.message) == (404, 'persistentvolumeclaims "nope" not found')
        bad = claim("bad")
        bad["spec"]["accessModes"] = ["ReadWriteSometimes"]
        with pytest.raises(ApiError) as e:
            await c.create(bad)
        assert e.value.code == 422 and e.value.reason == "Invalid"
        assert e.value.causes[0].field == "spec.accessModes"
        assert 'Unsupported value: "ReadWriteSometimes"' in e.value.message
        # nothing half-written, and the store still serves
        items = (await c.list("PersistentVolumeClaim")).items
        assert [o["metadata"]["name"] for o in items] == ["data"]
        assert items[0]["metadata"]["labels"] == {"v": "1"}


async def test_a_subscriber_that_misses_events_recovers(apistore: ApistoreProcess) -> None:
    async with client_for(apistore) as writer, client_for(apistore) as watcher:
        inf = Informer(watcher, "PersistentVolumeClaim")
        deleted: list[str] = []
        inf.add_handler(Handler(on_delete=lambda o: deleted.append(o["metadata"]["name"])))
        await inf.start()
        await inf.wait_synced(10)
        for i in range(5):
            await writer.create(claim(f"before-{i}"))
        await until(lambda: len(inf.cache) == 5)
        # Cut the subscription at the socket: what PUB/SUB does to a slow or late subscriber.
        sock = watcher.subscriber._sock
        assert sock is not None
        import zmq

        sock.setsockopt(zmq.UNSUBSCRIBE, b"PersistentVolumeClaim\0")
        for i in range(20):
            await writer.create(claim(f"missed-{i}"))
        await writer.delete("PersistentVolumeClaim", "default", "before-0")
        sock.setsockopt(zmq.SUBSCRIBE, b"PersistentVolumeClaim\0")
        # The next heartbeat shows a sequence number ahead of what was applied: re-list.
        # before-0 is held by the pvc-protection finalizer: terminating, not gone.
        want = {f"before-{i}" for i in range(5)} | {f"missed-{i}" for i in range(20)}
        await until(lambda: {k.split("/")[1] for k in inf.cache.keys()} == want
                    and inf.cache.get("default/before-0")["metadata"].get("deletionTimestamp"))
        assert inf.relists >= 1
        inf.stop()


async def test_watch_continues_across_kill9_and_no_acknowledged_write_is_lost(apistore: ApistoreProcess) -> None:
    acked: list[str] = []
    async with client_for(apistore, stall_timeout=2.0) as watcher:
        inf = Informer(watcher, "PersistentVolumeClaim")
        await inf.start()
        await inf.wait_synced(10)
        writer = BusClient(apistore.cluster.rpc_endpoint, apistore.cluster.events_endpoint, timeout=3)
        stop = asyncio.Event()

        async def write_forever(worker: int) -> None:
            n = 0
            while not stop.is_set():
                name = f"w{worker}-{n}"
                n += 1
                try:
                    await writer.create(claim(name))
                    acked.append(name)
                except ApiError:
                    await asyncio.sleep(0.05)  # the store is down: back off a little and go on

        writers = [asyncio.ensure_future(write_forever(w)) for w in range(8)]
        try:
            await until(lambda: len(acked) >= 300)
            await asyncio.get_running_loop().run_in_executor(None, apistore.kill9)
            at_kill = len(acked)
            await asyncio.get_running_loop().run_in_executor(None, apistore.start)
            await until(lambda: len(acked) >= at_kill + 300, timeout=30)
        finally:
            stop.set()
            await asyncio.gather(*writers)
            writer.close()
        stored = {o["metadata"]["name"] for o in (await watcher.list("PersistentVolumeClaim")).items}
        lost = set(acked) - stored
        assert not lost, f"{len(lost)} acknowledged writes lost, e.g. {sorted(lost)[:5]}"
        await until(lambda: {k.split("/")[1] for k in inf.cache.keys()} >= set(acked), timeout=30)
        assert inf.relists >= 1
        inf.stop()


async def test_malformed_frames_do_not_hurt_the_apistore(apistore: ApistoreProcess) -> None:
    import os

    import zmq

    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(apistore.cluster.rpc_endpoint)
    try:
        for _ in range(50):
            raw.send(os.urandom(100))
        raw.send(codec.encode([1, "create", {"object": "not a map"}]))
        raw.send(codec.encode([2, "create", {"object": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                        "metadata": ["wrong", "type"]}}]))
        raw.send(codec.encode([3, "get", {"kind": 7}]))
        raw.send(codec.encode([4, "list", "not-a-map"]))
        raw.send(codec.encode([5, "create", {"object": dict(claim("big"), data="x" * (5 * 1024 * 1024))}]))
        replies = {}
        loop = asyncio.get_running_loop()
        raw.setsockopt(zmq.RCVTIMEO, 5000)
        for _ in range(5):
            header, body = await loop.run_in_executor(None, raw.recv_multipart)
            rid, code = codec.decode(header)
            replies[rid] = (code, codec.decode(body))
    finally:
        raw.close(0)
    assert {rid: code for rid, (code, _) in replies.items()} == {1: 400, 2: 400, 3: 400, 4: 400, 5: 413}
    assert all(body["kind"] == "Status" and body["message"] for _, body in replies.values())
    async with client_for(apistore) as c:
        await c.create(claim("after"))
        assert (await c.get("PersistentVolumeClaim", "default", "after"))["metadata"]["uid"]
