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
  N Bound PVs.
- Both: the pv-controller's CPU (cores, all threads and its event-loop thread) over each
  measured span, and the peak of its `workqueue_depth{name="claims"}` scraped from its
  /metrics every SCRAPE_PERIOD (in the cold phase the queue starts full, N keys, by design).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from bench.cluster import BenchCluster, ProcessFailed, cpu_snapshot
from bench.objects import BLOCK_CLASS, STATIC_CLASS

if TYPE_CHECKING:
    from bench.scenarios import Result, Sizes

CONTROLLER = "pv-controller"
SCRAPE_PERIOD = 0.5
MIN_RATE = 10.0  # objects/s below which a phase gives up waiting (timeouts scale with N)
_DEPTH = re.compile(r'^workqueue_depth\{name="claims"\} (\S+)$', re.MULTILINE)


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
    """Polls the controller's /metrics for `workqueue_depth{name="claims"}` and keeps the peak."""

    def __init__(self, url: str) -> None:
        self.url = url + "/metrics"
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
        return {"claims_depth_peak": self.peak, "scrapes": self.scrapes,
                "scrape_ms": 1e3 * self.seconds / self.scrapes if self.scrapes else float("nan")}

    async def _poll(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http:
            while True:
                t0 = time.perf_counter()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.url) as r:
                        text = await r.text()
                    self.scrapes += 1
                    self.seconds += time.perf_counter() - t0
                    m = _DEPTH.search(text)
                    if m:
                        self.peak = max(self.peak, float(m.group(1)))
                await asyncio.sleep(SCRAPE_PERIOD)


class Measured:
    """CPU of the controller and the apistore, and the claims queue's peak, over one span."""

    def __init__(self, cluster: BenchCluster, controller: asyncio.subprocess.Process) -> None:
        assert cluster.config is not None
        self.cluster, self.pid = cluster, controller.pid
        self.scraper = DepthScraper(cluster.config.metrics_url(CONTROLLER))

    def start(self) -> None:
        self.ctl0, self.api0 = cpu_snapshot(self.pid), self.cluster.apistore_cpu()
        self.scraper.start()

    async def stop(self) -> dict[str, float]:
        ctl, api = cpu_snapshot(self.pid).cores_since(self.ctl0, "controller"), \
            self.cluster.apistore_cpu().cores_since(self.api0)
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
    measured = Measured(cluster, controller)
    measured.start()
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
    measured = Measured(cluster, controller)
    measured.start()
    r = await _read(cluster, "paced", proc, n / rate + _timeout(n) + 30)
    if r["errors"]:
        raise ProcessFailed(f"paced: {r['errors']} create errors, the first: {r['first_error']}")
    return {**r, **await measured.stop()}


async def _census(cluster: BenchCluster) -> Result:
    return await _run(cluster, "census", "census", "--pool", cluster.state_dir / "pool" / "block", timeout=120)


def _prefixed(prefix: str, figures: Result, keys: tuple[str, ...]) -> Result:
    return {f"{prefix}{k}": figures[k] for k in keys}


_CPU = ("controller_cores", "controller_loop_cores", "apistore_cores", "claims_depth_peak", "scrape_ms")


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
        # both phases must leave exactly N image files and N Bound PVs behind
        "images_short": sum(n - c["images"] for c in censuses),
        "pvs_not_bound": sum(n - c["pvs"].get("Bound", 0) for c in censuses),
        "image_gib": cold_census["image_bytes"] / 2**30,
        "image_allocated_mib": cold_census["allocated_bytes"] / 2**20,
        "censuses": censuses,
    }
