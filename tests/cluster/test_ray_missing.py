"""Without Ray installed, choosing the Ray backend says how to install it (default suite: no cluster needed)."""

from __future__ import annotations

import pytest

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs import backends
from mto_studio.core.jobs.backends import RAY_INSTALL, run_job
from mto_studio.core.training.jobs import train_spec


def test_the_ray_backend_without_ray_names_the_install(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "ray_available", lambda: False)
    with pytest.raises(ConfigError) as error:
        run_job(train_spec({"steps": 1}, tmp_path / "run"), "ray", cluster="auto")
    assert "needs Ray, which is not installed" in error.value.message
    assert error.value.hint == RAY_INSTALL and 'pip install "mto-studio[cluster]"' in error.value.hint
    assert not (tmp_path / "run").exists()
