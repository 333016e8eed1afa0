"""The PersistentVolume controller process: binding, provisioning, reclaim, protection, expansion.

Design:
- Informers on PVs, PVCs, StorageClasses and Pods feed two work queues named as in Kubernetes,
  `claims` and `volumes`, plus `pvc-protection`, `pv-protection` and `expand`. One worker per
  queue: syncs of one queue are not re-entrant (the binder's two-step bind assumes it).
- A worker pops a key, reads the caches, calls the pure `sync_*` function (binder.py) and
  applies its actions in order (`apply`), stopping at the first failed write: the next sync
  starts from what was stored. Objects a write returns go straight into the cache (client-go's
  "assume"), so the next sync does not act on a state older than its own write.
- Backend operations (provision, delete, recycle, expand) run on a thread pool, one at a time
  per volume ("operation already pending" is expected, not an error), with per-operation
  exponential backoff after failures, and record their outcome as writes and events.
- Nothing is half-provisioned: the image is created under its final name only when complete
  (pool.py), and removed again if its PV cannot be created; a provisioned image whose PV and
  claim are both gone (a crash between the two steps) is removed by the start-up sweep.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.quantity import format_quantity, to_bytes
from kstore.client.bus_client import BusClient, object_key
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.client.workqueue import WorkQueue, run_worker
from kstore.controllers.pv import binder
from kstore.controllers.pv.index import VolumeIndex
from kstore.controllers.pv.matching import claim_class
from kstore.controllers.pv.model import (
    ANN_BOUND_BY_CONTROLLER,
    ANN_SELECTED_NODE,
    NO_PROVISIONER,
    PV_PROTECTION,
    PVC_PROTECTION,
    Action,
    DeleteVolume,
    Driver,
    Event,
    ExpandVolume,
    Obj,
    Provision,
    RecycleVolume,
    Remove,
    Update,
)
from kstore.controllers.pv.protection import claim_in_use, volume_releasable
from kstore.observe.metrics import E2E_LATENCY, time_operation, timed_sync
from kstore.volume.drivers import DriverMap
from kstore.volume.handle import VolumeHandle
from kstore.volume.pool import Pool, PoolError
from kstore.volume.pv_source import handle_from_pv, provisioning_annotations, pv_spec_for

log = logging.getLogger(__name__)

COMPONENT = "persistentvolume-controller"
OP_BACKOFF = (0.5, 120.0)  # first retry delay and cap, seconds (Kubernetes' goroutinemap: 500ms … 2m2s)
# Kubernetes runs one claim and one volume worker; each sync here waits for durable writes
# (a bind is four), so many run at once: the store commits their writes together.
CLAIM_WORKERS = 64
VOLUME_WORKERS = 8


def claims_of_pod(pod: Obj) -> list[str]:
    """Names of the claims a pod uses (its PVC volumes and its generic ephemeral volumes)."""
    names = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if v.get("persistentVolumeClaim"):
            names.append(v["persistentVolumeClaim"].get("claimName", ""))
        elif v.get("ephemeral"):
            names.append(f"{pod['metadata']['name']}-{v.get('name', '')}")
    return names


class CacheView:
    """The binder's ClusterView over the informer caches."""

    def __init__(self, volumes: Informer, claims: Informer, classes: Informer, pods: Informer,
                 nodes: Informer, drivers: DriverMap) -> None:
        self._volumes, self._claims, self._classes, self._pods = volumes, claims, classes, pods
        self._nodes = nodes
        self._drivers = drivers
        self.index = VolumeIndex()
        volumes.add_handler(Handler(on_add=self.index.put, on_update=lambda _o, n: self.index.put(n),
                                    on_delete=lambda o: self.index.remove(o["metadata"]["name"])))

    def claim(self, key: str) -> Obj | None:
        return self._claims.get(key)

    def volume(self, name: str) -> Obj | None:
        return self._volumes.get(name)

    def volumes(self) -> Iterable[Obj]:
        return self._volumes.list()

    def candidate_volumes(self, claim: Obj, node: Obj | None) -> Iterable[Obj]:
        return self.index.candidates(claim, node)

    def storage_class(self, name: str) -> Obj | None:
        return self._classes.get(name)

    def pods_using_claim(self, namespace: str, name: str) -> list[Obj]:
        return self._pods.cache.by_index("claims", f"{namespace}/{name}")

    def node(self, name: str) -> Obj | None:
        return self._nodes.get(name)

    def driver(self, provisioner: str) -> Driver | None:
        if provisioner == NO_PROVISIONER:
            return None
        return self._drivers.resolve(provisioner)


class PVController:
    def __init__(self, client: BusClient, *, drivers: DriverMap, pool: Pool, resync: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.drivers = drivers
        self.pool = pool
        self.clock = clock
        self.volumes = Informer(client, "PersistentVolume", resync=resync)
        self.claims = Informer(client, "PersistentVolumeClaim", resync=resync)
        self.classes = Informer(client, "StorageClass")
        self.pods = Informer(client, "Pod")
        self.nodes = Informer(client, "Node")
        self.pods.add_indexer("claims", lambda p: [f"{p['metadata'].get('namespace')}/{c}" for c in claims_of_pod(p)])
        self.view = CacheView(self.volumes, self.claims, self.classes, self.pods, self.nodes, drivers)
        self.recorder = EventRecorder(client, component=COMPONENT)
        self.claim_queue: WorkQueue[str] = WorkQueue("claims")
        self.volume_queue: WorkQueue[str] = WorkQueue("volumes")
        self.pvc_protection: WorkQueue[str] = WorkQueue("pvcprotection")
        self.pv_protection: WorkQueue[str] = WorkQueue("pvprotection")
        self.expand_queue: WorkQueue[str] = WorkQueue("volume_expand")
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pv-op")
        self._ops: dict[str, asyncio.Task[None]] = {}
        self._op_failures: dict[str, tuple[int, float]] = {}  # op → (failures, not before)
        self._rng = random.Random()
        self._first_seen: dict[str, float] = {}  # claim uid → when first seen Pending (for the e2e metric)
        self._wire()

    # ---- wiring

    def _wire(self) -> None:
        def claim_changed(obj: Obj) -> None:
            key = object_key(obj)
            self.claim_queue.add(key)
            if obj["metadata"].get("deletionTimestamp"):
                self.pvc_protection.add(key)
            self.expand_queue.add(key)
            uid = obj["metadata"].get("uid")
            if uid and uid not in self._first_seen and (obj.get("status") or {}).get("phase") != "Bound":
                self._first_seen[uid] = self.clock()

        def claim_deleted(obj: Obj) -> None:
            self.claim_queue.add(object_key(obj))
            self._first_seen.pop(obj["metadata"].get("uid", ""), None)
            # a volume bound to it becomes Released
            name = (obj.get("spec") or {}).get("volumeName")
            if name:
                self.volume_queue.add(name)

        def volume_changed(obj: Obj) -> None:
            name = obj["metadata"]["name"]
            self.volume_queue.add(name)
            if obj["metadata"].get("deletionTimestamp"):
                self.pv_protection.add(name)
            ref = (obj.get("spec") or {}).get("claimRef")
            if ref:
                self.claim_queue.add(f"{ref.get('namespace')}/{ref.get('name')}")

        def pod_changed(obj: Obj) -> None:
            ns = obj["metadata"].get("namespace")
            for c in claims_of_pod(obj):
                key = f"{ns}/{c}"
                claim = self.claims.get(key)
                if claim is not None and claim["metadata"].get("deletionTimestamp"):
                    self.pvc_protection.add(key)

        def class_changed(obj: Obj) -> None:
            name = obj["metadata"]["name"]
            for claim in self.claims.list():
                if claim_class(claim) == name and (claim.get("status") or {}).get("phase") != "Bound":
                    self.claim_queue.add(object_key(claim))

        self.claims.add_handler(Handler(on_add=claim_changed, on_update=lambda _o, n: claim_changed(n),
                                        on_delete=claim_deleted))
        self.volumes.add_handler(Handler(on_add=volume_changed, on_update=lambda _o, n: volume_changed(n),
                                         on_delete=lambda o: self.volume_queue.add(o["metadata"]["name"])))
        self.pods.add_handler(Handler(on_add=pod_changed, on_update=lambda _o, n: pod_changed(n),
                                      on_delete=pod_changed))
        self.classes.add_handler(Handler(on_add=class_changed, on_update=lambda _o, n: class_changed(n)))

    @property
    def informers(self) -> list[Informer]:
        return [self.classes, self.nodes, self.volumes, self.claims, self.pods]

    def workers(self, *, claim_workers: int = CLAIM_WORKERS, volume_workers: int = VOLUME_WORKERS
                ) -> list[Awaitable[None]]:
        """Several workers on the claims and volumes queues: the queue never hands one key to two
        workers, and two claims racing for one volume are kept apart by the index assuming each
        bind before its write (and, failing that, by the volume's resourceVersion: a Conflict)."""
        claims = self._timed("claims", self.sync_claim)
        volumes = self._timed("volumes", self.sync_volume)
        return [
            *(run_worker(self.claim_queue, claims) for _ in range(claim_workers)),
            *(run_worker(self.volume_queue, volumes) for _ in range(volume_workers)),
            run_worker(self.pvc_protection, self._timed("pvcprotection", self.sync_claim_protection)),
            run_worker(self.pv_protection, self._timed("pvprotection", self.sync_volume_protection)),
            run_worker(self.expand_queue, self._timed("volume_expand", self.sync_expand)),
        ]

    def _timed(self, loop: str, fn: Callable[[str], Awaitable[None]]) -> Callable[[str], Awaitable[None]]:
        return timed_sync("pv-controller", loop, fn)

    def shut_down(self) -> None:
        for q in (self.claim_queue, self.volume_queue, self.pvc_protection, self.pv_protection, self.expand_queue):
            q.shut_down()
        for t in self._ops.values():
            t.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ---- syncs

    async def sync_claim(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None:
            return
        await self.apply(binder.sync_claim(claim, self.view, now=self.clock()))

    async def sync_volume(self, name: str) -> None:
        volume = self.volumes.get(name)
        if volume is None:
            return
        await self.apply(binder.sync_volume(volume, self.view, now=self.clock()))

    async def sync_claim_protection(self, key: str) -> None:
        """kubernetes.io/pvc-protection: release a deleted claim once no running pod uses it."""
        claim = self.claims.get(key)
        if claim is None or not claim["metadata"].get("deletionTimestamp"):
            return
        if PVC_PROTECTION not in (claim["metadata"].get("finalizers") or []):
            return
        ns, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
        if claim_in_use(self.view.pods_using_claim(ns, name)):
            log.info("claim %s: deleted but in use by a pod; keeping %s", key, PVC_PROTECTION)
            return
        await self._drop_finalizer(claim, PVC_PROTECTION)

    async def sync_volume_protection(self, name: str) -> None:
        """kubernetes.io/pv-protection: release a deleted volume once it is not bound."""
        volume = self.volumes.get(name)
        if volume is None or not volume["metadata"].get("deletionTimestamp"):
            return
        if PV_PROTECTION not in (volume["metadata"].get("finalizers") or []) or not volume_releasable(volume):
            return
        await self._drop_finalizer(volume, PV_PROTECTION)

    async def _drop_finalizer(self, obj: Obj, finalizer: str) -> None:
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        try:
            await self.client.update(new)
            log.info("%s %s: removed %s", obj["kind"], object_key(obj), finalizer)
        except ApiError as e:
            if e.code != 404:
                raise

    async def sync_expand(self, key: str) -> None:
        """Controller-side expansion: a bound claim asking for more than its volume has."""
        claim = self.claims.get(key)
        if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
            return
        volume = self.volumes.get((claim.get("spec") or {}).get("volumeName", ""))
        if volume is None:
            return
        requested = to_bytes(((claim["spec"].get("resources") or {}).get("requests") or {}).get("storage", "0"))
        have = to_bytes(((volume.get("spec") or {}).get("capacity") or {}).get("storage", "0"))
        if requested > have:
            await self.apply([ExpandVolume(volume["metadata"]["name"], key, requested)])

    # ---- applying decisions

    async def apply(self, actions: list[Action]) -> None:
        written: dict[tuple[str, str], str] = {}  # what this sync wrote: the next write of it follows on
        for action in actions:
            if isinstance(action, Update):
                ident = (action.obj["kind"], object_key(action.obj))
                if ident in written:
                    action.obj["metadata"]["resourceVersion"] = written[ident]
                stored = await self._update(action)
                written[ident] = stored["metadata"]["resourceVersion"]
            elif isinstance(action, Event):
                self.recorder.event(action.obj, action.type, action.reason, action.message)
            elif isinstance(action, Remove):
                try:
                    await self.client.delete(action.kind, action.namespace, action.name, uid=action.uid)
                except ApiError as e:
                    if e.code != 404:
                        raise
            elif isinstance(action, Provision):
                self._start(f"provision-{action.claim_key}", self._provision, action,
                            retry=(self.claim_queue, action.claim_key))
            elif isinstance(action, DeleteVolume):
                self._start(f"delete-{action.volume_name}", self._delete_volume, action,
                            retry=(self.volume_queue, action.volume_name))
            elif isinstance(action, RecycleVolume):
                self._start(f"recycle-{action.volume_name}", self._recycle_volume, action,
                            retry=(self.volume_queue, action.volume_name))
            elif isinstance(action, ExpandVolume):
                self._start(f"expand-{action.volume_name}", self._expand_volume, action,
                            retry=(self.expand_queue, action.claim_key))

    async def _update(self, action: Update) -> Obj:
        obj = action.obj
        is_volume = obj.get("kind") == "PersistentVolume"
        if is_volume and not action.status:
            self.view.index.put(obj)  # assume the write: no other worker picks this volume meanwhile
        try:
            stored = await (self.client.update_status(obj) if action.status else self.client.update(obj))
        except ApiError:
            if is_volume:  # undo the assumption: back to what the cache knows
                known = self.volumes.get(obj["metadata"]["name"])
                if known is not None:
                    self.view.index.put(known)
                else:
                    self.view.index.remove(obj["metadata"]["name"])
            raise
        # Assume: the cache holds our write until the watch event (same or newer) arrives.
        informer = self.volumes if stored["kind"] == "PersistentVolume" else self.claims
        key = object_key(stored)
        cached = informer.cache.get(key)
        if cached is None or int(cached["metadata"]["resourceVersion"]) < int(stored["metadata"]["resourceVersion"]):
            informer.cache.put(key, stored)
            if stored["kind"] == "PersistentVolume":
                self.view.index.put(stored)
        if stored["kind"] == "PersistentVolumeClaim" and (stored.get("status") or {}).get("phase") == "Bound":
            seen = self._first_seen.pop(stored["metadata"].get("uid", ""), None)
            if seen is not None:
                E2E_LATENCY.labels("pvc_bound").observe(max(0.0, self.clock() - seen))
        return stored

    def _start(self, op: str, fn: Callable[[Any], Awaitable[None]], action: Any, *,
               retry: tuple[WorkQueue[str], str]) -> None:
        """Run one backend operation per volume at a time, with exponential backoff after failures;
        after a failure, `retry` (a queue and key) is synced again once the backoff has passed."""
        running = self._ops.get(op)
        if running is not None and not running.done():
            return  # operation already pending: expected
        failures, not_before = self._op_failures.get(op, (0, 0.0))
        now = time.monotonic()
        if now < not_before:
            return
        task = asyncio.get_running_loop().create_task(fn(action))
        self._ops[op] = task

        def done(t: asyncio.Task[None]) -> None:
            if self._ops.get(op) is t:
                del self._ops[op]
            if t.cancelled():
                return
            if t.exception() is None:
                self._op_failures.pop(op, None)
                return
            count = failures + 1
            delay = min(OP_BACKOFF[0] * 2 ** (count - 1), OP_BACKOFF[1])
            self._op_failures[op] = (count, time.monotonic() + delay)
            log.warning("%s failed (attempt %d), retrying in %.1fs: %s", op, count, delay, t.exception())
            queue, key = retry
            queue.add_after(key, delay)

        task.add_done_callback(done)

    async def _latency(self, volume: Obj, operation: str) -> None:
        """The configured delay of the volume's driver for `operation` (cloud-disk timings)."""
        driver = self.drivers.for_volume_source(volume.get("spec") or {})
        if driver is not None and driver.latency is not None:
            await asyncio.sleep(driver.latency.sample(operation, self._rng))

    async def _blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def _provision(self, action: Provision) -> None:
        claim = self.claims.get(action.claim_key)
        if claim is None or claim["metadata"].get("deletionTimestamp"):
            return
        uid = claim["metadata"]["uid"]
        name = f"pvc-{uid}"
        if self.volumes.get(name) is not None:
            return  # provisioned already; the binder binds it
        sc = self.classes.get(action.class_name)
        if sc is None:
            self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{action.class_name}" not found')
            return
        provisioner = sc.get("provisioner", "")
        driver = self.drivers.resolve(provisioner)
        if driver is None:
            return
        spec = claim.get("spec") or {}
        backend = self.drivers.backend_for(driver, spec.get("accessModes") or [], spec.get("volumeMode", "Filesystem"))
        node = (claim["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
        request = (spec.get("resources") or {}).get("requests", {}).get("storage", "0")
        try:
            size = to_bytes(request)
        except ValueError:
            self.recorder.event(claim, "Warning", "ProvisioningFailed", f'invalid request "{request}"')
            return
        source = self._clone_source(claim, action.class_name, size)
        self.recorder.event(claim, "Normal", "Provisioning",
                            f'External provisioner is provisioning volume for claim "{action.claim_key}"')
        if driver.latency is not None:
            await asyncio.sleep(driver.latency.sample("provision", self._rng))
        with time_operation(provisioner, "volume_provision") as timer:
            try:
                handle = await self._blocking(self.pool.provision, backend=backend, name=name, size_bytes=size,
                                              node=node, volume_mode=spec.get("volumeMode", "Filesystem"),
                                              params=sc.get("parameters") or {}, source=source)
            except PoolError as e:
                timer.mark_failed()
                self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                    f"failed to provision volume with StorageClass \"{action.class_name}\": {e}")
                raise
            pv = {
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {**provisioning_annotations(provisioner),
                                                           ANN_BOUND_BY_CONTROLLER: "yes"}},
                "spec": pv_spec_for(driver, handle, claim=claim, storage_class=sc),
            }
            pv["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": claim["metadata"]["namespace"],
                                      "name": claim["metadata"]["name"], "uid": uid, "apiVersion": "v1",
                                      "resourceVersion": claim["metadata"].get("resourceVersion", "")}
            try:
                stored = await self.client.create(pv)
            except ApiError as e:
                if e.code == 409:
                    return  # an earlier attempt created it
                timer.mark_failed()
                # No PV, so no orphan image either.
                await self._blocking(self.pool.delete, handle)
                self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                    f"failed to create PersistentVolume {name}: {e.message}")
                raise
        self.volumes.cache.put(name, stored)
        self.view.index.put(stored)
        self.recorder.event(claim, "Normal", "ProvisioningSucceeded",
                            f"Successfully provisioned volume {name}")
        log.info("claim %s: provisioned %s on %s (%s)", action.claim_key, name, backend, format_quantity(size))
        self.claim_queue.add(action.claim_key)

    def _clone_source(self, claim: Obj, class_name: str, size: int) -> VolumeHandle | None:
        """The pool volume a claim's dataSource names (a clone), checked as the CSI external
        provisioner checks it; raises (after a Warning event) when it cannot be used yet."""
        spec = claim.get("spec") or {}
        ref = spec.get("dataSourceRef") or spec.get("dataSource")
        if not ref:
            return None
        ns = claim["metadata"]["namespace"]
        kind, name = ref.get("kind", ""), ref.get("name", "")

        def fail(message: str) -> RuntimeError:
            self.recorder.event(claim, "Warning", "ProvisioningFailed", message)
            return RuntimeError(message)

        if kind != "PersistentVolumeClaim" or ref.get("apiGroup"):
            raise fail(f"failed to provision volume with StorageClass \"{class_name}\": data source {kind} "
                       f"{name} is not supported: kstore clones PersistentVolumeClaims only")
        prefix = f"error getting handle for DataSource Type PersistentVolumeClaim by Name {name}"
        src = self.claims.get(f"{ns}/{name}")
        if src is None:
            raise fail(f'{prefix}: error getting PVC {name} from api server: persistentvolumeclaims "{name}" '
                       "not found")
        if (src.get("status") or {}).get("phase") != "Bound":
            raise fail(f"{prefix}: the PVC {name} is not Bound")
        if claim_class(src) != class_name:
            raise fail(f"{prefix}: the source PVC and destination PVCs must be in the same storage class")
        volume = self.volumes.get(src["spec"].get("volumeName", ""))
        handle = handle_from_pv(volume, state_dir=self.pool.state_dir) if volume else None
        if handle is None:
            raise fail(f"{prefix}: the volume of PVC {name} is not one kstore can clone")
        if handle.size > size:
            raise fail("error, new PVC request must be greater than or equal in size to the specified PVC data "
                       f"source, requested {size} but source is {handle.size}")
        return handle

    async def _delete_volume(self, action: DeleteVolume) -> None:
        volume = self.volumes.get(action.volume_name)
        if volume is None or (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
            return
        handle = handle_from_pv(volume, state_dir=self.pool.state_dir)
        plugin = _plugin_of(volume)
        await self._latency(volume, "delete")
        with time_operation(plugin, "volume_delete") as timer:
            if handle is None:
                timer.mark_failed()
                await self.apply(binder.volume_failed(volume, "error getting deleter volume plugin for volume "
                                                      f'"{action.volume_name}": no deletable volume plugin matched',
                                                      now=self.clock(), reason="VolumeFailedDelete"))
                return
            try:
                await self._blocking(self.pool.delete, handle)
            except PoolError as e:
                timer.mark_failed()
                await self.apply(binder.volume_failed(volume, str(e), now=self.clock(), reason="VolumeFailedDelete"))
                raise
        try:
            await self.client.delete("PersistentVolume", None, action.volume_name, uid=volume["metadata"]["uid"])
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        log.info("volume %s: deleted (reclaim policy Delete)", action.volume_name)

    async def _recycle_volume(self, action: RecycleVolume) -> None:
        volume = self.volumes.get(action.volume_name)
        if volume is None or (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
            return
        handle = handle_from_pv(volume, state_dir=self.pool.state_dir)
        with time_operation(_plugin_of(volume), "volume_recycle") as timer:
            if handle is None:
                timer.mark_failed()
                await self.apply(binder.volume_failed(volume, "No recycler plugin found for the volume!",
                                                      now=self.clock(), reason="VolumeFailedRecycle"))
                return
            try:
                await self._blocking(self.pool.recycle, handle)
            except PoolError as e:
                timer.mark_failed()
                await self.apply(binder.volume_failed(volume, str(e), now=self.clock(), reason="VolumeFailedRecycle"))
                raise
        self.recorder.event(volume, "Normal", "VolumeRecycled", "Volume recycled")
        await self.apply(binder.volume_recycled(volume, now=self.clock()))

    async def _expand_volume(self, action: ExpandVolume) -> None:
        volume = self.volumes.get(action.volume_name)
        claim = self.claims.get(action.claim_key)
        if volume is None or claim is None:
            return
        handle = handle_from_pv(volume, state_dir=self.pool.state_dir)
        plugin = _plugin_of(volume)
        await self._latency(volume, "expand")
        self.recorder.event(claim, "Normal", "Resizing", f"External resizer is resizing volume {action.volume_name}")
        with time_operation(plugin, "volume_expand") as timer:
            if handle is not None:
                try:
                    await self._blocking(self.pool.expand, handle, action.size)
                except PoolError as e:
                    timer.mark_failed()
                    self.recorder.event(claim, "Warning", "VolumeResizeFailed", f"resize volume {action.volume_name} "
                                        f"failed: {e}")
                    raise
        size = format_quantity(action.size)
        new_pv = copy.deepcopy(volume)
        new_pv["spec"]["capacity"]["storage"] = size
        await self._update(Update(new_pv))
        new_claim = copy.deepcopy(claim)
        status = new_claim.setdefault("status", {})
        needs_node = (volume["spec"].get("volumeMode") or "Filesystem") == "Filesystem" and (
            handle is None or handle.backend == "block")
        if needs_node:
            # The kubelet grows the filesystem when the volume is mounted (or next mounted).
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "FileSystemResizePending"]
            conds.append({"type": "FileSystemResizePending", "status": "True",
                          "lastTransitionTime": _rfc3339(self.clock()),
                          "message": "Waiting for user to (re-)start a pod to finish file system resize of volume "
                                     "on node."})
            status["conditions"] = conds
            status["allocatedResources"] = {"storage": size}
            status["allocatedResourceStatuses"] = {"storage": "NodeResizePending"}
            await self._update(Update(new_claim, status=True))
            self.recorder.event(claim, "Normal", "FileSystemResizeRequired",
                                "Require file system resize of volume on node")
        else:
            status["capacity"] = dict(status.get("capacity") or {}, storage=size)
            status["allocatedResources"] = {"storage": size}
            status.pop("allocatedResourceStatuses", None)
            await self._update(Update(new_claim, status=True))
            self.recorder.event(claim, "Normal", "VolumeResizeSuccessful", "ExpandVolume succeeded for volume "
                                f"{action.claim_key}")

    # ---- start-up sweep

    async def sweep_orphans(self) -> None:
        """Remove provisioned pool volumes whose PV and claim are both gone (a crash between
        creating the image and creating its PV): the pool never keeps what no object names.
        Half-made entries of an interrupted operation go first."""
        for path in await self._blocking(self.pool.clean_temp):
            log.info("pool: removed the leftover %s of an interrupted operation", path)
        claims = {c["metadata"].get("uid") for c in self.claims.list()}
        volumes = {v["metadata"]["name"] for v in self.volumes.list()}
        for handle in await self._blocking(self.pool.list_volumes):
            if not handle.name.startswith("pvc-") or handle.name in volumes or handle.name[4:] in claims:
                continue
            log.warning("pool: removing orphan %s (no PV, no claim)", handle.volume_id)
            try:
                await self._blocking(self.pool.delete, handle)
            except PoolError as e:
                log.warning("pool: could not remove orphan %s: %s", handle.volume_id, e)


def _plugin_of(volume: Obj) -> str:
    spec = volume.get("spec") or {}
    if spec.get("csi"):
        return spec["csi"].get("driver", "")
    for key in spec:
        if key not in ("capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
                       "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"):
            return f"kubernetes.io/{key}"
    return ""


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


__all__ = ["PVController", "claim_class", "claims_of_pod"]
