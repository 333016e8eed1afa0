"""A real apistore OS process for integration tests: start, kill -9, restart on the same state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kstore.config import ClusterConfig, load_config

REPO = Path(__file__).resolve().parents[2]


class ApistoreProcess:
    def __init__(self, state_dir: Path, *, backend: str = "sqlite") -> None:
        cfg = load_config(None, state_dir=state_dir, base_port=0, nodes=1)
        if backend != cfg.backend:
            import dataclasses

            cfg = dataclasses.replace(cfg, backend=backend)
        state_dir.mkdir(parents=True, exist_ok=True)
        cfg.cluster_file.write_text(cfg.to_json())
        self.cluster: ClusterConfig = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = state_dir / "apistore.log"

    def start(self, timeout: float = 20.0) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "cmd" / "apistore.py"), "--cluster", str(self.cluster.cluster_file)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        url = self.cluster.metrics_url("apistore") + "/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"apistore exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=0.5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)  # polling a readiness endpoint, not synchronising on a sleep
        raise TimeoutError(f"apistore not ready in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
