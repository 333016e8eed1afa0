"""Rebuild the actual state of the world at start-up, before the reconciler runs (Kubernetes'
`populateActualStateOfWorld` and `processVolumeAttachments` in attach_detach_controller.go,
read for behaviour).

The controller keeps nothing on disk: after a crash or `kill -9` it learns what is attached
from the store.
- Every VolumeAttachment: `status.attached: true` → ATTACHED with its
  `attachmentMetadata.devicePath`; otherwise UNCERTAIN (an attach that did not finish: it is
  finished, idempotently, if a pod still wants the volume, and undone otherwise). The volume
  is identified from its PV, or — when the PV is gone — from the unique volume name the
  controller wrote in the `kstore.io/volume-name` annotation, which is all a detach needs.
- Every `node.status.volumesAttached` entry with no VolumeAttachment: UNCERTAIN (an inline
  volume, or an object deleted while the controller was down) — same rule.
- Every node's `status.volumesInUse`, so the safe-detach handshake holds from the first pass.
Nothing here touches a device: a volume found attached is not attached again, and the plugins'
attach is idempotent (an image's existing loop device is reused) for the uncertain ones.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from kstore.controllers.attachdetach.cache import ActualStateOfWorld
from kstore.controllers.attachdetach.volumes import (
    ANN_VOLUME_NAME,
    AttachableVolume,
    NodeName,
    NotYet,
    Obj,
    VolumeName,
    VolumeResolver,
    volumes_in_use,
)
from kstore.observe.metrics import plugin_label
from kstore.volume.mount import MountError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RebuildReport:
    attached: int = 0
    uncertain: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)  # what could not be identified


def rebuild_actual_state(asw: ActualStateOfWorld, *, attachments: Iterable[Obj], nodes: Iterable[Obj],
                         resolver: VolumeResolver, pv: Callable[[str], Obj | None]) -> RebuildReport:
    report = RebuildReport()
    nodes = list(nodes)
    for node in nodes:
        asw.set_mount_report(NodeName(str(node["metadata"]["name"])), volumes_in_use(node))
    for va in attachments:
        meta, spec, status = va.get("metadata") or {}, va.get("spec") or {}, va.get("status") or {}
        name = str(meta.get("name") or "")
        node = NodeName(str(spec.get("nodeName") or ""))
        pv_name = (spec.get("source") or {}).get("persistentVolumeName")
        volume = _volume_of(resolver, pv(pv_name) if pv_name else None,
                            str((meta.get("annotations") or {}).get(ANN_VOLUME_NAME) or ""),
                            attacher=str(spec.get("attacher") or ""), pv_name=pv_name)
        if volume is None or not node:
            report.skipped.append(f"VolumeAttachment {name}")
            log.warning("VolumeAttachment %s (PV %s, node %s): cannot tell which volume it attaches; left alone",
                        name, pv_name, node)
            continue
        device = str((status.get("attachmentMetadata") or {}).get("devicePath") or "")
        if status.get("attached") is True:
            asw.mark_attached(volume, node, device_path=device, attachment=name)
            report.attached += 1
        else:
            asw.mark_uncertain(volume, node, attachment=name, device_path=device)
            report.uncertain += 1
    for node_obj in nodes:
        node = NodeName(str(node_obj["metadata"]["name"]))
        for entry in (node_obj.get("status") or {}).get("volumesAttached") or []:
            unique = VolumeName(str(entry.get("name") or ""))
            if not unique or asw.get_attached_volume(unique, node) is not None:
                continue
            volume = _volume_of(resolver, None, unique, attacher="", pv_name=None)
            if volume is None:
                report.skipped.append(f"{unique} on {node}")
                continue
            asw.mark_uncertain(volume, node, attachment=None, device_path=str(entry.get("devicePath") or ""))
            report.uncertain += 1
    for node in asw.nodes():
        asw.set_node_status_update_needed(node)
    return report


def _volume_of(resolver: VolumeResolver, pv: Obj | None, annotated: str, *, attacher: str,
               pv_name: str | None) -> AttachableVolume | None:
    if pv is not None:
        try:
            volume = resolver.for_pv(pv)
        except (MountError, NotYet) as e:
            log.info("PV %s: not resolved (%s); identifying its attachment by name", pv_name, e)
            volume = None
        if volume is not None and (not annotated or volume.name == annotated):
            return volume
    if not annotated:
        return None
    split = resolver.split_unique_name(annotated)
    if split is None:
        return None
    return AttachableVolume(name=VolumeName(annotated), plugin_name=split[0], spec=None, attacher=attacher,
                            pv_name=pv_name, multi_attach_allowed=True, metric_label=plugin_label(split[0]))
