"""Label selectors, node selector terms and field selectors, as kube-apiserver evaluates them.

Design:
- A `LabelSelector` is an AND of `Requirement`s (key, operator, values). Three ways in:
  * `parse_label_selector("app=web,tier in (db,cache),!canary")`: the `?labelSelector=` string
    form, with apimachinery's lexer and its error texts (`unable to parse requirement: ...`);
  * `label_selector_from_dict({"matchLabels": ..., "matchExpressions": ...})`: a stored
    `metav1.LabelSelector` (PVC `spec.selector`, workload selectors). Like
    `LabelSelectorAsSelector`, None selects nothing and `{}` selects everything;
  * `node_selector_term_matches(term, labels, fields)`: a `NodeSelectorTerm` (pod node affinity,
    PV `nodeAffinity`), which adds `Gt`/`Lt` and `matchFields` on `metadata.name`. An empty or
    malformed term matches no node, as in the scheduler's nodeaffinity helper.
- A `FieldSelector` is an AND of (field, op, value) with op `=`, `==` or `!=`. Fields are those
  Kubernetes serves per kind (`metadata.name`, `metadata.namespace` everywhere; `spec.nodeName`,
  `status.phase` ... on pods; `involvedObject.*` on events ...). `single_name()` exposes
  `metadata.name=x` so the store can answer `kubectl wait` with one lookup instead of a scan.
- Every malformed selector raises `ApiError` 400 BadRequest, ready to return to the client.
  Requirements are kept sorted by key (labels) or term (fields), as Kubernetes does, so
  `str()` is deterministic.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from kstore.api.errors import ApiError, bad_request
from kstore.api.names import is_qualified_name, is_valid_label_value

# Operators, spelled as apimachinery's `selection.Operator`.
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _go_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _aggregate(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One label requirement; `values` is sorted and holds one value for `=`, `==`, `!=`, `gt`, `lt`."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return self.key in labels
        if self.operator == DOES_NOT_EXIST:
            return self.key not in labels
        if self.operator in (GREATER_THAN, LESS_THAN):
            have, want = _int64(labels.get(self.key)), _int64(self.values[0] if self.values else None)
            if have is None or want is None:
                return False
            return have > want if self.operator == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        joined = ",".join(self.values)
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({joined})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{joined}"


def _int64(value: object) -> int | None:
    """Go's strconv.ParseInt(value, 10, 64), or None."""
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        return None
    number = int(value)
    return number if -(2**63) <= number < 2**63 else None


def new_requirement(key: str, operator: str, values: list[str] | tuple[str, ...]) -> Requirement:
    """Build a requirement with apimachinery's `NewRequirement` checks; raise ValueError listing problems."""
    errors = (
        [f"key: Invalid value: {_go_quote(key)}: {'; '.join(msgs)}"]
        if (msgs := is_qualified_name(key))
        else []
    )
    shown = "[]string{" + ", ".join(_go_quote(v) for v in values) + "}"
    if operator in (IN, NOT_IN) and not values:
        errors.append(
            f"values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty"
        )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        errors.append(f"values: Invalid value: {shown}: exact-match compatibility requires one single value")
    elif operator in (EXISTS, DOES_NOT_EXIST) and values:
        errors.append(
            f"values: Invalid value: {shown}: values set must be empty for exists and does not exist"
        )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errors.append(
                f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        for i, value in enumerate(values):
            if _int64(value) is None:
                errors.append(
                    f"values[{i}]: Invalid value: {_go_quote(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    elif operator not in (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, EXISTS, DOES_NOT_EXIST):
        supported = ", ".join(_go_quote(op) for op in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errors.append(f"operator: Unsupported value: {_go_quote(operator)}: supported values: {supported}")
    for i, value in enumerate(values):
        if msgs := is_valid_label_value(value):
            errors.append(f"values[{i}][{key}]: Invalid value: {_go_quote(value)}: {'; '.join(msgs)}")
    if errors:
        raise ValueError(_aggregate(errors))
    return Requirement(key, operator, tuple(values))


@dataclasses.dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements. `nothing=True` is `labels.Nothing()`: it matches no object."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (it matches every object)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (`key=v` or `key in (v)`), else None."""
        for r in self.requirements:
            if r.key == key:
                ok = r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1
                return r.values[0] if ok else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)

# --- the string form: apimachinery's lexer and recursive-descent parser -----------------------

_END, _ERROR, _IDENT = "end", "error", "identifier"
_KEYWORDS = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "<": "<", "!=": "!=", "(": "("}
_WORDS = {"in": IN, "notin": NOT_IN}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, literal); kind is a symbol, `in`/`notin`, identifier, error or end."""
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        if pos >= len(text):
            tokens.append((_END, ""))
            return tokens
        if text[pos] in _SPECIAL:
            buffer, last = "", None
            while pos < len(text) and text[pos] in _SPECIAL:
                buffer += text[pos]
                if buffer in _KEYWORDS:
                    last = buffer
                elif last is not None:
                    break
                pos += 1
            tokens.append((last, last) if last else (_ERROR, f"error expected: keyword found '{buffer}'"))
        else:
            start = pos
            while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _SPACE:
                pos += 1
            word = text[start:pos]
            tokens.append((_WORDS[word], word) if word in _WORDS else (_IDENT, word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        return self._as(self.tokens[self.pos], values)

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return self._as(token, values)

    @staticmethod
    def _as(token: tuple[str, str], values: bool) -> tuple[str, str]:
        # In value position `in` and `notin` are ordinary words: `x in (in)` is valid.
        return (_IDENT, token[1]) if values and token[0] in (IN, NOT_IN) else token

    def parse(self) -> list[Requirement]:
        requirements = []
        while True:
            kind, literal = self.peek()
            if kind == _END:
                return requirements
            if kind not in (_IDENT, "!"):
                raise ValueError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except ValueError as err:
                raise ValueError(f"unable to parse requirement: {err}") from None
            kind, literal = self.take()
            if kind == _END:
                return requirements
            if kind != ",":
                raise ValueError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self.peek()
            if kind not in (_IDENT, "!"):
                raise ValueError(f"found '{literal}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator = None
        kind, key = self.take()
        if kind == "!":
            operator = DOES_NOT_EXIST
            kind, key = self.take()
        if kind != _IDENT:
            raise ValueError(f"found '{key}', expected: identifier")
        if msgs := is_qualified_name(key):
            raise ValueError(f"<nil>: Invalid value: {_go_quote(key)}: {'; '.join(msgs)}")
        if self.peek()[0] in (_END, ","):
            return new_requirement(key, operator or EXISTS, [])
        if operator == DOES_NOT_EXIST:
            return new_requirement(key, operator, [])
        kind, literal = self.take(values=False)
        operator = {IN: IN, NOT_IN: NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS}.get(kind)
        operator = operator or {">": GREATER_THAN, "<": LESS_THAN}.get(kind)
        if operator is None:
            raise ValueError(f"found '{literal}', expected: {', '.join(_BINARY_OPERATORS)}")
        values = self.value_set() if operator in (IN, NOT_IN) else self.exact_value()
        return new_requirement(key, operator, sorted(values))

    def value_set(self) -> set[str]:
        kind, literal = self.take()
        if kind != "(":
            raise ValueError(f"found '{literal}' expected: '('")
        kind, literal = self.peek()
        if kind == ")":
            self.take()
            return {""}
        if kind not in (_IDENT, ","):
            raise ValueError(f"found '{literal}', expected: ',', ')' or identifier")
        values: set[str] = set()
        while True:
            kind, word = self.take()
            if kind == _IDENT:
                values.add(word)
                next_kind, next_literal = self.peek()
                if next_kind == ")":
                    break
                if next_kind != ",":
                    raise ValueError(f"found '{next_literal}', expected: ',' or ')'")
            elif kind == ",":
                # Empty entries (`(,a)`, `(a,)`, `(a,,b)`) stand for the empty value.
                if not values or self.peek()[0] in (")", ","):
                    values.add("")
                if self.peek()[0] == ")":
                    break
            else:
                raise ValueError(f"found '{word}', expected: ',', or identifier")
        self.take()  # the closing parenthesis
        return values

    def exact_value(self) -> set[str]:
        if self.peek()[0] in (_END, ","):
            return {""}
        kind, literal = self.take()
        if kind != _IDENT:
            raise ValueError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_label_selector(text: str) -> LabelSelector:
    """Parse `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, comma-joined.

    The empty string selects everything. Raises ApiError 400 with apimachinery's wording.
    """
    try:
        requirements = _Parser(text).parse()
    except ValueError as err:
        raise bad_request(str(err)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` dict as a selector: None selects nothing, `{}` everything.

    Raises ApiError 400 for an operator other than In/NotIn/Exists/DoesNotExist or bad values.
    """
    if selector is None:
        return NOTHING
    requirements = []
    try:
        for key, value in (selector.get("matchLabels") or {}).items():
            requirements.append(new_requirement(key, EQUALS, [value]))
        for expr in selector.get("matchExpressions") or ():
            operator = _SELECTOR_OPERATORS.get(expr.get("operator"))
            if operator is None:
                raise ValueError(
                    f"{_go_quote(str(expr.get('operator')))} is not a valid label selector operator"
                )
            values = sorted(set(expr.get("values") or ()))
            requirements.append(new_requirement(str(expr.get("key", "")), operator, values))
    except (ValueError, AttributeError, TypeError) as err:
        raise bad_request(str(err)) from None
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


# --- node selector terms (node affinity, PV nodeAffinity) -------------------------------------

_NODE_OPERATORS = {**_SELECTOR_OPERATORS, "Gt": GREATER_THAN, "Lt": LESS_THAN}


def node_selector_term_matches(
    term: Mapping[str, Any], node_labels: Mapping[str, str] | None, node_fields: Mapping[str, str] | None
) -> bool:
    """Whether one NodeSelectorTerm matches a node: every matchExpression against its labels and
    every matchField (only `metadata.name`, In/NotIn) against `node_fields`. An empty or
    malformed term matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    try:
        for expr in expressions:
            operator = _NODE_OPERATORS[expr.get("operator")]
            values = list(expr.get("values") or ())
            if not new_requirement(expr["key"], operator, values).matches(node_labels or {}):
                return False
        for expr in fields:
            operator = {"In": IN, "NotIn": NOT_IN}[expr.get("operator")]
            values = list(expr.get("values") or ())
            if len(values) != 1:
                return False
            # Nodes serve only `metadata.name`; any other field reads as "", as in Kubernetes.
            have = (node_fields or {}).get(expr.get("key"), "")
            if (have == values[0]) != (operator == IN):
                return False
    except (KeyError, ValueError, TypeError, AttributeError):
        return False
    return True


def node_selector_matches(
    selector: Mapping[str, Any] | None,
    node_labels: Mapping[str, str] | None,
    node_fields: Mapping[str, str] | None,
) -> bool:
    """A NodeSelector (terms are ORed). None places no constraint; no terms match no node."""
    if selector is None:
        return True
    terms = selector.get("nodeSelectorTerms") or []
    return any(node_selector_term_matches(t, node_labels, node_fields) for t in terms)


# --- field selectors ---------------------------------------------------------------------------

_Getter = Callable[[Mapping[str, Any]], str]


def _path(*keys: str, default: str = "") -> _Getter:
    def get(obj: Mapping[str, Any]) -> str:
        cur: Any = obj
        for key in keys:
            cur = cur.get(key) if isinstance(cur, Mapping) else None
        if cur is None:
            return default
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return str(cur)

    return get


_COMMON_FIELDS: dict[str, _Getter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}
# Per kind, as the kube-apiserver registries' GetAttrs / field label conversions.
_KIND_FIELDS: dict[str, dict[str, _Getter]] = {
    "Pod": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": _path("spec", "hostNetwork", default="false"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "Event": {
        **{
            f"involvedObject.{f}": _path("involvedObject", f)
            for f in (
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            )
        },
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    },
    "Node": {"spec.unschedulable": _path("spec", "unschedulable", default="false")},
    "Namespace": {"status.phase": _path("status", "phase")},
    "Secret": {"type": _path("type")},
    "ReplicaSet": {"status.replicas": _path("status", "replicas", default="0")},
    "Service": {"spec.clusterIP": _path("spec", "clusterIP"), "spec.type": _path("spec", "type")},
}


def supported_fields(kind: str) -> tuple[str, ...]:
    """The field labels `parse_field_selector` accepts for `kind`."""
    return (*_COMMON_FIELDS, *_KIND_FIELDS.get(kind, {}))


@dataclasses.dataclass(frozen=True)
class FieldSelector:
    """An AND of (field, op, value) requirements over one kind's selectable fields."""

    kind: str
    requirements: tuple[tuple[str, str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        getters = {**_COMMON_FIELDS, **_KIND_FIELDS.get(self.kind, {})}
        for field, op, value in self.requirements:
            if (getters[field](obj) == value) != (op in (EQUALS, DOUBLE_EQUALS)):
                return False
        return True

    def single_name(self) -> str | None:
        """The name `metadata.name=` (or `==`) pins, for a direct lookup; None if not pinned."""
        for field, op, value in self.requirements:
            if field == "metadata.name" and op in (EQUALS, DOUBLE_EQUALS):
                return value
        return None

    def value_of(self, field: str) -> str | None:
        """The value an equality requirement pins `field` to (e.g. `spec.nodeName`), else None."""
        for name, op, value in self.requirements:
            if name == field and op in (EQUALS, DOUBLE_EQUALS):
                return value
        return None

    def __str__(self) -> str:
        return ",".join(f"{f}{op}{_escape(v)}" for f, op, v in self.requirements)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(text: str) -> list[str]:
    terms, start, escaped = [], 0, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The first operator occurrence splits; `!=` and `==` are tried before `=` at each position.
    for i in range(len(term)):
        for op in (NOT_EQUALS, DOUBLE_EQUALS, EQUALS):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def _unescape(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str, kind: str) -> FieldSelector:
    """Parse `?fieldSelector=` for `kind`: comma-joined `field=value`, `field==value`, `field!=value`.

    Values may escape `\\`, `,` and `=` with a backslash. The empty string selects everything.
    Raises ApiError 400: `invalid selector: ...` when malformed, `field label not supported: <f>`
    for a field the kind does not serve.
    """
    requirements = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        requirements.append((field, op, _unescape(raw)))
    # As in the apiserver, the whole selector parses before its field labels are checked.
    supported = supported_fields(kind)
    for field, _, _ in requirements:
        if field not in supported:
            raise ApiError(400, "BadRequest", f"field label not supported: {field}")
    return FieldSelector(kind, tuple(requirements))
