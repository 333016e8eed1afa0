"""The benchmark report: a table on stdout and the full figures as JSON."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.scenarios import Benchmark, Metric, Result, Sizes

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Outcome:
    """What the runs of one benchmark gave; `error` is set when a run failed (the rest skipped)."""

    benchmark: Benchmark
    runs: list[Result] = field(default_factory=list)
    error: str | None = None

    def values(self, metric: Metric) -> list[float]:
        return [r[metric.key] for r in self.runs]

    def median(self, metric: Metric) -> float | None:
        values = self.values(metric)
        return statistics.median(values) if values else None


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, int) or abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def fmt_target(metric: Metric) -> str:
    return f"{metric.target[0]} {fmt(metric.target[1])}" if metric.target else ""


def machine() -> dict[str, Any]:
    return {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}


def table(outcomes: list[Outcome]) -> str:
    rows = [("benchmark", "metric", "median", "runs", "target", "")]
    for o in outcomes:
        name = o.benchmark.name
        if o.error is not None and not o.runs:
            rows.append((name, "FAILED", "", "", "", o.error.splitlines()[0][:60]))
            continue
        for m in o.benchmark.metrics:
            median = o.median(m)
            met = m.met(median) if median is not None else None
            rows.append((name, m.label, fmt(median), " ".join(fmt(v) for v in o.values(m)), fmt_target(m),
                         {True: "ok", False: "MISSED", None: ""}[met]))
            name = ""
        if o.error is not None:
            rows.append(("", "FAILED", "", "", "", o.error.splitlines()[0][:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    m = machine()
    lines.append(f"\n{m['cpu_count']} cores, Python {m['python']}, {m['platform']}")
    noise = "; ".join(f"{o.benchmark.name} " + " ".join(f"{r['others_cpu']:.0%}" for r in o.runs)
                      for o in outcomes if o.runs)
    if noise:
        lines.append(f"other processes' share of the machine during the runs: {noise}")
    return "\n".join(lines)


def to_json(outcomes: list[Outcome], *, sizes: Sizes, backend: str, started: datetime) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"),
        **machine(),
        "backend": backend,
        "sizes": vars(sizes),
        "benchmarks": {
            o.benchmark.name: {
                "metrics": {
                    m.key: {"label": m.label, "median": o.median(m), "runs": o.values(m), "target": fmt_target(m),
                            "met": m.met(o.median(m)) if o.runs else None}
                    for m in o.benchmark.metrics
                },
                "runs": o.runs,
                "error": o.error,
            }
            for o in outcomes
        },
    }


def write_json(data: dict[str, Any], started: datetime) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
