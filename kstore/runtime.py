"""The common `main` of every kstore process.

Lifecycle (uvicorn's startup → main loop → shutdown, run by aiorun):
1. startup: parse `--cluster` (the `<state>/cluster.json` the supervisor wrote) and
   `--node` (kubelets), log to stderr with the component in every line, serve
   `/metrics`, `/healthz`, `/readyz` on this process's metrics port.
2. main loop: `await body(rt)`. The body calls `rt.set_ready()` once it serves.
3. shutdown: SIGTERM or SIGINT cancels the body (aiorun cancels every task; the body
   cleans up in `finally`) and the process exits 0. A second signal exits at once. A body
   that raises is logged with its traceback and the process exits 1, so the supervisor
   restarts it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiorun

from kstore.config import KUBELET, ClusterConfig, ConfigError, read_cluster_file
from kstore.observe.http import start_http

log = logging.getLogger(__name__)

# Shutdown must end before the supervisor's SIGKILL (10 s after its SIGTERM).
SHUTDOWN_TIMEOUT = 8.0
EXIT_CRASH = 1
EXIT_FORCED = 130


@dataclasses.dataclass
class Runtime:
    """What a component's body gets: who it is, the cluster, and a readiness switch."""

    component: str
    node: str | None
    cluster: ClusterConfig
    _ready: tuple[bool, str] = dataclasses.field(default=(False, "starting"), init=False, repr=False)

    @property
    def process_name(self) -> str:
        return f"{KUBELET}-{self.node}" if self.node else self.component

    def set_ready(self, ok: bool = True, reason: str = "") -> None:
        """What `/readyz` answers: 200, or 503 with `reason`."""
        self._ready = (ok, reason)

    def ready(self) -> tuple[bool, str]:
        return self._ready


def parse_args(component: str, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=component, description=f"kstore {component} process")
    parser.add_argument("--cluster", type=Path, default=Path(".kstore/cluster.json"),
                        help="the resolved cluster config the supervisor wrote (default: %(default)s)")
    if component == KUBELET:
        parser.add_argument("--node", required=True, help="the emulated node this kubelet runs")
    parser.add_argument("--log-level", default=os.environ.get("KSTORE_LOG_LEVEL", "INFO"))
    return parser.parse_args(argv)


def setup_logging(component: str, node: str | None, level: str) -> None:
    who = f"{component} {node}" if node else component
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {who} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiorun").setLevel(logging.WARNING)


def tune_gc() -> None:
    """Fewer and cheaper cycle collections, for steady latency.

    Kubernetes objects are trees of dicts: almost all garbage is freed by reference counting,
    yet every dict is tracked by the cycle collector, and with Python's defaults a store or an
    informer holding 10⁵ objects pays full collections of tens of milliseconds every few
    seconds. Freezing what exists at start-up (modules, loaded state) takes it out of every
    future collection, and a larger first threshold makes collections rarer. Call again after
    loading a large state.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def run(component: str, body: Callable[[Runtime], Awaitable[None]], argv: list[str] | None = None) -> None:
    """Run one kstore process to the end; never returns (exits 0, 1 or 130)."""
    args = parse_args(component, argv)
    node = getattr(args, "node", None)
    setup_logging(component, node, args.log_level)
    try:
        cluster = read_cluster_file(args.cluster)
    except ConfigError as e:
        log.error("%s", e)
        sys.exit(EXIT_CRASH)
    rt = Runtime(component=component, node=node, cluster=cluster)
    tune_gc()
    if rt.process_name not in cluster.metrics_ports:
        log.error("%s is not in %s (known: %s)", rt.process_name, args.cluster, ", ".join(cluster.metrics_ports))
        sys.exit(EXIT_CRASH)

    exit_code = 0

    async def main() -> None:
        nonlocal exit_code
        loop = asyncio.get_running_loop()
        runner = None
        try:
            # startup: the HTTP server first, so the supervisor sees "starting", not a refused port
            runner = await start_http(cluster.http_host, cluster.metrics_ports[rt.process_name], rt.ready)
            log.info("started (pid %d, metrics on :%d)", os.getpid(), cluster.metrics_ports[rt.process_name])
            await body(rt)
            log.info("body returned; exiting")
        except asyncio.CancelledError:
            # aiorun cancelled us after a signal and waits for this task: do not stop its loop
            log.info("stopping")
            raise
        except Exception:
            log.exception("%s crashed", rt.process_name)
            exit_code = EXIT_CRASH
        finally:
            rt.set_ready(False, "shutting down")
            if runner is not None:
                await runner.cleanup()
        # a return or a crash ends the process too, not only a signal
        loop.stop()

    def on_shutdown(_loop: asyncio.AbstractEventLoop) -> None:
        # aiorun ignores further signals during shutdown; make the second one force the exit
        def force(signum: int, _frame: object) -> None:
            os._exit(EXIT_FORCED)

        signal.signal(signal.SIGTERM, force)
        signal.signal(signal.SIGINT, force)

    try:
        aiorun.run(
            main(),
            use_uvloop=True,
            stop_on_unhandled_errors=True,
            shutdown_callback=on_shutdown,
            timeout_task_shutdown=SHUTDOWN_TIMEOUT,
        )
    except Exception:
        log.exception("%s: unhandled error", rt.process_name)
        exit_code = EXIT_CRASH
    logging.shutdown()
    sys.exit(exit_code)
