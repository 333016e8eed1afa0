from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.apistore_proc import ApistoreProcess


@pytest.fixture
def apistore(state_dir: Path) -> Iterator[ApistoreProcess]:
    proc = ApistoreProcess(state_dir)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
