"""The async client every kstore process uses to talk to the store over the bus.

`BusClient` wraps one RPC socket and one event subscriber per process. Calls raise `ApiError`
(the store's Status, or a 504 Timeout when the store did not answer) and return plain dicts.
Reads (`get`, `list`) are retried across a store restart; writes are not, since a write the
dead store had taken may or may not have been stored — the caller's next sync decides.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import zmq

from bus import codec
from bus.events import Subscriber
from bus.rpc import RpcClient, RpcTimeout
from kstore.api.errors import ApiError
from kstore.api.kinds import KINDS

log = logging.getLogger(__name__)

REPLY_LIMIT = 2**31 - 1  # msgpack's own ceiling for one buffer


def object_key(obj: dict[str, Any]) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class ListResult:
    __slots__ = ("items", "resource_version", "epoch", "seq")

    def __init__(self, items: list[dict[str, Any]], resource_version: str, epoch: int, seq: int) -> None:
        self.items = items
        self.resource_version = resource_version
        self.epoch = epoch
        self.seq = seq


class BusClient:
    def __init__(
        self, rpc_endpoint: str, events_endpoint: str, *, timeout: float = 30.0, stall_timeout: float = 3.0,
        ctx: zmq.Context | None = None,
    ) -> None:
        self._ctx = ctx or zmq.Context.instance()
        self._rpc = RpcClient(self._ctx, rpc_endpoint, timeout=timeout)
        self._events_endpoint = events_endpoint
        self._stall_timeout = stall_timeout
        self._subscriber: Subscriber | None = None

    @property
    def subscriber(self) -> Subscriber:
        if self._subscriber is None:
            self._subscriber = Subscriber(self._ctx, self._events_endpoint, stall_timeout=self._stall_timeout)
        return self._subscriber

    async def call(self, verb: str, args: dict[str, Any], *, timeout: float | None = None) -> Any:
        """One RPC; returns the decoded body, raises ApiError."""
        try:
            code, body = await self._rpc.call(verb, args, timeout=timeout)
        except RpcTimeout as e:
            raise ApiError(504, "Timeout", f"the server was unable to return a response in the time allotted, "
                           f"but may still be processing the request ({e})") from e
        # Replies may be far larger than a request may (a list of 10⁴ objects): the 4 MiB frame
        # limit guards the server against its clients, not a client against its server.
        result = codec.decode(body, max_size=REPLY_LIMIT)
        if code >= 400:
            raise ApiError.from_status(result if isinstance(result, dict) else {"code": code})
        return result

    async def _read(self, verb: str, args: dict[str, Any], *, attempts: int = 3) -> Any:
        for attempt in range(attempts):
            try:
                return await self.call(verb, args, timeout=10.0 if attempt < attempts - 1 else None)
            except ApiError as e:
                if e.code != 504 or attempt == attempts - 1:
                    raise
                log.info("%s timed out, retrying", verb)
        raise AssertionError("unreachable")

    async def ping(self, *, timeout: float | None = None) -> dict[str, Any]:
        return await self.call("ping", {}, timeout=timeout)

    async def wait_ready(self, *, timeout: float = 30.0) -> None:
        """Wait until the store answers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                await self.ping(timeout=min(1.0, max(0.05, deadline - loop.time())))
                return
            except ApiError:
                if loop.time() >= deadline:
                    raise

    async def create(self, obj: dict[str, Any], *, namespace: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        args: dict[str, Any] = {"object": obj}
        if namespace:
            args["namespace"] = namespace
        if dry_run:
            args["dryRun"] = True
        return await self.call("create", args)

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        return await self._read("get", {"kind": kind, "namespace": namespace or "", "name": name})

    async def list(
        self, kind: str, *, namespace: str | None = None, label_selector: str | None = None,
        field_selector: str | None = None, node: str | None = None,
    ) -> ListResult:
        args: dict[str, Any] = {"kind": kind}
        if namespace:
            args["namespace"] = namespace
        if label_selector:
            args["labelSelector"] = label_selector
        if field_selector:
            args["fieldSelector"] = field_selector
        if node:
            args["node"] = node
        r = await self._read("list", args)
        return ListResult(r["items"], r["resourceVersion"], r["epoch"], r["seq"])

    async def update(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        return await self.call("update", {"object": obj, "dryRun": dry_run})

    async def update_status(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        return await self.call("update_status", {"object": obj, "dryRun": dry_run})

    async def patch(
        self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"kind": kind, "namespace": namespace or "", "name": name, "patch": patch,
                                "patchType": patch_type}
        if subresource:
            args["subresource"] = subresource
        return await self.call("patch", args)

    async def bind(self, namespace: str, name: str, node: str, *, uid: str | None = None) -> dict[str, Any]:
        """Assign a pod to a node (the pods/binding subresource)."""
        args: dict[str, Any] = {"namespace": namespace, "name": name, "node": node}
        if uid:
            args["uid"] = uid
        return await self.call("bind", args)

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, uid: str | None = None,
        resource_version: str | None = None, propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"kind": kind, "namespace": namespace or "", "name": name}
        pre = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v is not None}
        if pre:
            args["preconditions"] = pre
        if propagation_policy:
            args["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            args["gracePeriodSeconds"] = grace_period_seconds
        return await self.call("delete", args)

    async def watch_since(
        self, kind: str, resource_version: str | int, *, namespace: str | None = None, node: str | None = None,
    ) -> tuple[list[tuple[str, dict[str, Any]]], str]:
        args: dict[str, Any] = {"kind": kind, "resourceVersion": int(resource_version)}
        if namespace:
            args["namespace"] = namespace
        if node:
            args["node"] = node
        r = await self._read("watch_since", args)
        return [(t, o) for t, o in r["events"]], r["resourceVersion"]

    def close(self) -> None:
        if self._subscriber is not None:
            self._subscriber.close()
        self._rpc.close()


__all__ = ["KINDS", "BusClient", "ListResult", "object_key"]
