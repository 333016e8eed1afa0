"""Load process: paced creates (open loop) and, in the same process, an Informer timing their events.

Writes are scheduled by the clock, `--rate` per second for `--duration` seconds: the pacer
sends what is due and never waits for a reply before the next send, so a slow store shows
as latency and as requests in flight, not as a lower send rate. The latency of an object
is the time its ADDED event reached the informer's handler minus the time its create was
sent (one process, one monotonic clock).

Prints `{"loading": true}` as it starts sending, then `{"sent", "errors", "received", "missing", "rate", "p50_ms", "p99_ms", "max_ms",
"max_send_lag_ms", "max_inflight", "relists"}`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import child
from bench.objects import ensure_storage_class, pvc
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient
from kstore.client.informer import Handler, Informer


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(rank) - 1]


async def send_paced(create: Callable[[int], Awaitable[None]], *, total: int, rate: float) -> tuple[float, int]:
    """Call `create(n)` for n in 0..total-1, the n-th due at start + n / rate, without waiting
    for one to finish before the next is due (open loop); return when all have finished, with
    (start, the most that were in flight at once)."""
    inflight: set[asyncio.Task[None]] = set()
    max_inflight = 0
    start = time.perf_counter()
    scheduled = 0  # creates started so far; the n-th is due at start + n / rate
    while scheduled < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        for n in range(scheduled, due):
            task = asyncio.ensure_future(create(n))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
        scheduled = due
        max_inflight = max(max_inflight, len(inflight))
        await asyncio.sleep(max(0.0, start + scheduled / rate - time.perf_counter()))
    await asyncio.gather(*inflight)
    return start, max_inflight


async def measure(client: BusClient, *, rate: float, duration: float, drain: float = 5.0) -> dict[str, Any]:
    sent: dict[str, float] = {}  # name → perf_counter() when its create went out
    latencies: list[float] = []
    total = int(rate * duration)
    expected = total  # events to wait for: one per create that succeeded
    all_in = asyncio.Event()

    def on_add(obj: dict[str, Any]) -> None:
        t = sent.get(obj["metadata"]["name"])
        if t is not None:
            latencies.append(time.perf_counter() - t)
            if len(latencies) >= expected:
                all_in.set()

    informer = Informer(client, "PersistentVolumeClaim")
    informer.add_handler(Handler(on_add=on_add))
    await informer.start()
    await informer.wait_synced(timeout=30)
    await child.wait_subscribed()

    errors: list[str] = []

    async def create(n: int) -> None:
        name = f"lat-{n}"
        sent[name] = time.perf_counter()  # the first step of the task encodes and sends at once
        try:
            await client.create(pvc(name))
        except ApiError as e:
            errors.append(f"{name}: {e.code} {e.message}")

    child.emit(loading=True)
    start, max_inflight = await send_paced(create, total=total, rate=rate)
    first, last = min(sent.values()), max(sent.values())
    lag = max(sent[f"lat-{n}"] - (start + n / rate) for n in range(total))  # how late the pacer sent
    expected = total - len(errors)
    if len(latencies) >= expected:
        all_in.set()
    try:
        await asyncio.wait_for(all_in.wait(), drain)
    except TimeoutError:
        pass
    informer.stop()

    latencies.sort()
    return {
        "sent": total, "errors": len(errors), "first_error": errors[0] if errors else None,
        "received": len(latencies), "missing": total - len(errors) - len(latencies),
        "rate": (total - 1) / (last - first) if last > first else float("nan"),
        "p50_ms": percentile(latencies, 50) * 1e3, "p99_ms": percentile(latencies, 99) * 1e3,
        "max_ms": latencies[-1] * 1e3 if latencies else float("nan"),
        "max_send_lag_ms": lag * 1e3, "max_inflight": max_inflight, "relists": informer.relists,
    }


def main() -> None:
    p = child.parser(__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=2000.0, help="creates per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        try:
            await ensure_storage_class(client)
            child.emit(**await measure(client, rate=args.rate, duration=args.duration))
        finally:
            client.close()

    child.run(body)


if __name__ == "__main__":
    main()
