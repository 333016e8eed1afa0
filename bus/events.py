"""Watch events over XPUB/SUB, with per-topic sequence numbers and heartbeats.

Frames (publisher → subscriber): [topic, header, body]
    header = msgpack [epoch, seq, type, rv]     type: ADDED | MODIFIED | DELETED | HB
    body   = the object's msgpack bytes (empty for heartbeats)

Topics: `kind_topic("Pod")` carries every Pod event; `node_topic("Pod", "node-2")` carries the
events of pods on node-2 only, so a kubelet's fan-out cost does not grow with the node count.
Every topic ends in NUL so that no topic is a prefix of another (ZeroMQ matches by prefix).

Invariants the subscriber relies on:
- `seq` counts the events of one topic within one `epoch` (one run of the publisher) with no
  holes; a subscriber that sees seq jump, or a heartbeat whose seq is ahead of what it has
  applied, has missed events (PUB/SUB drops under load and before a subscription is live).
- The publisher heartbeats every topic anyone has subscribed to, so silence past the stall
  timeout means a dead link, not a quiet topic.
- A new epoch means the store restarted: sequences start over and the subscriber re-lists.
Re-listing is the listener's job (the informer): the subscriber tells it the stream broke,
keeps what arrives meanwhile, and replays the events newer than the list once told
`resynced(topic, epoch, seq)`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

import zmq

from bus import codec
from bus.loop import NOBLOCK, SocketReader
from bus.metrics import BYTES, GAPS, MALFORMED, MESSAGES, STALLS

log = logging.getLogger(__name__)

HEARTBEAT = "HB"
_BUFFER_LIMIT = 100_000  # events kept per topic while a re-list is under way
_HWM = 200_000

_PUB, _SUB = MESSAGES.labels("out", "events"), MESSAGES.labels("in", "events")
_PUB_BYTES, _SUB_BYTES = BYTES.labels("out", "events"), BYTES.labels("in", "events")


def kind_topic(kind: str) -> bytes:
    return kind.encode() + b"\0"


def node_topic(kind: str, node: str) -> bytes:
    return f"{kind}@{node}".encode() + b"\0"


def topic_name(topic: bytes) -> str:
    return topic.rstrip(b"\0").decode(errors="replace")


class Publisher:
    """The store's side: numbers and sends events, heartbeats every subscribed topic."""

    def __init__(self, ctx: zmq.Context, endpoint: str, *, heartbeat: float = 0.5) -> None:
        sock = ctx.socket(zmq.XPUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, _HWM)
        sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # hear every subscribe, not only the first per topic
        sock.bind(endpoint)
        self._sock = sock
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.epoch = random.getrandbits(62)
        self._seq: dict[bytes, int] = {}
        self._subscribed: set[bytes] = set()
        self._rv = 0
        self._heartbeat = heartbeat
        self._reader: SocketReader | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = SocketReader(self._sock, self._on_subscription)
        self._task = asyncio.get_running_loop().create_task(self._beat())

    def _on_subscription(self, frames: list[bytes]) -> None:
        msg = frames[0]
        if msg[:1] == b"\x01" and len(msg) > 1:
            self._subscribed.add(msg[1:])

    def seq(self, topic: bytes) -> int:
        """The sequence number of the last event sent on `topic` (0: none yet)."""
        return self._seq.get(topic, 0)

    def publish(self, topics: tuple[bytes, ...] | list[bytes], etype: str, rv: int, body: bytes) -> None:
        self._rv = rv
        epoch = self.epoch
        send = self._sock.send_multipart
        for topic in topics:
            seq = self._seq.get(topic, 0) + 1
            self._seq[topic] = seq
            try:
                send([topic, codec.encode([epoch, seq, etype, rv]), body], NOBLOCK)
            except zmq.Again:
                pass  # a subscriber past its high-water mark: it will see the gap and re-list
            _PUB.inc()
            _PUB_BYTES.inc(len(body))
        if self._reader is not None:
            self._reader.kick()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self.beat()

    def beat(self) -> None:
        epoch, rv = self.epoch, self._rv
        for topic in list(self._subscribed):
            try:
                self._sock.send_multipart(
                    [topic, codec.encode([epoch, self._seq.get(topic, 0), HEARTBEAT, rv]), b""], zmq.NOBLOCK
                )
            except zmq.Again:
                pass
        if self._reader is not None:
            self._reader.kick()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._reader is not None:
            self._reader.close()
        self._sock.close(0)


class TopicListener(Protocol):
    def on_event(self, etype: str, rv: int, body: bytes) -> None:
        """An event in order, with no event of the topic missed since the last list."""

    def on_resync(self, reason: str) -> None:
        """The stream broke (gap, stall, new epoch): re-list, then call `Subscriber.resynced`."""


@dataclass
class _Topic:
    listener: TopicListener
    synced: bool = False
    epoch: int = -1
    seq: int = 0
    last_heard: float = field(default_factory=time.monotonic)
    buffer: list[tuple[int, int, str, int, bytes]] = field(default_factory=list)
    overflowed: bool = False


class Subscriber:
    """The client's side: one SUB socket for all topics of a process, checked for gaps and stalls."""

    def __init__(self, ctx: zmq.Context, endpoint: str, *, stall_timeout: float = 3.0) -> None:
        self._ctx = ctx
        self.endpoint = endpoint
        self._stall = stall_timeout
        self._topics: dict[bytes, _Topic] = {}
        self._sock: zmq.Socket | None = None
        self._reader: SocketReader | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.reconnects = 0

    def _connect(self) -> None:
        sock = self._ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, _HWM)
        sock.setsockopt(zmq.RECONNECT_IVL, 50)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        for topic in self._topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic)
        sock.connect(self.endpoint)
        self._sock = sock
        self._reader = SocketReader(sock, self._on_frames)

    def _disconnect(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def subscribe(self, topic: bytes, listener: TopicListener) -> None:
        """Start receiving `topic`. The listener must list, then call `resynced`."""
        if self._sock is None:
            self._connect()
            self._watchdog = asyncio.get_running_loop().create_task(self._watch())
        self._topics[topic] = _Topic(listener)
        name = topic_name(topic)
        GAPS.labels(name)  # exposed at 0 from the start, so dashboards show "none" rather than "no data"
        STALLS.labels(name)
        assert self._sock is not None
        self._sock.setsockopt(zmq.SUBSCRIBE, topic)

    def unsubscribe(self, topic: bytes) -> None:
        if self._topics.pop(topic, None) is not None and self._sock is not None:
            self._sock.setsockopt(zmq.UNSUBSCRIBE, topic)

    def resynced(self, topic: bytes, epoch: int, seq: int) -> None:
        """The listener has listed the state as of (epoch, seq); apply what came after it."""
        t = self._topics.get(topic)
        if t is None:
            return
        t.epoch, t.seq, t.synced = epoch, seq, True
        pending, overflowed = t.buffer, t.overflowed
        t.buffer, t.overflowed = [], False
        if overflowed:
            self._break(topic, t, "buffer overflow during re-list")
            return
        for msg in pending:
            self._apply(topic, t, *msg)
            if not t.synced:
                break

    def _on_frames(self, frames: list[bytes]) -> None:
        _SUB.inc()
        if len(frames) != 3:
            MALFORMED.labels("event-frame-count").inc()
            return
        topic, header, body = frames
        t = self._topics.get(topic)
        if t is None:
            return
        try:
            epoch, seq, etype, rv = codec.decode(header)
        except (codec.CodecError, TypeError, ValueError):
            MALFORMED.labels("event-header").inc()
            return
        _SUB_BYTES.inc(len(body))
        t.last_heard = time.monotonic()
        self._apply(topic, t, epoch, seq, etype, rv, body)

    def _apply(self, topic: bytes, t: _Topic, epoch: int, seq: int, etype: str, rv: int, body: bytes) -> None:
        if not t.synced:
            if etype != HEARTBEAT:
                if len(t.buffer) < _BUFFER_LIMIT:
                    t.buffer.append((epoch, seq, etype, rv, body))
                else:
                    t.overflowed = True
            return
        if epoch != t.epoch:
            self._break(topic, t, "store restarted (new epoch)")
            if etype != HEARTBEAT:
                t.buffer.append((epoch, seq, etype, rv, body))
            return
        if etype == HEARTBEAT:
            if seq > t.seq:
                GAPS.labels(topic_name(topic)).inc()
                self._break(topic, t, f"heartbeat at seq {seq}, applied {t.seq}")
            return
        if seq <= t.seq:
            return  # already part of the listed state
        if seq != t.seq + 1:
            GAPS.labels(topic_name(topic)).inc()
            self._break(topic, t, f"gap: expected seq {t.seq + 1}, got {seq}")
            t.buffer.append((epoch, seq, etype, rv, body))
            return
        t.seq = seq
        t.listener.on_event(etype, rv, body)

    def _break(self, topic: bytes, t: _Topic, reason: str) -> None:
        t.synced = False
        log.info("watch %s broken: %s; re-listing", topic_name(topic), reason)
        t.listener.on_resync(reason)

    async def _watch(self) -> None:
        """Stall detection: a topic silent past the timeout means a dead link: reconnect, re-list."""
        while True:
            await asyncio.sleep(self._stall / 3)
            now = time.monotonic()
            stalled = [tp for tp, t in self._topics.items() if now - t.last_heard > self._stall]
            if not stalled:
                continue
            for tp in stalled:
                STALLS.labels(topic_name(tp)).inc()
            log.warning("event stream silent for %.1fs on %s: reconnecting", self._stall,
                        ", ".join(topic_name(tp) for tp in stalled))
            self.reconnects += 1
            self._disconnect()
            self._connect()
            for tp, t in list(self._topics.items()):
                t.last_heard = now
                if t.synced:
                    self._break(tp, t, "reconnect after stall")

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._disconnect()
        self._topics.clear()
