"""The filter and score plugins of kube-scheduler's default profile that kstore implements:
node-level ones (nodes.py), pod-to-pod ones (interpod.py) and volume ones (volumes.py; the
VolumeBinding plugin has its own module, kstore/scheduler/volumebinding.py)."""
