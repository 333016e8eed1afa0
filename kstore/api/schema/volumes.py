"""core/v1 volume sources: the pod `Volume` (`VolumeSource`) and the PersistentVolume
`PersistentVolumeSource`, with every plugin's fields, in-tree ones included.

The two unions share most source types; where Kubernetes has a separate persistent variant (its
secret reference can name another namespace), both are defined: `RBDVolumeSource` and
`RBDPersistentVolumeSource`, `CSIVolumeSource` and `CSIPersistentVolumeSource`, ... Twins whose
fields differ only in the type of their secret reference (and perhaps a field the persistent one
adds) share one field table (`RBD`, `CEPHFS`, ...), built for each side by `twin`.
"""

from __future__ import annotations

from kstore.api.schema.dsl import (
    CORE,
    Field,
    arr,
    b,
    i32,
    i64,
    inline,
    package,
    q,
    ref,
    s,
    smap,
    strs,
)

obj, _ = package(CORE)

FS_TYPE = "Filesystem type to mount, e.g. ext4, xfs or ntfs; ext4 when unset."
READ_ONLY = "Force a read-only mount (default false)."
MODE = "Mode bits (octal 0000-0777 or decimal 0-511) for the created files."
DEFAULT_MODE = "Default mode bits (octal 0000-0777 or decimal 0-511) for the created files; 0644 when unset."

obj(
    "LocalObjectReference",
    "A reference to an object by name in the same namespace.",
    name=s("Name of the referent."),
)
obj(
    "SecretReference",
    "A reference to a Secret in any namespace.",
    name=s("Name of the secret."),
    namespace=s("Namespace of the secret."),
)
obj(
    "KeyToPath",
    "Maps a string key to a path within a volume.",
    key=s("The key to project.", req=True),
    path=s("Relative path of the file to map the key to; no '..' elements.", req=True),
    mode=i32(MODE),
)
obj(
    "ObjectFieldSelector",
    "Selects a field of the object by its API version and path.",
    apiVersion=s("Version of the schema the fieldPath is written in terms of; v1 when unset."),
    fieldPath=s("Path of the field to select, e.g. metadata.name.", req=True),
)
obj(
    "ResourceFieldSelector",
    "Selects a container resource (limits.cpu, requests.memory, ...) and its output format.",
    containerName=s("Container name: required for volumes, optional for env vars."),
    resource=s("Resource to select, e.g. limits.cpu.", req=True),
    divisor=q("Output format of the exposed resource; 1 when unset."),
)


class _SecretRef:
    """A twin's secret reference, whose type differs between the pod source and the persistent
    one (LocalObjectReference in the pod's namespace; SecretReference or ObjectReference)."""

    def __init__(self, doc: str, *, req: bool = False) -> None:
        self.doc, self.req = doc, req


def secret_ref(doc: str, *, req: bool = False) -> _SecretRef:
    return _SecretRef(doc, req=req)


def twin(fields: dict[str, Field | _SecretRef], secret_kind: str) -> dict[str, Field]:
    """The fields of one of a twin pair, its secret reference of `secret_kind`."""
    return {k: ref(secret_kind, v.doc, req=v.req) if isinstance(v, _SecretRef) else v for k, v in fields.items()}


# Fields shared by a pod volume source and its persistent twin, defined once.
GLUSTERFS = dict(
    endpoints=s("Name of the endpoints object that details the Glusterfs topology.", req=True),
    path=s("Glusterfs volume path.", req=True),
    readOnly=b(READ_ONLY),
)

RBD = dict(
    monitors=strs("Ceph monitors.", req=True),
    image=s("Rados image name.", req=True),
    fsType=s(FS_TYPE),
    pool=s("Rados pool name; rbd when unset."),
    user=s("Rados user name; admin when unset."),
    keyring=s("Path to the key ring for the user; /etc/ceph/keyring when unset."),
    secretRef=secret_ref("Authentication secret for the user; overrides keyring."),
    readOnly=b(READ_ONLY),
)

ISCSI = dict(
    targetPortal=s("iSCSI target portal, an IP or ip_addr:port.", req=True),
    iqn=s("iSCSI qualified name of the target.", req=True),
    lun=i32("iSCSI target LUN number.", req=True),
    iscsiInterface=s("iSCSI interface name that uses an iSCSI transport; 'default' (tcp) when unset."),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
    portals=strs("iSCSI target portal list."),
    chapAuthDiscovery=b("Whether iSCSI discovery CHAP authentication is supported."),
    chapAuthSession=b("Whether iSCSI session CHAP authentication is supported."),
    secretRef=secret_ref("CHAP secret for iSCSI target and initiator authentication."),
    initiatorName=s("Custom iSCSI initiator name."),
)

CINDER = dict(
    volumeID=s("ID of the volume in Cinder.", req=True),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
    secretRef=secret_ref("Secret with the parameters to connect to OpenStack."),
)

CEPHFS = dict(
    monitors=strs("Ceph monitors.", req=True),
    path=s("Mounted root within the Ceph tree; / when unset."),
    user=s("Rados user name; admin when unset."),
    secretFile=s("Path to the key ring for the user; /etc/ceph/user.secret when unset."),
    secretRef=secret_ref("Authentication secret for the user."),
    readOnly=b(READ_ONLY),
)

FLEX = dict(
    driver=s("Name of the driver.", req=True),
    fsType=s("Filesystem type to mount; the default depends on the driver script."),
    secretRef=secret_ref("Secret with sensitive data passed to the plugin scripts."),
    readOnly=b(READ_ONLY),
    options=smap("Extra command options."),
)

AZURE_FILE = dict(
    secretName=s("Name of the secret holding the Azure storage account name and key.", req=True),
    shareName=s("Azure share name.", req=True),
    readOnly=b(READ_ONLY),
)

SCALEIO = dict(
    gateway=s("Host address of the ScaleIO API gateway.", req=True),
    system=s("Name of the storage system as configured in ScaleIO.", req=True),
    secretRef=secret_ref("Secret for the ScaleIO user and other sensitive data.", req=True),
    sslEnabled=b("Enable SSL communication with the gateway."),
    protectionDomain=s("Name of the ScaleIO protection domain."),
    storagePool=s("ScaleIO storage pool associated with the protection domain."),
    storageMode=s("ThickProvisioned or ThinProvisioned; ThinProvisioned when unset."),
    volumeName=s("Name of an existing volume in the ScaleIO system."),
    fsType=s("Filesystem type to mount; xfs when unset."),
    readOnly=b(READ_ONLY),
)

STORAGEOS = dict(
    volumeName=s("Human-readable name of the StorageOS volume."),
    volumeNamespace=s("Scope of the volume within StorageOS; the pod's namespace when unset."),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
    secretRef=secret_ref("Secret with the StorageOS API credentials."),
)

# --- sources shared by pods and persistent volumes -------------------------------------------
obj(
    "HostPathVolumeSource",
    "A pre-existing file or directory on the host mapped into the pod.",
    path=s("Path of the directory on the host; symlinks are followed.", req=True),
    type=s(
        "What must exist at the path: DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice; unchecked when empty."
    ),
)
obj(
    "GCEPersistentDiskVolumeSource",
    "A Persistent Disk in Google Compute Engine.",
    pdName=s("Unique name of the PD resource in GCE.", req=True),
    fsType=s(FS_TYPE),
    partition=i32("Partition of the disk to mount; the whole disk when unset."),
    readOnly=b(READ_ONLY),
)
obj(
    "AWSElasticBlockStoreVolumeSource",
    "A Persistent Disk in AWS (an EBS volume).",
    volumeID=s("Unique ID of the EBS volume.", req=True),
    fsType=s(FS_TYPE),
    partition=i32("Partition of the volume to mount; the whole volume when unset."),
    readOnly=b(READ_ONLY),
)
obj(
    "NFSVolumeSource",
    "An NFS mount that lasts the lifetime of a pod.",
    server=s("Hostname or IP address of the NFS server.", req=True),
    path=s("Path exported by the NFS server.", req=True),
    readOnly=b(READ_ONLY),
)
obj(
    "FCVolumeSource",
    "A Fibre Channel volume.",
    targetWWNs=strs("FC target worldwide names (WWNs)."),
    lun=i32("FC target LUN number."),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
    wwids=strs("FC volume world wide identifiers; either wwids or targetWWNs with lun."),
)
obj(
    "FlockerVolumeSource",
    "A Flocker volume mounted by the Flocker agent.",
    datasetName=s("Name of the dataset (deprecated)."),
    datasetUUID=s("UUID of the dataset."),
)
obj(
    "VsphereVirtualDiskVolumeSource",
    "A vSphere volume.",
    volumePath=s("Path that identifies the vSphere volume vmdk.", req=True),
    fsType=s(FS_TYPE),
    storagePolicyName=s("Storage Policy Based Management (SPBM) profile name."),
    storagePolicyID=s("SPBM profile ID associated with storagePolicyName."),
)
obj(
    "QuobyteVolumeSource",
    "A Quobyte mount that lasts the lifetime of a pod.",
    registry=s("Quobyte registry services as host:port pairs, comma separated.", req=True),
    volume=s("Name of an existing Quobyte volume.", req=True),
    readOnly=b(READ_ONLY),
    user=s("User to map volume access to."),
    group=s("Group to map volume access to."),
    tenant=s("Tenant owning the volume in the backend."),
)
obj(
    "AzureDiskVolumeSource",
    "An Azure Data Disk mount on the host, bind mounted into the pod.",
    diskName=s("Name of the data disk in the blob storage.", req=True),
    diskURI=s("URI of the data disk in the blob storage.", req=True),
    cachingMode=s("Host caching mode: None, ReadOnly or ReadWrite."),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
    kind=s("Disk kind: Shared, Dedicated or Managed; Shared when unset."),
)
obj(
    "PhotonPersistentDiskVolumeSource",
    "A Photon Controller persistent disk.",
    pdID=s("ID of the Photon Controller persistent disk.", req=True),
    fsType=s(FS_TYPE),
)
obj(
    "PortworxVolumeSource",
    "A Portworx volume.",
    volumeID=s("Unique ID of the Portworx volume.", req=True),
    fsType=s(FS_TYPE),
    readOnly=b(READ_ONLY),
)

# --- pod-only sources ---------------------------------------------------------------------
obj(
    "EmptyDirVolumeSource",
    "A temporary directory that shares a pod's lifetime.",
    medium=s("Storage medium backing the directory: empty (node default) or Memory."),
    sizeLimit=q("Total amount of local storage the directory may use."),
)
obj(
    "GitRepoVolumeSource",
    "A volume populated with a git repository (deprecated).",
    repository=s("Repository URL.", req=True),
    revision=s("Commit hash to check out."),
    directory=s("Target directory name; '.' puts the repository at the volume root."),
)
obj(
    "SecretVolumeSource",
    "Presents the data of a Secret as files.",
    secretName=s("Name of the secret in the pod's namespace."),
    items=arr("KeyToPath", "Keys to project and their paths; every key when unset."),
    defaultMode=i32(DEFAULT_MODE),
    optional=b("Whether the secret or its keys may be missing."),
)
obj(
    "ISCSIVolumeSource",
    "An iSCSI disk.",
    **twin(ISCSI, "LocalObjectReference"),
)
obj(
    "GlusterfsVolumeSource",
    "A Glusterfs mount that lasts the lifetime of a pod.",
    **GLUSTERFS,
)
obj(
    "PersistentVolumeClaimVolumeSource",
    "A reference to a PersistentVolumeClaim in the pod's namespace.",
    claimName=s("Name of the PersistentVolumeClaim.", req=True),
    readOnly=b("Force a read-only mount of the claim (default false)."),
)
obj(
    "RBDVolumeSource",
    "A Rados Block Device mount that lasts the lifetime of a pod.",
    **twin(RBD, "LocalObjectReference"),
)
obj(
    "FlexVolumeSource",
    "A generic volume provisioned and attached by an exec-based plugin.",
    **twin(FLEX, "LocalObjectReference"),
)
obj(
    "CinderVolumeSource",
    "A Cinder volume in OpenStack.",
    **twin(CINDER, "LocalObjectReference"),
)
obj(
    "CephFSVolumeSource",
    "A Ceph FS mount that lasts the lifetime of a pod.",
    **twin(CEPHFS, "LocalObjectReference"),
)
obj(
    "DownwardAPIVolumeFile",
    "A file holding pod field information.",
    path=s("Relative path of the file to create.", req=True),
    fieldRef=ref(
        "ObjectFieldSelector", "A field of the pod: metadata annotations, labels, name, namespace or uid."
    ),
    resourceFieldRef=ref("ResourceFieldSelector", "A resource of a container (limits and requests)."),
    mode=i32(MODE),
)
obj(
    "DownwardAPIVolumeSource",
    "Downward API information about the pod, as files.",
    items=arr("DownwardAPIVolumeFile", "The files of the volume."),
    defaultMode=i32(DEFAULT_MODE),
)
obj(
    "AzureFileVolumeSource",
    "An Azure File Service mount on the host, bind mounted into the pod.",
    **AZURE_FILE,
)
obj(
    "ConfigMapVolumeSource",
    "Presents the data of a ConfigMap as files.",
    **inline("LocalObjectReference"),
    items=arr("KeyToPath", "Keys to project and their paths; every key when unset."),
    defaultMode=i32(DEFAULT_MODE),
    optional=b("Whether the ConfigMap or its keys may be missing."),
)
obj(
    "SecretProjection",
    "A Secret projected into a projected volume.",
    **inline("LocalObjectReference"),
    items=arr("KeyToPath", "Keys to project and their paths; every key when unset."),
    optional=b("Whether the secret or its keys may be missing."),
)
obj(
    "ConfigMapProjection",
    "A ConfigMap projected into a projected volume.",
    **inline("LocalObjectReference"),
    items=arr("KeyToPath", "Keys to project and their paths; every key when unset."),
    optional=b("Whether the ConfigMap or its keys may be missing."),
)
obj(
    "DownwardAPIProjection",
    "Downward API information projected into a projected volume.",
    items=arr("DownwardAPIVolumeFile", "The files to project."),
)
obj(
    "ServiceAccountTokenProjection",
    "A service account token projected into a projected volume.",
    audience=s("Intended audience of the token; the API server's identifier when unset."),
    expirationSeconds=i64("Requested validity of the token in seconds; 3600 when unset, at least 600."),
    path=s("Path, relative to the mount point, of the token file.", req=True),
)
obj(
    "ClusterTrustBundleProjection",
    "ClusterTrustBundle objects projected into the pod filesystem.",
    name=s("Select a single ClusterTrustBundle by name."),
    signerName=s("Select every ClusterTrustBundle with this signer name."),
    labelSelector=ref("LabelSelector", "Select ClusterTrustBundles by label; only with signerName."),
    optional=b("Do not block pod start-up if the bundles are missing."),
    path=s("Relative path from the volume root to write the bundle.", req=True),
)
obj(
    "VolumeProjection",
    "One source projected into a projected volume.",
    secret=ref("SecretProjection", "Secret data to project."),
    downwardAPI=ref("DownwardAPIProjection", "Downward API data to project."),
    configMap=ref("ConfigMapProjection", "ConfigMap data to project."),
    serviceAccountToken=ref("ServiceAccountTokenProjection", "A service account token to project."),
    clusterTrustBundle=ref("ClusterTrustBundleProjection", "ClusterTrustBundle contents to project."),
)
obj(
    "ProjectedVolumeSource",
    "Several sources (secrets, config maps, downward API, tokens) projected into one directory.",
    sources=arr("VolumeProjection", "The volume projections."),
    defaultMode=i32(DEFAULT_MODE),
)
obj(
    "ScaleIOVolumeSource",
    "A ScaleIO persistent volume.",
    **twin(SCALEIO, "LocalObjectReference"),
)
obj(
    "StorageOSVolumeSource",
    "A StorageOS volume.",
    **twin(STORAGEOS, "LocalObjectReference"),
)
obj(
    "CSIVolumeSource",
    "An ephemeral inline volume handled by a CSI driver.",
    driver=s("Name of the CSI driver that handles the volume.", req=True),
    readOnly=b("Read-only configuration for the volume (default false)."),
    fsType=s("Filesystem type to mount; passed empty to the driver when unset."),
    volumeAttributes=smap("Driver-specific properties passed to the CSI driver."),
    nodePublishSecretRef=ref(
        "LocalObjectReference", "Secret passed to the driver's NodePublishVolume and NodeUnpublishVolume."
    ),
)
obj(
    "EphemeralVolumeSource",
    "A volume handled by a storage driver through a claim that lives and dies with the pod.",
    volumeClaimTemplate=ref(
        "PersistentVolumeClaimTemplate", "Template of the claim made for the pod, named <pod>-<volume>."
    ),
)
obj(
    "PersistentVolumeClaimTemplate",
    "Produces a PersistentVolumeClaim for an ephemeral volume.",
    metadata=ref("ObjectMeta", "Labels and annotations copied into the claim."),
    spec=ref("PersistentVolumeClaimSpec", "Specification of the claim, copied unchanged.", req=True),
)
obj(
    "ImageVolumeSource",
    "An OCI object (a container image or artifact) mounted read-only.",
    reference=s("Image or artifact reference, as for a container image."),
    pullPolicy=s("When to pull the object: Always, Never or IfNotPresent."),
)

obj(
    "VolumeSource",
    "The source of a volume to mount; exactly one member may be set.",
    hostPath=ref("HostPathVolumeSource", "A file or directory on the host."),
    emptyDir=ref("EmptyDirVolumeSource", "A temporary directory that shares the pod's lifetime."),
    gcePersistentDisk=ref("GCEPersistentDiskVolumeSource", "A GCE persistent disk attached to the node."),
    awsElasticBlockStore=ref("AWSElasticBlockStoreVolumeSource", "An AWS EBS disk attached to the node."),
    gitRepo=ref("GitRepoVolumeSource", "A git repository at a revision (deprecated)."),
    secret=ref("SecretVolumeSource", "A Secret that populates the volume."),
    nfs=ref("NFSVolumeSource", "An NFS mount on the host."),
    iscsi=ref("ISCSIVolumeSource", "An iSCSI disk attached to the node."),
    glusterfs=ref("GlusterfsVolumeSource", "A Glusterfs mount on the host."),
    persistentVolumeClaim=ref(
        "PersistentVolumeClaimVolumeSource", "A PersistentVolumeClaim in the same namespace."
    ),
    rbd=ref("RBDVolumeSource", "A Rados Block Device mount on the host."),
    flexVolume=ref("FlexVolumeSource", "A volume handled by an exec-based plugin."),
    cinder=ref("CinderVolumeSource", "A Cinder volume attached to the node."),
    cephfs=ref("CephFSVolumeSource", "A Ceph FS mount on the host."),
    flocker=ref("FlockerVolumeSource", "A Flocker volume attached to the node."),
    downwardAPI=ref("DownwardAPIVolumeSource", "Downward API information about the pod."),
    fc=ref("FCVolumeSource", "A Fibre Channel disk attached to the node."),
    azureFile=ref("AzureFileVolumeSource", "An Azure File Service mount."),
    configMap=ref("ConfigMapVolumeSource", "A ConfigMap that populates the volume."),
    vsphereVolume=ref("VsphereVirtualDiskVolumeSource", "A vSphere volume attached to the node."),
    quobyte=ref("QuobyteVolumeSource", "A Quobyte mount on the host."),
    azureDisk=ref("AzureDiskVolumeSource", "An Azure Data Disk mount."),
    photonPersistentDisk=ref("PhotonPersistentDiskVolumeSource", "A Photon Controller persistent disk."),
    projected=ref("ProjectedVolumeSource", "Secrets, config maps, downward API and tokens in one directory."),
    portworxVolume=ref("PortworxVolumeSource", "A Portworx volume attached to the node."),
    scaleIO=ref("ScaleIOVolumeSource", "A ScaleIO volume attached to the node."),
    storageos=ref("StorageOSVolumeSource", "A StorageOS volume attached to the node."),
    csi=ref("CSIVolumeSource", "An ephemeral volume handled by a CSI driver."),
    ephemeral=ref("EphemeralVolumeSource", "A volume from a claim that lives and dies with the pod."),
    image=ref("ImageVolumeSource", "An OCI image or artifact mounted read-only."),
)
obj(
    "Volume",
    "A named volume in a pod that any container of the pod may mount.",
    name=s("Name of the volume, a DNS label unique within the pod.", req=True),
    **inline("VolumeSource"),
)

# --- persistent-volume-only sources ---------------------------------------------------------
obj(
    "GlusterfsPersistentVolumeSource",
    "A Glusterfs volume attached to a host and exposed to the pod.",
    **GLUSTERFS,
    endpointsNamespace=s("Namespace of the endpoints object; the claim's namespace when unset."),
)
obj(
    "RBDPersistentVolumeSource",
    "A Rados Block Device mount.",
    **twin(RBD, "SecretReference"),
)
obj(
    "ISCSIPersistentVolumeSource",
    "An iSCSI disk.",
    **twin(ISCSI, "SecretReference"),
)
obj(
    "CinderPersistentVolumeSource",
    "A Cinder volume in OpenStack.",
    **twin(CINDER, "SecretReference"),
)
obj(
    "CephFSPersistentVolumeSource",
    "A Ceph FS mount.",
    **twin(CEPHFS, "SecretReference"),
)
obj(
    "FlexPersistentVolumeSource",
    "A generic persistent volume provisioned and attached by an exec-based plugin.",
    **twin(FLEX, "SecretReference"),
)
obj(
    "AzureFilePersistentVolumeSource",
    "An Azure File Service mount.",
    **AZURE_FILE,
    secretNamespace=s("Namespace of the secret; the pod's namespace when unset."),
)
obj(
    "ScaleIOPersistentVolumeSource",
    "A ScaleIO persistent volume.",
    **twin(SCALEIO, "SecretReference"),
)
obj(
    "LocalVolumeSource",
    "Directly attached storage (a directory or block device) with node affinity.",
    path=s("Full path to the volume on the node: a directory or a block device.", req=True),
    fsType=s("Filesystem type to mount when path is a block device; auto-selected when unset."),
)
obj(
    "StorageOSPersistentVolumeSource",
    "A StorageOS volume.",
    **twin(STORAGEOS, "ObjectReference"),
)
obj(
    "CSIPersistentVolumeSource",
    "Storage handled by an external CSI driver.",
    driver=s("Name of the CSI driver.", req=True),
    volumeHandle=s("Unique volume name returned by the driver's CreateVolume.", req=True),
    readOnly=b("Value passed as readonly to ControllerPublishVolume (default false)."),
    fsType=s("Filesystem type to mount, e.g. ext4, xfs or ntfs."),
    volumeAttributes=smap("Attributes of the volume to publish."),
    controllerPublishSecretRef=ref(
        "SecretReference", "Secret passed to ControllerPublishVolume and ControllerUnpublishVolume."
    ),
    nodeStageSecretRef=ref("SecretReference", "Secret passed to NodeStageVolume and NodeUnstageVolume."),
    nodePublishSecretRef=ref(
        "SecretReference", "Secret passed to NodePublishVolume and NodeUnpublishVolume."
    ),
    controllerExpandSecretRef=ref("SecretReference", "Secret passed to ControllerExpandVolume."),
    nodeExpandSecretRef=ref("SecretReference", "Secret passed to NodeExpandVolume."),
)

obj(
    "PersistentVolumeSource",
    "The storage backing a PersistentVolume; exactly one member must be set.",
    gcePersistentDisk=ref("GCEPersistentDiskVolumeSource", "A GCE persistent disk."),
    awsElasticBlockStore=ref("AWSElasticBlockStoreVolumeSource", "An AWS EBS disk."),
    hostPath=ref("HostPathVolumeSource", "A directory on the host, for single-node testing only."),
    glusterfs=ref("GlusterfsPersistentVolumeSource", "A Glusterfs volume."),
    nfs=ref("NFSVolumeSource", "An NFS mount."),
    rbd=ref("RBDPersistentVolumeSource", "A Rados Block Device."),
    iscsi=ref("ISCSIPersistentVolumeSource", "An iSCSI disk."),
    cinder=ref("CinderPersistentVolumeSource", "A Cinder volume."),
    cephfs=ref("CephFSPersistentVolumeSource", "A Ceph FS mount."),
    fc=ref("FCVolumeSource", "A Fibre Channel disk."),
    flocker=ref("FlockerVolumeSource", "A Flocker volume."),
    flexVolume=ref("FlexPersistentVolumeSource", "A volume handled by an exec-based plugin."),
    azureFile=ref("AzureFilePersistentVolumeSource", "An Azure File Service mount."),
    vsphereVolume=ref("VsphereVirtualDiskVolumeSource", "A vSphere volume."),
    quobyte=ref("QuobyteVolumeSource", "A Quobyte mount."),
    azureDisk=ref("AzureDiskVolumeSource", "An Azure Data Disk."),
    photonPersistentDisk=ref("PhotonPersistentDiskVolumeSource", "A Photon Controller persistent disk."),
    portworxVolume=ref("PortworxVolumeSource", "A Portworx volume."),
    scaleIO=ref("ScaleIOPersistentVolumeSource", "A ScaleIO volume."),
    local=ref("LocalVolumeSource", "Directly attached storage with node affinity."),
    storageos=ref("StorageOSPersistentVolumeSource", "A StorageOS volume."),
    csi=ref("CSIPersistentVolumeSource", "Storage handled by an external CSI driver."),
)
