"""The desired-state populator: this node's pods → the DesiredStateOfWorld (Kubernetes'
`populator/desired_state_of_world_populator.go`, read for behaviour).

Design:
- `populate()` runs at the start of every reconciler pass, on the event loop, without I/O
  beyond the plugins' path arithmetic: the pod list comes from the node's pod informer, claims
  and PVs from informer caches (through the PluginManager's resolver).
- A pod is (re)processed when it is new, its spec, labels or annotations changed (not on a
  mere status write), its last processing left errors (a claim not bound yet, a FlexVolume
  driver not discovered yet), or one of its claims (or the PV bound to it) changed since
  (`claim_changed`; `mark_dirty` for all pods). Only volumes some container mounts or maps are
  wanted, as in Kubernetes; a volume that cannot be processed is an error of the pod (Kubernetes'
  wording: `error processing PVC ns/x: PVC is not bound`), the pod's other volumes go ahead.
- A pod leaves the desired state when it is gone or terminating (deletionTimestamp, or phase
  Succeeded / Failed) *and* its containers have stopped: the CRI bind mounts must be gone before
  the reconciler tears the volumes down.
- FlexVolume drivers are discovered (their `init` run) off the loop: `FlexDrivers` says which
  are known; an unknown one is an error of the pod until the volume manager's probe, on a
  thread, has run it. A hung driver therefore never stalls the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kstore.kubelet.volumemanager.desired import DesiredStateOfWorld
from kstore.kubelet.volumemanager.types import PodUID, VolumeName, per_pod_volume_name
from kstore.observe.metrics import plugin_label
from kstore.volume.mount import INVALID, NOT_FOUND, MountError
from kstore.volume.plugins.base import (
    AttachablePlugin,
    DeviceMountablePlugin,
    Spec,
    VolumePlugin,
    unique_volume_name,
)
from kstore.volume.plugins.flexvolume import FlexVolumePlugin
from kstore.volume.plugins.manager import PluginManager

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
FLEX_RETRY = 10.0  # seconds before a failed FlexVolume driver is probed again


def pod_uid_of(pod: Obj) -> PodUID:
    return PodUID(str((pod.get("metadata") or {}).get("uid") or ""))


def is_terminating(pod: Obj) -> bool:
    """Deleted (graceful deletion started) or finished: its volumes are no longer wanted."""
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) or \
        (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_volume_names(pod: Obj) -> tuple[set[str], set[str]]:
    """(volumes some container mounts, volumes some container maps as a device)."""
    spec = pod.get("spec") or {}
    mounts: set[str] = set()
    devices: set[str] = set()
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(key) or []:
            mounts.update(str(m.get("name")) for m in c.get("volumeMounts") or [])
            devices.update(str(d.get("name")) for d in c.get("volumeDevices") or [])
    return mounts, devices


def claim_key_of(volume: Obj, pod: Obj) -> str | None:
    meta = pod.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    source = volume.get("persistentVolumeClaim")
    if isinstance(source, Mapping):
        return f"{namespace}/{source.get('claimName')}"
    if volume.get("ephemeral") is not None:
        return f"{namespace}/{meta.get('name')}-{volume.get('name')}"
    return None


def _volume_inputs(pod: Obj) -> tuple[Any, Any, Any]:
    meta = pod.get("metadata") or {}
    return pod.get("spec"), meta.get("labels"), meta.get("annotations")


class FlexDiscoveryPending(MountError):
    """The FlexVolume driver is being discovered: not an error yet, the pod waits."""

    def __init__(self, driver: str) -> None:
        super().__init__(NOT_FOUND, f'FlexVolume driver "{driver}" is being discovered (init)')


class FlexDrivers:
    """Which FlexVolume drivers are discovered; discovery itself runs elsewhere (on a thread)."""

    def __init__(self, manager: PluginManager, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._manager = manager
        self._clock = clock
        self._known: dict[str, FlexVolumePlugin] = {}
        self._failed: dict[str, tuple[MountError, float]] = {}
        self._wanted: set[str] = set()

    def get(self, driver: str) -> FlexVolumePlugin:
        """The discovered driver's plugin; MountError while it is unknown or failed (and then it
        is asked for: `to_probe()`)."""
        plugin = self._known.get(driver)
        if plugin is not None:
            return plugin
        failed = self._failed.get(driver)
        if failed is None or self._clock() - failed[1] >= FLEX_RETRY:
            self._wanted.add(driver)
        if failed is not None:
            raise failed[0]
        raise FlexDiscoveryPending(driver)

    def to_probe(self) -> list[str]:
        wanted, self._wanted = sorted(self._wanted), set()
        return wanted

    def probe(self, driver: str) -> FlexVolumePlugin | MountError:
        """Blocking (runs the driver's init): call on a thread."""
        try:
            return self._manager.flex_plugin(driver)
        except MountError as e:
            return e

    def record(self, driver: str, result: FlexVolumePlugin | MountError) -> None:
        if isinstance(result, MountError):
            self._failed[driver] = (result, self._clock())
            self._known.pop(driver, None)
        else:
            self._known[driver] = result
            self._failed.pop(driver, None)


class Populator:
    def __init__(self, dsw: DesiredStateOfWorld, manager: PluginManager, *, pods: Callable[[], Iterable[Obj]],
                 containers_running: Callable[[PodUID], bool], flex: FlexDrivers) -> None:
        self.dsw = dsw
        self.manager = manager
        self.flex = flex
        self._pods = pods
        self._containers_running = containers_running
        # uid → the resourceVersion and what volumes depend on (spec, labels, annotations: the
        # downward API) processed without errors: a new resourceVersion with the same (the
        # kubelet's own status writes, a condition) changes no volume
        self._processed: dict[PodUID, tuple[str, Any]] = {}
        self._known: set[PodUID] = set()  # pods processed at least once and not removed
        self._dirty = True
        self._claims_of: dict[PodUID, set[str]] = {}  # pod → keys (namespace/name) of the claims it uses
        self._pods_of: dict[str, set[PodUID]] = {}  # claim key → pods using it
        self._dirty_pods: set[PodUID] = set()

    def mark_dirty(self) -> None:
        """Process every pod again on the next pass."""
        self._dirty = True

    def claim_changed(self, key: str) -> None:
        """The claim `namespace/name` (or the PV bound to it) changed: process its pods again."""
        self._dirty_pods |= self._pods_of.get(key, set())

    def _index(self, uid: PodUID, keys: set[str]) -> None:
        for key in self._claims_of.pop(uid, set()) - keys:
            pods = self._pods_of.get(key)
            if pods is not None:
                pods.discard(uid)
                if not pods:
                    del self._pods_of[key]
        if keys:
            self._claims_of[uid] = keys
            for key in keys:
                self._pods_of.setdefault(key, set()).add(uid)

    def populate(self) -> set[PodUID]:
        """One pass; returns the pods whose desired volumes or errors may have changed."""
        live: dict[PodUID, Obj] = {}
        for pod in self._pods():
            uid = pod_uid_of(pod)
            if uid and not is_terminating(pod):
                live[uid] = pod
        changed: set[PodUID] = set()
        for uid in (self._known | self.dsw.pod_uids()) - set(live):
            if self._containers_running(uid):
                continue  # still running: its volumes stay until its containers are stopped
            self.dsw.delete_pod(uid)
            self._processed.pop(uid, None)
            self._known.discard(uid)
            self._index(uid, set())
            changed.add(uid)
        dirty, self._dirty = self._dirty, False
        dirty_pods, self._dirty_pods = self._dirty_pods, set()
        for uid, pod in live.items():
            rv = str((pod.get("metadata") or {}).get("resourceVersion") or "")
            if not dirty and uid not in dirty_pods and (done := self._processed.get(uid)) is not None:
                if done[0] == rv:
                    continue
                if done[1] == _volume_inputs(pod):
                    self._processed[uid] = (rv, done[1])
                    continue
            self.process_pod(pod)
            changed.add(uid)
        return changed

    def process_pod(self, pod: Obj) -> None:
        uid = pod_uid_of(pod)
        self._known.add(uid)
        before = set(self.dsw.get_volume_names_for_pod(uid).values())
        mounts, devices = pod_volume_names(pod)
        errors: list[str] = []
        waiting = False
        wanted: set[VolumeName] = set()
        volumes = (pod.get("spec") or {}).get("volumes") or []
        self._index(uid, {key for v in volumes if (key := claim_key_of(v, pod)) is not None})
        for volume in volumes:
            outer = str(volume.get("name") or "")
            if outer not in mounts and outer not in devices:
                continue  # no container uses it: Kubernetes does not mount it either
            try:
                wanted.add(self._add_volume(pod, uid, volume, outer, outer in mounts, outer in devices))
            except FlexDiscoveryPending:
                waiting = True
            except MountError as e:
                errors.append(str(e))
        for name in before - wanted:
            self.dsw.delete_pod_from_volume(uid, name)
        self.dsw.set_pod_errors(uid, errors)
        rv = str((pod.get("metadata") or {}).get("resourceVersion") or "")
        if errors or waiting:
            self._processed.pop(uid, None)  # try again next pass
        else:
            self._processed[uid] = (rv, _volume_inputs(pod))

    def _plugin(self, spec: Spec) -> VolumePlugin:
        flex = spec.source_of("flexVolume")
        if flex is not None:
            return self.flex.get(str(flex.get("driver") or ""))
        return self.manager.find(spec)

    def _add_volume(self, pod: Obj, uid: PodUID, volume: Obj, outer: str, mounted: bool, mapped: bool) -> VolumeName:
        spec = self.manager.resolve(Spec.from_volume(volume), pod)
        plugin = self._plugin(spec)
        block = spec.is_block
        if block and mounted:
            raise MountError(INVALID, f"volume {outer} has volumeMode Block, but is specified in volumeMounts")
        if not block and mapped:
            raise MountError(INVALID, f"volume {outer} has volumeMode Filesystem, but is specified in volumeDevices")
        attachable = isinstance(plugin, AttachablePlugin) and plugin.can_attach(spec)
        device_mountable = isinstance(plugin, DeviceMountablePlugin) and plugin.can_device_mount(spec)
        if attachable or device_mountable:
            name = VolumeName(unique_volume_name(plugin, spec))
        else:
            name = per_pod_volume_name(plugin.name, uid, spec.name)
        self.dsw.add_pod_to_volume(
            volume_name=name, pod_uid=uid, pod=pod, outer_name=outer, plugin_name=plugin.name,
            metric_plugin=plugin_label(plugin.metric_label(spec)), spec=spec, attachable=attachable,
            device_mountable=device_mountable, block=block, requires_remount=plugin.requires_remount(spec),
            claim_key=claim_key_of(volume, pod), pv_name=spec.name if spec.pv is not None else None,
        )
        return name
