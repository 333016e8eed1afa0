"""The bus over real ZeroMQ sockets on loopback: pipelined RPC, malformed frames, event
sequence numbers, gap and stall detection."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import zmq

from bus import codec
from bus.events import Publisher, Subscriber, kind_topic, node_topic
from bus.metrics import MALFORMED
from bus.rpc import RpcClient, RpcServer, RpcTimeout, status_body

pytestmark = pytest.mark.asyncio


def free_endpoint() -> str:
    return "tcp://127.0.0.1:0"


class Echo:
    """A handler that answers reads at once and delays 'slow' to show replies out of order."""

    async def slow(self, args: Any) -> tuple[int, bytes]:
        await asyncio.sleep(0.05)
        return 200, codec.encode({"slow": args})

    def __call__(self, verb: str, args: Any) -> Any:
        if verb == "echo":
            return 200, codec.encode(args)
        if verb == "slow":
            return self.slow(args)
        if verb == "boom":
            raise RuntimeError("handler bug")
        return 404, status_body(404, "NotFound", "nope")


@pytest.fixture
async def server() -> Any:
    ctx = zmq.Context.instance()
    srv = RpcServer(ctx, free_endpoint(), Echo(), verbs=frozenset({"echo", "slow", "boom", "nf"}), max_frame=4096)
    srv.start()
    yield srv
    srv.close()


async def test_pipelined_calls_match_replies_by_id(server: RpcServer) -> None:
    client = RpcClient(zmq.Context.instance(), server.endpoint, timeout=5)
    try:
        slow = asyncio.ensure_future(client.call("slow", {"n": -1}))
        fast = await asyncio.gather(*(client.call("echo", {"n": i}) for i in range(200)))
        assert [codec.decode(body)["n"] for _, body in fast] == list(range(200))
        assert not slow.done()  # 200 replies overtook the slow one
        code, body = await slow
        assert (code, codec.decode(body)) == (200, {"slow": {"n": -1}})
    finally:
        client.close()


async def test_malformed_frames_get_errors_and_the_server_stays_up(server: RpcServer) -> None:
    ctx = zmq.Context.instance()
    raw = ctx.socket(zmq.DEALER)
    raw.setsockopt(zmq.LINGER, 0)
    raw.setsockopt(zmq.RCVTIMEO, 2000)
    raw.connect(server.endpoint)
    before = {r: MALFORMED.labels(r)._value.get() for r in ("undecodable", "bad-header", "unknown-verb", "oversized",
                                                             "frame-count")}
    try:
        raw.send(os.urandom(40) + b"\xc1")  # garbage: dropped, counted
        raw.send_multipart([b"a", b"b"])  # wrong frame count: dropped, counted
        raw.send(codec.encode([7, 42, {}]))  # verb of the wrong type
        raw.send(codec.encode([8, "launch-missiles", {}]))  # unknown verb
        raw.send(codec.encode([9, "echo", {"pad": "x" * 8000}]))  # over the 4096 limit
        raw.send(codec.encode([10, "boom", {}]))  # handler raises
        replies = {}
        loop = asyncio.get_running_loop()
        for _ in range(4):
            header, body = await loop.run_in_executor(None, raw.recv_multipart)
            rid, code = codec.decode(header)
            replies[rid] = (code, codec.decode(body))
    finally:
        raw.close(0)
    assert replies[7][0] == 400 and "expected [id, verb, args]" in replies[7][1]["message"]
    assert replies[8] [0] == 400 and replies[8][1]["message"] == "unknown verb 'launch-missiles'"
    assert replies[9][0] == 413 and replies[9][1]["reason"] == "RequestEntityTooLarge"
    assert replies[10][0] == 500 and "handler bug" in replies[10][1]["message"]
    assert MALFORMED.labels("undecodable")._value.get() == before["undecodable"] + 1
    assert MALFORMED.labels("frame-count")._value.get() == before["frame-count"] + 1
    # still serving
    client = RpcClient(ctx, server.endpoint, timeout=5)
    try:
        code, body = await client.call("echo", {"ok": True})
        assert (code, codec.decode(body)) == (200, {"ok": True})
    finally:
        client.close()


async def test_call_times_out_when_nobody_answers() -> None:
    client = RpcClient(zmq.Context.instance(), "tcp://127.0.0.1:9", timeout=0.2)
    try:
        with pytest.raises(RpcTimeout):
            await client.call("echo", {})
    finally:
        client.close()


class Recorder:
    def __init__(self, sub: Subscriber, topic: bytes, publisher: Publisher) -> None:
        self.sub, self.topic, self.pub = sub, topic, publisher
        self.events: list[tuple[str, int, Any]] = []
        self.resyncs: list[str] = []
        self.changed = asyncio.Event()

    def on_event(self, etype: str, rv: int, body: bytes) -> None:
        self.events.append((etype, rv, codec.decode(body)))
        self.changed.set()

    def on_resync(self, reason: str) -> None:
        self.resyncs.append(reason)
        # a real listener re-lists; here the "list" is the publisher's position now
        self.sub.resynced(self.topic, self.pub.epoch, self.pub.seq(self.topic))
        self.changed.set()


async def wait_for(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_events_in_order_per_topic_and_node_topics() -> None:
    ctx = zmq.Context.instance()
    pub = Publisher(ctx, free_endpoint(), heartbeat=0.05)
    pub.start()
    sub = Subscriber(ctx, pub.endpoint, stall_timeout=2)
    try:
        all_pods = Recorder(sub, kind_topic("Pod"), pub)
        node2 = Recorder(sub, node_topic("Pod", "node-2"), pub)
        sub.subscribe(all_pods.topic, all_pods)
        sub.subscribe(node2.topic, node2)
        sub.resynced(all_pods.topic, pub.epoch, 0)
        sub.resynced(node2.topic, pub.epoch, 0)
        # wait until both subscriptions are live (the publisher heartbeats subscribed topics)
        await wait_for(lambda: {all_pods.topic, node2.topic} <= pub._subscribed)
        for i in range(1, 51):
            node = f"node-{i % 3}"
            topics = [kind_topic("Pod"), node_topic("Pod", node)]
            pub.publish(topics, "ADDED", i, codec.encode({"i": i, "node": node}))
        await wait_for(lambda: len(all_pods.events) == 50 and len(node2.events) == sum(1 for i in range(1, 51) if i % 3 == 2))
        assert [rv for _, rv, _ in all_pods.events] == list(range(1, 51))
        assert {o["node"] for _, _, o in node2.events} == {"node-2"}
        assert all_pods.resyncs == [] and node2.resyncs == []
    finally:
        sub.close()
        pub.close()


async def test_missed_events_are_detected_by_the_heartbeat() -> None:
    """Events that PUB/SUB drops (here: sent while the subscription was not yet live, after the
    subscriber's list) are revealed by the next heartbeat's sequence number: re-list."""
    ctx = zmq.Context.instance()
    pub = Publisher(ctx, free_endpoint(), heartbeat=0.05)
    pub.start()
    topic = kind_topic("PersistentVolume")
    for i in range(1, 6):  # nobody subscribed yet: XPUB drops them
        pub.publish([topic], "ADDED", i, codec.encode({"i": i}))
    sub = Subscriber(ctx, pub.endpoint, stall_timeout=2)
    try:
        rec = Recorder(sub, topic, pub)
        sub.subscribe(rec.topic, rec)
        sub.resynced(rec.topic, pub.epoch, 0)  # a list taken before the five events
        await wait_for(lambda: rec.resyncs)
        assert "heartbeat at seq 5, applied 0" in rec.resyncs[0]
        pub.publish([rec.topic], "MODIFIED", 6, codec.encode({"i": 6}))
        await wait_for(lambda: rec.events)
        assert rec.events == [("MODIFIED", 6, {"i": 6})]
    finally:
        sub.close()
        pub.close()


async def test_a_silent_stream_is_a_stall_and_reconnects() -> None:
    ctx = zmq.Context.instance()
    pub = Publisher(ctx, free_endpoint(), heartbeat=0.05)
    pub.start()
    sub = Subscriber(ctx, pub.endpoint, stall_timeout=0.5)
    try:
        rec = Recorder(sub, kind_topic("Node"), pub)
        sub.subscribe(rec.topic, rec)
        sub.resynced(rec.topic, pub.epoch, 0)
        await wait_for(lambda: rec.topic in pub._subscribed)
        pub._task.cancel()  # the publisher goes silent (a hung store, a cut link)
        await wait_for(lambda: sub.reconnects >= 1, timeout=5)
        assert any("stall" in r for r in rec.resyncs)
    finally:
        sub.close()
        pub.close()


async def test_a_new_epoch_forces_a_relist() -> None:
    ctx = zmq.Context.instance()
    pub = Publisher(ctx, free_endpoint(), heartbeat=0.05)
    pub.start()
    sub = Subscriber(ctx, pub.endpoint, stall_timeout=2)
    try:
        rec = Recorder(sub, kind_topic("Pod"), pub)
        sub.subscribe(rec.topic, rec)
        sub.resynced(rec.topic, pub.epoch, 0)
        await wait_for(lambda: rec.topic in pub._subscribed)
        pub.epoch += 1  # what a restarted store looks like
        await wait_for(lambda: rec.resyncs)
        assert "new epoch" in rec.resyncs[0]
    finally:
        sub.close()
        pub.close()
