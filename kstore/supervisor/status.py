"""The supervisor's status file and lock, and `kstore status`'s table.

- `<state>/supervisor.lock`: the running supervisor holds an exclusive `flock` on it for its
  whole life and writes its pid into it. The lock, not the pid, says whether a supervisor
  runs for a state dir (a pid can be reused; a lock dies with its process), so a second
  `kstore up` on the same state dir is refused.
- `<state>/supervisor.json`: the supervisor's snapshot (its pid and state, and per
  process: name, pid, ready, restarts, metrics port, last exit code, last log lines),
  rewritten atomically (tmp + rename) on every change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO, Any

from kstore.supervisor.files import write_atomic

LOCK_NAME = "supervisor.lock"
STATUS_NAME = "supervisor.json"
LOCK_ATTEMPTS = 20


class AlreadyRunning(RuntimeError):
    pass


def write_status(state_dir: Path, snapshot: dict[str, Any]) -> None:
    write_atomic(state_dir / STATUS_NAME, json.dumps(snapshot, indent=1))


def read_status(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATUS_NAME).read_text())
    except (OSError, ValueError):
        return None


def take_lock(state_dir: Path) -> IO[str]:
    """Lock the state dir for this supervisor; keep the returned file open while running."""
    state_dir.mkdir(parents=True, exist_ok=True)
    f = open(state_dir / LOCK_NAME, "a+")  # held open for the process's life
    for attempt in range(LOCK_ATTEMPTS):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            # a `live_supervisor()` probe holds it for an instant; a supervisor holds it for good
            if attempt == LOCK_ATTEMPTS - 1:
                f.seek(0)
                pid = f.read().strip()
                f.close()
                raise AlreadyRunning(f"a kstore supervisor (pid {pid or '?'}) already runs for {state_dir}") from None
            time.sleep(0.05)
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def live_supervisor(state_dir: Path) -> int | None:
    """The pid of the supervisor running for `state_dir`, or None if none runs."""
    try:
        f = open(state_dir / LOCK_NAME)
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            # held: a supervisor runs; its pid is in the file
            with contextlib.suppress(ValueError):
                return int(f.read().strip())
            return 0
        return None


def format_table(snapshot: dict[str, Any]) -> str:
    rows = [("NAME", "PID", "READY", "RESTARTS", "METRICS")]
    for p in snapshot.get("processes", []):
        rows.append((
            p["name"],
            str(p["pid"]) if p.get("pid") else "-",
            "yes" if p.get("ready") else "no",
            str(p.get("restarts", 0)),
            str(p["metrics_port"]) if p.get("metrics_port") else "-",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def not_ready_report(snapshot: dict[str, Any]) -> str:
    """For each process that is not ready: why, and its last log lines."""
    out = []
    for p in snapshot.get("processes", []):
        if p.get("ready"):
            continue
        out.append(f"{p['name']}: not ready ({p.get('state', '?')}: {p.get('reason') or 'no reason given'}); "
                   f"log: {p.get('log_path', '?')}")
        out.extend(f"    {line}" for line in p.get("last_log_lines", [])[-10:])
    return "\n".join(out)
