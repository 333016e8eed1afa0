"""Admission: the plugins kube-apiserver runs on storage objects, over a read-only view of the store.

Design:
- `admit_create(info, obj, view)` and `admit_update(info, new, old, view)` run, in the
  apiserver's order, the plugins that matter for kstore; they mutate `obj`/`new` in place or
  raise `ApiError`. They read the cluster only through `View` (the store's cache), never write.
  * NamespaceLifecycle: a namespaced object needs an existing namespace (404
    `namespaces "x" not found`, also on update); nothing new may be created in a terminating
    namespace (403, cause `NamespaceTerminating`). The store must therefore create `default`
    (and `kube-system` ...) at start-up, as kube-apiserver's bootstrap controller does.
  * DefaultStorageClass (create): a claim that names no class, neither in
    `spec.storageClassName` nor in the beta annotation, gets the default class: the one
    annotated `storageclass.kubernetes.io/is-default-class: "true"` (or the beta annotation);
    with several, the newest, then the first by name. An explicit `""` means "no class" and
    stays.
  * StorageObjectInUseProtection (create): new claims get the `kubernetes.io/pvc-protection`
    finalizer, new volumes `kubernetes.io/pv-protection`.
  * PersistentVolumeClaimResize (update): a larger request needs a bound claim (403) whose
    class, unchanged, has `allowVolumeExpansion: true` (403); a smaller request is refused
    below `status.capacity` (422, the same rule as validation, so either order refuses it).
- Callers run defaults, then admission, then validation, as the apiserver does for mutating
  admission; the resize check is Kubernetes' *validating* admission and its input is the same
  defaulted object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from kstore.api.errors import ApiError, Cause, invalid, not_found
from kstore.api.kinds import KindInfo
from kstore.api.validation.field import FieldErrors
from kstore.api.validation.volumes import storage_request, validate_pvc_shrink

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"
RESIZE_FORBIDDEN = (
    "only dynamically provisioned pvc can be resized and "
    "the storageclass that provisions the pvc must support resize"
)


class View(Protocol):
    """Read access to stored objects (the apistore's cache). Returned objects are not modified."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]: ...


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def forbidden(info: KindInfo, name: str, reason: str, causes: tuple[Cause, ...] = ()) -> ApiError:
    """403 as `admission.NewForbidden` words it: `<resource> "<name>" is forbidden: <reason>`."""
    return ApiError(
        403,
        "Forbidden",
        f'{info.resource} "{name}" is forbidden: {reason}',
        kind=info.plural,
        name=name,
        group=info.group,
        causes=causes,
    )


# --- NamespaceLifecycle ------------------------------------------------------------------------


def _check_namespace(info: KindInfo, obj: dict[str, Any], view: View, *, creating: bool) -> None:
    if not info.namespaced:
        return
    namespace = _meta(obj).get("namespace") or ""
    found = view.get("Namespace", "", namespace)
    if found is None:
        raise not_found("namespaces", namespace)
    status = found.get("status") if isinstance(found.get("status"), dict) else {}
    terminating = status.get("phase") == "Terminating" or bool(_meta(found).get("deletionTimestamp"))
    if creating and terminating:
        cause = Cause(
            "metadata.namespace", "NamespaceTerminating", f"namespace {namespace} is being terminated"
        )
        reason = f"unable to create new content in namespace {namespace} because it is being terminated"
        raise forbidden(info, _meta(obj).get("name") or "", reason, (cause,))


# --- DefaultStorageClass -----------------------------------------------------------------------


def is_default_class(storage_class: dict[str, Any]) -> bool:
    annotations = _meta(storage_class).get("annotations") or {}
    return "true" in (
        annotations.get(DEFAULT_CLASS_ANNOTATION),
        annotations.get(BETA_DEFAULT_CLASS_ANNOTATION),
    )


def _created(obj: dict[str, Any]) -> float:
    stamp = _meta(obj).get("creationTimestamp")
    try:
        return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else float("-inf")
    except ValueError:
        return float("-inf")


def default_storage_class(view: View) -> dict[str, Any] | None:
    """The default StorageClass: newest creationTimestamp first, then name; None when there is none."""
    defaults = [sc for sc in view.list("StorageClass") if is_default_class(sc)]
    defaults.sort(key=lambda sc: (-_created(sc), _meta(sc).get("name") or ""))
    return defaults[0] if defaults else None


def _default_storage_class(claim: dict[str, Any], view: View) -> None:
    spec = claim.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("storageClassName") is not None or BETA_CLASS_ANNOTATION in (
        _meta(claim).get("annotations") or {}
    ):
        return  # the user chose, possibly "" for "no class"
    default = default_storage_class(view)
    if default is not None:
        spec["storageClassName"] = _meta(default).get("name")


# --- StorageObjectInUseProtection --------------------------------------------------------------


def _add_finalizer(obj: dict[str, Any], finalizer: str) -> None:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        return
    finalizers = meta.get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = meta["finalizers"] = []
    if finalizer not in finalizers:
        finalizers.append(finalizer)


# --- PersistentVolumeClaimResize ---------------------------------------------------------------


def claim_class(claim: dict[str, Any]) -> str:
    """The claim's class: the beta annotation wins over `spec.storageClassName`, as in Kubernetes."""
    annotations = _meta(claim).get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return annotations[BETA_CLASS_ANNOTATION] or ""
    spec = claim.get("spec") if isinstance(claim.get("spec"), dict) else {}
    return spec.get("storageClassName") or ""


def _check_resize(info: KindInfo, new: dict[str, Any], old: dict[str, Any], view: View) -> None:
    errs = FieldErrors()
    validate_pvc_shrink(errs, new, old)
    name = _meta(new).get("name") or ""
    if errs.causes:
        raise invalid(info.kind, name, errs.causes, group=info.group)
    new_size, old_size = storage_request(new), storage_request(old)
    if new_size is None or old_size is None or new_size <= old_size:
        return
    old_status = old.get("status") if isinstance(old.get("status"), dict) else {}
    if old_status.get("phase") != "Bound":
        raise forbidden(info, name, "Only bound persistent volume claims can be expanded")
    class_name = claim_class(new)
    storage_class = (
        view.get("StorageClass", "", class_name) if class_name == claim_class(old) and class_name else None
    )
    if storage_class is None or storage_class.get("allowVolumeExpansion") is not True:
        raise forbidden(info, name, RESIZE_FORBIDDEN)


# --- entry points ------------------------------------------------------------------------------


def admit_create(info: KindInfo, obj: dict[str, Any], view: View) -> None:
    """Run create-time admission on `obj` (mutated in place); raises ApiError to refuse it."""
    _check_namespace(info, obj, view, creating=True)
    if info.kind == "PersistentVolumeClaim":
        _default_storage_class(obj, view)
        _add_finalizer(obj, PVC_PROTECTION)
    elif info.kind == "PersistentVolume":
        _add_finalizer(obj, PV_PROTECTION)


def admit_update(info: KindInfo, new: dict[str, Any], old: dict[str, Any], view: View) -> None:
    """Run update-time admission on `new` against the stored `old`; raises ApiError to refuse it."""
    _check_namespace(info, new, view, creating=False)
    if info.kind == "PersistentVolumeClaim":
        _check_resize(info, new, old, view)
