"""What the attach/detach controller attaches: a pod volume or a PV seen as an
`AttachableVolume`, and the VolumeAttachment that stands for it on a node.

Design:
- `AttachableVolume` is a value: the unique volume name (`unique_volume_name`, what the kubelet
  reports in `node.status.volumesInUse` and what `node.status.volumesAttached[].name` says),
  the plugin serving it, the Spec the attacher acts on, and the VolumeAttachment identity
  (`attacher`, `volume_handle`, `pv_name`). The caches hold these, never plugin objects, so
  they stay pure data.
- `VolumeResolver.for_pod_volume` / `for_pv` never block: resolving a claim reads the informer
  caches only. A FlexVolume driver not discovered yet would need its `init` call (a process),
  so the resolver asks for discovery (`on_flex_needed`, run on a thread by the controller) and
  raises `NotYet`; the pod is synced again once the driver is known.
- VolumeAttachment naming is Kubernetes' CSI attacher's: `csi-<sha256 hex of volumeHandle +
  attacher + nodeName>`; `spec.attacher` is the CSI driver (`spec.csi.driver`), the CSI driver
  an in-tree plugin migrated to (`kubernetes.io/rbd` → `rbd.csi.ceph.com`), or else the plugin
  name made a valid driver name as the provisioner does (`pv_source.csi_driver_name`: the
  apiserver validates `spec.attacher` as a DNS subdomain, `kubernetes.io/iscsi` →
  `kubernetes.io.iscsi`). The volume handle is `spec.csi.volumeHandle`,
  or the plugin's volume name for other sources. Any process can compute the name
  (`attachment_name`); the kubelet finds its VolumeAttachment by it or by
  `spec.source.persistentVolumeName` on its node's topic.
- Only PV-backed volumes get a VolumeAttachment: Kubernetes' inline `inlineVolumeSpec` is for
  CSI only. An attachable inline volume (a FlexVolume driver that attaches) is attached and
  reported in `node.status.volumesAttached` alone, as Kubernetes does for non-CSI plugins.
- Multi-attach (Kubernetes' `IsMultiAttachAllowed`): a PV whose access modes include
  ReadWriteMany or ReadOnlyMany, or that has none, may be attached to several nodes; a RWO or
  RWOP PV may not; inline volumes may (the attacher would fail if not).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, NewType

from kstore.observe.metrics import plugin_label
from kstore.volume.mount import MountError
from kstore.volume.plugins import (
    AttachablePlugin,
    FlexVolumePlugin,
    PluginManager,
    Spec,
    VolumePlugin,
)
from kstore.volume.plugins.base import POD_ONLY_SOURCES, unique_volume_name
from kstore.volume.pv_source import csi_driver_name

Obj = Mapping[str, Any]
VolumeName = NewType("VolumeName", str)  # unique volume name: `<plugin name>/<plugin's volume name>`
NodeName = NewType("NodeName", str)
PodUID = NewType("PodUID", str)

ANN_VOLUME_NAME = "kstore.io/volume-name"  # on a VolumeAttachment: the unique volume name it attaches
MULTI_ATTACH_MODES = ("ReadWriteMany", "ReadOnlyMany")
NOT_ATTACHABLE_SOURCES = (*POD_ONLY_SOURCES, "hostPath")


class NotYet(Exception):
    """The volume cannot be judged yet (a FlexVolume driver is being discovered)."""


@dataclasses.dataclass(frozen=True)
class PodRef:
    """A pod as the controller remembers it: enough to name it in events and messages."""

    uid: PodUID
    namespace: str
    name: str

    @classmethod
    def of(cls, pod: Obj) -> PodRef:
        meta = pod.get("metadata") or {}
        return cls(PodUID(str(meta.get("uid") or "")), str(meta.get("namespace") or "default"),
                   str(meta.get("name") or ""))

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def as_object(self) -> dict[str, Any]:
        """A minimal Pod for the event recorder's involvedObject."""
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"namespace": self.namespace, "name": self.name, "uid": self.uid}}


@dataclasses.dataclass(frozen=True)
class AttachableVolume:
    """One volume to attach, independent of the node. `spec` is None only for a volume the
    controller found attached at start-up and can no longer resolve (its PV is gone): it can
    still be detached, by plugin name and volume name."""

    name: VolumeName
    plugin_name: str
    spec: Spec | None
    attacher: str = ""
    volume_handle: str = ""
    pv_name: str | None = None
    multi_attach_allowed: bool = True
    metric_label: str = ""  # `volume_plugin` / `plugin_name` label (kubernetes.io/csi:<driver>)

    @property
    def spec_name(self) -> str:
        """What messages call the volume (Kubernetes' `volumeSpec.Name()`): the PV's name."""
        if self.spec is not None:
            return self.spec.name
        return self.pv_name or self.name

    @property
    def plugin_volume_name(self) -> str:
        """The plugin's own volume name (what `Detacher.detach` takes)."""
        return self.name.removeprefix(self.plugin_name + "/")

    def attachment_name(self, node: str) -> str | None:
        """The VolumeAttachment's name on `node`; None for an inline volume (it has none)."""
        if self.pv_name is None:
            return None
        return attachment_name(self.volume_handle, self.attacher, node)


def attachment_name(volume_handle: str, attacher: str, node: str) -> str:
    """Kubernetes' CSI attacher naming: `csi-<sha256(volumeHandle + attacher + nodeName)>`."""
    return "csi-" + hashlib.sha256(f"{volume_handle}{attacher}{node}".encode()).hexdigest()


def attacher_name(plugin: VolumePlugin, spec: Spec) -> str:
    """`spec.attacher` of the volume's VolumeAttachment (see the module docstring)."""
    csi = spec.source_of("csi")
    if csi is not None and isinstance(csi.get("driver"), str) and csi["driver"]:
        return str(csi["driver"])
    return csi_driver_name(plugin.name)


def volume_handle(plugin: VolumePlugin, spec: Spec) -> str:
    csi = spec.source_of("csi")
    if csi is not None and isinstance(csi.get("volumeHandle"), str) and csi["volumeHandle"]:
        return str(csi["volumeHandle"])
    return plugin.volume_name(spec)


def multi_attach_allowed(spec: Spec | None) -> bool:
    if spec is None or spec.pv is None:
        return True
    modes = (spec.pv.get("spec") or {}).get("accessModes") or []
    if not modes:
        return True
    return any(m in MULTI_ATTACH_MODES for m in modes)


def metric_label(plugin: VolumePlugin, spec: Spec | None) -> str:
    try:
        return plugin_label(plugin.metric_label(spec))
    except (MountError, ValueError):
        return plugin_label(plugin.name)


def attachable_volume(plugin: VolumePlugin, spec: Spec) -> AttachableVolume | None:
    """`spec` as an AttachableVolume, or None when its plugin does not attach it. Raises
    MountError when the plugin cannot tell (e.g. an external driver)."""
    if not isinstance(plugin, AttachablePlugin) or not plugin.can_attach(spec):
        return None
    return AttachableVolume(
        name=VolumeName(unique_volume_name(plugin, spec)),
        plugin_name=plugin.name,
        spec=spec,
        attacher=attacher_name(plugin, spec),
        volume_handle=volume_handle(plugin, spec),
        pv_name=spec.name if spec.pv is not None else None,
        multi_attach_allowed=multi_attach_allowed(spec),
        metric_label=metric_label(plugin, spec),
    )


class VolumeResolver:
    """Pod volumes and PVs → AttachableVolumes, without blocking (see the module docstring)."""

    def __init__(self, manager: PluginManager, *, on_flex_needed: Callable[[str], None] | None = None) -> None:
        self.manager = manager
        self._on_flex_needed = on_flex_needed

    def for_pod_volume(self, volume: Obj, pod: Obj) -> AttachableVolume | None:
        """None when the volume needs no attaching; MountError when it cannot be resolved
        (claim not bound, PV missing, no plugin); NotYet while a driver is being discovered."""
        if any(volume.get(k) is not None for k in NOT_ATTACHABLE_SOURCES):
            return None
        spec = self.manager.resolve(Spec.from_volume(volume), pod)
        return self._attachable(spec)

    def for_pv(self, pv: Obj) -> AttachableVolume | None:
        return self._attachable(Spec.from_pv(pv))

    def _attachable(self, spec: Spec) -> AttachableVolume | None:
        flex = spec.source_of("flexVolume")
        if flex is not None:
            driver = str(flex.get("driver") or "")
            if driver and driver not in self.discovered_flex_drivers():
                if self._on_flex_needed is not None:
                    self._on_flex_needed(driver)
                raise NotYet(f'FlexVolume driver "{driver}" is being discovered')
        return attachable_volume(self.manager.find(spec), spec)

    def discovered_flex_drivers(self) -> set[str]:
        return {p.driver for p in self.manager.plugins if isinstance(p, FlexVolumePlugin)}

    def split_unique_name(self, name: str) -> tuple[str, str] | None:
        """A unique volume name → (plugin name, plugin's volume name), by the longest known
        plugin name it starts with (FlexVolume names: `flexvolume-<vendor>/<driver>/...`)."""
        best = ""
        for plugin in self.manager.plugins:
            if name.startswith(plugin.name + "/") and len(plugin.name) > len(best):
                best = plugin.name
        if not best and name.startswith("flexvolume-"):
            parts = name.split("/", 2)
            if len(parts) == 3:
                best = f"{parts[0]}/{parts[1]}"
        if not best:
            return None
        return best, name[len(best) + 1:]


def pod_terminated(pod: Obj) -> bool:
    """Kubernetes' IsPodTerminated: Succeeded or Failed, or being deleted with no container
    running (a pod without container statuses counts as not running)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if state.get("terminated") is None and state.get("waiting") is None:
            return False
    return True


def node_ready(node: Obj | None) -> bool:
    if node is None:
        return False
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"
ANN_CONTROLLER_MANAGED = "volumes.kubernetes.io/controller-managed-attach-detach"


def out_of_service(node: Obj | None) -> bool:
    if node is None:
        return False
    return any(t.get("key") == TAINT_OUT_OF_SERVICE for t in (node.get("spec") or {}).get("taints") or [])


def controller_managed(node: Obj) -> bool:
    """Kubernetes attaches only for nodes whose kubelet asked for it with this annotation."""
    return ((node.get("metadata") or {}).get("annotations") or {}).get(ANN_CONTROLLER_MANAGED) == "true"


def volumes_in_use(node: Obj | None) -> list[str]:
    if node is None:
        return []
    return [str(v) for v in (node.get("status") or {}).get("volumesInUse") or []]


def attach_relevant_change(old: Obj, new: Obj) -> bool:
    """Whether a pod update can change what the pod wants attached: its node, its volumes, or
    whether it has terminated. Status-only updates (a kubelet's ContainerCreating → Running)
    cannot; what they would have retried (a claim not bound yet) is retried by the claim's and
    the PV's own events and by the periodic full pass."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    return (old_spec.get("nodeName") != new_spec.get("nodeName")
            or old_spec.get("volumes") != new_spec.get("volumes")
            or pod_terminated(old) != pod_terminated(new))
