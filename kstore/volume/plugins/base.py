"""The volume plugin interfaces (Kubernetes' `pkg/volume/plugins.go` and `volume.go`, read for
behaviour; our own Python).

Design:
- A base `VolumePlugin` (name, can_support, volume_name, the mounter/unmounter factories) plus
  capability parts a plugin mixes in: `AttachablePlugin` (attach / detach / is_attached,
  controller side), `DeviceMountablePlugin` (wait_for_attach, mount_device / unmount_device at
  the node's global path), `BlockMappablePlugin` (volumeMode Block) and `NodeExpandablePlugin`
  (node-side filesystem resize). Whether a capability applies can depend on the volume, as
  with Kubernetes' CSI plugin: `can_attach(spec)`, `can_device_mount(spec)`.
- Operations are objects from factories (`plugin.new_attacher()`, `new_mounter(spec, pod)`,
  ...), as in Kubernetes; each operation is idempotent (a retry after a crash finishes the job)
  and blocks (the kubelet and the ad-controller run them on an executor).
- Side effects go through `host.mounter` (kstore/volume/mount.py) and plain file writes
  under the state dir; every path is built from checked plain names (`plain_name`), so a pod
  uid or volume name cannot walk out of its directory.
- Failures are `MountError(reason, message)`; the message is what the kubelet puts in its
  FailedMount / FailedAttachVolume event (Kubernetes' wording where Kubernetes has one).
- Metrics: each operation object observes `storage_operation_duration_seconds` with
  Kubernetes' operation names: volume_attach, volume_detach, volume_mount (set_up),
  volume_unmount (tear_down), unmount_device, volume_fs_resize, map_volume, unmap_volume,
  unmap_device. Kubernetes has no name of its own for MountDevice (its time is part of
  volume_mount there), so mount_device is not observed separately; callers must not wrap these
  operations in a second timer of the same name.

On-disk layout (DESIGN §4), per node, under `<state>/nodes/<node>/`:
    kubelet/pods/<pod-uid>/volumes/<escaped plugin>/<volume>         set_up (bind, dir, files)
    kubelet/pods/<pod-uid>/volumeDevices/<escaped plugin>/<volume>   volumeMode Block: symlink
    kubelet/plugins/<plugin>/mounts/<volume>                         mount_device (global path)
    kubelet/plugins/<plugin>/volumeDevices/<volume>/<pod-uid>        Block: the device bound here
    root/<path>                                                      hostPath / local confinement
    attachments/<backend>~<name>                                     which volumes are attached
The escaped plugin name replaces "/" by "~": `kubernetes.io~csi` (Kubernetes'
EscapeQualifiedNameForDisk).
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kstore.observe.metrics import OperationTimer, time_operation
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import INVALID, Mounter, MountError, UnsafePath

Obj = Mapping[str, Any]

DEFAULT_FLEX_TIMEOUT = 10.0  # seconds per FlexVolume driver call
DEFAULT_ATTACH_TIMEOUT = 10.0  # seconds wait_for_attach waits for the device to appear

# Pod volume source keys Kubernetes has, with the plugin that serves them here.
POD_ONLY_SOURCES = ("emptyDir", "configMap", "secret", "downwardAPI", "projected")
CLAIM_SOURCES = ("persistentVolumeClaim", "ephemeral")

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,252}")


def plain_name(value: Any, what: str) -> str:
    """`value` when it is one plain path component; Unsafe otherwise (it would leave its dir)."""
    if not isinstance(value, str) or not _PLAIN.fullmatch(value):
        raise UnsafePath(f"{what} {value!r} is not a plain file name: refusing to build a path from it")
    return value


def escape_plugin_name(name: str) -> str:
    """`kubernetes.io/csi` → `kubernetes.io~csi` (the pod volume directory's name)."""
    return name.replace("/", "~")


class ObjectGetter(Protocol):
    """Read access to API objects (ConfigMaps, Secrets, claims, volumes) for the plugins."""

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """The object, or None when it does not exist. Cluster-scoped kinds get namespace ""."""
        ...


@dataclasses.dataclass(frozen=True)
class ResolvedClaim:
    claim: Obj
    pv: Obj


class VolumeResolver(Protocol):
    """Resolves a claim to the PersistentVolume bound to it."""

    def resolve_claim(self, namespace: str, claim_name: str) -> ResolvedClaim:
        """The claim and its bound PV; MountError (Kubernetes' wording) when there is none."""
        ...


# ---- the volume spec


@dataclasses.dataclass(frozen=True)
class Spec:
    """One volume, as a plugin sees it: a pod's `spec.volumes[]` entry or a PersistentVolume
    (Kubernetes' volume.Spec). `read_only` is the pod's wish (a claim volume's readOnly);
    `pod_volume_name` is the name the pod's containers use for a PV-backed volume."""

    volume: Obj | None = None
    pv: Obj | None = None
    read_only: bool = False
    pod_volume_name: str | None = None

    @classmethod
    def from_volume(cls, volume: Obj) -> Spec:
        return cls(volume=volume, pod_volume_name=str(volume.get("name") or ""))

    @classmethod
    def from_pv(cls, pv: Obj, *, read_only: bool = False, pod_volume_name: str | None = None) -> Spec:
        return cls(pv=pv, read_only=read_only, pod_volume_name=pod_volume_name)

    @property
    def name(self) -> str:
        """The PV's name, or the pod volume's name (Kubernetes' spec.Name())."""
        if self.pv is not None:
            return str((self.pv.get("metadata") or {}).get("name") or "")
        return str((self.volume or {}).get("name") or "")

    @property
    def source(self) -> Obj:
        """The mapping that holds the volume source: the pod volume or the PV's spec."""
        if self.pv is not None:
            return self.pv.get("spec") or {}
        return self.volume or {}

    def source_of(self, key: str) -> Obj | None:
        value = self.source.get(key)
        return value if isinstance(value, Mapping) else None

    @property
    def volume_mode(self) -> str:
        if self.pv is not None:
            return str((self.pv.get("spec") or {}).get("volumeMode") or "Filesystem")
        return "Filesystem"

    @property
    def is_block(self) -> bool:
        return self.volume_mode == "Block"

    def is_read_only(self, key: str) -> bool:
        """The pod's readOnly, or the source's own `readOnly`."""
        source = self.source_of(key) or {}
        return bool(self.read_only or source.get("readOnly"))

    @property
    def is_claim(self) -> bool:
        return self.pv is None and any(self.source.get(k) is not None for k in CLAIM_SOURCES)


# ---- where things live


@dataclasses.dataclass
class VolumeHost:
    """What plugins need from their process (Kubernetes' VolumeHost): the state dir, the mount
    utilities, this node (None in the ad-controller: attach and detach name their node), API
    reads, driver mappings, and the FlexVolume plugin dir and timeout."""

    state_dir: Path
    mounter: Mounter
    node: str | None = None
    objects: ObjectGetter | None = None
    drivers: DriverMap | None = None
    flex_dir: Path | None = None  # default <state>/volume-plugins
    flex_timeout: float = DEFAULT_FLEX_TIMEOUT
    attach_timeout: float = DEFAULT_ATTACH_TIMEOUT

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        if self.drivers is None:
            self.drivers = DriverMap.from_config({})
        if self.flex_dir is None:
            self.flex_dir = self.state_dir / "volume-plugins"
        if self.node is not None:
            plain_name(self.node, "node name")

    def require_node(self) -> str:
        if self.node is None:
            raise MountError(INVALID, "this operation runs on a node, and this volume host has none")
        return self.node

    def node_dir(self, node: str | None = None) -> Path:
        return self.state_dir / "nodes" / plain_name(node or self.require_node(), "node name")

    def node_root(self) -> Path:
        """The emulated node's `/`: hostPath and foreign local paths are confined here."""
        return self.node_dir() / "root"

    def kubelet_dir(self) -> Path:
        return self.node_dir() / "kubelet"

    def pod_dir(self, pod_uid: str) -> Path:
        return self.kubelet_dir() / "pods" / plain_name(pod_uid, "pod uid")

    def pod_volume_dir(self, pod_uid: str, plugin_name: str, volume: str) -> Path:
        return (self.pod_dir(pod_uid) / "volumes" / plain_name(escape_plugin_name(plugin_name), "plugin name")
                / plain_name(volume, "volume name"))

    def pod_device_dir(self, pod_uid: str, plugin_name: str, volume: str) -> Path:
        return (self.pod_dir(pod_uid) / "volumeDevices" / plain_name(escape_plugin_name(plugin_name), "plugin name")
                / plain_name(volume, "volume name"))

    def plugin_dir(self, plugin_name: str) -> Path:
        """`kubelet/plugins/<plugin name>` (a name with "/" nests, as in Kubernetes)."""
        for part in plugin_name.split("/"):
            plain_name(part, "plugin name")
        return self.kubelet_dir() / "plugins" / plugin_name

    def attachment_marker(self, node: str, backend: str, name: str) -> Path:
        return self.node_dir(node) / "attachments" / f"{plain_name(backend, 'backend')}~{plain_name(name, 'volume')}"


# ---- operation objects


class Attacher(abc.ABC):
    """Controller side: make a volume available on a node (Kubernetes' Attacher.Attach)."""

    @abc.abstractmethod
    def attach(self, spec: Spec, node: str) -> str:
        """Attach; returns the device path ("" when the volume has none). Idempotent."""

    @abc.abstractmethod
    def is_attached(self, spec: Spec, node: str) -> bool: ...


class Detacher(abc.ABC):
    @abc.abstractmethod
    def detach(self, volume_name: str, node: str) -> None:
        """Detach the volume named by `plugin.volume_name(spec)` from the node. Idempotent;
        Busy while the device is still mounted."""


class DeviceMounter(abc.ABC):
    """Node side, once per volume and node: the device at the node's global path."""

    @abc.abstractmethod
    def wait_for_attach(self, spec: Spec, device_path: str, timeout: float) -> str:
        """The device path once the device is on this node; Timeout after `timeout` seconds."""

    @abc.abstractmethod
    def device_mount_path(self, spec: Spec) -> Path: ...

    @abc.abstractmethod
    def mount_device(self, spec: Spec, device_path: str, device_mount_path: Path) -> None:
        """Format when blank, mount at the global path. Idempotent."""


class DeviceUnmounter(abc.ABC):
    @abc.abstractmethod
    def unmount_device(self, device_mount_path: Path) -> None:
        """Unmount the global path and remove it. Busy while pods' mounts still use it."""


class VolumeMounter(abc.ABC):
    """Node side, per pod: the volume at the pod's path (Kubernetes' Mounter)."""

    path: Path  # where the pod's volume is; the CRI step binds container paths from here
    read_only: bool = False

    @abc.abstractmethod
    def set_up(self, *, fs_group: int | None = None) -> None:
        """Make the volume appear at `path`. Idempotent (re-run to refresh projected files)."""


class VolumeUnmounter(abc.ABC):
    path: Path

    @abc.abstractmethod
    def tear_down(self) -> None:
        """Unmount and remove `path`. Idempotent: a missing path is done."""


class BlockVolumeMapper(abc.ABC):
    """volumeMode Block: the device itself handed to the pod.

    `global_map_path/<pod-uid>` is an empty file with the device bind-mounted on it (a
    reference the node keeps while the pod uses the device, as Kubernetes does), and
    `pod_device_path` is a symlink to the device: the CRI step hands that path to the
    container's `volumeDevices[].devicePath`.
    """

    pod_device_path: Path
    global_map_path: Path

    @abc.abstractmethod
    def set_up_device(self, device_path: str) -> str:
        """Node staging; returns the device to map (a local image gets its loop device here)."""

    @abc.abstractmethod
    def map_pod_device(self, device_path: str) -> Path:
        """Bind the device at the global map path, symlink it at the pod path. Idempotent."""


class BlockVolumeUnmapper(abc.ABC):
    pod_device_path: Path

    @abc.abstractmethod
    def unmap_pod_device(self) -> None: ...

    @abc.abstractmethod
    def tear_down_device(self) -> None:
        """Undo `set_up_device` once no pod maps the device."""


class NodeExpander(abc.ABC):
    @abc.abstractmethod
    def expand(self, spec: Spec, device_path: str, device_mount_path: Path | None) -> int:
        """Grow the node's view to the image's size (`losetup -c`, then `resize2fs` of a mounted
        filesystem). Returns the new size in bytes (0 when there is nothing to grow)."""


# ---- plugins


class VolumePlugin(abc.ABC):
    """The base every plugin implements."""

    name: str  # Kubernetes' plugin name: kubernetes.io/csi, kubernetes.io/empty-dir, ...

    def __init__(self, host: VolumeHost) -> None:
        self.host = host

    @property
    def dir_name(self) -> str:
        return escape_plugin_name(self.name)

    @abc.abstractmethod
    def can_support(self, spec: Spec) -> bool: ...

    def volume_name(self, spec: Spec) -> str:
        """The volume's unique name within the plugin (Kubernetes' GetVolumeName)."""
        return spec.name

    def requires_remount(self, spec: Spec) -> bool:
        """True when set_up must run again to refresh contents (configMap, secret, ...)."""
        return False

    def metric_label(self, spec: Spec | None = None) -> str:
        """The `volume_plugin` label (through metrics.plugin_label)."""
        return self.name

    def timer(self, operation: str, spec: Spec | None = None) -> OperationTimer:
        return time_operation(self.metric_label(spec), operation)

    @abc.abstractmethod
    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter: ...

    @abc.abstractmethod
    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        """`volume_name` is the pod volume directory's name (spec.name when it was set up)."""


class AttachablePlugin(abc.ABC):
    def can_attach(self, spec: Spec) -> bool:
        return True

    @abc.abstractmethod
    def new_attacher(self) -> Attacher: ...

    @abc.abstractmethod
    def new_detacher(self) -> Detacher: ...


class DeviceMountablePlugin(abc.ABC):
    def can_device_mount(self, spec: Spec) -> bool:
        return True

    @abc.abstractmethod
    def new_device_mounter(self) -> DeviceMounter: ...

    @abc.abstractmethod
    def new_device_unmounter(self) -> DeviceUnmounter: ...


class BlockMappablePlugin(abc.ABC):
    @abc.abstractmethod
    def new_block_mapper(self, spec: Spec, pod: Obj) -> BlockVolumeMapper: ...

    @abc.abstractmethod
    def new_block_unmapper(self, volume_name: str, pod_uid: str) -> BlockVolumeUnmapper: ...


class NodeExpandablePlugin(abc.ABC):
    def requires_fs_resize(self, spec: Spec) -> bool:
        return True

    @abc.abstractmethod
    def new_node_expander(self) -> NodeExpander: ...


def pod_uid(pod: Obj) -> str:
    return plain_name((pod.get("metadata") or {}).get("uid"), "pod uid")


def unique_volume_name(plugin: VolumePlugin, spec: Spec) -> str:
    """The name the attach/detach controller and the kubelet both use for a volume: in
    `node.status.volumesAttached[].name` and `node.status.volumesInUse`, as Kubernetes'
    `GetUniqueVolumeNameFromSpec` (e.g. `kubernetes.io/csi/ebs.csi.aws.com^block/pvc-…`)."""
    return f"{plugin.name}/{plugin.volume_name(spec)}"
