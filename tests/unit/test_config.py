"""Config parsing as tables: YAML in → resolved ClusterConfig out, or a ConfigError naming the key."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from kstore.config import (
    DEFAULT_CONFIG,
    ClusterConfig,
    ConfigError,
    NodeConfig,
    Periods,
    load_config,
    read_cluster_file,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def node(name: str, zone: str, attach_limit: int | None = None, **labels: str) -> NodeConfig:
    return NodeConfig(
        name=name,
        labels={"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone, **labels},
        zone=zone,
        attach_limit=attach_limit,
    )


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    yaml: Any
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    expected: dict[str, Any] = dataclasses.field(default_factory=dict)  # ClusterConfig field → value


GOOD = [
    Case("empty file gives the defaults", "",
         expected={"backend": "sqlite", "rpc_endpoint": "tcp://127.0.0.1:17400",
                   "events_endpoint": "tcp://127.0.0.1:17401", "http_host": "127.0.0.1", "http_port": 17402,
                   "nodes": (node("node-1", "zone-a"), node("node-2", "zone-b"), node("node-3", "zone-c")),
                   "periods": Periods()}),
    Case("nodes as a count", {"nodes": 2},
         expected={"nodes": (node("node-1", "zone-a"), node("node-2", "zone-b"))}),
    Case("nodes as a mapping: prefix, zones round robin, labels, attach limit",
         {"nodes": {"count": 3, "name_prefix": "worker-", "zones": ["z1", "z2"], "labels": {"disk": "ssd"},
                    "attach_limit": 39}},
         expected={"nodes": (node("worker-1", "z1", 39, disk="ssd"), node("worker-2", "z2", 39, disk="ssd"),
                             node("worker-3", "z1", 39, disk="ssd"))}),
    Case("nodes as a list", {"nodes": [{"name": "a", "zone": "east", "labels": {"x": "1"}}, {"name": "b.example"}]},
         expected={"nodes": (node("a", "east", x="1"), node("b.example", "zone-b"))}),
    Case("a label in the config wins over the well-known default",
         {"nodes": [{"name": "a", "labels": {"topology.kubernetes.io/zone": "other"}}]},
         expected={"nodes": (NodeConfig("a", {"kubernetes.io/hostname": "a", "topology.kubernetes.io/zone": "other"},
                                        "zone-a"),)}),
    Case("--nodes overrides the count and keeps the zones", {"nodes": {"count": 3, "zones": ["q"]}},
         overrides={"nodes": 1}, expected={"nodes": (node("node-1", "q"),)}),
    Case("zero nodes: a control plane only", {"nodes": 0}, expected={"nodes": ()}),
    Case("memory backend", {"backend": "memory"}, expected={"backend": "memory"}),
    Case("backend as a mapping with a path", {"backend": {"type": "sqlite", "path": "/data/s.db"}},
         expected={"sqlite_path": Path("/data/s.db")}),
    Case("base port moves every port",
         {"ports": {"base": 20000}, "nodes": 2},
         expected={"rpc_endpoint": "tcp://127.0.0.1:20000", "events_endpoint": "tcp://127.0.0.1:20001",
                   "http_port": 20002,
                   "metrics_ports": {"apistore": 20010, "pv-controller": 20011, "ad-controller": 20012,
                                     "scheduler": 20013, "controller-manager": 20014,
                                     "kubelet-node-1": 20020, "kubelet-node-2": 20021}}),
    Case("--base-port overrides the file", {"ports": {"base": 20000}}, overrides={"base_port": 30000},
         expected={"rpc_endpoint": "tcp://127.0.0.1:30000"}),
    Case("explicit endpoints win over the base", {"bus": {"rpc_endpoint": "ipc:///tmp/k.rpc"}, "http": {"port": 8080}},
         expected={"rpc_endpoint": "ipc:///tmp/k.rpc", "events_endpoint": "tcp://127.0.0.1:17401", "http_port": 8080}),
    Case("periods: integers are seconds too", {"periods": {"pv_resync": 1, "ad_reconcile": 0.01}},
         expected={"periods": Periods(pv_resync=1.0, ad_reconcile=0.01)}),
    Case("unknown top-level sections are kept for later components", {"drivers": {"ebs.csi.aws.com": "block"}},
         expected={"raw": {"drivers": {"ebs.csi.aws.com": "block"}}}),
]


@pytest.mark.parametrize("case", GOOD, ids=lambda c: c.name)
def test_good_configs(case: Case, tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, case.yaml), **case.overrides)
    for field, want in case.expected.items():
        assert getattr(cfg, field) == want, field


BAD = [
    Case("not YAML", "nodes: [", expected={"error": "not valid YAML"}),
    Case("not a mapping", "- 1\n- 2\n", expected={"error": "top level must be a mapping"}),
    Case("unknown backend", {"backend": "etcd3"}, expected={"error": "backend: unsupported value 'etcd3'"}),
    Case("negative node count", {"nodes": -1}, expected={"error": "nodes.count: invalid value -1"}),
    Case("node count as a string", {"nodes": {"count": "3"}}, expected={"error": "nodes.count: invalid value '3'"}),
    Case("a bad node name", {"nodes": [{"name": "Node_1"}]}, expected={"error": "nodes[0].name: invalid value 'Node_1'"}),
    Case("a node without a name", {"nodes": [{"zone": "a"}]}, expected={"error": "nodes[0].name: invalid value None"}),
    Case("duplicate node names", {"nodes": [{"name": "a"}, {"name": "a"}]},
         expected={"error": "nodes[1].name: Duplicate value: 'a'"}),
    Case("a typo in a node entry", {"nodes": [{"name": "a", "zones": "x"}]}, expected={"error": "nodes[0].zones: unknown key"}),
    Case("a bad prefix", {"nodes": {"count": 1, "name_prefix": "-x"}}, expected={"error": "nodes.name_prefix: invalid"}),
    Case("zones not a list", {"nodes": {"count": 1, "zones": "zone-a"}}, expected={"error": "nodes.zones: invalid value"}),
    Case("labels not strings", {"nodes": {"count": 1, "labels": {"a": 1}}}, expected={"error": "nodes.labels: invalid"}),
    Case("negative attach limit", {"nodes": {"count": 1, "attach_limit": -2}},
         expected={"error": "nodes.attach_limit: invalid value -2"}),
    Case("--nodes with a node list", {"nodes": [{"name": "a"}]}, overrides={"nodes": 2},
         expected={"error": "nodes: the config lists its nodes by name"}),
    Case("a typo in periods", {"periods": {"pv_resynk": 1}}, expected={"error": "periods.pv_resynk: unknown key"}),
    Case("a zero period", {"periods": {"vm_reconcile": 0}}, expected={"error": "periods.vm_reconcile: invalid value 0"}),
    Case("a period as a string", {"periods": {"node_grace": "40s"}}, expected={"error": "periods.node_grace: invalid value '40s'"}),
    Case("a boolean is not a number", {"periods": {"node_grace": True}}, expected={"error": "periods.node_grace: invalid value True"}),
    Case("ports out of range", {"ports": {"base": 65530}}, expected={"error": "ports.base: invalid value 65530"}),
    Case("negative base port", {"ports": {"base": -1}}, expected={"error": "ports.base: invalid value -1"}),
    Case("unknown key in ports", {"ports": {"start": 1}}, expected={"error": "ports.start: unknown key"}),
    Case("a bad endpoint", {"bus": {"events_endpoint": "127.0.0.1:5"}}, expected={"error": "bus.events_endpoint: invalid value"}),
    Case("http port out of range", {"http": {"port": 70000}}, expected={"error": "http.port: invalid value 70000"}),
    Case("a section that is not a mapping", {"http": "localhost"}, expected={"error": "http: invalid value 'localhost'"}),
]


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_configs(case: Case, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, case.yaml), **case.overrides)
    assert case.expected["error"] in str(err.value)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: cannot read it"):
        load_config(tmp_path / "nope.yaml")


def test_paths_resolve_from_cwd_and_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, {"state_dir": "st", "sqlite_path": "db/x.db"}))
    assert cfg.state_dir == tmp_path / "st"
    assert cfg.sqlite_path == tmp_path / "st" / "db" / "x.db"
    assert cfg.cluster_file == tmp_path / "st" / "cluster.json"
    other = load_config(write(tmp_path, {"state_dir": "st"}), state_dir=Path("elsewhere"))
    assert other.state_dir == tmp_path / "elsewhere"
    assert other.sqlite_path == tmp_path / "elsewhere" / "store.db"


def test_base_port_zero_picks_distinct_free_ports(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"nodes": 20}), base_port=0)
    ports = [int(cfg.rpc_endpoint.rsplit(":", 1)[1]), int(cfg.events_endpoint.rsplit(":", 1)[1]), cfg.http_port,
             *cfg.metrics_ports.values()]
    assert len(ports) == len(set(ports)) == 3 + 5 + 20
    for port in ports:  # free right now: each binds
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_json_round_trip(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"nodes": {"count": 2, "attach_limit": 3, "labels": {"a": "b"}},
                                       "periods": {"pv_resync": 2}, "drivers": {"x": ["y"]}}),
                      base_port=0, state_dir=tmp_path / "s")
    again = ClusterConfig.from_json(cfg.to_json())
    assert again == cfg
    assert isinstance(again.nodes, tuple) and isinstance(again.state_dir, Path)
    (tmp_path / "cluster.json").write_text(cfg.to_json())
    assert read_cluster_file(tmp_path / "cluster.json") == cfg


@pytest.mark.parametrize("text", ["", "{}", json.dumps({"state_dir": "/x"}), "not json"])
def test_a_broken_cluster_file_is_a_config_error(text: str, tmp_path: Path) -> None:
    (tmp_path / "cluster.json").write_text(text)
    with pytest.raises(ConfigError, match="cluster file"):
        read_cluster_file(tmp_path / "cluster.json")


def test_shipped_configs_load() -> None:
    dev = load_config(None)
    assert load_config(DEFAULT_CONFIG) == dev
    assert [n.name for n in dev.nodes] == ["node-1", "node-2", "node-3"]
    assert [n.zone for n in dev.nodes] == ["zone-a", "zone-b", "zone-c"]
    assert (dev.backend, dev.rpc_endpoint) == ("sqlite", "tcp://127.0.0.1:17400")
    assert load_config(CONFIGS / "memory.yaml").backend == "memory"
    scale = load_config(CONFIGS / "scale-100.yaml")
    assert len(scale.nodes) == 100 and scale.metrics_ports["kubelet-node-100"] == 17400 + 20 + 99
