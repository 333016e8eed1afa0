from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from kstore.supervisor import cleanup
from tests.e2e.cluster import KUBECTL, Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster per test module (starting one takes seconds); every test uses its own names."""
    if shutil.which(KUBECTL) is None:
        pytest.skip("kubectl is not installed")
    state = tmp_path_factory.mktemp("kstore-e2e-") / "state"
    c = Cluster(state)
    try:
        c.up()
        yield c
    finally:
        c.down()
        cleanup.down(state)
