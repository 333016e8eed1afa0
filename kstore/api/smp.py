"""Strategic merge patch (`application/strategic-merge-patch+json`) with kube-apiserver's semantics.

kubectl apply, kubectl patch and the Python client's dict patches send this format. It is a JSON
merge patch (maps merge deeply, `null` deletes a key) in which lists follow the API's tags
(`smp_keys.STRATEGIES`): a list tagged `merge` merges element-wise by its merge key, or as a set
for scalars; every other list is replaced whole. Directives steer the merge:

- `{"$patch": "delete"}` in a map deletes that map; as a list element `{"$patch": "delete",
  "<key>": v}` deletes the elements whose merge key is v.
- `{"$patch": "replace"}` in a map replaces the map by the rest of the patch map; as a list
  element it makes the list be the other patch elements.
- `{"$patch": "merge"}` is the default and a no-op.
- `"$setElementOrder/<list>": [...]` orders a merge list (elements as `{<key>: v}`, or scalars).
- `"$deleteFromPrimitiveList/<list>": [...]` removes those values from a scalar list.
- `"$retainKeys": [...]` clears every key of the original map not listed, then merges.

Order of a merged list, as in Kubernetes' patch.go: the patch's elements keep the patch's
order, the server-only elements keep theirs, and the two interleave by their positions in the
live list; an element new to the list goes ahead of the server-only elements that follow it
(so without `$setElementOrder` a new element lands first). `$setElementOrder` then orders the
elements it names and interleaves the rest the same way, by the live list as patch.go leaves
it after deleting and appending in place (`_live_as_patch_go_sees_it`). Checked against
kubectl 1.32's `patch --local`, which runs patch.go (tests/unit/test_api_smp.py).

Invariants:
- The result is a new dict; `original` and `patch` are not modified, and no part of `patch` is
  aliased into the result.
- No directive is ever stored: a patch value that lands where the original has nothing (a new
  key, a replaced list or map) is itself applied to an empty value, which consumes its
  directives and drops its nulls — kube-apiserver reaches the same result by decoding into Go
  structs, which have no fields named `$patch`.
- Errors are `ApiError`s with patch.go's wording: a malformed directive is 400 BadRequest, lists
  of lists are 422.

Deliberate differences from patch.go, where it returns something no client wants:
- `$patch: delete` on a map removes the key (patch.go leaves `{}`), and `$patch: merge` is
  accepted as the no-op it is documented to be (patch.go rejects it).
- A new key whose map carries `$patch: replace` keeps the map's other keys (patch.go drops the
  whole map).
- `$setElementOrder` on a list that is not a merge list is ignored (patch.go panics on a list of
  maps), and a `$deleteFromPrimitiveList` that is not a list is refused (patch.go ignores it).
- A patch with a value and a `$deleteFromPrimitiveList` entry for the same scalar deletes it
  (patch.go's outcome depends on Go's random map order).
- A patch error is 400 (patch.go's untyped errors, such as a missing merge key, reach kubectl
  as 500 InternalError).
"""

from __future__ import annotations

import copy
import enum
import json
from collections.abc import Callable
from typing import Any

from kstore.api.errors import ApiError, bad_request
from kstore.api.smp_keys import STRATEGIES, ListMerge, MapStrategy, Table

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder"
DELETE_FROM = "$deleteFromPrimitiveList"

BAD_ORDER = "invalid patch format of setElementOrder list"
BAD_DELETE_FROM = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"


class Merged(enum.Enum):
    """What a map patched with `{"$patch": "delete"}` becomes: nothing (its key is removed)."""

    DELETED = "deleted"


def strategic_merge(original: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of `kind`; return the new object.

    Raises ApiError: 400 for a malformed patch, 422 for lists of lists, 415 for a kind that
    has no strategy table (kube-apiserver refuses strategic merge for custom resources)."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}")
    table = STRATEGIES.get(kind)
    if table is None:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted "
                       "media types include: application/json-patch+json, application/merge-patch+json")
    merged = _Merger(table).merge_map(copy.deepcopy(original), patch, "")
    return {} if merged is Merged.DELETED else merged


class _Merger:
    """One patch application. Maps passed as `original` are the caller's private copies and are
    updated in place; patch values are only read."""

    def __init__(self, table: Table) -> None:
        self.table = table

    # ---- maps

    def merge_map(self, original: dict[str, Any], patch: dict[str, Any], path: str) -> dict[str, Any] | Merged:
        if PATCH in patch:
            directive = patch[PATCH]
            patch = {k: v for k, v in patch.items() if k != PATCH}
            if directive == "delete":
                return Merged.DELETED
            if directive == "replace":
                original = {}
            elif directive != "merge":
                raise bad_request(f"unknown patch type: {_go(directive)} in map: {_go({PATCH: directive, **patch})}")
        _retain_keys(original, patch)
        ordered = self._set_element_orders(original, patch, path)
        deletions = []
        for key, value in patch.items():
            if key == RETAIN_KEYS or key.startswith(SET_ORDER) or key in ordered:
                continue
            if key.startswith(DELETE_FROM):
                deletions.append((key, value))
            else:
                self._field(original, key, value, _join(path, key))
        for key, values in deletions:
            self._delete_from_primitive_list(original, key, values)
        return original

    @staticmethod
    def _delete_from_primitive_list(original: dict[str, Any], directive: str, values: Any) -> None:
        """Remove `values` from a list of scalars (any list: patch.go does not check the tag); a
        missing list or a list of maps is left alone, as patch.go does."""
        name = _directive_target(directive, DELETE_FROM, BAD_DELETE_FROM)
        if not isinstance(values, list):
            raise bad_request(f"{BAD_DELETE_FROM}: {directive} must be a list, not {_go(values)}")
        current = original.get(name)
        if isinstance(current, list) and _element_kind(current, values) != "object":
            gone = _positions(values, _itself)
            original[name] = [v for v in current if _hashable(v) not in gone]

    def _field(self, original: dict[str, Any], key: str, value: Any, path: str) -> None:
        if value is None:
            original.pop(key, None)
            return
        old = original.get(key)
        strategy = self.table.get(path)
        replaces_map = isinstance(strategy, MapStrategy) and strategy.replace
        if isinstance(old, dict) and isinstance(value, dict) and not replaces_map:
            new = self.merge_map(old, value, path)
        elif isinstance(old, list) and isinstance(value, list):
            new = self.patch_list(old, value, path)
        else:  # a new key, a scalar, a type change or a replaced map: the patch value, directives applied
            new = self.fresh(value, path)
        if new is Merged.DELETED:
            original.pop(key, None)
        else:
            original[key] = new

    def fresh(self, value: Any, path: str) -> Any:
        """A patch value applied to nothing: its directives consumed, its nulls dropped."""
        if isinstance(value, dict):
            return self.merge_map({}, value, path)
        if isinstance(value, list):
            return self.fresh_list(value, path)
        return value

    # ---- lists

    def patch_list(self, original: list[Any], patch: list[Any], path: str) -> list[Any]:
        strategy = self.table.get(path)
        if not isinstance(strategy, ListMerge):
            return self.fresh_list(patch, path)
        return self.merge_list(original, patch, path, strategy.key)

    def fresh_list(self, patch: list[Any], path: str) -> list[Any]:
        """A list patch where there is nothing to merge with: list markers go, elements stay in order."""
        out = []
        for item in patch:
            if isinstance(item, dict) and PATCH in item:
                directive = item[PATCH]
                if directive in ("delete", "replace"):
                    continue  # nothing to delete from; replacing nothing leaves the other elements
                if directive != "merge":
                    raise bad_request(f"unknown patch type: {_go(directive)} in map: {_go(item)}")
                item = {k: v for k, v in item.items() if k != PATCH}
                if not item:
                    continue
            out.append(self.fresh(item, path + "[]"))
        return out

    def merge_list(self, original: list[Any], patch: list[Any], path: str, key: str) -> list[Any]:
        if not original and not patch:
            return original
        if _element_kind(original, patch) != "object":
            merged = _unique(original + patch)
            return _order(merged, patch, original, _itself)
        if not key:
            raise bad_request("cannot merge lists without merge key for type map")
        regular, deleted, replace = _special_elements(patch, key)
        element = path + "[]"
        if replace:
            items = [self.fresh(item, element) for item in regular]
            return _order(items, [], items, _merge_key(key))
        server = [item for item in original if not _matches_any(item, key, deleted)]
        merged = list(server)
        for item in regular:
            value = _merge_key(key)(item)
            at = next((i for i, m in enumerate(merged) if isinstance(m, dict) and key in m
                       and _same(m[key], value)), None)
            if at is None:
                merged.append(self.fresh(item, element))
            else:
                merged[at] = self.merge_map(merged[at], item, element)
        return _order(merged, regular, server, _merge_key(key))

    def _set_element_orders(self, original: dict[str, Any], patch: dict[str, Any], path: str) -> set[str]:
        """Merge and order every list named by a `$setElementOrder/<list>`; return the names done."""
        done: set[str] = set()
        for directive, order in patch.items():
            if not directive.startswith(SET_ORDER):
                continue
            name = _directive_target(directive, SET_ORDER, BAD_ORDER)
            if not isinstance(order, list):
                raise bad_request(f"expected a []interface {{}}, but received a {_go_type(order)}")
            strategy = self.table.get(_join(path, name))
            if not isinstance(strategy, ListMerge) or patch.get(name, []) is None:
                continue  # a replaced list keeps the patch's order; a deleted list has none
            has_old, has_new = original.get(name) is not None, name in patch
            if not has_old and not has_new:
                continue
            old, new = original[name] if has_old else [], patch[name] if has_new else []
            for value in (old, new):
                if not isinstance(value, list):
                    raise bad_request(f"expected a []interface {{}}, but received a {_go_type(value)}")
            maps = _element_kind(old, new) == "object"
            if maps and not strategy.key:
                raise bad_request("cannot merge lists without merge key for type map")
            identity = _merge_key(strategy.key) if maps else _itself
            _check_order(new, order, identity, maps)
            live = old
            if has_old and has_new:
                merged = self.merge_list(old, new, _join(path, name), strategy.key)
                if maps:
                    live = _live_as_patch_go_sees_it(old, new, strategy.key)
            elif has_old:
                merged = old
            else:
                merged = self.fresh_list(new, _join(path, name))
            original[name] = _order(merged, order, live, identity)
            done.add(name)
        return done


# ---- directives


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch[RETAIN_KEYS]
    if not isinstance(keep, list):
        raise bad_request(f"{BAD_RETAIN_KEYS}: $retainKeys must be a list of field names")
    for key, value in patch.items():
        if value is None or key == RETAIN_KEYS or key.startswith((SET_ORDER, DELETE_FROM)):
            continue
        if key not in keep:
            raise bad_request(f"{BAD_RETAIN_KEYS}: {key!r} is patched but not listed in $retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _directive_target(directive: str, prefix: str, error: str) -> str:
    """`$setElementOrder/containers` -> `containers`."""
    head, sep, name = directive.partition("/")
    if head != prefix or not sep:
        raise bad_request(f"{error}: {directive!r} should be {prefix}/<list field>")
    return name


def _special_elements(patch: list[Any], key: str) -> tuple[list[Any], list[Any], bool]:
    """Split a merge-list patch into its plain elements, the merge-key values of
    `{"$patch": "delete"}` elements, and whether a `{"$patch": "replace"}` marker is present."""
    regular, deleted, replace = [], [], False
    for item in patch:
        if not isinstance(item, dict) or PATCH not in item:
            regular.append(item)
            continue
        directive = item[PATCH]
        if directive == "delete":
            deleted.append(_merge_key(key)(item))
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            rest = {k: v for k, v in item.items() if k != PATCH}
            if rest:
                regular.append(rest)
        else:
            raise bad_request(f"unknown patch type: {_go(directive)} in map: {_go(item)}")
    return regular, deleted, replace


def _check_order(patch: list[Any], order: list[Any], identity: Callable[[Any], Any], maps: bool) -> None:
    """The patch's elements must appear in `$setElementOrder`, in the same relative order."""
    if not patch or not order:
        return
    items = [i for i in patch if not (maps and isinstance(i, dict) and i.get(PATCH) == "delete")]
    at = wanted = 0
    while at < len(items) and wanted < len(order):
        if isinstance(items[at], dict) and PATCH in items[at]:
            at += 1
            continue
        if _same(identity(items[at]), identity(order[wanted])):
            at += 1
        wanted += 1
    if at < len(items):
        raise bad_request(f"The order in patch list:\n{_go(patch)}\n doesn't match $setElementOrder list:\n"
                          f"{_go(order)}\n")


# ---- list order


def _live_as_patch_go_sees_it(live: list[Any], patch: list[Any], key: str) -> list[Any]:
    """The live list as patch.go's `$setElementOrder` step reads it, after merging `patch` into it.

    patch.go deletes and appends elements in place, in the array the live list's slice still
    points to (Go slice aliasing), so the live order it interleaves server-only elements by is
    the live list with deleted elements shifted out and new elements written into the freed
    tail. kubectl 1.32 orders by it, and so do we: it decides where an element only the server
    has (a sidecar a webhook injected, say) lands when one apply both removes and adds elements.
    """
    slots, used = list(live), len(live)  # the array, and the slice's length
    regular, deleted, replace = _special_elements(patch, key)
    for value in deleted:  # each `$patch: delete` removes every match, shifting the tail left
        while (at := next((i for i in range(used) if _matches_any(slots[i], key, [value])), None)) is not None:
            slots[at:used - 1] = slots[at + 1:used]
            used -= 1
    if not replace:
        current = slots[:used]
        for item in regular:  # a new element is appended; while it fits, it lands in the array
            if not any(_matches_any(m, key, [item[key]]) for m in current):
                if len(current) < len(slots):
                    slots[len(current)] = item
                current.append(item)
    return slots


def _order(merged: list[Any], patch: list[Any], server: list[Any], identity: Callable[[Any], Any]) -> list[Any]:
    """patch.go's order: elements named in `patch` in its order, the others in `server`'s order,
    interleaved by their positions in `server` (a patch element not in `server` goes first)."""
    in_patch = _positions(patch, identity)
    in_server = _positions(server, identity)
    ids = [_hashable(identity(item)) for item in merged]
    from_patch = sorted((i for i, h in enumerate(ids) if h in in_patch), key=lambda i: in_patch[ids[i]])
    end = len(server)
    server_only = sorted((i for i, h in enumerate(ids) if h not in in_patch), key=lambda i: in_server.get(ids[i], end))
    out: list[Any] = []
    s = p = 0
    while s < len(server_only) and p < len(from_patch):
        left, right = in_server.get(ids[server_only[s]]), in_server.get(ids[from_patch[p]])
        if left is not None and right is not None and left < right:
            out.append(merged[server_only[s]])
            s += 1
        else:
            out.append(merged[from_patch[p]])
            p += 1
    out += [merged[i] for i in server_only[s:]]
    out += [merged[i] for i in from_patch[p:]]
    return out


def _positions(items: list[Any], identity: Callable[[Any], Any]) -> dict[Any, int]:
    """First position of each identity in `items`."""
    positions: dict[Any, int] = {}
    for i, item in enumerate(items):
        positions.setdefault(_hashable(identity(item)), i)
    return positions


def _unique(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for item in items:
        h = _hashable(item)
        if h not in seen:
            seen.add(h)
            out.append(item)
    return out


def _merge_key(key: str) -> Callable[[Any], Any]:
    def value_of(item: Any) -> Any:
        if not isinstance(item, dict):
            raise bad_request(f"expected a map[string]interface {{}}, but received a {_go_type(item)}")
        if key not in item:
            raise bad_request(f"map: {_go(item)} does not contain declared merge key: {key}")
        return item[key]

    return value_of


def _itself(item: Any) -> Any:
    return item


def _matches_any(item: Any, key: str, values: list[Any]) -> bool:
    return isinstance(item, dict) and key in item and any(_same(item[key], v) for v in values)


# ---- JSON values compared and printed the way Go sees them


def _same(a: Any, b: Any) -> bool:
    """Equal as Go compares decoded JSON: `1 == 1.0`, but `true != 1` and `"1" != 1`."""
    return _hashable(a) == _hashable(b)


def _hashable(value: Any) -> Any:
    kind = _json_kind(value)
    if kind in ("object", "array"):
        return kind, json.dumps(value, sort_keys=True)
    return kind, value


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "null"


def _element_kind(*lists: list[Any]) -> str:
    """The one JSON kind of the elements of `lists` ("null" if there are none), as patch.go's
    sliceElementType decides it: the first element sets the kind and must not be a list."""
    kind = ""
    for item in (i for lst in lists for i in lst):
        if not kind:
            kind = _json_kind(item)
            if kind == "array":
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request: "
                               "lists of lists are not supported")
        elif _json_kind(item) != kind:
            raise bad_request(f"list element types are not identical: {_go(list(lists))}")
    return kind or "null"


def _go_type(value: Any) -> str:
    return {"object": "map[string]interface {}", "array": "[]interface {}", "string": "string",
            "bool": "bool", "number": "float64", "null": "<nil>"}[_json_kind(value)]


def _go(value: Any) -> str:
    """`fmt.Sprintf("%v")` of decoded JSON, as patch.go's messages print it: `map[name:app]`."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
