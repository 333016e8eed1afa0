"""The kubeconfig `kstore up` writes, so that kubectl and the Python client reach the REST front door.

Plain HTTP on loopback and `user: {}`: kubectl then neither prompts for credentials nor checks
certificates (KUBE-API.md §3.2).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from kstore.config import ClusterConfig


def kubeconfig_path(state_dir: Path) -> Path:
    return state_dir / "kubeconfig"


def server_url(cfg: ClusterConfig) -> str:
    host = cfg.http_host if cfg.http_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg.http_port}"


def write_kubeconfig(cfg: ClusterConfig) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kstore", "cluster": {"server": server_url(cfg)}}],
        "contexts": [{"name": "kstore", "context": {"cluster": "kstore", "user": "kstore", "namespace": "default"}}],
        "current-context": "kstore",
        "users": [{"name": "kstore", "user": {}}],
        "preferences": {},
    }
    path = kubeconfig_path(cfg.state_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.replace(tmp, path)
    return path
