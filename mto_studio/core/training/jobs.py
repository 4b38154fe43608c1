"""Training jobs as a backend executes them: targets a worker process (or a Ray task) imports by name and calls
with plain data, and ``supervised``, which turns a worker's death into an interrupted, resumable run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mto_studio.core.jobs.events import EventStream, RunStarted, StepLogged, WorkerLost
from mto_studio.core.jobs.process import JobSpec, WorkerLostError

TRAIN_TARGET = "mto_studio.core.training.jobs:train_job"
EXPERIMENT_TARGET = "mto_studio.core.training.jobs:experiment_job"


def train_job(config: dict[str, Any] | None, folder: str, *, resume: bool | str = False) -> EventStream:
    """One run. ``resume="auto"``: continue from the folder's checkpoint when it has one (a run started again
    after its worker was lost), else start fresh."""
    from mto_studio.core.store.run_folder import RunFolder
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.loop import train

    if resume == "auto":
        resume = RunFolder(Path(folder)).is_resumable()
    cfg = None if resume or config is None else TrainConfig.from_dict(config)
    return (yield from train(cfg, folder, resume=bool(resume)))


def experiment_job(
    config: dict[str, Any] | None, folder: str, store_path: str, *, resume: bool = False, **scheduling: Any
) -> EventStream:
    """An experiment, recording into the run store at ``store_path`` (opened here: a SQLite connection belongs to
    the thread and process that made it). ``scheduling``: how its runs execute (``parallel``, ``runs_on``,
    ``cluster``: see ``run_experiment``); with ``parallel > 1`` this worker starts a worker per run itself."""
    from mto_studio.core.store import RunStore
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    cfg = None if resume or config is None else ExperimentConfig.from_dict(config)
    _end_on_sigterm()
    store = RunStore(store_path)
    try:
        return (yield from run_experiment(cfg, folder, store=store, resume=resume, **scheduling))
    finally:
        store.close()


def _end_on_sigterm() -> None:
    """In a spawned worker (its main thread): SIGTERM (the parent closing the job, e.g. a second Ctrl-C) raises
    KeyboardInterrupt, so the experiment unwinds: the run workers it started are ended with it, its locks released.
    Elsewhere (the thread backend) signal handling stays the caller's."""
    import multiprocessing
    import signal
    import threading

    if multiprocessing.parent_process() is None or threading.current_thread() is not threading.main_thread():
        return

    def interrupted(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)


def train_spec(
    config: dict[str, Any] | None, folder: str | Path, *, resume: bool | str = False, **spec: Any
) -> JobSpec:
    kwargs = {"config": config, "folder": str(folder), "resume": resume}
    return JobSpec(TRAIN_TARGET, kwargs, **{"name": "train", "gpus": wanted_gpus(config), **spec})


def wanted_gpus(config: dict[str, Any] | None) -> float | None:
    """The GPUs a run reserves on a cluster: one for a CUDA device, none for the CPU or MPS, and for "auto" (or a
    resumed run, whose config the worker reads) one when the cluster has any."""
    device = str((config or {}).get("device") or "auto")
    if device == "auto":
        return None
    return 1 if device.startswith("cuda") else 0


def experiment_spec(
    config: dict[str, Any] | None,
    folder: str | Path,
    store_path: str | Path,
    *,
    resume: bool = False,
    **scheduling: Any,
) -> JobSpec:
    kwargs = {"config": config, "folder": str(folder), "store_path": str(store_path), "resume": resume, **scheduling}
    return JobSpec(EXPERIMENT_TARGET, kwargs, name="experiment")


def supervised(events: EventStream, *, folder: str | Path, store_path: str | Path | None = None) -> EventStream:
    """Pass a job's events through (commands go in). When its worker dies, the runs it left 'running' in the store
    (under ``folder``) and the experiment become 'interrupted' with the reason, and the job ends with a
    WorkerLost event naming the run it was training and its last step. Folders need no change: a run folder with
    checkpoints and no result is interrupted by definition, and resumes from its last checkpoint."""
    current_run, current_folder, step = "", str(folder), 0
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration as done:
            return done.value
        except WorkerLostError as lost:
            reason = lost.message
            if store_path is not None:
                mark_lost(store_path, folder, reason)
            yield WorkerLost(f"{reason}; {lost.hint}", lost.exitcode, current_run, current_folder, step)
            return None
        if isinstance(event, RunStarted):
            current_run, current_folder, step = event.run_id, event.folder or current_folder, event.resumed_from
        elif isinstance(event, StepLogged):
            step = event.step
        command = yield event


def mark_lost(store_path: str | Path, folder: str | Path, reason: str) -> int:
    """Rows left 'running' at or under ``folder`` become 'interrupted' with ``reason``; so does an experiment
    there. Returns how many runs. Nothing happens to rows whose folder a live process still holds."""
    from mto_studio.core.jobs.status import RunStatus
    from mto_studio.core.store import RunStore
    from mto_studio.core.store.locks import folder_in_use

    root = Path(folder).absolute()
    marked = 0
    full_reason = f"{reason}; resume it from its last checkpoint"
    with RunStore(store_path) as store:
        for row in store.runs():
            path = Path(row.folder).absolute() if row.folder else None
            if row.status != RunStatus.RUNNING or path is None or folder_in_use(path):
                continue
            if path == root or root in path.parents:
                store.set_run_status(row.id, RunStatus.INTERRUPTED, full_reason)
                marked += 1
        for experiment in store.experiments():
            if (
                experiment.status == RunStatus.RUNNING
                and experiment.folder
                and Path(experiment.folder).absolute() == root
            ):
                store.set_experiment_status(experiment.id, RunStatus.INTERRUPTED)
    return marked
