"""`python -m bench.component --frame-limit BYTES <repo>/cmd/<name>.py ARGS...`: run a real kstore
launcher unchanged except for the bus's decode limit.

Why: `bus.codec.decode` refuses any frame over `codec.MAX_FRAME` (4 MiB) unless its caller
passes a larger `max_size`. Before 86ac76b that included list replies, so a controller whose
informer listed ~8,000 PVs or more died at start-up (`CodecError: frame of 4566748 bytes
exceeds the limit of 4194304` with 10,000 static PVs); `BusClient` now decodes replies with
its own limit. This wrapper raises the default to BYTES and counts what the default would
have refused: `kstore_bench_frames_over_limit_total` and `kstore_bench_largest_frame_bytes` on
the process's own /metrics (0 on a fixed tree). The PV benchmarks no longer need it; a
benchmark that suspects the limit on another path can still use it.

The command line still names the component (`... cmd/pv-controller.py --cluster ...`).
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

from prometheus_client import Counter, Gauge

from bus import codec

OVER_LIMIT = Counter("kstore_bench_frames_over_limit",
                     "Frames this process decoded that bus.codec.MAX_FRAME would have refused (bench wrapper)")
LARGEST = Gauge("kstore_bench_largest_frame_bytes", "Largest frame this process decoded (bench wrapper)")


def lift(limit: int) -> None:
    """Replace `bus.codec.decode` by one with default limit `limit` that counts what the real one
    would refuse: frames over `codec.MAX_FRAME` decoded by a caller that relies on the default
    (a caller passing its own `max_size`, as `BusClient` does for replies since 86ac76b, is
    not counted). Call before the component's modules are imported."""
    real = codec.decode
    largest = 0

    def decode(data: bytes, *, max_size: int | None = None) -> Any:
        nonlocal largest
        size = len(data)
        if size > largest:
            largest = size
            LARGEST.set(size)
        if max_size is None:
            if size > codec.MAX_FRAME:
                OVER_LIMIT.inc()
            max_size = limit
        return real(data, max_size=max_size)

    codec.decode = decode  # type: ignore[assignment]


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[0] != "--frame-limit":
        raise SystemExit(__doc__.splitlines()[0])
    lift(int(args[1]))
    sys.argv = args[2:]
    runpy.run_path(args[2], run_name="__main__")


if __name__ == "__main__":
    main()
