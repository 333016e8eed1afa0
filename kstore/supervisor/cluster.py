"""A kstore cluster as a set of processes: which ones, with which command lines.

The apistore starts first; the controllers, the scheduler, the controller-manager and one
kubelet per node start once it is ready, and stop before it. Every command line names its
component and the state dir (`python cmd/kubelet.py --cluster <state>/cluster.json --node
node-2`), so `ps` tells which process is which and `kstore down` finds leftovers; every
process also gets `KSTORE_STATE_DIR` in its environment, which its own children inherit.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from kstore.config import CONTROL_PLANE, KUBELET, REPO_ROOT, ClusterConfig, read_cluster_file
from kstore.supervisor.files import write_atomic
from kstore.supervisor.kubeconfig import write_kubeconfig
from kstore.supervisor.processes import ProcessSpec, Supervisor
from kstore.supervisor.status import take_lock, write_status
from kstore.supervisor.targets import write_targets

log = logging.getLogger(__name__)

CMD_DIR = REPO_ROOT / "cmd"
STATE_ENV = "KSTORE_STATE_DIR"
APISTORE = "apistore"


def write_cluster_file(cfg: ClusterConfig) -> Path:
    """`<state>/cluster.json`: the resolved config every process reads at start; and the
    kubeconfig for kubectl beside it."""
    write_atomic(cfg.cluster_file, cfg.to_json())
    write_kubeconfig(cfg)
    return cfg.cluster_file


def _spec(cfg: ClusterConfig, name: str, component: str, extra: tuple[str, ...] = ()) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=(sys.executable, str(CMD_DIR / f"{component}.py"), "--cluster", str(cfg.cluster_file), *extra),
        ready_url=f"{cfg.metrics_url(name)}/readyz",
        log_path=cfg.logs_dir / f"{name}.log",
        env={STATE_ENV: str(cfg.state_dir), "PYTHONUNBUFFERED": "1"},
        depends_on=() if component == APISTORE else (APISTORE,),
        metrics_port=cfg.metrics_ports[name],
    )


def build_specs(cfg: ClusterConfig) -> list[ProcessSpec]:
    specs = [_spec(cfg, component, component) for component in CONTROL_PLANE]
    specs += [_spec(cfg, f"{KUBELET}-{n.name}", KUBELET, ("--node", n.name)) for n in cfg.nodes]
    return specs


def supervise(state_dir: Path) -> int:
    """`kstore supervise`: run the cluster described by `<state>/cluster.json` until a signal."""
    lock = take_lock(state_dir)  # raises AlreadyRunning; held until this process ends
    try:
        cfg = read_cluster_file(state_dir / "cluster.json")
        write_targets(cfg)
        supervisor = Supervisor(build_specs(cfg),
                                on_change=lambda snapshot: write_status(cfg.state_dir, snapshot))
        log.info("supervising %d processes for %s", len(supervisor.specs), state_dir)
        code = asyncio.run(supervisor.run())
        log.info("stopped (exit code %d)", code)
        return code
    finally:
        lock.close()
