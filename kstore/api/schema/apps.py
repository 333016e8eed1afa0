"""apps/v1 (k8s.io/api/apps/v1/types.go): Deployment, ReplicaSet, StatefulSet."""

from __future__ import annotations

from kstore.api.schema.dsl import APPS, arr, b, i32, i64, ios, package, ref, s, t

obj, kind = package(APPS)
GROUP, VERSION = "apps", "v1"

_condition = dict(
    type=s("Type of the condition.", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Brief reason for the last transition."),
    message=s("Human-readable message about the last transition."),
)

# --- Deployment -----------------------------------------------------------------------------
kind(
    "Deployment",
    "Declarative updates for pods and replica sets.",
    GROUP,
    VERSION,
    spec=ref("DeploymentSpec", "Desired behaviour of the deployment."),
    status=ref("DeploymentStatus", "Most recently observed status of the deployment."),
)
obj(
    "DeploymentSpec",
    "The desired behaviour of a deployment.",
    replicas=i32("Number of desired pods; 1 when unset."),
    selector=ref("LabelSelector", "Label selector of the pods; must match the template's labels.", req=True),
    template=ref("PodTemplateSpec", "Template of the pods to create.", req=True),
    strategy=ref("DeploymentStrategy", "How existing pods are replaced by new ones."),
    minReadySeconds=i32("Seconds a new pod must be ready, without crashing, to count as available."),
    revisionHistoryLimit=i32("Number of old replica sets kept for rollback; 10 when unset."),
    paused=b("Whether the deployment is paused."),
    progressDeadlineSeconds=i32("Seconds before a stalled rollout is reported as failed; 600 when unset."),
)
obj(
    "DeploymentStrategy",
    "How to replace existing pods with new ones.",
    type=s("Type of deployment: Recreate or RollingUpdate; RollingUpdate when unset."),
    rollingUpdate=ref("RollingUpdateDeployment", "Rolling update parameters, for type RollingUpdate."),
)
obj(
    "RollingUpdateDeployment",
    "The parameters of a rolling update.",
    maxUnavailable=ios(
        "Pods that may be unavailable during the update, a number or a percentage; 25% when unset."
    ),
    maxSurge=ios(
        "Pods that may be created above the desired number, a number or a percentage; 25% when unset."
    ),
)
obj(
    "DeploymentStatus",
    "The most recently observed status of a deployment.",
    observedGeneration=i64("Generation observed by the deployment controller."),
    replicas=i32("Number of non-terminated pods targeted by the deployment."),
    updatedReplicas=i32("Number of non-terminated pods with the desired template."),
    readyReplicas=i32("Number of pods with a Ready condition."),
    availableReplicas=i32("Number of pods available for at least minReadySeconds."),
    unavailableReplicas=i32("Number of pods still needed for 100% available capacity."),
    conditions=arr("DeploymentCondition", "Latest observations of the deployment's state.", key="type"),
    collisionCount=i32("Count of hash collisions, used to name the newest replica set."),
)
obj(
    "DeploymentCondition",
    "The state of a deployment at a point in time.",
    type=s("Type of the condition: Available, Progressing or ReplicaFailure.", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    lastUpdateTime=t("Last time the condition was updated."),
    lastTransitionTime=t("Last time the condition changed status."),
    reason=s("Reason for the last transition."),
    message=s("Human-readable message about the last transition."),
)

# --- ReplicaSet -----------------------------------------------------------------------------
kind(
    "ReplicaSet",
    "Ensures that a number of pod replicas are running at any given time.",
    GROUP,
    VERSION,
    spec=ref("ReplicaSetSpec", "Desired behaviour of the replica set."),
    status=ref("ReplicaSetStatus", "Most recently observed status of the replica set."),
)
obj(
    "ReplicaSetSpec",
    "The specification of a replica set.",
    replicas=i32("Number of desired pods; 1 when unset."),
    minReadySeconds=i32("Seconds a new pod must be ready, without crashing, to count as available."),
    selector=ref("LabelSelector", "Label query over the pods that count as replicas.", req=True),
    template=ref("PodTemplateSpec", "Template of the pods created when replicas are missing."),
)
obj(
    "ReplicaSetStatus",
    "The current status of a replica set.",
    replicas=i32("Most recently observed number of replicas.", req=True),
    fullyLabeledReplicas=i32("Number of pods whose labels match the template's labels."),
    readyReplicas=i32("Number of pods with a Ready condition."),
    availableReplicas=i32("Number of pods available for at least minReadySeconds."),
    observedGeneration=i64("Generation of the most recently observed replica set."),
    conditions=arr("ReplicaSetCondition", "Latest observations of the replica set's state.", key="type"),
)
obj("ReplicaSetCondition", "The state of a replica set at a point in time.", **_condition)

# --- StatefulSet ----------------------------------------------------------------------------
kind(
    "StatefulSet",
    "A set of pods with consistent, stable identities and per-pod storage.",
    GROUP,
    VERSION,
    spec=ref("StatefulSetSpec", "Desired identities of pods in the set."),
    status=ref("StatefulSetStatus", "Current status of the pods in the set; may trail the actual state."),
)
obj(
    "StatefulSetSpec",
    "The specification of a stateful set.",
    replicas=i32("Number of desired pods; 1 when unset."),
    selector=ref("LabelSelector", "Label query over the pods that count as replicas.", req=True),
    template=ref("PodTemplateSpec", "Template of the pods; each gets a unique identity.", req=True),
    volumeClaimTemplates=arr(
        "PersistentVolumeClaim", "Claims each pod gets, with a volume of the same name in the template."
    ),
    serviceName=s(
        "Name of the headless service that governs the set and names the pods' DNS entries.", req=True
    ),
    podManagementPolicy=s(
        "How pods are created and deleted: OrderedReady or Parallel; OrderedReady when unset."
    ),
    updateStrategy=ref("StatefulSetUpdateStrategy", "How pods are updated when the template changes."),
    revisionHistoryLimit=i32("Number of revisions kept in the history; 10 when unset."),
    minReadySeconds=i32("Seconds a new pod must be ready, without crashing, to count as available."),
    persistentVolumeClaimRetentionPolicy=ref(
        "StatefulSetPersistentVolumeClaimRetentionPolicy",
        "What happens to the claims on delete and scale-down.",
    ),
    ordinals=ref("StatefulSetOrdinals", "Numbering of the replica indices."),
)
obj(
    "StatefulSetUpdateStrategy",
    "How the stateful set controller updates pods.",
    type=s("Type of update: RollingUpdate or OnDelete; RollingUpdate when unset."),
    rollingUpdate=ref("RollingUpdateStatefulSetStrategy", "Parameters for type RollingUpdate."),
)
obj(
    "RollingUpdateStatefulSetStrategy",
    "Parameters of a stateful set rolling update.",
    partition=i32("Ordinal at which the set is partitioned for the update; 0 when unset."),
    maxUnavailable=ios(
        "Pods that may be unavailable during the update, a number or a percentage; 1 when unset."
    ),
)
obj(
    "StatefulSetPersistentVolumeClaimRetentionPolicy",
    "The lifecycle of the claims made from volumeClaimTemplates.",
    whenDeleted=s("What happens to the claims when the set is deleted: Retain or Delete; Retain when unset."),
    whenScaled=s("What happens to the claims when the set scales down: Retain or Delete; Retain when unset."),
)
obj(
    "StatefulSetOrdinals",
    "The numbering of a stateful set's replica indices.",
    start=i32("Number of the first replica index; 0 when unset."),
)
obj(
    "StatefulSetStatus",
    "The current state of a stateful set.",
    observedGeneration=i64("Most recent generation observed by the controller."),
    replicas=i32("Number of pods created by the controller.", req=True),
    readyReplicas=i32("Number of pods with a Ready condition."),
    currentReplicas=i32("Number of pods created from the currentRevision."),
    updatedReplicas=i32("Number of pods created from the updateRevision."),
    currentRevision=s("Revision used for the pods 0 to currentReplicas-1."),
    updateRevision=s("Revision used for the pods updatedReplicas onwards."),
    collisionCount=i32("Count of hash collisions, used to name the newest revision."),
    conditions=arr("StatefulSetCondition", "Latest observations of the set's state.", key="type"),
    availableReplicas=i32("Number of pods ready for at least minReadySeconds."),
)
obj("StatefulSetCondition", "The state of a stateful set at a point in time.", **_condition)
