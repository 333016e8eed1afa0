"""Load process: create PersistentVolumeClaims with a fixed number of requests in flight.

Prints `{"loading": true}` as it starts sending, then `{"start", "elapsed", "created", "errors", "rate", "cpu", "first_error"}`: `start` is
the wall-clock time of the first send (other processes compare it with their own clocks),
`cpu` the share of one core this process used meanwhile (near 1: the client is the limit).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import child
from bench.objects import ensure_storage_class, pvc
from kstore.api.errors import ApiError
from kstore.client.bus_client import BusClient


async def create_all(client: BusClient, *, count: int, inflight: int, prefix: str) -> dict[str, Any]:
    """`count` creates by `inflight` workers that each send the next one as soon as theirs returns."""
    names = (f"{prefix}-{i}" for i in range(count))  # shared: each name goes to one worker
    errors: list[str] = []

    async def worker() -> None:
        for name in names:
            try:
                await client.create(pvc(name))
            except ApiError as e:
                errors.append(f"{name}: {e.code} {e.message}")

    child.emit(loading=True)
    start, t0, cpu0 = time.time(), time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(inflight)))
    elapsed = time.perf_counter() - t0
    created = count - len(errors)
    return {"start": start, "elapsed": elapsed, "created": created, "errors": len(errors),
            "rate": created / elapsed, "cpu": (time.process_time() - cpu0) / elapsed,
            "first_error": errors[0] if errors else None}


def main() -> None:
    p = child.parser(__doc__.splitlines()[0])
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--inflight", type=int, default=32)
    p.add_argument("--prefix", default="pvc")
    args = p.parse_args()

    async def body() -> None:
        client = await child.connect(args.cluster)
        try:
            await ensure_storage_class(client)
            child.emit(**await create_all(client, count=args.count, inflight=args.inflight, prefix=args.prefix))
        finally:
            client.close()

    child.run(body)


if __name__ == "__main__":
    main()
