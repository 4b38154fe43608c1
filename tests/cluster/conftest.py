"""One local Ray cluster (num_cpus=2) for the tests of this folder that ask for it, shut down at the end."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cluster():
    pytest.importorskip("ray")
    from mto_studio.core.jobs import ray_backend

    ray_backend.connect(None, num_cpus=2)
    yield
    ray_backend.shutdown()
