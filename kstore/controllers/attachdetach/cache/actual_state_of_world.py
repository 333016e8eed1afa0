"""ActualStateOfWorld: which volumes are attached to which nodes (Kubernetes'
`attachdetach/cache/actual_state_of_world.go`, read for behaviour).

Design:
- Per (volume, node): the device path, the VolumeAttachment standing for it, whether the
  attachment is confirmed (`ATTACHED`) or `UNCERTAIN` (an attach was started and did not
  finish — a failure, a crash, a VolumeAttachment deleted under us — or a force detach could
  not free the device yet), and when a detach was first wanted.
- Uncertain attachments are in `get_attached_volumes()` (so they are detached when nobody
  wants them) but are not confirmed: they do not block attaching an RWO volume elsewhere, and
  are not reported in `node.status.volumesAttached`.
- What the node reports: `set_mount_report(node, volumesInUse)` keeps each node's
  `status.volumesInUse`; a volume is mounted by a node when that node lists it there (the
  safe-detach handshake). A node that never reported mounts nothing.
- What the node status should say: per node, the volumes to report as attached (confirmed
  ones, minus those taken out of the report just before a detach) and whether the node's
  `status.volumesAttached` needs writing (`nodes_to_update_status_for`).
- No I/O; an injected clock (monotonic seconds) stamps detach requests.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

from kstore.client.clock import Clock, RealClock
from kstore.controllers.attachdetach.volumes import AttachableVolume, NodeName, VolumeName


class AttachState(enum.Enum):
    ATTACHED = "attached"
    UNCERTAIN = "uncertain"
    DETACHED = "detached"


@dataclasses.dataclass(frozen=True)
class AttachedVolume:
    """A copy of one (volume, node) the actual state holds."""

    volume: AttachableVolume
    node: NodeName
    device_path: str
    attachment: str | None  # the VolumeAttachment's name; None for an inline volume
    state: AttachState
    mounted_by_node: bool
    detach_requested_at: float | None

    @property
    def name(self) -> VolumeName:
        return self.volume.name


@dataclasses.dataclass
class _Attachment:
    volume: AttachableVolume
    device_path: str
    attachment: str | None
    confirmed: bool
    detach_requested_at: float | None = None


class ActualStateOfWorld:
    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else RealClock()
        self._volumes: dict[VolumeName, dict[NodeName, _Attachment]] = {}
        self._report: dict[NodeName, set[VolumeName]] = {}  # volumes to report as attached
        self._status_update_needed: set[NodeName] = set()
        self._in_use: dict[NodeName, frozenset[str]] = {}
        self._by_attachment: dict[str, tuple[VolumeName, NodeName]] = {}  # VolumeAttachment name → key

    # ---- attach / detach

    def mark_attached(self, volume: AttachableVolume, node: NodeName, *, device_path: str,
                      attachment: str | None) -> None:
        """Confirmed attached: recorded, and reported in the node's status."""
        self._put(volume, node, device_path=device_path, attachment=attachment, confirmed=True)
        self._add_report(volume.name, node)

    def mark_uncertain(self, volume: AttachableVolume, node: NodeName, *, attachment: str | None,
                       device_path: str | None = None) -> None:
        """Maybe attached: recorded so that it is detached if nobody wants it, or attached again
        (idempotently) if someone does; taken out of the node's report. `device_path` None keeps
        the known one."""
        current = self._volumes.get(volume.name, {}).get(node)
        path = device_path if device_path is not None else (current.device_path if current else "")
        self._put(volume, node, device_path=path, attachment=attachment, confirmed=False)
        self._remove_report(volume.name, node)

    def _put(self, volume: AttachableVolume, node: NodeName, *, device_path: str, attachment: str | None,
             confirmed: bool) -> None:
        nodes = self._volumes.setdefault(volume.name, {})
        current = nodes.get(node)
        if current is None:
            nodes[node] = _Attachment(volume, device_path, attachment, confirmed)
        else:
            if volume.spec is not None or current.volume.spec is None:
                current.volume = volume
            current.device_path = device_path
            if attachment is not None and attachment != current.attachment:
                if current.attachment is not None:
                    self._by_attachment.pop(current.attachment, None)
                current.attachment = attachment
            current.confirmed = confirmed
        if attachment is not None:
            self._by_attachment[attachment] = (volume.name, node)

    def delete_volume_node(self, name: VolumeName, node: NodeName) -> None:
        """Detached: forget (volume, node). No-op when unknown."""
        nodes = self._volumes.get(name)
        if nodes is None or node not in nodes:
            return
        gone = nodes.pop(node)
        if gone.attachment is not None:
            self._by_attachment.pop(gone.attachment, None)
        if not nodes:
            del self._volumes[name]
        self._remove_report(name, node)

    def get_attach_state(self, name: VolumeName, node: NodeName) -> AttachState:
        a = self._volumes.get(name, {}).get(node)
        if a is None:
            return AttachState.DETACHED
        return AttachState.ATTACHED if a.confirmed else AttachState.UNCERTAIN

    def get_attached_volumes(self) -> list[AttachedVolume]:
        """Every (volume, node), confirmed or uncertain."""
        return [self._copy(node, a) for nodes in self._volumes.values() for node, a in nodes.items()]

    def get_attached_volume(self, name: VolumeName, node: NodeName) -> AttachedVolume | None:
        a = self._volumes.get(name, {}).get(node)
        return self._copy(node, a) if a is not None else None

    def get_attached_volumes_for_node(self, node: NodeName) -> list[AttachedVolume]:
        return [self._copy(node, nodes[node]) for nodes in self._volumes.values() if node in nodes]

    def get_nodes_for_attached_volume(self, name: VolumeName) -> list[NodeName]:
        """The nodes the volume is confirmed attached to."""
        return [node for node, a in self._volumes.get(name, {}).items() if a.confirmed]

    def find_by_attachment(self, attachment: str) -> AttachedVolume | None:
        """The (volume, node) a VolumeAttachment stands for."""
        key = self._by_attachment.get(attachment)
        return self.get_attached_volume(*key) if key is not None else None

    # ---- detach requests

    def set_detach_request_time(self, name: VolumeName, node: NodeName) -> float:
        """Seconds since a detach of (volume, node) was first wanted (0 the first time);
        KeyError when unknown."""
        a = self._volumes[name][node]
        now = self._clock.now()
        if a.detach_requested_at is None:
            a.detach_requested_at = now
        return now - a.detach_requested_at

    def reset_detach_request_time(self, name: VolumeName, node: NodeName) -> None:
        """Wanted again: forget the detach request. No-op when unknown."""
        a = self._volumes.get(name, {}).get(node)
        if a is not None:
            a.detach_requested_at = None

    # ---- mounts the nodes report

    def set_mount_report(self, node: NodeName, volumes_in_use: Iterable[str]) -> None:
        """The node's `status.volumesInUse`, as last seen."""
        self._in_use[node] = frozenset(volumes_in_use)

    def is_mounted_by_node(self, name: VolumeName, node: NodeName) -> bool:
        return name in self._in_use.get(node, frozenset())

    # ---- node status

    def remove_volume_from_report_as_attached(self, name: VolumeName, node: NodeName) -> None:
        """Before a detach: the node must stop seeing the volume as attached."""
        self._remove_report(name, node)

    def add_volume_to_report_as_attached(self, name: VolumeName, node: NodeName) -> None:
        """Undo the above after a failed detach. Only a confirmed attachment is reported."""
        a = self._volumes.get(name, {}).get(node)
        if a is not None and a.confirmed:
            self._add_report(name, node)

    def get_volumes_to_report_attached(self, node: NodeName) -> list[tuple[VolumeName, str]]:
        """(volume, device path) for the node's `status.volumesAttached`, sorted by name."""
        out = []
        for name in sorted(self._report.get(node, ())):
            a = self._volumes.get(name, {}).get(node)
            if a is not None:
                out.append((name, a.device_path))
        return out

    def nodes_to_update_status_for(self) -> list[NodeName]:
        return sorted(self._status_update_needed)

    def set_node_status_update_needed(self, node: NodeName) -> None:
        self._status_update_needed.add(node)

    def set_node_status_updated(self, node: NodeName) -> None:
        self._status_update_needed.discard(node)

    def nodes(self) -> list[NodeName]:
        """Nodes with attachments or with something to report."""
        nodes = {n for ns in self._volumes.values() for n in ns} | set(self._report)
        return sorted(nodes)

    def _add_report(self, name: VolumeName, node: NodeName) -> None:
        report = self._report.setdefault(node, set())
        if name not in report:
            report.add(name)
            self._status_update_needed.add(node)

    def _remove_report(self, name: VolumeName, node: NodeName) -> None:
        report = self._report.get(node)
        if report is not None and name in report:
            report.discard(name)
            self._status_update_needed.add(node)
            if not report:
                del self._report[node]

    def _copy(self, node: NodeName, a: _Attachment) -> AttachedVolume:
        return AttachedVolume(
            volume=a.volume, node=node, device_path=a.device_path, attachment=a.attachment,
            state=AttachState.ATTACHED if a.confirmed else AttachState.UNCERTAIN,
            mounted_by_node=self.is_mounted_by_node(a.volume.name, node),
            detach_requested_at=a.detach_requested_at,
        )
