"""Shared fixtures.

`state_dir`: a fresh kstore state dir per test, and a guarantee that whatever the test
started in it (processes, mounts, loop devices) is gone afterwards, even when the test
failed half-way: teardown runs the same cleanup as `kstore down`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from kstore.supervisor import cleanup

log = logging.getLogger(__name__)


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # "kstore" in the path lets a leak check (`findmnt | grep kstore`) spot what a test left
    path = tmp_path_factory.mktemp("kstore-") / "state"
    path.mkdir()
    try:
        yield path
    finally:
        report = cleanup.down(path)
        for line in report.lines():
            log.warning("state_dir teardown: %s", line)
