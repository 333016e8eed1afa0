"""The PV controller benchmarks (issue 4, item 9), parent side: the real `cmd/apistore.py` and
`cmd/pv-controller.py` as their own OS processes, driven by `bench.pvload` processes.

Only the apistore and the pv-controller run (no scheduler, kubelets or other controllers):
what is measured is the controller and the store it writes to, nothing else competes.

- `pv-bind`, two phases, each on a fresh cluster:
  1. cold (binding throughput): N static PVs (`bench-static`, 1Gi RWO hostPath) are created
     with no controller running; a controller is started until they are all Available (they
     have to be: Kubernetes' matching skips volumes that are not), then stopped; N matching
     claims are created; a new controller is started. Figure: bindings/s = N over the span
     from the controller's `/readyz` answering 200 (its informers have listed everything; its
     workers start in the same loop turn) to the last claim's Bound event, seen by an
     Informer in a separate process. Also from its process start (includes its start-up).
  2. paced (latency): N PVs made Available the same way, the controller left running, then
     N claims created at a steady rate (open loop: the sender never waits for replies).
     Figures: claim created (create acknowledged) → Bound event p50/p99/max, measured in the
     creating process, and bindings/s from the first send to the last Bound.
- `pv-provision`, the same two phases with claims of `bench-block` (provisioner
  `kstore.io/block` → the block backend: one sparse image file per volume in
  `<state>/pool/block/`) and no PVs: provisions/s (cold, from `/readyz`) and claim → Bound
  p50/p99 at a steady rate. After each phase a census checks that there are N image files and
  N Bound PVs; then the controller is restarted over the N PVs it made (time to /readyz).
- Both: the pv-controller's CPU (cores, all threads and its event-loop thread) over each
  measured span, and the peak of its `workqueue_depth{name="claims"}` scraped from its
  /metrics every SCRAPE_PERIOD (in the cold phase the queue starts full, N keys, by design).
- The controller is `cmd/pv-controller.py` itself. (Before 86ac76b a client refused replies
  over 4 MiB and the controller died at start-up listing 10,000 PVs; the census and the
  watchers of `bench.pvload` still lift that limit for themselves.)
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from bench.cluster import BenchCluster, ProcessFailed, cpu_snapshot
from bench.objects import BLOCK_CLASS, STATIC_CLASS
from bench.profile import Profiler

if TYPE_CHECKING:
    from bench.scenarios import Result, Sizes

CONTROLLER = "pv-controller"
SCRAPE_PERIOD = 2.0  # a scrape renders pv_collector over every PV and claim: 35-65 ms at 10,000 each
MIN_RATE = 10.0  # objects/s below which a phase gives up waiting (timeouts scale with N)
_DEPTH = re.compile(r'^workqueue_depth\{name="claims"\} (\S+)$', re.MULTILINE)
_WORK_SUM = re.compile(r'^workqueue_work_duration_seconds_sum\{name="claims"\} (\S+)$', re.MULTILINE)
_WORK_COUNT = re.compile(r'^workqueue_work_duration_seconds_count\{name="claims"\} (\S+)$', re.MULTILINE)


def _timeout(n: int) -> float:
    return 60.0 + n / MIN_RATE


async def _read(cluster: BenchCluster, name: str, proc: asyncio.subprocess.Process, timeout: float) -> Result:
    from bench.scenarios import read_result  # bench.scenarios imports this module

    return await read_result(cluster, name, proc, timeout)


async def _run(cluster: BenchCluster, name: str, *args: Any, timeout: float) -> Result:
    """One `bench.pvload` command to its result; ProcessFailed if it reports errors."""
    proc = await cluster.spawn(name, "bench.pvload", *args)
    result = await _read(cluster, name, proc, timeout)
    await proc.wait()
    if result.get("errors"):
        raise ProcessFailed(f"{name}: {result['errors']} errors, the first: {result['first_error']}")
    return result


class DepthScraper:
    """Polls the controller's /metrics for `workqueue_depth{name="claims"}` and keeps the peak; also
    how busy the claim workers were (`workqueue_work_duration_seconds{name="claims"}` between the
    first and the last scrape, summed over the workers: equal to their number, every worker was
    busy, or waiting on a write, all along) and how many syncs they made."""

    def __init__(self, url: str) -> None:
        self.url = url + "/metrics"
        self.work: list[tuple[float, float, float]] = []  # (when, sum, count) of the first and the last scrape
        self.peak = 0.0
        self.scrapes = 0
        self.seconds = 0.0  # wall time the scrapes took (the controller renders every metric)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http:
            await self._scrape(http)  # the counters' final values
        busy = syncs = sync_ms = float("nan")
        if len(self.work) == 2 and self.work[1][0] > self.work[0][0]:
            (t0, s0, c0), (t1, s1, c1) = self.work
            busy, syncs = (s1 - s0) / (t1 - t0), c1 - c0
            sync_ms = 1e3 * (s1 - s0) / syncs if syncs else float("nan")
        return {"claims_depth_peak": self.peak, "claims_worker_busy": busy, "claim_syncs": syncs,
                "claim_sync_ms": sync_ms, "scrapes": self.scrapes,
                "scrape_ms": 1e3 * self.seconds / self.scrapes if self.scrapes else float("nan")}

    async def _poll(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http:
            while True:
                await self._scrape(http)
                await asyncio.sleep(SCRAPE_PERIOD)

    async def _scrape(self, http: aiohttp.ClientSession) -> None:
        t0 = time.perf_counter()
        try:
            async with http.get(self.url) as r:
                text = await r.text()
        except (aiohttp.ClientError, TimeoutError):
            return
        self.scrapes += 1
        self.seconds += time.perf_counter() - t0
        m = _DEPTH.search(text)
        if m:
            self.peak = max(self.peak, float(m.group(1)))
        work, count = _WORK_SUM.search(text), _WORK_COUNT.search(text)
        if work and count:
            self.work[1:] = [(time.perf_counter(), float(work.group(1)), float(count.group(1)))]


def _results_dir() -> Path:
    from bench.report import RESULTS_DIR  # bench.report imports bench.scenarios, which imports this module

    return RESULTS_DIR


# Set by `python -m bench --profile` to the run's file prefix: each measured phase then samples
# the pv-controller with py-spy into bench/results/<prefix>-<phase>-pv-controller.txt and prints
# its hot spots to stderr.
PROFILE_TO: str | None = None


class Measured:
    """CPU of the controller and the apistore, and the claims queue's peak, over one span."""

    def __init__(self, cluster: BenchCluster, controller: asyncio.subprocess.Process, phase: str) -> None:
        assert cluster.config is not None
        self.cluster, self.pid = cluster, controller.pid
        self.scraper = DepthScraper(cluster.config.metrics_url(CONTROLLER))
        self.profiler = None if PROFILE_TO is None else \
            Profiler(self.pid, _results_dir() / f"{PROFILE_TO}-{phase}-pv-controller.txt")

    async def start(self) -> None:
        if self.profiler is not None:
            _results_dir().mkdir(parents=True, exist_ok=True)
            await self.profiler.start()
        self.ctl0, self.api0 = cpu_snapshot(self.pid), self.cluster.apistore_cpu()
        self.scraper.start()

    async def stop(self) -> dict[str, float]:
        ctl, api = cpu_snapshot(self.pid).cores_since(self.ctl0, "controller"), \
            self.cluster.apistore_cpu().cores_since(self.api0)
        if self.profiler is not None:
            await self.profiler.stop()
            if self.profiler.out.exists():
                print(self.profiler.hot_spots(), file=sys.stderr)
        return {**ctl, **api, **await self.scraper.stop()}


async def _make_available(cluster: BenchCluster, n: int) -> tuple[asyncio.subprocess.Process, Result]:
    """Create n static PVs with no controller running, start one, wait until all are Available."""
    created = await _run(cluster, "volumes", "volumes", "--count", n, timeout=_timeout(n))
    watcher = await cluster.spawn("watch-pvs", "bench.pvload", "watch", "--kind", "PersistentVolume",
                                  "--phase", "Available", "--expect", n, "--timeout", _timeout(n))
    await _read(cluster, "watch-pvs", watcher, 180)
    controller = await cluster.start_component(CONTROLLER)
    ready = time.time()
    seen = await _read(cluster, "watch-pvs", watcher, _timeout(n) + 30)
    if seen["count"] < n:
        raise ProcessFailed(f"only {seen['count']} of {n} PVs became Available:\n{cluster.log_tail(CONTROLLER)}")
    return controller, {"pv_creates_per_s": created["rate"],
                        "available_per_s": n / (seen["last"] - ready) if seen["last"] > ready else float("nan")}


async def _cold(cluster: BenchCluster, n: int, storage_class: str) -> Result:
    """N Pending claims of the class are in the store; start the controller and time their binding."""
    await _run(cluster, "claims", "claims", "--count", n, "--class", storage_class, timeout=_timeout(n))
    watcher = await cluster.spawn("watch-claims", "bench.pvload", "watch", "--kind", "PersistentVolumeClaim",
                                  "--phase", "Bound", "--expect", n, "--timeout", _timeout(n))
    await _read(cluster, "watch-claims", watcher, 180)
    spawned = time.time()
    controller = await cluster.start_component(CONTROLLER)
    ready = time.time()
    measured = Measured(cluster, controller, "cold")
    await measured.start()
    seen = await _read(cluster, "watch-claims", watcher, _timeout(n) + 30)
    figures = await measured.stop()
    last = seen["last"]
    return {"bound": seen["count"], "missing": n - seen["count"], "rate": seen["count"] / (last - ready),
            "rate_from_spawn": seen["count"] / (last - spawned), "controller_ready_s": ready - spawned,
            "relists": seen["relists"], **figures}


async def _paced(cluster: BenchCluster, controller: asyncio.subprocess.Process, n: int, storage_class: str,
                 rate: float) -> Result:
    """The controller is running: create N claims at `rate` per second, time each to Bound."""
    proc = await cluster.spawn("paced", "bench.pvload", "paced", "--count", n, "--class", storage_class,
                               "--rate", rate, "--timeout", _timeout(n))
    await _read(cluster, "paced", proc, 120)  # {"loading": true}
    measured = Measured(cluster, controller, "paced")
    await measured.start()
    r = await _read(cluster, "paced", proc, n / rate + _timeout(n) + 30)
    if r["errors"]:
        raise ProcessFailed(f"paced: {r['errors']} create errors, the first: {r['first_error']}")
    return {**r, **await measured.stop()}


async def _census(cluster: BenchCluster) -> Result:
    return await _run(cluster, "census", "census", "--pool", cluster.state_dir / "pool" / "block", timeout=120)


async def _restart(cluster: BenchCluster, controller: asyncio.subprocess.Process) -> Result:
    """Restart the controller over what it made (DESIGN §1: any process restarts and rebuilds from
    the store): seconds until /readyz, its informers having listed every PV and claim."""
    await cluster.stop(controller)
    t0 = time.time()
    await cluster.start_component(CONTROLLER)
    return {"restart_ready_s": time.time() - t0}


def _prefixed(prefix: str, figures: Result, keys: tuple[str, ...]) -> Result:
    return {f"{prefix}{k}": figures[k] for k in keys}


_CPU = ("controller_cores", "controller_loop_cores", "apistore_cores", "claims_depth_peak", "claims_worker_busy",
        "claim_syncs", "claim_sync_ms", "scrape_ms")


async def pv_bind(cluster: BenchCluster, sizes: Sizes) -> Result:
    n = sizes.bind_pairs
    controller, avail = await _make_available(cluster, n)
    await cluster.stop(controller)
    cold = await _cold(cluster, n, STATIC_CLASS)
    async with BenchCluster(backend=cluster.backend) as fresh:
        controller, _ = await _make_available(fresh, n)
        paced = await _paced(fresh, controller, n, STATIC_CLASS, sizes.bind_rate)
    return {
        "bindings_per_s": cold["rate"], "bindings_per_s_from_spawn": cold["rate_from_spawn"],
        "controller_ready_s": cold["controller_ready_s"],
        **_prefixed("cold_", cold, _CPU),
        "paced_rate": sizes.bind_rate, "paced_bindings_per_s": paced["bindings_per_s"],
        "p50_ms": paced["p50_ms"], "p99_ms": paced["p99_ms"], "max_ms": paced["max_ms"],
        "max_send_lag_ms": paced["max_send_lag_ms"],
        **_prefixed("paced_", paced, _CPU),
        "missing": cold["missing"] + paced["missing"], "relists": cold["relists"] + paced["relists"],
        **avail,
    }


async def pv_provision(cluster: BenchCluster, sizes: Sizes) -> Result:
    n = sizes.provision_claims
    cold = await _cold(cluster, n, BLOCK_CLASS)
    cold_census = await _census(cluster)
    async with BenchCluster(backend=cluster.backend) as fresh:
        controller = await fresh.start_component(CONTROLLER)
        paced = await _paced(fresh, controller, n, BLOCK_CLASS, sizes.provision_rate)
        paced_census = await _census(fresh)
        restart = await _restart(fresh, controller)
    censuses = (cold_census, paced_census)
    return {
        "provisions_per_s": cold["rate"], "provisions_per_s_from_spawn": cold["rate_from_spawn"],
        "controller_ready_s": cold["controller_ready_s"],
        **_prefixed("cold_", cold, _CPU),
        "paced_rate": sizes.provision_rate, "paced_provisions_per_s": paced["bindings_per_s"],
        "p50_ms": paced["p50_ms"], "p99_ms": paced["p99_ms"], "max_ms": paced["max_ms"],
        "max_send_lag_ms": paced["max_send_lag_ms"],
        **_prefixed("paced_", paced, _CPU),
        "missing": cold["missing"] + paced["missing"], "relists": cold["relists"] + paced["relists"],
        **restart,
        # both phases must leave exactly N image files and N Bound PVs behind
        "images_short": sum(n - c["images"] for c in censuses),
        "pvs_not_bound": sum(n - c["pvs"].get("Bound", 0) for c in censuses),
        "image_gib": cold_census["image_bytes"] / 2**30,
        "image_allocated_mib": cold_census["allocated_bytes"] / 2**20,
        "censuses": censuses,
    }
