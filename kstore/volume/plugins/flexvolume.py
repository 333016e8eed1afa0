"""FlexVolume (Kubernetes' `pkg/volume/flexvolume`, read for behaviour; our own code).

Design:
- A driver `vendor/driver` is the executable `<plugin dir>/vendor~driver/driver` (plugin dir
  default `<state>/volume-plugins`, `VolumeHost.flex_dir`). `init` runs once at discovery
  (PluginManager.flex_plugin) and returns the capabilities; `attach: false` makes the plugin
  non-attachable (no attach, waitforattach, mountdevice), as in Kubernetes.
- Calls and arguments are Kubernetes': `attach <json> <node>`, `waitforattach <device>
  <json>`, `mountdevice <mount dir> <device> <json>`, `unmountdevice <mount dir>`, `detach
  <volume> <node>`, `isattached <json> <node>`, `mount <mount dir> <json>`, `unmount <mount
  dir>`. The JSON options carry `kubernetes.io/fsType`, `kubernetes.io/readwrite`,
  `kubernetes.io/pvOrVolumeName`, the pod's name / namespace / uid / service account on mount,
  `kubernetes.io/secret/<key>` (base64) for a `secretRef`, and the source's `options`.
- Replies are JSON `{"status": "Success" | "Failure" | "Not supported", "message", "device",
  "attached", "capabilities"}` on stdout (stderr is quoted in errors, not parsed). "Not
  supported" falls back to Kubernetes' default behaviour and is remembered per command:
  attach → no device, waitforattach → the given device, mountdevice → mount the device (when
  there is one) at the global path, mount → bind the global path into the pod dir, unmount /
  unmountdevice → unmount, detach → nothing, isattached → attached.
- Each call runs in the caller's thread through `mount.run_command` (blocking, as every plugin
  operation; the kubelet runs operations on an executor): its own process group, a timeout
  (`VolumeHost.flex_timeout`, default 10 s; waitforattach gets its own timeout), an output cap.
  A driver that hangs is killed with its children at the deadline; a crash (non-zero exit,
  signal) or output that is not a JSON reply is a MountError naming the driver, the call and
  what it printed. Nothing a driver does can hang the caller past its timeout.
- Safety: a device a driver names (`"device": "/dev/vda"`) is only mounted through the mount
  utilities, which refuse anything but our own loop devices; every path handed to the driver
  is under the state dir.
- Paths (Kubernetes'): pod dir `pods/<uid>/volumes/vendor~driver/<volume>`, global path
  `plugins/kubernetes.io/flexvolume/vendor/driver/mounts/<volume>`. Metric label:
  `flexvolume-vendor/driver`, Kubernetes' plugin name.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kstore.observe.metrics import OperationTimer, time_operation
from kstore.volume.mount import FAILED, INVALID, NOT_FOUND, TIMEOUT, MountError, run_command
from kstore.volume.plugins.base import (
    AttachablePlugin,
    Attacher,
    Detacher,
    DeviceMountablePlugin,
    DeviceMounter,
    DeviceUnmounter,
    Obj,
    Spec,
    VolumeHost,
    VolumeMounter,
    VolumePlugin,
    VolumeUnmounter,
    plain_name,
    pod_uid,
)
from kstore.volume.plugins.common import remove_mount_dir

PLUGIN_PREFIX = "flexvolume-"  # + vendor/driver: the plugin name, as Kubernetes names it
log = logging.getLogger(__name__)

FLEX_PLUGIN_DIR = "kubernetes.io/flexvolume"
STATUS_SUCCESS = "Success"
STATUS_NOT_SUPPORTED = "Not supported"


class NotSupported(Exception):
    """The driver answered "Not supported": the caller falls back to the default behaviour."""


def driver_dir_name(driver: str) -> str:
    """`vendor/driver` → `vendor~driver` (the plugin dir entry)."""
    return driver.replace("/", "~")


def executable_for(flex_dir: Path, driver: str) -> Path:
    for part in driver.split("/"):
        plain_name(part, "FlexVolume driver name")
    return flex_dir / driver_dir_name(driver) / driver.rsplit("/", 1)[-1]


class FlexVolumePlugin(VolumePlugin, AttachablePlugin, DeviceMountablePlugin):
    def __init__(self, host: VolumeHost, driver: str) -> None:
        super().__init__(host)
        assert host.flex_dir is not None
        self.driver = driver
        self.name = f"{PLUGIN_PREFIX}{driver}"
        self.executable = executable_for(host.flex_dir, driver)
        self.capabilities: dict[str, Any] = {"attach": True}
        self._unsupported: set[str] = set()
        self._lock = threading.Lock()

    # ---- the protocol

    def init(self) -> None:
        reply = self.call("init")
        caps = reply.get("capabilities")
        if isinstance(caps, Mapping):
            self.capabilities.update(caps)

    def call(self, command: str, *args: str, timeout: float | None = None) -> dict[str, Any]:
        """Run one driver call; the reply on Success. NotSupported, or MountError on anything else."""
        with self._lock:
            if command in self._unsupported:
                raise NotSupported(command)
        what = f'FlexVolume driver "{self.driver}" {command}'
        if not os.access(self.executable, os.X_OK):
            raise MountError(NOT_FOUND, f"{what}: no executable driver at {self.executable}")
        limit = self.host.flex_timeout if timeout is None else timeout
        try:
            result = run_command([str(self.executable), command, *args], timeout=limit)
        except MountError as e:
            if e.reason == TIMEOUT:
                raise MountError(TIMEOUT, f"{what}: timed out after {limit:g}s (driver killed)") from e
            raise MountError(e.reason, f"{what}: {e.message}") from e
        reply = self._parse(result.stdout)
        if reply is None:
            stderr = f"; stderr: {result.stderr.strip()[:300]!r}" if result.stderr.strip() else ""
            if result.returncode != 0:
                how = f"exited with status {result.returncode}" if result.returncode > 0 \
                    else f"was killed by signal {-result.returncode}"
                raise MountError(FAILED, f"{what}: the driver {how} without a reply; stdout: "
                                         f"{result.stdout.strip()[:300]!r}{stderr}")
            raise MountError(FAILED, f"{what}: the driver's reply is not a JSON status: "
                                     f"{result.stdout.strip()[:300]!r}{stderr}")
        status = reply["status"]
        if status == STATUS_NOT_SUPPORTED:
            with self._lock:
                self._unsupported.add(command)
            raise NotSupported(command)
        if status != STATUS_SUCCESS:
            raise MountError(FAILED, f'FlexVolume driver "{self.driver}": {command} command failed, status: {status}, '
                                     f"reason: {reply.get('message', '')}")
        if result.returncode != 0:
            raise MountError(FAILED, f"{what}: the driver replied Success but exited with status {result.returncode}")
        return reply

    @staticmethod
    def _parse(stdout: str) -> dict[str, Any] | None:
        text = stdout.strip()
        if not text:
            return None
        try:
            reply = json.loads(text)
        except ValueError:
            # some drivers log before replying: take the last line that is a JSON object
            for line in reversed(text.splitlines()):
                try:
                    reply = json.loads(line)
                    break
                except ValueError:
                    continue
            else:
                return None
        return reply if isinstance(reply, dict) and isinstance(reply.get("status"), str) else None

    def options(self, spec: Spec, pod: Obj | None = None, *, fs_group: int | None = None) -> str:
        source = spec.source_of("flexVolume") or {}
        opts: dict[str, str] = {
            "kubernetes.io/fsType": str(source.get("fsType") or ""),
            "kubernetes.io/readwrite": "ro" if spec.is_read_only("flexVolume") else "rw",
            "kubernetes.io/pvOrVolumeName": spec.name,
        }
        if pod is not None:
            meta = pod.get("metadata") or {}
            opts["kubernetes.io/pod.name"] = str(meta.get("name") or "")
            opts["kubernetes.io/pod.namespace"] = str(meta.get("namespace") or "default")
            opts["kubernetes.io/pod.uid"] = str(meta.get("uid") or "")
            opts["kubernetes.io/serviceAccount.name"] = str((pod.get("spec") or {}).get("serviceAccountName")
                                                            or "default")
            if fs_group is not None:
                opts["kubernetes.io/mounterArgs.FsGroup"] = str(fs_group)
            opts.update(self._secret_options(source, opts["kubernetes.io/pod.namespace"]))
        for key, value in (source.get("options") or {}).items():
            opts[str(key)] = str(value)
        return json.dumps(opts, sort_keys=True)

    def _secret_options(self, source: Obj, namespace: str) -> dict[str, str]:
        ref = source.get("secretRef")
        if not isinstance(ref, Mapping) or not ref.get("name"):
            return {}
        if self.host.objects is None:
            raise MountError(INVALID, f'FlexVolume driver "{self.driver}": cannot read secret {ref["name"]}: '
                                      "no API access")
        secret = self.host.objects.get("Secret", namespace, str(ref["name"]))
        if secret is None:
            raise MountError(NOT_FOUND, f'secret "{ref["name"]}" not found')
        return {f"kubernetes.io/secret/{k}": str(v) for k, v in (secret.get("data") or {}).items()}

    # ---- plugin

    def can_support(self, spec: Spec) -> bool:
        return (spec.source_of("flexVolume") or {}).get("driver") == self.driver

    def can_attach(self, spec: Spec) -> bool:
        return bool(self.capabilities.get("attach"))

    def can_device_mount(self, spec: Spec) -> bool:
        return self.can_attach(spec)

    @property
    def dir_name(self) -> str:
        return driver_dir_name(self.driver)

    def timer(self, operation: str, spec: Spec | None = None) -> OperationTimer:
        return time_operation(self.name, operation)  # Kubernetes' label: `flexvolume-<driver>`

    def pod_dir_for(self, pod_uid_: str, volume: str) -> Path:
        return (self.host.pod_dir(pod_uid_) / "volumes" / plain_name(self.dir_name, "driver")
                / plain_name(volume, "volume name"))

    def device_mount_path(self, spec: Spec) -> Path:
        return self.host.plugin_dir(f"{FLEX_PLUGIN_DIR}/{self.driver}") / "mounts" / plain_name(spec.name, "volume")

    def new_attacher(self) -> Attacher:
        return _Attacher(self)

    def new_detacher(self) -> Detacher:
        return _Detacher(self)

    def new_device_mounter(self) -> DeviceMounter:
        return _DeviceMounter(self)

    def new_device_unmounter(self) -> DeviceUnmounter:
        return _DeviceUnmounter(self)

    def new_mounter(self, spec: Spec, pod: Obj) -> VolumeMounter:
        return _Mounter(self, spec, pod)

    def new_unmounter(self, volume_name: str, pod_uid: str) -> VolumeUnmounter:
        return _Unmounter(self, self.pod_dir_for(pod_uid, volume_name))


class _Attacher(Attacher):
    def __init__(self, plugin: FlexVolumePlugin) -> None:
        self.plugin = plugin

    def attach(self, spec: Spec, node: str) -> str:
        with self.plugin.timer("volume_attach", spec):
            try:
                reply = self.plugin.call("attach", self.plugin.options(spec), node)
            except NotSupported:
                return ""
            return str(reply.get("device") or "")

    def is_attached(self, spec: Spec, node: str) -> bool:
        try:
            reply = self.plugin.call("isattached", self.plugin.options(spec), node)
        except NotSupported:
            return True
        return bool(reply.get("attached"))


class _Detacher(Detacher):
    def __init__(self, plugin: FlexVolumePlugin) -> None:
        self.plugin = plugin

    def detach(self, volume_name: str, node: str) -> None:
        with self.plugin.timer("volume_detach"):
            try:
                self.plugin.call("detach", volume_name, node)
            except NotSupported:
                return


class _DeviceMounter(DeviceMounter):
    def __init__(self, plugin: FlexVolumePlugin) -> None:
        self.plugin = plugin

    def wait_for_attach(self, spec: Spec, device_path: str, timeout: float) -> str:
        try:
            reply = self.plugin.call("waitforattach", device_path, self.plugin.options(spec),
                                     timeout=min(timeout, self.plugin.host.flex_timeout) if timeout > 0 else None)
        except NotSupported:
            return device_path
        return str(reply.get("device") or device_path)

    def device_mount_path(self, spec: Spec) -> Path:
        return self.plugin.device_mount_path(spec)

    def mount_device(self, spec: Spec, device_path: str, device_mount_path: Path) -> None:
        mounter = self.plugin.host.mounter
        if mounter.is_mount_point(device_mount_path):
            return
        device_mount_path.mkdir(parents=True, exist_ok=True)
        try:
            self.plugin.call("mountdevice", str(device_mount_path), device_path, self.plugin.options(spec))
        except NotSupported:
            if device_path:
                source = spec.source_of("flexVolume") or {}
                options = ["ro" if spec.is_read_only("flexVolume") else "rw"]
                mounter.mount(device_path, device_mount_path, str(source.get("fsType") or "ext4"), options)


class _DeviceUnmounter(DeviceUnmounter):
    def __init__(self, plugin: FlexVolumePlugin) -> None:
        self.plugin = plugin

    def unmount_device(self, device_mount_path: Path) -> None:
        host = self.plugin.host
        with self.plugin.timer("unmount_device"):
            if not os.path.lexists(device_mount_path):
                return
            if host.mounter.is_mount_point(device_mount_path):
                try:
                    self.plugin.call("unmountdevice", str(device_mount_path))
                except NotSupported:
                    host.mounter.unmount(device_mount_path)
            if os.path.lexists(device_mount_path):
                remove_mount_dir(host.mounter, host, device_mount_path)


class _Mounter(VolumeMounter):
    def __init__(self, plugin: FlexVolumePlugin, spec: Spec, pod: Obj) -> None:
        self.plugin = plugin
        self.spec = spec
        self.pod = pod
        self.path = plugin.pod_dir_for(pod_uid(pod), spec.name)
        self.read_only = spec.is_read_only("flexVolume")

    def set_up(self, *, fs_group: int | None = None) -> None:
        mounter = self.plugin.host.mounter
        with self.plugin.timer("volume_mount", self.spec):
            if mounter.is_mount_point(self.path):
                return
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                self.plugin.call("mount", str(self.path), self.plugin.options(self.spec, self.pod, fs_group=fs_group))
            except NotSupported:
                source = self.plugin.device_mount_path(self.spec)
                mounter.bind_mount(source, self.path, read_only=self.read_only)


class _Unmounter(VolumeUnmounter):
    def __init__(self, plugin: FlexVolumePlugin, path: Path) -> None:
        self.plugin = plugin
        self.path = path

    def tear_down(self) -> None:
        host = self.plugin.host
        with self.plugin.timer("volume_unmount"):
            if not os.path.lexists(self.path):
                return
            try:
                self.plugin.call("unmount", str(self.path))
            except NotSupported:
                if host.mounter.is_mount_point(self.path):
                    host.mounter.unmount(self.path)
            if os.path.lexists(self.path):
                remove_mount_dir(host.mounter, host, self.path)

