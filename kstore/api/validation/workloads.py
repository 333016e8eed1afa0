"""Deployment, ReplicaSet and StatefulSet (`apps/validation`).

Design:
- All three need a non-empty selector that matches their pod template's labels
  (`spec.template.metadata.labels: Invalid value: map[string]string{...}: `selector` does not
  match template `labels``), non-negative counts, and a template whose pods restart `Always`.
- The template's pod spec is validated like a pod's (`spec.template.spec.containers[0]...`);
  a StatefulSet's mounts may also name its volumeClaimTemplates, each of which must be a valid
  claim spec.
- Updates: the selector of Deployments and ReplicaSets is immutable; a StatefulSet may change
  only replicas, template, updateStrategy, revisionHistoryLimit, minReadySeconds, ordinals and
  its PVC retention policy.
"""

from __future__ import annotations

import re
from typing import Any

from kstore.api.errors import ApiError
from kstore.api.names import regex_error
from kstore.api.selectors import label_selector_from_dict
from kstore.api.validation.common import (
    selector_is_empty,
    validate_annotations,
    validate_label_selector,
    validate_labels,
)
from kstore.api.validation.field import FieldErrors, child, index, prune
from kstore.api.validation.pod import validate_pod_spec
from kstore.api.validation.volumes import validate_pvc_spec

_PERCENT_ERROR = regex_error(
    "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%"
)
STATEFUL_SET_UPDATABLE = (
    "replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
)  # fmt: skip


def _validate_selector_and_template(
    errs: FieldErrors, spec: dict[str, Any], owner: str, *, claim_templates: tuple[str, ...] = ()
) -> None:
    selector = spec.get("selector")
    if selector is None:
        errs.required("spec.selector", "")
    else:
        selector = validate_label_selector(errs, selector, "spec.selector")
        if selector_is_empty(selector):
            errs.invalid("spec.selector", selector, f"empty selector is invalid for {owner}")
    template = errs.as_map(spec.get("template"), "spec.template")
    metadata = errs.as_map(template.get("metadata"), "spec.template.metadata")
    labels = metadata.get("labels")
    if isinstance(selector, dict) and not selector_is_empty(selector):
        try:
            matches = label_selector_from_dict(selector).matches(labels if isinstance(labels, dict) else {})
        except ApiError:
            errs.invalid("spec.selector", selector, "invalid label selector")
        else:
            if not matches:
                errs.invalid(
                    "spec.template.metadata.labels",
                    labels or {},
                    "`selector` does not match template `labels`",
                )
    validate_labels(errs, labels, "spec.template.labels")
    validate_annotations(errs, metadata.get("annotations"), "spec.template.annotations")
    pod_spec = errs.as_map(template.get("spec"), "spec.template.spec")
    validate_pod_spec(errs, pod_spec, "spec.template.spec", claim_templates=claim_templates)
    restart = pod_spec.get("restartPolicy")
    if isinstance(restart, str) and restart and restart != "Always":
        errs.not_supported("spec.template.spec.restartPolicy", restart, ("Always",))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        kind = "StatefulSet" if owner == "statefulset" else "ReplicaSet"
        errs.forbidden(
            "spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported"
        )


def _int_or_percent(errs: FieldErrors, value: Any, path: str) -> int | None:
    """An IntOrString count or percentage; returns its number (percent or count)."""
    if isinstance(value, str):
        if not re.fullmatch("[0-9]+%", value):
            errs.invalid(path, value, _PERCENT_ERROR)
            return None
        return int(value[:-1])
    if isinstance(value, int) and not isinstance(value, bool):
        errs.nonnegative(value, path)
        return value
    if value is not None:
        errs.invalid(path, value, "must be an integer or percentage (e.g '5%')")
    return None


def validate_deployment(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    _validate_selector_and_template(errs, spec, "deployment")
    strategy = errs.as_map(spec.get("strategy"), "spec.strategy")
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.forbidden(
                "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
            )
    elif kind == "RollingUpdate":
        if strategy.get("rollingUpdate") is None:
            errs.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")
        else:
            rolling = errs.as_map(strategy["rollingUpdate"], "spec.strategy.rollingUpdate")
            unavailable_path = "spec.strategy.rollingUpdate.maxUnavailable"
            unavailable = _int_or_percent(errs, rolling.get("maxUnavailable"), unavailable_path)
            surge = _int_or_percent(errs, rolling.get("maxSurge"), "spec.strategy.rollingUpdate.maxSurge")
            if not unavailable and not surge:
                errs.invalid(
                    unavailable_path, rolling.get("maxUnavailable"), "may not be 0 when `maxSurge` is 0"
                )
            if (
                isinstance(rolling.get("maxUnavailable"), str)
                and unavailable is not None
                and unavailable > 100
            ):
                errs.invalid(unavailable_path, rolling["maxUnavailable"], "must not be greater than 100%")
    else:
        errs.not_supported("spec.strategy", strategy, ("Recreate", "RollingUpdate"))
    for field in ("minReadySeconds", "replicas", "revisionHistoryLimit", "progressDeadlineSeconds"):
        errs.nonnegative(spec.get(field), child("spec", field))
    deadline, ready = spec.get("progressDeadlineSeconds"), spec.get("minReadySeconds") or 0
    if isinstance(deadline, int) and isinstance(ready, int) and deadline <= ready:
        errs.invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds")
    errs.as_bool(spec.get("paused"), "spec.paused")


def validate_replica_set(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    errs.nonnegative(spec.get("replicas"), "spec.replicas")
    errs.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    # Kubernetes says "deployment" here too.
    _validate_selector_and_template(errs, spec, "deployment")


def validate_selector_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_selector = (new.get("spec") or {}).get("selector") if isinstance(new.get("spec"), dict) else None
    old_selector = (old.get("spec") or {}).get("selector") if isinstance(old.get("spec"), dict) else None
    if prune(new_selector) != prune(old_selector):
        errs.invalid("spec.selector", new_selector, "field is immutable")


def validate_stateful_set(errs: FieldErrors, obj: dict[str, Any]) -> None:
    spec = errs.as_map(obj.get("spec"), "spec")
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.required("spec.podManagementPolicy", "")
    elif policy not in ("OrderedReady", "Parallel"):
        errs.invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
    strategy = errs.as_map(spec.get("updateStrategy"), "spec.updateStrategy")
    kind = strategy.get("type")
    if not kind:
        errs.required("spec.updateStrategy", "")
    elif kind == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            errs.invalid(
                "spec.updateStrategy.rollingUpdate",
                strategy["rollingUpdate"],
                "only allowed for updateStrategy 'RollingUpdate'",
            )
    elif kind == "RollingUpdate":
        rolling = errs.as_map(strategy.get("rollingUpdate"), "spec.updateStrategy.rollingUpdate")
        errs.nonnegative(rolling.get("partition"), "spec.updateStrategy.rollingUpdate.partition")
    else:
        errs.invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'")
    retention_path = "spec.persistentVolumeClaimRetentionPolicy"
    retention = errs.as_map(spec.get("persistentVolumeClaimRetentionPolicy"), retention_path)
    for field in ("whenDeleted", "whenScaled"):
        value = retention.get(field)
        if value is not None and value not in ("Retain", "Delete"):
            errs.not_supported(child(retention_path, field), value, ("Retain", "Delete"))
    errs.nonnegative(spec.get("replicas"), "spec.replicas")
    errs.nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    claims = []
    for i, claim in enumerate(errs.as_list(spec.get("volumeClaimTemplates"), "spec.volumeClaimTemplates")):
        path = index("spec.volumeClaimTemplates", i)
        claim = errs.as_map(claim, path)
        name = errs.as_str(
            errs.as_map(claim.get("metadata"), child(path, "metadata")).get("name"),
            child(path, "metadata", "name"),
        )
        if not name:
            errs.required(child(path, "metadata", "name"), "")
        claims.append(name)
        validate_pvc_spec(errs, errs.as_map(claim.get("spec"), child(path, "spec")), child(path, "spec"))
    _validate_selector_and_template(errs, spec, "statefulset", claim_templates=tuple(n for n in claims if n))


def validate_stateful_set_update(errs: FieldErrors, new: dict[str, Any], old: dict[str, Any]) -> None:
    new_spec = {k: v for k, v in (new.get("spec") or {}).items() if k not in STATEFUL_SET_UPDATABLE}
    old_spec = {k: v for k, v in (old.get("spec") or {}).items() if k not in STATEFUL_SET_UPDATABLE}
    if prune(new_spec) != prune(old_spec):
        errs.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
            "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden",
        )
