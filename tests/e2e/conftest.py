from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.cluster import MANIFESTS, Cluster, started

# Module-level names that stand for files of ../shared/manifests.
_MANIFEST_NAMES = {"MANIFESTS", "EBS", "ROOK", "WEB", "EPHEMERAL_POD"}


@pytest.fixture(autouse=True)
def _needs_manifests(request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, a test that reads ../shared/manifests when that directory is absent
    (CI lays it beside the checkout; a bare clone elsewhere has none)."""
    fn = getattr(request.node, "function", None)
    if fn is not None and _MANIFEST_NAMES & set(fn.__code__.co_names) and not MANIFESTS.is_dir():
        pytest.skip(f"{MANIFESTS} is missing")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One cluster per test module (starting one takes seconds); every test uses its own names."""
    with started(Cluster(tmp_path_factory.mktemp("kstore-e2e-") / "state")) as c:
        yield c
