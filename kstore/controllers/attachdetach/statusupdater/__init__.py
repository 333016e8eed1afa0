"""Writes `node.status.volumesAttached` from the actual state of the world."""

from kstore.controllers.attachdetach.statusupdater.node_status_updater import (
    NodeStatusUpdater,
    volumes_attached,
)

__all__ = ["NodeStatusUpdater", "volumes_attached"]
