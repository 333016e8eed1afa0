"""The reconciler's hands: start attach and detach operations, one per volume at a time
(Kubernetes' `operationexecutor.OperationExecutor`, read for behaviour).

`AttacherDetacher` is what the reconciler calls; `OperationExecutor` is the real one
(PendingOperations running the OperationGenerator's bodies), `testing.FakeAttacherDetacher`
records calls for table tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from kstore.controllers.attachdetach.cache import AttachedVolume, VolumeToAttach
from kstore.controllers.attachdetach.operationexecutor.pending_operations import (
    OperationKey,
    PendingOperations,
    StartResult,
)
from kstore.controllers.attachdetach.volumes import AttachableVolume, NodeName

ATTACH = "volume_attach"
DETACH = "volume_detach"


def operation_key(volume: AttachableVolume, node: NodeName) -> OperationKey:
    """Per (volume, node) when the volume may be on several nodes; per volume otherwise."""
    return OperationKey(volume.name, node if volume.multi_attach_allowed else "")


class AttacherDetacher(Protocol):
    def is_operation_pending(self, volume: AttachableVolume, node: NodeName) -> bool: ...

    def is_safe_to_retry(self, volume: AttachableVolume, node: NodeName, operation: str) -> bool:
        """Neither pending nor in backoff for `operation`."""
        ...

    def attach_volume(self, volume: VolumeToAttach) -> StartResult: ...

    def detach_volume(self, volume: AttachedVolume, *, verify_safe: bool) -> StartResult:
        """`verify_safe` False skips the check that the node no longer uses the volume (force)."""
        ...


class OperationBodies(Protocol):
    def attach(self, volume: VolumeToAttach) -> Callable[[], Awaitable[None]]: ...

    def detach(self, volume: AttachedVolume, *, verify_safe: bool) -> Callable[[], Awaitable[None]]: ...


class OperationExecutor:
    def __init__(self, bodies: OperationBodies, pending: PendingOperations) -> None:
        self.bodies = bodies
        self.pending = pending

    def is_operation_pending(self, volume: AttachableVolume, node: NodeName) -> bool:
        return self.pending.is_pending(operation_key(volume, node))

    def is_safe_to_retry(self, volume: AttachableVolume, node: NodeName, operation: str) -> bool:
        return self.pending.is_safe_to_retry(operation_key(volume, node), operation)

    def attach_volume(self, volume: VolumeToAttach) -> StartResult:
        return self.pending.run(operation_key(volume.volume, volume.node), ATTACH, self.bodies.attach(volume))

    def detach_volume(self, volume: AttachedVolume, *, verify_safe: bool) -> StartResult:
        return self.pending.run(operation_key(volume.volume, volume.node), DETACH,
                                self.bodies.detach(volume, verify_safe=verify_safe))
