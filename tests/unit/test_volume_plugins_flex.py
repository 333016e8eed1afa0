"""FlexVolume with small driver scripts written by the tests: the protocol (calls, arguments,
JSON options), "Not supported" fallbacks, and drivers that hang, crash or print garbage (a
MountError naming the driver, never a hung caller)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from kstore.volume.mount import FAILED, NOT_FOUND, TIMEOUT, MountError, SimulatedMounter
from kstore.volume.plugins import FlexVolumePlugin, PluginManager, Spec, VolumeHost
from kstore.volume.pool import Pool

UID = "0b7c2d0e-1111-4222-8333-944445555666"
NODE = "node-1"
DRIVER = "example.com/lvm"


class Objects:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((kind, namespace, name))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path


@pytest.fixture
def objects() -> Objects:
    return Objects()


@pytest.fixture
def manager(state: Path, objects: Objects) -> PluginManager:
    host = VolumeHost(state, SimulatedMounter(state), node=NODE, objects=objects, flex_timeout=4.0)  # generous: a loaded CI machine starts shells slowly
    return PluginManager(host)


def install(state: Path, body: str, driver: str = DRIVER) -> Path:
    """A driver script at <state>/volume-plugins/<vendor~driver>/<driver>. Every call is logged
    to calls.log next to it (one JSON list of arguments per line) before `body` runs."""
    directory = state / "volume-plugins" / driver.replace("/", "~")
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / driver.rsplit("/", 1)[-1]
    log = directory / "calls.log"
    script.write_text(f"""#!/bin/sh
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> {log}
{body}
""")
    script.chmod(0o755)
    return script


def calls(state: Path, driver: str = DRIVER) -> list[list[str]]:
    log = state / "volume-plugins" / driver.replace("/", "~") / "calls.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def pod() -> dict[str, Any]:
    return {"metadata": {"name": "web-0", "namespace": "default", "uid": UID},
            "spec": {"serviceAccountName": "sa", "nodeName": NODE}}


def flex_spec(**source: Any) -> Spec:
    return Spec.from_volume({"name": "data", "flexVolume": {"driver": DRIVER, "fsType": "ext4", **source}})


NOT_ATTACHABLE = """
case "$1" in
  init) echo '{"status": "Success", "capabilities": {"attach": false}}' ;;
  mount) mkdir -p "$2" && echo "from the driver" > "$2/hello" && echo '{"status": "Success"}' ;;
  unmount) rm -f "$2/hello" && echo '{"status": "Success"}' ;;
  *) echo '{"status": "Not supported"}' ;;
esac
"""


def test_mount_and_unmount_through_the_driver(state: Path, manager: PluginManager, objects: Objects) -> None:
    install(state, NOT_ATTACHABLE)
    objects.items[("Secret", "default", "lvm-creds")] = {"data": {"password": "cGFzcw=="}}
    spec = flex_spec(options={"volumeID": "vol-1"}, secretRef={"name": "lvm-creds"})
    plugin = manager.find(spec)
    assert isinstance(plugin, FlexVolumePlugin) and plugin.name == f"flexvolume-{DRIVER}"
    assert not plugin.can_attach(spec)
    mounter = plugin.new_mounter(spec, pod())
    mounter.set_up()
    assert mounter.path == state / "nodes" / NODE / "kubelet" / "pods" / UID / "volumes" / "example.com~lvm" / "data"
    assert (mounter.path / "hello").read_text() == "from the driver\n"
    init, mount = calls(state)
    assert init == ["init"]
    assert mount[:2] == ["mount", str(mounter.path)]
    assert json.loads(mount[2]) == {
        "kubernetes.io/fsType": "ext4", "kubernetes.io/readwrite": "rw", "kubernetes.io/pvOrVolumeName": "data",
        "kubernetes.io/pod.name": "web-0", "kubernetes.io/pod.namespace": "default", "kubernetes.io/pod.uid": UID,
        "kubernetes.io/serviceAccount.name": "sa", "kubernetes.io/secret/password": "cGFzcw==", "volumeID": "vol-1",
    }
    plugin.new_unmounter("data", UID).tear_down()
    assert calls(state)[-1] == ["unmount", str(mounter.path)]
    assert not mounter.path.exists()
    labels = {"volume_plugin": f"flexvolume-{DRIVER}", "status": "success", "migrated": "false"}
    for operation in ("volume_mount", "volume_unmount"):  # Kubernetes' label for a FlexVolume plugin
        assert REGISTRY.get_sample_value("storage_operation_duration_seconds_count",
                                         {**labels, "operation_name": operation})


ATTACHABLE = """
case "$1" in
  init) echo '{"status": "Success"}' ;;
  attach) echo "{\\"status\\": \\"Success\\", \\"device\\": \\"$DEVICE\\"}" ;;
  isattached) echo '{"status": "Success", "attached": true}' ;;
  mountdevice) mkdir -p "$2" && echo "device data" > "$2/on-device" && echo '{"status": "Success"}' ;;
  detach) echo '{"status": "Success"}' ;;
  *) echo '{"status": "Not supported"}' ;;
esac
"""


def test_attachable_driver_and_not_supported_fallbacks(state: Path, manager: PluginManager) -> None:
    install(state, ATTACHABLE.replace("$DEVICE", "/dev/loop-sim-0"))
    spec = flex_spec()
    plugin = manager.find(spec)
    assert isinstance(plugin, FlexVolumePlugin) and plugin.can_attach(spec)
    attacher = plugin.new_attacher()
    device = attacher.attach(spec, NODE)
    assert device == "/dev/loop-sim-0"
    assert attacher.is_attached(spec, NODE)
    dm = plugin.new_device_mounter()
    assert dm.wait_for_attach(spec, device, 5) == device  # "Not supported": the device as given
    global_path = dm.device_mount_path(spec)
    assert global_path == (state / "nodes" / NODE / "kubelet" / "plugins" / "kubernetes.io" / "flexvolume" /
                           "example.com" / "lvm" / "mounts" / "data")
    dm.mount_device(spec, device, global_path)
    mounter = plugin.new_mounter(spec, pod())
    mounter.set_up()  # mount: "Not supported" → bind of the global path, as Kubernetes
    assert (mounter.path / "on-device").read_text() == "device data\n"
    assert plugin.host.mounter.mount_at(mounter.path).source == str(global_path)  # type: ignore[union-attr]
    plugin.new_unmounter("data", UID).tear_down()  # unmount: "Not supported" → unmount + rmdir
    assert not mounter.path.exists()
    before = len(calls(state))
    mounter2 = plugin.new_mounter(spec, pod())
    mounter2.set_up()
    assert len(calls(state)) == before  # "Not supported" is remembered: the driver is not asked again
    plugin.new_unmounter("data", UID).tear_down()
    plugin.new_detacher().detach("data", NODE)
    assert calls(state)[-1] == ["detach", "data", NODE]
    commands = [c[0] for c in calls(state)]
    assert commands.count("mount") == 1 and commands.count("unmount") == 1


def test_default_mount_device_only_mounts_our_own_devices(state: Path, manager: PluginManager) -> None:
    install(state, ATTACHABLE.replace("mountdevice)", "mountdevice-disabled)").replace("$DEVICE", "/dev/vda"))
    spec = flex_spec()
    plugin = manager.find(spec)
    device = plugin.new_attacher().attach(spec, NODE)  # type: ignore[attr-defined]
    assert device == "/dev/vda"
    dm = plugin.new_device_mounter()  # type: ignore[attr-defined]
    with pytest.raises(MountError) as e:
        dm.mount_device(spec, device, dm.device_mount_path(spec))
    assert e.value.reason == "Unsafe"
    # the fallback mounts a device the emulator made: a loop device of a pool image, formatted
    image = Pool(state).provision(backend="block", name="flex-1", size_bytes=1 << 24).path
    ours = plugin.host.mounter.attach_loop(image)
    plugin.host.mounter.ensure_filesystem(ours)
    dm.mount_device(spec, ours, dm.device_mount_path(spec))
    assert plugin.host.mounter.mount_at(dm.device_mount_path(spec)).source == ours  # type: ignore[union-attr]
    plugin.new_device_unmounter().unmount_device(dm.device_mount_path(spec))  # type: ignore[attr-defined]
    assert not dm.device_mount_path(spec).exists()


@pytest.mark.parametrize(("name", "body", "reason", "message"), [
    ("hangs", 'case "$1" in init) echo \'{"status": "Success"}\' ;; *) sleep 30 ;; esac',
     TIMEOUT, f'FlexVolume driver "{DRIVER}" mount: timed out after 4s (driver killed)'),
    ("hangs with a child holding stdout",
     'case "$1" in init) echo \'{"status": "Success"}\' ;; *) sleep 30 & wait ;; esac',
     TIMEOUT, "timed out after 4s"),
    ("crashes", 'case "$1" in init) echo \'{"status": "Success"}\' ;; *) echo oops >&2; kill -SEGV $$ ;; esac',
     FAILED, "was killed by signal 11 without a reply"),
    ("exits non-zero", 'case "$1" in init) echo \'{"status": "Success"}\' ;; *) exit 3 ;; esac',
     FAILED, "exited with status 3 without a reply"),
    ("prints garbage", 'case "$1" in init) echo \'{"status": "Success"}\' ;; *) echo "<html>500</html>" ;; esac',
     FAILED, "the driver's reply is not a JSON status: '<html>500</html>'"),
    ("prints JSON that is not a reply", 'case "$1" in init) echo \'{"status": "Success"}\' ;; *) echo "[1, 2]" ;; esac',
     FAILED, "not a JSON status"),
    ("answers Failure", 'case "$1" in init) echo \'{"status": "Success"}\' ;; '
                        '*) echo \'{"status": "Failure", "message": "no such LV"}\'; exit 1 ;; esac',
     FAILED, f'FlexVolume driver "{DRIVER}": mount command failed, status: Failure, reason: no such LV'),
])
def test_bad_drivers_fail_cleanly(state: Path, manager: PluginManager, name: str, body: str, reason: str,
                                  message: str) -> None:
    install(state, body)
    spec = flex_spec()
    plugin = manager.find(spec)
    start = time.monotonic()
    with pytest.raises(MountError) as e:
        plugin.new_mounter(spec, pod()).set_up()
    assert time.monotonic() - start < 5, "the caller waited past the driver timeout"
    assert e.value.reason == reason
    assert message in str(e.value)


def test_init_failure_is_remembered_until_the_driver_changes(state: Path, manager: PluginManager) -> None:
    script = install(state, 'echo "not json"')
    with pytest.raises(MountError, match=f'FlexVolume driver "{DRIVER}": init failed'):
        manager.find(flex_spec())
    with pytest.raises(MountError, match="init failed"):
        manager.find(flex_spec())
    assert calls(state) == [["init"]]  # the broken driver is not run on every lookup
    install(state, NOT_ATTACHABLE)
    os.utime(script, (time.time() + 5, time.time() + 5))
    assert manager.find(flex_spec()).name == f"flexvolume-{DRIVER}"


def test_missing_driver(manager: PluginManager) -> None:
    with pytest.raises(MountError) as e:
        manager.find(flex_spec())
    assert e.value.reason == NOT_FOUND and "is not installed" in str(e.value)


def test_probe_discovers_drivers(state: Path, manager: PluginManager) -> None:
    install(state, NOT_ATTACHABLE)
    install(state, 'echo "{}"', driver="broken.io/x")
    assert manager.probe_flex() == [DRIVER]
    assert manager.find_by_name(f"flexvolume-{DRIVER}") is manager.find(flex_spec())
    assert manager.find_by_dir_name("example.com~lvm") is manager.find(flex_spec())
