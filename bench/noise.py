"""How much of the machine other processes took during a run (other engineers' tests, say).

A benchmark on a shared 2-core box is only as good as the quiet around it. `CpuMeter` reads
the machine's busy time (/proc/stat) and the CPU time of this process and its reaped children
(every process a run started is reaped before the run ends), before and after; the difference
is what everybody else used, as a share of all cores over the run's wall time.
"""

from __future__ import annotations

import os
import resource
import time


def _machine_busy() -> float:
    """CPU-seconds all cores spent busy since boot: user, nice, system, steal. Interrupt time is
    left out: the kernel charges it to no process, and the loopback traffic of a run makes most of it."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(v) for v in f.readline().split()[1:9])
    return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")


def _ours() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """`start()` before a run, `others()` after it: the share of the machine others used meanwhile."""

    def __init__(self) -> None:
        self._busy = self._ours = self._wall = 0.0

    def start(self) -> None:
        self._busy, self._ours, self._wall = _machine_busy(), _ours(), time.monotonic()

    def others(self) -> float:
        wall = time.monotonic() - self._wall
        others = (_machine_busy() - self._busy) - (_ours() - self._ours)
        return max(0.0, others) / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0
