"""Tests for kstore.api.selectors: label selectors (string and dict forms), node selector terms,
field selectors. Parse errors are compared word for word with apimachinery's."""

from __future__ import annotations

from typing import Any

import pytest

from kstore.api.errors import ApiError
from kstore.api.selectors import (
    label_selector_from_dict,
    node_selector_matches,
    node_selector_term_matches,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

WEB = {"app": "web", "tier": "frontend", "env": "prod"}
DB = {"app": "db", "tier": "backend"}
BARE: dict[str, str] = {}

# (selector, canonical string, matches WEB, matches DB, matches BARE)
LABEL_PARSE = [
    ("", "", True, True, True),
    ("app=web", "app=web", True, False, False),
    ("app==web", "app==web", True, False, False),
    ("app!=web", "app!=web", False, True, True),
    ("app in (web,db)", "app in (db,web)", True, True, False),
    ("app notin (web)", "app notin (web)", False, True, True),
    ("env", "env", True, False, False),
    ("!env", "!env", False, True, True),
    ("tier=frontend, app = web", "app=web,tier=frontend", True, False, False),
    ("x in (foo,,baz),app", "app,x in (,baz,foo)", False, False, False),
    ("app in (in)", "app in (in)", False, False, False),
    ("app=", "app=", False, False, False),
    ("app in ()", "app in ()", False, False, False),
    ("app notin ()", "app notin ()", True, True, True),
    ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web", False, False, False),
]


@pytest.mark.parametrize(
    ("text", "canonical", "web", "db", "bare"), LABEL_PARSE, ids=[c[0] or "empty" for c in LABEL_PARSE]
)
def test_parse_label_selector(text: str, canonical: str, web: bool, db: bool, bare: bool) -> None:
    selector = parse_label_selector(text)
    assert str(selector) == canonical
    assert (selector.matches(WEB), selector.matches(DB), selector.matches(BARE)) == (web, db, bare)
    assert selector.empty == (text == "")


def test_gt_lt_compare_as_integers() -> None:
    selector = parse_label_selector("gen>3,gen<10")
    assert [selector.matches({"gen": g}) for g in ("3", "4", "9", "10", "x")] == [
        False,
        True,
        True,
        False,
        False,
    ]


KEY_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_ERRORS = [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a=(b", "unable to parse requirement: found '(', expected: identifier"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("a,", "found '', expected: identifier after ','"),
    ("a===b", "unable to parse requirement: found '=', expected: identifier"),
    ("a@b=c", f'unable to parse requirement: <nil>: Invalid value: "a@b": {KEY_MSG}'),
    (
        "a=b@",
        'unable to parse requirement: values[0][a]: Invalid value: "b@": a valid label must be an empty string or '
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
        "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    ),
    (
        "a<x",
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
    ),
]


@pytest.mark.parametrize(("text", "message"), LABEL_ERRORS, ids=[t for t, _ in LABEL_ERRORS])
def test_parse_label_selector_errors(text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(text)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


# (metav1.LabelSelector, matches WEB, matches DB, matches BARE, empty)
LABEL_DICTS: list[tuple[str, Any, bool, bool, bool, bool]] = [
    ("nil selects nothing", None, False, False, False, False),
    ("empty selects everything", {}, True, True, True, True),
    ("matchLabels", {"matchLabels": {"app": "web"}}, True, False, False, False),
    (
        "In",
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend", "x"]}]},
        False,
        True,
        False,
        False,
    ),
    (
        "NotIn",
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["backend"]}]},
        True,
        False,
        True,
        False,
    ),
    ("Exists", {"matchExpressions": [{"key": "env", "operator": "Exists"}]}, True, False, False, False),
    (
        "DoesNotExist",
        {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]},
        False,
        True,
        True,
        False,
    ),
    (
        "labels and expressions AND",
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}],
        },
        False,
        False,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("name", "selector", "web", "db", "bare", "empty"), LABEL_DICTS, ids=[c[0] for c in LABEL_DICTS]
)
def test_label_selector_from_dict(
    name: str, selector: Any, web: bool, db: bool, bare: bool, empty: bool
) -> None:
    parsed = label_selector_from_dict(selector)
    assert (parsed.matches(WEB), parsed.matches(DB), parsed.matches(BARE), parsed.empty) == (
        web,
        db,
        bare,
        empty,
    )


LABEL_DICT_ERRORS = [
    (
        {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
        '"Gt" is not a valid label selector operator',
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty",
    ),
    (
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist',
    ),
    ({"matchLabels": {"a b": "c"}}, f'key: Invalid value: "a b": {KEY_MSG}'),
]


@pytest.mark.parametrize(
    ("selector", "message"), LABEL_DICT_ERRORS, ids=["Gt", "In-empty", "Exists-values", "bad-key"]
)
def test_label_selector_from_dict_errors(selector: dict[str, Any], message: str) -> None:
    with pytest.raises(ApiError) as caught:
        label_selector_from_dict(selector)
    assert (caught.value.code, caught.value.message) == (400, message)


def test_requires_exact_match() -> None:
    selector = parse_label_selector("app=web,tier in (a),env in (a,b)")
    assert [selector.requires_exact_match(k) for k in ("app", "tier", "env", "other")] == [
        "web",
        "a",
        None,
        None,
    ]


NODE = {"topology.ebs.csi.aws.com/zone": "us-east-2c", "kubernetes.io/hostname": "node-1", "cpus": "8"}
FIELDS = {"metadata.name": "node-1"}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, **({"values": list(values)} if values else {})}


# (name, term, matches NODE)
TERMS = [
    ("In", {"matchExpressions": [expr("topology.ebs.csi.aws.com/zone", "In", "us-east-2c")]}, True),
    (
        "In other zone",
        {"matchExpressions": [expr("topology.ebs.csi.aws.com/zone", "In", "us-east-2a")]},
        False,
    ),
    ("NotIn", {"matchExpressions": [expr("topology.ebs.csi.aws.com/zone", "NotIn", "us-east-2a")]}, True),
    ("Exists", {"matchExpressions": [expr("topology.hostpath.csi/node", "Exists")]}, False),
    ("DoesNotExist", {"matchExpressions": [expr("topology.hostpath.csi/node", "DoesNotExist")]}, True),
    ("Gt", {"matchExpressions": [expr("cpus", "Gt", "4")]}, True),
    ("Lt", {"matchExpressions": [expr("cpus", "Lt", "4")]}, False),
    ("Gt non-integer is no match", {"matchExpressions": [expr("cpus", "Gt", "four")]}, False),
    ("expressions AND", {"matchExpressions": [expr("cpus", "Gt", "4"), expr("cpus", "Lt", "8")]}, False),
    ("matchFields name", {"matchFields": [expr("metadata.name", "In", "node-1")]}, True),
    ("matchFields other name", {"matchFields": [expr("metadata.name", "In", "node-2")]}, False),
    ("matchFields NotIn", {"matchFields": [expr("metadata.name", "NotIn", "node-2")]}, True),
    ("matchFields two values", {"matchFields": [expr("metadata.name", "In", "node-1", "node-2")]}, False),
    ("empty term matches nothing", {}, False),
    ("unknown operator matches nothing", {"matchExpressions": [expr("cpus", "Near", "8")]}, False),
    ("In without values matches nothing", {"matchExpressions": [expr("cpus", "In")]}, False),
]


@pytest.mark.parametrize(("name", "term", "expected"), TERMS, ids=[t[0] for t in TERMS])
def test_node_selector_term_matches(name: str, term: dict[str, Any], expected: bool) -> None:
    assert node_selector_term_matches(term, NODE, FIELDS) is expected


def test_node_selector_terms_are_ored() -> None:
    miss = {"matchExpressions": [expr("cpus", "Lt", "2")]}
    hit = {"matchFields": [expr("metadata.name", "In", "node-1")]}
    assert node_selector_matches({"nodeSelectorTerms": [miss, hit]}, NODE, FIELDS) is True
    assert node_selector_matches({"nodeSelectorTerms": [miss]}, NODE, FIELDS) is False
    assert node_selector_matches({"nodeSelectorTerms": []}, NODE, FIELDS) is False
    assert node_selector_matches(None, NODE, FIELDS) is True


POD = {
    "metadata": {"name": "web-0", "namespace": "default"},
    "spec": {"nodeName": "node-1", "restartPolicy": "Always", "schedulerName": "default-scheduler"},
    "status": {"phase": "Running", "podIP": "10.0.0.5"},
}
EVENT = {
    "metadata": {"name": "data.1", "namespace": "default"},
    "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data", "namespace": "default", "uid": "u-1"},
    "reason": "ProvisioningSucceeded",
    "source": {"component": "persistentvolume-controller"},
    "type": "Normal",
}
NODE_OBJ = {"metadata": {"name": "node-1"}, "spec": {}}
RS = {"metadata": {"name": "rs", "namespace": "default"}, "status": {"replicas": 3}}

# (kind, selector, object, matches, requirements)
FIELD_CASES: list[tuple[str, str, dict[str, Any], bool, list[tuple[str, str, str]]]] = [
    ("Pod", "", POD, True, []),
    ("Pod", "metadata.name=web-0", POD, True, [("metadata.name", "=", "web-0")]),
    ("Pod", "metadata.name==web-1", POD, False, [("metadata.name", "==", "web-1")]),
    ("Pod", "spec.nodeName=node-1,status.phase!=Pending", POD, True, [
        ("spec.nodeName", "=", "node-1"), ("status.phase", "!=", "Pending")]),
    ("Pod", "spec.nodeName=", POD, False, [("spec.nodeName", "=", "")]),
    ("Pod", "spec.hostNetwork=false", POD, True, [("spec.hostNetwork", "=", "false")]),
    ("Pod", "status.podIP=10.0.0.5,metadata.namespace=default", POD, True, [
        ("metadata.namespace", "=", "default"), ("status.podIP", "=", "10.0.0.5")]),
    ("Event", "involvedObject.name=data,involvedObject.namespace=default,involvedObject.kind=PersistentVolumeClaim,"
     "involvedObject.uid=u-1", EVENT, True, [
        ("involvedObject.kind", "=", "PersistentVolumeClaim"), ("involvedObject.name", "=", "data"),
        ("involvedObject.namespace", "=", "default"), ("involvedObject.uid", "=", "u-1")]),
    ("Event", "source=persistentvolume-controller,type=Normal", EVENT, True, [
        ("source", "=", "persistentvolume-controller"), ("type", "=", "Normal")]),
    ("Event", "reason!=ProvisioningSucceeded", EVENT, False, [("reason", "!=", "ProvisioningSucceeded")]),
    ("Node", "spec.unschedulable=false", NODE_OBJ, True, [("spec.unschedulable", "=", "false")]),
    ("Node", "metadata.namespace=", NODE_OBJ, True, [("metadata.namespace", "=", "")]),
    ("ReplicaSet", "status.replicas=3", RS, True, [("status.replicas", "=", "3")]),
    ("Pod", r"metadata.name=a\,b\=c", {"metadata": {"name": "a,b=c"}}, True, [("metadata.name", "=", "a,b=c")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "text", "obj", "matches", "requirements"),
    FIELD_CASES,
    ids=[f"{c[0]}:{c[1] or 'empty'}" for c in FIELD_CASES],
)
def test_parse_field_selector(
    kind: str, text: str, obj: dict[str, Any], matches: bool, requirements: list[tuple[str, str, str]]
) -> None:
    selector = parse_field_selector(text, kind)
    assert list(selector.requirements) == requirements
    assert selector.matches(obj) is matches
    assert selector.empty == (not requirements)


SINGLE_NAME = [("metadata.name=data", "data"), ("metadata.name==data,spec.nodeName=n", "data"),
               ("metadata.name!=data", None), ("spec.nodeName=n", None), ("", None)]  # fmt: skip


@pytest.mark.parametrize(("text", "name"), SINGLE_NAME, ids=[t or "empty" for t, _ in SINGLE_NAME])
def test_single_name(text: str, name: str | None) -> None:
    assert parse_field_selector(text, "Pod").single_name() == name


FIELD_ERRORS = [
    ("Pod", "spec.volumes=x", "field label not supported: spec.volumes"),
    ("PersistentVolumeClaim", "spec.nodeName=n", "field label not supported: spec.nodeName"),
    ("StorageClass", "provisioner=x", "field label not supported: provisioner"),
    ("Pod", "metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
    ("Pod", "a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
    ("Pod", "metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
    ("Pod", r"metadata.name=a\x", "invalid field selector: invalid escape sequence: \\x"),
]


@pytest.mark.parametrize(
    ("kind", "text", "message"), FIELD_ERRORS, ids=[f"{k}:{t}" for k, t, _ in FIELD_ERRORS]
)
def test_parse_field_selector_errors(kind: str, text: str, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector(text, kind)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (400, "BadRequest", message)


def test_every_kind_serves_metadata_fields() -> None:
    for kind in (
        "Pod",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "StorageClass",
        "VolumeAttachment",
        "Lease",
    ):
        assert supported_fields(kind)[:2] == ("metadata.name", "metadata.namespace")
    assert "spec.unschedulable" in supported_fields("Node")
    assert "type" in supported_fields("Secret")
