"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) → the JSON-shaped
dicts the rest of the apistore reads.

Why: kubectl's typed generator commands (`kubectl create namespace|configmap|secret|
serviceaccount|deployment|service ...`) go through client-go's typed clients, which send
protobuf and have no JSON fallback. Answers stay JSON: kubectl accepts them.

Design:
- Wire format (https://protobuf.dev/programming-guides/encoding/): a message is a sequence of
  (key, value) pairs, key = field number << 3 | wire type; wire types 0 (varint), 1 (fixed64),
  2 (length-delimited: strings, bytes, embedded messages, map entries) and 5 (fixed32).
  `_fields` reads them; anything truncated or ill-formed raises `Malformed`.
- Envelope (apimachinery runtime/serializer/protobuf): the magic bytes `k8s\\x00`, then a
  `runtime.Unknown` {typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4};
  `raw` is the object's own message, chosen by typeMeta.kind.
- Messages are declarative tables taken from the `generated.proto` files of k8s.io/api
  (core/v1, apps/v1) and apimachinery (meta/v1, runtime, resource, intstr): one line per field,
  field number → JSON name and type. A type is a scalar (`STR`, `INT32`, `INT64`, `BOOL`,
  `BYTES`), a leaf that decodes itself (`TIME`, `MICRO_TIME`, `QUANTITY`, `INT_OR_STRING`,
  `FIELDS_V1`), or the name of another table. Shapes: `f` one value, `opt` one value that is a
  pointer in Go, `lst` repeated, `mapof` a map (repeated entries {key=1, value=2}), `inline` a Go
  embedded struct whose fields land in the parent's JSON object (e.g. LocalObjectReference in
  ConfigMapKeySelector). Field numbers a table does not list are skipped (logged at debug).
- Zero values: the go-to-protobuf marshallers write every non-pointer field, even "" / 0 /
  false / empty structs, because the Go types are proto2 with non-nullable fields. Go cannot tell
  those from unset, and its JSON (omitempty) drops them; so does this decoder: a scalar is kept
  only when non-zero, unless the Go field is a pointer (`opt`), which is kept whenever it is on
  the wire, zero or not (`replicas: 0`, `automountServiceAccountToken: false`). Embedded
  messages on the wire are kept, empty ones as `{}`, as Go's JSON writes non-pointer structs
  (`resources: {}`, `strategy: {}`); a zero Time is an empty message and is dropped (JSON null).
  Empty lists and maps are never on the wire.
- Leaves become their JSON forms: Time {seconds=1, nanos=2} → RFC 3339 to the second, MicroTime
  → with microseconds, Quantity {string=1} → its string, IntOrString {type=1, intVal=2, strVal=3}
  → int or string, FieldsV1 {raw=1} → the JSON object it holds, bytes → base64 (Secret.data).
- Errors: a malformed body is 400 BadRequest naming what is wrong; a kind without a table is
  415 UnsupportedMediaType suggesting `kubectl create -f` / `apply -f` with YAML.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from kstore.api.errors import ApiError, bad_request

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


class Malformed(ValueError):
    """The bytes are not a well-formed protobuf message of the expected shape."""


# ---- wire format

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise Malformed("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise Malformed("varint longer than 10 bytes")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message: an int for varints and
    fixed-width values, the bytes for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field number 0")
        value: int | bytes
        if wire == VARINT:
            value, pos = _varint(buf, pos)
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > end:
                raise Malformed(f"truncated fixed{width * 8} in field {number}")
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        elif wire == LEN:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise Malformed(f"field {number} claims {size} bytes, {end - pos} left")
            value, pos = buf[pos:pos + size], pos + size
        else:
            raise Malformed(f"unsupported wire type {wire} in field {number}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# ---- types

STR, BYTES, INT32, INT64, BOOL = "string", "bytes", "int32", "int64", "bool"
RAW = "raw"  # bytes kept as bytes (runtime.Unknown.raw); never in a JSON-shaped result
TIME, MICRO_TIME, QUANTITY, INT_OR_STRING, FIELDS_V1 = "Time", "MicroTime", "Quantity", "IntOrString", "FieldsV1"


def _text(raw: bytes) -> str:
    try:
        return raw.decode()
    except UnicodeDecodeError as e:
        raise Malformed(f"invalid UTF-8 in a string: {e}") from e


def _time(raw: bytes, timespec: str) -> str | None:
    seconds = nanos = 0
    for number, wire, value in _fields(raw):
        if number == 1:
            seconds = _signed(_int(value, wire, "Time.seconds"), 64)
        elif number == 2:
            nanos = _signed(_int(value, wire, "Time.nanos"), 32)
    if not raw:
        return None  # the zero time: JSON null
    try:
        t = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
            seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as e:
        raise Malformed(f"time out of range: {seconds}s") from e
    return t.isoformat(timespec=timespec).replace("+00:00", "Z")  # Go's RFC 3339, 4-digit year


def _quantity(raw: bytes) -> str:
    out = ""
    for number, wire, value in _fields(raw):
        if number == 1:
            out = _text(_len(value, wire, "Quantity.string"))
    return out


def _int_or_string(raw: bytes) -> int | str:
    kind, num, text = 0, 0, ""
    for number, wire, value in _fields(raw):
        if number == 1:
            kind = _signed(_int(value, wire, "IntOrString.type"), 64)
        elif number == 2:
            num = _signed(_int(value, wire, "IntOrString.intVal"), 32)
        elif number == 3:
            text = _text(_len(value, wire, "IntOrString.strVal"))
    return text if kind == 1 else num


def _fields_v1(raw: bytes) -> Any:
    data = b""
    for number, wire, value in _fields(raw):
        if number == 1:
            data = _len(value, wire, "FieldsV1.raw")
    try:
        return json.loads(data) if data else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise Malformed(f"FieldsV1 does not hold JSON: {e}") from e


LEAVES: dict[str, Callable[[bytes], Any]] = {
    TIME: lambda raw: _time(raw, "seconds"),
    MICRO_TIME: lambda raw: _time(raw, "microseconds"),
    QUANTITY: _quantity,
    INT_OR_STRING: _int_or_string,
    FIELDS_V1: _fields_v1,
}


def _int(value: int | bytes, wire: int, where: str) -> int:
    if wire != VARINT or not isinstance(value, int):
        raise Malformed(f"{where}: expected a varint, got wire type {wire}")
    return value


def _len(value: int | bytes, wire: int, where: str) -> bytes:
    if wire != LEN or not isinstance(value, bytes):
        raise Malformed(f"{where}: expected a length-delimited value, got wire type {wire}")
    return value


def _scalar(typ: str, value: int | bytes, wire: int, where: str) -> Any:
    if typ == STR:
        return _text(_len(value, wire, where))
    if typ == BYTES:
        return base64.b64encode(_len(value, wire, where)).decode()
    if typ == RAW:
        return _len(value, wire, where)
    if typ == INT32:
        return _signed(_int(value, wire, where), 32)
    if typ == INT64:
        return _signed(_int(value, wire, where), 64)
    if typ == BOOL:
        return _int(value, wire, where) != 0
    if typ in LEAVES:
        return LEAVES[typ](_len(value, wire, where))
    return _message(_len(value, wire, where), typ)


# ---- tables


@dataclasses.dataclass(frozen=True)
class Field:
    json: str  # the JSON name; "" for an inlined (embedded) struct
    type: str  # a scalar, a leaf, or a message name in MESSAGES
    shape: str = "one"  # "one" | "opt" | "list" | "map" | "inline"


def f(json: str, typ: str) -> Field:
    """A non-pointer Go field: kept only when non-zero (messages: whenever present)."""
    return Field(json, typ)


def opt(json: str, typ: str) -> Field:
    """A pointer Go field: kept whenever it is on the wire, zero or not."""
    return Field(json, typ, "opt")


def lst(json: str, typ: str) -> Field:
    return Field(json, typ, "list")


def mapof(json: str, typ: str) -> Field:
    """map<string, typ>: repeated entries {key=1, value=2}."""
    return Field(json, typ, "map")


def inline(typ: str) -> Field:
    return Field("", typ, "inline")


MESSAGES: dict[str, dict[int, Field]] = {}


def msg(name: str, fields: dict[int, Field]) -> None:
    if name in MESSAGES:
        raise ValueError(f"protobuf message {name} declared twice")
    MESSAGES[name] = fields


# runtime (apimachinery/pkg/runtime/generated.proto)
msg("TypeMeta", {1: f("apiVersion", STR), 2: f("kind", STR)})
msg("Unknown", {
    1: f("typeMeta", "TypeMeta"),
    2: f("raw", RAW),
    3: f("contentEncoding", STR),
    4: f("contentType", STR),
})

# meta/v1 (apimachinery/pkg/apis/meta/v1/generated.proto)
msg("ObjectMeta", {
    1: f("name", STR),
    2: f("generateName", STR),
    3: f("namespace", STR),
    4: f("selfLink", STR),
    5: f("uid", STR),
    6: f("resourceVersion", STR),
    7: f("generation", INT64),
    8: f("creationTimestamp", TIME),
    9: opt("deletionTimestamp", TIME),
    10: opt("deletionGracePeriodSeconds", INT64),
    11: mapof("labels", STR),
    12: mapof("annotations", STR),
    13: lst("ownerReferences", "OwnerReference"),
    14: lst("finalizers", STR),
    17: lst("managedFields", "ManagedFieldsEntry"),
})
msg("OwnerReference", {
    5: f("apiVersion", STR),
    1: f("kind", STR),
    3: f("name", STR),
    4: f("uid", STR),
    6: opt("controller", BOOL),
    7: opt("blockOwnerDeletion", BOOL),
})
msg("ManagedFieldsEntry", {
    1: f("manager", STR),
    2: f("operation", STR),
    3: f("apiVersion", STR),
    4: opt("time", TIME),
    6: f("fieldsType", STR),
    7: opt("fieldsV1", FIELDS_V1),
    8: f("subresource", STR),
})
msg("LabelSelector", {
    1: mapof("matchLabels", STR),
    2: lst("matchExpressions", "LabelSelectorRequirement"),
})
msg("LabelSelectorRequirement", {1: f("key", STR), 2: f("operator", STR), 3: lst("values", STR)})
msg("Condition", {
    1: f("type", STR),
    2: f("status", STR),
    3: f("observedGeneration", INT64),
    4: f("lastTransitionTime", TIME),
    5: f("reason", STR),
    6: f("message", STR),
})
msg("DeleteOptions", {
    1: opt("gracePeriodSeconds", INT64),
    2: opt("preconditions", "Preconditions"),
    3: opt("orphanDependents", BOOL),
    4: opt("propagationPolicy", STR),
    5: lst("dryRun", STR),
})
msg("Preconditions", {1: opt("uid", STR), 2: opt("resourceVersion", STR)})

# core/v1 (api/core/v1/generated.proto): the kinds
msg("Namespace", {1: f("metadata", "ObjectMeta"), 2: f("spec", "NamespaceSpec"), 3: f("status", "NamespaceStatus")})
msg("NamespaceSpec", {1: lst("finalizers", STR)})
msg("NamespaceStatus", {1: f("phase", STR), 2: lst("conditions", "NamespaceCondition")})
msg("NamespaceCondition", {
    1: f("type", STR),
    2: f("status", STR),
    4: f("lastTransitionTime", TIME),
    5: f("reason", STR),
    6: f("message", STR),
})
msg("ConfigMap", {
    1: f("metadata", "ObjectMeta"),
    4: opt("immutable", BOOL),
    2: mapof("data", STR),
    3: mapof("binaryData", BYTES),
})
msg("Secret", {
    1: f("metadata", "ObjectMeta"),
    5: opt("immutable", BOOL),
    2: mapof("data", BYTES),
    4: mapof("stringData", STR),
    3: f("type", STR),
})
msg("ServiceAccount", {
    1: f("metadata", "ObjectMeta"),
    2: lst("secrets", "ObjectReference"),
    3: lst("imagePullSecrets", "LocalObjectReference"),
    4: opt("automountServiceAccountToken", BOOL),
})
msg("Service", {1: f("metadata", "ObjectMeta"), 2: f("spec", "ServiceSpec"), 3: f("status", "ServiceStatus")})
msg("ServiceSpec", {
    1: lst("ports", "ServicePort"),
    2: mapof("selector", STR),
    3: f("clusterIP", STR),
    18: lst("clusterIPs", STR),
    4: f("type", STR),
    5: lst("externalIPs", STR),
    7: f("sessionAffinity", STR),
    8: f("loadBalancerIP", STR),
    9: lst("loadBalancerSourceRanges", STR),
    10: f("externalName", STR),
    11: f("externalTrafficPolicy", STR),
    12: f("healthCheckNodePort", INT32),
    13: f("publishNotReadyAddresses", BOOL),
    14: opt("sessionAffinityConfig", "SessionAffinityConfig"),
    19: lst("ipFamilies", STR),
    17: opt("ipFamilyPolicy", STR),
    20: opt("allocateLoadBalancerNodePorts", BOOL),
    21: opt("loadBalancerClass", STR),
    22: opt("internalTrafficPolicy", STR),
    23: opt("trafficDistribution", STR),
})
msg("ServicePort", {
    1: f("name", STR),
    2: f("protocol", STR),
    6: opt("appProtocol", STR),
    3: f("port", INT32),
    4: f("targetPort", INT_OR_STRING),
    5: f("nodePort", INT32),
})
msg("SessionAffinityConfig", {1: opt("clientIP", "ClientIPConfig")})
msg("ClientIPConfig", {1: opt("timeoutSeconds", INT32)})
msg("ServiceStatus", {1: f("loadBalancer", "LoadBalancerStatus"), 2: lst("conditions", "Condition")})
msg("LoadBalancerStatus", {1: lst("ingress", "LoadBalancerIngress")})
msg("LoadBalancerIngress", {
    1: f("ip", STR),
    2: f("hostname", STR),
    3: opt("ipMode", STR),
    4: lst("ports", "PortStatus"),
})
msg("PortStatus", {1: f("port", INT32), 2: f("protocol", STR), 3: opt("error", STR)})
msg("Pod", {1: f("metadata", "ObjectMeta"), 2: f("spec", "PodSpec"), 3: f("status", "PodStatus")})
msg("PodStatus", {
    1: f("phase", STR),
    2: lst("conditions", "PodCondition"),
    3: f("message", STR),
    4: f("reason", STR),
    11: f("nominatedNodeName", STR),
    5: f("hostIP", STR),
    16: lst("hostIPs", "HostIP"),
    6: f("podIP", STR),
    12: lst("podIPs", "PodIP"),
    7: opt("startTime", TIME),
    9: f("qosClass", STR),
})
msg("PodCondition", {
    1: f("type", STR),
    2: f("status", STR),
    3: f("lastProbeTime", TIME),
    4: f("lastTransitionTime", TIME),
    5: f("reason", STR),
    6: f("message", STR),
})
msg("HostIP", {1: f("ip", STR)})
msg("PodIP", {1: f("ip", STR)})
msg("PersistentVolumeClaim", {
    1: f("metadata", "ObjectMeta"),
    2: f("spec", "PersistentVolumeClaimSpec"),
    3: f("status", "PersistentVolumeClaimStatus"),
})
msg("PersistentVolumeClaimSpec", {
    1: lst("accessModes", STR),
    4: opt("selector", "LabelSelector"),
    2: f("resources", "VolumeResourceRequirements"),
    3: f("volumeName", STR),
    5: opt("storageClassName", STR),
    6: opt("volumeMode", STR),
    7: opt("dataSource", "TypedLocalObjectReference"),
    8: opt("dataSourceRef", "TypedObjectReference"),
    9: opt("volumeAttributesClassName", STR),
})
msg("PersistentVolumeClaimStatus", {
    1: f("phase", STR),
    2: lst("accessModes", STR),
    3: mapof("capacity", QUANTITY),
})
msg("VolumeResourceRequirements", {1: mapof("limits", QUANTITY), 2: mapof("requests", QUANTITY)})
msg("TypedLocalObjectReference", {1: opt("apiGroup", STR), 2: f("kind", STR), 3: f("name", STR)})
msg("TypedObjectReference", {
    1: opt("apiGroup", STR),
    2: f("kind", STR),
    3: f("name", STR),
    4: opt("namespace", STR),
})

# core/v1: references and selectors
msg("LocalObjectReference", {1: f("name", STR)})
msg("ObjectReference", {
    1: f("kind", STR),
    2: f("namespace", STR),
    3: f("name", STR),
    4: f("uid", STR),
    5: f("apiVersion", STR),
    6: f("resourceVersion", STR),
    7: f("fieldPath", STR),
})
msg("ObjectFieldSelector", {1: f("apiVersion", STR), 2: f("fieldPath", STR)})
msg("ResourceFieldSelector", {1: f("containerName", STR), 2: f("resource", STR), 3: f("divisor", QUANTITY)})
msg("ConfigMapKeySelector", {1: inline("LocalObjectReference"), 2: f("key", STR), 3: opt("optional", BOOL)})
msg("SecretKeySelector", {1: inline("LocalObjectReference"), 2: f("key", STR), 3: opt("optional", BOOL)})
msg("ConfigMapEnvSource", {1: inline("LocalObjectReference"), 2: opt("optional", BOOL)})
msg("SecretEnvSource", {1: inline("LocalObjectReference"), 2: opt("optional", BOOL)})

# core/v1: pod templates
msg("PodTemplateSpec", {1: f("metadata", "ObjectMeta"), 2: f("spec", "PodSpec")})
msg("PodSpec", {
    1: lst("volumes", "Volume"),
    20: lst("initContainers", "Container"),
    2: lst("containers", "Container"),
    3: f("restartPolicy", STR),
    4: opt("terminationGracePeriodSeconds", INT64),
    5: opt("activeDeadlineSeconds", INT64),
    6: f("dnsPolicy", STR),
    7: mapof("nodeSelector", STR),
    8: f("serviceAccountName", STR),
    9: f("serviceAccount", STR),
    21: opt("automountServiceAccountToken", BOOL),
    10: f("nodeName", STR),
    11: f("hostNetwork", BOOL),
    12: f("hostPID", BOOL),
    13: f("hostIPC", BOOL),
    27: opt("shareProcessNamespace", BOOL),
    14: opt("securityContext", "PodSecurityContext"),
    15: lst("imagePullSecrets", "LocalObjectReference"),
    16: f("hostname", STR),
    17: f("subdomain", STR),
    19: f("schedulerName", STR),
    22: lst("tolerations", "Toleration"),
    23: lst("hostAliases", "HostAlias"),
    24: f("priorityClassName", STR),
    25: opt("priority", INT32),
    26: opt("dnsConfig", "PodDNSConfig"),
    28: lst("readinessGates", "PodReadinessGate"),
    29: opt("runtimeClassName", STR),
    30: opt("enableServiceLinks", BOOL),
    31: opt("preemptionPolicy", STR),
    32: mapof("overhead", QUANTITY),
    33: lst("topologySpreadConstraints", "TopologySpreadConstraint"),
    35: opt("setHostnameAsFQDN", BOOL),
    36: opt("os", "PodOS"),
    37: opt("hostUsers", BOOL),
    38: lst("schedulingGates", "PodSchedulingGate"),
    40: opt("resources", "ResourceRequirements"),
})
msg("Container", {
    1: f("name", STR),
    2: f("image", STR),
    3: lst("command", STR),
    4: lst("args", STR),
    5: f("workingDir", STR),
    6: lst("ports", "ContainerPort"),
    19: lst("envFrom", "EnvFromSource"),
    7: lst("env", "EnvVar"),
    8: f("resources", "ResourceRequirements"),
    23: lst("resizePolicy", "ContainerResizePolicy"),
    24: opt("restartPolicy", STR),
    9: lst("volumeMounts", "VolumeMount"),
    21: lst("volumeDevices", "VolumeDevice"),
    10: opt("livenessProbe", "Probe"),
    11: opt("readinessProbe", "Probe"),
    22: opt("startupProbe", "Probe"),
    12: opt("lifecycle", "Lifecycle"),
    13: f("terminationMessagePath", STR),
    20: f("terminationMessagePolicy", STR),
    14: f("imagePullPolicy", STR),
    15: opt("securityContext", "SecurityContext"),
    16: f("stdin", BOOL),
    17: f("stdinOnce", BOOL),
    18: f("tty", BOOL),
})
msg("ContainerPort", {
    1: f("name", STR),
    2: f("hostPort", INT32),
    3: f("containerPort", INT32),
    4: f("protocol", STR),
    5: f("hostIP", STR),
})
msg("EnvVar", {1: f("name", STR), 2: f("value", STR), 3: opt("valueFrom", "EnvVarSource")})
msg("EnvVarSource", {
    1: opt("fieldRef", "ObjectFieldSelector"),
    2: opt("resourceFieldRef", "ResourceFieldSelector"),
    3: opt("configMapKeyRef", "ConfigMapKeySelector"),
    4: opt("secretKeyRef", "SecretKeySelector"),
})
msg("EnvFromSource", {
    1: f("prefix", STR),
    2: opt("configMapRef", "ConfigMapEnvSource"),
    3: opt("secretRef", "SecretEnvSource"),
})
msg("ResourceRequirements", {
    1: mapof("limits", QUANTITY),
    2: mapof("requests", QUANTITY),
    3: lst("claims", "ResourceClaim"),
})
msg("ResourceClaim", {1: f("name", STR), 2: f("request", STR)})
msg("ContainerResizePolicy", {1: f("resourceName", STR), 2: f("restartPolicy", STR)})
msg("VolumeMount", {
    1: f("name", STR),
    2: f("readOnly", BOOL),
    7: opt("recursiveReadOnly", STR),
    3: f("mountPath", STR),
    4: f("subPath", STR),
    5: opt("mountPropagation", STR),
    6: f("subPathExpr", STR),
})
msg("VolumeDevice", {1: f("name", STR), 2: f("devicePath", STR)})
msg("Probe", {
    1: inline("ProbeHandler"),
    2: f("initialDelaySeconds", INT32),
    3: f("timeoutSeconds", INT32),
    4: f("periodSeconds", INT32),
    5: f("successThreshold", INT32),
    6: f("failureThreshold", INT32),
    7: opt("terminationGracePeriodSeconds", INT64),
})
msg("ProbeHandler", {
    1: opt("exec", "ExecAction"),
    2: opt("httpGet", "HTTPGetAction"),
    3: opt("tcpSocket", "TCPSocketAction"),
    4: opt("grpc", "GRPCAction"),
})
msg("Lifecycle", {1: opt("postStart", "LifecycleHandler"), 2: opt("preStop", "LifecycleHandler")})
msg("LifecycleHandler", {
    1: opt("exec", "ExecAction"),
    2: opt("httpGet", "HTTPGetAction"),
    3: opt("tcpSocket", "TCPSocketAction"),
    4: opt("sleep", "SleepAction"),
})
msg("ExecAction", {1: lst("command", STR)})
msg("HTTPGetAction", {
    1: f("path", STR),
    2: f("port", INT_OR_STRING),
    3: f("host", STR),
    4: f("scheme", STR),
    5: lst("httpHeaders", "HTTPHeader"),
})
msg("HTTPHeader", {1: f("name", STR), 2: f("value", STR)})
msg("TCPSocketAction", {1: f("port", INT_OR_STRING), 2: f("host", STR)})
msg("GRPCAction", {1: f("port", INT32), 2: opt("service", STR)})
msg("SleepAction", {1: f("seconds", INT64)})
msg("SecurityContext", {
    1: opt("capabilities", "Capabilities"),
    2: opt("privileged", BOOL),
    3: opt("seLinuxOptions", "SELinuxOptions"),
    4: opt("runAsUser", INT64),
    8: opt("runAsGroup", INT64),
    5: opt("runAsNonRoot", BOOL),
    6: opt("readOnlyRootFilesystem", BOOL),
    7: opt("allowPrivilegeEscalation", BOOL),
    9: opt("procMount", STR),
    11: opt("seccompProfile", "SeccompProfile"),
    12: opt("appArmorProfile", "AppArmorProfile"),
})
msg("PodSecurityContext", {
    1: opt("seLinuxOptions", "SELinuxOptions"),
    2: opt("runAsUser", INT64),
    6: opt("runAsGroup", INT64),
    3: opt("runAsNonRoot", BOOL),
    4: lst("supplementalGroups", INT64),
    12: opt("supplementalGroupsPolicy", STR),
    5: opt("fsGroup", INT64),
    7: lst("sysctls", "Sysctl"),
    9: opt("fsGroupChangePolicy", STR),
    10: opt("seccompProfile", "SeccompProfile"),
    11: opt("appArmorProfile", "AppArmorProfile"),
    13: opt("seLinuxChangePolicy", STR),
})
msg("Capabilities", {1: lst("add", STR), 2: lst("drop", STR)})
msg("SELinuxOptions", {1: f("user", STR), 2: f("role", STR), 3: f("type", STR), 4: f("level", STR)})
msg("SeccompProfile", {1: f("type", STR), 2: opt("localhostProfile", STR)})
msg("AppArmorProfile", {1: f("type", STR), 2: opt("localhostProfile", STR)})
msg("Sysctl", {1: f("name", STR), 2: f("value", STR)})
msg("Toleration", {
    1: f("key", STR),
    2: f("operator", STR),
    3: f("value", STR),
    4: f("effect", STR),
    5: opt("tolerationSeconds", INT64),
})
msg("HostAlias", {1: f("ip", STR), 2: lst("hostnames", STR)})
msg("PodDNSConfig", {1: lst("nameservers", STR), 2: lst("searches", STR), 3: lst("options", "PodDNSConfigOption")})
msg("PodDNSConfigOption", {1: f("name", STR), 2: opt("value", STR)})
msg("PodReadinessGate", {1: f("conditionType", STR)})
msg("PodOS", {1: f("name", STR)})
msg("PodSchedulingGate", {1: f("name", STR)})
msg("TopologySpreadConstraint", {
    1: f("maxSkew", INT32),
    2: f("topologyKey", STR),
    3: f("whenUnsatisfiable", STR),
    4: opt("labelSelector", "LabelSelector"),
    5: opt("minDomains", INT32),
    6: opt("nodeAffinityPolicy", STR),
    7: opt("nodeTaintsPolicy", STR),
    8: lst("matchLabelKeys", STR),
})

# core/v1: volumes (the common sources; others are skipped like unknown fields)
msg("Volume", {1: f("name", STR), 2: inline("VolumeSource")})
msg("VolumeSource", {
    1: opt("hostPath", "HostPathVolumeSource"),
    2: opt("emptyDir", "EmptyDirVolumeSource"),
    6: opt("secret", "SecretVolumeSource"),
    7: opt("nfs", "NFSVolumeSource"),
    10: opt("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
    16: opt("downwardAPI", "DownwardAPIVolumeSource"),
    19: opt("configMap", "ConfigMapVolumeSource"),
    26: opt("projected", "ProjectedVolumeSource"),
    28: opt("csi", "CSIVolumeSource"),
    29: opt("ephemeral", "EphemeralVolumeSource"),
})
msg("HostPathVolumeSource", {1: f("path", STR), 2: opt("type", STR)})
msg("EmptyDirVolumeSource", {1: f("medium", STR), 2: opt("sizeLimit", QUANTITY)})
msg("SecretVolumeSource", {
    1: f("secretName", STR),
    2: lst("items", "KeyToPath"),
    3: opt("defaultMode", INT32),
    4: opt("optional", BOOL),
})
msg("NFSVolumeSource", {1: f("server", STR), 2: f("path", STR), 3: f("readOnly", BOOL)})
msg("PersistentVolumeClaimVolumeSource", {1: f("claimName", STR), 2: f("readOnly", BOOL)})
msg("DownwardAPIVolumeSource", {1: lst("items", "DownwardAPIVolumeFile"), 2: opt("defaultMode", INT32)})
msg("DownwardAPIVolumeFile", {
    1: f("path", STR),
    2: opt("fieldRef", "ObjectFieldSelector"),
    3: opt("resourceFieldRef", "ResourceFieldSelector"),
    4: opt("mode", INT32),
})
msg("ConfigMapVolumeSource", {
    1: inline("LocalObjectReference"),
    2: lst("items", "KeyToPath"),
    3: opt("defaultMode", INT32),
    4: opt("optional", BOOL),
})
msg("KeyToPath", {1: f("key", STR), 2: f("path", STR), 3: opt("mode", INT32)})
msg("ProjectedVolumeSource", {1: lst("sources", "VolumeProjection"), 2: opt("defaultMode", INT32)})
msg("VolumeProjection", {
    1: opt("secret", "SecretProjection"),
    2: opt("downwardAPI", "DownwardAPIProjection"),
    3: opt("configMap", "ConfigMapProjection"),
    4: opt("serviceAccountToken", "ServiceAccountTokenProjection"),
})
msg("SecretProjection", {1: inline("LocalObjectReference"), 2: lst("items", "KeyToPath"), 4: opt("optional", BOOL)})
msg("ConfigMapProjection", {1: inline("LocalObjectReference"), 2: lst("items", "KeyToPath"), 4: opt("optional", BOOL)})
msg("DownwardAPIProjection", {1: lst("items", "DownwardAPIVolumeFile")})
msg("ServiceAccountTokenProjection", {1: f("audience", STR), 2: opt("expirationSeconds", INT64), 3: f("path", STR)})
msg("CSIVolumeSource", {
    1: f("driver", STR),
    2: opt("readOnly", BOOL),
    3: opt("fsType", STR),
    4: mapof("volumeAttributes", STR),
    5: opt("nodePublishSecretRef", "LocalObjectReference"),
})
msg("EphemeralVolumeSource", {1: opt("volumeClaimTemplate", "PersistentVolumeClaimTemplate")})
msg("PersistentVolumeClaimTemplate", {1: f("metadata", "ObjectMeta"), 2: f("spec", "PersistentVolumeClaimSpec")})

# apps/v1 (api/apps/v1/generated.proto)
msg("Deployment", {1: f("metadata", "ObjectMeta"), 2: f("spec", "DeploymentSpec"), 3: f("status", "DeploymentStatus")})
msg("DeploymentSpec", {
    1: opt("replicas", INT32),
    2: opt("selector", "LabelSelector"),
    3: f("template", "PodTemplateSpec"),
    4: f("strategy", "DeploymentStrategy"),
    5: f("minReadySeconds", INT32),
    6: opt("revisionHistoryLimit", INT32),
    7: f("paused", BOOL),
    9: opt("progressDeadlineSeconds", INT32),
})
msg("DeploymentStrategy", {1: f("type", STR), 2: opt("rollingUpdate", "RollingUpdateDeployment")})
msg("RollingUpdateDeployment", {1: opt("maxUnavailable", INT_OR_STRING), 2: opt("maxSurge", INT_OR_STRING)})
msg("DeploymentStatus", {
    1: f("observedGeneration", INT64),
    2: f("replicas", INT32),
    3: f("updatedReplicas", INT32),
    7: f("readyReplicas", INT32),
    4: f("availableReplicas", INT32),
    5: f("unavailableReplicas", INT32),
    6: lst("conditions", "DeploymentCondition"),
    8: opt("collisionCount", INT32),
})
msg("DeploymentCondition", {
    1: f("type", STR),
    2: f("status", STR),
    6: f("lastUpdateTime", TIME),
    7: f("lastTransitionTime", TIME),
    4: f("reason", STR),
    5: f("message", STR),
})

# The kinds a body may carry: runtime.Unknown's typeMeta.kind → its message.
KINDS = ("Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "Pod", "PersistentVolumeClaim",
         "Deployment", "DeleteOptions")


def _check_tables() -> None:
    known = set(MESSAGES) | set(LEAVES) | {STR, BYTES, INT32, INT64, BOOL, RAW}
    for name, fields in MESSAGES.items():
        for number, field in fields.items():
            if field.type not in known:
                raise ValueError(f"protobuf message {name} field {number}: unknown type {field.type}")
            if field.shape == "inline" and field.type not in MESSAGES:
                raise ValueError(f"protobuf message {name} field {number}: only messages can be inlined")


_check_tables()


# ---- decoding


def _message(buf: bytes, name: str) -> dict[str, Any]:
    table = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(buf):
        field = table.get(number)
        if field is None:
            log.debug("protobuf: skipping unknown field %d (wire type %d) of %s", number, wire, name)
            continue
        where = f"{name}.{field.json or field.type}"
        if field.shape == "inline":
            out.update(_message(_len(value, wire, where), field.type))
        elif field.shape == "map":
            key, item = _map_entry(_len(value, wire, where), field.type, where)
            out.setdefault(field.json, {})[key] = item
        elif field.shape == "list":
            out.setdefault(field.json, []).extend(_repeated(field.type, value, wire, where))
        else:
            item = _scalar(field.type, value, wire, where)
            if item is None or (field.shape == "one" and not isinstance(item, dict) and not item):
                out.pop(field.json, None)  # a zero non-pointer value: unset, as in Go's JSON
            else:
                out[field.json] = item
    return out


def _repeated(typ: str, value: int | bytes, wire: int, where: str) -> list[Any]:
    if typ in (INT32, INT64, BOOL) and wire == LEN:  # packed: the varints back to back
        assert isinstance(value, bytes)
        items, pos = [], 0
        while pos < len(value):
            item, pos = _varint(value, pos)
            items.append(_scalar(typ, item, VARINT, where))
        return items
    return [_scalar(typ, value, wire, where)]


def _map_entry(buf: bytes, typ: str, where: str) -> tuple[str, Any]:
    key, item = "", None
    for number, wire, value in _fields(buf):
        if number == 1:
            key = _text(_len(value, wire, f"{where} key"))
        elif number == 2:
            item = _scalar(typ, value, wire, f"{where}[{key}]")
    if item is None:  # an absent value is the zero value of its type
        item = {STR: "", BYTES: "", INT32: 0, INT64: 0, BOOL: False, QUANTITY: "0"}.get(typ, {})
    return key, item


def decode(body: bytes) -> dict[str, Any]:
    """A `k8s\\x00`-prefixed protobuf body → a JSON-shaped object with apiVersion and kind.

    400 BadRequest when the bytes are malformed, 415 UnsupportedMediaType for a kind (or inner
    encoding) this module has no table for."""
    if not body.startswith(MAGIC):
        raise bad_request(f"provided data does not appear to be a protobuf message, expected prefix "
                          f"{list(MAGIC)}")
    try:
        unknown = _message(body[len(MAGIC):], "Unknown")
    except Malformed as e:
        raise bad_request(f"error decoding protobuf body: runtime.Unknown: {e}") from e
    type_meta = unknown.get("typeMeta") or {}
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    if not kind:
        raise bad_request("error decoding protobuf body: Object 'Kind' is missing in the protobuf envelope")
    encoding, content_type = unknown.get("contentEncoding", ""), unknown.get("contentType", "")
    if encoding or content_type not in ("", MEDIA_TYPE):
        raise ApiError(415, "UnsupportedMediaType",
                       f"protobuf envelope of {kind} holds content type {content_type!r}, encoding "
                       f"{encoding!r}: kstore decodes only plain protobuf inside it")
    if kind not in KINDS:
        raise ApiError(415, "UnsupportedMediaType",
                       f"kstore cannot decode protobuf bodies of kind {kind} ({api_version or 'no apiVersion'}); "
                       f"send it as JSON or YAML instead, e.g. write a manifest and use "
                       f"`kubectl create -f` or `kubectl apply -f`")
    try:
        obj = _message(unknown.get("raw", b""), kind)
    except Malformed as e:
        raise bad_request(f"error decoding protobuf body: {kind}: {e}") from e
    return {"apiVersion": api_version, "kind": kind, **obj}
