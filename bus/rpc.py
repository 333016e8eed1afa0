"""Pipelined request/reply over DEALER (client) ↔ ROUTER (server).

Frames:
    request  (client → server): [header]            header = msgpack [id, verb, args]
    reply    (server → client): [header, body]      header = msgpack [id, code]

`id` is a client-chosen integer, so any number of requests can be in flight on one socket and
replies may come back in any order. `code` is an HTTP status; `body` is msgpack bytes: the
result when code < 400, a Kubernetes `Status` dict otherwise. The server passes `body` through
as bytes, so the store can answer with the very bytes it stored.

The server never dies of its input: a frame that does not decode, a header of the wrong shape,
an unknown verb or an oversized frame is answered with a Status error when the request id can
be read, and dropped otherwise; either way it is counted in `kstore_bus_malformed_frames_total`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack
import zmq

from bus import codec
from bus.loop import NOBLOCK, SocketReader
from bus.metrics import BYTES, MALFORMED, MESSAGES, RPC_DURATION

log = logging.getLogger(__name__)

_IN, _OUT = MESSAGES.labels("in", "rpc"), MESSAGES.labels("out", "rpc")
_IN_BYTES, _OUT_BYTES = BYTES.labels("in", "rpc"), BYTES.labels("out", "rpc")

Reply = tuple[int, bytes]
Handler = Callable[[str, Any], "Reply | Awaitable[Reply]"]


def status_body(code: int, reason: str, message: str) -> bytes:
    return codec.encode(
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason, "code": code}
    )


class RpcServer:
    """A ROUTER socket that hands each request to `handler(verb, args)`.

    The handler returns `(code, body)`, or a future of it (answered from the future's callback:
    no task per request on the write path), or any other awaitable (run as a task). Either way
    a slow write, waiting for its group commit, never holds up the reads behind it.
    """

    def __init__(
        self, ctx: zmq.Context, endpoint: str, handler: Handler, *,
        verbs: frozenset[str], max_frame: int = codec.MAX_FRAME,
    ) -> None:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        # Hard guard against memory blow-up: zmq drops a peer past 4× the frame limit; frames
        # between the limit and that get a 413 reply.
        sock.setsockopt(zmq.MAXMSGSIZE, max_frame * 4)
        sock.bind(endpoint)
        self._sock = sock
        self._handler = handler
        self._verbs = verbs
        self._max = max_frame
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader: SocketReader | None = None
        self.endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)

    def start(self) -> None:
        self._reader = SocketReader(self._sock, self._dispatch)

    def _dispatch(self, frames: list[bytes]) -> None:
        _IN.inc()
        if len(frames) != 2:
            MALFORMED.labels("frame-count").inc()
            return
        ident, header = frames
        _IN_BYTES.inc(len(header))
        if len(header) > self._max:
            rid = _peek_id(header)
            MALFORMED.labels("oversized").inc()
            if rid is not None:
                self._send(ident, rid, 413, status_body(
                    413, "RequestEntityTooLarge", f"Request entity too large: limit is {self._max}"))
            return
        try:
            msg = codec.decode(header, max_size=self._max)
        except codec.CodecError as e:
            MALFORMED.labels("undecodable").inc()
            log.debug("dropping undecodable frame: %s", e)
            return
        if not (isinstance(msg, list) and len(msg) == 3 and isinstance(msg[0], int) and isinstance(msg[1], str)):
            MALFORMED.labels("bad-header").inc()
            rid = msg[0] if isinstance(msg, list) and msg and isinstance(msg[0], int) else None
            if rid is not None:
                self._send(ident, rid, 400, status_body(
                    400, "BadRequest", "malformed request: expected [id, verb, args]"))
            return
        rid, verb, args = msg
        if verb not in self._verbs:
            MALFORMED.labels("unknown-verb").inc()
            self._send(ident, rid, 400, status_body(400, "BadRequest", f"unknown verb {verb!r}"))
            return
        try:
            result = self._handler(verb, args)
        except Exception as e:  # a handler bug must not take the server down
            log.exception("rpc %s failed", verb)
            self._send(ident, rid, 500, status_body(500, "InternalError", f"Internal error occurred: {e}"))
            return
        if isinstance(result, asyncio.Future):
            result.add_done_callback(functools.partial(self._future_done, ident, rid, verb))
        elif inspect.isawaitable(result):
            task = asyncio.ensure_future(self._finish(ident, rid, verb, result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            code, body = result
            self._send(ident, rid, code, body)

    def _future_done(self, ident: bytes, rid: int, verb: str, fut: asyncio.Future[Reply]) -> None:
        if fut.cancelled():
            code, body = 503, status_body(503, "ServiceUnavailable", "the request was cancelled: the server is stopping")
        elif (exc := fut.exception()) is not None:
            log.error("rpc %s failed: %r", verb, exc)
            code, body = 500, status_body(500, "InternalError", f"Internal error occurred: {exc}")
        else:
            code, body = fut.result()
        self._send(ident, rid, code, body)

    async def _finish(self, ident: bytes, rid: int, verb: str, result: Awaitable[Reply]) -> None:
        try:
            code, body = await result
        except Exception as e:
            log.exception("rpc %s failed", verb)
            code, body = 500, status_body(500, "InternalError", f"Internal error occurred: {e}")
        self._send(ident, rid, code, body)

    def _send(self, ident: bytes, rid: int, code: int, body: bytes) -> None:
        _OUT.inc()
        _OUT_BYTES.inc(len(body))
        try:
            self._sock.send_multipart([ident, codec.encode([rid, code]), body], NOBLOCK)
        except zmq.ZMQError as e:  # peer gone (EHOSTUNREACH) or closing: the client times out
            log.debug("reply to a gone peer dropped: %s", e)
        if self._reader is not None:
            self._reader.kick()

    def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._reader is not None:
            self._reader.close()
        self._sock.close(0)


def _peek_id(header: bytes) -> int | None:
    """The request id of a frame too large to decode whole: [id, ...] starts with the id."""
    try:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(header[:32])
        if unpacker.read_array_header() != 3:
            return None
        rid = unpacker.unpack()
        return rid if isinstance(rid, int) else None
    except Exception:
        return None


class RpcTimeout(Exception):
    """No reply in time; for a write, the server may or may not have applied it."""


class RpcClient:
    """A DEALER socket with any number of requests in flight, matched to replies by id.

    The socket reconnects by itself when the server restarts, and queues what is sent while
    the server is away; a request the dead server had already taken times out (`RpcTimeout`).
    """

    def __init__(self, ctx: zmq.Context, endpoint: str, *, timeout: float = 30.0) -> None:
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.setsockopt(zmq.RECONNECT_IVL, 50)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
        sock.connect(endpoint)
        self._sock = sock
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._timeout = timeout
        self._reader: SocketReader | None = None
        self.endpoint = endpoint

    def _on_frames(self, frames: list[bytes]) -> None:
        _IN.inc()
        if len(frames) != 2:
            MALFORMED.labels("reply-frame-count").inc()
            return
        try:
            rid, code = codec.decode(frames[0])
        except (codec.CodecError, TypeError, ValueError):
            MALFORMED.labels("reply-header").inc()
            return
        _IN_BYTES.inc(len(frames[1]))
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_result((code, frames[1]))

    async def call(self, verb: str, args: Any, *, timeout: float | None = None) -> Reply:
        if self._reader is None:
            self._reader = SocketReader(self._sock, self._on_frames)
        rid = next(self._ids)
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        start = time.perf_counter()
        limit = timeout or self._timeout
        try:
            header = codec.encode([rid, verb, args])
            _OUT.inc()
            _OUT_BYTES.inc(len(header))
            self._sock.send_multipart([header], NOBLOCK)
            self._reader.kick()
            # A timer, not asyncio.wait_for: no extra task per request on the hot path.
            timer = asyncio.get_running_loop().call_later(limit, self._expire, rid, verb, limit)
            try:
                return await fut
            finally:
                timer.cancel()
        finally:
            self._pending.pop(rid, None)
            RPC_DURATION.labels(verb).observe(time.perf_counter() - start)

    def _expire(self, rid: int, verb: str, limit: float) -> None:
        fut = self._pending.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_exception(RpcTimeout(f"no reply to {verb} from {self.endpoint} in {limit}s"))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._sock.close(0)
