"""The mount utilities without root: `run_command` against real child processes (timeouts that
kill a whole process group, an output cap), mountinfo parsing, the RealMounter's command lines
and refusals against a fake runner / sysfs / mountinfo, and the SimulatedMounter's records
(persistence, concurrency, data flow through simulated binds, safety)."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kstore.volume.mount import (
    BUSY,
    FAILED,
    MS_BIND,
    MS_NOATIME,
    MS_RDONLY,
    MS_RELATIME,
    MS_REMOUNT,
    NOT_FOUND,
    TIMEOUT,
    CommandResult,
    MountError,
    MountRoots,
    RealMounter,
    SimulatedMounter,
    UnsafePath,
    find_mount,
    make_mounter,
    mount_flags,
    parse_mountinfo,
    privileged,
    run_command,
)
from kstore.volume.pool import Pool

MI = 1 << 20


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


def image(state: Path, name: str = "pvc-1", size: int = 64 * MI) -> Path:
    return Pool(state).provision(backend="block", name=name, size_bytes=size).path


# ---- run_command


def test_run_command_returns_output_and_status() -> None:
    result = run_command(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=5)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_run_command_kills_the_whole_group_at_the_deadline() -> None:
    # the child forks a sleeper that keeps stdout open: waiting for EOF alone would hang
    start = time.monotonic()
    with pytest.raises(MountError) as e:
        run_command(["sh", "-c", "sleep 30 & echo started; sleep 30"], timeout=0.5)
    assert e.value.reason == TIMEOUT
    assert "timed out after 0.5s" in str(e.value) and "started" in str(e.value)
    assert time.monotonic() - start < 5


def test_run_command_caps_output() -> None:
    with pytest.raises(MountError) as e:
        run_command(["yes"], timeout=10, max_output=4096)
    assert e.value.reason == FAILED and "printed more than 4096 bytes" in str(e.value)


def test_run_command_missing_executable() -> None:
    with pytest.raises(MountError) as e:
        run_command(["/nonexistent/kstore-tool"], timeout=1)
    assert e.value.reason == NOT_FOUND and "cannot run /nonexistent/kstore-tool" in str(e.value)


# ---- mountinfo


def test_parse_mountinfo_fields_and_escapes() -> None:
    text = (
        "36 35 98:0 / /mnt1 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
        "37 36 7:3 /sub /st/pods/u\\040x/vol ro,relatime shared:5 - ext4 /dev/loop3 rw\n"
        "38 36 0:51 / /st/tmp rw - tmpfs tmpfs rw,size=1024k\n"
    )
    mounts = parse_mountinfo(text)
    assert [m.target for m in mounts] == [Path("/mnt1"), Path("/st/pods/u x/vol"), Path("/st/tmp")]
    bind = mounts[1]
    assert (bind.source, bind.fstype, bind.root, bind.device_id, bind.read_only) == \
        ("/dev/loop3", "ext4", "/sub", "7:3", True)
    assert mounts[2].fstype == "tmpfs" and not mounts[2].read_only


def test_find_mount_without_parsing_the_table() -> None:
    text = (
        "40 1 7:1 / /st/g rw - ext4 /dev/loop1 rw\n"
        "41 1 7:1 /st/g /st/pod rw - ext4 /dev/loop1 rw\n"  # /st/g here is a root field, not a target
        "42 1 7:2 / /st/g rw - ext4 /dev/loop2 rw\n"  # stacked on top of the first
        "43 1 0:9 / /st/a\\040b\\134c rw - tmpfs tmpfs rw"
    )
    parsed = parse_mountinfo(text)
    cases = [  # target → index of the line that answers (None: not a mount point)
        ("/st/g", 2),
        ("/st/pod", 1),
        ("/st/a b\\c", 3),
        ("/st", None),
        ("/st/g/x", None),
    ]
    for target, want in cases:
        assert find_mount(text, target) == (None if want is None else parsed[want]), target


# ---- RealMounter against a fake machine


@dataclasses.dataclass
class FakeMachine:
    """Fake sysfs + mountinfo + command runner; `answers` maps a command name to a function."""

    root: Path
    calls: list[list[str]] = dataclasses.field(default_factory=list)
    answers: dict[str, Callable[[list[str]], CommandResult]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / "sys" / "block").mkdir(parents=True)
        self.mountinfo.write_text("")

    @property
    def mountinfo(self) -> Path:
        return self.root / "mountinfo"

    @property
    def sys_block(self) -> Path:
        return self.root / "sys" / "block"

    def loop(self, n: int, backing: Path | str | None, size: int = 64 * MI) -> str:
        entry = self.sys_block / f"loop{n}"
        (entry / "loop").mkdir(parents=True, exist_ok=True)
        (entry / "dev").write_text(f"7:{n}\n")
        (entry / "size").write_text(f"{size // 512}\n")
        if backing is not None:
            (entry / "loop" / "backing_file").write_text(f"{backing}\n")
        return f"/dev/loop{n}"

    def mount(self, target: Path, source: str, fstype: str = "ext4", *, devno: str = "7:0", options: str = "rw",
              root: str = "/") -> None:
        with open(self.mountinfo, "a") as f:
            n = len(self.mountinfo.read_text().splitlines()) + 100
            f.write(f"{n} 1 {devno} {root} {target} {options} - {fstype} {source} rw\n")

    def run(self, argv: list[str], *, timeout: float) -> CommandResult:
        self.calls.append(argv)
        answer = self.answers.get(argv[0])
        if answer is not None:
            return answer(argv)
        return CommandResult(tuple(argv), 0, "", "")


FLAG_NAMES = ((MS_RDONLY, "ro"), (MS_REMOUNT, "remount"), (MS_NOATIME, "noatime"), (MS_BIND, "bind"),
              (MS_RELATIME, "relatime"))


class FakeSyscalls:
    """mount(2) / umount2(2) recorded into the machine's calls as ["mount(2)", source, target,
    fstype, flags by name, data] and ["umount(2)", target]; `answers["mount(2)"]` /
    `answers["umount(2)"]` may raise OSError instead."""

    def __init__(self, machine: FakeMachine) -> None:
        self.machine = machine

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        names = "+".join(name for bit, name in FLAG_NAMES if flags & bit)
        call = ["mount(2)", source, target, fstype, names, data]
        self.machine.calls.append(call)
        if (answer := self.machine.answers.get("mount(2)")) is not None:
            answer(call)

    def umount(self, target: str) -> None:
        call = ["umount(2)", target]
        self.machine.calls.append(call)
        if (answer := self.machine.answers.get("umount(2)")) is not None:
            answer(call)


def raises(code: int) -> Callable[[list[str]], CommandResult]:
    def answer(argv: list[str]) -> CommandResult:
        raise OSError(code, os.strerror(code))
    return answer


def ok(stdout: str = "") -> Callable[[list[str]], CommandResult]:
    return lambda argv: CommandResult(tuple(argv), 0, stdout, "")


def fail(code: int, stderr: str) -> Callable[[list[str]], CommandResult]:
    return lambda argv: CommandResult(tuple(argv), code, "", stderr)


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path / "machine")


@pytest.fixture
def real(state: Path, machine: FakeMachine) -> RealMounter:
    return RealMounter(state, runner=machine.run, mountinfo=machine.mountinfo, sys_block=machine.sys_block,
                       syscalls=FakeSyscalls(machine))


def test_real_attach_runs_losetup_and_reuses_an_attached_device(state: Path, machine: FakeMachine,
                                                                  real: RealMounter) -> None:
    img = image(state)
    machine.answers["losetup"] = ok("/dev/loop4\n")
    assert real.attach_loop(img) == "/dev/loop4"
    assert machine.calls == [["losetup", "--find", "--show", str(img)]]
    machine.loop(4, img)
    machine.calls.clear()
    assert real.attach_loop(img) == "/dev/loop4"  # idempotent: no second device
    assert machine.calls == []
    assert real.find_loop(img) == "/dev/loop4"
    assert [lo.device for lo in real.list_loops()] == ["/dev/loop4"]


def test_real_a_deleted_image_is_not_the_current_one(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    img = image(state)
    machine.loop(2, f"{img} (deleted)")
    assert real.find_loop(img) is None
    assert real.list_loops()[0].deleted


@pytest.mark.parametrize("where", ["outside", "symlink", "state root file"])
def test_real_attach_refuses_images_outside_the_pool(state: Path, tmp_path: Path, real: RealMounter,
                                                     machine: FakeMachine, where: str) -> None:
    outside = tmp_path / "disk.img"
    outside.write_bytes(b"\0" * 1024)
    if where == "outside":
        target = outside
    elif where == "symlink":
        (state / "pool" / "block").mkdir(parents=True)
        target = state / "pool" / "block" / "evil"
        target.symlink_to(outside)
    else:
        target = state / "loose.img"
        target.write_bytes(b"\0")
    with pytest.raises(UnsafePath):
        real.attach_loop(target)
    assert machine.calls == []


def test_real_detach_only_our_idle_loop_devices(state: Path, tmp_path: Path, machine: FakeMachine,
                                                real: RealMounter) -> None:
    img = image(state)
    ours = machine.loop(0, img)
    theirs = machine.loop(1, tmp_path / "someone-elses.img")
    with pytest.raises(UnsafePath, match="outside the state dir"):
        real.detach_loop(theirs)
    with pytest.raises(UnsafePath, match="not a loop device"):
        real.detach_loop("/dev/vda")
    with pytest.raises(MountError) as e:
        real.detach_loop("/dev/loop9")
    assert e.value.reason == NOT_FOUND
    machine.mount(state / "nodes" / "n1" / "g", ours, devno="7:0")
    with pytest.raises(MountError) as e:
        real.detach_loop(ours)
    assert e.value.reason == BUSY and "still mounted" in str(e.value)
    assert machine.calls == []
    machine.mountinfo.write_text("")
    real.detach_loop(ours)
    assert machine.calls == [["losetup", "-d", "/dev/loop0"]]


def test_real_mkfs_only_when_blkid_finds_nothing(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    device = machine.loop(0, image(state))
    machine.answers["blkid"] = fail(2, "")  # nothing found
    assert real.ensure_filesystem(device) is True
    assert machine.calls[-1] == ["mkfs.ext4", "-F", "-q", "-E", "lazy_itable_init=1,lazy_journal_init=1", device]
    machine.calls.clear()
    machine.answers["blkid"] = ok("ext4\n")
    assert real.ensure_filesystem(device) is False
    assert [c[0] for c in machine.calls] == ["blkid"]
    machine.calls.clear()
    machine.answers["blkid"] = fail(8, "ambivalent result")
    with pytest.raises(MountError, match="not formatting it"):
        real.ensure_filesystem(device)
    assert [c[0] for c in machine.calls] == ["blkid"]


def test_real_mkfs_refused_outside_the_pool(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    # a loop device backed by a file in the state dir, but not a pool image (a node's root)
    other = state / "nodes" / "n1" / "root" / "disk.img"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"\0" * 4096)
    device = machine.loop(0, other)
    machine.answers["blkid"] = fail(2, "")
    with pytest.raises(UnsafePath, match="not an image of the emulated pool"):
        real.ensure_filesystem(device)
    with pytest.raises(UnsafePath):
        real.resize_filesystem(device)
    assert not any(c[0] in ("mkfs.ext4", "resize2fs") for c in machine.calls)


def test_real_mkfs_failure_is_reported(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    device = machine.loop(0, image(state))
    machine.answers["blkid"] = fail(2, "")
    machine.answers["mkfs.ext4"] = fail(1, "mkfs.ext4: No space left on device while writing out inode tables")
    with pytest.raises(MountError) as e:
        real.ensure_filesystem(device)
    assert e.value.reason == FAILED and "No space left on device" in str(e.value)


def test_real_mount_and_bind_command_lines(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    device = machine.loop(0, image(state))
    target = state / "nodes" / "n1" / "kubelet" / "plugins" / "g"
    real.mount(device, target, "ext4", ["rw", "noatime"])
    assert target.is_dir()
    pod = state / "nodes" / "n1" / "kubelet" / "pods" / "u" / "volumes" / "v"
    real.bind_mount(target, pod, read_only=True)
    mapped = state / "nodes" / "n1" / "kubelet" / "plugins" / "map" / "u"
    real.bind_mount(device, mapped)
    assert mapped.is_file()  # a device is bound onto a file
    tmp = state / "nodes" / "n1" / "tmp"
    real.mount_tmpfs(tmp, size_bytes=MI, mode=0o777)
    assert machine.calls == [
        ["mount(2)", device, str(target), "ext4", "noatime", ""],
        ["mount(2)", str(target), str(pod), "", "bind", ""],
        ["mount(2)", "", str(pod), "", "ro+remount+bind", ""],  # a bind is made read-only by a remount
        ["mount(2)", device, str(mapped), "", "bind", ""],
        ["mount(2)", "tmpfs", str(tmp), "tmpfs", "", f"mode=777,size={MI}"],
    ]


def test_mount_options_split_into_flags_and_data() -> None:
    cases = [
        ([], (0, "")),
        (["rw"], (0, "")),
        (["ro", "noatime"], (MS_RDONLY | MS_NOATIME, "")),
        (["ro", "rw"], (0, "")),  # the last word wins, as in mount(8)
        (["defaults", "discard", "errors=remount-ro"], (0, "discard,errors=remount-ro")),
        (["remount", "bind", "ro"], (MS_REMOUNT | MS_BIND | MS_RDONLY, "")),
        (["mode=755", "size=1024"], (0, "mode=755,size=1024")),
    ]
    for options, want in cases:
        assert mount_flags(options) == want, options


def test_real_read_only_bind_that_cannot_be_made_read_only_is_undone(state: Path, machine: FakeMachine,
                                                                      real: RealMounter) -> None:
    src = state / "pool" / "shared" / "x"
    src.mkdir(parents=True)
    target = state / "nodes" / "n1" / "p"

    def mount(call: list[str]) -> None:
        if "remount" in call[4]:
            raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    machine.answers["mount(2)"] = mount  # type: ignore[assignment]
    with pytest.raises(MountError) as e:
        real.bind_mount(src, target, read_only=True)
    assert e.value.message == f"make {target} read-only: Operation not permitted (EPERM)"
    assert machine.calls[-1] == ["umount(2)", str(target)]


@pytest.mark.parametrize("call", ["mount", "bind target", "bind source", "tmpfs", "unmount"])
def test_real_refuses_targets_outside_the_state_dir(state: Path, tmp_path: Path, machine: FakeMachine,
                                                    real: RealMounter, call: str) -> None:
    device = machine.loop(0, image(state))
    outside = tmp_path / "elsewhere"
    inside = state / "nodes" / "n1" / "x"
    with pytest.raises(UnsafePath):
        if call == "mount":
            real.mount(device, outside, "ext4")
        elif call == "bind target":
            real.bind_mount(state, outside)
        elif call == "bind source":
            real.bind_mount(Path("/etc"), inside)
        elif call == "tmpfs":
            real.mount_tmpfs(state)  # the state dir itself
        else:
            real.unmount(Path("/"))
    assert machine.calls == []


def test_real_unmount_errors(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    target = state / "nodes" / "n1" / "m"
    target.mkdir(parents=True)
    machine.answers["umount(2)"] = raises(errno.EINVAL)  # what the kernel says of a path that is no mount point
    with pytest.raises(MountError) as e:
        real.unmount(target)
    assert e.value.reason == NOT_FOUND
    machine.answers["umount(2)"] = raises(errno.EBUSY)
    with pytest.raises(MountError) as e:
        real.unmount(target)
    assert e.value.reason == BUSY and e.value.message == f"umount {target}: target is busy (EBUSY)"


def test_real_mount_listing_and_refs(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    g = state / "nodes" / "n1" / "kubelet" / "plugins" / "g"
    p1 = state / "nodes" / "n1" / "kubelet" / "pods" / "a" / "v"
    p2 = state / "nodes" / "n1" / "kubelet" / "pods" / "b" / "v"
    machine.mount(Path("/elsewhere"), "/dev/vda", devno="253:0")
    machine.mount(g, "/dev/loop0", devno="7:0")
    machine.mount(p1, "/dev/loop0", devno="7:0")
    machine.mount(p2, "/dev/loop0", devno="7:0", root="/sub")
    assert real.is_mount_point(g) and not real.is_mount_point(g.parent)
    assert real.mount_refs(g) == sorted([p1, p2])
    under = real.mounts_under(state)
    assert [m.target for m in under][-1] == g  # deepest first
    assert len(under) == 3


def test_real_resize_offline_when_online_is_denied(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    device = machine.loop(0, image(state))
    g = state / "nodes" / "n1" / "g"
    pod = state / "nodes" / "n1" / "pod"
    machine.mount(g, device, options="rw,relatime")
    machine.mount(pod, device, options="ro,relatime")
    attempts = []

    def resize2fs(argv: list[str]) -> CommandResult:
        attempts.append(argv)
        if len(attempts) == 1:
            return CommandResult(tuple(argv), 1, "", "resize2fs: Permission denied to resize filesystem")
        return CommandResult(tuple(argv), 0, "", "")

    machine.answers["resize2fs"] = resize2fs
    real.resize_filesystem(device)
    assert machine.calls == [
        ["resize2fs", device],
        ["umount(2)", str(pod)],
        ["umount(2)", str(g)],
        ["e2fsck", "-f", "-p", device],
        ["resize2fs", device],
        ["mount(2)", device, str(g), "ext4", "relatime", ""],
        ["mount(2)", str(g), str(pod), "", "bind", ""],
        ["mount(2)", "", str(pod), "", "ro+remount+bind", ""],
    ]


# ---- SimulatedMounter


@pytest.fixture
def sim(state: Path) -> SimulatedMounter:
    return SimulatedMounter(state)


def test_sim_loop_devices_persist_and_are_reused(state: Path, sim: SimulatedMounter) -> None:
    a, b = image(state, "a"), image(state, "b")
    da, db = sim.attach_loop(a), sim.attach_loop(b)
    assert (da, db) == ("/dev/loop-sim-0", "/dev/loop-sim-1")
    assert sim.attach_loop(a) == da
    again = SimulatedMounter(state)  # a restarted process sees the same devices
    assert again.find_loop(b) == db
    assert {lo.device: lo.backing_file for lo in again.list_loops()} == {da: a, db: b}
    again.detach_loop(da)
    assert sim.find_loop(a) is None and sim.loop_backing_file(da) is None
    assert sim.attach_loop(a) == da  # the lowest free number again


def test_sim_concurrent_attaches_of_one_image_get_one_device(state: Path) -> None:
    img = image(state)
    devices: list[str] = []
    errors: list[BaseException] = []

    def attach() -> None:
        try:
            devices.append(SimulatedMounter(state).attach_loop(img))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=attach) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(devices)) == 1
    assert len(SimulatedMounter(state).list_loops()) == 1


def test_sim_concurrent_attaches_of_many_images_get_distinct_devices(state: Path) -> None:
    images = [image(state, f"v{i}") for i in range(12)]
    devices: dict[Path, str] = {}
    threads = [threading.Thread(target=lambda i=i: devices.__setitem__(i, SimulatedMounter(state).attach_loop(i)))
               for i in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(devices.values())) == len(images)


def test_sim_a_recreated_image_is_a_new_blank_disk(state: Path, sim: SimulatedMounter) -> None:
    pool = Pool(state)
    img = image(state)
    device = sim.attach_loop(img)
    assert sim.ensure_filesystem(device) is True
    assert sim.ensure_filesystem(device) is False  # formatted once
    sim.detach_loop(device)
    handle = [h for h in pool.list_volumes() if h.name == "pvc-1"][0]
    pool.delete(handle)
    image(state)
    device = sim.attach_loop(img)
    assert sim.filesystem_type(device) is None


def test_sim_data_flows_through_binds_and_survives_remount(state: Path, sim: SimulatedMounter) -> None:
    device = sim.attach_loop(image(state))
    sim.ensure_filesystem(device)
    g = state / "nodes" / "n1" / "g"
    pod = state / "nodes" / "n1" / "pods" / "u" / "v"
    sim.mount(device, g, "ext4")
    sim.bind_mount(g, pod)
    (pod / "file").write_text("data")
    assert (g / "file").read_text() == "data"
    assert sim.mount_refs(g) == [pod]
    with pytest.raises(MountError) as e:
        sim.detach_loop(device)
    assert e.value.reason == BUSY
    sim.unmount(pod)
    assert pod.is_dir() and not pod.is_symlink() and not any(pod.iterdir())
    sim.unmount(g)
    assert not sim.is_mount_point(g) and not any(g.iterdir())
    sim.mount(device, g, "ext4")
    assert (g / "file").read_text() == "data"
    sim.unmount(g)


def test_sim_mount_rules(state: Path, tmp_path: Path, sim: SimulatedMounter) -> None:
    device = sim.attach_loop(image(state))
    g = state / "nodes" / "n1" / "g"
    with pytest.raises(MountError, match="no filesystem"):
        sim.mount(device, g, "ext4")  # blank: a real mount fails too
    sim.ensure_filesystem(device)
    sim.mount(device, g, "ext4")
    with pytest.raises(MountError) as e:
        sim.mount(device, g, "ext4")
    assert e.value.reason == BUSY
    inner = g / "sub"
    sim.mount_tmpfs(inner)
    with pytest.raises(MountError) as e:
        sim.unmount(g)  # a mount below it
    assert e.value.reason == BUSY
    sim.unmount(inner)
    sim.unmount(g)
    with pytest.raises(MountError) as e:
        sim.unmount(g)
    assert e.value.reason == NOT_FOUND
    with pytest.raises(UnsafePath):
        sim.bind_mount(Path("/etc"), state / "nodes" / "n1" / "etc")
    with pytest.raises(UnsafePath):
        sim.mount(device, tmp_path / "outside", "ext4")
    with pytest.raises(UnsafePath):
        sim.mount("/dev/vda", state / "nodes" / "n1" / "vda", "ext4")
    with pytest.raises(UnsafePath):
        sim.attach_loop(tmp_path)
    assert sim.mounts_under(state) == []


def test_sim_tmpfs_takes_its_files_with_it(state: Path, sim: SimulatedMounter) -> None:
    t = state / "nodes" / "n1" / "secret"
    sim.mount_tmpfs(t, size_bytes=MI)
    (t / "token").write_text("x")
    assert sim.statvfs(t).capacity_bytes == MI
    assert sim.mount_at(t).fstype == "tmpfs"  # type: ignore[union-attr]
    sim.unmount(t)
    assert t.is_dir() and not any(t.iterdir())


def test_sim_resize_follows_the_device_size(state: Path, sim: SimulatedMounter) -> None:
    pool = Pool(state)
    handle = pool.provision(backend="block", name="pvc-1", size_bytes=64 * MI)
    device = sim.attach_loop(handle.path)
    sim.ensure_filesystem(device)
    g = state / "nodes" / "n1" / "g"
    sim.mount(device, g, "ext4")
    assert sim.statvfs(g).capacity_bytes == 64 * MI
    pool.expand(handle, 128 * MI)
    sim.resize_filesystem(device)  # the device has not seen the new size yet: no change
    assert sim.statvfs(g).capacity_bytes == 64 * MI
    sim.refresh_loop_capacity(device)
    assert sim.device_size(device) == 128 * MI
    sim.resize_filesystem(device)
    assert sim.statvfs(g).capacity_bytes == 128 * MI
    sim.unmount(g)


def test_sim_bind_of_a_file_and_of_a_device(state: Path, sim: SimulatedMounter) -> None:
    src = state / "pool" / "shared" / "x" / "conf"
    src.parent.mkdir(parents=True)
    src.write_text("v")
    target = state / "nodes" / "n1" / "c" / "conf"
    sim.bind_mount(src, target, read_only=True)
    assert target.read_text() == "v" and sim.mount_at(target).read_only  # type: ignore[union-attr]
    sim.unmount(target)
    assert target.is_file() and target.read_text() == ""
    device = sim.attach_loop(image(state))
    ref = state / "nodes" / "n1" / "map" / "uid"
    sim.bind_mount(device, ref)
    assert ref.is_file() and sim.mount_at(ref).source == device  # type: ignore[union-attr]
    with pytest.raises(MountError):
        sim.detach_loop(device)
    sim.unmount(ref)
    sim.detach_loop(device)


def test_make_mounter_choice(state: Path) -> None:
    assert isinstance(make_mounter(state, True), SimulatedMounter)
    chosen = make_mounter(state, None)
    assert isinstance(chosen, RealMounter if privileged() else SimulatedMounter)
    if not privileged():
        with pytest.raises(MountError):
            make_mounter(state, False)
    assert os.path.isdir(state / "simulated")


# ---- health of what was mounted (a volume that disappears under its pod)


def test_real_mount_health(state: Path, machine: FakeMachine, real: RealMounter) -> None:
    img = image(state)
    g, pod, shared = state / "nodes" / "n1" / "g", state / "nodes" / "n1" / "pod", state / "nodes" / "n1" / "s"
    device = machine.loop(3, img)
    machine.mount(g, device, devno="7:3")
    machine.mount(pod, device, devno="7:3")
    machine.mount(shared, "/dev/vda", devno="254:0", root=f"{state}/pool/shared/pv//deleted")
    cases = [
        (g, None),
        (pod, None),
        (state / "nodes" / "n1" / "never", f"{state}/nodes/n1/never is no longer mounted"),
        (shared, f"the directory mounted at {shared} was deleted"),
    ]
    for path, want in cases:
        assert real.mount_health(path) == want, path
    machine.loop(3, f"{img} (deleted)")
    assert real.mount_health(pod) == f"its image {img} was deleted under it"
    assert real.device_health("/dev/loop9") == "its device /dev/loop9 is no longer attached"
    assert real.device_health("/dev/vda") is None  # not one of ours: nothing to say


def test_sim_mount_health(state: Path, sim: SimulatedMounter) -> None:
    img = image(state)
    device = sim.attach_loop(img)
    sim.ensure_filesystem(device)
    g, pod = state / "nodes" / "n1" / "g", state / "nodes" / "n1" / "pod"
    sim.mount(device, g, "ext4")
    sim.bind_mount(g, pod)
    shared_src, shared = state / "pool" / "shared" / "pv", state / "nodes" / "n1" / "s"
    shared_src.mkdir(parents=True)
    sim.bind_mount(shared_src, shared)
    assert [sim.mount_health(p) for p in (g, pod, shared)] == [None, None, None]
    shared_src.rmdir()
    assert sim.mount_health(shared) == f"the directory mounted at {shared} was deleted"
    img.unlink()
    assert sim.mount_health(g) == f"its image {img} was deleted under it"
    assert sim.mount_health(state / "nodes" / "n1" / "x") == f"{state}/nodes/n1/x is no longer mounted"


def test_real_mkfs_on_a_full_pool_says_so(state: Path, machine: FakeMachine, real: RealMounter,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    img = image(state)
    device = machine.loop(1, img)
    machine.answers["blkid"] = fail(2, "")
    machine.answers["mkfs.ext4"] = fail(1, "mkfs.ext4: Input/output error while writing out and closing file system")
    free = {"blocks": 1 << 30}

    def statvfs(path: object) -> os.statvfs_result:
        return os.statvfs_result((4096, 4096, 1 << 20, 0, free["blocks"] // 4096, 0, 0, 0, 0, 255))

    monkeypatch.setattr("kstore.volume.mount.os.statvfs", statvfs)
    with pytest.raises(MountError) as e:
        real.ensure_filesystem(device)
    assert "no space left" not in e.value.message  # room in the pool: the error is mkfs's own
    free["blocks"] = 0
    with pytest.raises(MountError) as e:
        real.ensure_filesystem(device)
    assert e.value.message.endswith(f"Input/output error while writing out and closing file system: no space left "
                                    f"in the pool: the filesystem holding {img} has 0 bytes free (the image is "
                                    "sparse: its blocks are allocated as they are written)")


def test_mount_roots_by_statx(tmp_path: Path) -> None:
    roots = MountRoots()
    if roots.is_mount_root("/") is None:
        pytest.skip("this kernel or libc has no statx with STATX_ATTR_MOUNT_ROOT (Linux < 5.8): the table is read")
    cases = [("/", True), ("/proc", True), (str(tmp_path), False), (str(tmp_path / "missing"), False)]
    for path, want in cases:
        assert roots.is_mount_root(path) is want, path


def test_real_loop_index_finds_devices_without_reading_every_one(state: Path, machine: FakeMachine,
                                                                 real: RealMounter) -> None:
    img = image(state)
    index = state / "run" / "loops"
    machine.answers["losetup"] = ok("/dev/loop4\n")
    assert real.find_loop(img) is None
    assert real.attach_loop(img) == "/dev/loop4"
    machine.loop(4, img)
    (record,) = index.glob("*.json")
    assert json.loads(record.read_text()) == {"image": str(img), "device": "/dev/loop4"}
    for n in range(5, 40):  # other devices are not read to find this one
        machine.loop(n, f"/elsewhere/{n}")
        (machine.sys_block / f"loop{n}" / "loop" / "backing_file").chmod(0)
    assert real.find_loop(img) == "/dev/loop4"

    # an attach cut short (the record says "device unknown") or a device swapped behind
    # kstore's back: every device is looked at
    record.write_text(json.dumps({"image": str(img), "device": None}))
    assert real.find_loop(img) == "/dev/loop4"
    record.write_text(json.dumps({"image": str(img), "device": "/dev/loop9"}))
    assert real.find_loop(img) == "/dev/loop4"

    machine.calls.clear()
    real.detach_loop("/dev/loop4")
    assert machine.calls == [["losetup", "-d", "/dev/loop4"]]
    assert not list(index.iterdir())  # record and lock gone
