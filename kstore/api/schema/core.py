"""core/v1 kinds other than Pod: PersistentVolume, PersistentVolumeClaim, Node, Namespace,
Event, Service, ConfigMap, Secret, ServiceAccount, and the references they share."""

from __future__ import annotations

from kstore.api.schema import volumes  # noqa: F401 (defines the types `inline` splices in below)
from kstore.api.schema.dsl import (
    BYTES,
    CORE,
    arr,
    b,
    i32,
    i64,
    inline,
    ios,
    mapof,
    mt,
    package,
    qmap,
    ref,
    s,
    smap,
    strs,
    t,
)

obj, kind = package(CORE)

obj(
    "ObjectReference",
    "A reference to an object, with enough information to let you inspect or modify it.",
    kind=s("Kind of the referent."),
    namespace=s("Namespace of the referent."),
    name=s("Name of the referent."),
    uid=s("UID of the referent."),
    apiVersion=s("API version of the referent."),
    resourceVersion=s("Specific resourceVersion this reference is made to, if any."),
    fieldPath=s("A piece of the object instead of the whole, e.g. spec.containers{name}."),
)
obj(
    "TypedLocalObjectReference",
    "A reference to a typed object in the same namespace.",
    apiGroup=s("Group of the referenced resource; empty for the core group."),
    kind=s("Kind of the referenced resource.", req=True),
    name=s("Name of the referenced resource.", req=True),
)
obj(
    "TypedObjectReference",
    "A reference to a typed object, possibly in another namespace.",
    apiGroup=s("Group of the referenced resource; empty for the core group."),
    kind=s("Kind of the referenced resource.", req=True),
    name=s("Name of the referenced resource.", req=True),
    namespace=s("Namespace of the referenced resource (needs a ReferenceGrant there)."),
)
obj(
    "TopologySelectorLabelRequirement",
    "A label key and the values it may take; a value matches if it is one of them.",
    key=s("The label key the selector applies to.", req=True),
    values=strs("The values the label may take.", req=True),
)
obj(
    "TopologySelectorTerm",
    "A topology selector term: requirements ANDed together.",
    matchLabelExpressions=arr(
        "TopologySelectorLabelRequirement", "Topology selector requirements by labels."
    ),
)

# --- PersistentVolumeClaim ------------------------------------------------------------------
kind(
    "PersistentVolumeClaim",
    "A user's request for and claim to a persistent volume.",
    "",
    "v1",
    spec=ref("PersistentVolumeClaimSpec", "Desired characteristics of the volume requested."),
    status=ref("PersistentVolumeClaimStatus", "Current status of the claim; read-only."),
)
obj(
    "PersistentVolumeClaimSpec",
    "The common attributes of storage devices, and a source for provider-specific attributes.",
    accessModes=strs(
        "Desired access modes of the volume: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."
    ),
    selector=ref("LabelSelector", "A label query over volumes to consider for binding."),
    resources=ref("VolumeResourceRequirements", "Minimum resources the volume should have."),
    volumeName=s("Binding reference to the PersistentVolume backing the claim."),
    storageClassName=s("Name of the StorageClass the claim requires."),
    volumeMode=s("Block or Filesystem; Filesystem when unset."),
    dataSource=ref(
        "TypedLocalObjectReference", "An existing VolumeSnapshot or PVC to populate the volume from."
    ),
    dataSourceRef=ref(
        "TypedObjectReference", "The object to populate the volume from, possibly a populator's."
    ),
    volumeAttributesClassName=s("VolumeAttributesClass used by the claim; mutable."),
)
obj(
    "VolumeResourceRequirements",
    "The storage resource requirements of a volume.",
    limits=qmap("Maximum amount of resources allowed."),
    requests=qmap("Minimum amount of resources required, e.g. storage: 1Gi."),
)
obj(
    "PersistentVolumeClaimStatus",
    "The current status of a persistent volume claim.",
    phase=s("Phase of the claim: Pending, Bound or Lost."),
    accessModes=strs("Actual access modes of the volume backing the claim."),
    capacity=qmap("Actual resources of the underlying volume."),
    conditions=arr(
        "PersistentVolumeClaimCondition", "Current conditions of the claim, e.g. Resizing.", key="type"
    ),
    allocatedResources=qmap("Resources allocated to the claim, including its capacity during expansion."),
    allocatedResourceStatuses=smap(
        "Status of resources being resized, e.g. storage: ControllerResizeInProgress."
    ),
    currentVolumeAttributesClassName=s("VolumeAttributesClass the claim currently uses."),
    modifyVolumeStatus=ref("ModifyVolumeStatus", "Status of a ControllerModifyVolume operation."),
)
obj(
    "PersistentVolumeClaimCondition",
    "A condition of a persistent volume claim.",
    type=s("Type of the condition, e.g. Resizing or FileSystemResizePending.", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastProbeTime=t("Last time the condition was probed."),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Unique, short, machine-readable reason for the last transition."),
    message=s("Human-readable message about the last transition."),
)
obj(
    "ModifyVolumeStatus",
    "The status of a ControllerModifyVolume operation.",
    targetVolumeAttributesClassName=s("VolumeAttributesClass being reconciled."),
    status=s("Status of the operation: Pending, InProgress or Infeasible.", req=True),
)

# --- PersistentVolume -----------------------------------------------------------------------
kind(
    "PersistentVolume",
    "A storage resource provisioned by an administrator or a provisioner; analogous to a node.",
    "",
    "v1",
    spec=ref("PersistentVolumeSpec", "Specification of the volume, owned by the cluster."),
    status=ref("PersistentVolumeStatus", "Current status of the volume; read-only."),
)
obj(
    "PersistentVolumeSpec",
    "The specification of a persistent volume.",
    capacity=qmap("Resources and capacity of the volume, e.g. storage: 10Gi."),
    **inline("PersistentVolumeSource"),
    accessModes=strs(
        "Ways the volume can be mounted: ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod."
    ),
    claimRef=ref(
        "ObjectReference", "The claim bound to the volume; the claim's volumeName is authoritative."
    ),
    persistentVolumeReclaimPolicy=s("What happens when the claim is released: Retain, Delete or Recycle."),
    storageClassName=s("Name of the StorageClass the volume belongs to; empty for none."),
    mountOptions=strs('Mount options, e.g. ["ro", "soft"]; not validated.'),
    volumeMode=s("Block or Filesystem; Filesystem when unset."),
    nodeAffinity=ref("VolumeNodeAffinity", "Constraints on the nodes the volume can be accessed from."),
    volumeAttributesClassName=s("VolumeAttributesClass the volume belongs to."),
)
obj(
    "VolumeNodeAffinity",
    "Constraints that limit what nodes a volume can be accessed from.",
    required=ref("NodeSelector", "Hard node constraints that must be met."),
)
obj(
    "PersistentVolumeStatus",
    "The current status of a persistent volume.",
    phase=s("Phase of the volume: Pending, Available, Bound, Released or Failed."),
    message=s("Human-readable message about why the volume is in this state."),
    reason=s("Brief CamelCase reason for a failure."),
    lastPhaseTransitionTime=t("When the phase last changed."),
)

# --- Node -----------------------------------------------------------------------------------
kind(
    "Node",
    "A worker node in Kubernetes.",
    "",
    "v1",
    spec=ref("NodeSpec", "Behaviour of the node."),
    status=ref("NodeStatus", "Most recently observed status of the node."),
)
obj(
    "NodeSpec",
    "The attributes a node is created with.",
    podCIDR=s("Pod IP range assigned to the node."),
    podCIDRs=strs(
        "Pod IP ranges assigned to the node, one per IP family.", list_type="set", strategy="merge"
    ),
    providerID=s("ID of the node assigned by the cloud provider: <ProviderName>://<ProviderSpecificNodeID>."),
    unschedulable=b("Keep new pods off the node; false when unset."),
    taints=arr("Taint", "Taints of the node."),
    configSource=ref("NodeConfigSource", "Deprecated: dynamic kubelet configuration is gone."),
    externalID=s("Deprecated; not every kubelet sets it."),
)
obj(
    "Taint",
    "A taint that repels pods that do not tolerate it.",
    key=s("The taint key.", req=True),
    value=s("The taint value."),
    effect=s(
        "Effect on pods that do not tolerate the taint: NoSchedule, PreferNoSchedule or NoExecute.", req=True
    ),
    timeAdded=t("When the taint was added; only for NoExecute taints."),
)
obj(
    "NodeConfigSource",
    "Deprecated: the source of a node's dynamic kubelet configuration.",
    configMap=ref("ConfigMapNodeConfigSource", "A ConfigMap as the config source."),
)
obj(
    "ConfigMapNodeConfigSource",
    "Deprecated: a ConfigMap holding a node's kubelet configuration.",
    namespace=s("Namespace of the ConfigMap.", req=True),
    name=s("Name of the ConfigMap.", req=True),
    uid=s("UID of the ConfigMap."),
    resourceVersion=s("ResourceVersion of the ConfigMap."),
    kubeletConfigKey=s("Key of the ConfigMap holding the KubeletConfiguration.", req=True),
)
obj(
    "NodeStatus",
    "Information about the current status of a node.",
    capacity=qmap("Total resources of the node."),
    allocatable=qmap("Resources of the node available for scheduling."),
    phase=s("Deprecated: the lifecycle phase of the node."),
    conditions=arr("NodeCondition", "Current observed conditions of the node.", key="type"),
    addresses=arr("NodeAddress", "Addresses reachable to the node.", key="type"),
    daemonEndpoints=ref("NodeDaemonEndpoints", "Endpoints of daemons running on the node."),
    nodeInfo=ref("NodeSystemInfo", "IDs and versions reported by the node."),
    images=arr("ContainerImage", "Container images on the node."),
    volumesInUse=strs("Attachable volumes in use (mounted) by the node."),
    volumesAttached=arr("AttachedVolume", "Volumes attached to the node."),
    config=ref("NodeConfigStatus", "Deprecated: status of the dynamic kubelet configuration."),
    runtimeHandlers=arr("NodeRuntimeHandler", "Available runtime handlers."),
    features=ref("NodeFeatures", "Features implemented by the CRI implementation."),
)
obj(
    "NodeCondition",
    "A condition of a node.",
    type=s(
        "Type of the condition: Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable.",
        req=True,
    ),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastHeartbeatTime=t("Last time the condition was reported."),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Brief CamelCase reason for the last transition."),
    message=s("Human-readable message about the last transition."),
)
obj(
    "NodeAddress",
    "An address of a node.",
    type=s("Type of the address: Hostname, ExternalIP, InternalIP, ExternalDNS or InternalDNS.", req=True),
    address=s("The address.", req=True),
)
obj(
    "NodeDaemonEndpoints",
    "Ports opened by daemons running on the node.",
    kubeletEndpoint=ref("DaemonEndpoint", "Endpoint on which the kubelet listens."),
)
obj("DaemonEndpoint", "A port of a daemon.", Port=i32("Port number of the endpoint.", req=True))
obj(
    "NodeSystemInfo",
    "IDs and versions that identify a node.",
    machineID=s("Machine ID reported by the node.", req=True),
    systemUUID=s("System UUID reported by the node.", req=True),
    bootID=s("Boot ID reported by the node.", req=True),
    kernelVersion=s("Kernel version reported by uname -r.", req=True),
    osImage=s("OS image reported by the node from /etc/os-release.", req=True),
    containerRuntimeVersion=s("Container runtime version, e.g. containerd://1.7.0.", req=True),
    kubeletVersion=s("Kubelet version.", req=True),
    kubeProxyVersion=s("Deprecated: kube-proxy version.", req=True),
    operatingSystem=s("Operating system of the node.", req=True),
    architecture=s("Architecture of the node.", req=True),
)
obj(
    "ContainerImage",
    "A container image on a node.",
    names=strs("Names of the image, e.g. registry.k8s.io/pause:3.9."),
    sizeBytes=i64("Size of the image in bytes."),
)
obj(
    "AttachedVolume",
    "A volume attached to a node.",
    name=s("Name of the attached volume.", req=True),
    devicePath=s("Path where the volume should be available.", req=True),
)
obj(
    "NodeConfigStatus",
    "Deprecated: status of a node's dynamic kubelet configuration.",
    assigned=ref("NodeConfigSource", "Config the node will try to use."),
    active=ref("NodeConfigSource", "Config the node is using."),
    lastKnownGood=ref("NodeConfigSource", "Config the node falls back to on error."),
    error=s("Errors in the configuration."),
)
obj(
    "NodeRuntimeHandler",
    "A runtime handler of a node.",
    name=s("Name of the handler; empty for the default one."),
    features=ref("NodeRuntimeHandlerFeatures", "Features of the handler."),
)
obj(
    "NodeRuntimeHandlerFeatures",
    "Features of a runtime handler.",
    recursiveReadOnlyMounts=b("Whether the handler supports recursive read-only mounts."),
    userNamespaces=b("Whether the handler supports user namespaces."),
)
obj(
    "NodeFeatures",
    "Features implemented by a node's CRI implementation.",
    supplementalGroupsPolicy=b("Whether SupplementalGroupsPolicy and ContainerUser are supported."),
)

# --- Namespace ------------------------------------------------------------------------------
kind(
    "Namespace",
    "A scope for names.",
    "",
    "v1",
    spec=ref("NamespaceSpec", "Behaviour of the namespace."),
    status=ref("NamespaceStatus", "Status of the namespace; read-only."),
)
obj(
    "NamespaceSpec",
    "The attributes of a namespace.",
    finalizers=strs("Finalizers that must be empty before the namespace is removed."),
)
obj(
    "NamespaceStatus",
    "The current status of a namespace.",
    phase=s("Phase of the namespace: Active or Terminating."),
    conditions=arr("NamespaceCondition", "Latest observations of the namespace's state.", key="type"),
)
obj(
    "NamespaceCondition",
    "A condition of a namespace.",
    type=s("Type of the condition.", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Brief reason for the last transition."),
    message=s("Human-readable message about the last transition."),
)

# --- Event ----------------------------------------------------------------------------------
kind(
    "Event",
    "A report of an event somewhere in the cluster.",
    "",
    "v1",
    metadata=ref("ObjectMeta", "Standard object's metadata.", req=True),
    involvedObject=ref("ObjectReference", "The object this event is about.", req=True),
    reason=s("Short, machine-understandable reason for the transition, e.g. ProvisioningSucceeded."),
    message=s("Human-readable description of the event."),
    source=ref("EventSource", "The component reporting the event."),
    firstTimestamp=t("When the event was first recorded."),
    lastTimestamp=t("When the most recent occurrence was recorded."),
    count=i32("Number of times the event occurred."),
    type=s("Type of the event: Normal or Warning."),
    eventTime=mt("When the event was first observed."),
    series=ref("EventSeries", "Data about the event series this event is part of."),
    action=s("What action was taken or failed on the regarding object."),
    related=ref("ObjectReference", "A secondary object for more complex actions."),
    reportingComponent=s("Controller that emitted the event, e.g. kubernetes.io/kubelet."),
    reportingInstance=s("ID of the controller instance, e.g. kubelet-xyzf."),
)
obj(
    "EventSource",
    "The source of an event.",
    component=s("Component the event comes from."),
    host=s("Node name the event comes from."),
)
obj(
    "EventSeries",
    "A series of events that happen repeatedly.",
    count=i32("Number of occurrences in the series up to the last heartbeat."),
    lastObservedTime=mt("Time of the last occurrence observed."),
)

# --- Service --------------------------------------------------------------------------------
kind(
    "Service",
    "A named abstraction of a software service: a local port proxied to a set of pods.",
    "",
    "v1",
    spec=ref("ServiceSpec", "Behaviour of the service."),
    status=ref("ServiceStatus", "Most recently observed status of the service; read-only."),
)
obj(
    "ServiceSpec",
    "The attributes a user creates on a service.",
    ports=arr("ServicePort", "Ports exposed by the service.", key="port", map_keys=("port", "protocol")),
    selector=smap("Route traffic to pods with labels matching this selector."),
    clusterIP=s("IP address of the service, usually assigned at random; None for a headless service."),
    clusterIPs=strs("IP addresses of the service, one per IP family; the first equals clusterIP."),
    type=s("How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName."),
    externalIPs=strs("IP addresses for which nodes also accept traffic for the service."),
    sessionAffinity=s("Session affinity: ClientIP or None; None when unset."),
    loadBalancerIP=s("Deprecated: requested load balancer IP."),
    loadBalancerSourceRanges=strs("Client IP ranges allowed through a cloud load balancer."),
    externalName=s("DNS name the service aliases, for type ExternalName."),
    externalTrafficPolicy=s("How external traffic is routed to endpoints: Cluster or Local."),
    healthCheckNodePort=i32("Health check node port of a LoadBalancer service with Local traffic policy."),
    publishNotReadyAddresses=b("Publish addresses of pods that are not ready."),
    sessionAffinityConfig=ref("SessionAffinityConfig", "Configuration of session affinity."),
    ipFamilies=strs("IP families of the service: IPv4, IPv6."),
    ipFamilyPolicy=s("Dual-stack policy: SingleStack, PreferDualStack or RequireDualStack."),
    allocateLoadBalancerNodePorts=b("Allocate node ports for a LoadBalancer service; true when unset."),
    loadBalancerClass=s("Class of the load balancer implementation."),
    internalTrafficPolicy=s("How cluster-internal traffic is routed: Cluster or Local."),
    trafficDistribution=s("Preference for distributing traffic to endpoints, e.g. PreferClose."),
)
obj(
    "ServicePort",
    "A port of a service.",
    name=s("Name of the port, unique within the service; required with several ports."),
    protocol=s("IP protocol of the port: TCP, UDP or SCTP; TCP when unset."),
    appProtocol=s("Application protocol of the port, e.g. http or kubernetes.io/h2c."),
    port=i32("Port exposed by the service.", req=True),
    targetPort=ios("Number or name of the port to access on the pods; port when unset."),
    nodePort=i32("Port on each node for NodePort and LoadBalancer services."),
)
obj(
    "SessionAffinityConfig",
    "Configuration of session affinity.",
    clientIP=ref("ClientIPConfig", "Configuration of ClientIP session affinity."),
)
obj(
    "ClientIPConfig",
    "Configuration of ClientIP session affinity.",
    timeoutSeconds=i32("Seconds a ClientIP session sticks; 10800 (3 hours) when unset."),
)
obj(
    "ServiceStatus",
    "The current status of a service.",
    loadBalancer=ref("LoadBalancerStatus", "Status of the load balancer, if any."),
    conditions=arr("Condition", "Current conditions of the service.", key="type"),
)
obj(
    "LoadBalancerStatus",
    "The status of a load balancer.",
    ingress=arr("LoadBalancerIngress", "Ingress points of the load balancer."),
)
obj(
    "LoadBalancerIngress",
    "An ingress point of a load balancer.",
    ip=s("IP of an IP-based ingress point."),
    hostname=s("Hostname of a DNS-based ingress point."),
    ipMode=s("How the load balancer IP behaves: VIP or Proxy."),
    ports=arr("PortStatus", "Ports of the service, with their status."),
)
obj(
    "PortStatus",
    "The status of a service port.",
    port=i32("Port number of the service port.", req=True),
    protocol=s("Protocol of the service port: TCP, UDP or SCTP.", req=True),
    error=s("Problem with the port, in CamelCase, if any."),
)

# --- ConfigMap, Secret, ServiceAccount ------------------------------------------------------
kind(
    "ConfigMap",
    "Configuration data for pods to consume.",
    "",
    "v1",
    immutable=b("If true, the data cannot be updated, only the object deleted and recreated."),
    data=smap("UTF-8 configuration data; keys are alphanumeric, '-', '_' or '.'."),
    binaryData=mapof(BYTES, "Binary configuration data, base64 encoded; keys distinct from data's."),
)
kind(
    "Secret",
    "Secret data of a certain type, such as a token or a password.",
    "",
    "v1",
    immutable=b("If true, the data cannot be updated, only the object deleted and recreated."),
    data=mapof(BYTES, "Secret data, base64 encoded; keys are alphanumeric, '-', '_' or '.'."),
    stringData=smap("Write-only convenience: plain-text values merged into data on write."),
    type=s("Type of the secret, for programmatic handling, e.g. Opaque or kubernetes.io/tls."),
)
kind(
    "ServiceAccount",
    "An identity for processes that run in a pod, with the secrets it may use.",
    "",
    "v1",
    secrets=arr("ObjectReference", "Secrets pods running as this account may use (legacy).", key="name"),
    imagePullSecrets=arr("LocalObjectReference", "Secrets used to pull images for pods of this account."),
    automountServiceAccountToken=b("Whether pods of this account get an API token mounted automatically."),
)
