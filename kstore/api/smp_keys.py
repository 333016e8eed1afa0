"""Strategic merge patch strategies of the kinds the store serves: which lists merge, and by what.

kube-apiserver reads these from the Go struct tags of k8s.io/api (`patchStrategy:"merge"`,
`patchMergeKey:"name"`); we have no Go types, so the tags that matter are written down here,
keyed by field path. A path names map keys with dots and list elements with `[]`:
`spec.template.spec.containers[].env` is the `env` list of every container of a Deployment's pod
template. Sub-tables (`CONTAINER`, `POD_SPEC`, ...) mirror the Go structs and are mounted under
a prefix with `_under`, so a struct used in several places is written once.

Invariants:
- A list whose path is not in its kind's table is replaced whole by a patch (Kubernetes' default,
  e.g. `volumeClaimTemplates`, `tolerations`, `envFrom`, `accessModes`, node `taints`).
- `by(key)` merges a list of maps element-wise by `key`; `SET` merges a list of scalars as a set
  (`metadata.finalizers`, node `podCIDRs`).
- `retain_keys` marks the fields Kubernetes tags `retainKeys` (pod `volumes`, Deployment
  `strategy`): kubectl sends `$retainKeys` there. Like kube-apiserver, the merge honours a
  `$retainKeys` directive wherever it appears, so the flag documents the API rather than
  gating behaviour.
- Checked against the struct tags of k8s.io/api v1.32 (core/v1, apps/v1, storage/v1,
  coordination/v1, meta/v1). Tags on fields nested inside a replaced list (e.g.
  `containerStatuses[].allocatedResourcesStatus`) are left out: the outer list is replaced
  whole, so they never apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class ListMerge:
    """`patchStrategy:"merge"` on a list: by `key` (a list of maps) or as a set (`key` "")."""

    key: str = ""
    retain_keys: bool = False  # `patchStrategy:"merge,retainKeys"`: elements carry `$retainKeys`


@dataclasses.dataclass(frozen=True)
class MapStrategy:
    """A tagged map field: `retainKeys` (keeps only `$retainKeys`) or `replace` (never merged)."""

    retain_keys: bool = False
    replace: bool = False


Strategy = ListMerge | MapStrategy
Table = Mapping[str, Strategy]


def by(key: str, *, retain_keys: bool = False) -> ListMerge:
    return ListMerge(key, retain_keys)


SET = ListMerge()
RETAIN_KEYS = MapStrategy(retain_keys=True)


def _under(prefix: str, table: Table) -> dict[str, Strategy]:
    return {f"{prefix}.{path}": strategy for path, strategy in table.items()}


# ---- shared structs (meta/v1, core/v1)

OBJECT_META: Table = {
    "finalizers": SET,
    "ownerReferences": by("uid"),
    # managedFields: no tag, replaced whole.
}

CONTAINER: Table = {  # Container and EphemeralContainer
    "ports": by("containerPort"),
    "env": by("name"),
    "volumeMounts": by("mountPath"),
    "volumeDevices": by("devicePath"),
    # envFrom, resizePolicy, resources.claims: no tag, replaced whole.
}

POD_SPEC: Table = {
    "volumes": by("name", retain_keys=True),
    "initContainers": by("name"),
    "containers": by("name"),
    "ephemeralContainers": by("name"),
    **_under("initContainers[]", CONTAINER),
    **_under("containers[]", CONTAINER),
    **_under("ephemeralContainers[]", CONTAINER),
    "imagePullSecrets": by("name"),
    "hostAliases": by("ip"),
    "topologySpreadConstraints": by("topologyKey"),
    "schedulingGates": by("name"),
    "resourceClaims": by("name", retain_keys=True),
    # tolerations, readinessGates, affinity terms, dnsConfig lists: no tag, replaced whole.
}

POD_STATUS: Table = {
    "conditions": by("type"),
    "podIPs": by("ip"),
    "hostIPs": by("ip"),
    "resourceClaimStatuses": by("name", retain_keys=True),
    # containerStatuses, initContainerStatuses, ephemeralContainerStatuses: replaced whole.
}

POD_TEMPLATE: Table = {**_under("metadata", OBJECT_META), **_under("spec", POD_SPEC)}

CONDITIONS: Table = {"conditions": by("type")}


def _kind(**sections: Table) -> dict[str, Strategy]:
    """A kind's table: ObjectMeta's lists plus each top-level section (`spec`, `status`)."""
    table = _under("metadata", OBJECT_META)
    for section, sub in sections.items():
        table.update(_under(section, sub))
    return table


STRATEGIES: Mapping[str, Table] = {
    # core/v1
    "Pod": _kind(spec=POD_SPEC, status=POD_STATUS),
    "PersistentVolumeClaim": _kind(status=CONDITIONS),  # spec.accessModes: replaced whole
    "PersistentVolume": _kind(),  # PersistentVolumeSource is inlined, untagged: no retainKeys
    "Node": _kind(
        spec={"podCIDRs": SET},  # taints: no tag, replaced whole
        status={**CONDITIONS, "addresses": by("type")},  # images, volumesAttached, volumesInUse: replaced
    ),
    "Namespace": _kind(status=CONDITIONS),  # spec.finalizers: no tag, replaced whole
    "Event": _kind(),
    "Service": _kind(spec={"ports": by("port")}, status=CONDITIONS),
    "ConfigMap": _kind(),
    "Secret": _kind(),
    "ServiceAccount": {**_kind(), "secrets": by("name")},  # imagePullSecrets: no tag on this one
    # storage.k8s.io/v1
    "StorageClass": _kind(),  # mountOptions, allowedTopologies: replaced whole
    "VolumeAttachment": _kind(),
    "CSINode": _kind(spec={"drivers": by("name")}),
    "CSIDriver": _kind(),
    # coordination.k8s.io/v1
    "Lease": _kind(),
    # apps/v1
    "Deployment": _kind(spec={"strategy": RETAIN_KEYS, **_under("template", POD_TEMPLATE)}, status=CONDITIONS),
    "ReplicaSet": _kind(spec=_under("template", POD_TEMPLATE), status=CONDITIONS),
    # volumeClaimTemplates has no merge key: replaced whole, as kubectl expects.
    "StatefulSet": _kind(spec=_under("template", POD_TEMPLATE), status=CONDITIONS),
}
