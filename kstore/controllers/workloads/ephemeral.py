"""The ephemeral volume controller's decision (Kubernetes'
`pkg/controller/volume/ephemeral/controller.go`; read for behaviour, our code).

A generic ephemeral volume (`volumes[].ephemeral.volumeClaimTemplate`) is a claim made for
one pod and deleted with it:
- `sync_ephemeral(pod, view)`: for each such volume, the claim `<pod>-<volume>` is created
  from the template's labels, annotations and spec, with a controller reference to the pod
  (`blockOwnerDeletion`), so the garbage collector deletes it after the pod.
- A claim of that name that the pod does not control is a conflict, not ours to change:
  Warning `FailedBinding` "ephemeral volume <v>: PVC <ns>/<claim> was not created for pod
  <ns>/<pod> (pod is not owner)", and the pod stays without it.
- A pod being deleted gets nothing new. A deleted claim whose pod still lives is made again
  (the PVC informer's delete re-queues the pod).
"""

from __future__ import annotations

import copy

from kstore.controllers.workloads.meta import is_controlled_by, is_deleting, new_controller_ref
from kstore.controllers.workloads.model import Action, ClusterView, Create, Event, Obj


def ephemeral_claim_names(pod: Obj) -> list[str]:
    name = pod["metadata"]["name"]
    return [f"{name}-{v.get('name', '')}" for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("ephemeral")]


def sync_ephemeral(pod: Obj, view: ClusterView) -> list[Action]:
    """Decide the claims to create for one pod's ephemeral volumes. No I/O."""
    if is_deleting(pod):
        return []
    meta = pod["metadata"]
    ns = meta.get("namespace", "default")
    actions: list[Action] = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        source = volume.get("ephemeral")
        if not source:
            continue
        vname = volume.get("name", "")
        claim_name = f"{meta['name']}-{vname}"
        existing = view.get("PersistentVolumeClaim", ns, claim_name)
        if existing is not None:
            if not is_controlled_by(existing, pod):
                actions.append(Event(pod, "Warning", "FailedBinding",
                                     f"ephemeral volume {vname}: PVC {ns}/{claim_name} was not created for pod "
                                     f"{ns}/{meta['name']} (pod is not owner)"))
            continue
        template = source.get("volumeClaimTemplate") or {}
        tmeta = template.get("metadata") or {}
        claim_meta = {"name": claim_name, "namespace": ns, "ownerReferences": [new_controller_ref(pod)]}
        if tmeta.get("labels"):
            claim_meta["labels"] = dict(tmeta["labels"])
        if tmeta.get("annotations"):
            claim_meta["annotations"] = dict(tmeta["annotations"])
        claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                 "spec": copy.deepcopy(template.get("spec") or {})}
        actions.append(Create(claim, on_failure=Event(pod, "Warning", "FailedBinding",
                                                      f"ephemeral volume {vname}: create PVC {claim_name}: {{error}}")))
    return actions
