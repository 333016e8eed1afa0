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


FULL = Sizes()
QUICK = Sizes(creates=2_000, fanout_objects=1_000, latency_seconds=3.0)

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
    return json.loads(line)


async def durable_creates(cluster: BenchCluster, sizes: Sizes) -> Result:
    proc = await cluster.spawn("creator", "bench.creator", "--count", sizes.creates, "--inflight", sizes.inflight)
    r = await read_result(cluster, "creator", proc, timeout=600)
    return {"creates_per_s": r["rate"], "errors": r["errors"], "elapsed_s": r["elapsed"],
            "first_error": r["first_error"]}


async def watch_fanout(cluster: BenchCluster, sizes: Sizes) -> Result:
    n, names = sizes.fanout_objects, [f"watcher-{i}" for i in range(sizes.subscribers)]
    watchers = [await cluster.spawn(name, "bench.watcher", "--expect", n, "--timeout", 120) for name in names]
    # every subscriber synced and subscribed before the first write
    await asyncio.gather(*(read_result(cluster, name, p, timeout=300) for name, p in zip(names, watchers, strict=True)))
    writer = await cluster.spawn("writer", "bench.creator", "--count", n, "--inflight", sizes.inflight,
                                 "--prefix", "fan")
    w = await read_result(cluster, "writer", writer, timeout=600)
    subs = await asyncio.gather(*(read_result(cluster, name, p, timeout=180)
                                  for name, p in zip(names, watchers, strict=True)))
    received = sum(s["count"] for s in subs)
    span = max(s["last"] for s in subs) - w["start"]
    return {"events_per_s": received / span if span > 0 else 0.0, "events": received,
            "missing": len(subs) * n - received, "span_s": span, "relists": sum(s["relists"] for s in subs),
            "writer_creates_per_s": w["rate"], "writer_errors": w["errors"]}


async def write_to_event_latency(cluster: BenchCluster, sizes: Sizes) -> Result:
    proc = await cluster.spawn("pacer", "bench.pacer", "--rate", sizes.latency_rate,
                               "--duration", sizes.latency_seconds)
    r = await read_result(cluster, "pacer", proc, timeout=sizes.latency_seconds + 120)
    return {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "max_ms": r["max_ms"], "writes_per_s": r["rate"],
            "missing": r["missing"], "errors": r["errors"], "max_send_lag_ms": r["max_send_lag_ms"],
            "max_inflight": r["max_inflight"],
            "relists": r["relists"], "first_error": r["first_error"]}


BENCHMARKS = (
    Benchmark("durable-creates", (
        Metric("creates_per_s", "creates/s", (">=", 8_000)),
        Metric("errors", "errors", ("==", 0)),
    ), durable_creates),
    Benchmark("watch-fanout", (
        Metric("events_per_s", "events/s", (">=", 50_000)),
        Metric("missing", "events missing", ("==", 0)),
    ), watch_fanout),
    Benchmark("write-to-event-latency", (
        Metric("p50_ms", "p50 ms"),
        Metric("p99_ms", "p99 ms", ("<=", 20)),
        Metric("max_ms", "max ms"),
        Metric("writes_per_s", "writes/s"),
        Metric("missing", "events missing", ("==", 0)),
    ), write_to_event_latency),
)
