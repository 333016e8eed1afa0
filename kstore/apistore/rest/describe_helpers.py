"""Display helpers shared by the server-side printers in `tables.py`.

Each helper reproduces one helper of kube-apiserver 1.32 (pkg/printers/internalversion, apimachinery)
on plain Kubernetes-shaped dicts, so the cells kubectl prints match a real cluster's:

- `human_duration` is apimachinery's `duration.HumanDuration`; `since` is the printers'
  `translateTimestampSince` (`<unknown>` for an unset timestamp).
- `access_modes` is `GetAccessModesAsString` (`RWO,ROX,RWX,RWOP`, always in that order).
- `pod_summary` is the Ready, Status and Restarts cells of `printPod`: the status "reason" kubectl
  shows (`ContainerCreating`, `Init:0/1`, `CrashLoopBackOff`, `Terminating`, `Completed` ...).
- `format_labels` / `selector_string` / `container_cells` are the label and container layouts.
- Per-kind pieces too long for a cell function: a node's status and roles, a service's external
  IPs and ports, an event's timestamps and source, a volume's storage class.

Invariants: nothing here raises on a malformed object. A missing field reads as Go's zero value
(`""`, `0`, `false`) because the Go printers run on typed objects where absent means zero; a
timestamp that is not RFC 3339 prints `<invalid>` instead of failing the whole table.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.selectors import label_selector_from_dict

UNKNOWN, INVALID, NONE, UNSET = "<unknown>", "<invalid>", "<none>", "<unset>"

_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

# --- reading dicts the way Go reads typed structs -------------------------------------------------


def get(obj: Any, *path: str) -> Any:
    """The value at `path` inside nested dicts, or None if any step is missing or not a dict."""
    cur = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def text(value: Any) -> str:
    """A string field: the value if it is a string, else Go's zero value `""`."""
    return value if isinstance(value, str) else ""


def integer(value: Any) -> int:
    """An integer field (int32/int64 in Go): the value if it is an int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def items(value: Any) -> list[Any]:
    """A list field: the value if it is a list, else empty."""
    return value if isinstance(value, list) else []


def mapping(value: Any) -> Mapping[str, Any]:
    """A map or struct field: the value if it is a dict, else empty."""
    return value if isinstance(value, Mapping) else {}


# --- durations and timestamps ----------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """apimachinery's `HumanDuration`: about two significant figures (`90s`, `3m10s`, `2d5h`).

    Up to one second in the future reads `0s` (clock skew); further in the future is `<invalid>`.
    """
    if not math.isfinite(seconds):
        return INVALID
    whole = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if whole < -1:
        return INVALID
    if whole < 0:
        return "0s"
    if whole < 2 * 60:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return _pair(minutes, "m", whole % 60, "s")
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return _pair(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _pair(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _pair(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _pair(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    """`3m10s`, or `3m` when the minor part is zero."""
    return f"{major}{major_unit}{minor}{minor_unit}" if minor else f"{major}{major_unit}"


def parse_time(value: Any) -> float | None:
    """An RFC 3339 timestamp (`Time` or `MicroTime`) as epoch seconds; None when unset.

    Go's zero time (`0001-01-01T00:00:00Z`) also counts as unset. Raises ValueError when the
    value is not a timestamp. A timestamp without an offset is taken as UTC.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed == _GO_ZERO_TIME:
        return None
    return parsed.timestamp()


def unset_time(value: Any) -> bool:
    """True for a timestamp Go reads as zero: absent, empty or 0001-01-01 (garbage is not unset)."""
    try:
        return parse_time(value) is None
    except ValueError:
        return False


def since(value: Any, now: float) -> str:
    """`translateTimestampSince`: the age of a timestamp, `<unknown>` if unset, `<invalid>` if garbage."""
    try:
        then = parse_time(value)
    except ValueError:
        return INVALID
    return UNKNOWN if then is None else human_duration(now - then)


def age(obj: Mapping[str, Any], now: float) -> str:
    """The Age cell: `metadata.creationTimestamp` against `now` (epoch seconds)."""
    return since(get(obj, "metadata", "creationTimestamp"), now)


# --- storage ----------------------------------------------------------------------------------------

_ACCESS_MODES = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes(modes: Any) -> str:
    """`GetAccessModesAsString`: abbreviations in a fixed order, duplicates and unknowns dropped."""
    present = set(m for m in items(modes) if isinstance(m, str))
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def storage_class_of(obj: Mapping[str, Any]) -> str:
    """`GetPersistentVolume(Claim)Class`: the beta annotation wins over `spec.storageClassName`.

    An unset class prints `""` (not `<unset>`), for volumes and claims alike.
    """
    annotations = mapping(get(obj, "metadata", "annotations"))
    if BETA_STORAGE_CLASS in annotations:
        return text(annotations[BETA_STORAGE_CLASS])
    return text(get(obj, "spec", "storageClassName"))


def is_default_class(storage_class: Mapping[str, Any]) -> bool:
    annotations = mapping(get(storage_class, "metadata", "annotations"))
    return any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS)


def phase_or_terminating(obj: Mapping[str, Any]) -> str:
    """`status.phase`, or `Terminating` once the object has a deletionTimestamp (PV, PVC)."""
    if get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    return text(get(obj, "status", "phase"))


def optional(value: Any, missing: str) -> str:
    """A `*string` field: its value when set (even `""`), else the placeholder."""
    return missing if value is None else text(value)


def quantity(value: Any) -> str:
    """A resource quantity cell as stored; an absent quantity is Go's zero `Quantity`, `0`."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return "0"


# --- labels, selectors, containers ------------------------------------------------------------------


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: `k=v` pairs sorted by key, or `<none>`."""
    pairs = mapping(labels)
    return ",".join(f"{k}={pairs[k]}" for k in sorted(pairs)) or NONE


def selector_string(selector: Any) -> str | None:
    """`LabelSelectorAsSelector(sel).String()`; None when the selector is malformed.

    A missing selector selects nothing and prints `""`, like `labels.Nothing()`.
    """
    try:
        return str(label_selector_from_dict(selector if isinstance(selector, Mapping) else None))
    except ApiError:
        return None


def container_cells(pod_spec: Any) -> tuple[str, str]:
    """`layoutContainerCells`: the container names and images, each comma-joined."""
    containers = [mapping(c) for c in items(get(pod_spec, "containers"))]
    return ",".join(text(c.get("name")) for c in containers), ",".join(
        text(c.get("image")) for c in containers
    )


# --- nodes, services, events ---------------------------------------------------------------------

NODE_ROLE_PREFIX, NODE_ROLE_LABEL = "node-role.kubernetes.io/", "kubernetes.io/role"


def node_status(node: Mapping[str, Any]) -> str:
    """`Ready`, `NotReady` or `Unknown` (no Ready condition), plus `,SchedulingDisabled` if cordoned."""
    ready = [mapping(c) for c in items(get(node, "status", "conditions")) if get(c, "type") == "Ready"]
    states = ["Ready" if ready[-1].get("status") == "True" else "NotReady"] if ready else ["Unknown"]
    if get(node, "spec", "unschedulable") is True:
        states.append("SchedulingDisabled")
    return ",".join(states)


def node_roles(node: Mapping[str, Any]) -> str:
    """Roles from `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` value, or `<none>`."""
    roles = set()
    for key, value in mapping(get(node, "metadata", "labels")).items():
        if key.startswith(NODE_ROLE_PREFIX) and key != NODE_ROLE_PREFIX:
            roles.add(key.removeprefix(NODE_ROLE_PREFIX))
        elif key == NODE_ROLE_LABEL and value:
            roles.add(text(value))
    return ",".join(sorted(roles)) or NONE


def node_address(node: Mapping[str, Any], kind: str) -> str:
    """The first address of `kind` (`InternalIP`, `ExternalIP`), or `<none>`."""
    addresses = (mapping(a) for a in items(get(node, "status", "addresses")))
    return next((text(a.get("address")) for a in addresses if a.get("type") == kind), NONE)


def service_external_ip(svc: Mapping[str, Any]) -> str:
    """`getServiceExternalIP` as the apiserver calls it (wide: load-balancer names are not clipped)."""
    spec = mapping(svc.get("spec"))
    external = [text(ip) for ip in items(spec.get("externalIPs"))]
    kind = spec.get("type")
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        ingress = (mapping(i) for i in items(get(svc, "status", "loadBalancer", "ingress")))
        balancer = sorted({text(i.get("ip")) or text(i.get("hostname")) for i in ingress} - {""})
        return ",".join(balancer + external) or "<pending>"
    if kind == "ExternalName":
        return text(spec.get("externalName"))
    return UNKNOWN


def service_ports(svc: Mapping[str, Any]) -> str:
    """`80/TCP,443:30443/TCP`, or `<none>`."""
    pieces = []
    for port in (mapping(p) for p in items(get(svc, "spec", "ports"))):
        number, node_port = integer(port.get("port")), integer(port.get("nodePort"))
        protocol = text(port.get("protocol"))
        pieces.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return ",".join(pieces) or NONE


def event_source(event: Mapping[str, Any]) -> str:
    """`component, host`, falling back to reportingComponent / reportingInstance; no host, no comma."""
    source = mapping(event.get("source"))
    component = text(source.get("component")) or text(event.get("reportingComponent"))
    instance = text(source.get("host")) or text(event.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def event_involved(event: Mapping[str, Any]) -> str:
    """The Object cell: lower-cased `kind/name`, or just the kind when the name is empty."""
    involved = mapping(event.get("involvedObject"))
    kind, name = text(involved.get("kind")).lower(), text(involved.get("name"))
    return f"{kind}/{name}" if name else kind


# --- pods ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PodSummary:
    """The Ready (`1/1`), Status (`Running`, `Init:0/2` ...) and Restarts (`3 (5m ago)`) cells."""

    ready: str
    status: str
    restarts: str


@dataclasses.dataclass
class _Restarts:
    """Restart count and the latest `lastState.terminated.finishedAt` (epoch seconds, None if none)."""

    count: int = 0
    last: float | None = None

    def add(self, container_status: Mapping[str, Any]) -> None:
        self.count += integer(container_status.get("restartCount"))
        terminated = get(container_status, "lastState", "terminated")
        if not isinstance(terminated, Mapping):
            return
        try:
            finished = parse_time(terminated.get("finishedAt"))
        except ValueError:
            return
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished


def _condition_true(conditions: Iterable[Any], kind: str, *, first_only: bool = False) -> bool:
    for condition in conditions:
        condition = mapping(condition)
        if condition.get("type") != kind:
            continue
        if condition.get("status") == "True":
            return True
        if first_only:
            return False
    return False


def _terminated_reason(terminated: Mapping[str, Any], prefix: str) -> str:
    """`Init:OOMKilled`, or `Init:Signal:9` / `ExitCode:1` when the runtime gave no reason."""
    if reason := text(terminated.get("reason")):
        return prefix + reason
    if signal := integer(terminated.get("signal")):
        return f"{prefix}Signal:{signal}"
    return f"{prefix}ExitCode:{integer(terminated.get('exitCode'))}"


def pod_summary(pod: Mapping[str, Any], now: float) -> PodSummary:
    """The pod's Ready, Status and Restarts cells, computed as kube-apiserver 1.32's `printPod`.

    Status starts from `status.reason` or the phase; the first init container that has not
    finished gives `Init:<reason>` / `Init:<i>/<n>`; otherwise the last container with a waiting
    or terminated reason wins (`ContainerCreating`, `CrashLoopBackOff`, `Completed`, `Error`).
    A deletionTimestamp on a non-terminal pod reads `Terminating`. Restartable init containers
    (sidecars, `restartPolicy: Always`) count towards Ready and Restarts like containers.
    """
    spec, status = mapping(pod.get("spec")), mapping(pod.get("status"))
    conditions = items(status.get("conditions"))
    init_specs = [mapping(c) for c in items(spec.get("initContainers"))]
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(items(spec.get("containers"))) + sum(
        1 for c in init_specs if c.get("restartPolicy") == "Always"
    )
    ready = 0

    phase = text(status.get("phase"))
    reason = text(status.get("reason")) or phase
    for condition in conditions:
        if get(condition, "type") == "PodScheduled" and get(condition, "reason") == "SchedulingGated":
            reason = "SchedulingGated"

    all_restarts, sidecar_restarts = _Restarts(), _Restarts()
    initializing = False
    for i, raw in enumerate(items(status.get("initContainerStatuses"))):
        container = mapping(raw)
        is_sidecar = container.get("name") in sidecars
        all_restarts.add(container)
        if is_sidecar:
            sidecar_restarts.add(container)
        waiting = get(container, "state", "waiting")
        terminated = get(container, "state", "terminated")
        if isinstance(terminated, Mapping) and integer(terminated.get("exitCode")) == 0:
            continue  # this init container completed
        if is_sidecar and container.get("started") is True:
            ready += 1 if container.get("ready") is True else 0
            continue  # a started sidecar does not block initialization
        if isinstance(terminated, Mapping):
            reason = _terminated_reason(terminated, "Init:")
        elif isinstance(waiting, Mapping) and text(waiting.get("reason")) not in ("", "PodInitializing"):
            reason = "Init:" + text(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    restarts = all_restarts
    if not initializing or _condition_true(conditions, "Initialized", first_only=True):
        restarts = sidecar_restarts
        has_running = False
        for raw in reversed(items(status.get("containerStatuses"))):
            container = mapping(raw)
            restarts.add(container)
            waiting = get(container, "state", "waiting")
            terminated = get(container, "state", "terminated")
            if isinstance(waiting, Mapping) and text(waiting.get("reason")):
                reason = text(waiting.get("reason"))
            elif isinstance(terminated, Mapping):
                reason = _terminated_reason(terminated, "")
            elif container.get("ready") is True and isinstance(get(container, "state", "running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            # OBSERVATION: some container finished but another still runs.
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    if get(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Failed", "Succeeded"):
            reason = "Terminating"

    restarts_cell = str(restarts.count)
    if restarts.count and restarts.last is not None:
        restarts_cell = f"{restarts.count} ({human_duration(now - restarts.last)} ago)"
    return PodSummary(ready=f"{ready}/{total}", status=reason, restarts=restarts_cell)


def pod_readiness_gates(pod: Mapping[str, Any]) -> str:
    """`n/m` readiness gates whose condition is True, or `<none>` when the pod declares none."""
    gates = items(get(pod, "spec", "readinessGates"))
    if not gates:
        return NONE
    conditions = [mapping(c) for c in items(get(pod, "status", "conditions"))]
    passing = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == get(gate, "conditionType")), None)
        passing += 1 if match is not None and match.get("status") == "True" else 0
    return f"{passing}/{len(gates)}"


def pod_ip(pod: Mapping[str, Any]) -> str:
    """The first of `status.podIPs`, falling back to `status.podIP` as the v1 conversion does."""
    ips = items(get(pod, "status", "podIPs"))
    first = text(get(ips[0], "ip")) if ips else ""
    return first or text(get(pod, "status", "podIP")) or NONE
