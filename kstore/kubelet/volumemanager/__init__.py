"""The kubelet's volume manager (DESIGN §5, STYLE §1–3): one concept per module.

    types.py         VolumeName, PodUID, PodVolume
    desired.py       DesiredStateOfWorld: the (volume, pod) pairs this node should have mounted
    actual.py        ActualStateOfWorld: what is attached, device-mounted, mounted for pods
    populator.py     this node's pods → desired state
    reconciler.py    plan(): compare, teardown before setup (pure)
    executor.py      one operation per volume at a time, backoff after failures
    operations.py    the blocking operations (mount, unmount, unmount device, expand)
    attachments.py   is a volume attached here, as which device (VolumeAttachment, node status)
    reconstruct.py   the actual state rebuilt from disk at start-up
    expansion.py     node-side resize decisions and the claim's finished status
    podvolumes.py    what the pod worker asks: mounted? where? why not? all torn down?
    housekeeping.py  volume stats, leftover pod directories
    metrics.py       volume_manager_total_volumes, kubelet_volume_stats_*
    manager.py       VolumeManager: the wiring, volumesInUse
"""
