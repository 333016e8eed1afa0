"""The attach/detach controller: informers, caches, populator, reconciler, status updater and
operations wired together (Kubernetes' `attach_detach_controller.go`, read for behaviour).

Design:
- Informers on Pods, Nodes, PersistentVolumes, PersistentVolumeClaims and VolumeAttachments
  feed the populator directly from their handlers (level-triggered, cheap, non-blocking: see
  populator/), so the desired state follows the cluster event by event; a full pass every
  `full_pass_period` (60 s) catches what events missed.
- Start-up (`start`): FlexVolume drivers are discovered on a thread (their `init` is a process),
  then the actual state is rebuilt from the VolumeAttachments and the nodes' status before the
  reconciler's first pass — a restarted controller attaches nothing twice and forgets nothing
  it attached (populator/actual_state_of_world_populator.py).
- Loops (`loops`): the reconciler every `periods.ad_reconcile` (one pass = decisions, then the
  node status writes), timed as `kstore_reconcile_duration_seconds{component="ad-controller",
  loop="reconciler"}`; the populator's full pass (`loop="populator"`); and every
  `verify_period` (60 s, Kubernetes' reconcilerSyncDuration) the plugins are asked whether what
  the actual state calls attached still is — a loop device detached behind our back becomes
  UNCERTAIN, and is attached again or cleaned up.
- Operations (attach, detach) run as tasks, at most one per volume at a time, with backoff;
  their blocking plugin calls run on a thread pool (`workers`). Only plugins touch devices and
  only the client writes to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock, RealClock
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.config import Periods
from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachState, DesiredStateOfWorld
from kstore.controllers.attachdetach.metrics import record_forced_detach
from kstore.controllers.attachdetach.operationexecutor import (
    OperationExecutor,
    OperationGenerator,
    PendingOperations,
)
from kstore.controllers.attachdetach.populator import DesiredStateOfWorldPopulator, rebuild_actual_state
from kstore.controllers.attachdetach.reconciler import Reconciler
from kstore.controllers.attachdetach.statusupdater import NodeStatusUpdater
from kstore.controllers.attachdetach.volumes import (
    NodeName,
    Obj,
    VolumeResolver,
    attach_relevant_change,
    node_ready,
    out_of_service,
)
from kstore.controllers.pv.controller import claims_of_pod
from kstore.observe.metrics import RECONCILE_DURATION
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import Mounter
from kstore.volume.plugins import PluginManager, VolumeHost

log = logging.getLogger(__name__)

PROCESS = "ad-controller"
COMPONENT = "attachdetach-controller"  # the event source, as Kubernetes names it
FULL_PASS_PERIOD = 60.0
VERIFY_PERIOD = 60.0
WORKERS = 16
FLEX_RETRY = 10.0  # seconds before asking again for a FlexVolume driver that failed discovery


class CacheObjects:
    """The plugins' ObjectGetter over the informer caches (claims and volumes)."""

    def __init__(self, informers: dict[str, Informer]) -> None:
        self._informers = informers

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        informer = self._informers.get(kind)
        if informer is None:
            return None
        return informer.get(f"{namespace}/{name}" if namespace else name)


class CacheView:
    """The populator's ClusterSource and the reconciler's NodeView, over the informers."""

    def __init__(self, pods: Informer, nodes: Informer) -> None:
        self._pods = pods
        self._nodes = nodes

    def pods(self) -> Iterable[Obj]:
        return self._pods.list()

    def pods_on_node(self, node: str) -> Iterable[Obj]:
        return self._pods.cache.by_index("node", node)

    def pods_using_claim(self, namespace: str, name: str) -> Iterable[Obj]:
        return self._pods.cache.by_index("claims", f"{namespace}/{name}")

    def nodes(self) -> Iterable[Obj]:
        return self._nodes.list()

    def is_healthy(self, node: NodeName) -> bool:
        return node_ready(self._nodes.get(node))

    def has_out_of_service_taint(self, node: NodeName) -> bool:
        return out_of_service(self._nodes.get(node))


class AttachDetachController:
    def __init__(self, client: BusClient, *, state_dir: Path, mounter: Mounter, drivers: DriverMap,
                 periods: Periods, clock: Clock | None = None, full_pass_period: float = FULL_PASS_PERIOD,
                 verify_period: float = VERIFY_PERIOD, workers: int = WORKERS) -> None:
        self.client = client
        self.periods = periods
        self.clock = clock if clock is not None else RealClock()
        self.full_pass_period = full_pass_period
        self.verify_period = verify_period
        self.pods = Informer(client, "Pod")
        self.nodes = Informer(client, "Node")
        self.volumes = Informer(client, "PersistentVolume")
        self.claims = Informer(client, "PersistentVolumeClaim")
        self.attachments = Informer(client, "VolumeAttachment")
        self.pods.add_indexer("node", lambda p: [n] if (n := (p.get("spec") or {}).get("nodeName")) else [])
        self.pods.add_indexer("claims", lambda p: [f"{p['metadata'].get('namespace')}/{c}" for c in claims_of_pod(p)])
        host = VolumeHost(state_dir, mounter, node=None, drivers=drivers, objects=CacheObjects(
            {"PersistentVolume": self.volumes, "PersistentVolumeClaim": self.claims}))
        self.plugins = PluginManager(host)
        self.view = CacheView(self.pods, self.nodes)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ad-op")
        self._flex_probing: set[str] = set()
        self._flex_failed: dict[str, float] = {}
        self.resolver = VolumeResolver(self.plugins, on_flex_needed=self._discover_flex)
        self.dsw = DesiredStateOfWorld()
        self.asw = ActualStateOfWorld(clock=self.clock)
        self.recorder = EventRecorder(client, component=COMPONENT)
        self.status_updater = NodeStatusUpdater(client=client, asw=self.asw, node=self.nodes.get,
                                                assume=self._assume_node)
        self.pending = PendingOperations(clock=self.clock)
        self.generator = OperationGenerator(
            client=client, asw=self.asw, plugins=self.plugins, attachments=self.attachments.get,
            status_updater=self.status_updater, recorder=self.recorder, blocking=self.blocking, drivers=drivers,
            clock=self.clock)
        self.executor = OperationExecutor(self.generator, self.pending)
        self.populator = DesiredStateOfWorldPopulator(dsw=self.dsw, asw=self.asw, resolver=self.resolver,
                                                      source=self.view, is_pending=self.executor.is_operation_pending)
        self.reconciler = Reconciler(dsw=self.dsw, asw=self.asw, operations=self.executor, nodes=self.view,
                                     recorder=self.recorder, max_wait_for_unmount=periods.max_wait_for_unmount,
                                     on_forced_detach=record_forced_detach)
        self._wire()

    @property
    def informers(self) -> list[Informer]:
        return [self.nodes, self.volumes, self.claims, self.attachments, self.pods]

    def _wire(self) -> None:
        p = self.populator
        self.nodes.add_handler(Handler(on_add=p.sync_node, on_update=lambda _o, n: p.sync_node(n),
                                       on_delete=p.delete_node))
        self.pods.add_handler(Handler(on_add=p.sync_pod,
                                      on_update=lambda o, n: p.sync_pod(n) if attach_relevant_change(o, n) else None,
                                      on_delete=p.delete_pod))
        self.claims.add_handler(Handler(on_add=p.sync_claim, on_update=lambda _o, n: p.sync_claim(n),
                                        on_delete=p.sync_claim))
        self.volumes.add_handler(Handler(on_add=p.sync_volume, on_update=lambda _o, n: p.sync_volume(n),
                                         on_delete=p.sync_volume))
        self.attachments.add_handler(Handler(on_delete=p.attachment_deleted))

    # ---- start-up

    async def start(self) -> None:
        """After the informers listed: discover FlexVolume drivers, rebuild the actual state,
        sync every pod. The reconciler must not run before this returns."""
        drivers = await self.blocking(self.plugins.probe_flex)
        if drivers:
            log.info("FlexVolume drivers: %s", ", ".join(drivers))
        report = rebuild_actual_state(self.asw, attachments=self.attachments.list(), nodes=self.nodes.list(),
                                      resolver=self.resolver, pv=self.volumes.get)
        log.info("actual state rebuilt: %d attached, %d uncertain%s", report.attached, report.uncertain,
                 f", {len(report.skipped)} unidentified" if report.skipped else "")
        self.populator.full_pass()
        log.info("desired state: %d volume(s) on %d node(s) for %d pod(s)", len(self.dsw.get_volumes_to_attach()),
                 len(self.dsw.nodes()), len(self.dsw.pods()))

    # ---- loops

    def loops(self) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        return [
            loop.create_task(self._every(self.periods.ad_reconcile, "reconciler", self.reconcile_once),
                             name="ad-reconciler"),
            loop.create_task(self._every(self.full_pass_period, "populator", self.full_pass), name="ad-populator"),
            loop.create_task(self._every(self.verify_period, "verify", self.verify_attached), name="ad-verify"),
        ]

    async def _every(self, period: float, name: str, body: Callable[[], Awaitable[None]]) -> None:
        child = RECONCILE_DURATION.labels(PROCESS, name)
        while True:
            start = time.perf_counter()
            try:
                await body()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next pass retries; a crashed loop would stop attaching for good
                log.exception("%s pass failed", name)
            child.observe(time.perf_counter() - start)
            await asyncio.sleep(period)

    async def reconcile_once(self) -> None:
        self.reconciler.reconcile()
        await self.status_updater.update_node_statuses()

    async def full_pass(self) -> None:
        self.populator.full_pass()
        for node in self.asw.nodes():
            self.asw.set_node_status_update_needed(node)  # rewrite a status someone else changed

    async def verify_attached(self) -> None:
        candidates = [av for av in self.asw.get_attached_volumes()
                      if av.state is AttachState.ATTACHED and not self.executor.is_operation_pending(av.volume, av.node)]
        for av in await self.generator.verify_attached(candidates):
            current = self.asw.get_attached_volume(av.name, av.node)
            if current is None or current.state is not AttachState.ATTACHED or \
                    self.executor.is_operation_pending(av.volume, av.node):
                continue
            log.warning("volume %s on %s: attached in the actual state, but its plugin says it is not; "
                        "marking it uncertain", av.name, av.node)
            self.asw.mark_uncertain(av.volume, av.node, attachment=av.attachment)

    # ---- helpers

    async def blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, functools.partial(fn, *args))

    def _assume_node(self, stored: dict[str, Any]) -> None:
        """Our status write goes into the cache until the watch brings it (or something newer)."""
        key = stored["metadata"]["name"]
        cached = self.nodes.cache.get(key)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            if cached is not None and int(cached["metadata"]["resourceVersion"]) >= \
                    int(stored["metadata"]["resourceVersion"]):
                return
        self.nodes.cache.put(key, stored)

    def _discover_flex(self, driver: str) -> None:
        """Run a FlexVolume driver's `init` on a thread; sync the pods again once it is known."""
        if driver in self._flex_probing or self.clock.now() < self._flex_failed.get(driver, 0.0):
            return
        self._flex_probing.add(driver)

        async def probe() -> None:
            try:
                await self.blocking(self.plugins.flex_plugin, driver)
            except Exception as e:
                self._flex_failed[driver] = self.clock.now() + FLEX_RETRY
                log.warning('FlexVolume driver "%s": %s', driver, e)
                return
            finally:
                self._flex_probing.discard(driver)
            self._flex_failed.pop(driver, None)
            self.populator.full_pass()

        asyncio.get_running_loop().create_task(probe(), name=f"flex-probe {driver}")

    async def shut_down(self) -> None:
        # stop operations where they are: each is idempotent and the next start finishes it
        self.pending.cancel_all()
        for informer in self.informers:
            informer.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)
