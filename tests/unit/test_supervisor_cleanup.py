"""`kstore down`'s cleanup: it removes every process, mount and loop device of a state dir,
and nothing of a neighbour whose path merely starts the same way (`state` vs `state-2`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kstore.supervisor import cleanup
from kstore.supervisor.cluster import STATE_ENV

SLEEPER = "import time; time.sleep(600)"


def sleeper(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A process that sleeps; `args` only show in its command line."""
    return subprocess.Popen([sys.executable, "-c", SLEEPER, *args], env={**os.environ, **(env or {})})


@pytest.fixture
def neighbour(state_dir: Path) -> Iterator[Path]:
    """A sibling dir whose path has the state dir's path as a string prefix."""
    path = state_dir.parent / f"{state_dir.name}-2"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_kills_leftovers_by_environment_and_command_line(state_dir: Path, neighbour: Path) -> None:
    by_env = sleeper(env={STATE_ENV: str(state_dir)})
    by_arg = sleeper("--cluster", str(state_dir / "cluster.json"))
    by_flag = sleeper(f"--state-dir={state_dir}")
    other_env = sleeper(env={STATE_ENV: str(neighbour)})
    other_arg = sleeper(str(neighbour / "cluster.json"))
    procs = [by_env, by_arg, by_flag, other_env, other_arg]
    try:
        killed = cleanup.kill_leftovers(state_dir.resolve())
        assert sorted(killed) == sorted(p.pid for p in (by_env, by_arg, by_flag))
        for p in (by_env, by_arg, by_flag):
            assert p.wait(5) == -15
        assert other_env.poll() is None and other_arg.poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_never_kills_itself_or_its_parents(state_dir: Path) -> None:
    code = ("import sys; from pathlib import Path; from kstore.supervisor.cleanup import kill_leftovers; "
            "print(kill_leftovers(Path(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, str(state_dir.resolve())], capture_output=True, text=True,
                         timeout=30, env={**os.environ, STATE_ENV: str(state_dir)})
    assert (out.returncode, out.stdout.strip()) == (0, "[]"), out.stderr


def test_mount_points_are_matched_by_path_components() -> None:
    root = Path("/x/state")
    assert cleanup.inside("/x/state/a", root) and cleanup.inside("/x/state", root)
    assert not cleanup.inside("/x/state-2/a", root) and not cleanup.inside("/x/state/../other", root)
    assert cleanup._unescape(r"/x/state/with\040space") == "/x/state/with space"


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def is_mounted(path: Path) -> bool:
    return subprocess.run(["mountpoint", "-q", str(path)]).returncode == 0


def attach_loop(image: Path) -> str:
    subprocess.run(["truncate", "-s", "1M", str(image)], check=True)
    return subprocess.run(["losetup", "-f", "--show", str(image)], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def privileged(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(probe)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and the right to mount")
    subprocess.run(["umount", str(probe)], check=True)


def test_down_unmounts_deepest_first_detaches_loops_and_removes(privileged: None, state_dir: Path,
                                                                  neighbour: Path) -> None:
    nested = state_dir / "nodes" / "n1" / "kubelet"
    (nested / "plugins").mkdir(parents=True)
    mount("-t", "tmpfs", "tmpfs", str(nested))
    (nested / "pods" / "p1").mkdir(parents=True)
    (state_dir / "pool").mkdir()
    mount("--bind", str(state_dir / "pool"), str(nested / "pods" / "p1"))  # a bind mount under a mount
    stacked = state_dir / "stacked"
    stacked.mkdir()
    mount("-t", "tmpfs", "tmpfs", str(stacked))
    mount("-t", "tmpfs", "tmpfs", str(stacked))  # two mounts on one point
    spaced = state_dir / "with space"
    spaced.mkdir()
    mount("-t", "tmpfs", "tmpfs", str(spaced))
    ours = attach_loop(state_dir / "pool" / "disk.img")
    mount("-t", "tmpfs", "tmpfs", str(neighbour))
    theirs = attach_loop(neighbour / "disk.img")
    try:
        assert len(cleanup.mounts_under(state_dir.resolve())) == 5
        report = cleanup.down(state_dir)
        assert report.problems == []
        assert len(report.unmounted) == 5
        assert report.detached == [f"{ours} ({state_dir / 'pool' / 'disk.img'})"]
        assert report.removed and not state_dir.exists()
        assert cleanup.mounts_under(state_dir.resolve()) == []
        # the neighbour's mount and loop device are untouched
        assert is_mounted(neighbour)
        assert theirs in subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    finally:
        subprocess.run(["losetup", "-d", theirs], capture_output=True)
        subprocess.run(["umount", str(neighbour)], capture_output=True)
        state_dir.mkdir(exist_ok=True)  # for the fixture's own teardown


def test_keep_leaves_the_files(privileged: None, state_dir: Path) -> None:
    (state_dir / "m").mkdir()
    mount("-t", "tmpfs", "tmpfs", str(state_dir / "m"))
    (state_dir / "store.db").write_text("data")
    report = cleanup.down(state_dir, keep=True)
    assert report.unmounted == [str(state_dir.resolve() / "m")] and not report.removed
    assert (state_dir / "store.db").read_text() == "data"
    assert not is_mounted(state_dir / "m")
