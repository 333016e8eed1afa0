"""The store's bus front door: RPC verbs → store calls, store changes → watch events.

Verbs and their arguments (all maps; `kind` is the Kubernetes kind, e.g. "PersistentVolumeClaim"):
    ping         {}                                              → {epoch, resourceVersion}
    create       {object, namespace?, dryRun?}                   → object
    get          {kind, namespace?, name}                        → object
    list         {kind, namespace?, labelSelector?, fieldSelector?, node?}
                                                                 → {items, resourceVersion, epoch, seq}
    update       {object, dryRun?}                               → object
    update_status{object, dryRun?}                               → object
    patch        {kind, namespace?, name, patch, patchType, subresource?, dryRun?} → object
    bind         {namespace, name, node, uid?}  (pods/binding)      → the bound pod
    delete       {kind, namespace?, name, preconditions?: {uid, resourceVersion},
                  propagationPolicy?, gracePeriodSeconds?, dryRun?} → object (deleted, or now terminating)
    watch_since  {kind, resourceVersion, namespace?, node?, labelSelector?, fieldSelector?}
                                                                 → {events: [[type, object]...], resourceVersion}

`list` answers with (epoch, seq) of the topic the caller subscribes to (the node-scoped topic
when `node` is given), read at the same instant as the items: the subscriber applies only the
events after `seq` (see bus/events.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from bus import codec
from bus.events import Publisher, kind_topic, node_topic
from bus.rpc import Reply
from kstore.api.errors import ApiError, bad_request
from kstore.api.kinds import KINDS
from kstore.apistore.metrics import REQUEST_DURATION
from kstore.apistore.store import Entry, Store

log = logging.getLogger(__name__)

VERBS = frozenset({"ping", "create", "get", "list", "update", "update_status", "patch", "delete", "watch_since",
                   "bind"})
# Kubernetes' verb names for the request metric.
_METRIC_VERB = {"create": "POST", "get": "GET", "list": "LIST", "update": "PUT", "update_status": "PUT",
                "patch": "PATCH", "delete": "DELETE", "watch_since": "WATCH", "ping": "GET", "bind": "POST"}


class BusEvents:
    """The store's EventSink on the bus: kind topic always, node topics for node-scoped kinds."""

    def __init__(self, publisher: Publisher) -> None:
        self._pub = publisher
        self._kind_topics = {k: kind_topic(k) for k in KINDS}

    def publish(self, kind: str, etype: str, entry: Entry, nodes: tuple[str, ...]) -> None:
        topics = [self._kind_topics[kind]]
        topics.extend(node_topic(kind, n) for n in nodes)
        self._pub.publish(topics, etype, entry.rv, entry.raw)

    def position(self, kind: str, node: str | None) -> tuple[int, int]:
        topic = node_topic(kind, node) if node else self._kind_topics[kind]
        return self._pub.epoch, self._pub.seq(topic)


def _ok(entry: Entry) -> Reply:
    return 200, entry.raw


def _error(e: ApiError) -> Reply:
    return e.code, codec.encode(e.to_status())


def _str(args: dict[str, Any], key: str, default: str | None = None) -> str | None:
    v = args.get(key, default)
    if v is not None and not isinstance(v, str):
        raise bad_request(f"{key} must be a string")
    return v


class BusApi:
    """Turns decoded RPCs into store calls. Reads answer synchronously; writes are awaited."""

    def __init__(self, store: Store, events: BusEvents) -> None:
        self._store = store
        self._events = events
        self._metric_children: dict[tuple[Any, ...], Any] = {}

    def handle(self, verb: str, args: Any) -> Reply | Any:
        start = time.perf_counter()
        if not isinstance(args, dict):
            return _error(bad_request(f"{verb}: arguments must be a map"))
        try:
            result = getattr(self, "_" + verb)(args)
        except ApiError as e:
            return _error(e)
        except (TypeError, ValueError, KeyError, AttributeError) as e:
            return _error(bad_request(f"{verb}: malformed arguments: {e}"))
        if isinstance(result, tuple):
            self._observe(verb, args, start)
            return result
        # A write: answer when the store's future resolves (durable and published).
        reply: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()

        def written(fut: asyncio.Future[Entry]) -> None:
            if fut.cancelled():
                reply.cancel()
            elif isinstance(exc := fut.exception(), ApiError):
                reply.set_result(_error(exc))
            elif exc is not None:
                reply.set_exception(exc)
            else:
                self._observe(verb, args, start)
                reply.set_result(_ok(fut.result()))

        result.add_done_callback(written)
        return reply

    def _observe(self, verb: str, args: dict[str, Any], start: float) -> None:
        kind, obj = args.get("kind"), args.get("object")
        if kind is None and isinstance(obj, dict):
            kind = obj.get("kind")
        status = verb == "update_status" or args.get("subresource") == "status"
        key = (verb, kind, bool(args.get("dryRun")), status, bool(args.get("namespace")))
        child = self._metric_children.get(key)
        if child is None:
            info = KINDS.get(kind) if isinstance(kind, str) else None
            child = self._metric_children[key] = REQUEST_DURATION.labels(
                _METRIC_VERB[verb], "true" if args.get("dryRun") else "", info.group if info else "",
                info.version if info else "", info.plural if info else "", "status" if status else "",
                ("namespace" if args.get("namespace") else "cluster") if verb == "list" else "resource", "bus",
            )
        child.observe(time.perf_counter() - start)

    # --- verbs

    def _ping(self, args: dict[str, Any]) -> Reply:
        epoch, _ = self._events.position("Namespace", None)
        return 200, codec.encode({"epoch": epoch, "resourceVersion": str(self._store.revision)})

    def _get(self, args: dict[str, Any]) -> Reply:
        return _ok(self._store.get(args["kind"], _str(args, "namespace", "") or "", args["name"]))

    def _list(self, args: dict[str, Any]) -> Reply:
        kind = args["kind"]
        node = _str(args, "node")
        items, rv = self._store.list(
            kind, namespace=_str(args, "namespace"), label_selector=_str(args, "labelSelector"),
            field_selector=_str(args, "fieldSelector"), node=node,
        )
        epoch, seq = self._events.position(kind, node)
        # Build the reply around the stored bytes: no object is encoded again.
        parts = [codec.map_header(4), codec.encode("items"), codec.array_header(len(items))]
        parts.extend(e.raw for e in items)
        parts.append(codec.encode("resourceVersion"))
        parts.append(codec.encode(str(rv)))
        parts.append(codec.encode("epoch"))
        parts.append(codec.encode(epoch))
        parts.append(codec.encode("seq"))
        parts.append(codec.encode(seq))
        return 200, b"".join(parts)

    def _watch_since(self, args: dict[str, Any]) -> Reply:
        rv = int(args["resourceVersion"])
        events = self._store.events_since(
            args["kind"], rv, namespace=_str(args, "namespace"), node=_str(args, "node"),
            label_selector=_str(args, "labelSelector"), field_selector=_str(args, "fieldSelector"),
        )
        parts = [codec.map_header(2), codec.encode("events"), codec.array_header(len(events))]
        for ev in events:
            parts.append(codec.array_header(2))
            parts.append(codec.encode(ev.etype))
            parts.append(ev.entry.raw)
        parts.append(codec.encode("resourceVersion"))
        parts.append(codec.encode(str(self._store.revision)))
        return 200, b"".join(parts)

    def _create(self, args: dict[str, Any]) -> Any:
        return self._store.create(args["object"], namespace=_str(args, "namespace"), dry_run=bool(args.get("dryRun")))

    def _update(self, args: dict[str, Any]) -> Any:
        return self._store.update(args["object"], dry_run=bool(args.get("dryRun")))

    def _update_status(self, args: dict[str, Any]) -> Any:
        return self._store.update(args["object"], subresource="status", dry_run=bool(args.get("dryRun")))

    def _patch(self, args: dict[str, Any]) -> Any:
        return self._store.patch(
            args["kind"], _str(args, "namespace", "") or "", args["name"], args["patch"],
            _str(args, "patchType", "merge") or "merge", subresource=_str(args, "subresource"),
            dry_run=bool(args.get("dryRun")),
        )

    def _bind(self, args: dict[str, Any]) -> Any:
        return self._store.bind(_str(args, "namespace", "") or "", args["name"], args["node"], uid=_str(args, "uid"),
                                dry_run=bool(args.get("dryRun")))

    def _delete(self, args: dict[str, Any]) -> Any:
        pre = args.get("preconditions") or {}
        grace = args.get("gracePeriodSeconds")
        return self._store.delete(
            args["kind"], _str(args, "namespace", "") or "", args["name"], uid=pre.get("uid"),
            resource_version=pre.get("resourceVersion"), propagation_policy=_str(args, "propagationPolicy"),
            grace_period_seconds=int(grace) if grace is not None else None, dry_run=bool(args.get("dryRun")),
        )
