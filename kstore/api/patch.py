"""Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902, by the `jsonpatch` library) and
strategic merge patch (Kubernetes' merge keys and directives, in `kstore.api.smp`).

A strategic merge patch is never treated as a merge patch: that would silently corrupt lists
such as containers and volumeMounts, and store `$setElementOrder/...` as a key.
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from kstore.api.errors import ApiError, bad_request
from kstore.api.smp import strategic_merge

MERGE = "merge"
JSON = "json"
STRATEGIC = "strategic"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(obj: dict[str, Any], patch: Any, patch_type: str) -> dict[str, Any]:
    """Return a new object; `obj` is not modified. Raises ApiError for a patch that cannot apply."""
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        result = merge_patch(obj, patch)
    elif patch_type == JSON:
        if not isinstance(patch, list):
            raise bad_request("a JSON patch must be a JSON array of operations")
        try:
            result = jsonpatch.apply_patch(obj, patch, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as e:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {e}") from e
    elif patch_type == STRATEGIC:
        result = strategic_merge(obj, patch, str(obj.get("kind") or ""))
    else:
        raise ApiError(415, "UnsupportedMediaType", f"unknown patch type {patch_type!r}")
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    return result
