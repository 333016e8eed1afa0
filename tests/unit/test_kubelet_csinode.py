"""The CSI drivers a kubelet registers in its CSINode, with attach limits."""

from __future__ import annotations

from kstore.config import NodeConfig
from kstore.kubelet.main import csinode_drivers
from kstore.volume.drivers import DriverMap


def drivers(limit: int | None = None) -> DriverMap:
    return DriverMap.parse({"mappings": [
        {"backend": "block", "names": ["ebs.csi.aws.com", "*.rbd.csi.ceph.com", "kubernetes.io/aws-ebs"],
         **({"attach_limit": limit} if limit is not None else {})},
        {"backend": "shared", "names": ["efs.csi.aws.com"]},
    ]})


def test_block_csi_drivers_are_registered_with_the_node_limit_first() -> None:
    node = NodeConfig(name="node-1", labels={}, zone="zone-a", attach_limit=25)
    got = csinode_drivers(node, drivers(limit=39))
    assert [d["name"] for d in got] == ["ebs.csi.aws.com"]  # not patterns, in-tree names or shared drivers
    assert got[0] == {"name": "ebs.csi.aws.com", "nodeID": "node-1", "topologyKeys": ["topology.kubernetes.io/zone"],
                   "allocatable": {"count": 25}}


def test_driver_limit_when_the_node_has_none_and_no_limit_at_all() -> None:
    node = NodeConfig(name="node-2", labels={}, zone="", attach_limit=None)
    ebs = next(d for d in csinode_drivers(node, drivers(limit=39)) if d["name"] == "ebs.csi.aws.com")
    assert ebs["allocatable"] == {"count": 39} and ebs["topologyKeys"] == []
    ebs = next(d for d in csinode_drivers(node, drivers()) if d["name"] == "ebs.csi.aws.com")
    assert "allocatable" not in ebs
