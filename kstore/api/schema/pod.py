"""core/v1 Pod: PodSpec, containers and their probes, security contexts, scheduling
(affinity, tolerations, topology spread), and PodStatus."""

from __future__ import annotations

from kstore.api.schema import volumes  # noqa: F401 (defines the types `inline` splices in below)
from kstore.api.schema.dsl import (
    CORE,
    INT64,
    arr,
    b,
    i32,
    i64,
    inline,
    ios,
    package,
    qmap,
    ref,
    s,
    smap,
    strs,
    t,
)

obj, kind = package(CORE)

kind(
    "Pod",
    "A collection of containers that can run on a host, created by clients and scheduled onto hosts.",
    "",
    "v1",
    spec=ref("PodSpec", "Desired behaviour of the pod."),
    status=ref("PodStatus", "Most recently observed status of the pod; read-only."),
)

obj(
    "PodTemplateSpec",
    "The data a pod has when created from a template (Deployments, ReplicaSets, StatefulSets).",
    metadata=ref("ObjectMeta", "Standard object's metadata of the pods."),
    spec=ref("PodSpec", "Desired behaviour of the pods."),
)

obj(
    "PodSpec",
    "A description of a pod.",
    volumes=arr(
        "Volume", "Volumes that containers of the pod can mount.", key="name", strategy="merge,retainKeys"
    ),
    initContainers=arr("Container", "Containers run in order before the app containers start.", key="name"),
    containers=arr("Container", "The containers of the pod; at least one.", key="name", req=True),
    ephemeralContainers=arr(
        "EphemeralContainer",
        "Ephemeral containers run in the pod for user-initiated actions such as debugging.",
        key="name",
    ),
    restartPolicy=s("Restart policy for all containers: Always, OnFailure or Never; Always when unset."),
    terminationGracePeriodSeconds=i64("Seconds the pod needs to terminate gracefully; 30 when unset."),
    activeDeadlineSeconds=i64("Seconds the pod may be active on a node, counted from its start time."),
    dnsPolicy=s(
        "DNS policy: ClusterFirstWithHostNet, ClusterFirst, Default or None; ClusterFirst when unset."
    ),
    nodeSelector=smap("Labels a node must have for the pod to fit on it."),
    serviceAccountName=s("Name of the ServiceAccount the pod runs as."),
    serviceAccount=s("Deprecated alias for serviceAccountName."),
    automountServiceAccountToken=b("Whether a service account token is mounted automatically."),
    nodeName=s("The node the pod is bound to; set by the scheduler, or directly to skip scheduling."),
    hostNetwork=b("Use the host's network namespace."),
    hostPID=b("Use the host's pid namespace."),
    hostIPC=b("Use the host's ipc namespace."),
    shareProcessNamespace=b("Share a single process namespace between all containers of the pod."),
    securityContext=ref("PodSecurityContext", "Pod-level security attributes and common container settings."),
    imagePullSecrets=arr("LocalObjectReference", "Secrets used to pull the pod's images.", key="name"),
    hostname=s("Hostname of the pod; the system-defined value when unset."),
    subdomain=s("Subdomain of the pod: <hostname>.<subdomain>.<namespace>.svc.<cluster domain>."),
    affinity=ref("Affinity", "Scheduling constraints of the pod."),
    schedulerName=s("Scheduler that dispatches the pod; the default scheduler when unset."),
    tolerations=arr("Toleration", "Taints the pod tolerates."),
    hostAliases=arr("HostAlias", "Entries added to the pod's hosts file.", key="ip"),
    priorityClassName=s("Priority class of the pod."),
    priority=i32("Priority value, filled in from priorityClassName by admission."),
    dnsConfig=ref("PodDNSConfig", "DNS parameters of the pod, merged with those from dnsPolicy."),
    readinessGates=arr("PodReadinessGate", "Extra conditions that must be true for the pod to be ready."),
    runtimeClassName=s("RuntimeClass used to run the pod."),
    enableServiceLinks=b("Inject information about services as environment variables; true when unset."),
    preemptionPolicy=s("Policy for preempting lower-priority pods: Never or PreemptLowerPriority."),
    overhead=qmap("Resource overhead of running the pod's sandbox, set by RuntimeClass admission."),
    topologySpreadConstraints=arr(
        "TopologySpreadConstraint",
        "How the pod's group spreads across topology domains.",
        key="topologyKey",
        map_keys=("topologyKey", "whenUnsatisfiable"),
    ),
    setHostnameAsFQDN=b("Set the pod's hostname to its fully qualified domain name."),
    os=ref("PodOS", "Operating system of the pod's containers."),
    hostUsers=b("Use the host's user namespace; true when unset."),
    schedulingGates=arr("PodSchedulingGate", "Gates that block scheduling while present.", key="name"),
    resourceClaims=arr(
        "PodResourceClaim",
        "Resource claims the pod's containers may use.",
        key="name",
        strategy="merge,retainKeys",
    ),
    resources=ref("ResourceRequirements", "Total resources of the pod (alpha, PodLevelResources)."),
)

_CONTAINER = dict(
    name=s("Name of the container, a DNS label unique within the pod.", req=True),
    image=s("Container image name."),
    command=strs("Entrypoint array, not run in a shell; the image's ENTRYPOINT when unset."),
    args=strs("Arguments to the entrypoint; the image's CMD when unset."),
    workingDir=s("Working directory of the container; the runtime's default when unset."),
    ports=arr(
        "ContainerPort",
        "Ports to expose from the container.",
        key="containerPort",
        map_keys=("containerPort", "protocol"),
    ),
    envFrom=arr("EnvFromSource", "Sources to populate environment variables from."),
    env=arr("EnvVar", "Environment variables to set in the container.", key="name"),
    resources=ref("ResourceRequirements", "Compute resources required by the container."),
    resizePolicy=arr("ContainerResizePolicy", "Resize policy per resource."),
    restartPolicy=s("Restart policy of an init container: only Always (a sidecar) may be set."),
    volumeMounts=arr("VolumeMount", "Pod volumes to mount into the container's filesystem.", key="mountPath"),
    volumeDevices=arr("VolumeDevice", "Block devices the container uses.", key="devicePath"),
    livenessProbe=ref("Probe", "Periodic probe of liveness; the container restarts when it fails."),
    readinessProbe=ref(
        "Probe", "Periodic probe of readiness; failing removes the pod from service endpoints."
    ),
    startupProbe=ref("Probe", "Probe that must succeed before the other probes run."),
    lifecycle=ref("Lifecycle", "Actions run in response to container lifecycle events."),
    terminationMessagePath=s("File the termination message is read from; /dev/termination-log when unset."),
    terminationMessagePolicy=s("How the termination message is filled in: File or FallbackToLogsOnError."),
    imagePullPolicy=s("Image pull policy: Always, Never or IfNotPresent."),
    securityContext=ref("SecurityContext", "Security options the container runs with."),
    stdin=b("Allocate a buffer for stdin in the container runtime."),
    stdinOnce=b("Close stdin after the first attach session disconnects."),
    tty=b("Allocate a TTY for the container; requires stdin."),
)
obj("Container", "A single application container to run within a pod.", **_CONTAINER)
obj(
    "EphemeralContainer",
    "A temporary container added to a running pod for user-initiated actions such as debugging.",
    **_CONTAINER,
    targetContainerName=s("Container whose namespaces (IPC, PID, ...) this one targets."),
)

obj(
    "ContainerPort",
    "A network port in a single container.",
    name=s("IANA_SVC_NAME of the port, unique within the pod, that services can refer to."),
    hostPort=i32("Port number to expose on the host."),
    containerPort=i32("Port number to expose on the pod's IP address.", req=True),
    protocol=s("Protocol of the port: UDP, TCP or SCTP; TCP when unset."),
    hostIP=s("Host IP to bind the external port to."),
)
obj(
    "EnvVar",
    "An environment variable present in a container.",
    name=s("Name of the environment variable.", req=True),
    value=s("Value, with $(VAR_NAME) references expanded; empty when unset."),
    valueFrom=ref("EnvVarSource", "Source of the value; cannot be used with a non-empty value."),
)
obj(
    "EnvVarSource",
    "The source of an environment variable's value.",
    fieldRef=ref("ObjectFieldSelector", "A field of the pod: metadata.name, status.podIP, ..."),
    resourceFieldRef=ref(
        "ResourceFieldSelector", "A resource of the container: limits.cpu, requests.memory, ..."
    ),
    configMapKeyRef=ref("ConfigMapKeySelector", "A key of a ConfigMap."),
    secretKeyRef=ref("SecretKeySelector", "A key of a Secret in the pod's namespace."),
)
obj(
    "ConfigMapKeySelector",
    "Selects a key of a ConfigMap.",
    **inline("LocalObjectReference"),
    key=s("The key to select.", req=True),
    optional=b("Whether the ConfigMap or its key may be missing."),
)
obj(
    "SecretKeySelector",
    "Selects a key of a Secret.",
    **inline("LocalObjectReference"),
    key=s("The key of the secret to select.", req=True),
    optional=b("Whether the Secret or its key may be missing."),
)
obj(
    "EnvFromSource",
    "A source of a set of environment variables.",
    prefix=s("Identifier prepended to every key."),
    configMapRef=ref("ConfigMapEnvSource", "The ConfigMap to take variables from."),
    secretRef=ref("SecretEnvSource", "The Secret to take variables from."),
)
obj(
    "ConfigMapEnvSource",
    "A ConfigMap whose data become environment variables.",
    **inline("LocalObjectReference"),
    optional=b("Whether the ConfigMap may be missing."),
)
obj(
    "SecretEnvSource",
    "A Secret whose data become environment variables.",
    **inline("LocalObjectReference"),
    optional=b("Whether the Secret may be missing."),
)
obj(
    "ResourceRequirements",
    "Compute resource requirements.",
    limits=qmap("Maximum amount of compute resources allowed."),
    requests=qmap("Minimum amount of compute resources required; defaults to limits."),
    claims=arr(
        "ResourceClaim",
        "Names of resource claims from spec.resourceClaims the container uses.",
        list_type="map",
        map_keys=("name",),
    ),
)
obj(
    "ResourceClaim",
    "A reference to one entry of PodSpec.resourceClaims.",
    name=s("Name of an entry of pod.spec.resourceClaims.", req=True),
    request=s("Name of one request of the claim; the whole claim when unset."),
)
obj(
    "ContainerResizePolicy",
    "How a container's resource is resized.",
    resourceName=s("Resource the policy applies to: cpu or memory.", req=True),
    restartPolicy=s("Restart policy on resize: NotRequired or RestartContainer.", req=True),
)
obj(
    "VolumeMount",
    "A mount of a volume within a container.",
    name=s("Name of a volume of the pod.", req=True),
    readOnly=b("Mount read-only (default false)."),
    recursiveReadOnly=s(
        "Whether read-only mounts are recursively read-only: Disabled, IfPossible or Enabled."
    ),
    mountPath=s("Path within the container to mount the volume at; must not contain ':'.", req=True),
    subPath=s("Path within the volume to mount instead of its root."),
    mountPropagation=s(
        "How mounts propagate between host and container: None, HostToContainer or Bidirectional."
    ),
    subPathExpr=s("Like subPath, with $(VAR_NAME) expanded from the container's environment."),
)
obj(
    "VolumeDevice",
    "A raw block device mapped into a container.",
    name=s("Name of a persistentVolumeClaim volume of the pod.", req=True),
    devicePath=s("Path inside the container the device is mapped to.", req=True),
)

# --- probes and lifecycle -------------------------------------------------------------------
obj(
    "ExecAction",
    "Runs a command in the container.",
    command=strs("Command line to run, not in a shell; exit status 0 is healthy."),
)
obj(
    "HTTPHeader",
    "A custom header for HTTP probes.",
    name=s("Header field name.", req=True),
    value=s("Header field value.", req=True),
)
obj(
    "HTTPGetAction",
    "An HTTP GET request.",
    path=s("Path to access on the HTTP server."),
    port=ios("Number or IANA_SVC_NAME of the port to access on the container.", req=True),
    host=s("Host name to connect to; the pod IP when unset."),
    scheme=s("Scheme to use: HTTP or HTTPS; HTTP when unset."),
    httpHeaders=arr("HTTPHeader", "Custom headers to set in the request."),
)
obj(
    "TCPSocketAction",
    "Opens a TCP socket.",
    port=ios("Number or IANA_SVC_NAME of the port to access on the container.", req=True),
    host=s("Host name to connect to; the pod IP when unset."),
)
obj(
    "GRPCAction",
    "A gRPC health check.",
    port=i32("Port number of the gRPC service.", req=True),
    service=s("Service name placed in the gRPC HealthCheckRequest."),
)
obj(
    "SleepAction",
    "Sleeps for a while.",
    seconds=i64("Seconds to sleep.", req=True),
)
_PROBE_HANDLER = dict(
    exec=ref("ExecAction", "Run a command in the container."),
    httpGet=ref("HTTPGetAction", "Send an HTTP GET request."),
    tcpSocket=ref("TCPSocketAction", "Open a TCP socket."),
    grpc=ref("GRPCAction", "Make a gRPC health check."),
)
obj(
    "Probe",
    "A health check performed against a container.",
    **_PROBE_HANDLER,
    initialDelaySeconds=i32("Seconds after the container starts before probes start."),
    timeoutSeconds=i32("Seconds after which the probe times out; 1 when unset."),
    periodSeconds=i32("How often in seconds to probe; 10 when unset."),
    successThreshold=i32("Consecutive successes to count as success after a failure; 1 when unset."),
    failureThreshold=i32("Consecutive failures to count as failure after a success; 3 when unset."),
    terminationGracePeriodSeconds=i64("Grace period on probe failure; the pod's when unset."),
)
obj(
    "LifecycleHandler",
    "An action taken at a container lifecycle hook.",
    exec=ref("ExecAction", "Run a command in the container."),
    httpGet=ref("HTTPGetAction", "Send an HTTP GET request."),
    tcpSocket=ref("TCPSocketAction", "Deprecated; kept for compatibility."),
    sleep=ref("SleepAction", "Sleep for a while."),
)
obj(
    "Lifecycle",
    "Actions the system takes in response to container lifecycle events.",
    postStart=ref("LifecycleHandler", "Called right after the container is created."),
    preStop=ref("LifecycleHandler", "Called right before the container is terminated."),
)

# --- security -------------------------------------------------------------------------------
obj(
    "Capabilities",
    "POSIX capabilities added to and dropped from a container.",
    add=strs("Added capabilities."),
    drop=strs("Dropped capabilities."),
)
obj(
    "SELinuxOptions",
    "SELinux labels applied to a container.",
    user=s("SELinux user label."),
    role=s("SELinux role label."),
    type=s("SELinux type label."),
    level=s("SELinux level label."),
)
obj(
    "WindowsSecurityContextOptions",
    "Windows-specific options and credentials.",
    gmsaCredentialSpecName=s("Name of the GMSA credential spec to use."),
    gmsaCredentialSpec=s("Contents of the GMSA credential spec named by gmsaCredentialSpecName."),
    runAsUserName=s("User name in Windows to run the entrypoint of the container process."),
    hostProcess=b("Run the container as a 'Host Process' container."),
)
obj(
    "SeccompProfile",
    "A seccomp profile; only one source may be set.",
    type=s("Kind of profile: Localhost, RuntimeDefault or Unconfined.", req=True),
    localhostProfile=s("Path of a profile on the node, relative to the kubelet's seccomp directory."),
)
obj(
    "AppArmorProfile",
    "An AppArmor profile.",
    type=s("Kind of profile: Localhost, RuntimeDefault or Unconfined.", req=True),
    localhostProfile=s("Name of a profile loaded on the node; only with type Localhost."),
)
obj(
    "SecurityContext",
    "Security options of a container; they override the pod's where both are set.",
    capabilities=ref("Capabilities", "Capabilities to add and drop."),
    privileged=b("Run the container privileged; false when unset."),
    seLinuxOptions=ref("SELinuxOptions", "SELinux context of the container."),
    windowsOptions=ref("WindowsSecurityContextOptions", "Windows-specific settings."),
    runAsUser=i64("UID to run the entrypoint as; the image's when unset."),
    runAsGroup=i64("GID to run the entrypoint as; the runtime's default when unset."),
    runAsNonRoot=b("Require the container to run as a non-root user."),
    readOnlyRootFilesystem=b("Mount the root filesystem read-only."),
    allowPrivilegeEscalation=b("Whether a process can gain more privileges than its parent."),
    procMount=s("Proc mount type: Default or Unmasked."),
    seccompProfile=ref("SeccompProfile", "Seccomp profile of the container."),
    appArmorProfile=ref("AppArmorProfile", "AppArmor profile of the container."),
)
obj(
    "Sysctl",
    "A kernel parameter to set.",
    name=s("Name of the parameter.", req=True),
    value=s("Value of the parameter.", req=True),
)
obj(
    "PodSecurityContext",
    "Pod-level security attributes and common container settings.",
    seLinuxOptions=ref("SELinuxOptions", "SELinux context of all containers."),
    windowsOptions=ref("WindowsSecurityContextOptions", "Windows-specific settings of all containers."),
    runAsUser=i64("UID to run the entrypoint of every container as."),
    runAsGroup=i64("GID to run the entrypoint of every container as."),
    runAsNonRoot=b("Require the containers to run as a non-root user."),
    supplementalGroups=arr(INT64, "Groups added to each container's first process, beyond its primary GID."),
    supplementalGroupsPolicy=s("How supplemental groups of the first process are computed: Merge or Strict."),
    fsGroup=i64("Special supplemental group that owns the pod's volumes."),
    sysctls=arr("Sysctl", "Namespaced sysctls used by the pod."),
    fsGroupChangePolicy=s("When volume ownership is changed: OnRootMismatch or Always."),
    seccompProfile=ref("SeccompProfile", "Seccomp profile of all containers."),
    appArmorProfile=ref("AppArmorProfile", "AppArmor profile of all containers."),
    seLinuxChangePolicy=s("How the SELinux label is applied to volumes: MountOption or Recursive."),
)

# --- scheduling -----------------------------------------------------------------------------
obj(
    "NodeSelectorRequirement",
    "A selector that relates a key to values with an operator.",
    key=s("The label key the selector applies to.", req=True),
    operator=s("Relationship of the key to the values: In, NotIn, Exists, DoesNotExist, Gt or Lt.", req=True),
    values=strs("String values; a single integer for Gt and Lt, empty for Exists and DoesNotExist."),
)
obj(
    "NodeSelectorTerm",
    "Requirements ANDed together; a null or empty term matches no objects.",
    matchExpressions=arr("NodeSelectorRequirement", "Requirements on node labels."),
    matchFields=arr("NodeSelectorRequirement", "Requirements on node fields."),
)
obj(
    "NodeSelector",
    "The union (OR) of the results of one or more label queries over nodes.",
    nodeSelectorTerms=arr("NodeSelectorTerm", "The node selector terms, ORed.", req=True),
)
obj(
    "PreferredSchedulingTerm",
    "A weighted node selector term.",
    weight=i32("Weight of the term, 1-100.", req=True),
    preference=ref("NodeSelectorTerm", "A node selector term.", req=True),
)
obj(
    "NodeAffinity",
    "Node affinity scheduling rules of the pod.",
    requiredDuringSchedulingIgnoredDuringExecution=ref(
        "NodeSelector", "Requirements a node must meet for the pod to be scheduled on it."
    ),
    preferredDuringSchedulingIgnoredDuringExecution=arr(
        "PreferredSchedulingTerm", "Weighted preferences for nodes that meet the terms."
    ),
)
obj(
    "PodAffinityTerm",
    "Pods (matched by labelSelector in namespaces) this pod should be co-located with, or not.",
    labelSelector=ref("LabelSelector", "A label query over a set of pods."),
    namespaces=strs("Namespaces the labelSelector applies to; the pod's namespace when unset."),
    topologyKey=s("Node label key whose value defines co-location.", req=True),
    namespaceSelector=ref("LabelSelector", "A label query over the namespaces the term applies to."),
    matchLabelKeys=strs("Pod label keys whose values are added to labelSelector as In requirements."),
    mismatchLabelKeys=strs("Pod label keys whose values are added to labelSelector as NotIn requirements."),
)
obj(
    "WeightedPodAffinityTerm",
    "A pod affinity term with a weight.",
    weight=i32("Weight of the term, 1-100.", req=True),
    podAffinityTerm=ref("PodAffinityTerm", "A pod affinity term.", req=True),
)
obj(
    "PodAffinity",
    "Pod affinity scheduling rules.",
    requiredDuringSchedulingIgnoredDuringExecution=arr(
        "PodAffinityTerm", "Terms that must hold at scheduling time."
    ),
    preferredDuringSchedulingIgnoredDuringExecution=arr(
        "WeightedPodAffinityTerm", "Weighted preferred terms."
    ),
)
obj(
    "PodAntiAffinity",
    "Pod anti-affinity scheduling rules.",
    requiredDuringSchedulingIgnoredDuringExecution=arr(
        "PodAffinityTerm", "Terms that must hold at scheduling time."
    ),
    preferredDuringSchedulingIgnoredDuringExecution=arr(
        "WeightedPodAffinityTerm", "Weighted preferred terms."
    ),
)
obj(
    "Affinity",
    "Affinity scheduling rules.",
    nodeAffinity=ref("NodeAffinity", "Node affinity rules of the pod."),
    podAffinity=ref("PodAffinity", "Rules to co-locate the pod with other pods."),
    podAntiAffinity=ref("PodAntiAffinity", "Rules to keep the pod away from other pods."),
)
obj(
    "Toleration",
    "Lets the pod tolerate any taint that matches the triple <key,value,effect>.",
    key=s("Taint key the toleration applies to; empty matches all keys."),
    operator=s("Relationship of the key to the value: Exists or Equal; Equal when unset."),
    value=s("Taint value the toleration matches."),
    effect=s("Taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; all when empty."),
    tolerationSeconds=i64("Seconds a NoExecute taint is tolerated before eviction."),
)
obj(
    "HostAlias",
    "An entry of the pod's hosts file.",
    ip=s("IP address of the host file entry.", req=True),
    hostnames=strs("Hostnames for the IP address."),
)
obj(
    "PodDNSConfigOption",
    "A DNS resolver option of a pod.",
    name=s("Name of the option."),
    value=s("Value of the option."),
)
obj(
    "PodDNSConfig",
    "DNS parameters of a pod, beyond those from the DNS policy.",
    nameservers=strs("DNS name server IP addresses."),
    searches=strs("DNS search domains for host-name lookup."),
    options=arr("PodDNSConfigOption", "DNS resolver options."),
)
obj(
    "PodReadinessGate",
    "A pod condition that must be true for the pod to be ready.",
    conditionType=s("A condition type of the pod's condition list.", req=True),
)
obj(
    "TopologySpreadConstraint",
    "How to spread matching pods among the given topology.",
    maxSkew=i32("Largest allowed difference in matching pods between topology domains.", req=True),
    topologyKey=s("Node label key whose values define the topology domains.", req=True),
    whenUnsatisfiable=s(
        "What to do when the constraint cannot be met: DoNotSchedule or ScheduleAnyway.", req=True
    ),
    labelSelector=ref("LabelSelector", "Selects the pods counted in each domain."),
    minDomains=i32("Minimum number of eligible domains."),
    nodeAffinityPolicy=s("Whether nodeAffinity and nodeSelector count when computing skew: Honor or Ignore."),
    nodeTaintsPolicy=s("Whether node taints count when computing skew: Honor or Ignore."),
    matchLabelKeys=strs("Pod label keys whose values select the pods counted, with labelSelector."),
)
obj(
    "PodOS",
    "The operating system of a pod.",
    name=s("Name of the operating system: linux or windows.", req=True),
)
obj(
    "PodSchedulingGate",
    "A gate that blocks scheduling of the pod while present.",
    name=s("Name of the scheduling gate, unique among the pod's gates.", req=True),
)
obj(
    "PodResourceClaim",
    "A ResourceClaim the pod uses, named for its containers.",
    name=s("Name of the claim inside the pod, a DNS label.", req=True),
    resourceClaimName=s("Name of a ResourceClaim in the pod's namespace."),
    resourceClaimTemplateName=s("Name of a ResourceClaimTemplate a claim is made from for the pod."),
)

# --- status ---------------------------------------------------------------------------------
obj(
    "PodStatus",
    "Information about the status of a pod; may trail the actual state of the system.",
    phase=s("Where the pod is in its lifecycle: Pending, Running, Succeeded, Failed or Unknown."),
    conditions=arr("PodCondition", "Current service state of the pod.", key="type"),
    message=s("Human-readable message about why the pod is in this condition."),
    reason=s("Brief CamelCase reason the pod is in this state, e.g. Evicted."),
    nominatedNodeName=s("Node the pod is expected to run on once preemption completes."),
    hostIP=s("IP address of the host the pod is assigned to."),
    hostIPs=arr("HostIP", "IP addresses of the host; the first equals hostIP.", key="ip", list_type="atomic"),
    podIP=s("IP address allocated to the pod."),
    podIPs=arr("PodIP", "IP addresses allocated to the pod; the first equals podIP.", key="ip"),
    startTime=t("When the kubelet acknowledged the pod, before pulling images."),
    initContainerStatuses=arr("ContainerStatus", "Status of the init containers."),
    containerStatuses=arr("ContainerStatus", "Status of the app containers."),
    qosClass=s("Quality of Service class: Guaranteed, Burstable or BestEffort."),
    ephemeralContainerStatuses=arr("ContainerStatus", "Status of the ephemeral containers."),
    resize=s("Status of a pod resource resize: Proposed, InProgress, Deferred or Infeasible."),
    resourceClaimStatuses=arr(
        "PodResourceClaimStatus", "Status of the resource claims.", key="name", strategy="merge,retainKeys"
    ),
)
obj(
    "PodCondition",
    "The state of one aspect of a pod.",
    type=s("Type of the condition: PodScheduled, Ready, Initialized, ContainersReady, ...", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastProbeTime=t("Last time the condition was probed."),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Unique, one-word CamelCase reason for the last transition."),
    message=s("Human-readable message with details about the last transition."),
)
obj("PodIP", "An IP address allocated to a pod.", ip=s("IP address of the pod.", req=True))
obj("HostIP", "An IP address of the pod's host.", ip=s("IP address of the host.", req=True))
obj(
    "PodResourceClaimStatus",
    "The ResourceClaim generated for a PodResourceClaim that references a template.",
    name=s("Name of the entry of pod.spec.resourceClaims.", req=True),
    resourceClaimName=s("Name of the ResourceClaim made for the pod."),
)
obj(
    "ContainerStatus",
    "The status of one container.",
    name=s("Name of the container.", req=True),
    state=ref("ContainerState", "Current state of the container."),
    lastState=ref("ContainerState", "Last termination state of the container."),
    ready=b("Whether the container passes its readiness probe.", req=True),
    restartCount=i32("Times the container has been restarted.", req=True),
    image=s("Image the container runs.", req=True),
    imageID=s("Image ID of the container's image.", req=True),
    containerID=s("Container ID, in the form <type>://<container_id>."),
    started=b("Whether the container passed its startup probe."),
    allocatedResources=qmap("Resources the node allocated to the container."),
    resources=ref("ResourceRequirements", "Resources the container runtime reports as configured."),
    volumeMounts=arr("VolumeMountStatus", "Status of the volume mounts.", key="mountPath"),
    user=ref("ContainerUser", "Identity of the container's first process."),
    allocatedResourcesStatus=arr(
        "ResourceStatus", "Health of the resources allocated to the container.", key="name"
    ),
)
obj(
    "ContainerState",
    "The state of a container; only one member is set.",
    waiting=ref("ContainerStateWaiting", "Details about a waiting container."),
    running=ref("ContainerStateRunning", "Details about a running container."),
    terminated=ref("ContainerStateTerminated", "Details about a terminated container."),
)
obj(
    "ContainerStateWaiting",
    "A waiting state of a container.",
    reason=s("Brief reason the container is not yet running."),
    message=s("Message about why the container is not yet running."),
)
obj(
    "ContainerStateRunning",
    "A running state of a container.",
    startedAt=t("When the container was last (re)started."),
)
obj(
    "ContainerStateTerminated",
    "A terminated state of a container.",
    exitCode=i32("Exit status of the last termination.", req=True),
    signal=i32("Signal of the last termination."),
    reason=s("Brief reason for the last termination."),
    message=s("Message about the last termination."),
    startedAt=t("When the previous execution started."),
    finishedAt=t("When the container last terminated."),
    containerID=s("Container ID, in the form <type>://<container_id>."),
)
obj(
    "VolumeMountStatus",
    "The status of a volume mount.",
    name=s("Name of the volume mount.", req=True),
    mountPath=s("Path of the mount in the container.", req=True),
    readOnly=b("Whether the mount is read-only."),
    recursiveReadOnly=s("Whether the read-only mount is recursive: Disabled or Enabled."),
)
obj(
    "ContainerUser",
    "The identity of a container's first process.",
    linux=ref("LinuxContainerUser", "The Linux identity."),
)
obj(
    "LinuxContainerUser",
    "A Linux user identity.",
    uid=i64("Primary UID.", req=True),
    gid=i64("Primary GID.", req=True),
    supplementalGroups=arr(INT64, "Supplemental groups."),
)
obj(
    "ResourceStatus",
    "The health of the devices behind one resource.",
    name=s("Name of the resource, as in the container's resources.", req=True),
    resources=arr(
        "ResourceHealth", "Health of each device of the resource.", list_type="map", map_keys=("resourceID",)
    ),
)
obj(
    "ResourceHealth",
    "The health of one device.",
    resourceID=s("Unique ID of the device.", req=True),
    health=s("Health of the device: Healthy, Unhealthy or Unknown."),
)
