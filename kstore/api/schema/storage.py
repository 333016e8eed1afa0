"""storage.k8s.io/v1 (k8s.io/api/storage/v1/types.go): StorageClass, VolumeAttachment, CSINode,
CSIDriver."""

from __future__ import annotations

from kstore.api.schema.dsl import STORAGE, arr, b, i32, i64, package, ref, s, smap, strs, t

obj, kind = package(STORAGE)
GROUP, VERSION = "storage.k8s.io", "v1"

kind(
    "StorageClass",
    "A class of storage whose PersistentVolumes a provisioner makes dynamically; not namespaced.",
    GROUP,
    VERSION,
    provisioner=s("Name of the provisioner, e.g. ebs.csi.aws.com or kubernetes.io/no-provisioner.", req=True),
    parameters=smap("Parameters for the provisioner that should create volumes of this class."),
    reclaimPolicy=s(
        "Reclaim policy of the volumes made for this class: Delete or Retain; Delete when unset."
    ),
    mountOptions=strs('Mount options of the volumes made for this class, e.g. ["ro", "soft"].'),
    allowVolumeExpansion=b("Whether claims of this class may be expanded."),
    volumeBindingMode=s("When claims are provisioned and bound: Immediate or WaitForFirstConsumer."),
    allowedTopologies=arr(
        "TopologySelectorTerm", "Topologies where volumes may be provisioned; any when empty."
    ),
)

kind(
    "VolumeAttachment",
    "The intent to attach or detach a volume to or from a node; not namespaced.",
    GROUP,
    VERSION,
    spec=ref("VolumeAttachmentSpec", "The desired attach/detach behaviour, set by Kubernetes.", req=True),
    status=ref("VolumeAttachmentStatus", "Status of the attach/detach, set by the attacher."),
)
obj(
    "VolumeAttachmentSpec",
    "The desired attach/detach behaviour.",
    attacher=s("Name of the volume driver that handles the request, as in CSIDriver.", req=True),
    source=ref("VolumeAttachmentSource", "The volume to attach.", req=True),
    nodeName=s("The node the volume is attached to.", req=True),
)
obj(
    "VolumeAttachmentSource",
    "The volume to attach: a PersistentVolume, or an inline volume spec; exactly one is set.",
    persistentVolumeName=s("Name of the persistent volume to attach."),
    inlineVolumeSpec=ref(
        "PersistentVolumeSpec", "An inline volume migrated to CSI, as a PersistentVolumeSpec."
    ),
)
obj(
    "VolumeAttachmentStatus",
    "The status of a VolumeAttachment request.",
    attached=b("Whether the volume is attached.", req=True),
    attachmentMetadata=smap(
        "Information from a successful attach, passed to later WaitForAttach or Mount calls."
    ),
    attachError=ref("VolumeError", "The last error of an attach, if any."),
    detachError=ref("VolumeError", "The last error of a detach, if any."),
)
obj(
    "VolumeError",
    "An error of a volume operation.",
    time=t("When the error happened."),
    message=s("The error; may be logged, so free of sensitive data."),
)

kind(
    "CSINode",
    "The CSI drivers installed on a node; named after the node.",
    GROUP,
    VERSION,
    spec=ref("CSINodeSpec", "The CSI drivers on the node.", req=True),
)
obj(
    "CSINodeSpec",
    "The CSI drivers installed on a node.",
    drivers=arr("CSINodeDriver", "The CSI drivers on the node; empty when none is.", key="name", req=True),
)
obj(
    "CSINodeDriver",
    "A CSI driver installed on a node.",
    name=s("Name of the driver, as in the driver's GetPluginName.", req=True),
    nodeID=s("ID of the node as the driver knows it.", req=True),
    topologyKeys=strs("Topology keys the driver supports, e.g. topology.hostpath.csi/node."),
    allocatable=ref("VolumeNodeResources", "Volume resources of the node available for scheduling."),
)
obj(
    "VolumeNodeResources",
    "Limits on the volumes a node can use.",
    count=i32("Maximum number of unique volumes of the driver on the node."),
)

kind(
    "CSIDriver",
    "Information about a CSI volume driver deployed on the cluster; named after the driver.",
    GROUP,
    VERSION,
    spec=ref("CSIDriverSpec", "The specification of the driver.", req=True),
)
obj(
    "CSIDriverSpec",
    "The specification of a CSI driver.",
    attachRequired=b("Whether the driver needs an attach operation (ControllerPublishVolume)."),
    podInfoOnMount=b("Whether the driver needs pod information in NodePublishVolume."),
    volumeLifecycleModes=strs("Volume modes the driver supports: Persistent, Ephemeral.", list_type="set"),
    storageCapacity=b("Whether the scheduler considers the driver's storage capacity."),
    fsGroupPolicy=s(
        "Whether the driver supports volume ownership changes: ReadWriteOnceWithFSType, File or None."
    ),
    tokenRequests=arr("TokenRequest", "Service account tokens the kubelet passes to NodePublishVolume."),
    requiresRepublish=b("Whether NodePublishVolume is called periodically to remount."),
    seLinuxMount=b("Whether the driver supports the -o context mount option."),
)
obj(
    "TokenRequest",
    "A request for a service account token.",
    audience=s("Intended audience of the token.", req=True),
    expirationSeconds=i64("Validity of the token in seconds."),
)
