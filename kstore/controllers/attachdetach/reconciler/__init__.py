"""The attach/detach reconciler: detach what nobody wants, then attach what pods want."""

from kstore.controllers.attachdetach.reconciler.reconciler import (
    EXCLUSIVELY_ATTACHED,
    FORCE_DETACH_REASONS,
    MULTI_ATTACH_PREFIX,
    REASON_OUT_OF_SERVICE,
    REASON_TIMEOUT,
    NodeView,
    Reconciler,
    volume_message,
)

__all__ = ["EXCLUSIVELY_ATTACHED", "FORCE_DETACH_REASONS", "MULTI_ATTACH_PREFIX", "REASON_OUT_OF_SERVICE",
           "REASON_TIMEOUT", "NodeView", "Reconciler", "volume_message"]
