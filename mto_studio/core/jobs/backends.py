"""What executes a job: one protocol (a generator of typed events that takes Stop/Pause/Resume), three backends.

- ``thread``: the job runs in the calling thread (the CLI's main thread, a GUI worker thread): quick analyses
  and tests.
- ``process``: a spawned worker process per job (``mto_studio.core.jobs.process``); the default for training and
  pre-training: a crash, a kill or an out-of-memory in the worker leaves the app or CLI standing.
- ``ray``: a Ray task on a cluster (``mto_studio.core.jobs.ray_backend``; the optional extra
  ``mto-studio[cluster]``)."""

from __future__ import annotations

from enum import StrEnum

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import EventStream
from mto_studio.core.jobs.process import JobSpec, run_in_process, run_inline

#: how to get the Ray backend, in the words every refusal uses
RAY_INSTALL = (
    'install the cluster extra: pip install "mto-studio[cluster]", or run on this computer '
    "(the Trainer's 'This computer'; --backend process in the CLI)"
)


class Backend(StrEnum):
    THREAD = "thread"
    PROCESS = "process"
    RAY = "ray"

    @classmethod
    def parse(cls, value: object) -> Backend:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(b.value for b in cls)
            raise ConfigError(f"unknown backend '{value}'", f"choose one of {names}") from None


def default_backend() -> Backend:
    """The backend training and pre-training use unless told otherwise: ``process``, or $MTO_BACKEND (the test
    suite sets ``thread`` for speed: a spawned worker spends seconds importing torch)."""
    import os

    return Backend.parse(os.environ.get("MTO_BACKEND") or Backend.PROCESS.value)


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def require_ray() -> None:
    """ConfigError (exit 2, a dialog) naming how to install Ray when it is not installed."""
    if not ray_available():
        raise ConfigError("the Ray backend needs Ray, which is not installed", RAY_INSTALL)


def run_job(spec: JobSpec, backend: Backend | str, *, cluster: str | None = None) -> EventStream:
    """Execute ``spec`` on ``backend``; the events come back here, and commands sent in go to the job."""
    backend = Backend.parse(backend) if not isinstance(backend, Backend) else backend
    if backend is Backend.THREAD:
        return run_inline(spec)
    if backend is Backend.PROCESS:
        return run_in_process(spec)
    require_ray()
    from mto_studio.core.jobs.ray_backend import run_on_ray

    return run_on_ray(spec, cluster=cluster)
