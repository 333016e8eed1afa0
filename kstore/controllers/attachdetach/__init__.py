"""The attach/detach controller (`ad-controller` process): Kubernetes'
`pkg/controller/volume/attachdetach/`, read for behaviour, in our own Python.

    volumes.py           what is attached: AttachableVolume, VolumeAttachment naming, pod/node helpers
    cache/               DesiredStateOfWorld, ActualStateOfWorld (no I/O)
    populator/           the desired state from the informers; the actual state rebuilt at start-up
    reconciler/          one pass: detach what nobody wants (safe-detach handshake, force detach), then attach
    operationexecutor/   attach / detach operations, one per volume at a time, with backoff
    statusupdater/       node.status.volumesAttached
    metrics.py           attachdetach_controller_*, storage_count_attachable_volumes_in_use
    controller.py        the wiring and the loops; main.py the process
    testing.py           builders and fakes for tests
"""
