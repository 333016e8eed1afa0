"""Keeps the desired state of the world in sync with the informers (Kubernetes'
`attach_detach_controller.go` pod/node handlers and `populator/desired_state_of_world_populator.go`,
read for behaviour).

Design:
- Level-triggered per pod: `sync_pod` recomputes what the pod wants from the pod and the
  caches (claim → PV, generic ephemeral `<pod>-<volume>` claims) and makes the desired state
  say exactly that; add, update and resync are the same call. A pod wants nothing when it is
  not scheduled, terminated (Succeeded, Failed, or deleted with no container running) or
  gone, or when its node is not managed by the controller.
- A volume that cannot be resolved right now (claim not bound yet, PV not in the cache yet, a
  FlexVolume driver being discovered) keeps what the pod had under that name, as Kubernetes
  does; the claim / PV handlers sync the pods using them when they change, and the periodic
  `full_pass` catches anything missed (and removes pods the informer no longer has).
- Nodes: a node whose kubelet set `volumes.kubernetes.io/controller-managed-attach-detach` is
  managed, Ready or not; when one becomes managed its pods are synced. Every node update also
  hands its `status.volumesInUse` to the actual state (the safe-detach handshake).
- VolumeAttachments: one deleted under an attachment the actual state holds (by a user), with
  no operation running on the volume, makes that attachment UNCERTAIN: attached again
  (idempotently, re-creating the object) if wanted, detached otherwise.
- Handlers run on the event loop and never block: resolution reads caches only (volumes.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Protocol

from kstore.controllers.attachdetach.cache import ActualStateOfWorld, AttachState, DesiredStateOfWorld
from kstore.controllers.attachdetach.volumes import (
    AttachableVolume,
    NodeName,
    NotYet,
    Obj,
    PodRef,
    PodUID,
    VolumeResolver,
    controller_managed,
    pod_terminated,
    volumes_in_use,
)
from kstore.volume.mount import MountError

log = logging.getLogger(__name__)


class ClusterSource(Protocol):
    """Read access to the informer caches the populator needs."""

    def pods(self) -> Iterable[Obj]: ...

    def pods_on_node(self, node: str) -> Iterable[Obj]: ...

    def pods_using_claim(self, namespace: str, name: str) -> Iterable[Obj]: ...

    def nodes(self) -> Iterable[Obj]: ...


class DesiredStateOfWorldPopulator:
    def __init__(self, *, dsw: DesiredStateOfWorld, asw: ActualStateOfWorld, resolver: VolumeResolver,
                 source: ClusterSource, is_pending: Callable[[AttachableVolume, NodeName], bool] | None = None) -> None:
        self.dsw = dsw
        self.asw = asw
        self.resolver = resolver
        self.source = source
        self._is_pending = is_pending

    # ---- pods

    def sync_pod(self, pod: Obj) -> None:
        ref = PodRef.of(pod)
        if not ref.uid:
            return
        node = NodeName(str((pod.get("spec") or {}).get("nodeName") or ""))
        if not node or pod_terminated(pod) or not self.dsw.node_exists(node):
            # OBSERVATION: not scheduled, terminated, or on a node the controller does not manage
            self.dsw.delete_pod(ref.uid)
            return
        previous = self.dsw.get_pod_volumes(ref.uid)
        seen: set[str] = set()
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            outer = str(volume.get("name") or "")
            if not outer:
                continue
            seen.add(outer)
            try:
                attachable = self.resolver.for_pod_volume(volume, pod)
            except (MountError, NotYet) as e:
                log.debug("pod %s: volume %s not resolved yet (%s); keeping what it had", ref.key, outer, e)
                continue
            if attachable is None:
                self.dsw.delete_pod_volume(ref.uid, outer)
                continue
            self.dsw.add_pod(ref, outer, attachable, node)
        for outer in previous:
            if outer not in seen:
                self.dsw.delete_pod_volume(ref.uid, outer)

    def delete_pod(self, pod: Obj) -> None:
        self.dsw.delete_pod(PodRef.of(pod).uid)

    def sync_claim(self, claim: Obj) -> None:
        meta = claim.get("metadata") or {}
        for pod in list(self.source.pods_using_claim(str(meta.get("namespace") or ""), str(meta.get("name") or ""))):
            self.sync_pod(pod)

    def sync_volume(self, pv: Obj) -> None:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            for pod in list(self.source.pods_using_claim(str(ref.get("namespace") or ""), str(ref["name"]))):
                self.sync_pod(pod)

    # ---- nodes

    def sync_node(self, node: Obj) -> None:
        name = NodeName(str((node.get("metadata") or {}).get("name") or ""))
        if not name:
            return
        self.asw.set_mount_report(name, volumes_in_use(node))
        if controller_managed(node) and not self.dsw.node_exists(name):
            self.dsw.add_node(name)
            for pod in list(self.source.pods_on_node(name)):
                self.sync_pod(pod)

    def delete_node(self, node: Obj) -> None:
        name = NodeName(str((node.get("metadata") or {}).get("name") or ""))
        self.asw.set_mount_report(name, ())
        if not self.dsw.delete_node(name):
            log.info("node %s: deleted, but pods on it still want volumes; kept until they go", name)

    # ---- VolumeAttachments

    def attachment_deleted(self, va: Obj) -> None:
        name = str((va.get("metadata") or {}).get("name") or "")
        av = self.asw.find_by_attachment(name)
        if av is None or av.state is not AttachState.ATTACHED:
            return
        if self._is_pending is not None and self._is_pending(av.volume, av.node):
            return  # our own operation (a detach deletes it)
        log.warning("VolumeAttachment %s of %s on %s was deleted while attached: %s", name, av.name, av.node,
                    "attaching it again" if self.dsw.volume_exists(av.name, av.node) else "detaching")
        self.asw.mark_uncertain(av.volume, av.node, attachment=name)

    # ---- everything

    def full_pass(self) -> None:
        """Sync every node and pod from the caches, and drop what the caches no longer have."""
        names = set()
        for node in list(self.source.nodes()):
            names.add(str((node.get("metadata") or {}).get("name") or ""))
            self.sync_node(node)
        for gone in [n for n in self.dsw.nodes() if n not in names]:
            self.asw.set_mount_report(gone, ())
            self.dsw.delete_node(gone)
        live: set[PodUID] = set()
        for pod in list(self.source.pods()):
            live.add(PodRef.of(pod).uid)
            self.sync_pod(pod)
        for uid in self.dsw.pods():
            if uid not in live:
                self.dsw.delete_pod(uid)
