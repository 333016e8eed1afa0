"""A StatefulSet pod's identity and storage (Kubernetes' `stateful_set_utils.go`; our code).

- Identity: pod `<set>-<ordinal>` (ordinals from `spec.ordinals.start`), labels
  `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index` and
  `controller-revision-hash: <set>-<template hash>`, `hostname` = its name and `subdomain`
  = the set's `serviceName`.
- Storage: one claim per volumeClaimTemplate, `<template>-<set>-<ordinal>`, labelled with the
  template's labels plus the set's `selector.matchLabels`; the pod gets a volume of the
  template's name naming that claim (replacing a template volume of the same name).
- `persistentVolumeClaimRetentionPolicy` through ownerReferences, as Kubernetes does it
  (`updateClaimOwnerRefForSetAndPod`), so the garbage collector does the deleting:
  whenDeleted Retain + whenScaled Retain → no reference; whenDeleted Delete → the set controls
  the claim; whenScaled Delete → a claim of a pod beyond the replicas (condemned) is controlled
  by that pod, so it goes with the pod. A claim controlled by someone else, or holding a
  reference to an earlier set or pod of the same name (a stale uid), is left alone.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kstore.controllers.workloads.hashing import template_hash
from kstore.controllers.workloads.meta import new_controller_ref, owner_refs
from kstore.controllers.workloads.model import STS_POD_INDEX, STS_POD_NAME, STS_REVISION, Obj
from kstore.controllers.workloads.podutil import pod_from_template

RETAIN, DELETE = "Retain", "Delete"


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in a pod's name if it is `<set>-<n>`, else None (not a member)."""
    m = re.fullmatch(rf"{re.escape(sts['metadata']['name'])}-(0|[1-9][0-9]*)", pod["metadata"].get("name", ""))
    return int(m.group(1)) if m else None


def update_revision(sts: Obj) -> str:
    return f"{sts['metadata']['name']}-{template_hash((sts.get('spec') or {}).get('template') or {})}"


def pod_revision(pod: Obj) -> str:
    return str((pod["metadata"].get("labels") or {}).get(STS_REVISION) or "")


def claim_name(template_name: str, sts: Obj, ordinal: int) -> str:
    return f"{template_name}-{sts['metadata']['name']}-{ordinal}"


def claims_for(sts: Obj, ordinal: int) -> dict[str, Obj]:
    """Template name → the claim the pod of `ordinal` uses (not yet owned; see claim_refs)."""
    spec = sts.get("spec") or {}
    match = ((spec.get("selector") or {}).get("matchLabels")) or {}
    out: dict[str, Obj] = {}
    for template in spec.get("volumeClaimTemplates") or []:
        tmeta = template.get("metadata") or {}
        tname = tmeta.get("name", "")
        meta: dict[str, Any] = {"name": claim_name(tname, sts, ordinal),
                                "namespace": sts["metadata"].get("namespace", "default"),
                                "labels": {**(tmeta.get("labels") or {}), **match}}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        out[tname] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                      "spec": copy.deepcopy(template.get("spec") or {})}
    return out


def new_pod(sts: Obj, ordinal: int, revision: str) -> Obj:
    spec = sts.get("spec") or {}
    pod = pod_from_template(spec.get("template") or {}, sts, new_controller_ref(sts))
    meta = pod["metadata"]
    meta.pop("generateName", None)
    meta["name"] = pod_name(sts, ordinal)
    meta["labels"].update({STS_POD_NAME: meta["name"], STS_POD_INDEX: str(ordinal), STS_REVISION: revision})
    pod["spec"]["hostname"] = meta["name"]
    if spec.get("serviceName"):
        pod["spec"]["subdomain"] = spec["serviceName"]
    claims = claims_for(sts, ordinal)
    volumes = [{"name": tname, "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
               for tname, claim in claims.items()]
    volumes += [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in claims]
    if volumes:
        pod["spec"]["volumes"] = volumes
    return pod


def retention(sts: Obj) -> tuple[str, str]:
    policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _refers_to(ref: dict[str, Any], kind: str, name: str) -> bool:
    return ref.get("kind") == kind and ref.get("name") == name


def claim_refs(claim: Obj, sts: Obj, pod: Obj | None, *, condemned: bool) -> list[dict[str, Any]] | None:
    """The ownerReferences `claim` should have under the set's retention policy, or None when
    they are right already or must not be touched. `pod` is the existing pod using the claim
    (None before it is created; its reference needs its uid)."""
    refs = owner_refs(claim)
    set_name = sts["metadata"]["name"]
    using = pod["metadata"]["name"] if pod is not None else ""
    for ref in refs:
        if _refers_to(ref, "StatefulSet", set_name) and ref.get("uid") != sts["metadata"]["uid"]:
            return None  # a reference to an earlier set of this name: not ours to touch
        if pod is not None and _refers_to(ref, "Pod", using) and ref.get("uid") != pod["metadata"]["uid"]:
            return None
    ours = [r for r in refs if _refers_to(r, "StatefulSet", set_name) or (using and _refers_to(r, "Pod", using))]
    others = [r for r in refs if r not in ours]
    if any(r.get("controller") for r in others):
        wanted = others  # someone else controls it: only drop our references
    else:
        when_deleted, when_scaled = retention(sts)
        wanted = list(others)
        if when_scaled == DELETE and condemned and pod is not None:
            wanted.append(new_controller_ref(pod))
        elif when_deleted == DELETE and not (when_scaled == DELETE and condemned):
            wanted.append(new_controller_ref(sts))
    return None if wanted == refs else wanted
