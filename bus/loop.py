"""Attach a plain (sync) ZeroMQ socket to the asyncio loop.

ZeroMQ's file descriptor is edge-triggered: it signals once when the socket's state changes,
and only `zmq.EVENTS` tells whether a message is waiting. So on every wake-up we drain until
EVENTS says no more input, in bounded slices so one busy socket cannot starve the loop, and
after every send we check again (a send can consume the edge that announced new input).

This is cheaper than zmq.asyncio's per-call futures on the hot paths (the store's ROUTER and
every subscriber), and keeps all of it in `bus/`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import zmq

log = logging.getLogger(__name__)

# Plain ints: pyzmq's enum flags cost enum arithmetic on every call of the hot paths.
NOBLOCK = int(zmq.NOBLOCK)
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)

_SLICE = 512  # messages handled per wake-up before yielding to the loop


class SocketReader:
    """Calls `on_frames(frames)` for every multipart message that arrives on `sock`."""

    def __init__(self, sock: zmq.Socket, on_frames: Callable[[list[bytes]], None]) -> None:
        self._sock = sock
        self._on_frames = on_frames
        self._loop = asyncio.get_running_loop()
        self._fd = sock.getsockopt(zmq.FD)
        self._scheduled = False
        self._closed = False
        self._loop.add_reader(self._fd, self._wake)
        self.kick()  # messages may already be waiting (the edge came before we attached)

    def kick(self) -> None:
        """Check for input soon; call after any send on the same socket."""
        if not self._scheduled and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self._drain)

    def _wake(self) -> None:
        self.kick()

    def _drain(self) -> None:
        self._scheduled = False
        if self._closed:
            return
        sock = self._sock
        for _ in range(_SLICE):
            try:
                if not sock.get(_EVENTS) & _POLLIN:
                    return
                frames = sock.recv_multipart(NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError as e:
                if self._closed:
                    return
                log.warning("recv failed: %s", e)
                return
            try:
                self._on_frames(frames)
            except Exception:  # a handler bug must never stop the reader
                log.exception("frame handler failed")
        self.kick()  # more may be waiting: continue after others have run

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self._fd)
