"""`metadata` on create and update (apimachinery's `ValidateObjectMeta` / `ValidateObjectMetaUpdate`).

Design:
- Create: a name (or, before the store generates one, a generateName) checked by the kind's
  name policy; a namespace when, and only when, the kind is namespaced; labels, annotations,
  finalizers and ownerReferences.
- Update: name and namespace never change; a uid, when the update carries one, must be the
  stored one (the store fills an omitted uid, resourceVersion and timestamps itself, so those
  are not checked here); an object being deleted accepts no new finalizers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kstore.api.names import name_is_dns_label
from kstore.api.validation.common import validate_annotations, validate_labels, validate_qualified_name
from kstore.api.validation.field import FieldErrors, child, go_syntax, index

NameCheck = Callable[[str, bool], list[str]]

STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def validate_object_meta(
    errs: FieldErrors, obj: dict[str, Any], *, namespaced: bool, name_check: NameCheck | None
) -> dict[str, Any]:
    """Validate `obj["metadata"]`; returns it (or {} when it is not a map)."""
    path = "metadata"
    meta = errs.as_map(obj.get("metadata"), path)
    name = errs.as_str(meta.get("name"), child(path, "name"))
    generate_name = errs.as_str(meta.get("generateName"), child(path, "generateName"))
    if generate_name and name_check is not None:
        errs.invalid_each(child(path, "generateName"), generate_name, name_check(generate_name, True))
    if not name:
        if not generate_name:
            errs.required(child(path, "name"), "name or generateName is required")
    elif name_check is not None:
        errs.invalid_each(child(path, "name"), name, name_check(name, False))
    namespace = errs.as_str(meta.get("namespace"), child(path, "namespace"))
    if namespaced:
        if not namespace:
            errs.required(child(path, "namespace"), "")
        else:
            errs.invalid_each(child(path, "namespace"), namespace, name_is_dns_label(namespace))
    elif namespace:
        errs.forbidden(child(path, "namespace"), "not allowed on this type")
    errs.nonnegative(meta.get("generation"), child(path, "generation"))
    validate_labels(errs, meta.get("labels"), child(path, "labels"))
    validate_annotations(errs, meta.get("annotations"), child(path, "annotations"))
    _validate_owner_references(errs, meta.get("ownerReferences"), child(path, "ownerReferences"))
    validate_finalizers(errs, meta.get("finalizers"), child(path, "finalizers"))
    return meta


def validate_finalizers(errs: FieldErrors, finalizers: Any, path: str) -> None:
    """Qualified names; a name without a `/` must be a standard one (`kubernetes`, `orphan` ...)."""
    names = [errs.as_str(f, index(path, i)) for i, f in enumerate(errs.as_list(finalizers, path))]
    for i, name in enumerate(names):
        validate_qualified_name(errs, name, path)
        if "/" not in name and name not in STANDARD_FINALIZERS:
            errs.invalid(
                index(path, i), name, "name is neither a standard finalizer name nor is it fully qualified"
            )
    if "orphan" in names and "foregroundDeletion" in names:
        errs.invalid(path, names, "finalizer orphan and foregroundDeletion cannot be both set")


def _validate_owner_references(errs: FieldErrors, refs: Any, path: str) -> None:
    controller = ""
    for i, ref in enumerate(errs.as_list(refs, path)):
        ref = errs.as_map(ref, index(path, i))
        api_version = errs.as_str(ref.get("apiVersion"), child(path, "apiVersion"))
        kind = errs.as_str(ref.get("kind"), child(path, "kind"))
        name = errs.as_str(ref.get("name"), child(path, "name"))
        uid = errs.as_str(ref.get("uid"), child(path, "uid"))
        if not api_version.rpartition("/")[2]:
            errs.invalid(child(path, "apiVersion"), api_version, "version must not be empty")
        if not kind:
            errs.invalid(child(path, "kind"), kind, "must not be empty")
        if not name:
            errs.invalid(child(path, "name"), name, "must not be empty")
        if not uid:
            errs.invalid(child(path, "uid"), uid, "must not be empty")
        if errs.as_bool(ref.get("controller"), child(path, "controller")):
            if controller:
                errs.invalid(
                    path,
                    refs,
                    'Only one reference can have Controller set to true. Found "true" in references for '
                    f"{controller} and {kind}/{name}",
                )
            else:
                controller = f"{kind}/{name}"


def validate_object_meta_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    """The metadata rules every update obeys, whatever the kind."""
    path = "metadata"
    new_meta = errs.as_map(new.get("metadata"), path)
    old_meta = old.get("metadata") if isinstance(old.get("metadata"), dict) else {}
    errs.immutable(new_meta.get("name"), old_meta.get("name"), child(path, "name"))
    errs.immutable(new_meta.get("namespace") or "", old_meta.get("namespace") or "", child(path, "namespace"))
    if new_meta.get("uid"):
        errs.immutable(new_meta.get("uid"), old_meta.get("uid"), child(path, "uid"))
    if old_meta.get("deletionTimestamp"):
        old_finalizers = set(old_meta.get("finalizers") or ())
        added = [f for f in new_meta.get("finalizers") or () if f not in old_finalizers]
        if added:
            errs.forbidden(
                child(path, "finalizers"),
                "no new finalizers can be added if the object is being deleted, "
                f"found new finalizers {go_syntax(sorted(added))}",
            )
