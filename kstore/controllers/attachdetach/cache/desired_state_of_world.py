"""DesiredStateOfWorld: which volumes should be attached to which nodes, and which pods want
them (Kubernetes' `attachdetach/cache/desired_state_of_world.go`, read for behaviour).

Design:
- Nodes the controller manages (their kubelet carries the controller-managed annotation),
  Ready or not; under each node the volumes to attach there, each with the pods scheduled to
  that node that use it, keyed by pod uid (a pod re-created under the same name is another
  pod). A pod's volumes are also indexed by the pod's own name for the volume ("outer name"),
  so the populator can replace one volume of a pod without touching its others.
- No I/O, no clock: the populator feeds it, the reconciler and the metrics read it.
  Getters return copies (frozen dataclasses, tuples), never the internal dicts.
- A volume stays under its node while at least one pod wants it; the last pod leaving removes
  it. A node is removed only once it has no volumes (Kubernetes refuses the delete otherwise).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from kstore.controllers.attachdetach.volumes import AttachableVolume, NodeName, PodRef, PodUID, VolumeName


@dataclasses.dataclass(frozen=True)
class VolumeToAttach:
    """A copy of one (volume, node) the desired state holds."""

    volume: AttachableVolume
    node: NodeName
    scheduled_pods: tuple[PodRef, ...]
    multi_attach_error_reported: bool

    @property
    def name(self) -> VolumeName:
        return self.volume.name


@dataclasses.dataclass
class _Volume:
    volume: AttachableVolume
    pods: dict[PodUID, PodRef] = dataclasses.field(default_factory=dict)
    multi_attach_error_reported: bool = False


@dataclasses.dataclass
class _PodEntry:
    node: NodeName
    volumes: dict[str, VolumeName] = dataclasses.field(default_factory=dict)  # outer name → volume


class NodeNotManaged(KeyError):
    """The pod's node is not in the desired state (unknown, or its kubelet attaches itself)."""


class DesiredStateOfWorld:
    def __init__(self) -> None:
        self._nodes: dict[NodeName, dict[VolumeName, _Volume]] = {}
        self._pods: dict[PodUID, _PodEntry] = {}

    # ---- nodes

    def add_node(self, node: NodeName) -> None:
        """Manage `node`. If the node already exists this is a no-op."""
        self._nodes.setdefault(node, {})

    def delete_node(self, node: NodeName) -> bool:
        """Stop managing `node`; False (and nothing changes) while it still has volumes to attach.
        A node that does not exist is a no-op (True)."""
        volumes = self._nodes.get(node)
        if volumes is None:
            return True
        if volumes:
            return False
        del self._nodes[node]
        return True

    def node_exists(self, node: NodeName) -> bool:
        return node in self._nodes

    def nodes(self) -> list[NodeName]:
        return list(self._nodes)

    # ---- pods

    def add_pod(self, pod: PodRef, outer_name: str, volume: AttachableVolume, node: NodeName) -> None:
        """Record that `pod` on `node` wants `volume` under its own name `outer_name`.

        Replaces what the pod had under that name (another volume: the pod leaves that one), and
        the volume's spec with the newer one. Raises NodeNotManaged when the node is not here.
        A pod moves nodes only by being re-created (another uid), so a known pod on another
        node is first removed whole.
        """
        volumes = self._nodes.get(node)
        if volumes is None:
            raise NodeNotManaged(node)
        entry = self._pods.get(pod.uid)
        if entry is not None and entry.node != node:
            self.delete_pod(pod.uid)
            entry = None
        if entry is None:
            entry = self._pods[pod.uid] = _PodEntry(node)
        previous = entry.volumes.get(outer_name)
        if previous is not None and previous != volume.name:
            self._leave(pod.uid, node, previous)
        entry.volumes[outer_name] = volume.name
        current = volumes.get(volume.name)
        if current is None:
            volumes[volume.name] = _Volume(volume, {pod.uid: pod})
        else:
            current.volume = volume
            current.pods[pod.uid] = pod

    def delete_pod_volume(self, uid: PodUID, outer_name: str) -> None:
        """The pod no longer wants the volume it had under `outer_name`. No-op when unknown."""
        entry = self._pods.get(uid)
        if entry is None or outer_name not in entry.volumes:
            return
        name = entry.volumes.pop(outer_name)
        if name not in entry.volumes.values():
            self._leave(uid, entry.node, name)
        if not entry.volumes:
            del self._pods[uid]

    def delete_pod(self, uid: PodUID) -> None:
        """The pod wants nothing any more (deleted, terminated). No-op when unknown."""
        entry = self._pods.pop(uid, None)
        if entry is None:
            return
        for name in set(entry.volumes.values()):
            self._leave(uid, entry.node, name)

    def _leave(self, uid: PodUID, node: NodeName, name: VolumeName) -> None:
        volumes = self._nodes.get(node) or {}
        vol = volumes.get(name)
        if vol is None:
            return
        vol.pods.pop(uid, None)
        if not vol.pods:
            del volumes[name]

    def pod_exists(self, uid: PodUID) -> bool:
        return uid in self._pods

    def pods(self) -> list[PodUID]:
        return list(self._pods)

    def get_pod_volumes(self, uid: PodUID) -> dict[str, VolumeName]:
        """Outer name → volume, for one pod (a copy; empty when unknown)."""
        entry = self._pods.get(uid)
        return dict(entry.volumes) if entry is not None else {}

    # ---- volumes

    def volume_exists(self, name: VolumeName, node: NodeName) -> bool:
        return name in self._nodes.get(node, {})

    def get_volumes_to_attach(self) -> list[VolumeToAttach]:
        return [self._copy(node, vol) for node, volumes in self._nodes.items() for vol in volumes.values()]

    def get_volume_to_attach(self, name: VolumeName, node: NodeName) -> VolumeToAttach | None:
        vol = self._nodes.get(node, {}).get(name)
        return self._copy(node, vol) if vol is not None else None

    def set_multi_attach_error(self, name: VolumeName, node: NodeName) -> None:
        """Remember that the Multi-Attach event was sent for (volume, node). No-op when unknown."""
        vol = self._nodes.get(node, {}).get(name)
        if vol is not None:
            vol.multi_attach_error_reported = True

    def get_volume_pods_on_nodes(self, nodes: Iterable[NodeName], name: VolumeName) -> list[PodRef]:
        """The pods on `nodes` that want the volume."""
        pods: list[PodRef] = []
        for node in nodes:
            vol = self._nodes.get(node, {}).get(name)
            if vol is not None:
                pods.extend(vol.pods.values())
        return pods

    @staticmethod
    def _copy(node: NodeName, vol: _Volume) -> VolumeToAttach:
        return VolumeToAttach(vol.volume, node, tuple(vol.pods.values()), vol.multi_attach_error_reported)
