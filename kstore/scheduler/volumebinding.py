"""The VolumeBinding plugin: a pod lands only where its claims can follow.

Design (Kubernetes' `volumebinding/volume_binding.go` and `binder.go`; read for behaviour,
our code):
- PreFilter (`PodVolumeBinding.prefilter`): every claim the pod names must exist, not be Lost,
  not be being deleted, and a generic ephemeral claim must be owned by the pod; otherwise the
  pod is UnschedulableAndUnresolvable with Kubernetes' message (`persistentvolumeclaim "x" not
  found`). Claims are then *bound* (`spec.volumeName` set and `pv.kubernetes.io/bind-completed`),
  *delayed* (unbound, of a WaitForFirstConsumer class, no volumeName) or *immediate* — an
  unbound immediate claim (or a class that does not exist, or a claim pre-bound by name)
  means "pod has unbound immediate PersistentVolumeClaims": the PV controller binds it first.
  A delayed claim whose `volume.kubernetes.io/selected-node` names a node that is gone or not
  Ready is *stale*: the scheduler drops the annotation (so provisioning retries elsewhere) and
  treats the claim as unannotated.
- Filter (`filter(node)`, FindPodVolumes): bound claims' PVs must admit the node (their
  `nodeAffinity`) — "node(s) had volume node affinity conflict", or "node(s) unavailable due to
  one or more pvc(s) bound to non-existent pv(s)". Delayed claims: one with a selected node
  fits only there; the others, smallest request first, each take the smallest matching
  Available PV the node can reach (`find_best_match(..., delay_binding=False, node=node)`, no PV
  chosen twice), and those left over must be provisionable on the node: a class with a
  provisioner (not `kubernetes.io/no-provisioner`) whose `allowedTopologies` admit the node.
  Any emulated backend provisions on any node (a node-local one pins the PV to that node), so
  allowedTopologies is the only topology rule. Otherwise "node(s) didn't find available
  persistent volumes to bind". When nothing about the answer depends on the node — no PV
  node affinity, no selected node, no candidate PVs, no allowedTopologies (the common dynamic
  provisioning case) — it is computed once per pod, not per node.
- Reserve (`assume`): the chosen PVs are pre-bound (claimRef) and the claims to provision get
  the selected node, *in the assume cache*, so the next decision already sees them.
  Unreserve (`revert`) restores both.
- PreBind is done by the scheduler (writes: the PV's claimRef with its resourceVersion, the
  claim's annotation as a merge patch); `check_bindings` then says whether every claim is
  fully bound (True), still in progress (False) or failed for good (`BindingError`: the
  provisioner dropped the selected node, a claimRef was reset, a PV no longer admits the node),
  reading the informer's objects, never the assumed ones.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from kstore.controllers.pv.matching import find_best_match, node_admits, requested_storage
from kstore.controllers.pv.model import (
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_SELECTED_NODE,
    NO_PROVISIONER,
)
from kstore.scheduler.framework import (
    ERR_UNBOUND_IMMEDIATE,
    ERR_VOLUME_BIND_CONFLICT,
    ERR_VOLUME_NODE_CONFLICT,
    ERR_VOLUME_NOT_ENOUGH_SPACE,
    ERR_VOLUME_PV_NOT_EXIST,
    VOLUME_BINDING,
    Code,
    Status,
    unresolvable,
)
from kstore.scheduler.nodeinfo import NodeInfo
from kstore.scheduler.podinfo import PodInfo
from kstore.scheduler.snapshot import Snapshot, claim_class, object_key

Obj = dict[str, Any]
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"


class BindingError(Exception):
    """The volume binding of a pod failed for good; the pod must be scheduled again."""


@dataclasses.dataclass
class PodVolumes:
    """The volume decision for one node: PVs to pre-bind and claims to provision there."""

    bindings: list[tuple[Obj, Obj]] = dataclasses.field(default_factory=list)  # (claim, pv)
    provisions: list[Obj] = dataclasses.field(default_factory=list)  # claims

    def __bool__(self) -> bool:
        return bool(self.bindings or self.provisions)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return _meta(obj).get("annotations") or {}


def _rv(obj: Mapping[str, Any] | None) -> int:
    try:
        return int(_meta(obj or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0


def is_fully_bound(claim: Mapping[str, Any]) -> bool:
    return bool((claim.get("spec") or {}).get("volumeName")) and ANN_BIND_COMPLETED in _annotations(claim)


def topology_matches(terms: Any, labels: Mapping[str, str]) -> bool:
    """A StorageClass's `allowedTopologies` admit a node with these labels (no terms: any)."""
    if not terms:
        return True
    for term in terms:
        ok = True
        for expr in (term or {}).get("matchLabelExpressions") or ():
            if labels.get(expr.get("key")) not in (expr.get("values") or ()):
                ok = False
                break
        if ok:
            return True
    return False


def _pv_affinity(pv: Mapping[str, Any]) -> Any:
    return ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")


def _error(message: str) -> Status:
    return Status(Code.ERROR, VOLUME_BINDING, (message,))


def _node_ready(snap: Snapshot, name: str) -> bool:
    info = snap.nodes.get(name)
    return info is not None and info.ready


class PodVolumeBinding:
    """VolumeBinding's state for one pod in one scheduling cycle."""

    def __init__(self, pi: PodInfo, snap: Snapshot) -> None:
        self.pod = pi
        self.snap = snap
        self.bound: list[tuple[Obj, Obj | None]] = []  # (claim, its PV or None)
        self.delayed: list[Obj] = []
        self.stale: list[Obj] = []  # claims whose selected node must be dropped
        self.prefilter_status: Status | None = None
        self._candidates: dict[str, list[Obj]] = {}
        self._same_everywhere = True
        self._answer: tuple[Status | None, PodVolumes] | None = None

    # ---- PreFilter

    @classmethod
    def prefilter(cls, pi: PodInfo, snap: Snapshot) -> PodVolumeBinding | None:
        """None when the pod has no claims (the plugin is skipped); otherwise the state, with
        `prefilter_status` set when the pod cannot be scheduled at all."""
        if not pi.claims:
            return None
        state = cls(pi, snap)
        state.prefilter_status = state._classify()
        if state.prefilter_status is None:
            state._prepare()
        return state

    def _classify(self) -> Status | None:
        pi, snap = self.pod, self.snap
        claims: list[Obj] = []
        for name in pi.claims:
            claim = snap.claim(pi.namespace, name)
            if claim is None:
                if name in pi.ephemeral:
                    return unresolvable(VOLUME_BINDING, "waiting for ephemeral volume controller to create the "
                                                        f'persistentvolumeclaim "{name}"')
                return unresolvable(VOLUME_BINDING, f'persistentvolumeclaim "{name}" not found')
            spec = claim.get("spec") or {}
            if (claim.get("status") or {}).get("phase") == "Lost":
                return unresolvable(VOLUME_BINDING, f'persistentvolumeclaim "{name}" bound to non-existent '
                                                    f'persistentvolume "{spec.get("volumeName", "")}"')
            if _meta(claim).get("deletionTimestamp"):
                return unresolvable(VOLUME_BINDING, f'persistentvolumeclaim "{name}" is being deleted')
            if name in pi.ephemeral and not any(
                    ref.get("uid") == pi.uid and ref.get("controller") for ref in _meta(claim).get("ownerReferences") or ()):
                return unresolvable(VOLUME_BINDING, f"PVC {pi.namespace}/{name} was not created for pod "
                                                    f"{pi.namespace}/{pi.name} (pod is not owner)")
            claims.append(claim)
        immediate = False
        for claim in claims:
            if is_fully_bound(claim):
                name = (claim.get("spec") or {}).get("volumeName")
                self.bound.append((claim, snap.pv(name)))
                continue
            sc = snap.storage_class(claim_class(claim)) if claim_class(claim) else None
            delayed = sc is not None and sc.get("volumeBindingMode") == WAIT_FOR_FIRST_CONSUMER
            if delayed and not (claim.get("spec") or {}).get("volumeName"):
                selected = _annotations(claim).get(ANN_SELECTED_NODE)
                if selected is not None and not _node_ready(snap, selected):
                    self.stale.append(claim)
                    meta = claim["metadata"]
                    annotations = {k: v for k, v in meta["annotations"].items() if k != ANN_SELECTED_NODE}
                    claim = {**claim, "metadata": {**meta, "annotations": annotations}}
                self.delayed.append(claim)
            else:
                immediate = True
        if immediate:
            return unresolvable(VOLUME_BINDING, ERR_UNBOUND_IMMEDIATE)
        return None

    def _prepare(self) -> None:
        """Work out once what does not depend on the node, and whether anything does."""
        for _, pv in self.bound:
            if pv is not None and _pv_affinity(pv) is not None:
                self._same_everywhere = False
        for claim in self.delayed:
            if ANN_SELECTED_NODE in _annotations(claim):
                self._same_everywhere = False
            elif self.snap.has_candidate_volumes(claim):
                candidates = self.snap.candidate_volumes(claim)
                if candidates:
                    self._candidates[object_key(claim)] = candidates
                    self._same_everywhere = False
            sc = self.snap.storage_class(claim_class(claim)) or {}
            if sc.get("allowedTopologies"):
                self._same_everywhere = False

    # ---- Filter

    def uniform(self, node: NodeInfo) -> tuple[bool, Status | None]:
        """(True, the answer) when it is the same for every node (computed on `node`)."""
        if not self._same_everywhere:
            return False, None
        return True, self.filter(node)

    def filter(self, node: NodeInfo) -> Status | None:
        if self._same_everywhere:
            if self._answer is None:
                self._answer = self._find(node)
            return self._answer[0]
        return self._find(node)[0]

    def find(self, node: NodeInfo) -> tuple[Status | None, PodVolumes]:
        """FindPodVolumes: whether the node fits the pod's volumes, and with which decision."""
        if self._same_everywhere:
            if self._answer is None:
                self._answer = self._find(node)
            status, volumes = self._answer
            return status, PodVolumes(list(volumes.bindings), list(volumes.provisions))
        return self._find(node)

    def _find(self, node: NodeInfo) -> tuple[Status | None, PodVolumes]:
        volumes = PodVolumes()
        bound_ok = pvs_found = unbound_ok = sufficient = True
        for _, pv in self.bound:
            if pv is None:
                pvs_found = False
                break
            if _pv_affinity(pv) is not None and not node_admits(pv, node.node):
                bound_ok = False
                break
        if self.delayed:
            to_provision: list[Obj] = []
            to_match: list[Obj] = []
            for claim in self.delayed:
                selected = _annotations(claim).get(ANN_SELECTED_NODE)
                if selected is None:
                    to_match.append(claim)
                elif selected != node.name:
                    return self._status(bound_ok, False, True, pvs_found), volumes
                else:
                    to_provision.append(claim)
            if to_match:
                chosen: set[str] = set()
                for claim in sorted(to_match, key=lambda c: requested_storage(c) or 0):
                    candidates = self._candidates.get(object_key(claim))
                    pv = None
                    if candidates:
                        pv = find_best_match(claim, candidates, delay_binding=False, node=node.node,
                                             excluded=frozenset(chosen))
                    if pv is None:
                        unbound_ok = False
                        to_provision.append(claim)
                    else:
                        chosen.add(pv["metadata"]["name"])
                        volumes.bindings.append((claim, pv))
            if to_provision:
                result = self._check_provisions(to_provision, node)
                if isinstance(result, Status):
                    return result, volumes
                unbound_ok, volumes.provisions = result
        return self._status(bound_ok, unbound_ok, sufficient, pvs_found), volumes

    def _check_provisions(self, claims: list[Obj], node: NodeInfo) -> Status | tuple[bool, list[Obj]]:
        provisions = []
        for claim in claims:
            class_name = claim_class(claim)
            if not class_name:
                return _error(f'no class for claim "{object_key(claim)}"')
            sc = self.snap.storage_class(class_name)
            if sc is None:
                return _error(f'failed to find storage class "{class_name}"')
            provisioner = str(sc.get("provisioner") or "")
            if not provisioner or provisioner == NO_PROVISIONER:
                return False, []
            if not topology_matches(sc.get("allowedTopologies"), node.labels):
                return False, []
            provisions.append(claim)
        return True, provisions

    @staticmethod
    def _status(bound_ok: bool, unbound_ok: bool, sufficient: bool, pvs_found: bool) -> Status | None:
        reasons = []
        if not bound_ok:
            reasons.append(ERR_VOLUME_NODE_CONFLICT)
        if not unbound_ok:
            reasons.append(ERR_VOLUME_BIND_CONFLICT)
        if not sufficient:
            reasons.append(ERR_VOLUME_NOT_ENOUGH_SPACE)
        if not pvs_found:
            reasons.append(ERR_VOLUME_PV_NOT_EXIST)
        return unresolvable(VOLUME_BINDING, *reasons) if reasons else None


# ---- Reserve / Unreserve


def bind_volume_to_claim(pv: Obj, claim: Obj) -> Obj:
    """A copy of the PV pre-bound to the claim (Kubernetes' GetBindVolumeToClaim)."""
    new = copy.deepcopy(pv)
    meta = _meta(claim)
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    already = (ref.get("name") == meta.get("name") and ref.get("namespace") == meta.get("namespace")
               and (not ref.get("uid") or ref.get("uid") == meta.get("uid")))
    if (ref.get("name"), ref.get("namespace"), ref.get("uid")) != (meta.get("name"), meta.get("namespace"),
                                                                     meta.get("uid")):
        new.setdefault("spec", {})["claimRef"] = {
            "kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion", ""),
        }
    if not already:
        new.setdefault("metadata", {}).setdefault("annotations", {}).setdefault(ANN_BOUND_BY_CONTROLLER, "yes")
    return new


def with_selected_node(claim: Obj, node: str) -> Obj:
    """A claim with the selected node. Shares what it does not change with `claim`: cached
    objects are never mutated, so a path copy is enough."""
    meta = claim.get("metadata") or {}
    return {**claim, "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), ANN_SELECTED_NODE: node}}}


def assume(volumes: PodVolumes, node: str, snap: Snapshot) -> PodVolumes:
    """Record the decision in the assume caches; returns it with the assumed objects (the PVs
    to write, the claims to annotate). Raises AssumeError, reverting what it assumed."""
    done = PodVolumes()
    try:
        for claim, pv in volumes.bindings:
            new_pv = bind_volume_to_claim(pv, claim)
            snap.pvs.assume(new_pv)
            done.bindings.append((claim, new_pv))
        for claim in volumes.provisions:
            new_claim = with_selected_node(claim, node)
            snap.pvcs.assume(new_claim)
            done.provisions.append(new_claim)
    except Exception:
        revert(done, snap)
        raise
    return done


def revert(volumes: PodVolumes, snap: Snapshot) -> None:
    for _, pv in volumes.bindings:
        snap.pvs.restore(pv["metadata"]["name"])
    for claim in volumes.provisions:
        snap.pvcs.restore(object_key(claim))


# ---- waiting for the PV controller


def check_bindings(volumes: PodVolumes, node_name: str, snap: Snapshot, written: Mapping[str, int]) -> bool:
    """Whether every claim of the decision is fully bound; raises BindingError when the binding
    cannot complete any more. `written` maps "PersistentVolume/<name>" and
    "PersistentVolumeClaim/<ns>/<name>" to the resourceVersion our PreBind write returned: an
    informer object older than that is not judged yet."""
    info = snap.nodes.get(node_name)
    if info is None:
        raise BindingError(f'failed to get node "{node_name}": node "{node_name}" not found')
    for claim, pv in volumes.bindings:
        name = pv["metadata"]["name"]
        api_pv = snap.pvs.get_api(name)
        if api_pv is None:
            raise BindingError(f'failed to check binding: persistentvolume "{name}" not found')
        api_claim = snap.pvcs.get_api(object_key(claim))
        if api_claim is None:
            raise BindingError(f'failed to check binding: persistentvolumeclaim "{object_key(claim)}" not found')
        if _rv(api_pv) < written.get(f"PersistentVolume/{name}", 0):
            return False
        if _pv_affinity(api_pv) is not None and not node_admits(api_pv, info.node):
            raise BindingError(f'pv "{name}" node affinity doesn\'t match node "{node_name}": '
                               "no matching NodeSelectorTerms")
        ref = (api_pv.get("spec") or {}).get("claimRef") or {}
        if not ref.get("uid"):
            raise BindingError(f'ClaimRef got reset for pv "{name}"')
        if not is_fully_bound(api_claim):
            return False
    for claim in volumes.provisions:
        key = object_key(claim)
        api_claim = snap.pvcs.get_api(key)
        if api_claim is None:
            raise BindingError(f'failed to check provisioning pvc: persistentvolumeclaim "{key}" not found')
        if _rv(api_claim) < written.get(f"PersistentVolumeClaim/{key}", 0):
            return False
        if _annotations(api_claim).get(ANN_SELECTED_NODE) != node_name:
            raise BindingError(f'provisioning failed for PVC "{_meta(claim).get("name", "")}"')
        volume = (api_claim.get("spec") or {}).get("volumeName")
        if volume:
            api_pv = snap.pvs.get_api(volume)
            if api_pv is None:
                return False  # the PV may not have reached us yet
            if _pv_affinity(api_pv) is not None and not node_admits(api_pv, info.node):
                raise BindingError(f'pv "{volume}" node affinity doesn\'t match node "{node_name}": '
                                   "no matching NodeSelectorTerms")
        if not is_fully_bound(api_claim):
            return False
    return True


__all__ = [
    "BindingError",
    "PodVolumeBinding",
    "PodVolumes",
    "assume",
    "bind_volume_to_claim",
    "check_bindings",
    "is_fully_bound",
    "revert",
    "topology_matches",
]
