"""Run a set of processes: start in dependency order, restart with backoff, stop cleanly.

Design (after uvicorn's `supervisors/multiprocess.py`):
- Each `ProcessSpec` runs as its own OS process in its own session and process group, so
  a signal to the supervisor's terminal does not reach it and a stop reaches its helpers.
  Its stdout and stderr are appended to its log file, behind a marker line per start.
- One `_Child` task per spec: start, poll `ready_url` (the process's `/readyz`), wait for the
  exit, back off, start again. A spec starts only once every spec in `depends_on` has been
  ready at least once.
- Backoff: the first restart waits `Backoff.initial`, each further one twice as long, up to
  `Backoff.max`; a process that ran `Backoff.reset_after` seconds after it got ready starts
  over at `initial`. A process that fails during start-up therefore never restarts in a
  tight loop, and its last log lines are kept for `kstore status` / `kstore up`.
- Signals only queue a request (`request_stop()`): the first stops gracefully (SIGTERM to
  every process group, dependents first and the processes they depend on last, each stage
  given `stop_timeout`, then SIGKILL); a second signal SIGKILLs what is left at once.
- Every change of state is published through `on_change(snapshot)` (the status file).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 20
PROBE_TIMEOUT = 2.0


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    ready_url: str | None  # None: ready as soon as it runs
    log_path: Path
    env: Mapping[str, str] = dataclasses.field(default_factory=dict)  # added to the supervisor's
    depends_on: tuple[str, ...] = ()
    metrics_port: int | None = None


@dataclasses.dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    max: float = 30.0
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        """Wait before the restart that follows `failures` consecutive short runs (0-based)."""
        return min(self.initial * 2**failures, self.max)


@dataclasses.dataclass(frozen=True)
class Timings:
    backoff: Backoff = Backoff()
    ready_poll: float = 0.1  # while starting
    health_poll: float = 1.0  # once ready
    stop_timeout: float = 10.0


@dataclasses.dataclass
class ProcessState:
    """What the status file shows of one process."""

    name: str
    pid: int | None = None
    ready: bool = False
    restarts: int = 0
    metrics_port: int | None = None
    last_exit_code: int | None = None
    state: str = "waiting"  # waiting | starting | running | backoff | stopped
    ever_ready: bool = False
    startup_failures: int = 0  # consecutive exits before it was ever ready
    reason: str = ""  # why it is not ready
    log_path: str = ""
    last_log_lines: list[str] = dataclasses.field(default_factory=list)


def tail(path: Path, lines: int = LOG_TAIL_LINES, marker: bytes | None = None) -> list[str]:
    """The last `lines` lines of a log (after the last `marker` line, if given)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read()
    except OSError:
        return []
    if marker is not None and (at := data.rfind(marker)) >= 0:
        data = data[at:].split(b"\n", 1)[1] if b"\n" in data[at:] else b""
    return data.decode(errors="replace").splitlines()[-lines:]


async def _probe(http: aiohttp.ClientSession, url: str) -> tuple[bool, str]:
    """GET url: (True, "") on 200, else (False, the body or the error)."""
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT)) as resp:
            if resp.status == 200:
                return True, ""
            return False, (await resp.text()).strip()[:200] or f"HTTP {resp.status}"
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        return False, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


class _Child:
    """One spec's start → ready → exit → backoff loop."""

    def __init__(self, spec: ProcessSpec, sup: Supervisor) -> None:
        self.spec = spec
        self.sup = sup
        self.state = ProcessState(name=spec.name, metrics_port=spec.metrics_port, log_path=str(spec.log_path),
                                  reason=f"{', '.join(spec.depends_on)} not ready yet" if spec.depends_on else "")
        self.proc: asyncio.subprocess.Process | None = None
        self.became_ready = asyncio.Event()
        self.stopping = False
        self._wake = asyncio.Event()  # cuts a backoff short when stopping
        self._attempt = 0
        self.ready_at = 0.0  # monotonic time the current process first got ready

    def _marker(self) -> bytes:
        return f"=== kstore supervisor: start {self.spec.name} #{self._attempt}".encode()

    def _set(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        self.sup.changed()

    async def _spawn(self) -> asyncio.subprocess.Process:
        self._attempt += 1
        self.spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.spec.log_path, "ab") as logf:  # noqa: ASYNC230 (a local append, no waiting)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            logf.write(self._marker() + f" at {stamp}: {' '.join(self.spec.argv)}\n".encode())
            logf.flush()
            return await asyncio.create_subprocess_exec(
                *self.spec.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                env={**os.environ, **self.spec.env},
                start_new_session=True,
            )

    async def _watch_ready(self, proc: asyncio.subprocess.Process) -> None:
        """Poll readiness while the process lives: fast until ready, slower after."""
        while proc.returncode is None:
            if self.spec.ready_url is None:
                ok, reason = True, ""
            else:
                ok, reason = await _probe(self.sup.http, self.spec.ready_url)
            if proc.returncode is not None or self.stopping:
                return
            if ok != self.state.ready or reason != self.state.reason:
                if ok and not self.state.ever_ready:
                    self.ready_at = time.monotonic()
                    log.info("%s ready (pid %d)", self.spec.name, proc.pid)
                self._set(ready=ok, reason=reason, ever_ready=self.state.ever_ready or ok,
                          state="running" if ok else self.state.state,
                          startup_failures=0 if ok else self.state.startup_failures)
            if ok:
                self.became_ready.set()
            await asyncio.sleep(self.sup.timings.health_poll if ok else self.sup.timings.ready_poll)

    async def run(self) -> None:
        timings = self.sup.timings
        for dep in self.spec.depends_on:
            await self._wait_or_stop(self.sup.children[dep].became_ready.wait())
        failures = 0
        while not self.stopping:
            try:
                proc = await self._spawn()
            except OSError as e:
                log.error("%s: cannot start %s: %s", self.spec.name, self.spec.argv[0], e)
                self._set(state="backoff", reason=f"cannot start: {e}", last_log_lines=[str(e)],
                          startup_failures=self.state.startup_failures + 1)
                proc = None
            if proc is not None:
                self.proc = proc
                if self.stopping:  # stop() came while it was being spawned
                    _signal_group(proc, signal.SIGTERM)
                self._set(pid=proc.pid, state="starting", ready=False, ever_ready=False,
                          reason="starting", restarts=self.state.restarts + int(self._attempt > 1))
                log.info("%s started (pid %d)", self.spec.name, proc.pid)
                watcher = asyncio.create_task(self._watch_ready(proc))
                code = await proc.wait()
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                if self.stopping:
                    self._set(pid=None, ready=False, last_exit_code=code, state="stopped", reason="stopped")
                    return
                healthy_run = self.state.ever_ready and time.monotonic() - self.ready_at >= timings.backoff.reset_after
                failures = 0 if healthy_run else failures
                lines = tail(self.spec.log_path, marker=self._marker())
                self._set(pid=None, ready=False, last_exit_code=code, state="backoff", reason=f"exited with {code}",
                          last_log_lines=lines,
                          startup_failures=self.state.startup_failures + (not self.state.ever_ready))
                log.warning("%s (pid %d) exited with %s%s", self.spec.name, proc.pid, code,
                            "" if self.state.ever_ready else " before it was ready")
            delay = timings.backoff.delay(failures)
            failures += 1
            log.info("%s: restarting in %.1fs", self.spec.name, delay)
            await self._wait_or_stop(asyncio.sleep(delay))
        self._set(state="stopped", reason="stopped")

    async def _wait_or_stop(self, aw: Coroutine[Any, Any, Any]) -> None:
        """Await `aw`, or less if `stop()` is called meanwhile."""
        task = asyncio.ensure_future(aw)
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([task, wake], return_when=asyncio.FIRST_COMPLETED)
        finally:
            task.cancel()
            wake.cancel()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.stopping = True
        self._wake.set()
        if self.proc is not None:
            _signal_group(self.proc, sig)


class Supervisor:
    """Start `specs`, keep them running until `request_stop()` (or a signal), stop them."""

    def __init__(
        self,
        specs: list[ProcessSpec],
        *,
        timings: Timings = Timings(),
        on_change: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate process names in {names}")
        for spec in specs:
            for dep in spec.depends_on:
                if dep not in names:
                    raise ValueError(f"{spec.name} depends on unknown process {dep!r}")
        self.specs = specs
        self.timings = timings
        self.on_change = on_change
        self.state = "starting"  # starting | running | stopping | stopped
        self.children: dict[str, _Child] = {}
        self._signals: asyncio.Queue[int] = asyncio.Queue()
        self.http: aiohttp.ClientSession  # for the readiness probes, open while run() runs

    # -- state ------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "supervisor": {"pid": os.getpid(), "state": self.state},
            "processes": [dataclasses.asdict(c.state) for c in self.children.values()],
        }

    def changed(self) -> None:
        if self.state == "starting" and self.children and all(c.state.ready for c in self.children.values()):
            self.state = "running"
        if self.on_change is not None:
            try:
                self.on_change(self.snapshot())
            except OSError:
                log.exception("cannot publish the supervisor status")

    # -- signals: handlers only queue ---------------------------------------------------------

    def request_stop(self, sig: int = signal.SIGTERM) -> None:
        """Ask to stop; a second request forces (SIGKILL). Safe from a signal handler."""
        self._signals.put_nowait(sig)

    @contextlib.contextmanager
    def _signal_handlers(self):
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop, sig)
        try:
            yield
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    # -- lifecycle ----------------------------------------------------------------------------

    async def run(self, *, handle_signals: bool = True) -> int:
        """Run until stopped; returns the exit code (0 after a graceful stop)."""
        # no connection limit: one keep-alive connection per process (hundreds of kubelets)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as self.http:
            with self._signal_handlers() if handle_signals else contextlib.nullcontext():
                return await self._run()

    async def _run(self) -> int:
        # startup: one task per process; dependents wait inside their task
        self.children = {spec.name: _Child(spec, self) for spec in self.specs}
        tasks = {name: asyncio.create_task(child.run(), name=f"child-{name}")
                 for name, child in self.children.items()}
        self.changed()
        # main loop: nothing to do but wait for a stop request (or a child task crashing)
        stop_request = asyncio.create_task(self._signals.get())
        done, _ = await asyncio.wait([stop_request, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
        crashed = [t for t in done if t is not stop_request and t.exception() is not None]
        for t in crashed:
            log.error("supervising %s failed", t.get_name(), exc_info=t.exception())
        if not stop_request.done():
            stop_request.cancel()
        log.info("stopping %d processes", len(self.children))
        # shutdown: dependents first, then what they depend on; a second signal forces
        await self._shutdown(tasks)
        return 1 if crashed else 0

    def _stages(self) -> list[list[_Child]]:
        """Children in stop order: those nothing depends on first."""
        remaining = dict(self.children)
        stages = []
        while remaining:
            needed = {d for c in remaining.values() for d in c.spec.depends_on}
            stage = [c for name, c in remaining.items() if name not in needed] or list(remaining.values())
            stages.append(stage)
            for c in stage:
                del remaining[c.spec.name]
        return stages

    async def _shutdown(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        self.state = "stopping"
        self.changed()
        forced = asyncio.create_task(self._signals.get())
        try:
            for stage in self._stages():
                # SIGTERM the stage, give it stop_timeout, SIGKILL what is left
                for child in stage:
                    child.stop(signal.SIGTERM)
                pending = [tasks[c.spec.name] for c in stage]
                if await self._wait_stage(pending, forced):
                    for child in stage:
                        if child.proc is not None and child.proc.returncode is None:
                            log.warning("%s did not stop in time; killing it", child.spec.name)
                            _signal_group(child.proc, signal.SIGKILL)
                    await asyncio.gather(*pending, return_exceptions=True)
        finally:
            forced.cancel()
            for t in tasks.values():
                t.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            self.state = "stopped"
            self.changed()

    async def _wait_stage(self, pending: list[asyncio.Task[None]], forced: asyncio.Task[int]) -> set[asyncio.Task[None]]:
        """Wait for a stage's tasks until stop_timeout or a second stop request; the unfinished."""
        deadline = time.monotonic() + self.timings.stop_timeout
        waiting = set(pending)
        while waiting and not forced.done():
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                break
            done, _ = await asyncio.wait([*waiting, forced], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiting -= done
        if forced.done() and waiting:
            log.warning("second stop request: killing every process now")
        return waiting
