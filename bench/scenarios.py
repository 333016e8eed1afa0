"""The three foundation benchmarks, parent side: spawn the load processes, read their JSON
lines, turn them into figures.

- `durable-creates`: one creator process, a fixed pool of in-flight creates of realistic
  PVCs, on the durable backend (SQLite: WAL, fsync per group commit). Figure: creates/s.
- `watch-fanout`: subscriber processes, each an Informer on PVCs, all synced before one
  writer process creates the objects. Figure: events received by all subscribers over the
  span from the writer's first send to the last event anyone received (wall clock, one
  machine).
- `write-to-event-latency`: one process creates on a fixed schedule (open loop) and times
  each object's event in its own Informer. Figures: p50/p99/max, achieved rate, missing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import operator
from collections.abc import Awaitable, Callable
from typing import Any

from bench.cluster import BenchCluster, ProcessFailed

Result = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Sizes:
    creates: int = 20_000
    inflight: int = 32
    subscribers: int = 50
    fanout_objects: int = 4_000
    latency_rate: float = 2_000.0
    latency_seconds: float = 10.0
    # the PV controller benchmarks (bench/pv.py)
    bind_pairs: int = 10_000
    bind_rate: float = 1_000.0  # claims/s of the paced phase: the bindings/s target
    provision_claims: int = 5_000
    provision_rate: float = 500.0  # claims/s of the paced phase: the provisions/s target


FULL = Sizes()
QUICK = Sizes(creates=2_000, fanout_objects=1_000, latency_seconds=3.0, bind_pairs=1_000, provision_claims=500)

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq}


@dataclasses.dataclass(frozen=True)
class Metric:
    """One figure of a run's result (`key`), shown as `label`, with an optional target."""

    key: str
    label: str
    target: tuple[str, float] | None = None

    def met(self, value: float) -> bool | None:
        """Whether `value` meets the target; None when there is none."""
        if self.target is None:
            return None
        op, bound = self.target
        return bool(_OPS[op](value, bound))


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    metrics: tuple[Metric, ...]
    run: Callable[[BenchCluster, Sizes], Awaitable[Result]]


async def read_result(cluster: BenchCluster, name: str, proc: asyncio.subprocess.Process, timeout: float) -> Result:
    """The next JSON line a load process prints; ProcessFailed (with its log) if none comes."""
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    except TimeoutError:
        raise ProcessFailed(f"{name}: no result in {timeout:.0f}s:\n{cluster.log_tail(name)}") from None
    if not line:
        await proc.wait()
        raise ProcessFailed(f"{name} exited with {proc.returncode} without a result:\n{cluster.log_tail(name)}")
    try:
        return json.loads(line)
    except ValueError:
        raise ProcessFailed(f"{name} printed {line[:200]!r}, not a JSON result:\n{cluster.log_tail(name)}") from None


async def read_load(cluster: BenchCluster, name: str, proc: asyncio.subprocess.Process, timeout: float) -> Result:
    """The result of a load process that says `{"loading": true}` first, with the apistore's CPU use
    (cores) in between: near 1.0 on `apistore_loop_cores`, its event loop was the limit."""
    await read_result(cluster, name, proc, timeout=60)
    before = cluster.apistore_cpu()
    result = await read_result(cluster, name, proc, timeout)
    return {**result, **cluster.apistore_cpu().cores_since(before)}


async def durable_creates(cluster: BenchCluster, sizes: Sizes) -> Result:
    proc = await cluster.spawn("creator", "bench.creator", "--count", sizes.creates, "--inflight", sizes.inflight)
    r = await read_load(cluster, "creator", proc, timeout=600)
    r["creates_per_s"], r["client_cores"] = r.pop("rate"), r.pop("cpu")
    return r


async def watch_fanout(cluster: BenchCluster, sizes: Sizes) -> Result:
    n, names = sizes.fanout_objects, [f"watcher-{i}" for i in range(sizes.subscribers)]
    watchers = [await cluster.spawn(name, "bench.watcher", "--expect", n, "--timeout", 120) for name in names]
    # every subscriber synced and subscribed before the first write
    await asyncio.gather(*(read_result(cluster, name, p, timeout=300) for name, p in zip(names, watchers, strict=True)))
    writer = await cluster.spawn("writer", "bench.creator", "--count", n, "--inflight", sizes.inflight,
                                 "--prefix", "fan")
    w = await read_load(cluster, "writer", writer, timeout=600)
    subs = await asyncio.gather(*(read_result(cluster, name, p, timeout=180)
                                  for name, p in zip(names, watchers, strict=True)))
    received = sum(s["count"] for s in subs)
    span = max(s["last"] for s in subs) - w["start"]
    return {"events_per_s": received / span if span > 0 else 0.0, "events": received,
            "missing": len(subs) * n - received, "span_s": span, "relists": sum(s["relists"] for s in subs),
            "writer_creates_per_s": w["rate"], "writer_errors": w["errors"],
            "apistore_cores": w["apistore_cores"], "apistore_loop_cores": w["apistore_loop_cores"]}


async def write_to_event_latency(cluster: BenchCluster, sizes: Sizes) -> Result:
    proc = await cluster.spawn("pacer", "bench.pacer", "--rate", sizes.latency_rate,
                               "--duration", sizes.latency_seconds)
    r = await read_load(cluster, "pacer", proc, timeout=sizes.latency_seconds + 120)
    r["writes_per_s"] = r.pop("rate")
    return r


BENCHMARKS = (
    Benchmark("durable-creates", (
        Metric("creates_per_s", "creates/s", (">=", 8_000)),
        Metric("errors", "errors", ("==", 0)),
        Metric("apistore_loop_cores", "apistore loop cores"),
    ), durable_creates),
    Benchmark("watch-fanout", (
        Metric("events_per_s", "events/s", (">=", 50_000)),
        Metric("missing", "events missing", ("==", 0)),
        Metric("apistore_loop_cores", "apistore loop cores"),
    ), watch_fanout),
    Benchmark("write-to-event-latency", (
        Metric("p50_ms", "p50 ms"),
        Metric("p99_ms", "p99 ms", ("<=", 20)),
        Metric("max_ms", "max ms"),
        Metric("writes_per_s", "writes/s"),
        Metric("missing", "events missing", ("==", 0)),
    ), write_to_event_latency),
)

# The PV controller benchmarks (issue 4), bench/pv.py: the real pv-controller process.
from bench import pv  # noqa: E402  (bench.pv imports from this module only inside its functions)

BENCHMARKS += (
    Benchmark("pv-bind", (
        Metric("bindings_per_s", "bindings/s (cold, from /readyz)", (">=", 1_000)),
        Metric("bindings_per_s_from_spawn", "bindings/s (cold, from process start)"),
        Metric("cold_controller_cores", "controller cores (cold)"),
        Metric("cold_claims_worker_busy", "claim workers busy, sum (cold)"),
        Metric("paced_bindings_per_s", "bindings/s (paced, 1st create→last Bound)"),
        Metric("p50_ms", "claim→Bound p50 ms (paced)"),
        Metric("p99_ms", "claim→Bound p99 ms (paced)", ("<=", 1_000)),
        Metric("paced_controller_cores", "controller cores (paced)"),
        Metric("paced_claims_depth_peak", "claims queue peak (paced)"),
        Metric("paced_claims_worker_busy", "claim workers busy, sum (paced)"),
        Metric("missing", "claims not Bound", ("==", 0)),
    ), pv.pv_bind),
    Benchmark("pv-provision", (
        Metric("provisions_per_s", "provisions/s (cold, from /readyz)", (">=", 500)),
        Metric("provisions_per_s_from_spawn", "provisions/s (cold, from process start)"),
        Metric("cold_controller_cores", "controller cores (cold)"),
        Metric("cold_claims_worker_busy", "claim workers busy, sum (cold)"),
        Metric("paced_provisions_per_s", "provisions/s (paced, 1st create→last Bound)"),
        Metric("p50_ms", "claim→Bound p50 ms (paced)"),
        Metric("p99_ms", "claim→Bound p99 ms (paced)", ("<=", 1_000)),
        Metric("paced_controller_cores", "controller cores (paced)"),
        Metric("paced_claims_depth_peak", "claims queue peak (paced)"),
        Metric("paced_claims_worker_busy", "claim workers busy, sum (paced)"),
        Metric("missing", "claims not Bound", ("==", 0)),
        Metric("images_short", "image files missing", ("==", 0)),
        Metric("pvs_not_bound", "PVs not Bound", ("==", 0)),
    ), pv.pv_provision),
)

from bench import scheduler_scale  # noqa: E402  (the scheduler benchmark, issue 5: bench/scheduler_scale.py)

BENCHMARKS += (Benchmark("scheduler", tuple(Metric(*m) for m in scheduler_scale.METRICS), scheduler_scale.run),)

from bench import mounts  # noqa: E402  (the attach/mount benchmark, issue 6: bench/mounts.py)

BENCHMARKS += (Benchmark("mount-chain", tuple(Metric(*m) for m in mounts.METRICS), mounts.run),)
