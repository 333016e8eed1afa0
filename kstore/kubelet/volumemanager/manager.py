"""The kubelet's volume manager (Kubernetes' `volumemanager/volume_manager.go`, read for
behaviour): desired and actual state, populator, reconciler, reconstruction, the node's
`status.volumesInUse`, node-side expansion and the volume metrics, for one node.

Design:
- Everything here runs on the event loop except the operations (operations.py), the disk
  scan of reconstruction and statvfs, which run on the kubelet's thread pool through the
  OperationExecutor (one operation per volume at a time, backoff after failures).
- `start()` runs before the kubelet serves: scan the disk, adopt the CRI step's mounts,
  populate the desired state (discovering FlexVolume drivers on a thread first), match what
  was found, and take the node's current volumesInUse as what was reported. Then `run()`
  loops every `periods.vm_reconcile`: populate, `plan()`, carry the plan out, post
  volumesInUse when it changed, tell the pod worker which pods' volumes moved.
- volumesInUse is patched on the Node's status subresource (a JSON merge patch of that one
  field: the attach/detach controller's volumesAttached is left alone). An attachable volume is
  mounted only once a post that lists it has succeeded.
- Node-side expansion: a mounted claim whose status says the node must finish a resize
  (expansion.py) gets its filesystem grown (ExpandVolume), then its status written
  (FinishResize), once per claim resourceVersion.
- The pod worker asks: are a pod's volumes mounted (`volumes_ready`), where
  (`pod_volumes`), why not (`mount_problems`), and, for a pod being deleted, is everything
  of it torn down (`pod_cleaned_up`: no pod mount left, and every volume it had that no other
  pod wants gone from the actual state and from the posted volumesInUse).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.clock import Clock, RealClock
from kstore.client.informer import Handler, Informer
from kstore.client.recorder import EventRecorder
from kstore.kubelet.containers import ContainerRuntime
from kstore.kubelet.volumemanager import operations
from kstore.kubelet.volumemanager.actual import ActualStateOfWorld
from kstore.kubelet.volumemanager.attachments import Attachments
from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld, VolumeToMount
from kstore.kubelet.volumemanager.executor import OperationExecutor
from kstore.kubelet.volumemanager.expansion import finished_claim, resize_pending, resize_target
from kstore.kubelet.volumemanager.housekeeping import (
    check_health,
    health_targets,
    measure,
    remove_pod_dirs,
    stat_targets,
)
from kstore.kubelet.volumemanager.podvolumes import (
    MountProblems,
    cleaned_up,
    mount_problems,
    pod_volumes,
    volumes_attached,
)
from kstore.kubelet.volumemanager.populator import FlexDrivers, Populator, is_terminating, pod_uid_of
from kstore.kubelet.volumemanager.reconciler import (
    REMOUNT_PERIOD,
    ExpandVolume,
    FinishResize,
    MarkAttached,
    MarkDetached,
    MountVolume,
    Operation,
    UnmountDevice,
    UnmountVolume,
    plan,
    volumes_in_use,
)
from kstore.kubelet.volumemanager.reconstruct import (
    FoundDeviceMount,
    PluginInfo,
    Reconstruction,
    scan,
)
from kstore.kubelet.volumemanager.types import PodUID, PodVolume, VolumeName
from kstore.observe.metrics import RECONCILE_DURATION
from kstore.volume.mount import FsStats, MountError
from kstore.volume.plugins.base import (
    AttachablePlugin,
    Spec,
    VolumeHost,
    VolumePlugin,
    unique_volume_name,
)
from kstore.volume.plugins.manager import PluginManager

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
STATS_PERIOD = 5.0  # seconds between statvfs refreshes of the mounted claims
HOUSEKEEPING_PERIOD = 5.0  # seconds between sweeps of leftover pod directories


@dataclasses.dataclass(frozen=True)
class Periods:
    reconcile: float = 0.1
    remount: float = REMOUNT_PERIOD
    stats: float = STATS_PERIOD
    housekeeping: float = HOUSEKEEPING_PERIOD


class VolumeManager:
    def __init__(
        self, *, client: BusClient, host: VolumeHost, plugins: PluginManager, runtime: ContainerRuntime,
        pods: Informer, claims: Informer, volumes: Informer, attachments: Informer, recorder: EventRecorder,
        pool: Executor, periods: Periods = Periods(), clock: Clock | None = None,
        notify: Callable[[PodUID], None] = lambda _uid: None,
        on_volumes_attached: Callable[[Obj], None] = lambda _pod: None,
    ) -> None:
        self.client = client
        self.host = host
        self.node = host.require_node()
        self.plugins = plugins
        self.runtime = runtime
        self.recorder = recorder
        self.periods = periods
        self.clock: Clock = clock if clock is not None else RealClock()
        self.notify = notify
        self.on_volumes_attached = on_volumes_attached  # once per pod: all its volumes attached here
        self._attached_seen: set[PodUID] = set()
        self._pods = pods
        self._claims = claims
        self._volumes = volumes
        self._pool = pool
        self.dsw = DesiredStateOfWorld()
        self.asw = ActualStateOfWorld()
        self.flex = FlexDrivers(plugins, clock=self.clock.now)
        self.populator = Populator(self.dsw, plugins, pods=pods.list, containers_running=runtime.is_running,
                                   flex=self.flex)
        self.executor = OperationExecutor(self._blocking, clock=self.clock)
        self.reconstruction: Reconstruction | None = None
        self.reported: list[str] = []  # volumesInUse as last posted (or found on the Node)
        self.stats: dict[tuple[str, str], FsStats] = {}
        self.abnormal: dict[tuple[str, str], bool] = {}  # (namespace, claim) → its volume is abnormal now
        self._post: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._in_flight: set[str] = set()  # FlexVolume drivers being probed, `resize/<claim>` writes, chores
        self._waiting_attach: set[VolumeName] = set()
        self._waiting_volumes: list[VolumeToMount] = []
        self.attached = Attachments(node=self.node, attachments=attachments.list, get_node=self._get_node,
                                    clock=self.clock.now)
        self._pod_volumes: dict[PodUID, set[VolumeName]] = {}  # every volume a pod had (cleanup checks)
        self._resize_written: dict[str, str] = {}  # claim key → resourceVersion we finished a resize from
        self._rng = random.Random()
        self._wake = asyncio.Event()
        # a claim or PV change reprocesses only the pods using that claim (all nodes' kubelets
        # see every claim; most are not theirs)
        def claim_changed(obj: Obj) -> None:
            meta = obj.get("metadata") or {}
            self.populator.claim_changed(f"{meta.get('namespace')}/{meta.get('name')}")

        def volume_changed(obj: Obj) -> None:
            ref = (obj.get("spec") or {}).get("claimRef") or {}
            if ref.get("name"):
                self.populator.claim_changed(f"{ref.get('namespace')}/{ref.get('name')}")

        for informer, changed in ((claims, claim_changed), (volumes, volume_changed)):
            informer.add_handler(Handler(on_add=changed, on_update=lambda old, new, c=changed: (c(old), c(new)),
                                         on_delete=changed))

    # ---- lifecycle

    async def _blocking(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def start(self) -> None:
        """Reconstruct and populate, before the kubelet serves (see the module docstring)."""
        containers_dir = self.runtime.root
        found = await self._blocking(functools.partial(scan, self.host, self.host.mounter, containers_dir))
        log.info("node %s: reconstruct: found %s", self.node, found.summary())
        self.runtime.adopt(found.container_mounts)
        self.reconstruction = Reconstruction(found)
        self.populator.populate()
        # FlexVolume drivers the pods name or the disk shows: discovered before matching
        drivers = set(self.flex.to_probe()) | found.flex_drivers()
        if drivers:
            for driver in sorted(drivers):
                self.flex.record(driver, await self._blocking(functools.partial(self.flex.probe, driver)))
            self.populator.mark_dirty()
            self.populator.populate()
        try:
            node = await self.client.get("Node", None, self.node)
            self.reported = sorted(str(v) for v in (node.get("status") or {}).get("volumesInUse") or [])
        except ApiError as e:
            log.warning("node %s: cannot read its volumesInUse (%s); reporting from scratch", self.node, e.message)
        self._adopt()
        self._remember_pod_volumes()

    async def run(self) -> None:
        """The reconciler loop; also refreshes volume stats and sweeps leftover pod dirs."""
        last_stats = last_sweep = -1e18
        while True:
            try:
                self.reconcile_once()
                self._maybe_post_in_use()
                self._maybe_probe_flex()
                self._maybe_poll_node()
                now = self.clock.now()
                if now - last_stats >= self.periods.stats and "stats" not in self._in_flight:
                    last_stats = now
                    self._spawn(self._chore("stats", self.refresh_stats()))
                if now - last_sweep >= self.periods.housekeeping and "sweep" not in self._in_flight:
                    last_sweep = now
                    self._spawn(self._chore("sweep", self.sweep_pod_dirs()))
            except Exception:
                log.exception("node %s: volume manager pass failed; next pass retries", self.node)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.periods.reconcile)
            except TimeoutError:
                pass

    async def _chore(self, name: str, coro: Any) -> None:
        """One periodic chore at a time: a slow statvfs never piles up behind itself."""
        self._in_flight.add(name)
        try:
            await coro
        except Exception:
            log.exception("node %s: %s failed; next period retries", self.node, name)
        finally:
            self._in_flight.discard(name)

    def wake(self) -> None:
        """Run the next pass now (a pod's containers stopped, ...)."""
        self._wake.set()

    async def stop(self) -> None:
        for task in list(self._side_tasks):
            task.cancel()
        if self._post is not None:
            self._post.cancel()
        self.executor.cancel_all()

    # ---- one pass

    async def settle(self, passes: int = 50) -> int:
        """Run passes, waiting for each pass's operations and volumesInUse post, until a pass
        decides nothing; returns the passes run. For tests and tools: `run()` loops forever."""
        for n in range(1, passes + 1):
            decided = self.reconcile_once()
            self._maybe_post_in_use()
            posting = self._post is not None and not self._post.done()
            await self.executor.wait_idle()
            if self._post is not None:
                await self._post
            if self._side_tasks:
                await asyncio.gather(*list(self._side_tasks), return_exceptions=True)
            if decided == 0 and not posting:
                return n
        return passes

    def reconcile_once(self) -> int:
        """One pass: populate, plan, carry the plan out. Returns the number of operations decided."""
        started = time.perf_counter()
        changed = self.populator.populate()
        if changed:
            self._remember_pod_volumes()
        if self.reconstruction is not None and not self.reconstruction.done:
            changed.update(self._adopt())
        self.dsw.mark_volumes_reported_in_use(self.reported)
        decided = plan(self.dsw, self.asw, attachment=self.attached.device, pending=self._pending,
                       now=self.clock.now(), remount_period=self.periods.remount, resize=self._resize)
        for op in decided.operations:
            self._dispatch(op)
        if changed or any(isinstance(op, MarkAttached) for op in decided.operations):
            self._observe_attached()
        self._waiting_volumes = decided.waiting_for_attach
        waiting = {v.volume_name for v in decided.waiting_for_attach}
        for v in decided.waiting_for_attach:
            if v.volume_name not in self._waiting_attach:
                changed.add(v.pod_uid)
        self._waiting_attach = waiting
        for uid in changed:
            self.notify(uid)
        RECONCILE_DURATION.labels("kubelet", "reconciler").observe(time.perf_counter() - started)
        return len(decided.operations)

    def _observe_attached(self) -> None:
        self._attached_seen &= self.dsw.pod_uids()
        for v in self.dsw.get_volumes_to_mount():
            if v.pod_uid in self._attached_seen:
                continue
            if (v.pod.get("status") or {}).get("phase") == "Running":
                self._attached_seen.add(v.pod_uid)  # found running (a restarted kubelet): not a new attach
            elif volumes_attached(v.pod, self.dsw, self.asw):
                self._attached_seen.add(v.pod_uid)
                self.on_volumes_attached(v.pod)

    def _dispatch(self, op: Operation) -> None:
        if isinstance(op, MarkAttached):
            v = op.volume
            self.asw.mark_volume_attached(v.volume_name, plugin_name=v.plugin_name, metric_plugin=v.metric_plugin,
                                          spec=v.spec, dir_name=v.spec_name, device_path=op.device_path,
                                          attachable=v.attachable, device_mountable=v.device_mountable, block=v.block)
        elif isinstance(op, MarkDetached):
            self.asw.mark_volume_detached(op.volume_name)
            log.info("node %s: volume %s detached from the node's view (no pod uses it)", self.node, op.volume_name)
            for uid, had in self._pod_volumes.items():
                if op.volume_name in had:
                    self.notify(uid)  # a deleted pod may be waiting for exactly this
        elif isinstance(op, MountVolume):
            v = op.volume
            attached = self.asw.get_volume(v.volume_name)
            plugin = self._plugin(v.plugin_name)
            if attached is None or plugin is None:
                return
            fn = functools.partial(operations.mount_volume, plugin, v, attached, now=self.clock.now,
                                   wait_timeout=self.host.attach_timeout, delay=self._delay(v.spec, "mount"))
            what = f"{'remount' if op.remount else 'mount'} {v.volume_name} for pod {v.pod_uid}"
            self.executor.start(op.key, fn, functools.partial(self._done, pods=(v.pod_uid,), what=what,
                                                              quiet=op.remount))
        elif isinstance(op, UnmountVolume):
            m = op.volume
            plugin = self._plugin(m.plugin_name)
            if plugin is None:
                return
            spec = self._spec_of(m.volume_name)
            fn = functools.partial(operations.unmount_volume, plugin, m,
                                   delay=self._delay(spec, "unmount") if spec is not None else 0.0)
            self.executor.start(op.key, fn, functools.partial(self._done, pods=(m.pod_uid,),
                                                              what=f"unmount {m.volume_name} of pod {m.pod_uid}"))
        elif isinstance(op, UnmountDevice):
            a = op.volume
            plugin = self._plugin(a.plugin_name)
            if plugin is None:
                return
            fn = functools.partial(operations.unmount_device, plugin, a)
            self.executor.start(op.key, fn, functools.partial(self._done, pods=(), what=f"unmount device {a.volume_name}"))
        elif isinstance(op, ExpandVolume):
            v = op.volume
            attached = self.asw.get_volume(v.volume_name)
            plugin = self._plugin(v.plugin_name)
            if attached is None or plugin is None:
                return
            claim = self._claims.get(v.claim_key) if v.claim_key else None
            fn = functools.partial(operations.expand_volume, plugin, v, attached, op.size, node=self.node, claim=claim)
            self.executor.start(op.key, fn, functools.partial(self._done, pods=(v.pod_uid,),
                                                              what=f"expand {v.volume_name}"))
        elif isinstance(op, FinishResize):
            self._finish_resize(op.volume)

    def _done(self, result: operations.OpResult, *, pods: tuple[PodUID, ...], what: str, quiet: bool = False) -> None:
        result.apply(self.asw)
        for event in result.events:
            self.recorder.event(dict(event.obj), event.type, event.reason, event.message)
        if result.failed:
            log.warning("node %s: %s failed: %s", self.node, what, result.error)
        else:
            log.log(logging.DEBUG if quiet else logging.INFO, "node %s: %s done", self.node, what)
        for uid in pods:
            self.notify(uid)
        self.wake()

    # ---- lookups the plan uses

    def _pending(self, name: VolumeName) -> bool:
        """An operation on the volume is under way, or a pod volume found on disk that may use
        its device is not matched yet (its device must stay mounted meanwhile)."""
        if self.executor.is_pending(name):
            return True
        if self.reconstruction is None or not self.reconstruction.pending:
            return False
        attached = self.asw.get_volume(name)
        return attached is not None and any(f.name == attached.dir_name for f in self.reconstruction.pending)

    def _resize(self, volume: VolumeToMount) -> int | None:
        if not volume.claim_key or not volume.pv_name:
            return None
        claim = self._claims.get(volume.claim_key)
        if claim is None or self._resize_written.get(volume.claim_key) == claim["metadata"].get("resourceVersion"):
            return None
        return resize_target(claim, self._volumes.get(volume.pv_name))

    def _plugin(self, name: str) -> VolumePlugin | None:
        if name.startswith("flexvolume-"):
            driver = name.removeprefix("flexvolume-")
            try:
                return self.flex.get(driver)
            except MountError:
                return None
        plugin = self.plugins.find_by_name(name)
        if plugin is None:
            log.error("node %s: no volume plugin named %s", self.node, name)
        return plugin

    def _spec_of(self, name: VolumeName) -> Spec | None:
        attached = self.asw.get_volume(name)
        return attached.spec if attached is not None else None

    def _delay(self, spec: Spec | None, operation: str) -> float:
        """The driver mapping's latency for `operation` (mount, unmount) on this volume."""
        if spec is None or spec.pv is None or self.host.drivers is None:
            return 0.0
        driver = self.host.drivers.for_volume_source(spec.source)
        if driver is None or driver.latency is None:
            return 0.0
        return driver.latency.sample(operation, self._rng)

    # ---- reconstruction

    def _plugin_info(self, plugin: VolumePlugin | None) -> PluginInfo | None:
        if plugin is None:
            return None
        return PluginInfo(name=plugin.name, dir_name=plugin.dir_name)

    def _plugin_by_dir(self, dir_name: str) -> PluginInfo | None:
        if "~" in dir_name and not dir_name.startswith("kubernetes.io~"):
            try:
                return self._plugin_info(self.flex.get(dir_name.replace("~", "/", 1)))
            except MountError:
                return None
        return self._plugin_info(self.plugins.find_by_dir_name(dir_name))

    def _global_volume(self, found: FoundDeviceMount) -> tuple[VolumeName, bool, Any] | None:
        """A device mount's unique name, attachability and spec, from its PV (global mounts are
        named after the PV)."""
        pv = self._volumes.get(found.name)
        plugin = self._plugin(found.plugin_name)
        if pv is None or plugin is None:
            return None
        spec = Spec.from_pv(pv)
        try:
            if not plugin.can_support(spec):
                return None
            attachable = isinstance(plugin, AttachablePlugin) and plugin.can_attach(spec)
            return VolumeName(unique_volume_name(plugin, spec)), attachable, spec
        except MountError:
            return None

    def _live(self, uid: PodUID) -> bool:
        if self.runtime.is_running(uid):
            return True
        return any(pod_uid_of(p) == uid and not is_terminating(p) for p in self._pods.list())

    def _adopt(self) -> set[PodUID]:
        if self.reconstruction is None:
            return set()
        touched = self.reconstruction.adopt(
            self.dsw, self.asw, live=self._live, plugin_by_dir=self._plugin_by_dir,
            plugin_by_name=lambda name: self._plugin_info(self._plugin(name)), global_volume=self._global_volume)
        if self.reconstruction.done:
            log.info("node %s: reconstruction complete", self.node)
        return set(touched)

    # ---- volumesInUse

    def _maybe_post_in_use(self) -> None:
        wanted = volumes_in_use(self.dsw, self.asw)
        if wanted == self.reported or (self._post is not None and not self._post.done()):
            return
        self._post = asyncio.get_running_loop().create_task(self._post_in_use(wanted))

    async def _post_in_use(self, names: list[str]) -> None:
        patch = {"status": {"volumesInUse": names or None}}
        try:
            await self.client.patch("Node", None, self.node, patch, "merge", subresource="status")
        except ApiError as e:
            log.warning("node %s: posting volumesInUse failed (%s); next pass retries", self.node, e.message)
            return
        self.reported = names
        self.dsw.mark_volumes_reported_in_use(names)
        log.info("node %s: volumesInUse %s", self.node, names)
        for uid, had in self._pod_volumes.items():
            if not self.dsw.pod_exists(uid) and had:
                self.notify(uid)
        self.wake()

    # ---- node.status.volumesAttached (volumes without a PV: inline FlexVolume)

    def _maybe_poll_node(self) -> None:
        if self.attached.poll_due(self._waiting_volumes):
            self._spawn(self.attached.poll())

    async def _get_node(self) -> Obj | None:
        try:
            return await self.client.get("Node", None, self.node)
        except ApiError:
            return None

    # ---- FlexVolume discovery

    def _maybe_probe_flex(self) -> None:
        for driver in self.flex.to_probe():
            if driver in self._in_flight:
                continue
            self._in_flight.add(driver)
            self._spawn(self._probe(driver))

    async def _probe(self, driver: str) -> None:
        try:
            result = await self._blocking(functools.partial(self.flex.probe, driver))
            self.flex.record(driver, result)
            if isinstance(result, MountError):
                log.warning("node %s: FlexVolume driver %s: %s", self.node, driver, result)
            self.populator.mark_dirty()
            self.wake()
        finally:
            self._in_flight.discard(driver)

    # ---- expansion

    def _finish_resize(self, volume: VolumeToMount) -> None:
        key = volume.claim_key
        if not key or not volume.pv_name or f"resize/{key}" in self._in_flight:
            return
        claim = self._claims.get(key)
        pv = self._volumes.get(volume.pv_name)
        if claim is None or pv is None or not resize_pending(claim):
            return
        self._in_flight.add(f"resize/{key}")
        self._spawn(self._write_resized(key, claim, pv))

    async def _write_resized(self, key: str, claim: Obj, pv: Obj) -> None:
        try:
            await self.client.update_status(finished_claim(claim, pv))
            self._resize_written[key] = str(claim["metadata"].get("resourceVersion"))
            log.info("claim %s: node-side resize finished on %s", key, self.node)
        except ApiError as e:
            log.warning("claim %s: cannot finish the resize (%s); next pass retries", key, e.message)
        finally:
            self._in_flight.discard(f"resize/{key}")

    # ---- what the pod worker asks (podvolumes.py)

    def _remember_pod_volumes(self) -> None:
        for uid in self.dsw.pod_uids():
            self._pod_volumes.setdefault(uid, set()).update(self.dsw.get_volume_names_for_pod(uid).values())

    def forget_pod(self, uid: PodUID) -> None:
        self._pod_volumes.pop(uid, None)

    def volumes_ready(self, pod: Obj) -> bool:
        return not self.mount_problems(pod).unmounted

    def mount_problems(self, pod: Obj) -> MountProblems:
        return mount_problems(pod, self.dsw, self.asw, self._waiting_attach)

    def pod_volumes(self, uid: PodUID) -> dict[str, PodVolume]:
        """Pod volume name → where it is set up, for the CRI step."""
        return pod_volumes(uid, self.dsw, self.asw)

    def pod_cleaned_up(self, uid: PodUID) -> bool:
        if self.reconstruction is not None and any(f.pod_uid == uid for f in self.reconstruction.pending):
            return False
        return cleaned_up(uid, self.dsw, self.asw, had=self._pod_volumes.get(uid, ()), reported=self.reported)

    # ---- stats and housekeeping (housekeeping.py)

    async def refresh_stats(self) -> None:
        targets = stat_targets(self.dsw, self.asw)
        self.stats = await self._blocking(functools.partial(measure, self.host.mounter, targets))
        checked = await self._blocking(functools.partial(check_health, self.host.mounter,
                                                         health_targets(self.dsw, self.asw)))
        abnormal: dict[tuple[str, str], bool] = {}
        for target, problem in checked:
            abnormal[target.key] = abnormal.get(target.key, False) or problem is not None
            if problem is None:
                continue
            # as the kubelet's volume stats calculator: one Warning per check while it lasts
            # (the recorder folds the repeats into a count)
            self.recorder.event(target.pod, "Warning", "VolumeConditionAbnormal", f"Volume {target.volume}: {problem}")
            if not self.abnormal.get(target.key):
                log.warning("node %s: volume %s of pod %s/%s is abnormal: %s", self.node, target.volume,
                            target.pod["metadata"].get("namespace"), target.pod["metadata"].get("name"), problem)
        self.abnormal = abnormal

    async def sweep_pod_dirs(self) -> None:
        """Remove the empty directories of pods that are gone and have nothing mounted."""
        live = {pod_uid_of(p) for p in self._pods.list()}
        pending = {f.pod_uid for f in self.reconstruction.pending} if self.reconstruction is not None else set()

        def gone(uid: str) -> bool:
            u = PodUID(uid)
            return (u not in live and u not in pending and not self.dsw.pod_exists(u)
                    and not self.asw.pod_has_mounted_volumes(u) and not self.runtime.is_running(u))

        pods_dir = self.host.kubelet_dir() / "pods"
        try:
            candidates = [pods_dir / u for u in os.listdir(pods_dir) if gone(u)]
        except FileNotFoundError:
            candidates = []
        candidates += [self.runtime.root / u for u in self.runtime.pod_dirs() if gone(u)]
        if candidates:
            await self._blocking(functools.partial(remove_pod_dirs, self.host.mounter, candidates))
