"""Attach and detach operations: what they do (operation_generator), one per volume at a time
with backoff (pending_operations), and the executor the reconciler calls (operation_executor)."""

from kstore.controllers.attachdetach.operationexecutor.operation_executor import (
    ATTACH,
    DETACH,
    AttacherDetacher,
    OperationExecutor,
    operation_key,
)
from kstore.controllers.attachdetach.operationexecutor.operation_generator import (
    EventSink,
    OperationGenerator,
    volume_attachment,
)
from kstore.controllers.attachdetach.operationexecutor.pending_operations import (
    OperationError,
    OperationKey,
    PendingOperations,
    StartResult,
)

__all__ = ["ATTACH", "DETACH", "AttacherDetacher", "EventSink", "OperationError", "OperationExecutor",
           "OperationGenerator", "OperationKey", "PendingOperations", "StartResult", "operation_key",
           "volume_attachment"]
