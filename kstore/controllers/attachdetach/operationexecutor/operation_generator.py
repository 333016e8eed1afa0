"""The attach and detach operations themselves: plugin calls, VolumeAttachment writes,
events, and the outcome recorded in the actual state (Kubernetes' `operation_generator.go`
GenerateAttachVolumeFunc / GenerateDetachVolumeFunc and the CSI attacher, read for behaviour).

Attach (VolumeToAttach on a node):
1. Recorded as UNCERTAIN in the actual state first: from here on something may exist on the
   node or in the store, so a crash or a failure is always followed by a detach (nobody wants
   it) or another attach (idempotent).
2. The VolumeAttachment exists (`spec.attacher`, `spec.nodeName`,
   `spec.source.persistentVolumeName`, the unique volume name in an annotation); a PV-backed
   volume only (see volumes.py).
3. The plugin's attacher runs on a thread (a real `losetup`; the attacher reuses the loop
   device an image already has, so a repeated attach attaches nothing twice), after the
   driver's configured attach latency.
4. `status.attached: true` and `status.attachmentMetadata.devicePath` on the VolumeAttachment,
   then ATTACHED in the actual state (reported in `node.status.volumesAttached` by the status
   updater), and a `SuccessfulAttachVolume` event on the pods.
A failure: `status.attachError {time, message}`, a Warning `FailedAttachVolume` event on the
pods ("AttachVolume.Attach failed for volume "pvc-…" : …", Kubernetes' wording), the volume
stays UNCERTAIN, and the executor backs off.

Detach (AttachedVolume):
1. Out of the node's report, and `node.status.volumesAttached` written now: the kubelet must
   not start using the device while it goes.
2. Unless forced (`verify_safe` False): the node, read live from the store, must not list the
   volume in `status.volumesInUse` (the safe-detach handshake).
3. The plugin's detacher on a thread (after the driver's detach latency), then the
   VolumeAttachment deleted, then forgotten by the actual state.
A failure: `status.detachError` on the VolumeAttachment, the volume back in the node's
report, backoff. A forced detach whose device is still mounted (the node went away without
unmounting; a loop device cannot be pulled from under a mount) lets the volume go in the
API — VolumeAttachment deleted, no longer reported, UNCERTAIN so it does not block attaching
elsewhere — and retries freeing the device with backoff until the node's mounts are gone.

Timing: the plugins observe `storage_operation_duration_seconds` (volume_attach,
volume_detach); nothing here times them again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kstore.api.errors import ApiError
from kstore.client.clock import Clock, RealClock
from kstore.controllers.attachdetach.cache import (
    ActualStateOfWorld,
    AttachedVolume,
    AttachState,
    VolumeToAttach,
)
from kstore.controllers.attachdetach.operationexecutor.pending_operations import OperationError
from kstore.controllers.attachdetach.statusupdater import NodeStatusUpdater
from kstore.controllers.attachdetach.volumes import (
    ANN_VOLUME_NAME,
    AttachableVolume,
    NodeName,
    Obj,
    volumes_in_use,
)
from kstore.volume.drivers import DriverMap
from kstore.volume.mount import BUSY, INVALID, NOT_FOUND, MountError
from kstore.volume.plugins import AttachablePlugin, PluginManager

log = logging.getLogger(__name__)

VA_API_VERSION = "storage.k8s.io/v1"
MAX_MESSAGE = 1024  # VolumeAttachment status error messages (validation's limit)


class StoreClient(Protocol):
    async def create(self, obj: dict[str, Any]) -> dict[str, Any]: ...

    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]: ...

    async def patch(self, kind: str, namespace: str | None, name: str, patch: Any, patch_type: str = "merge", *,
                    subresource: str | None = None) -> dict[str, Any]: ...

    async def delete(self, kind: str, namespace: str | None, name: str, *, uid: str | None = None) -> dict[str, Any]:
        ...


class EventSink(Protocol):
    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None: ...


Blocking = Callable[..., Awaitable[Any]]  # run a blocking callable on a thread: await blocking(fn, *args)


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def volume_attachment(volume: AttachableVolume, node: NodeName, name: str) -> dict[str, Any]:
    return {
        "apiVersion": VA_API_VERSION, "kind": "VolumeAttachment",
        "metadata": {"name": name, "annotations": {ANN_VOLUME_NAME: volume.name}},
        "spec": {"attacher": volume.attacher, "nodeName": node,
                 "source": {"persistentVolumeName": volume.pv_name}},
    }


class OperationGenerator:
    def __init__(self, *, client: StoreClient, asw: ActualStateOfWorld, plugins: PluginManager,
                 attachments: Callable[[str], Obj | None], status_updater: NodeStatusUpdater,
                 recorder: EventSink, blocking: Blocking, drivers: DriverMap | None = None,
                 clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.client = client
        self.asw = asw
        self.plugins = plugins
        self._attachments = attachments
        self.status_updater = status_updater
        self.recorder = recorder
        self._blocking = blocking
        self.drivers = drivers
        self.clock = clock if clock is not None else RealClock()
        self._rng = rng if rng is not None else random.Random()

    # ---- attach

    def attach(self, volume: VolumeToAttach) -> Callable[[], Awaitable[None]]:
        return lambda: self._attach(volume)

    async def _attach(self, v: VolumeToAttach) -> None:
        volume, node = v.volume, v.node
        name = volume.attachment_name(node)
        if self.asw.get_attach_state(volume.name, node) is AttachState.DETACHED:
            self.asw.mark_uncertain(volume, node, attachment=name)
        try:
            if name is not None:
                await self._ensure_attachment(volume, node, name)
            await self._delay(volume, "attach")
            device = await self._blocking(self._attach_device, volume, node)
        except Exception as e:
            message = f'AttachVolume.Attach failed for volume "{volume.spec_name}" : {_error_text(e)}'
            for pod in v.scheduled_pods:
                self.recorder.event(pod.as_object(), "Warning", "FailedAttachVolume", message)
            if name is not None:
                await self._set_status(name, {"attached": False, "attachError": self._error(message)})
            raise OperationError(f"attach {volume.name} to {node}: {message}") from e
        if name is not None:
            metadata = {"devicePath": device} if device else {}
            try:
                await self._patch_status(name, {"attached": True, "attachmentMetadata": metadata, "attachError": None})
            except ApiError as e:
                self.asw.mark_uncertain(volume, node, attachment=name, device_path=device)
                raise OperationError(f"attach {volume.name} to {node}: attached as {device}, but VolumeAttachment "
                                     f"{name} could not say so: {e.message}") from e
        self.asw.mark_attached(volume, node, device_path=device, attachment=name)
        log.info("attach %s: attached to %s as %s (%s)", volume.name, node, device or "no device", name or "inline")
        message = f'AttachVolume.Attach succeeded for volume "{volume.spec_name}"'
        for pod in v.scheduled_pods:
            self.recorder.event(pod.as_object(), "Normal", "SuccessfulAttachVolume", message)

    async def _ensure_attachment(self, volume: AttachableVolume, node: NodeName, name: str) -> None:
        if self._attachments(name) is not None:
            return
        try:
            await self.client.create(volume_attachment(volume, node, name))
        except ApiError as e:
            if e.code != 409:
                raise
        else:
            log.info("attach %s: created VolumeAttachment %s for node %s", volume.name, name, node)

    def _attach_device(self, volume: AttachableVolume, node: NodeName) -> str:
        """On a thread: the plugin's attacher. Returns the device path."""
        plugin = self.plugins.find_by_name(volume.plugin_name)
        if not isinstance(plugin, AttachablePlugin):
            raise MountError(NOT_FOUND, f"no attachable volume plugin named {volume.plugin_name}")
        if volume.spec is None:
            raise MountError(INVALID, f"volume {volume.name}: its PersistentVolume is gone; it cannot be attached")
        return plugin.new_attacher().attach(volume.spec, node)

    # ---- detach

    def detach(self, volume: AttachedVolume, *, verify_safe: bool) -> Callable[[], Awaitable[None]]:
        return lambda: self._detach(volume, verify_safe=verify_safe)

    async def _detach(self, av: AttachedVolume, *, verify_safe: bool) -> None:
        volume, node = av.volume, av.node
        self.asw.remove_volume_from_report_as_attached(volume.name, node)
        try:
            await self.status_updater.update_node_status(node)
        except ApiError as e:
            self.asw.add_volume_to_report_as_attached(volume.name, node)
            raise OperationError(f"detach {volume.name} from {node}: node status not updated, not detaching: "
                                 f"{e.message}") from e
        if verify_safe and volume.name in await self._volumes_in_use(node):
            self.asw.add_volume_to_report_as_attached(volume.name, node)
            raise OperationError(f'DetachVolume failed for volume "{volume.spec_name}" from node "{node}" : '
                                 "volume is still in use by the node (status.volumesInUse)")
        try:
            await self._delay(volume, "detach")
            await self._blocking(self._detach_device, volume, node)
        except Exception as e:
            message = f'DetachVolume.Detach failed for volume "{volume.spec_name}" : {_error_text(e)}'
            if not verify_safe and isinstance(e, MountError) and e.reason == BUSY:
                # Forced, and the node still has the device mounted: let it go in the API, free it later.
                if av.attachment is not None:
                    await self._delete_attachment(av.attachment)
                self.asw.mark_uncertain(volume, node, attachment=av.attachment)
                raise OperationError(f"force detach {volume.name} from {node}: the device is still mounted on the "
                                     f"node; released in the API, freeing the device is retried: {message}") from e
            if av.attachment is not None:
                await self._set_status(av.attachment, {"detachError": self._error(message)})
            self.asw.add_volume_to_report_as_attached(volume.name, node)
            raise OperationError(f"detach {volume.name} from {node}: {message}") from e
        if av.attachment is not None:
            try:
                await self._delete_attachment(av.attachment, quiet=False)
            except ApiError as e:
                self.asw.mark_uncertain(volume, node, attachment=av.attachment)
                raise OperationError(f"detach {volume.name} from {node}: detached, but VolumeAttachment "
                                     f"{av.attachment} could not be deleted: {e.message}") from e
        self.asw.delete_volume_node(volume.name, node)
        log.info("detach %s: detached from %s%s", volume.name, node, "" if verify_safe else " (forced)")

    def _detach_device(self, volume: AttachableVolume, node: NodeName) -> None:
        plugin = self.plugins.find_by_name(volume.plugin_name)
        if not isinstance(plugin, AttachablePlugin):
            raise MountError(NOT_FOUND, f"no attachable volume plugin named {volume.plugin_name}")
        plugin.new_detacher().detach(volume.plugin_volume_name, node)

    async def _volumes_in_use(self, node: NodeName) -> list[str]:
        """Read live, as Kubernetes' verifyVolumeIsSafeToDetach does: the cache may lag."""
        try:
            return volumes_in_use(await self.client.get("Node", None, node))
        except ApiError as e:
            if e.code == 404:
                return []  # the node is gone: nothing there uses the volume
            raise

    async def _delete_attachment(self, name: str, *, quiet: bool = True) -> None:
        try:
            await self.client.delete("VolumeAttachment", None, name)
            log.info("deleted VolumeAttachment %s", name)
        except ApiError as e:
            if e.code == 404:
                return
            if not quiet:
                raise
            log.warning("VolumeAttachment %s: delete failed: %s", name, e.message)

    # ---- verification (Kubernetes' VerifyVolumesAreAttached)

    async def verify_attached(self, volumes: list[AttachedVolume]) -> list[AttachedVolume]:
        """The volumes whose plugin says they are no longer attached (checked on a thread)."""
        if not volumes:
            return []
        return await self._blocking(self._verify, volumes)

    def _verify(self, volumes: list[AttachedVolume]) -> list[AttachedVolume]:
        gone = []
        for av in volumes:
            plugin = self.plugins.find_by_name(av.volume.plugin_name)
            if not isinstance(plugin, AttachablePlugin) or av.volume.spec is None:
                continue
            try:
                if not plugin.new_attacher().is_attached(av.volume.spec, av.node):
                    gone.append(av)
            except Exception as e:
                log.debug("verify %s on %s: %s", av.volume.name, av.node, e)
        return gone

    # ---- helpers

    async def _delay(self, volume: AttachableVolume, operation: str) -> None:
        """The driver's configured latency for `operation` (cloud-disk timings); none by default."""
        if self.drivers is None or volume.spec is None:
            return
        try:
            source = volume.spec.pv.get("spec") if volume.spec.pv is not None else volume.spec.source
            driver = self.drivers.for_volume_source(source or {})
        except Exception:  # a mapping that cannot resolve adds no delay; the attacher reports the problem
            return
        if driver is not None and driver.latency is not None:
            delay = driver.latency.sample(operation, self._rng)
            if delay > 0:
                await asyncio.sleep(delay)

    def _error(self, message: str) -> dict[str, Any]:
        return {"time": rfc3339(self.clock.wall()), "message": message[:MAX_MESSAGE]}

    async def _patch_status(self, name: str, status: dict[str, Any]) -> None:
        await self.client.patch("VolumeAttachment", None, name, {"status": status}, "merge", subresource="status")

    async def _set_status(self, name: str, status: dict[str, Any]) -> None:
        """Best effort (the operation has already failed; this only reports it)."""
        try:
            await self._patch_status(name, status)
        except ApiError as e:
            log.warning("VolumeAttachment %s: could not record the error: %s", name, e.message)


def _error_text(e: BaseException) -> str:
    if isinstance(e, ApiError):
        return e.message
    return str(e) or type(e).__name__
