"""The store core: every object, its resourceVersion, and the order of changes.

Design:
- All objects live in memory (`_committed`), each as an `Entry`: the dict and its msgpack
  bytes, encoded once and reused for the durable record, the reply and the watch event.
  Stored dicts are never mutated: a write builds a new dict.
- resourceVersion is one store-wide revision, bumped by every write.
- Writes are group-committed: a write is checked against the latest state including the
  writes still in flight (`_pending`), numbered, and queued; one writer task makes each batch
  durable in one backend transaction and only then applies it to `_committed`, publishes its
  events and answers the callers. Reads see `_committed` only, so nobody ever reads a write
  that could still be lost, and an acknowledged write is durable.
- Events are published in revision order, after durability, together with the apply to
  `_committed`; `list` reads `_committed` and the topic sequence numbers at one instant, so a
  list and the event stream fit together exactly (see `bus/events.py`).
- Every write passes defaulting, admission and validation from `kstore.api`, shared with the
  REST front door: one set of rules for every client.

The store is single-threaded (one asyncio loop); only the backend's write runs on a thread.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import Gauge, Histogram

from bus import codec
from kstore.api import admission, defaults, names, validation
from kstore.api.errors import (
    ApiError,
    Cause,
    already_exists,
    bad_request,
    conflict,
    gone,
    internal,
    invalid,
    not_found,
)
from kstore.api.kinds import KINDS, KindInfo, lookup
from kstore.api.patch import apply_patch
from kstore.api.selectors import parse_field_selector, parse_label_selector
from kstore.apistore.backends import Backend, Key, Row

log = logging.getLogger(__name__)

STORAGE_OBJECTS = Gauge("apiserver_storage_objects", "Number of stored objects at the time of last check split by kind.",
                        ["resource"])
BACKEND_DURATION = Histogram(
    "etcd_request_duration_seconds",
    "Backend request latency in seconds for each operation and object type (SQLite for the embedded store).",
    ["operation", "type"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
# Kinds whose status is set by controllers only: reset on create (as kube-apiserver's strategies do).
_RESET_STATUS_ON_CREATE = frozenset(
    {"Pod", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "ReplicaSet", "StatefulSet",
     "VolumeAttachment", "Namespace"}
)
# Metadata the server owns: a spec update keeps the stored values.
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


@dataclasses.dataclass(slots=True, frozen=True)
class Entry:
    obj: dict[str, Any]
    raw: bytes
    rv: int


@dataclasses.dataclass(slots=True, frozen=True)
class WatchEvent:
    rv: int
    kind: str
    etype: str
    namespace: str
    nodes: tuple[str, ...]
    entry: Entry
    prev: Entry | None  # the state before this event (None for ADDED)


# What a write returns: a future that resolves once the write is durable and published. Checks
# (validation, admission, conflicts) happen before it is returned and raise ApiError at once, so
# `await store.create(obj)` reads as usual, and the bus server can answer from a callback.
Written = asyncio.Future[Entry]


class EventSink(Protocol):
    def publish(self, kind: str, etype: str, entry: Entry, nodes: tuple[str, ...]) -> None: ...

    def position(self, kind: str, node: str | None) -> tuple[int, int]:
        """(epoch, seq) of the topic now: a list taken now is followed by seq+1."""
        ...


@dataclasses.dataclass(slots=True)
class _Op:
    info: KindInfo
    key: tuple[str, str]
    entry: Entry | None  # what is stored from now on; None: removed
    shown: Entry  # what the event and the reply carry (for a removal: the last state, new revision)
    etype: str
    old: Entry | None
    future: asyncio.Future[Entry]


def now_rfc3339(clock: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(int(clock()), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    elif not isinstance(meta, dict):
        raise bad_request("metadata must be an object")
    return meta


def _body(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what bumps metadata.generation when it changes."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class _View:
    """Admission's view of the store: the latest state, in-flight writes included."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        e = self._store._current(kind, (namespace, name))
        return e.obj if e else None

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        out = []
        for (ns, _), e in self._store._committed.get(kind, {}).items():
            if namespace is None or ns == namespace:
                cur = self._store._current(kind, (ns, e.obj["metadata"]["name"]))
                if cur is not None:
                    out.append(cur.obj)
        for (k, (ns, name)), e in self._store._pending.items():
            if k == kind and e is not None and (namespace is None or ns == namespace):
                if (ns, name) not in self._store._committed.get(kind, {}):
                    out.append(e.obj)
        return out


class Store:
    def __init__(
        self, backend: Backend, *, events: EventSink | None = None, history: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend
        self._events = events
        self._clock = clock
        self._committed: dict[str, dict[tuple[str, str], Entry]] = {k: {} for k in KINDS}
        self._by_node: dict[str, dict[str, set[tuple[str, str]]]] = {
            k: {} for k, info in KINDS.items() if info.node_field
        }
        self._pending: dict[tuple[str, tuple[str, str]], Entry | None] = {}
        self._batch: list[_Op] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set while no write is staged or being committed
        self._idle.set()
        self._revision = 0  # last revision handed out
        self._committed_revision = 0
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._compacted = 0  # events at or below this revision are no longer in the history
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._writer: asyncio.Task[None] | None = None
        self.view = _View(self)
        self._watchers: dict[str, list[Callable[[WatchEvent], None]]] = {}

    # ---- lifecycle

    def load(self) -> bool:
        """Read the backend into memory; True if it held nothing (a new cluster)."""
        revision, rows = self._backend.load()
        for kind, ns, name, rv, raw in rows:
            info = KINDS.get(kind)
            if info is None:
                log.warning("skipping stored object of unknown kind %s %s/%s", kind, ns, name)
                continue
            entry = Entry(codec.decode(raw), raw, rv)
            self._index(info, (ns, name), None, entry)
        self._revision = self._committed_revision = self._compacted = revision
        self._ensure_namespaces(("default", "kube-system", "kube-public", "kube-node-lease"))
        for kind, objs in self._committed.items():
            STORAGE_OBJECTS.labels(KINDS[kind].resource).set(len(objs))
        return not rows

    def _ensure_namespaces(self, wanted: Iterable[str]) -> None:
        """Namespaces every cluster has; created directly (before serving) if missing."""
        rows: list[Row] = []
        for ns in wanted:
            if ("", ns) in self._committed["Namespace"]:
                continue
            self._revision += 1
            obj = {"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": ns, "uid": str(uuid.uuid4()), "resourceVersion": str(self._revision),
                                "creationTimestamp": now_rfc3339(self._clock),
                                "labels": {"kubernetes.io/metadata.name": ns}},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            entry = Entry(obj, codec.encode(obj), self._revision)
            self._index(KINDS["Namespace"], ("", ns), None, entry)
            rows.append(("Namespace", "", ns, entry.rv, entry.raw))
        if rows:
            self._backend.write(rows, [], self._revision)
            self._committed_revision = self._compacted = self._revision

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._writer = self._loop.create_task(self._write_loop())

    async def close(self, drain_timeout: float = 5.0) -> None:
        """Finish the writes already taken (their callers are waiting for an answer), then stop."""
        if self._writer is not None and not self._writer.done():
            try:
                await asyncio.wait_for(self._idle.wait(), drain_timeout)
            except TimeoutError:
                log.warning("stopping with %d writes not yet durable", len(self._batch) + len(self._pending))
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)
        self._backend.close()

    @property
    def revision(self) -> int:
        return self._committed_revision

    # ---- reads (committed state only)

    @staticmethod
    def info(kind: str) -> KindInfo:
        if not isinstance(kind, str):
            raise bad_request("kind must be a string")
        info = KINDS.get(kind)
        if info is None:
            raise ApiError(404, "NotFound", f'the server doesn\'t have a resource type "{kind}"')
        return info

    def get(self, kind: str, namespace: str, name: str) -> Entry:
        info = self.info(kind)
        e = self._committed[kind].get((namespace if info.namespaced else "", name))
        if e is None:
            raise not_found(info.plural, name, group=info.group)
        return e

    def list(
        self, kind: str, *, namespace: str | None = None, label_selector: str | None = None,
        field_selector: str | None = None, node: str | None = None,
    ) -> tuple[list[Entry], int]:
        """Matching objects sorted by namespace and name, and the revision they are as of."""
        info = self.info(kind)
        labels = parse_label_selector(label_selector) if label_selector else None
        fields = parse_field_selector(field_selector, kind) if field_selector else None
        objs = self._committed[kind]
        if node is not None and info.node_field:
            keys: Iterable[tuple[str, str]] = self._by_node[kind].get(node, ())
            candidates = [objs[k] for k in keys]
        elif fields is not None and fields.single_name() is not None and (namespace or not info.namespaced):
            e = objs.get((namespace if info.namespaced else "", fields.single_name()))
            candidates = [e] if e else []
        else:
            candidates = list(objs.values())
        out = []
        for e in candidates:
            meta = e.obj["metadata"]
            if namespace and info.namespaced and meta.get("namespace") != namespace:
                continue
            if labels is not None and not labels.matches(meta.get("labels") or {}):
                continue
            if fields is not None and not fields.matches(e.obj):
                continue
            out.append(e)
        out.sort(key=lambda e: (e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]))
        return out, self._committed_revision

    def events_since(
        self, kind: str, rv: int, *, namespace: str | None = None, node: str | None = None,
        label_selector: str | None = None, field_selector: str | None = None,
    ) -> list[WatchEvent]:
        """The events of `kind` after revision `rv`, from the bounded history; 410 if too old.
        Selectors filter on the object as of each event."""
        self.info(kind)
        labels = parse_label_selector(label_selector) if label_selector else None
        fields = parse_field_selector(field_selector, kind) if field_selector else None
        if rv < self._compacted:
            raise gone(f"too old resource version: {rv} ({self._compacted})")
        out = []
        for ev in reversed(self._history):
            if ev.rv <= rv:
                break
            if ev.kind != kind:
                continue
            if namespace and ev.namespace != namespace:
                continue
            if node is not None and node not in ev.nodes:
                continue
            obj = ev.entry.obj
            if labels is not None and not labels.matches(obj["metadata"].get("labels") or {}):
                continue
            if fields is not None and not fields.matches(obj):
                continue
            out.append(ev)
        out.reverse()
        return out

    def add_watcher(self, kind: str, callback: Callable[[WatchEvent], None]) -> Callable[[], None]:
        """Call `callback` with every event of `kind` from now on (in revision order, from the
        writer, so it must not block); returns the function that removes it. Registering and
        reading `events_since` without an await in between leaves no gap."""
        self.info(kind)
        callbacks = self._watchers.setdefault(kind, [])
        callbacks.append(callback)

        def remove() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return remove

    # ---- writes

    def create(self, obj: Any, *, namespace: str | None = None, dry_run: bool = False) -> Written:
        info = self._info_of(obj)
        meta = _meta(obj)
        if info.namespaced:
            ns = meta.get("namespace") or namespace or "default"
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
            ns = ""
        if not meta.get("name") and meta.get("generateName"):
            for _ in range(8):
                meta["name"] = names.generate_name(str(meta["generateName"]))
                if self._current(info.kind, (ns, meta["name"])) is None:
                    break
        for field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(field, None)
        if info.kind in _RESET_STATUS_ON_CREATE:
            obj["status"] = {}
        defaults.apply_defaults(info, obj)
        admission.admit_create(info, obj, self.view)
        name = meta.get("name") or ""
        causes = validation.validate_create(info, obj)
        if causes:
            raise invalid(info.kind, name, causes, group=info.group)
        key = (ns, name)
        if self._current(info.kind, key) is not None:
            raise already_exists(info.plural, name, group=info.group)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339(self._clock)
        if _body(obj):
            meta["generation"] = 1
        if dry_run:
            return self._done(Entry(obj, codec.encode(obj), self._revision))
        return self._stage(info, key, obj, ADDED, None)

    def update(self, obj: Any, *, subresource: str | None = None, dry_run: bool = False) -> Written:
        """Replace an object (PUT). `subresource="status"` takes only the status from `obj`."""
        info = self._info_of(obj)
        meta = _meta(obj)
        ns = (meta.get("namespace") or "default") if info.namespaced else ""
        name = meta.get("name") or ""
        if not name:
            raise ApiError(422, "Invalid", f'{info.kind} "" is invalid: metadata.name: Required value: name is required')
        old = self._current(info.kind, (ns, name))
        if old is None:
            raise not_found(info.plural, name, group=info.group)
        self._check_rv(info, name, old, meta.get("resourceVersion"))
        return self._update_from(info, old, obj, subresource=subresource, dry_run=dry_run)

    def patch(
        self, kind: str, namespace: str, name: str, patch: Any, patch_type: str, *,
        subresource: str | None = None, dry_run: bool = False,
    ) -> Written:
        info = self.info(kind)
        ns = namespace if info.namespaced else ""
        old = self._current(kind, (ns, name))
        if old is None:
            raise not_found(info.plural, name, group=info.group)
        new = apply_patch(codec.decode(old.raw), patch, patch_type)
        meta = _meta(new)
        # A patch may carry a resourceVersion as an optimistic-concurrency precondition.
        requested_rv = meta.get("resourceVersion")
        if requested_rv != old.obj["metadata"].get("resourceVersion"):
            self._check_rv(info, name, old, requested_rv)
        if meta.get("name") != name or (info.namespaced and meta.get("namespace") != ns):
            raise bad_request("metadata.name and metadata.namespace cannot be changed by a patch")
        return self._update_from(info, old, new, subresource=subresource, dry_run=dry_run)

    def delete(
        self, kind: str, namespace: str, name: str, *, uid: str | None = None,
        resource_version: str | None = None, propagation_policy: str | None = None,
        grace_period_seconds: int | None = None, dry_run: bool = False,
    ) -> Written:
        """Delete as kube-apiserver does: finalizers and graceful pod deletion leave the object
        with a deletionTimestamp (MODIFIED); otherwise it goes at once (DELETED)."""
        info = self.info(kind)
        ns = namespace if info.namespaced else ""
        old = self._current(kind, (ns, name))
        if old is None:
            raise not_found(info.plural, name, group=info.group)
        ometa = old.obj["metadata"]
        if uid is not None and uid != ometa.get("uid"):
            raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {uid}, "
                           f"UID in object meta: {ometa.get('uid')}", kind=info.plural, name=name)
        if resource_version is not None and resource_version != ometa.get("resourceVersion"):
            raise ApiError(409, "Conflict", f"Precondition failed: ResourceVersion in precondition: "
                           f"{resource_version}, ResourceVersion in object meta: {ometa.get('resourceVersion')}",
                           kind=info.plural, name=name)
        if propagation_policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f'unsupported propagation policy "{propagation_policy}"')
        obj = codec.decode(old.raw)
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if propagation_policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif propagation_policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        grace = self._grace(info, obj, grace_period_seconds)
        if kind == "Namespace":
            # Namespaces end through their spec.finalizers (the namespace controller's job).
            obj.setdefault("status", {})["phase"] = "Terminating"
            if obj.get("spec", {}).get("finalizers"):
                finalizers = finalizers or []
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now_rfc3339(self._clock)
                    meta["deletionGracePeriodSeconds"] = 0
                return self._write_modified(info, old, obj, dry_run)
        if finalizers or grace > 0:
            if finalizers:
                meta["finalizers"] = finalizers
            if meta.get("deletionTimestamp") and (grace >= int(meta.get("deletionGracePeriodSeconds") or 0)):
                if finalizers == list(old.obj["metadata"].get("finalizers") or []):
                    return self._done(old)  # already terminating; nothing changes
            if not meta.get("deletionTimestamp") or grace < int(meta.get("deletionGracePeriodSeconds") or 0):
                meta["deletionTimestamp"] = now_rfc3339(lambda: self._clock() + grace)
                meta["deletionGracePeriodSeconds"] = grace
            return self._write_modified(info, old, obj, dry_run)
        if dry_run:
            return self._done(old)
        return self._stage(info, (ns, name), None, DELETED, old)

    def bind(self, namespace: str, name: str, node: str, *, uid: str | None = None,
             dry_run: bool = False) -> Written:
        """The pods/binding subresource: assign a pod to a node, once, as kube-apiserver does
        (spec.nodeName set and the PodScheduled condition True)."""
        info = self.info("Pod")
        old = self._current("Pod", (namespace, name))
        if old is None:
            raise not_found(info.plural, name)
        meta = old.obj["metadata"]
        if uid is not None and uid != meta.get("uid"):
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on pods/binding \"{name}\": "
                           f"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.get('uid')}",
                           kind="pods/binding", name=name)
        if meta.get("deletionTimestamp"):
            raise ApiError(409, "Conflict", f"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} "
                           "is being deleted, cannot be assigned to a host", kind="pods/binding", name=name)
        current = (old.obj.get("spec") or {}).get("nodeName")
        if current:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} is '
                           f'already assigned to node "{current}"', kind="pods/binding", name=name)
        if not isinstance(node, str) or not node:
            raise invalid("Binding", name, [Cause("target.name", "FieldValueRequired", "Required value")])
        obj = codec.decode(old.raw)
        obj["spec"]["nodeName"] = node
        status = obj.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": now_rfc3339(self._clock)})
        status["conditions"] = conds
        return self._write_modified(info, old, obj, dry_run)

    # ---- write helpers

    def _info_of(self, obj: Any) -> KindInfo:
        if not isinstance(obj, dict):
            raise bad_request("the object must be a JSON object")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise bad_request("Object 'Kind' is missing in the object")
        if not isinstance(api_version, str) or not api_version:
            raise bad_request("Object 'apiVersion' is missing in the object")
        info = lookup(api_version, kind)
        if info is None:
            raise ApiError(404, "NotFound", f'no matches for kind "{kind}" in version "{api_version}"')
        return info

    def _check_rv(self, info: KindInfo, name: str, old: Entry, requested: Any) -> None:
        if requested in (None, ""):
            return  # unconditional update, as kube-apiserver allows for these kinds
        if str(requested) != old.obj["metadata"].get("resourceVersion"):
            try:
                int(str(requested))
            except ValueError:
                raise ApiError(400, "BadRequest", f'invalid resourceVersion "{requested}"') from None
            raise conflict(info.plural, name, group=info.group)

    def _grace(self, info: KindInfo, obj: dict[str, Any], requested: int | None) -> int:
        """Graceful deletion applies to pods bound to a node: their kubelet finishes the delete."""
        if info.kind != "Pod" or not (obj.get("spec") or {}).get("nodeName"):
            return 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, int(requested))
        return int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    def _update_from(
        self, info: KindInfo, old: Entry, new: dict[str, Any], *, subresource: str | None, dry_run: bool,
    ) -> Written:
        oobj = old.obj
        ometa = oobj["metadata"]
        if subresource == "status":
            if not info.has_status:
                raise not_found(info.plural, ometa["name"], group=info.group)
            merged = codec.decode(old.raw)
            merged["status"] = new.get("status") or {}
            causes = validation.validate_status_update(info, merged, oobj)
        elif subresource is None:
            merged = new
            meta = merged["metadata"]
            for field in _SYSTEM_META:
                if field in ometa:
                    meta[field] = ometa[field]
                else:
                    meta.pop(field, None)
            if info.has_status:
                if "status" in oobj:
                    merged["status"] = oobj["status"]
                else:
                    merged.pop("status", None)
            defaults.apply_defaults(info, merged)
            admission.admit_update(info, merged, oobj, self.view)
            causes = validation.validate_update(info, merged, oobj)
            if "generation" in ometa and _body(merged) != _body(oobj):
                meta["generation"] = int(ometa["generation"]) + 1
        else:
            raise not_found(info.plural, ometa["name"], group=info.group)
        if causes:
            raise invalid(info.kind, ometa["name"], causes, group=info.group)
        return self._write_modified(info, old, merged, dry_run)

    def _write_modified(self, info: KindInfo, old: Entry, obj: dict[str, Any], dry_run: bool) -> Written:
        meta = obj["metadata"]
        meta["resourceVersion"] = old.obj["metadata"].get("resourceVersion")
        if obj == old.obj:
            return self._done(old)  # a no-op write neither bumps the revision nor sends an event
        key = ((meta.get("namespace") or "") if info.namespaced else "", meta["name"])
        if dry_run:
            return self._done(Entry(obj, codec.encode(obj), old.rv))
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not self._grace_pending(info, obj):
            return self._stage(info, key, None, DELETED, old, final=obj)
        return self._stage(info, key, obj, MODIFIED, old)

    def _done(self, entry: Entry) -> Written:
        fut: asyncio.Future[Entry] = self._loop.create_future()
        fut.set_result(entry)
        return fut

    def _grace_pending(self, info: KindInfo, obj: dict[str, Any]) -> bool:
        """A terminating pod on a node stays until its kubelet deletes it with grace 0."""
        if info.kind == "Namespace":
            return bool((obj.get("spec") or {}).get("finalizers"))
        return info.kind == "Pod" and int(obj["metadata"].get("deletionGracePeriodSeconds") or 0) > 0

    def _current(self, kind: str, key: tuple[str, str]) -> Entry | None:
        pk = (kind, key)
        if pk in self._pending:
            return self._pending[pk]
        return self._committed[kind].get(key)

    def _stage(
        self, info: KindInfo, key: tuple[str, str], obj: dict[str, Any] | None, etype: str, old: Entry | None,
        *, final: dict[str, Any] | None = None,
    ) -> asyncio.Future[Entry]:
        """Number a write, queue it for the next group commit; resolves once durable and published."""
        self._revision += 1
        rv = self._revision
        if obj is None:
            obj = copy.copy(final if final is not None else (old.obj if old else {}))
            obj["metadata"] = dict(obj.get("metadata") or {})
        obj["metadata"]["resourceVersion"] = str(rv)
        try:
            shown = Entry(obj, codec.encode(obj), rv)
        except codec.CodecError as e:
            self._revision -= 1
            raise bad_request(f"the object cannot be stored: {e}") from e
        entry = None if etype == DELETED else shown
        fut: asyncio.Future[Entry] = self._loop.create_future()
        self._pending[(info.kind, key)] = entry
        self._batch.append(_Op(info, key, entry, shown, etype, old, fut))
        self._idle.clear()
        self._wake.set()
        return fut

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._batch:
                batch, self._batch = self._batch, []
                revision = self._revision
                puts: list[Row] = []
                deletes: list[Key] = []
                for op in batch:
                    ns, name = op.key
                    if op.entry is not None:
                        puts.append((op.info.kind, ns, name, op.entry.rv, op.entry.raw))
                    else:
                        deletes.append((op.info.kind, ns, name))
                start = time.perf_counter()
                try:
                    if self._backend.blocking:
                        await loop.run_in_executor(self._executor, self._backend.write, puts, deletes, revision)
                    else:
                        self._backend.write(puts, deletes, revision)
                except Exception as e:
                    log.exception("backend write of %d objects failed", len(batch))
                    self._fail(batch, e)
                    break
                elapsed = time.perf_counter() - start
                for op in batch:
                    BACKEND_DURATION.labels(_OPERATION[op.etype], op.info.resource).observe(elapsed)
                self._apply(batch, revision)
            self._idle.set()

    def _fail(self, batch: list[_Op], error: Exception) -> None:
        """Nothing of the batch was stored. Later staged writes were built on it: fail them too."""
        failed = batch + self._batch
        self._batch = []
        self._pending.clear()
        self._revision = self._committed_revision
        err = internal(f"storage write failed: {error}")
        for op in failed:
            if not op.future.done():
                op.future.set_exception(err)

    def _apply(self, batch: list[_Op], revision: int) -> None:
        for op in batch:
            kind = op.info.kind
            pk = (kind, op.key)
            if self._pending.get(pk, _MISSING) is op.entry:
                del self._pending[pk]
            current = self._committed[kind].get(op.key)
            self._index(op.info, op.key, current, op.entry)
            shown = op.shown
            nodes = tuple({n for n in (
                op.info.node_of(op.old.obj) if op.old else "", op.info.node_of(shown.obj)) if n})
            ns = shown.obj["metadata"].get("namespace", "")
            ev = WatchEvent(shown.rv, kind, op.etype, ns, nodes, shown, op.old)
            if len(self._history) == self._history.maxlen:
                self._compacted = self._history[0].rv
            self._history.append(ev)
            self._committed_revision = shown.rv
            if self._events is not None:
                self._events.publish(kind, op.etype, shown, nodes)
            for watcher in self._watchers.get(kind, ()):
                watcher(ev)
            if not op.future.done():
                op.future.set_result(shown)
            STORAGE_OBJECTS.labels(op.info.resource).set(len(self._committed[kind]))
        self._committed_revision = revision

    def _index(self, info: KindInfo, key: tuple[str, str], old: Entry | None, new: Entry | None) -> None:
        objs = self._committed[info.kind]
        if new is None:
            objs.pop(key, None)
        else:
            objs[key] = new
        if info.node_field:
            by_node = self._by_node[info.kind]
            old_node = info.node_of(old.obj) if old else ""
            new_node = info.node_of(new.obj) if new else ""
            if old_node and old_node != new_node:
                s = by_node.get(old_node)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del by_node[old_node]
            if new_node:
                by_node.setdefault(new_node, set()).add(key)


_MISSING = object()
_OPERATION = {ADDED: "create", MODIFIED: "update", DELETED: "delete"}
