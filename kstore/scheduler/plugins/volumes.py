"""Volume filters besides binding: VolumeRestrictions (ReadWriteOncePod), NodeVolumeLimits
(attach limits) and VolumeZone.

Design (Kubernetes' `volumerestrictions`, `nodevolumelimits` (CSILimits) and `volumezone`
plugins, our code):
- VolumeRestrictions' PreFilter reads the pod's claims: a claim that does not exist rejects the
  pod outright (`persistentvolumeclaim "x" not found`); a ReadWriteOncePod claim that another
  scheduled pod already uses makes every node fail with Kubernetes' reason (Unschedulable:
  the other pod leaving would fix it).
- NodeVolumeLimits counts, per node and driver, the distinct attachable volumes of the node's
  pods plus the new pod's volumes not already there, against the limit the snapshot gives
  (CSINode `allocatable.count`, the driver mapping's `attach_limit`, the node config's
  `attach_limit`). Attachable: block backends and external CSI drivers; shared, local and
  hostPath volumes never attach. A claim not bound yet counts as the volume it will get.
- VolumeZone: the zone and region labels of the PVs the pod's bound claims use (values may
  list several zones joined by "__") must include the node's; a node without any of these
  labels is accepted (single-zone clusters), as in Kubernetes.
"""

from __future__ import annotations

from kstore.scheduler.framework import (
    ERR_MAX_VOLUME_COUNT,
    ERR_RWOP_CONFLICT,
    ERR_VOLUME_ZONE,
    NODE_VOLUME_LIMITS,
    VOLUME_RESTRICTIONS,
    VOLUME_ZONE,
    Status,
    unresolvable,
    unschedulable,
)
from kstore.scheduler.nodeinfo import NodeInfo
from kstore.scheduler.podinfo import PodInfo
from kstore.scheduler.snapshot import AttachVolume, Snapshot

RWOP = "ReadWriteOncePod"
ZONE_GA, ZONE_BETA = "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"
REGION_GA, REGION_BETA = "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"
TOPOLOGY_LABELS = (ZONE_GA, ZONE_BETA, REGION_GA, REGION_BETA)
_COUNTERPART = {ZONE_GA: ZONE_BETA, ZONE_BETA: ZONE_GA, REGION_GA: REGION_BETA, REGION_BETA: REGION_GA}

RWOP_CONFLICT = unschedulable(VOLUME_RESTRICTIONS, ERR_RWOP_CONFLICT)
MAX_VOLUME_COUNT = unschedulable(NODE_VOLUME_LIMITS, ERR_MAX_VOLUME_COUNT)
NO_VOLUME_ZONE = unresolvable(VOLUME_ZONE, ERR_VOLUME_ZONE)


def not_found(claim: str) -> Status:
    return unresolvable(VOLUME_RESTRICTIONS, f'persistentvolumeclaim "{claim}" not found')


def volume_restrictions(pi: PodInfo, snap: Snapshot) -> tuple[Status | None, Status | None]:
    """(PreFilter rejection, per-node rejection) of VolumeRestrictions for the pod."""
    conflict = False
    for name in pi.claims:
        if name in pi.ephemeral:
            continue  # VolumeBinding explains a missing ephemeral claim
        claim = snap.claim(pi.namespace, name)
        if claim is None:
            return not_found(name), None
        if RWOP in ((claim.get("spec") or {}).get("accessModes") or ()):
            users = snap.claim_users.get(f"{pi.namespace}/{name}", ())
            if any(uid != pi.uid for uid in users):
                conflict = True
    return None, RWOP_CONFLICT if conflict else None


class VolumeLimits:
    """PreFilter state of NodeVolumeLimits for one pod; `filter(node)` is the per-node check."""

    __slots__ = ("snap", "new")

    def __init__(self, new: list[AttachVolume], snap: Snapshot) -> None:
        self.snap = snap
        self.new = new

    @classmethod
    def for_pod(cls, pi: PodInfo, snap: Snapshot) -> VolumeLimits | None:
        if not pi.claims or not snap.has_attach_limits():
            return None
        new = snap.attachable_volumes(pi)
        return cls(new, snap) if new else None

    def filter(self, node: NodeInfo) -> Status | None:
        attached = self.snap.node_attached(node)
        wanted: dict[str, set[str]] = {}
        limits: dict[str, int | None] = {}
        for driver, vid, mapping_limit in self.new:
            if vid in attached.get(driver, ()):
                continue
            wanted.setdefault(driver, set()).add(vid)
            limits[driver] = mapping_limit
        for driver, vids in wanted.items():
            limit = self.snap.attach_limit(node.name, driver, limits[driver])
            if limit is not None and len(attached.get(driver, ())) + len(vids) > limit:
                return MAX_VOLUME_COUNT
        return None


class VolumeZone:
    """PreFilter state of VolumeZone: the topology label values of the pod's bound PVs."""

    __slots__ = ("topologies",)

    def __init__(self, topologies: list[tuple[str, frozenset[str]]]) -> None:
        self.topologies = topologies

    @classmethod
    def for_pod(cls, pi: PodInfo, snap: Snapshot) -> VolumeZone | None:
        topologies = []
        for name in pi.claims:
            claim = snap.claim(pi.namespace, name)
            volume = ((claim or {}).get("spec") or {}).get("volumeName")
            pv = snap.pv(volume) if volume else None
            if pv is None:
                continue
            labels = (pv.get("metadata") or {}).get("labels") or {}
            for key in TOPOLOGY_LABELS:
                if key in labels:
                    topologies.append((key, frozenset(str(labels[key]).split("__"))))
        return cls(topologies) if topologies else None

    def filter(self, node: NodeInfo) -> Status | None:
        labels = node.labels
        if not any(key in labels for key in TOPOLOGY_LABELS):
            return None
        for key, values in self.topologies:
            value = labels.get(key)
            if value is None:
                value = labels.get(_COUNTERPART[key])
            if value is None or value not in values:
                return NO_VOLUME_ZONE
        return None


__all__ = ["VolumeLimits", "VolumeZone", "not_found", "volume_restrictions"]
