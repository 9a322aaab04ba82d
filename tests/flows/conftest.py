"""One Prefect test harness (a temporary API server) for the whole session's flow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    # Imported here so that a broken Prefect server install fails the flow tests, not collection.
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
