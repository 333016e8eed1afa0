"""meta/v1 (k8s.io/apimachinery/pkg/apis/meta/v1/types.go): object and list metadata, label
selectors, conditions, and the Status returned on errors."""

from __future__ import annotations

from kstore.api.schema.dsl import FIELDS_V1, META, arr, b, i32, i64, package, raw, ref, s, smap, strs, t

obj, _ = package(META)

obj(
    "ObjectMeta",
    "Metadata every persisted resource has: name, namespace, labels, owners, and more.",
    name=s("Unique name within a namespace; required when creating, unless generateName is used."),
    generateName=s("Prefix the server uses to make a unique name when name is not given."),
    namespace=s("The namespace the object lives in; empty for cluster-scoped objects."),
    selfLink=s("Deprecated: no longer set by the system."),
    uid=s("Unique identifier of this object in time and space, set by the server."),
    resourceVersion=s("Opaque version of the object, for optimistic concurrency and watches."),
    generation=i64("Sequence number of the desired state, bumped by the server on spec changes."),
    creationTimestamp=t("When the object was created, set by the server."),
    deletionTimestamp=t("When the object will be deleted, set by the server on a graceful delete."),
    deletionGracePeriodSeconds=i64("Seconds allowed for graceful termination before removal."),
    labels=smap("Map of string keys and values for organizing and selecting objects."),
    annotations=smap("Unstructured key-value map set by tools to store and retrieve metadata."),
    ownerReferences=arr(
        "OwnerReference", "Objects this object depends on, for garbage collection.", key="uid"
    ),
    finalizers=strs(
        "Keys that must be removed before the object is deleted from the registry.",
        list_type="set",
        strategy="merge",
    ),
    managedFields=arr("ManagedFieldsEntry", "Which manager owns which fields, for server-side apply."),
)

obj(
    "OwnerReference",
    "Enough information to identify an owning object in the same namespace.",
    apiVersion=s("API version of the referent.", req=True),
    kind=s("Kind of the referent.", req=True),
    name=s("Name of the referent.", req=True),
    uid=s("UID of the referent.", req=True),
    controller=b("If true, this reference points to the managing controller."),
    blockOwnerDeletion=b(
        "If true, the owner cannot be deleted from storage until this reference is removed."
    ),
)

obj(
    "ManagedFieldsEntry",
    "A workflow-id, a field set, and the group version of the resource that the field set applies to.",
    manager=s("Identifier of the workflow managing these fields."),
    operation=s("Type of operation that led to this entry: Apply or Update."),
    apiVersion=s("Version of the resource the field set applies to."),
    time=t("When the field set was last changed."),
    fieldsType=s("Format of the field set; the only valid value is FieldsV1."),
    fieldsV1=raw("The field set, in the FieldsV1 format.", FIELDS_V1),
    subresource=s("Name of the subresource used to update the object, empty for the main resource."),
)

obj(
    "LabelSelector",
    "A label query over a set of resources; the terms are ANDed, an empty selector matches everything.",
    matchLabels=smap("Map of {key,value} pairs, each equivalent to an In requirement with one value."),
    matchExpressions=arr("LabelSelectorRequirement", "List of label selector requirements, ANDed."),
)

obj(
    "LabelSelectorRequirement",
    "A selector that contains values, a key, and an operator that relates the key and values.",
    key=s("The label key that the selector applies to.", req=True),
    operator=s("The key's relationship to the values: In, NotIn, Exists or DoesNotExist.", req=True),
    values=strs("String values; must be non-empty for In and NotIn, empty for Exists and DoesNotExist."),
)

obj(
    "ListMeta",
    "Metadata that synthetic resources such as lists must have.",
    selfLink=s("Deprecated: no longer set by the system."),
    resourceVersion=s("The version of the collection, from which a watch can start."),
    **{"continue": s("Set when the list was truncated; pass it back to get the next chunk.")},
    remainingItemCount=i64("Number of items left after this chunk, when known."),
)

obj(
    "Condition",
    "One aspect of the current state of an API resource.",
    type=s("Type of condition in CamelCase or in foo.example.com/CamelCase.", req=True),
    status=s("Status of the condition: True, False or Unknown.", req=True),
    observedGeneration=i64("The metadata.generation the condition was set for."),
    lastTransitionTime=t("Last time the condition changed from one status to another.", req=True),
    reason=s("Programmatic identifier of the reason for the last transition, in CamelCase.", req=True),
    message=s("Human-readable message with details about the transition.", req=True),
)

obj(
    "Status",
    "The result of an operation that does not return an object, such as an error.",
    apiVersion=s("The versioned schema of this representation of an object."),
    kind=s("The REST resource this object represents."),
    metadata=ref("ListMeta", "Standard list metadata."),
    status=s("Status of the operation: Success or Failure."),
    message=s("Human-readable description of the status of this operation."),
    reason=s("Machine-readable description of why the operation is in Failure status."),
    details=ref("StatusDetails", "Extended data associated with the reason."),
    code=i32("Suggested HTTP return code for this status, 0 if not set."),
)

obj(
    "StatusDetails",
    "Details a server may set on a Status to give more information about an error.",
    name=s("Name attribute of the resource associated with the status, if any."),
    group=s("Group attribute of the resource associated with the status."),
    kind=s("Kind attribute of the resource associated with the status."),
    uid=s("UID of the resource, if a single resource can be described."),
    causes=arr("StatusCause", "Extended data for the error, such as the fields that were invalid."),
    retryAfterSeconds=i32("Seconds the client should wait before retrying, if any."),
)

obj(
    "StatusCause",
    "More information about a Status failure, including cases with several errors.",
    reason=s("Machine-readable description of the cause of the error."),
    message=s("Human-readable description of the cause of the error."),
    field=s("The field of the resource that caused the error, e.g. `spec.containers[0].name`."),
)
