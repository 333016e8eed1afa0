"""Fill the caches: the desired state from the informers, the actual state from the store at start-up."""

from kstore.controllers.attachdetach.populator.actual_state_of_world_populator import (
    RebuildReport,
    rebuild_actual_state,
)
from kstore.controllers.attachdetach.populator.desired_state_of_world_populator import (
    ClusterSource,
    DesiredStateOfWorldPopulator,
)

__all__ = ["ClusterSource", "DesiredStateOfWorldPopulator", "RebuildReport", "rebuild_actual_state"]
