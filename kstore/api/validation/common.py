"""Rules shared by many kinds: labels, annotations, label selectors, node selectors, topology terms.

Each function appends to a `FieldErrors` and returns nothing; paths and messages follow
apimachinery's `metav1/validation` and `core/validation` (`ValidateLabels`,
`ValidateLabelSelector`, `ValidateNodeSelector`, `ValidateTopologySelectorTerm`).
"""

from __future__ import annotations

from typing import Any

from kstore.api.names import is_config_map_key, is_qualified_name, is_valid_label_value, name_is_dns_subdomain
from kstore.api.validation.field import FieldErrors, child, index

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024


def validate_qualified_name(errs: FieldErrors, name: str, path: str) -> None:
    """A label key, annotation key, finalizer or provisioner name: `[dns-prefix/]name`."""
    errs.invalid_each(path, name, is_qualified_name(name))


def validate_labels(errs: FieldErrors, labels: Any, path: str) -> None:
    """Keys are qualified names, values label values; both reported at the map's path."""
    for name, value in errs.as_str_map(labels, path).items():
        validate_qualified_name(errs, name, path)
        errs.invalid_each(path, value, is_valid_label_value(value))


def validate_annotations(errs: FieldErrors, annotations: Any, path: str) -> None:
    """Keys are qualified names (case-insensitive); keys and values total at most 256 KiB."""
    annotations = errs.as_str_map(annotations, path)
    for name in annotations:
        errs.invalid_each(path, name, is_qualified_name(name.lower()))
    if sum(len(k) + len(v) for k, v in annotations.items()) > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT)


def validate_data_keys(errs: FieldErrors, data: Any, path: str) -> dict[str, Any]:
    """ConfigMap/Secret keys are file names: `[-._a-zA-Z0-9]+`, not `.` or `..`."""
    data = errs.as_map(data, path)
    for name in data:
        errs.invalid_each(f"{path}[{name}]", name, is_config_map_key(name))
    return data


_LABEL_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(errs: FieldErrors, selector: Any, path: str) -> dict[str, Any]:
    """A metav1.LabelSelector: matchLabels and matchExpressions (In/NotIn/Exists/DoesNotExist)."""
    selector = errs.as_map(selector, path)
    validate_labels(errs, selector.get("matchLabels"), child(path, "matchLabels"))
    exprs_path = child(path, "matchExpressions")
    for i, expr in enumerate(errs.as_list(selector.get("matchExpressions"), exprs_path)):
        expr_path = index(exprs_path, i)
        expr = errs.as_map(expr, expr_path)
        operator = errs.as_str(expr.get("operator"), child(expr_path, "operator"))
        values = errs.as_list(expr.get("values"), child(expr_path, "values"))
        if operator in ("In", "NotIn"):
            if not values:
                errs.required(
                    child(expr_path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.forbidden(
                    child(expr_path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
        else:
            errs.invalid(child(expr_path, "operator"), operator, "not a valid selector operator")
        validate_qualified_name(
            errs, errs.as_str(expr.get("key"), child(expr_path, "key")), child(expr_path, "key")
        )
        for j, value in enumerate(values):
            value_path = index(child(expr_path, "values"), j)
            errs.invalid_each(value_path, value, is_valid_label_value(errs.as_str(value, value_path)))
    return selector


def selector_is_empty(selector: dict[str, Any]) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def validate_node_selector(errs: FieldErrors, selector: Any, path: str) -> None:
    """A NodeSelector: at least one term; each term's expressions and fields."""
    selector = errs.as_map(selector, path)
    terms_path = child(path, "nodeSelectorTerms")
    terms = errs.as_list(selector.get("nodeSelectorTerms"), terms_path)
    if not terms:
        errs.required(terms_path, "must have at least one node selector term")
        return
    for i, term in enumerate(terms):
        validate_node_selector_term(errs, term, index(terms_path, i))


def validate_node_selector_term(errs: FieldErrors, term: Any, path: str) -> None:
    term = errs.as_map(term, path)
    exprs_path = child(path, "matchExpressions")
    for j, expr in enumerate(errs.as_list(term.get("matchExpressions"), exprs_path)):
        _node_selector_requirement(errs, expr, index(exprs_path, j))
    fields_path = child(path, "matchFields")
    for j, expr in enumerate(errs.as_list(term.get("matchFields"), fields_path)):
        _node_field_requirement(errs, expr, index(fields_path, j))


def _node_selector_requirement(errs: FieldErrors, expr: Any, path: str) -> None:
    expr = errs.as_map(expr, path)
    operator = errs.as_str(expr.get("operator"), child(path, "operator"))
    values = errs.as_list(expr.get("values"), child(path, "values"))
    if operator in ("In", "NotIn"):
        if not values:
            errs.required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.forbidden(
                child(path, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errs.required(
                child(path, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"
            )
    else:
        errs.invalid(child(path, "operator"), operator, "not a valid selector operator")
    validate_qualified_name(errs, errs.as_str(expr.get("key"), child(path, "key")), child(path, "key"))
    for j, value in enumerate(values):
        value_path = index(child(path, "values"), j)
        errs.invalid_each(value_path, value, is_valid_label_value(errs.as_str(value, value_path)))


def _node_field_requirement(errs: FieldErrors, expr: Any, path: str) -> None:
    expr = errs.as_map(expr, path)
    operator = errs.as_str(expr.get("operator"), child(path, "operator"))
    values = errs.as_list(expr.get("values"), child(path, "values"))
    if operator in ("In", "NotIn"):
        if len(values) != 1:
            errs.required(
                child(path, "values"),
                "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
            )
    else:
        errs.invalid(child(path, "operator"), operator, "not a valid selector operator")
    field_key = errs.as_str(expr.get("key"), child(path, "key"))
    if field_key != "metadata.name":
        errs.invalid(child(path, "key"), field_key, "not a valid field selector key")
        return
    for j, value in enumerate(values):
        value_path = index(child(path, "values"), j)
        errs.invalid_each(value_path, value, name_is_dns_subdomain(errs.as_str(value, value_path)))


def validate_topology_terms(errs: FieldErrors, terms: Any, path: str) -> None:
    """StorageClass allowedTopologies: each term's matchLabelExpressions, no duplicate terms."""
    seen: list[dict[str, frozenset[str]]] = []
    for i, term in enumerate(errs.as_list(terms, path)):
        term_path = index(path, i)
        term = errs.as_map(term, term_path)
        exprs_path = child(term_path, "matchLabelExpressions")
        expressions: dict[str, frozenset[str]] = {}
        for j, expr in enumerate(errs.as_list(term.get("matchLabelExpressions"), exprs_path)):
            expr_path = index(exprs_path, j)
            expr = errs.as_map(expr, expr_path)
            values_path = child(expr_path, "values")
            values = [
                errs.as_str(v, index(values_path, k))
                for k, v in enumerate(errs.as_list(expr.get("values"), values_path))
            ]
            if not values:
                errs.required(values_path, "")
            for k, value in enumerate(values):
                if value in values[:k]:
                    errs.duplicate(index(values_path, k), value)
            label = errs.as_str(expr.get("key"), child(expr_path, "key"))
            validate_qualified_name(errs, label, child(expr_path, "key"))
            if label in expressions:
                errs.duplicate(child(expr_path, "key"), label)
            expressions[label] = frozenset(values)
        if expressions in seen:
            errs.duplicate(exprs_path, "")
        seen.append(expressions)
