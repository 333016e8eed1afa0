"""`--profile`: sample the apistore with py-spy during each run and name its hot spots.

The window runs from the apistore being ready to the end of the load, so it includes the
load processes' start-up (a fraction of a second of an idle apistore).

py-spy (`pip install py-spy`) samples only the thread that holds the GIL (`--gil`): the
samples are where the process spends its Python CPU, and their count over the run's length
says how busy the GIL was (near 100%: the apistore is CPU-bound in Python). A thread waiting
in fsync, epoll or a queue holds no GIL and is not sampled; py-spy's own idle detection
does not see those waits reliably, so `--gil` is the honest view. `hot_spots()` sums the
collapsed stacks (`frame;frame;... count`, root first) per function: self time (on top of
the stack) and total time (anywhere on it), as shares of the samples.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path

SAMPLE_RATE = 250  # per second


def py_spy() -> str:
    found = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return found


class Profiler:
    """py-spy recording one process from `start()` to `stop()` into `out` (collapsed stacks)."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid = pid
        self.out = out
        self.seconds = 0.0
        self._proc: asyncio.subprocess.Process | None = None
        self._started = 0.0

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            py_spy(), "record", "--pid", str(self.pid), "--rate", str(SAMPLE_RATE), "--gil", "--function",
            "--format", "raw", "--output", str(self.out),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        self._started = time.monotonic()

    async def stop(self) -> None:
        """Ask py-spy to finish (it writes the file on SIGINT) and wait for it."""
        if self._proc is None or self._proc.returncode is not None:
            return
        self.seconds = time.monotonic() - self._started
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self._proc.wait(), 10)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()

    def hot_spots(self, top: int = 12) -> str:
        """The `top` functions by self time, with their total time, as a small table."""
        own: collections.Counter[str] = collections.Counter()
        total: collections.Counter[str] = collections.Counter()
        samples = 0
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            samples += n
            own[frames[-1]] += n
            for frame in set(frames):
                total[frame] += n
        if not samples:
            return f"{self.out.name}: no samples"
        busy = samples / SAMPLE_RATE / self.seconds if self.seconds else float("nan")
        lines = [f"{self.out.name}: GIL held {100 * busy:.0f}% of {self.seconds:.1f}s ({samples} samples)",
                 "  self%  total%  function (by self time)"]
        for frame, n in own.most_common(top):
            lines.append(f"  {100 * n / samples:5.1f}  {100 * total[frame] / samples:6.1f}  {frame}")
        lines.append("  self%  total%  function (by total time; the frames under which everything runs left out)")
        inner = [(f, n) for f, n in total.most_common() if n < 0.9 * samples]
        for frame, n in inner[:top]:
            lines.append(f"  {100 * own[frame] / samples:5.1f}  {100 * n / samples:6.1f}  {frame}")
        return "\n".join(lines)
