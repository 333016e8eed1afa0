"""Cluster configuration: one YAML file in, one resolved `ClusterConfig` out.

Design:
- `load_config()` reads YAML (default `configs/dev.yaml`), applies the command-line
  overrides (`nodes`, `state_dir`, `base_port`) and resolves everything a process needs to
  find the others: absolute paths, concrete ports, one `NodeConfig` per emulated node.
- The supervisor writes the resolved config to `<state>/cluster.json` (`to_json()`), and
  every process reads that file (`from_json()`), so a restarted process gets the same
  endpoints even when the ports were picked at random (`ports.base: 0`).
- Known sections are checked strictly (a typo in `periods` is an error naming the key);
  unknown top-level sections are kept in `raw` untouched, so later components read their
  own (`drivers`, `nodes_per_process`, ...).

Port layout, from `ports.base` (B):
    B+0 bus RPC (ROUTER)           B+1 bus events (PUB)        B+2 HTTP (REST front door)
    B+10 apistore metrics  B+11 pv-controller  B+12 ad-controller  B+13 scheduler
    B+14 controller-manager         B+20+i kubelet of the i-th node (0-based)
`ports.base: 0` picks a free loopback port for each of them at load time instead.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO_ROOT / "configs" / "dev.yaml"
DEFAULT_STATE_DIR = ".kstore"
DEFAULT_BASE_PORT = 17400
DEFAULT_ZONES = ("zone-a", "zone-b", "zone-c")

# Components in start order; kubelets (one per node) come after them.
CONTROL_PLANE = ("apistore", "pv-controller", "ad-controller", "scheduler", "controller-manager")
KUBELET = "kubelet"

# Offsets from ports.base (see the module docstring).
RPC_OFFSET, EVENTS_OFFSET, HTTP_OFFSET = 0, 1, 2
METRICS_OFFSET = 10
KUBELET_METRICS_OFFSET = 20

# Well-known node labels the kubelet and the cloud provider set in Kubernetes.
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"

_BACKENDS = ("sqlite", "memory")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class ConfigError(ValueError):
    """The config is wrong; the message names the key and what to do about it."""


@dataclasses.dataclass(frozen=True)
class Periods:
    """Loop periods in seconds; defaults are Kubernetes' own."""

    bus_heartbeat: float = 0.5
    pv_resync: float = 15.0
    ad_reconcile: float = 0.1
    vm_reconcile: float = 0.1
    node_status: float = 10.0
    max_wait_for_unmount: float = 360.0
    node_grace: float = 40.0
    pod_eviction_timeout: float = 300.0


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """One emulated node. `labels` already holds the hostname and zone labels."""

    name: str
    labels: dict[str, str]
    zone: str
    attach_limit: int | None = None


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    state_dir: Path
    rpc_endpoint: str
    events_endpoint: str
    http_host: str
    http_port: int
    backend: str
    sqlite_path: Path
    nodes: tuple[NodeConfig, ...]
    metrics_ports: dict[str, int]
    periods: Periods = Periods()
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    # Files in the state dir that more than one program knows about.
    @property
    def cluster_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def node(self, name: str) -> NodeConfig:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def metrics_url(self, process_name: str) -> str:
        return f"http://{_connect_host(self.http_host)}:{self.metrics_ports[process_name]}"

    def to_json(self) -> str:
        data = {
            "state_dir": str(self.state_dir),
            "rpc_endpoint": self.rpc_endpoint,
            "events_endpoint": self.events_endpoint,
            "http_host": self.http_host,
            "http_port": self.http_port,
            "backend": self.backend,
            "sqlite_path": str(self.sqlite_path),
            "nodes": [dataclasses.asdict(n) for n in self.nodes],
            "metrics_ports": self.metrics_ports,
            "periods": dataclasses.asdict(self.periods),
            "raw": self.raw,
        }
        return json.dumps(data, indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> ClusterConfig:
        try:
            data = json.loads(text)
            return cls(
                state_dir=Path(data["state_dir"]),
                rpc_endpoint=data["rpc_endpoint"],
                events_endpoint=data["events_endpoint"],
                http_host=data["http_host"],
                http_port=int(data["http_port"]),
                backend=data["backend"],
                sqlite_path=Path(data["sqlite_path"]),
                nodes=tuple(NodeConfig(**n) for n in data["nodes"]),
                metrics_ports={k: int(v) for k, v in data["metrics_ports"].items()},
                periods=Periods(**data["periods"]),
                raw=data.get("raw", {}),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"cluster file: not a resolved kstore config ({e!r})") from e


def read_cluster_file(path: Path) -> ClusterConfig:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"cluster file {path}: cannot read it ({e.strerror}); is the cluster up?") from e
    return ClusterConfig.from_json(text)


def load_config(
    path: Path | None,
    *,
    nodes: int | None = None,
    state_dir: Path | None = None,
    base_port: int | None = None,
) -> ClusterConfig:
    """Read a cluster config and resolve it; `None` reads `configs/dev.yaml`.

    Keyword arguments override the file (they are the `kstore up` flags). Relative paths
    resolve from the current directory, except `sqlite_path`, which is relative to the
    state dir.
    """
    raw = _read_yaml(path)

    state = Path(state_dir) if state_dir is not None else Path(_get(raw, "state_dir", str, DEFAULT_STATE_DIR))
    state = state.expanduser().resolve()

    backend, sqlite_path = _backend(raw.get("backend", "sqlite"), raw.get("sqlite_path"))
    sqlite = Path(sqlite_path).expanduser() if sqlite_path is not None else Path("store.db")
    sqlite = sqlite if sqlite.is_absolute() else state / sqlite

    node_list = _nodes(raw.get("nodes", 3), override=nodes)
    periods = _periods(raw.get("periods", {}))

    ports_section = _section(raw, "ports")
    _no_unknown(ports_section, "ports", ("base",))
    base = base_port if base_port is not None else _get(ports_section, "base", int, DEFAULT_BASE_PORT, "ports.")
    process_names = [*CONTROL_PLANE, *(f"{KUBELET}-{n.name}" for n in node_list)]
    ports = _ports(base, len(process_names))

    bus = _section(raw, "bus")
    _no_unknown(bus, "bus", ("host", "rpc_endpoint", "events_endpoint"))
    bus_host = _get(bus, "host", str, "127.0.0.1", "bus.")
    rpc = _get(bus, "rpc_endpoint", str, f"tcp://{bus_host}:{ports[RPC_OFFSET]}", "bus.")
    events = _get(bus, "events_endpoint", str, f"tcp://{bus_host}:{ports[EVENTS_OFFSET]}", "bus.")
    for key, endpoint in (("bus.rpc_endpoint", rpc), ("bus.events_endpoint", events)):
        if not re.match(r"^(tcp|ipc|inproc)://\S+$", endpoint):
            raise ConfigError(f"{key}: invalid value {endpoint!r}: want tcp://HOST:PORT or ipc://PATH")

    http = _section(raw, "http")
    _no_unknown(http, "http", ("host", "port"))
    http_host = _get(http, "host", str, "127.0.0.1", "http.")
    http_port = _get(http, "port", int, ports[HTTP_OFFSET], "http.")
    _check_port("http.port", http_port)

    metrics_ports = {
        name: ports[METRICS_OFFSET + i] if i < len(CONTROL_PLANE) else ports[KUBELET_METRICS_OFFSET + i - len(CONTROL_PLANE)]
        for i, name in enumerate(process_names)
    }
    return ClusterConfig(
        state_dir=state,
        rpc_endpoint=rpc,
        events_endpoint=events,
        http_host=http_host,
        http_port=http_port,
        backend=backend,
        sqlite_path=sqlite,
        nodes=tuple(node_list),
        metrics_ports=metrics_ports,
        periods=periods,
        raw=raw,
    )


def _read_yaml(path: Path | None) -> dict[str, Any]:
    if path is None:
        if not DEFAULT_CONFIG.exists():  # installed without the repo: built-in defaults
            return {}
        path = DEFAULT_CONFIG
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"config {path}: cannot read it ({e.strerror})") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"config {path}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: the top level must be a mapping, not {type(data).__name__}")
    return data


def _type_name(t: type) -> str:
    return {int: "an integer", float: "a number", str: "a string", dict: "a mapping"}.get(t, t.__name__)


def _get(section: Mapping[str, Any], key: str, want: type, default: Any, prefix: str = "") -> Any:
    """section[key] checked against `want` (None or absent gives `default`)."""
    value = section.get(key)
    if value is None:
        return default
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or isinstance(value, bool) and want is not bool:
        raise ConfigError(f"{prefix}{key}: invalid value {value!r}: must be {_type_name(want)}")
    return value


def _section(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: invalid value {value!r}: must be a mapping")
    return value


def _no_unknown(section: Mapping[str, Any], prefix: str, known: tuple[str, ...]) -> None:
    for key in section:
        if key not in known:
            raise ConfigError(f"{prefix}.{key}: unknown key (known: {', '.join(known)})")


def _backend(value: Any, sqlite_path: Any) -> tuple[str, str | None]:
    """`backend: sqlite` or `backend: {type: sqlite, path: store.db}`."""
    if isinstance(value, dict):
        _no_unknown(value, "backend", ("type", "path"))
        sqlite_path = value.get("path", sqlite_path)
        value = value.get("type", "sqlite")
    if value not in _BACKENDS:
        raise ConfigError(f"backend: unsupported value {value!r}: must be one of {', '.join(_BACKENDS)}")
    if sqlite_path is not None and not isinstance(sqlite_path, str):
        raise ConfigError(f"sqlite_path: invalid value {sqlite_path!r}: must be a path")
    return value, sqlite_path


def _check_node_name(name: Any, key: str) -> str:
    if not isinstance(name, str) or not _DNS_SUBDOMAIN.match(name):
        raise ConfigError(
            f"{key}: invalid value {name!r}: a node name must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return name


def _labels(value: Any, key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{key}: invalid value {value!r}: must be a mapping of strings to strings")
    return dict(value)


def _attach_limit(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{key}: invalid value {value!r}: must be a non-negative integer")
    return value


def _node(name: str, zone: str, labels: dict[str, str], attach_limit: int | None) -> NodeConfig:
    return NodeConfig(
        name=name,
        labels={HOSTNAME_LABEL: name, ZONE_LABEL: zone, **labels},
        zone=zone,
        attach_limit=attach_limit,
    )


def _nodes(value: Any, *, override: int | None) -> list[NodeConfig]:
    """`nodes: 3`, `nodes: {count, name_prefix, zones, labels, attach_limit}` or a list."""
    if isinstance(value, list):
        if override is not None:
            raise ConfigError("nodes: the config lists its nodes by name; --nodes cannot change that list")
        result = []
        for i, item in enumerate(value):
            key = f"nodes[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(f"{key}: invalid value {item!r}: must be a mapping with a name")
            _no_unknown(item, key, ("name", "labels", "zone", "attach_limit"))
            name = _check_node_name(item.get("name"), f"{key}.name")
            zone = _get(item, "zone", str, DEFAULT_ZONES[i % len(DEFAULT_ZONES)], f"{key}.")
            result.append(
                _node(name, zone, _labels(item.get("labels"), f"{key}.labels"),
                      _attach_limit(item.get("attach_limit"), f"{key}.attach_limit"))
            )
        seen: set[str] = set()
        for i, node in enumerate(result):
            if node.name in seen:
                raise ConfigError(f"nodes[{i}].name: Duplicate value: {node.name!r}")
            seen.add(node.name)
        return result

    if isinstance(value, int) and not isinstance(value, bool):
        value = {"count": value}
    if not isinstance(value, dict):
        raise ConfigError(f"nodes: invalid value {value!r}: must be a count, a mapping with a count, or a list")
    _no_unknown(value, "nodes", ("count", "name_prefix", "zones", "labels", "attach_limit"))
    count = override if override is not None else _get(value, "count", int, 3, "nodes.")
    if count < 0:
        raise ConfigError(f"nodes.count: invalid value {count}: must be 0 or more")
    prefix = _get(value, "name_prefix", str, "node-", "nodes.")
    zones = value.get("zones") or list(DEFAULT_ZONES)
    if not isinstance(zones, list) or not all(isinstance(z, str) and z for z in zones):
        raise ConfigError(f"nodes.zones: invalid value {zones!r}: must be a list of zone names")
    labels = _labels(value.get("labels"), "nodes.labels")
    limit = _attach_limit(value.get("attach_limit"), "nodes.attach_limit")
    return [
        _node(_check_node_name(f"{prefix}{i}", "nodes.name_prefix"), zones[(i - 1) % len(zones)], labels, limit)
        for i in range(1, count + 1)
    ]


def _periods(value: Any) -> Periods:
    if not isinstance(value, dict):
        raise ConfigError(f"periods: invalid value {value!r}: must be a mapping of loop names to seconds")
    known = tuple(f.name for f in dataclasses.fields(Periods))
    _no_unknown(value, "periods", known)
    result = {}
    for key, v in value.items():
        seconds = _get(value, key, float, None, "periods.")
        if seconds is None or seconds <= 0:
            raise ConfigError(f"periods.{key}: invalid value {v!r}: must be a positive number of seconds")
        result[key] = seconds
    return Periods(**result)


def _check_port(key: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"{key}: invalid value {port}: must be a TCP port in 1..65535")


def _ports(base: int, processes: int) -> dict[int, int]:
    """Offset → port for every offset in the layout (see the module docstring)."""
    offsets = [RPC_OFFSET, EVENTS_OFFSET, HTTP_OFFSET,
               *range(METRICS_OFFSET, METRICS_OFFSET + len(CONTROL_PLANE)),
               *range(KUBELET_METRICS_OFFSET, KUBELET_METRICS_OFFSET + processes - len(CONTROL_PLANE))]
    if base == 0:
        return dict(zip(offsets, free_ports(len(offsets)), strict=True))
    if base < 1 or base + offsets[-1] > 65535:
        raise ConfigError(
            f"ports.base: invalid value {base}: the cluster needs ports {base}..{base + offsets[-1]}, "
            "which must lie in 1..65535 (0 picks free ports)"
        )
    return {offset: base + offset for offset in offsets}


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that were free on `host` a moment ago (bind to port 0, close)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _connect_host(host: str) -> str:
    """Where a local client connects to a server bound on `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "*") else host
