"""Load process of the PV controller benchmarks: `python -m bench.pvload --cluster C <command> ...`.

Commands (each prints JSON lines on stdout, see child.py):
- `volumes --count N`: create N static PVs of `bench-static` (and the class), `--inflight` at a
  time. Prints `{"created", "errors", "rate", "elapsed", "first_error"}`.
- `claims --count N --class C`: create N claims of class C the same way (the class too).
- `watch --kind K --phase P --expect N`: an Informer on K that notes when each object first
  shows `status.phase == P`. Prints `{"ready": true, "already"}` once synced and subscribed, then,
  when N objects are in that phase or `--timeout` passed, `{"count", "first", "last", "relists"}`
  (wall-clock times of the first and last transition it saw).
- `paced --count N --class C --rate R`: open-loop creates of N claims at R per second and, in
  the same process, an Informer on claims. The latency of a claim is the time the Bound
  MODIFIED event reached the informer's handler minus the time its create was acknowledged
  (one process, one monotonic clock). Prints `{"loading": true}` as it starts sending, then
  `{"sent", "errors", "bound", "missing", "p50_ms", "p99_ms", "max_ms", "first_send", "last_bound",
  "rate", "bindings_per_s", "max_send_lag_ms", "max_inflight", "relists"}`; `bindings_per_s` is
  bound claims over the span from the first send to the last Bound event.
- `census --pool DIR`: PVs and claims by phase (one list each) and the image files in DIR:
  `{"pvs": {phase: n}, "claims": {phase: n}, "images", "image_bytes", "allocated_bytes"}`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import child
from bench.objects import STATIC_CLASS, bench_class, class_pvc, ensure, static_pv
from bench.pacer import percentile, send_paced
from bus import codec
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient, object_key
from kstore.client.informer import Handler, Informer


def phase_of(obj: dict[str, Any]) -> str:
    return (obj.get("status") or {}).get("phase") or ""


async def create_many(client: BusClient, make: Callable[[int], dict[str, Any]], *, count: int,
                      inflight: int) -> dict[str, Any]:
    """`count` creates by `inflight` workers, each sending its next one when its last returns."""
    numbers = iter(range(count))
    errors: list[str] = []

    async def worker() -> None:
        for n in numbers:
            try:
                await client.create(make(n))
            except ApiError as e:
                errors.append(f"#{n}: {e.code} {e.message}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    elapsed = time.perf_counter() - t0
    created = count - len(errors)
    return {"created": created, "errors": len(errors), "rate": created / elapsed if elapsed > 0 else 0.0,
            "elapsed": elapsed, "first_error": errors[0] if errors else None}


async def volumes(client: BusClient, args: argparse.Namespace) -> None:
    await ensure(client, bench_class(STATIC_CLASS))
    child.emit(**await create_many(client, lambda n: static_pv(f"{args.prefix}-{n}"), count=args.count,
                                   inflight=args.inflight))


async def claims(client: BusClient, args: argparse.Namespace) -> None:
    await ensure(client, bench_class(args.storage_class))
    child.emit(**await create_many(client, lambda n: class_pvc(f"{args.prefix}-{n}", args.storage_class),
                                   count=args.count, inflight=args.inflight))


async def watch(client: BusClient, args: argparse.Namespace) -> None:
    seen: set[str] = set()
    first = last = 0.0
    done = asyncio.Event()
    synced = False

    def note(obj: dict[str, Any]) -> None:
        nonlocal first, last
        if phase_of(obj) != args.phase:
            return
        key = object_key(obj)
        if key in seen:
            return
        seen.add(key)
        if synced:  # a transition we watched happen, not one that was there at the start
            last = time.time()
            first = first or last
        if len(seen) >= args.expect:
            done.set()

    informer = Informer(client, args.kind)
    informer.add_handler(Handler(on_add=note, on_update=lambda _old, new: note(new)))
    try:
        await informer.start()
        await informer.wait_synced(timeout=120)
        await child.wait_subscribed()
        synced = True
        child.emit(ready=True, already=len(seen))
        try:
            await asyncio.wait_for(done.wait(), args.timeout)
        except TimeoutError:
            pass
        child.emit(count=len(seen), first=first, last=last, relists=informer.relists)
    finally:
        informer.stop()


async def paced(client: BusClient, args: argparse.Namespace) -> None:
    await ensure(client, bench_class(args.storage_class))
    total, rate = args.count, args.rate
    sent: dict[str, float] = {}  # name → perf_counter() when its create went out
    acked: dict[str, float] = {}  # name → perf_counter() when the store acknowledged it
    bound: dict[str, float] = {}  # name → perf_counter() when its Bound event arrived
    expected = total
    all_in = asyncio.Event()

    def on_update(_old: dict[str, Any], new: dict[str, Any]) -> None:
        name = new["metadata"]["name"]
        if phase_of(new) == "Bound" and name in sent and name not in bound:
            bound[name] = time.perf_counter()
            if len(bound) >= expected:
                all_in.set()

    informer = Informer(client, "PersistentVolumeClaim")
    informer.add_handler(Handler(on_add=lambda obj: on_update(obj, obj), on_update=on_update))
    await informer.start()
    await informer.wait_synced(timeout=30)
    await child.wait_subscribed()

    errors: list[str] = []

    async def create(n: int) -> None:
        name = f"{args.prefix}-{n}"
        sent[name] = time.perf_counter()
        try:
            await client.create(class_pvc(name, args.storage_class))
            acked[name] = time.perf_counter()
        except ApiError as e:
            errors.append(f"{name}: {e.code} {e.message}")

    child.emit(loading=True)
    wall0 = time.time()
    start, max_inflight = await send_paced(create, total=total, rate=rate)
    send_lag = max(sent[f"{args.prefix}-{n}"] - (start + n / rate) for n in range(total))
    last_send = max(sent.values())
    expected = total - len(errors)
    if len(bound) >= expected:
        all_in.set()
    try:
        await asyncio.wait_for(all_in.wait(), args.timeout)
    except TimeoutError:
        pass
    informer.stop()

    # A Bound event seen before the create's reply was processed counts as 0.
    latencies = sorted(max(0.0, t - acked[name]) for name, t in bound.items() if name in acked)
    last_bound = max(bound.values()) if bound else float("nan")
    span = last_bound - start
    child.emit(
        sent=total, errors=len(errors), first_error=errors[0] if errors else None,
        bound=len(bound), missing=expected - len(bound),
        p50_ms=percentile(latencies, 50) * 1e3, p99_ms=percentile(latencies, 99) * 1e3,
        max_ms=latencies[-1] * 1e3 if latencies else float("nan"),
        first_send=wall0, last_bound=wall0 + span,
        rate=(total - 1) / (last_send - start) if last_send > start else float("nan"),
        bindings_per_s=len(bound) / span if span > 0 else 0.0,
        max_send_lag_ms=send_lag * 1e3, max_inflight=max_inflight, relists=informer.relists,
    )


async def census(client: BusClient, args: argparse.Namespace) -> None:
    pvs = collections.Counter(phase_of(v) for v in (await client.list("PersistentVolume")).items)
    pvcs = collections.Counter(phase_of(c) for c in (await client.list("PersistentVolumeClaim")).items)
    images = size = allocated = 0
    for entry in list(os.scandir(args.pool)) if args.pool.is_dir() else []:
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue  # the pool's own temporary entries start with a dot
        st = entry.stat(follow_symlinks=False)
        images, size, allocated = images + 1, size + st.st_size, allocated + st.st_blocks * 512
    child.emit(pvs=dict(pvs), claims=dict(pvcs), images=images, image_bytes=size, allocated_bytes=allocated)


COMMANDS = {"volumes": volumes, "claims": claims, "watch": watch, "paced": paced, "census": census}


# Before 86ac76b the bus client refused replies over codec.MAX_FRAME (4 MiB): no list of more than
# ~8,000 PVs (~500 bytes each). This process only observes, so it lifts the default limit for
# itself whatever the tree it runs on; the controller keeps its own.
LIST_LIMIT = 1 << 30


def main() -> None:
    assert codec.decode.__kwdefaults__ is not None
    codec.decode.__kwdefaults__["max_size"] = LIST_LIMIT
    p = child.parser(__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("volumes", "claims", "paced"):
        s = sub.add_parser(name)
        s.add_argument("--count", type=int, required=True)
        s.add_argument("--prefix", default="pv" if name == "volumes" else "pvc")
        if name != "volumes":
            s.add_argument("--class", dest="storage_class", required=True)
        if name == "paced":
            s.add_argument("--rate", type=float, required=True, help="creates per second")
            s.add_argument("--timeout", type=float, default=60.0,
                           help="seconds to wait for the Bound events after the last send")
        else:
            s.add_argument("--inflight", type=int, default=32)
    s = sub.add_parser("watch")
    s.add_argument("--kind", required=True)
    s.add_argument("--phase", required=True)
    s.add_argument("--expect", type=int, required=True)
    s.add_argument("--timeout", type=float, default=120.0, help="seconds to wait once ready")
    s = sub.add_parser("census")
    s.add_argument("--pool", type=Path, required=True, help="the block pool directory")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        try:
            await COMMANDS[args.command](client, args)
        finally:
            client.close()

    child.run(body)


if __name__ == "__main__":
    main()
