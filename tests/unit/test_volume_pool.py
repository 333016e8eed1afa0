"""The emulated storage pool against real files in a temporary state dir: sparse images,
marked directories, atomic creation, idempotent deletion, scrubbing, growing, a full pool, and
handles that try to leave the pool."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kstore.config import ConfigError, load_config
from kstore.volume.handle import VolumeHandle
from kstore.volume.pool import MARKER, Pool, PoolError

GI, MI = 1 << 30, 1 << 20


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def pool(state: Path) -> Pool:
    return Pool(state)


def tree(root: Path) -> list[str]:
    """Every entry under root, relative, sorted (hidden ones too)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ---- provision


@dataclasses.dataclass(frozen=True)
class ProvisionCase:
    name: str
    kwargs: dict[str, Any]
    path: str  # relative to the state dir
    image: bool
    node: str | None = None


PROVISION = [
    ProvisionCase("block: sparse image", {"backend": "block", "name": "pvc-1", "size_bytes": GI},
                  "pool/block/pvc-1", image=True),
    ProvisionCase("block, volumeMode Block: the same image", {"backend": "block", "name": "pvc-1", "size_bytes": GI,
                                                             "volume_mode": "Block"}, "pool/block/pvc-1", image=True),
    ProvisionCase("shared: marked directory", {"backend": "shared", "name": "pvc-2", "size_bytes": 5 * GI},
                  "pool/shared/pvc-2", image=False),
    ProvisionCase("local: directory on the node", {"backend": "local", "name": "pvc-3", "size_bytes": GI,
                                                   "node": "node-2"}, "nodes/node-2/local/pvc-3", image=False,
                  node="node-2"),
    ProvisionCase("local, volumeMode Block: image on the node",
                  {"backend": "local", "name": "pvc-4", "size_bytes": GI, "node": "node-1", "volume_mode": "Block"},
                  "nodes/node-1/local/pvc-4", image=True, node="node-1"),
    ProvisionCase("node is ignored off local", {"backend": "block", "name": "pvc-5", "size_bytes": 3 * MI,
                                                "node": "node-1", "params": {"fsType": "xfs"}},
                  "pool/block/pvc-5", image=True),
]


@pytest.mark.parametrize("case", PROVISION, ids=lambda c: c.name)
def test_provision(pool: Pool, state: Path, case: ProvisionCase) -> None:
    handle = pool.provision(**case.kwargs)
    size = case.kwargs["size_bytes"]
    path = state / case.path
    assert handle == VolumeHandle(case.kwargs["backend"], case.kwargs["name"], path, size, case.node)
    assert handle.volume_id == f"{case.kwargs['backend']}/{case.kwargs['name']}"
    st = os.lstat(path)
    if case.image:
        assert path.is_file() and st.st_size == size
        assert st.st_blocks * 512 < MI  # sparse: nothing allocated
    else:
        assert path.is_dir() and st.st_mode & 0o777 == 0o777
        marker = json.loads((path / MARKER).read_text())
        assert marker["size"] == size and marker["name"] == case.kwargs["name"] and marker["created"] > 0
        assert os.listdir(path) == [MARKER]
    assert [p for p in tree(state) if Path(p).name.startswith(".tmp-")] == []  # no temporary left
    assert pool.exists(handle)
    assert pool.list_volumes() == [handle]
    assert pool.used_bytes() == size


def test_provision_is_idempotent_for_the_same_size(pool: Pool, state: Path) -> None:
    first = pool.provision(backend="block", name="pvc-1", size_bytes=GI)
    with open(first.path, "r+b") as f:  # data written since must survive the retry
        f.write(b"data")
    assert pool.provision(backend="block", name="pvc-1", size_bytes=GI) == first
    with open(first.path, "rb") as f:
        assert f.read(4) == b"data"
    shared = pool.provision(backend="shared", name="pvc-2", size_bytes=GI)
    assert pool.provision(backend="shared", name="pvc-2", size_bytes=GI) == shared
    assert pool.used_bytes() == 2 * GI


BAD_PROVISION = [
    ("same name, other size", {"backend": "block", "name": "pvc-1", "size_bytes": 2 * GI}, "AlreadyExists"),
    ("same name, other kind", {"backend": "local", "name": "pvc-l", "size_bytes": GI, "node": "n1",
                               "volume_mode": "Block"}, "AlreadyExists"),
    ("zero size", {"backend": "block", "name": "pvc-z", "size_bytes": 0}, "Invalid"),
    ("negative size", {"backend": "shared", "name": "pvc-z", "size_bytes": -1}, "Invalid"),
    ("size not an int", {"backend": "block", "name": "pvc-z", "size_bytes": 1.5}, "Invalid"),
    ("unknown backend", {"backend": "tape", "name": "pvc-z", "size_bytes": GI}, "Invalid"),
    ("shared cannot be Block", {"backend": "shared", "name": "pvc-z", "size_bytes": GI, "volume_mode": "Block"},
     "Invalid"),
    ("local without node", {"backend": "local", "name": "pvc-z", "size_bytes": GI}, "Invalid"),
    ("name escapes", {"backend": "block", "name": "../../etc", "size_bytes": GI}, "Unsafe"),
    ("name with a slash", {"backend": "shared", "name": "a/b", "size_bytes": GI}, "Unsafe"),
    ("hidden name", {"backend": "shared", "name": ".tmp-x", "size_bytes": GI}, "Unsafe"),
    ("node escapes", {"backend": "local", "name": "pvc-z", "size_bytes": GI, "node": "../.."}, "Unsafe"),
]


@pytest.mark.parametrize(("name", "kwargs", "reason"), BAD_PROVISION, ids=[b[0] for b in BAD_PROVISION])
def test_provision_refused(pool: Pool, state: Path, name: str, kwargs: dict[str, Any], reason: str) -> None:
    pool.provision(backend="block", name="pvc-1", size_bytes=GI)
    pool.provision(backend="local", name="pvc-l", size_bytes=GI, node="n1")
    before = tree(state.parent)
    with pytest.raises(PoolError) as e:
        pool.provision(**kwargs)
    assert e.value.reason == reason, e.value
    assert tree(state.parent) == before  # nothing made, nothing touched
    assert pool.used_bytes() == 2 * GI


def test_image_appears_under_its_final_name_only_complete(
        pool: Pool, state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = state / "pool" / "block" / "pvc-1"
    seen: list[tuple[bool, list[str]]] = []
    real_ftruncate = os.ftruncate

    def watching_ftruncate(fd: int, size: int) -> None:
        seen.append((final.exists(), os.listdir(final.parent)))
        real_ftruncate(fd, size)

    monkeypatch.setattr(os, "ftruncate", watching_ftruncate)
    pool.provision(backend="block", name="pvc-1", size_bytes=GI)
    [(final_existed, names)] = seen
    assert not final_existed
    assert len(names) == 1 and names[0].startswith(".tmp-")  # sized under a temporary name
    assert os.listdir(final.parent) == ["pvc-1"]


def failing(err: int) -> Callable[..., None]:
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(err, os.strerror(err))

    return fail


DISK_FAILURES = [
    # (backend, function to break, errno, reason)
    ("block", "ftruncate", errno.ENOSPC, "NoSpace"),
    ("block", "link", errno.EDQUOT, "NoSpace"),
    ("block", "ftruncate", errno.EIO, "IOError"),
    ("shared", "rename", errno.ENOSPC, "NoSpace"),
    ("shared", "chmod", errno.EPERM, "PermissionDenied"),
    ("local", "mkdir", errno.EACCES, "PermissionDenied"),
    ("local", "mkdir", errno.EROFS, "PermissionDenied"),
]


@pytest.mark.parametrize(("backend", "function", "err", "reason"), DISK_FAILURES)
def test_disk_failure_leaves_nothing_behind(pool: Pool, state: Path, monkeypatch: pytest.MonkeyPatch,
                                            backend: str, function: str, err: int, reason: str) -> None:
    (state / "pool" / backend).mkdir(parents=True)
    (state / "nodes" / "n1" / "local").mkdir(parents=True)
    before = tree(state)
    monkeypatch.setattr(os, function, failing(err))
    with pytest.raises(PoolError) as e:
        pool.provision(backend=backend, name="pvc-1", size_bytes=GI, node="n1")
    monkeypatch.undo()
    assert e.value.reason == reason
    assert os.strerror(err) in str(e.value) and "pvc-1" in str(e.value)
    assert tree(state) == before
    assert pool.used_bytes() == 0


# ---- capacity: "disk full"


def test_full_pool_refuses_and_leaves_nothing(state: Path) -> None:
    pool = Pool.from_config({"pool": {"capacity": "2Gi"}}, state_dir=state)
    a = pool.provision(backend="block", name="pvc-a", size_bytes=GI)
    pool.provision(backend="shared", name="pvc-b", size_bytes=512 * MI)
    before = tree(state)
    with pytest.raises(PoolError) as e:
        pool.provision(backend="local", name="pvc-c", size_bytes=600 * MI, node="n1")
    assert e.value.reason == "NoSpace"
    assert str(e.value) == ("volume local/pvc-c: the pool is full: 600Mi wanted, 512Mi of 2Gi free "
                            "(raise pool.capacity in the cluster config, or delete volumes)")
    assert tree(state) == before
    # Growing past it is refused too, and the volume keeps its size.
    with pytest.raises(PoolError) as e:
        pool.expand(a, 2 * GI)
    assert e.value.reason == "NoSpace" and os.stat(a.path).st_size == GI
    # Deleting frees the space.
    pool.delete(a)
    pool.provision(backend="local", name="pvc-c", size_bytes=600 * MI, node="n1")
    assert pool.used_bytes() == 512 * MI + 600 * MI


def test_capacity_counts_what_is_already_on_disk(state: Path) -> None:
    Pool(state).provision(backend="block", name="pvc-a", size_bytes=GI)
    Pool(state).provision(backend="local", name="pvc-b", size_bytes=GI, node="n1")
    pool = Pool(state, capacity=2 * GI + MI)
    assert pool.used_bytes() == 2 * GI
    with pytest.raises(PoolError, match="the pool is full"):
        pool.provision(backend="shared", name="pvc-c", size_bytes=2 * MI)
    pool.provision(backend="shared", name="pvc-c", size_bytes=MI)


POOL_CONFIG = [
    ({}, None),
    ({"pool": None}, None),
    ({"pool": {}}, None),
    ({"pool": {"capacity": "100Gi"}}, 100 * GI),
    ({"pool": {"capacity": 1000}}, 1000),
    ({"pool": {"capacity": "1.5Gi"}}, 3 * GI // 2),
    ({"pool": {"capacity": 0}}, 0),
]


@pytest.mark.parametrize(("raw", "capacity"), POOL_CONFIG)
def test_pool_config(state: Path, raw: dict[str, Any], capacity: int | None) -> None:
    assert Pool.from_config(raw, state_dir=state).capacity == capacity


def test_pool_from_a_cluster_config(state: Path) -> None:
    cluster = load_config(None, state_dir=state)
    cluster = dataclasses.replace(cluster, raw={**cluster.raw, "pool": {"capacity": "10Gi"}})
    pool = Pool.from_config(cluster)
    assert (pool.state_dir, pool.capacity) == (state, 10 * GI)
    with pytest.raises(TypeError, match="needs state_dir"):
        Pool.from_config({})


BAD_POOL_CONFIG = [
    ({"pool": "100Gi"}, "pool: invalid value '100Gi': must be a mapping"),
    ({"pool": {"size": "1Gi"}}, "pool.size: unknown key (known: capacity)"),
    ({"pool": {"capacity": "lots"}}, "pool.capacity: invalid value 'lots': must be a quantity of bytes like 100Gi"),
    ({"pool": {"capacity": "-1Gi"}}, "pool.capacity: invalid value '-1Gi'"),
    ({"pool": {"capacity": True}}, "pool.capacity: invalid value True"),
]


@pytest.mark.parametrize(("raw", "message"), BAD_POOL_CONFIG)
def test_bad_pool_config(state: Path, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        Pool.from_config(raw, state_dir=state)
    assert str(e.value).startswith(message)


# ---- delete, recycle, expand, usage

VOLUMES = [
    ("block", {"backend": "block", "name": "pvc-1", "size_bytes": 4 * MI}),
    ("shared", {"backend": "shared", "name": "pvc-1", "size_bytes": 4 * MI}),
    ("local", {"backend": "local", "name": "pvc-1", "size_bytes": 4 * MI, "node": "n1"}),
    ("local Block", {"backend": "local", "name": "pvc-1", "size_bytes": 4 * MI, "node": "n1", "volume_mode": "Block"}),
]
VOLUME_IDS = [v[0] for v in VOLUMES]


def fill(handle: VolumeHandle) -> None:
    """Write data into a volume: 1 MiB at offset 1 MiB of an image, files and a subdirectory
    (with a symlink to a file outside) into a directory."""
    if handle.path.is_file():
        with open(handle.path, "r+b") as f:
            f.seek(MI)
            f.write(b"x" * MI)
        return
    (handle.path / "file").write_bytes(b"y" * MI)
    (handle.path / "sub" / "deeper").mkdir(parents=True)
    (handle.path / "sub" / "deeper" / "f").write_text("z")
    (handle.path / ".hidden").write_text("h")


@pytest.mark.parametrize(("name", "kwargs"), VOLUMES, ids=VOLUME_IDS)
def test_delete_is_idempotent(pool: Pool, state: Path, name: str, kwargs: dict[str, Any]) -> None:
    handle = pool.provision(**kwargs)
    fill(handle)
    pool.delete(handle)
    assert not os.path.lexists(handle.path)
    assert [p for p in tree(state) if "pvc-1" in p] == []  # no renamed leftovers either
    assert not pool.exists(handle) and pool.list_volumes() == [] and pool.used_bytes() == 0
    pool.delete(handle)  # again: nothing to do
    assert pool.used_bytes() == 0


@pytest.mark.parametrize(("name", "kwargs"), VOLUMES, ids=VOLUME_IDS)
def test_recycle_scrubs_contents(pool: Pool, name: str, kwargs: dict[str, Any]) -> None:
    handle = pool.provision(**kwargs)
    fill(handle)
    assert pool.usage(handle) >= MI
    pool.recycle(handle)
    assert pool.exists(handle)
    if handle.path.is_file():
        data = handle.path.read_bytes()
        assert len(data) == handle.size and data.count(0) == handle.size  # zeroed, same size
    else:
        assert os.listdir(handle.path) == [MARKER]
        assert json.loads((handle.path / MARKER).read_text())["size"] == handle.size
    assert pool.usage(handle) == 0
    assert pool.list_volumes() == [handle]


@pytest.mark.parametrize(("name", "kwargs"), VOLUMES, ids=VOLUME_IDS)
def test_expand_grows(pool: Pool, name: str, kwargs: dict[str, Any]) -> None:
    handle = pool.provision(**kwargs)
    fill(handle)
    grown = pool.expand(handle, 8 * MI)
    assert grown == dataclasses.replace(handle, size=8 * MI)
    if handle.path.is_file():
        st = os.stat(handle.path)
        assert st.st_size == 8 * MI and st.st_blocks * 512 < 4 * MI  # still sparse
        assert handle.path.read_bytes()[MI:2 * MI] == b"x" * MI  # data kept
    else:
        assert json.loads((handle.path / MARKER).read_text())["size"] == 8 * MI
        assert (handle.path / "file").read_bytes() == b"y" * MI
    assert pool.list_volumes() == [grown]
    assert pool.used_bytes() == 8 * MI
    assert pool.expand(handle, 8 * MI) == grown  # same size again: no-op, even from the old handle
    with pytest.raises(PoolError) as e:
        pool.expand(grown, 6 * MI)
    assert e.value.reason == "Invalid" and "cannot shrink" in str(e.value)


@pytest.mark.parametrize("operation", ["recycle", "expand", "usage"])
def test_missing_volume_is_not_found(pool: Pool, state: Path, operation: str) -> None:
    handle = VolumeHandle("block", "pvc-gone", state / "pool" / "block" / "pvc-gone", GI)
    with pytest.raises(PoolError) as e:
        getattr(pool, operation)(*((handle, 2 * GI) if operation == "expand" else (handle,)))
    assert e.value.reason == "NotFound"
    assert not pool.exists(handle)


def test_delete_failure_is_reported(pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    handle = pool.provision(backend="block", name="pvc-1", size_bytes=GI)
    monkeypatch.setattr(os, "unlink", failing(errno.EACCES))
    with pytest.raises(PoolError) as e:
        pool.delete(handle)
    monkeypatch.undo()
    assert e.value.reason == "PermissionDenied" and pool.exists(handle) and pool.used_bytes() == GI


# ---- safety: nothing outside the pool is ever touched


@pytest.fixture
def outside(state: Path) -> Path:
    """A directory next to the state dir with a file the pool must never touch."""
    path = state.parent / "precious"
    path.mkdir()
    (path / "data").write_text("keep me")
    return path


def unsafe_handles(state: Path, outside: Path) -> list[tuple[str, VolumeHandle]]:
    shared = state / "pool" / "shared"
    return [
        ("name ../../precious", VolumeHandle("shared", "../../precious", shared / "../../precious", GI)),
        ("name ..", VolumeHandle("shared", "..", shared / "..", GI)),
        ("name with a slash", VolumeHandle("shared", "a/../../../precious", outside, GI)),
        ("path outside the pool", VolumeHandle("shared", "precious", outside, GI)),
        ("path relative", VolumeHandle("shared", "pvc-1", Path("pool/shared/pvc-1"), GI)),
        ("path of another volume", VolumeHandle("shared", "pvc-1", shared / "pvc-2", GI)),
        ("block path in shared", VolumeHandle("block", "pvc-1", shared / "pvc-1", GI)),
        ("node escapes", VolumeHandle("local", "precious", state / "nodes" / ".." / ".." / "precious", GI, "..")),
        ("local path on another node", VolumeHandle("local", "pvc-1", state / "nodes" / "n2" / "local" / "pvc-1",
                                                    GI, "n1")),
    ]


OPERATIONS: list[tuple[str, Callable[[Pool, VolumeHandle], object]]] = [
    ("delete", lambda pool, h: pool.delete(h)),
    ("recycle", lambda pool, h: pool.recycle(h)),
    ("expand", lambda pool, h: pool.expand(h, 2 * GI)),
    ("exists", lambda pool, h: pool.exists(h)),
    ("usage", lambda pool, h: pool.usage(h)),
]


@pytest.mark.parametrize(("operation", "run"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_unsafe_handles_are_refused(pool: Pool, state: Path, outside: Path, operation: str,
                                    run: Callable[[Pool, VolumeHandle], object]) -> None:
    pool.provision(backend="shared", name="pvc-1", size_bytes=GI)
    pool.provision(backend="shared", name="pvc-2", size_bytes=GI)
    pool.provision(backend="local", name="pvc-1", size_bytes=GI, node="n2")
    before = tree(state.parent)
    for name, handle in unsafe_handles(state, outside):
        with pytest.raises(PoolError) as e:
            run(pool, handle)
        assert e.value.reason == "Unsafe", f"{name}: {e.value}"
        assert "refusing" in str(e.value)
    assert tree(state.parent) == before
    assert (outside / "data").read_text() == "keep me"


@pytest.mark.parametrize(("operation", "run"), OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_symlinks_out_of_the_pool_are_refused(pool: Pool, state: Path, outside: Path, operation: str,
                                              run: Callable[[Pool, VolumeHandle], object]) -> None:
    # A volume replaced by a symlink to the outside, and a whole backend directory symlinked out.
    shared = state / "pool" / "shared"
    shared.mkdir(parents=True)
    (shared / "pvc-1").symlink_to(outside)
    (state / "pool" / "block").symlink_to(outside)
    handles = [VolumeHandle("shared", "pvc-1", shared / "pvc-1", GI),
               VolumeHandle("block", "data", state / "pool" / "block" / "data", GI)]
    for handle in handles:
        with pytest.raises(PoolError) as e:
            run(pool, handle)
        assert e.value.reason == "Unsafe", e.value
    assert (outside / "data").read_text() == "keep me"
    with pytest.raises(PoolError) as e:
        pool.provision(backend="block", name="data", size_bytes=GI)
    assert e.value.reason == "Unsafe"
    assert os.listdir(outside) == ["data"] and (outside / "data").read_text() == "keep me"


def test_foreign_entries_are_not_volumes(pool: Pool, state: Path) -> None:
    shared = state / "pool" / "shared"
    shared.mkdir(parents=True)
    (shared / "not-ours").mkdir()  # a directory without a marker
    (shared / "not-ours" / "f").write_text("x")
    (state / "pool" / "block").mkdir()
    (state / "pool" / "block" / "a-dir").mkdir()  # a directory where an image belongs
    handle = VolumeHandle("shared", "not-ours", shared / "not-ours", GI)
    for op in ("delete", "recycle", "exists"):
        with pytest.raises(PoolError) as e:
            getattr(pool, op)(handle)
        assert e.value.reason == "Unsafe" and "not a kstore volume" in str(e.value)
    with pytest.raises(PoolError) as e:
        pool.provision(backend="shared", name="not-ours", size_bytes=GI)
    assert e.value.reason == "Unsafe"
    assert (shared / "not-ours" / "f").read_text() == "x"
    assert pool.list_volumes() == []


# ---- listing and crash leftovers


def test_list_and_clean_what_a_crash_left(pool: Pool, state: Path) -> None:
    block = pool.provision(backend="block", name="pvc-b", size_bytes=GI)
    shared = pool.provision(backend="shared", name="pvc-s", size_bytes=2 * GI)
    local = pool.provision(backend="local", name="pvc-l", size_bytes=3 * GI, node="n1")
    # What a kill -9 in the middle of creating or deleting leaves: hidden temporary entries.
    half_image = state / "pool" / "block" / ".tmp-0a1b2c-pvc-x"
    half_image.write_bytes(b"")
    half_dir = state / "pool" / "shared" / ".tmp-0a1b2c-pvc-y"
    half_dir.mkdir()
    half_deleted = state / "nodes" / "n1" / "local" / ".del-3d4e5f-pvc-z"
    (half_deleted / "sub").mkdir(parents=True)
    (half_deleted / MARKER).write_text('{"size": 1}')
    keep = state / "pool" / "shared" / ".not-a-temp"
    keep.write_text("")

    assert pool.list_volumes() == [block, shared, local]
    assert pool.used_bytes() == 6 * GI
    assert sorted(pool.clean_temp()) == sorted([half_image, half_dir, half_deleted])
    assert not half_image.exists() and not half_dir.exists() and not half_deleted.exists() and keep.exists()
    assert pool.list_volumes() == [block, shared, local]


def test_usage_counts_allocated_bytes(pool: Pool) -> None:
    image = pool.provision(backend="block", name="pvc-1", size_bytes=64 * MI)
    directory = pool.provision(backend="shared", name="pvc-2", size_bytes=64 * MI)
    assert pool.usage(image) == 0 and pool.usage(directory) == 0
    fill(image)
    fill(directory)
    assert MI <= pool.usage(image) < 2 * MI
    assert MI <= pool.usage(directory) < 2 * MI


# ---- handles as PV attributes


def test_handle_attributes_round_trip(state: Path) -> None:
    for handle in (VolumeHandle("block", "pvc-1", state / "pool" / "block" / "pvc-1", GI),
                   VolumeHandle("local", "pvc-2", state / "nodes" / "n1" / "local" / "pvc-2", 5, "n1")):
        attrs = handle.to_attributes()
        assert all(k.startswith("kstore.io/") and isinstance(v, str) for k, v in attrs.items())
        assert VolumeHandle.from_attributes({**attrs, "other": "x"}) == handle
    assert VolumeHandle("block", "pvc-1", Path("/p"), 1).to_attributes() == {
        "kstore.io/backend": "block", "kstore.io/name": "pvc-1", "kstore.io/path": "/p", "kstore.io/size": "1"}


BAD_ATTRIBUTES = [
    ({"kstore.io/name": "n", "kstore.io/path": "/p", "kstore.io/size": "1"}, "kstore.io/backend is missing"),
    ({"kstore.io/backend": "tape", "kstore.io/name": "n", "kstore.io/path": "/p", "kstore.io/size": "1"},
     "unknown backend 'tape'"),
    ({"kstore.io/backend": "block", "kstore.io/name": "n", "kstore.io/path": "/p", "kstore.io/size": "1Gi"},
     "'1Gi' is not a byte count"),
    ({"kstore.io/backend": "block", "kstore.io/name": "n", "kstore.io/path": "/p", "kstore.io/size": "-1"},
     "'-1' is not a byte count"),
    ({"kstore.io/backend": "block", "kstore.io/name": "", "kstore.io/path": "/p", "kstore.io/size": "1"},
     "kstore.io/name is missing"),
]


@pytest.mark.parametrize(("attrs", "message"), BAD_ATTRIBUTES)
def test_bad_attributes(attrs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VolumeHandle.from_attributes(attrs)
