"""The kubelet's own config keys: `simulate_mounts` (shared with the ad-controller) and
`kubelet.mount_timeout`."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kstore.config import ConfigError
from kstore.kubelet.main import mount_timeout, simulate_mounts
from kstore.kubelet.pods import MOUNT_TIMEOUT


@pytest.mark.parametrize("raw,expected", [({}, None), ({"simulate_mounts": False}, None),
                                          ({"simulate_mounts": True}, True)])
def test_simulate_mounts(raw: dict[str, Any], expected: bool | None) -> None:
    assert simulate_mounts(raw) is expected


def test_mount_timeout() -> None:
    assert mount_timeout({}) == MOUNT_TIMEOUT == 123.0
    assert mount_timeout({"kubelet": {"mount_timeout": 5}}) == 5.0


@pytest.mark.parametrize("raw,message", [
    ({"simulate_mounts": "yes"}, "simulate_mounts: invalid value 'yes': must be true or false"),
    ({"kubelet": {"mount_timeout": 0}}, "kubelet.mount_timeout: invalid value 0: must be a positive number"),
    ({"kubelet": {"mount_timout": 5}}, "kubelet.mount_timout: unknown key (known: mount_timeout)"),
    ({"kubelet": []}, "kubelet: invalid value []: must be a mapping"),
])
def test_bad_values_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        if "simulate_mounts" in raw:
            simulate_mounts(raw)
        else:
            mount_timeout(raw)
