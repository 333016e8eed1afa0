"""A throwaway apistore for one benchmark run, and the load processes that drive it.

`BenchCluster` makes a temp state dir, resolves a config on fresh loopback ports, writes
`cluster.json`, starts `cmd/apistore.py` as its own OS process and waits for `/readyz`.
`spawn()` starts load processes (`python -m bench.<name>`) the same way. On exit, also after
Ctrl-C or an error, every process it started gets SIGTERM to its process group, then SIGKILL
after a grace period, and the state dir is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp

from kstore.config import REPO_ROOT, ClusterConfig, load_config

READY_TIMEOUT = 30.0  # the apistore; a controller gets longer (it lists every object it watches first)
STOP_GRACE = 10.0  # the apistore's own shutdown ends within 8 s (kstore/runtime.py)


@dataclasses.dataclass(frozen=True)
class CpuSnapshot:
    """CPU-seconds a process has used: all its threads, and its main thread (the event loop)."""

    at: float  # time.monotonic() of the reading
    process: float
    loop: float

    def cores_since(self, earlier: CpuSnapshot, prefix: str = "apistore") -> dict[str, float]:
        """Cores used on average between two readings (1.0: one core flat out)."""
        wall = self.at - earlier.at
        return {f"{prefix}_cores": (self.process - earlier.process) / wall,
                f"{prefix}_loop_cores": (self.loop - earlier.loop) / wall}


def cpu_snapshot(pid: int) -> CpuSnapshot:
    def seconds(stat_path: str) -> float:
        with open(stat_path) as f:
            fields = f.read().rpartition(")")[2].split()  # after "pid (comm)": state is fields[0]
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    return CpuSnapshot(time.monotonic(), seconds(f"/proc/{pid}/stat"), seconds(f"/proc/{pid}/task/{pid}/stat"))


class ProcessFailed(RuntimeError):
    """A benchmark process exited early or said something unexpected; the message ends with its log."""


class BenchCluster:
    def __init__(self, *, backend: str = "sqlite") -> None:
        self.backend = backend
        self.state_dir = Path(tempfile.mkdtemp(prefix="kstore-bench-"))
        self.config: ClusterConfig | None = None
        self.apistore: asyncio.subprocess.Process | None = None
        self._procs: list[tuple[str, asyncio.subprocess.Process]] = []

    @property
    def cluster_file(self) -> Path:
        return self.state_dir / "cluster.json"

    async def __aenter__(self) -> BenchCluster:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def _start(self) -> None:
        config_file = self.state_dir / "bench.yaml"
        config_file.write_text(f"backend: {self.backend}\nnodes: 0\n")
        self.config = load_config(config_file, state_dir=self.state_dir, base_port=0)
        self.cluster_file.write_text(self.config.to_json())
        (self.state_dir / "logs").mkdir()
        self.apistore = await self._exec("apistore", [str(REPO_ROOT / "cmd" / "apistore.py"),
                                                      "--cluster", str(self.cluster_file)], stdout=False)
        await self._wait_ready(self.apistore, self.config.metrics_url("apistore") + "/readyz")

    async def start_component(self, name: str, *, timeout: float = 120.0,
                              frame_limit: int | None = None) -> asyncio.subprocess.Process:
        """Start the real `cmd/<name>.py --cluster <cluster.json>` (e.g. `pv-controller`) and wait
        for its `/readyz` on the metrics port the config gives it. `frame_limit`: run it through
        `bench.component`, which lifts the bus's decode limit to that many bytes (see there)."""
        assert self.config is not None
        argv = [str(REPO_ROOT / "cmd" / f"{name}.py"), "--cluster", str(self.cluster_file)]
        if frame_limit is not None:
            argv = ["-m", "bench.component", "--frame-limit", str(frame_limit), *argv]
        proc = await self._exec(name, argv, stdout=False)
        await self._wait_ready(proc, self.config.metrics_url(name) + "/readyz", name, timeout)
        return proc

    async def stop(self, proc: asyncio.subprocess.Process) -> None:
        """Stop one process this cluster started (SIGTERM to its group, SIGKILL after the grace)."""
        self._procs = [(n, p) for n, p in self._procs if p is not proc]
        _signal_group(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            _signal_group(proc, signal.SIGKILL)
            await proc.wait()

    async def spawn(self, name: str, module: str, *args: Any) -> asyncio.subprocess.Process:
        """Start `python -m <module> --cluster <cluster.json> <args>`, its stdout piped to us."""
        return await self._exec(name, ["-m", module, "--cluster", str(self.cluster_file), *map(str, args)])

    async def _exec(self, name: str, argv: list[str], *, stdout: bool = True) -> asyncio.subprocess.Process:
        log = os.open(self.log_path(name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, *argv, cwd=REPO_ROOT, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if stdout else log, stderr=log,
                start_new_session=True,  # its own process group: Ctrl-C here does not reach it, close() does
            )
        finally:
            os.close(log)
        self._procs.append((name, proc))
        return proc

    def apistore_cpu(self) -> CpuSnapshot:
        assert self.apistore is not None
        return cpu_snapshot(self.apistore.pid)

    def log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            text = self.log_path(name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def _wait_ready(self, proc: asyncio.subprocess.Process, url: str, name: str = "apistore",
                          timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1.0)) as http:
            while True:
                if proc.returncode is not None:
                    raise ProcessFailed(f"{name} exited with {proc.returncode} before it was ready:\n"
                                        + self.log_tail(name))
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(url) as r:
                        if r.status == 200:
                            return
                if time.monotonic() > deadline:
                    raise ProcessFailed(f"{name} not ready after {timeout}s:\n" + self.log_tail(name))
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop every process this cluster started, then remove the state dir."""
        procs, self._procs = self._procs[::-1], []
        for _, proc in procs:
            _signal_group(proc, signal.SIGTERM)
        for _, proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), STOP_GRACE)
            except TimeoutError:
                _signal_group(proc, signal.SIGKILL)
                await proc.wait()
        shutil.rmtree(self.state_dir, ignore_errors=True)


def _signal_group(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
