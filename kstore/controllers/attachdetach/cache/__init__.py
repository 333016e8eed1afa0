"""The attach/detach controller's caches: what should be attached (desired) and what is (actual)."""

from kstore.controllers.attachdetach.cache.actual_state_of_world import (
    ActualStateOfWorld,
    AttachedVolume,
    AttachState,
)
from kstore.controllers.attachdetach.cache.desired_state_of_world import (
    DesiredStateOfWorld,
    NodeNotManaged,
    VolumeToAttach,
)

__all__ = ["ActualStateOfWorld", "AttachState", "AttachedVolume", "DesiredStateOfWorld", "NodeNotManaged",
           "VolumeToAttach"]
