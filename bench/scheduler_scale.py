"""The scheduler benchmark (issue 5), parent side: `scheduler` — 1,000 Node objects and 10,000
pods, each with its own WaitForFirstConsumer claim, scheduled, provisioned and bound
(`--quick`: 100 nodes, 1,000 pods).

Only the apistore, the pv-controller and the scheduler run, each as its own OS process (the
real `cmd/*.py`); the Nodes are plain objects, no kubelet serves them. The load process
(`bench.scheduler_load`) creates the nodes, then the claim + pod pairs with a fixed number in
flight, and watches the pods and claims. Every pod goes through the whole volume path: the
scheduler picks a node and sets `volume.kubernetes.io/selected-node`, the pv-controller
provisions a block volume there (a sparse image file) and binds the claim, the scheduler sees
the claim Bound and binds the pod.

Figures: pods bound/s over the burst (first pod created → last pod bound; target ≥ 500) and
over its middle 80 %; node decisions/s (the scheduler's own pace: claims given their selected
node); pod created → bound p50/p99/max and its stages (created → node chosen → claim Bound →
pod bound); then, on the same cluster, half as many pods without volumes (the scheduler and the
store alone): their bound/s and p99; the CPU (cores) of the scheduler, the pv-controller and the
apistore over both phases; the mean scheduling cycle; and the checks that nothing was left behind:
pods not bound, claims not Bound, claims whose selected node is not their pod's node, image
files missing in the pool. `KSTORE_BENCH_PROFILE_SCHEDULER=1` samples the scheduler with
py-spy (collapsed stacks in bench/results/, hot spots on stderr).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from bench.cluster import BenchCluster, ProcessFailed, cpu_snapshot
from bench.profile import Profiler

if TYPE_CHECKING:
    from bench.scenarios import Result, Sizes

FULL_SIZE, QUICK_SIZE = (1_000, 10_000), (100, 1_000)  # (nodes, pods)
INFLIGHT = 32
FRAME_LIMIT = 256 * 1024 * 1024  # informers list 10,000 pods / claims / PVs on a re-list
COMPONENTS = ("pv-controller", "scheduler")
LOAD = "scheduler-load"

# (key, label, target) of each figure; bench/scenarios.py turns them into Metrics.
METRICS: tuple[tuple[str, str, tuple[str, float] | None], ...] = (
    ("pods_per_s", "pods bound/s (burst)", (">=", 500)),
    ("middle_pods_per_s", "pods bound/s (middle 80%)", None),
    ("decisions_per_s", "node decisions/s (selected-node set)", None),
    ("p50_ms", "created→bound p50 ms", None),
    ("p99_ms", "created→bound p99 ms", None),
    ("decide_p99_ms", "created→node chosen p99 ms", None),
    ("provision_p99_ms", "node chosen→claim Bound p99 ms", None),
    ("scheduler_cores", "scheduler cores", None),
    ("cycle_ms", "scheduling cycle ms (mean)", None),
    ("pv_controller_cores", "pv-controller cores", None),
    ("apistore_cores", "apistore cores", None),
    ("plain_pods_per_s", "pods without volumes bound/s", None),
    ("plain_p99_ms", "pods without volumes created→bound p99 ms", None),
    ("not_bound", "pods not bound", ("==", 0)),
    ("claims_not_bound", "claims not Bound", ("==", 0)),
    ("node_mismatch", "claims provisioned for another node", ("==", 0)),
    ("images_short", "image files missing", ("==", 0)),
)


_CYCLE = re.compile(r'^kstore_reconcile_duration_seconds_(sum|count)\{component="scheduler",loop="schedule_one"\} (\S+)$',
                    re.MULTILINE)


async def _cycle_ms(cluster: BenchCluster) -> float:
    """The mean duration of one scheduling cycle (decision + Reserve), from the scheduler's /metrics."""
    assert cluster.config is not None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10.0)) as http:
        async with http.get(cluster.config.metrics_url("scheduler") + "/metrics") as r:
            text = await r.text()
    found = {kind: float(value) for kind, value in _CYCLE.findall(text)}
    return 1e3 * found["sum"] / found["count"] if found.get("count") else float("nan")


async def _start(cluster: BenchCluster, name: str) -> Any:
    if "frame_limit" in inspect.signature(cluster.start_component).parameters:
        return await cluster.start_component(name, frame_limit=FRAME_LIMIT)
    return await cluster.start_component(name)


async def run(cluster: BenchCluster, sizes: Sizes) -> Result:
    from bench.scenarios import QUICK, read_result  # (bench.scenarios imports this module)

    nodes, pods = QUICK_SIZE if sizes == QUICK else FULL_SIZE
    procs = {name: await _start(cluster, name) for name in COMPONENTS}
    timeout = max(300.0, pods / 20)
    load = await cluster.spawn(LOAD, "bench.scheduler_load", "--nodes", nodes, "--pods", pods,
                               "--plain-pods", pods // 2, "--inflight", INFLIGHT, "--timeout", timeout)
    setup = await read_result(cluster, LOAD, load, timeout=600)
    if setup.get("nodes") != nodes:
        raise ProcessFailed(f"{LOAD}: only {setup.get('nodes')} of {nodes} nodes created: {setup.get('first_error')}")
    await read_result(cluster, LOAD, load, timeout=120)  # {"loading": true}
    pids = {"scheduler": procs["scheduler"].pid, "pv_controller": procs["pv-controller"].pid}
    if cluster.apistore is not None:
        pids["apistore"] = cluster.apistore.pid
    before = {name: cpu_snapshot(pid) for name, pid in pids.items()}
    profiler = None
    if os.environ.get("KSTORE_BENCH_PROFILE_SCHEDULER"):
        from bench import report

        out = report.RESULTS_DIR / f"{datetime.now():%Y%m%d-%H%M%S}-scheduler.txt"
        profiler = Profiler(pids["scheduler"], out)
        await profiler.start()
    try:
        result = await read_result(cluster, LOAD, load, timeout=timeout + 120)
    finally:
        if profiler is not None:
            await profiler.stop()
            print(profiler.hot_spots(), file=sys.stderr)
    figures: dict[str, Any] = {}
    for name, pid in pids.items():
        cores = cpu_snapshot(pid).cores_since(before[name], name)
        figures[f"{name}_cores"] = cores[f"{name}_cores"]
        figures[f"{name}_loop_cores"] = cores[f"{name}_loop_cores"]
    figures["cycle_ms"] = await _cycle_ms(cluster)
    images = len(list((cluster.state_dir / "pool" / "block").glob("pvc-*")))
    return {**result, **figures, "nodes": nodes, "pods": pods, "setup_nodes_per_s": setup.get("nodes_per_s"),
            "images_short": max(0, pods - images)}


__all__ = ["METRICS", "run"]
