"""Server-side printing: objects as a `meta.k8s.io/v1` Table, as kube-apiserver 1.32 serves them.

kubectl's human-readable output (`get`, `get -o wide`, `get -w`) asks for
`application/json;as=Table;v=v1;g=meta.k8s.io` and prints the server's cells verbatim. So the
columns and cells here follow kube-apiserver's printers (pkg/printers/internalversion/printers.go)
kind by kind.

Design:
- One `Printer` per kind in `PRINTERS`: its column definitions and a small `_<kind>_cells`
  function from (object, now) to the row's cells. Kinds without a printer get Name and Age.
- Like the apiserver's TableConvertor, every column is sent, the `priority: 1` (wide) ones
  included; kubectl hides those unless `-o wide`. Cells keep Go's types: counts are ints,
  flags are bools (kubectl prints `true`/`false`), everything else is a display string.
- `now` is injected (epoch seconds) so ages are deterministic; shared formatting (ages, access
  modes, the pod status reason, selectors) lives in `describe_helpers.py`.
- `row.object` follows `?includeObject=`: `Metadata` (the default) sends a PartialObjectMetadata,
  `Object` the object itself, `None` nothing. Rows share the given dicts: do not mutate the table.

Deliberate differences from the apiserver: `with_column_definitions=False` (later watch events)
sends `"columnDefinitions": []` rather than null, and `includeObject=None` leaves `object` out
rather than sending null. kubectl treats both the same.

Placeholders follow the Go code, not intuition: a PVC or PV without a storage class prints `""`
(only VolumeAttributesClass and VolumeMode print `<unset>`), a missing creationTimestamp prints
`<unknown>`, a node without OS details `<unknown>`, a pod without IP or node `<none>`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from kstore.api.errors import bad_request
from kstore.apistore.rest.describe_helpers import (
    INVALID,
    NONE,
    UNKNOWN,
    UNSET,
    access_modes,
    age,
    container_cells,
    event_involved,
    event_source,
    format_labels,
    get,
    integer,
    is_default_class,
    items,
    mapping,
    node_address,
    node_roles,
    node_status,
    optional,
    phase_or_terminating,
    pod_ip,
    pod_readiness_gates,
    pod_summary,
    quantity,
    selector_string,
    service_external_ip,
    service_ports,
    since,
    storage_class_of,
    text,
    unset_time,
)

Obj = Mapping[str, Any]
Cells = list[Any]

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE = "Metadata", "Object", "None"


@dataclasses.dataclass(frozen=True)
class Column:
    """One `TableColumnDefinition`. `priority=1` marks a column kubectl shows only with `-o wide`."""

    name: str
    description: str
    type: str = "string"
    format: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclasses.dataclass(frozen=True)
class Printer:
    """How one kind prints: its columns, and its cells in the same order."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, float], Cells]
    conditions: Callable[[Obj], list[dict[str, str]]] | None = None


def wide(name: str, description: str, type: str = "string") -> Column:
    return Column(name, description, type=type, priority=1)


NAME = Column(
    "Name",
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
    format="name",
)
AGE = Column(
    "Age",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
)
CONTAINERS = wide("Containers", "Names of each container in the template.")
IMAGES = wide("Images", "Images referenced by each container in the template.")


def _name(obj: Obj) -> str:
    return text(get(obj, "metadata", "name"))


# --- storage ----------------------------------------------------------------------------------------

PVC_COLUMNS = (
    NAME,
    Column("Status", "phase represents the current phase of PersistentVolumeClaim."),
    Column("Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    Column("Capacity", "capacity represents the actual resources of the underlying volume."),
    Column("Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."),
    Column("StorageClass", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "volumeMode defines what type of volume is required by the claim."),
)


def _pvc_cells(pvc: Obj, now: float) -> Cells:
    spec = mapping(pvc.get("spec"))
    volume = text(spec.get("volumeName"))
    capacity = modes = ""
    if volume:  # capacity and access modes are the bound volume's, so blank until bound
        capacity = quantity(get(pvc, "status", "capacity", "storage"))
        modes = access_modes(get(pvc, "status", "accessModes"))
    vac, mode = spec.get("volumeAttributesClassName"), spec.get("volumeMode")
    return [
        _name(pvc),
        phase_or_terminating(pvc),
        volume,
        capacity,
        modes,
        storage_class_of(pvc),
        optional(vac, UNSET),
        age(pvc, now),
        optional(mode, UNSET),
    ]


PV_COLUMNS = (
    NAME,
    Column("Capacity", "capacity is the description of the persistent volume's resources and capacity."),
    Column("Access Modes", "accessModes contains all ways the volume can be mounted."),
    Column(
        "Reclaim Policy", "persistentVolumeReclaimPolicy: what happens to a volume released from its claim."
    ),
    Column("Status", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    Column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and PVC."),
    Column("StorageClass", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    Column("Reason", "reason is a brief CamelCase string that describes any failure."),
    AGE,
    wide("VolumeMode", "volumeMode defines if a volume is used with a filesystem or as a raw block device."),
)


def _pv_cells(pv: Obj, now: float) -> Cells:
    spec = mapping(pv.get("spec"))
    ref = spec.get("claimRef")
    claim = f"{text(ref.get('namespace'))}/{text(ref.get('name'))}" if isinstance(ref, Mapping) else ""
    vac, mode = spec.get("volumeAttributesClassName"), spec.get("volumeMode")
    return [
        _name(pv),
        quantity(get(spec, "capacity", "storage")),
        access_modes(spec.get("accessModes")),
        text(spec.get("persistentVolumeReclaimPolicy")),
        phase_or_terminating(pv),
        claim,
        storage_class_of(pv),
        optional(vac, UNSET),
        text(get(pv, "status", "reason")),
        age(pv, now),
        optional(mode, UNSET),
    ]


STORAGE_CLASS_COLUMNS = (
    NAME,
    Column("Provisioner", "provisioner indicates the type of the provisioner."),
    Column("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned volumes."),
    Column("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be bound."),
    Column(
        "AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow volume expand."
    ),
    AGE,
)


def _storage_class_cells(sc: Obj, now: float) -> Cells:
    name = _name(sc) + (" (default)" if is_default_class(sc) else "")
    return [
        name,
        text(sc.get("provisioner")),
        text(sc.get("reclaimPolicy")) or "Delete",
        text(sc.get("volumeBindingMode")) or "Immediate",
        sc.get("allowVolumeExpansion") is True,
        age(sc, now),
    ]


VOLUME_ATTACHMENT_COLUMNS = (
    NAME,
    # The apiserver marks Attacher as a name column too.
    Column(
        "Attacher",
        "attacher indicates the name of the volume driver that MUST handle this request.",
        format="name",
    ),
    Column("PV", "persistentVolumeName represents the name of the persistent volume to attach."),
    Column("Node", "nodeName represents the node that the volume should be attached to."),
    Column("Attached", "attached indicates the volume is successfully attached.", type="boolean"),
    AGE,
)


def _volume_attachment_cells(va: Obj, now: float) -> Cells:
    spec = mapping(va.get("spec"))
    return [
        _name(va),
        text(spec.get("attacher")),
        text(get(spec, "source", "persistentVolumeName")),
        text(spec.get("nodeName")),
        get(va, "status", "attached") is True,
        age(va, now),
    ]


CSI_NODE_COLUMNS = (
    NAME,
    Column("Drivers", "Drivers indicates the number of CSI drivers registered on the node", type="integer"),
    AGE,
)


def _csi_node_cells(node: Obj, now: float) -> Cells:
    return [_name(node), len(items(get(node, "spec", "drivers"))), age(node, now)]


CSI_DRIVER_COLUMNS = (
    NAME,
    Column("AttachRequired", "attachRequired: the driver requires an attach operation.", type="boolean"),
    Column("PodInfoOnMount", "podInfoOnMount: the driver wants pod information on mount.", type="boolean"),
    Column("StorageCapacity", "storageCapacity: scheduling considers storage capacity.", type="boolean"),
    Column("TokenRequests", "tokenRequests: the service account token audiences the driver receives."),
    Column(
        "RequiresRepublish", "requiresRepublish: NodePublishVolume is called periodically.", type="boolean"
    ),
    Column("Modes", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
    AGE,
)


def _csi_driver_cells(driver: Obj, now: float) -> Cells:
    spec = mapping(driver.get("spec"))
    tokens = spec.get("tokenRequests")
    audiences = ",".join(text(get(t, "audience")) for t in tokens) if isinstance(tokens, list) else UNSET
    modes = ",".join(text(m) for m in items(spec.get("volumeLifecycleModes"))) or NONE
    return [
        _name(driver),
        spec.get("attachRequired") is not False,  # attachRequired defaults to true
        spec.get("podInfoOnMount") is True,
        spec.get("storageCapacity") is True,
        audiences,
        spec.get("requiresRepublish") is True,
        modes,
        age(driver, now),
    ]


# --- pods, nodes, namespaces ------------------------------------------------------------------------

POD_COLUMNS = (
    NAME,
    Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    AGE,
    wide("IP", "podIP address allocated to the pod. Routable at least within the cluster."),
    wide("Node", "NodeName indicates in which node this pod is scheduled."),
    wide("Nominated Node", "nominatedNodeName is set only when this pod preempts other pods on the node."),
    wide("Readiness Gates", "If specified, all readiness gates will be evaluated for pod readiness."),
)


def _pod_cells(pod: Obj, now: float) -> Cells:
    summary = pod_summary(pod, now)
    return [
        _name(pod),
        summary.ready,
        summary.status,
        summary.restarts,
        age(pod, now),
        pod_ip(pod),
        text(get(pod, "spec", "nodeName")) or NONE,
        text(get(pod, "status", "nominatedNodeName")) or NONE,
        pod_readiness_gates(pod),
    ]


_FINISHED = {"Succeeded": "The pod has completed successfully.", "Failed": "The pod failed."}


def _pod_conditions(pod: Obj) -> list[dict[str, str]]:
    """Finished pods carry a `Completed` row condition, as the apiserver sets it."""
    phase = get(pod, "status", "phase")
    if phase not in _FINISHED:
        return []
    return [{"type": "Completed", "status": "True", "reason": phase, "message": _FINISHED[phase]}]


NODE_COLUMNS = (
    NAME,
    Column("Status", "The status of the node"),
    Column("Roles", "The roles of the node"),
    AGE,
    Column("Version", "Kubelet Version reported by the node."),
    wide("Internal-IP", "List of addresses reachable to the node."),
    wide("External-IP", "List of addresses reachable to the node."),
    wide(
        "OS-Image", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."
    ),
    wide(
        "Kernel-Version", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."
    ),
    wide("Container-Runtime", "ContainerRuntime Version reported by the node through runtime remote API."),
)


def _node_cells(node: Obj, now: float) -> Cells:
    info = mapping(get(node, "status", "nodeInfo"))
    return [
        _name(node),
        node_status(node),
        node_roles(node),
        age(node, now),
        text(info.get("kubeletVersion")),
        node_address(node, "InternalIP"),
        node_address(node, "ExternalIP"),
        text(info.get("osImage")) or UNKNOWN,
        text(info.get("kernelVersion")) or UNKNOWN,
        text(info.get("containerRuntimeVersion")) or UNKNOWN,
    ]


NAMESPACE_COLUMNS = (NAME, Column("Status", "The status of the namespace"), AGE)


def _namespace_cells(ns: Obj, now: float) -> Cells:
    return [_name(ns), text(get(ns, "status", "phase")), age(ns, now)]


# --- workloads --------------------------------------------------------------------------------------

DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", "Number of the pod with ready state"),
    Column("Up-to-date", "Total number of non-terminated pods that have the desired template spec."),
    Column("Available", "Total number of available pods (ready for at least minReadySeconds)."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Label selector for pods. ReplicaSets whose pods are selected are the ones affected."),
)


def _deployment_cells(deploy: Obj, now: float) -> Cells:
    spec, status = mapping(deploy.get("spec")), mapping(deploy.get("status"))
    names, images = container_cells(get(spec, "template", "spec"))
    selector = selector_string(spec.get("selector"))
    ready = f"{integer(status.get('readyReplicas'))}/{integer(spec.get('replicas'))}"
    return [
        _name(deploy),
        ready,
        integer(status.get("updatedReplicas")),
        integer(status.get("availableReplicas")),
        age(deploy, now),
        names,
        images,
        INVALID if selector is None else selector,
    ]


REPLICA_SET_COLUMNS = (
    NAME,
    Column("Desired", "Replicas is the number of desired replicas.", type="integer"),
    Column("Current", "Replicas is the most recently observed number of replicas.", type="integer"),
    Column("Ready", "The number of ready replicas for this replica set.", type="integer"),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", "Selector is a label query over pods that should match the replica count."),
)


def _replica_set_cells(rs: Obj, now: float) -> Cells:
    spec, status = mapping(rs.get("spec")), mapping(rs.get("status"))
    names, images = container_cells(get(spec, "template", "spec"))
    selector = selector_string(spec.get("selector"))  # printed as metav1.FormatLabelSelector does
    return [
        _name(rs),
        integer(spec.get("replicas")),
        integer(status.get("replicas")),
        integer(status.get("readyReplicas")),
        age(rs, now),
        names,
        images,
        "<error>" if selector is None else selector or NONE,
    ]


STATEFUL_SET_COLUMNS = (NAME, Column("Ready", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES)


def _stateful_set_cells(sts: Obj, now: float) -> Cells:
    spec = mapping(sts.get("spec"))
    names, images = container_cells(get(spec, "template", "spec"))
    ready = f"{integer(get(sts, 'status', 'readyReplicas'))}/{integer(spec.get('replicas'))}"
    return [_name(sts), ready, age(sts, now), names, images]


# --- events -----------------------------------------------------------------------------------------

# Subobject and Source come before Message: the order of the apiserver's wide cells.
EVENT_COLUMNS = (
    Column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    Column("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    Column("Reason", "A short, machine understandable string that gives the reason for the transition."),
    Column("Object", "The object that this event is about."),
    wide("Subobject", "The field path of the piece of the object the event is about, if any."),
    wide("Source", "The component reporting this event. Should be a short machine understandable string."),
    Column("Message", "A human-readable description of the status of this operation."),
    wide(
        "First Seen",
        "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
    ),
    wide("Count", "The number of times this event has occurred."),
    dataclasses.replace(NAME, priority=1),
)


def _event_cells(event: Obj, now: float) -> Cells:
    first, last = event.get("firstTimestamp"), event.get("lastTimestamp")
    first_seen = since(event.get("eventTime") if unset_time(first) else first, now)
    last_seen = first_seen if unset_time(last) else since(last, now)
    count, series = integer(event.get("count")), event.get("series")
    if isinstance(series, Mapping):
        last_seen, count = since(series.get("lastObservedTime"), now), integer(series.get("count"))
    elif count == 0:
        count = 1  # singleton events have no count in the events.k8s.io API
    return [
        last_seen,
        text(event.get("type")),
        text(event.get("reason")),
        event_involved(event),
        text(get(event, "involvedObject", "fieldPath")),
        event_source(event),
        text(event.get("message")).strip(),
        first_seen,
        count,
        _name(event),
    ]


# --- the rest of core/v1, coordination --------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "type determines how the Service is exposed."),
    Column("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned randomly."),
    Column("External-IP", "externalIPs: IP addresses for which nodes also accept traffic for this service."),
    Column("Port(s)", "The list of ports that are exposed by this service."),
    AGE,
    wide("Selector", "Route service traffic to pods with label keys and values matching this selector."),
)


def _service_cells(svc: Obj, now: float) -> Cells:
    spec = mapping(svc.get("spec"))
    cluster_ips = items(spec.get("clusterIPs"))
    cluster_ip = text(cluster_ips[0]) if cluster_ips else text(spec.get("clusterIP"))
    return [
        _name(svc),
        text(spec.get("type")),
        cluster_ip or NONE,
        service_external_ip(svc),
        service_ports(svc),
        age(svc, now),
        format_labels(spec.get("selector")),
    ]


CONFIG_MAP_COLUMNS = (NAME, Column("Data", "Data contains the configuration data."), AGE)


def _config_map_cells(cm: Obj, now: float) -> Cells:
    return [_name(cm), len(mapping(cm.get("data"))) + len(mapping(cm.get("binaryData"))), age(cm, now)]


SECRET_COLUMNS = (
    NAME,
    Column("Type", "Used to facilitate programmatic handling of secret data."),
    Column("Data", "Data contains the secret data."),
    AGE,
)


def _secret_cells(secret: Obj, now: float) -> Cells:
    return [_name(secret), text(secret.get("type")), len(mapping(secret.get("data"))), age(secret, now)]


SERVICE_ACCOUNT_COLUMNS = (
    NAME,
    Column("Secrets", "Secrets in the same namespace that pods running as this ServiceAccount may use."),
    AGE,
)


def _service_account_cells(sa: Obj, now: float) -> Cells:
    return [_name(sa), len(items(sa.get("secrets"))), age(sa, now)]


LEASE_COLUMNS = (
    NAME,
    Column("Holder", "holderIdentity contains the identity of the holder of a current lease."),
    AGE,
)


def _lease_cells(lease: Obj, now: float) -> Cells:
    return [_name(lease), text(get(lease, "spec", "holderIdentity")), age(lease, now)]


def _default_cells(obj: Obj, now: float) -> Cells:
    return [_name(obj), age(obj, now)]


DEFAULT_PRINTER = Printer((NAME, AGE), _default_cells)

PRINTERS: dict[str, Printer] = {
    "PersistentVolumeClaim": Printer(PVC_COLUMNS, _pvc_cells),
    "PersistentVolume": Printer(PV_COLUMNS, _pv_cells),
    "StorageClass": Printer(STORAGE_CLASS_COLUMNS, _storage_class_cells),
    "VolumeAttachment": Printer(VOLUME_ATTACHMENT_COLUMNS, _volume_attachment_cells),
    "CSINode": Printer(CSI_NODE_COLUMNS, _csi_node_cells),
    "CSIDriver": Printer(CSI_DRIVER_COLUMNS, _csi_driver_cells),
    "Pod": Printer(POD_COLUMNS, _pod_cells, conditions=_pod_conditions),
    "Node": Printer(NODE_COLUMNS, _node_cells),
    "Namespace": Printer(NAMESPACE_COLUMNS, _namespace_cells),
    "Deployment": Printer(DEPLOYMENT_COLUMNS, _deployment_cells),
    "ReplicaSet": Printer(REPLICA_SET_COLUMNS, _replica_set_cells),
    "StatefulSet": Printer(STATEFUL_SET_COLUMNS, _stateful_set_cells),
    "Event": Printer(EVENT_COLUMNS, _event_cells),
    "Service": Printer(SERVICE_COLUMNS, _service_cells),
    "ConfigMap": Printer(CONFIG_MAP_COLUMNS, _config_map_cells),
    "Secret": Printer(SECRET_COLUMNS, _secret_cells),
    "ServiceAccount": Printer(SERVICE_ACCOUNT_COLUMNS, _service_account_cells),
    "Lease": Printer(LEASE_COLUMNS, _lease_cells),
}


def printer_for(kind: str) -> Printer:
    """The kind's printer; kinds kube-apiserver has no printer for show Name and Age."""
    return PRINTERS.get(kind, DEFAULT_PRINTER)


# --- the Table ------------------------------------------------------------------------------------------


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == INCLUDE_OBJECT:
        return dict(obj)
    if include_object == INCLUDE_NONE:
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": TABLE_API_VERSION,
        "metadata": obj.get("metadata", {}),
    }


def table_for(
    kind: str,
    objects: list[dict[str, Any]],
    *,
    now: float,
    resource_version: str,
    include_object: str = INCLUDE_METADATA,
    with_column_definitions: bool = True,
) -> dict[str, Any]:
    """`objects` (all of `kind`) as a meta.k8s.io/v1 Table, one row per object, in the given order.

    `now` is the clock (epoch seconds) ages are computed against; `resource_version` goes to the
    Table's metadata. `include_object` is the `?includeObject=` value (`""` means Metadata); any
    other value raises ApiError 400 as the apiserver answers it.
    """
    if include_object not in ("", INCLUDE_METADATA, INCLUDE_OBJECT, INCLUDE_NONE):
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    printer = printer_for(kind)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer.cells(obj, now)}
        if printer.conditions is not None and (conditions := printer.conditions(obj)):
            row["conditions"] = conditions
        if (included := _row_object(obj, include_object)) is not None:
            row["object"] = included
        rows.append(row)
    columns = [c.as_dict() for c in printer.columns] if with_column_definitions else []
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
