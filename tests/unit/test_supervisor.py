"""The Supervisor with real child processes: tiny Python scripts written by the tests.

`server.py NAME PORT READY_AFTER TERM_LOG [ignore-term]` serves /readyz (503 until
READY_AFTER seconds have passed, then 200) and, on SIGTERM, appends "NAME <monotonic time>"
to TERM_LOG and exits 0 (or ignores it). `crash.py` fails at start-up like a bad config.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kstore.config import free_ports
from kstore.supervisor.cleanup import pid_alive
from kstore.supervisor.cluster import STATE_ENV
from kstore.supervisor.processes import Backoff, ProcessSpec, Supervisor, Timings
from kstore.supervisor.status import read_status

SERVER = r'''
import http.server, os, signal, sys, time
name, port, ready_after, term_log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
ignore_term = sys.argv[5:] == ["ignore-term"]
start = time.monotonic()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = time.monotonic() - start >= ready_after
        self.send_response(200 if ok else 503)
        self.end_headers()
        self.wfile.write(b"ok" if ok else b"warming up")

    def log_message(self, *args):
        pass

def on_term(signum, frame):
    with open(term_log, "a") as f:
        f.write(f"{name} {time.monotonic()}\n")
    if not ignore_term:
        os._exit(0)

signal.signal(signal.SIGTERM, on_term)
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(f"{name} serving on {port}", flush=True)
server.serve_forever()
'''

CRASH = r'''
import sys
print("loading config", flush=True)
sys.exit("crash.py: bad config: nodes.count: invalid value -1")
'''

FAST = Timings(backoff=Backoff(initial=0.2, max=30.0, reset_after=60.0), ready_poll=0.05, health_poll=0.2,
               stop_timeout=5.0)


@pytest.fixture
def scripts(state_dir: Path) -> dict[str, Path]:
    d = state_dir / "scripts"
    d.mkdir()
    (d / "server.py").write_text(SERVER)
    (d / "crash.py").write_text(CRASH)
    return {"server": d / "server.py", "crash": d / "crash.py"}


def server_spec(state_dir: Path, scripts: dict[str, Path], name: str, *, ready_after: float = 0.0,
                depends_on: tuple[str, ...] = (), ignore_term: bool = False) -> ProcessSpec:
    port = free_ports(1)[0]
    return ProcessSpec(
        name=name,
        argv=(sys.executable, str(scripts["server"]), name, str(port), str(ready_after),
              str(state_dir / "terms.log"), *(["ignore-term"] if ignore_term else [])),
        ready_url=f"http://127.0.0.1:{port}/readyz",
        log_path=state_dir / "logs" / f"{name}.log",
        env={STATE_ENV: str(state_dir)},
        depends_on=depends_on,
        metrics_port=port,
    )


async def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `pred` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def terms(state_dir: Path) -> dict[str, float]:
    """name → monotonic time it got SIGTERM."""
    path = state_dir / "terms.log"
    lines = path.read_text().split("\n") if path.exists() else []
    return {name: float(t) for name, t in (line.split() for line in lines if line)}


class Running:
    """A Supervisor run in this event loop, stopped at the end of the test."""

    def __init__(self, specs: list[ProcessSpec], timings: Timings = FAST) -> None:
        self.snapshots: list[dict[str, Any]] = []
        self.sup = Supervisor(specs, timings=timings, on_change=self.snapshots.append)

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.sup.run(handle_signals=False))
        await until(lambda: self.sup.children, what="children")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if not self.task.done():
            self.sup.request_stop()
            await asyncio.wait_for(self.task, 30)

    def state(self, name: str) -> Any:
        return self.sup.children[name].state

    async def stop(self) -> int:
        self.sup.request_stop()
        return await asyncio.wait_for(self.task, 30)


async def test_dependents_start_after_ready_and_stop_first(state_dir: Path, scripts: dict[str, Path]) -> None:
    store = server_spec(state_dir, scripts, "store", ready_after=0.5)
    ctl = server_spec(state_dir, scripts, "ctl", depends_on=("store",))
    other = server_spec(state_dir, scripts, "other", depends_on=("store",))
    async with Running([store, ctl, other]) as run:
        await until(lambda: all(run.state(n).ready for n in ("store", "ctl", "other")), what="all ready")
        pids = [run.state(n).pid for n in ("store", "ctl", "other")]
        assert all(pids) and len(set(pids)) == 3
        assert run.sup.state == "running"
        # no snapshot shows a dependent started before the store was ready
        for snap in run.snapshots:
            by_name = {p["name"]: p for p in snap["processes"]}
            if by_name["ctl"]["pid"] or by_name["other"]["pid"]:
                assert by_name["store"]["ever_ready"], snap
        assert await run.stop() == 0
    t = terms(state_dir)
    assert set(t) == {"store", "ctl", "other"}
    assert t["store"] > max(t["ctl"], t["other"])  # the store stops last
    assert all(not pid_alive(p) for p in pids)
    assert all(run.state(n).state == "stopped" and run.state(n).last_exit_code == 0 for n in ("store", "ctl", "other"))
    assert run.snapshots[-1]["supervisor"]["state"] == "stopped"


async def test_killed_process_is_restarted_once(state_dir: Path, scripts: dict[str, Path]) -> None:
    async with Running([server_spec(state_dir, scripts, "k")]) as run:
        old = await until(lambda: run.state("k").ready and run.state("k").pid, what="k ready")
        os.kill(old, signal.SIGKILL)
        new = await until(lambda: run.state("k").ready and run.state("k").pid != old and run.state("k").pid,
                          what="k restarted and ready")
        assert new != old and not pid_alive(old)
        assert run.state("k").restarts == 1
        assert run.state("k").last_exit_code == -signal.SIGKILL
        log = (state_dir / "logs" / "k.log").read_text()
        assert log.count("=== kstore supervisor: start k") == 2


async def test_startup_crash_backs_off_and_keeps_the_error(state_dir: Path, scripts: dict[str, Path]) -> None:
    spec = ProcessSpec(name="bad", argv=(sys.executable, str(scripts["crash"])), ready_url="http://127.0.0.1:1/readyz",
                       log_path=state_dir / "logs" / "bad.log")
    timings = Timings(backoff=Backoff(initial=0.1, max=0.4, reset_after=60.0), ready_poll=0.05)
    async with Running([spec], timings) as run:
        await asyncio.sleep(2.5)
        starts = {s["processes"][0]["pid"] for s in run.snapshots} - {None}
        st = run.state("bad")
        # a tight loop would start ~50 times (python starts in ~40 ms); the backoff
        # (0.1, 0.2, 0.4, 0.4, ... s) allows 5 to 8
        assert 4 <= len(starts) <= 9, starts
        assert st.restarts == len(starts) - 1
        assert st.startup_failures >= 4 and not st.ready and not st.ever_ready
        assert st.last_exit_code == 1
        assert any("nodes.count: invalid value -1" in line for line in st.last_log_lines), st.last_log_lines
        assert not any("=== kstore supervisor" in line for line in st.last_log_lines)  # only the last run's lines


async def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(initial=1.0, max=30.0)
    assert [b.delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_process_that_ignores_sigterm_is_killed(state_dir: Path, scripts: dict[str, Path]) -> None:
    spec = server_spec(state_dir, scripts, "stubborn", ignore_term=True)
    timings = Timings(ready_poll=0.05, stop_timeout=0.5)
    async with Running([spec], timings) as run:
        pid = await until(lambda: run.state("stubborn").ready and run.state("stubborn").pid, what="ready")
        started = time.monotonic()
        assert await run.stop() == 0
        assert time.monotonic() - started < 3.0
    assert "stubborn" in terms(state_dir)  # it got SIGTERM first
    assert not pid_alive(pid)
    assert run.state("stubborn").last_exit_code == -signal.SIGKILL


async def test_second_stop_request_kills_at_once(state_dir: Path, scripts: dict[str, Path]) -> None:
    spec = server_spec(state_dir, scripts, "stubborn", ignore_term=True)
    async with Running([spec], Timings(ready_poll=0.05, stop_timeout=60.0)) as run:
        pid = await until(lambda: run.state("stubborn").ready and run.state("stubborn").pid, what="ready")
        run.sup.request_stop()
        await until(lambda: "stubborn" in terms(state_dir), what="SIGTERM delivered")
        assert not run.task.done()
        run.sup.request_stop()
        await asyncio.wait_for(run.task, 5.0)
    assert not pid_alive(pid)


async def test_stop_while_waiting_for_a_dependency(state_dir: Path, scripts: dict[str, Path]) -> None:
    never = server_spec(state_dir, scripts, "never", ready_after=3600)
    waiting = server_spec(state_dir, scripts, "waiting", depends_on=("never",))
    async with Running([never, waiting]) as run:
        await until(lambda: run.state("never").pid, what="never started")
        assert run.state("waiting").pid is None and run.state("waiting").state == "waiting"
        assert await asyncio.wait_for(run.stop(), 5.0) == 0


DRIVER = r'''
import asyncio, json, sys
from pathlib import Path
from kstore.supervisor.processes import ProcessSpec, Supervisor, Timings
from kstore.supervisor.status import write_status

state = Path(sys.argv[2])
specs = [ProcessSpec(name=s["name"], argv=tuple(s["argv"]), ready_url=s["ready_url"], log_path=Path(s["log_path"]),
                     env=s["env"], depends_on=tuple(s["depends_on"]))
         for s in json.loads(Path(sys.argv[1]).read_text())]
sup = Supervisor(specs, timings=Timings(ready_poll=0.05, stop_timeout=5.0),
                 on_change=lambda snap: write_status(state, snap))
sys.exit(asyncio.run(sup.run()))
'''


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_signal_to_supervisor_stops_everything_and_exits_0(
    sig: int, state_dir: Path, scripts: dict[str, Path]
) -> None:
    specs = [server_spec(state_dir, scripts, "store"), server_spec(state_dir, scripts, "a", depends_on=("store",)),
             server_spec(state_dir, scripts, "b", depends_on=("store",))]
    (state_dir / "specs.json").write_text(json.dumps([
        {"name": s.name, "argv": s.argv, "ready_url": s.ready_url, "log_path": str(s.log_path), "env": dict(s.env),
         "depends_on": s.depends_on} for s in specs]))
    (state_dir / "driver.py").write_text(DRIVER)
    sup = await asyncio.create_subprocess_exec(
        sys.executable, str(state_dir / "driver.py"), str(state_dir / "specs.json"), str(state_dir),
        env={**os.environ, STATE_ENV: str(state_dir)})
    try:
        def all_ready() -> list[int] | None:
            snap = read_status(state_dir)
            procs = snap["processes"] if snap else []
            return [p["pid"] for p in procs] if len(procs) == 3 and all(p["ready"] for p in procs) else None

        pids = await until(all_ready, what="all ready")
        sup.send_signal(sig)
        assert await asyncio.wait_for(sup.wait(), 20) == 0
        assert all(not pid_alive(p) for p in pids)
        assert set(terms(state_dir)) == {"store", "a", "b"}
        assert read_status(state_dir)["supervisor"]["state"] == "stopped"
    finally:
        if sup.returncode is None:
            sup.kill()
            await sup.wait()
