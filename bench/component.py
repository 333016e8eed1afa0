"""`python -m bench.component --frame-limit BYTES <repo>/cmd/<name>.py ARGS...`: run a real kstore
launcher unchanged except for the bus's decode limit.

Why: `bus.codec.decode` refuses any frame over `codec.MAX_FRAME` (4 MiB), list replies
included, so a controller whose informer lists ~8,000 PVs or more dies at start-up
(`CodecError: frame of 4566748 bytes exceeds the limit of 4194304` with 10,000 static PVs).
The PV benchmarks want the controller's binding figures at 10,000 all the same, so they start
it through this wrapper, which raises the limit to BYTES and counts what the real limit would
have refused: `kstore_bench_frames_over_limit_total` and `kstore_bench_largest_frame_bytes` on
the process's own /metrics. The benchmark reports that count with a target of 0, so the bug
stays visible in the table until it is fixed (and the count reads 0).

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
    """Replace `bus.codec.decode` by one with default limit `limit` that counts what the real one refuses.
    Call before the component's modules are imported (some bind `decode` by name)."""
    real = codec.decode
    largest = 0

    def decode(data: bytes, *, max_size: int = limit) -> Any:
        nonlocal largest
        size = len(data)
        if size > largest:
            largest = size
            LARGEST.set(size)
        if size > codec.MAX_FRAME and max_size > codec.MAX_FRAME:
            OVER_LIMIT.inc()
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
