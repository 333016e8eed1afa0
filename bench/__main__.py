"""`python -m bench [--runs N] [--only NAME] [--quick] [--backend sqlite|memory] [--profile]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bench import pv, report
from bench.cluster import BenchCluster, ProcessFailed
from bench.noise import CpuMeter
from bench.profile import Profiler, py_spy
from bench.report import Outcome
from bench.scenarios import BENCHMARKS, FULL, QUICK, Benchmark, Result, Sizes

NOISY = 0.05  # share of the machine used by other processes during a run above which it is suspect


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [b.name for b in BENCHMARKS]
    p = argparse.ArgumentParser(prog="python -m bench", description="kstore foundation benchmarks")
    p.add_argument("--runs", type=int, default=3, help="runs per benchmark; the table shows their median")
    p.add_argument("--only", action="append", choices=names, metavar="NAME",
                   help=f"run only this benchmark (repeatable): {', '.join(names)}")
    p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke check")
    p.add_argument("--backend", choices=("sqlite", "memory"), default="sqlite", help="the apistore's backend")
    p.add_argument("--profile", action="store_true",
                   help="sample the apistore (and the pv-controller of the PV benchmarks) with py-spy; "
                        "stacks go to bench/results/, hot spots to stderr")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


async def run_one(bench: Benchmark, sizes: Sizes, *, backend: str, profile_to: str | None) -> Result:
    pv.PROFILE_TO = profile_to  # the PV benchmarks also sample their pv-controller
    async with BenchCluster(backend=backend) as cluster:
        if profile_to is None:
            return await bench.run(cluster, sizes)
        assert cluster.apistore is not None
        out = report.RESULTS_DIR / f"{profile_to}.txt"
        profiler = Profiler(cluster.apistore.pid, out)
        await profiler.start()
        try:
            return await bench.run(cluster, sizes)
        finally:
            await profiler.stop()
            if out.exists():
                print(profiler.hot_spots(), file=sys.stderr)


async def run_all(args: argparse.Namespace, started: datetime) -> list[Outcome]:
    sizes = QUICK if args.quick else FULL
    outcomes = []
    for bench in BENCHMARKS:
        if args.only and bench.name not in args.only:
            continue
        outcome = Outcome(bench)
        outcomes.append(outcome)
        for i in range(1, args.runs + 1):
            profile_to = f"{started:%Y%m%d-%H%M%S}-{bench.name}-{i}" if args.profile else None
            meter = CpuMeter()
            meter.start()
            try:
                result = await run_one(bench, sizes, backend=args.backend, profile_to=profile_to)
            except ProcessFailed as e:
                outcome.error = str(e)
                print(f"{bench.name} run {i}/{args.runs}: FAILED: {e}", file=sys.stderr)
                break
            result["others_cpu"] = others = meter.others()
            outcome.runs.append(result)
            figures = ", ".join(f"{m.label} {report.fmt(result[m.key])}" for m in bench.metrics)
            noisy = f" (other processes took {others:.0%} of the machine: figures suspect)" if others > NOISY else ""
            print(f"{bench.name} run {i}/{args.runs}: {figures}{noisy}", file=sys.stderr, flush=True)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        py_spy()  # fail now, not after the first run
    started = datetime.now()
    try:
        outcomes = asyncio.run(run_all(args, started))
    except KeyboardInterrupt:
        print("interrupted; every benchmark process was stopped", file=sys.stderr)
        return 130
    sizes = QUICK if args.quick else FULL
    print(report.table(outcomes))
    path = report.write_json(report.to_json(outcomes, sizes=sizes, backend=args.backend, started=started), started)
    print(f"results: {path}")
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
