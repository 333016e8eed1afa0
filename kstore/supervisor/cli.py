"""The `kstore` command: up, down, status (and `supervise`, which `up` starts in the background).

    kstore up [--config F] [--nodes N] [--state-dir D] [--base-port P] [--foreground]
    kstore status [--state-dir D] [--json]
    kstore down [--state-dir D] [--keep]

`up` resolves the config, writes `<state>/cluster.json`, starts `kstore supervise` as a
daemon (its own session; output in `<state>/logs/supervisor.log`) and returns once every
process is ready, or after `--timeout` seconds with what is not ready and why. Exit codes:
0 done, 1 failed, 2 bad usage or config.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from kstore.config import KUBELET, ClusterConfig, ConfigError, load_config
from kstore.supervisor import cleanup
from kstore.supervisor.cluster import STATE_ENV, supervise, write_cluster_file
from kstore.supervisor.kubeconfig import server_url
from kstore.supervisor.processes import tail
from kstore.supervisor.status import (
    AlreadyRunning,
    format_table,
    live_supervisor,
    not_ready_report,
    read_status,
)
from kstore.supervisor.targets import targets_path

UP_TIMEOUT = 120.0
# `up` gives up early on a process that failed this many start-ups in a row (1 + 2 + 4 s of backoff)
STARTUP_FAILURES_TO_GIVE_UP = 3


def _state_dir(arg: str | None) -> Path:
    return Path(arg or ".kstore").expanduser().resolve()


def _fail(msg: str, code: int = 1) -> int:
    print(f"kstore: {msg}", file=sys.stderr)
    return code


# -- up -------------------------------------------------------------------------------------


def _busy_ports(cfg: ClusterConfig) -> list[str]:
    """The cluster's TCP ports that something else already listens on."""
    wanted = [(f"http ({cfg.http_host})", cfg.http_host, cfg.http_port)]
    for what, endpoint in (("bus rpc", cfg.rpc_endpoint), ("bus events", cfg.events_endpoint)):
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint.removeprefix("tcp://").rpartition(":")
            if port.isdigit():
                wanted.append((what, host.strip("[]"), int(port)))
    wanted += [(f"{name} metrics", cfg.http_host, port) for name, port in cfg.metrics_ports.items()]
    busy = []
    for what, host, port in wanted:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host if host not in ("*", "") else "0.0.0.0", port))
            except OSError as e:
                busy.append(f"{what}: {host}:{port}: {e.strerror}")
    return busy


def _summary(cfg: ClusterConfig, snapshot: dict) -> str:
    names = [p["name"] for p in snapshot["processes"]]
    lines = [
        f"kstore is up: {len(names)} processes ready, state in {cfg.state_dir}",
        f"  logs:       {cfg.logs_dir}/<process>.log  (supervisor.log for the supervisor)",
        f"  bus:        rpc {cfg.rpc_endpoint}  events {cfg.events_endpoint}",
        "  metrics:",
    ]
    kubelets = [n for n in names if n.startswith(f"{KUBELET}-")]
    for name in names:
        if name not in kubelets or len(kubelets) <= 10:
            lines.append(f"    {name:<20} {cfg.metrics_url(name)}/metrics")
    if len(kubelets) > 10:
        ports = sorted(cfg.metrics_ports[n] for n in kubelets)
        span = f"ports {ports[0]}..{ports[-1]} " if ports[-1] - ports[0] == len(ports) - 1 else ""
        lines.append(f"    {len(kubelets)} kubelets{'':<11} {span}(every one in the targets file)")
    lines.append(f"  prometheus: {targets_path(cfg.state_dir)}  (file_sd; grafana/prometheus.yml reads it)")
    kubeconfig = cfg.state_dir / "kubeconfig"
    if kubeconfig.exists():
        lines.append(f"  kubeconfig: {kubeconfig}  (Kubernetes API at {server_url(cfg)})")
        lines.append(f"  export KUBECONFIG={kubeconfig}")
    flag = "" if cfg.state_dir == _state_dir(None) else f" --state-dir {cfg.state_dir}"
    lines.append(f"status: kstore status{flag}   stop: kstore down{flag}")
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, nodes=args.nodes, state_dir=args.state_dir, base_port=args.base_port)
    except ConfigError as e:
        return _fail(f"bad config: {e}", 2)
    state = cfg.state_dir
    if pid := live_supervisor(state):
        return _fail(f"a cluster is already running for {state} (supervisor pid {pid}); "
                     f"`kstore down --state-dir {state}` stops it")
    if leftovers := cleanup.kill_leftovers(state):
        print(f"kstore: killed {len(leftovers)} processes left over from an earlier run in {state}")
    if busy := _busy_ports(cfg):
        return _fail("ports in use, pick others with --base-port (0: any free ports) or ports.base:\n  "
                     + "\n  ".join(busy))
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    write_cluster_file(cfg)

    if args.foreground:
        _setup_logging()
        return _run_supervisor(state)

    log_path = cfg.logs_dir / "supervisor.log"
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kstore.supervisor.cli", "supervise", "--state-dir", str(state)],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            env={**os.environ, STATE_ENV: str(state)}, start_new_session=True,
        )
    print(f"kstore: starting {len(cfg.metrics_ports)} processes (supervisor pid {proc.pid}, "
          f"logs in {cfg.logs_dir}) ...", flush=True)
    try:
        return _wait_up(cfg, proc, args.timeout)
    except KeyboardInterrupt:
        cleanup.down(state, keep=True)
        return _fail(f"interrupted: stopped the cluster again; logs kept in {cfg.logs_dir}", 130)


def _wait_up(cfg: ClusterConfig, proc: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    snapshot: dict | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = "\n".join(f"    {line}" for line in tail(cfg.logs_dir / "supervisor.log"))
            return _fail(f"the supervisor exited with {proc.returncode}:\n{lines}")
        snapshot = read_status(cfg.state_dir)
        if snapshot and snapshot["supervisor"]["pid"] != proc.pid:
            snapshot = None  # the file of an earlier run, until the new supervisor writes its own
        if snapshot and snapshot["processes"]:
            procs = snapshot["processes"]
            if all(p["ready"] for p in procs):
                print(_summary(cfg, snapshot))
                return 0
            if any(p.get("startup_failures", 0) >= STARTUP_FAILURES_TO_GIVE_UP for p in procs):
                break
        time.sleep(0.2)
    why = not_ready_report(snapshot) if snapshot else "the supervisor wrote no status"
    print(f"kstore: the cluster did not get ready:\n{why}", file=sys.stderr)
    report = cleanup.down(cfg.state_dir, keep=True)
    print(f"kstore: stopped it again (supervisor pid {report.supervisor}); logs kept in {cfg.logs_dir}",
          file=sys.stderr)
    return 1


# -- status, down, supervise ----------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    state = _state_dir(args.state_dir)
    snapshot = read_status(state)
    pid = live_supervisor(state)
    if args.json:
        print(json.dumps({"supervisor_alive": bool(pid), **(snapshot or {})}, indent=1))
        return 0 if pid else 1
    if snapshot is None:
        return _fail(f"no cluster in {state} (no status file); `kstore up` starts one")
    print(format_table(snapshot))
    if not pid:
        return _fail(f"the supervisor is not running: the table above is from a run that ended "
                     f"(`kstore down --state-dir {state}` cleans up)")
    print(f"supervisor: pid {pid}, {snapshot['supervisor']['state']}")
    if report := not_ready_report(snapshot):
        print(report)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = _state_dir(args.state_dir)
    if not state.exists():
        print(f"kstore: nothing to do: {state} does not exist")
        return 0
    report = cleanup.down(state, keep=args.keep)
    for line in report.lines():
        print(f"kstore: {line}")
    print(f"kstore: {'removed' if report.removed else 'kept'} {state}")
    return 1 if report.problems else 0


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s supervisor %(name)s: %(message)s")


def _run_supervisor(state: Path) -> int:
    try:
        return supervise(state)
    except AlreadyRunning as e:
        return _fail(str(e))
    except ConfigError as e:
        return _fail(str(e), 2)


def cmd_supervise(args: argparse.Namespace) -> int:
    _setup_logging()
    return _run_supervisor(_state_dir(args.state_dir))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kstore", description="kstore: an emulated Kubernetes storage control plane")
    sub = p.add_subparsers(dest="command", required=True)
    state_help = "state directory (default: ./.kstore)"

    up = sub.add_parser("up", help="start a cluster in the background; return when every process is ready")
    up.add_argument("--config", type=Path, help="cluster config YAML (default: configs/dev.yaml)")
    up.add_argument("--nodes", type=int, help="number of emulated nodes (overrides the config)")
    up.add_argument("--state-dir", type=Path, help="state directory (default: the config's, ./.kstore)")
    up.add_argument("--base-port", type=int, help="first port of the port range; 0 picks free ports")
    up.add_argument("--foreground", action="store_true", help="run the supervisor in this process")
    up.add_argument("--timeout", type=float, default=UP_TIMEOUT, help="seconds to wait for ready (default: %(default)s)")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the cluster; remove its mounts, loop devices and state")
    down.add_argument("--state-dir", help=state_help)
    down.add_argument("--keep", action="store_true", help="keep the state dir (data, logs)")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="list the processes: name, pid, ready, restarts, metrics port")
    status.add_argument("--state-dir", help=state_help)
    status.add_argument("--json", action="store_true", help="print the supervisor's status file")
    status.set_defaults(func=cmd_status)

    supervise_ = sub.add_parser("supervise", help=argparse.SUPPRESS)
    supervise_.add_argument("--state-dir", required=True)
    supervise_.set_defaults(func=cmd_supervise)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
