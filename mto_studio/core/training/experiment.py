"""Run an experiment (templates × k × seeds × methods, optionally after the adaptation stage) as one generator of
events, recording every run in the store and rebuilding the result table as runs finish. Its runs execute one
after another in this thread, or several at once in worker processes or Ray tasks (``scheduler.py``); what it
writes (tables, plots, report) is in ``experiment_outputs.py``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import DiskFullError, NotEnoughSpaceError, disk_full_error, is_disk_full, mentions_disk_full
from mto_studio.core.jobs.events import (
    EventStream,
    ExperimentFinished,
    ExperimentStarted,
    RunFailed,
    RunFinished,
    Stop,
    TableUpdated,
)
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import FolderBusyError, RunStore, recorded_run
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.training.adaptation import adapt, read_sentences
from mto_studio.core.training.config import Method, TrainConfig
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.core.training.experiment_outputs import (  # noqa: F401 - names callers import from here
    PlannedRun,
    collect_results,
    current_tables,
    disk_full_reason,
    expected_scoring,
    experiment_colours,
    experiment_table,
    record_failure,
    relation_groups,
    relation_kinds,
    run_folder_name,
    unless_disk_full,
    write_outputs,
)

_collect = collect_results  # the demo's name for it

#: how an experiment's runs may execute: "inline" (one after another in this thread), or a backend's name
RUNS_ON = ("inline", "thread", "process", "ray")


def preflight(cfg: ExperimentConfig) -> list[TrainConfig]:
    """Check everything that can be checked before the first run, so a bad grid fails at once (exit 2)."""
    from mto_studio.core.data import sample_heads
    from mto_studio.core.models.loading import resolve_model_ref
    from mto_studio.core.training.data import load_splits
    from mto_studio.core.training.methods import METHODS

    runs = cfg.runs()
    library = TemplateLibrary()
    for name in cfg.templates:
        template = library.get(name)
        library.add(template)
        library.check(template)
        concrete = library.concrete(template)
        for method in cfg.methods:
            METHODS[Method(method)].check_template(template, concrete)
    resolve_model_ref(cfg.model)
    splits = load_splits(cfg.base_train_config())  # all three splits, so a bad file fails before the first run
    for k in {r.shots for r in runs}:
        sample_heads(splits.pool, k, 0)
    if cfg.adaptation.enabled:
        read_sentences(cfg.adaptation.source, 1)
    return runs


def run_experiment(
    cfg: ExperimentConfig | None,
    folder: str | Path,
    *,
    store: RunStore | None = None,
    resume: bool = False,
    parallel: int | None = 1,
    runs_on: str = "inline",
    cluster: str | None = None,
) -> EventStream:
    """Run (or resume) an experiment into ``folder``. Send Stop() to stop after the current step: the current run
    is checkpointed and the experiment can be resumed later. The experiment holds the folder's lock while it runs:
    a second writer gets FolderBusyError (naming the holder) before anything is written.

    How the runs execute: ``runs_on="inline"`` with ``parallel == 1`` (the default) runs them one after another in
    this thread. Otherwise a scheduler (``scheduler.py``) executes each run as a job on the backend ``runs_on``
    ("process": a spawned worker per run; "ray": a Ray task, on ``cluster``; "thread": a thread per run, for
    tests), up to ``parallel`` at once, each with ``max(1, cores // parallel)`` torch threads (cores: the run's
    own ``threads`` or this machine's). ``parallel=None`` means all runs at once: for Ray, which queues tasks by
    the CPUs they ask for (one thread each unless the runs set ``threads``); elsewhere it means this machine's
    cores. Events of concurrent runs arrive interleaved, in arrival order; each run's events are recorded in
    ``store`` from this thread. Stop stops every active run (checkpointed) and starts no new one; Pause pauses them
    all (one Paused event once all are paused) and Resume resumes them. A run whose worker dies: on Ray it starts
    again from its last checkpoint, up to 3 attempts (WorkerStarted says which); otherwise (and after the last
    attempt) the run is 'interrupted' in the store, the other runs stop resumably, a WorkerLost event is yielded
    and the experiment ends 'interrupted' (resume it like a stopped one). The result tables do not depend on how
    the runs executed: they are built from the run folders, and runs are deterministic."""
    if runs_on not in RUNS_ON:
        raise ConfigError(
            f"unknown way to run an experiment's runs: '{runs_on}'", f"choose one of {', '.join(RUNS_ON)}"
        )
    if parallel is not None and parallel < 1:
        raise ConfigError(f"parallel = {parallel} runs at once is not possible", "give 1 or more")
    if runs_on == "inline" and parallel != 1:
        raise ConfigError("parallel runs need the process or ray backend", "choose runs_on='process' or 'ray'")
    with ExperimentFolder(folder).lock():
        return (
            yield from _run_experiment(
                cfg, Path(folder), store=store, resume=resume, parallel=parallel, runs_on=runs_on, cluster=cluster
            )
        )


def _run_experiment(
    cfg: ExperimentConfig | None,
    folder: Path,
    *,
    store: RunStore | None,
    resume: bool,
    parallel: int | None,
    runs_on: str,
    cluster: str | None,
) -> EventStream:
    saved_id = None
    if resume:
        saved = ExperimentFolder(folder).config()
        if "config" not in saved:
            raise ConfigError(
                f"{folder} holds no experiment to resume (no readable {ExperimentFolder.CONFIG})",
                "pick an experiment folder",
            )
        cfg = ExperimentConfig.from_dict(saved["config"])
        saved_id = saved.get("experiment_id")
    if cfg is None:
        raise ConfigError("no experiment configuration given", "pass an ExperimentConfig")
    runs = preflight(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    experiment_id = 0
    if store is not None:
        known = {e.id for e in store.experiments()}
        experiment_id = saved_id if saved_id in known else store.create_experiment(cfg.name, cfg.to_dict(), folder)
        store.set_experiment_status(experiment_id, "running")
    ExperimentFolder(folder).write_config({"experiment_id": experiment_id, "config": cfg.to_dict()})
    yield ExperimentStarted(
        experiment_id, cfg.name, len(runs), str(folder), cfg.to_dict(), tuple(r.label for r in runs)
    )

    def finish(status: str, failed: int = 0, extra: Sequence[str] = ()) -> ExperimentFinished:
        try:
            tables, report = write_outputs(cfg, folder, runs, extra_sections=list(extra))
        except Exception as exc:
            if (full := disk_full_error(exc, "the report")) is None:
                raise
            if store is not None:
                unless_disk_full(lambda: store.set_experiment_status(experiment_id, "failed"))
            raise DiskFullError(
                f"{full.what} in {folder}", folder, "free disk space and resume: the finished runs are kept"
            ) from exc
        if store is not None:
            unless_disk_full(lambda: store.set_experiment_status(experiment_id, status))
        return ExperimentFinished(experiment_id, status, str(folder), str(report), failed)

    model_override = None
    if cfg.adaptation.enabled:
        model_override = yield from adapt(cfg, folder, store, experiment_id)
        if model_override is None:
            yield finish("stopped")
            return
    plan = []
    for index, run_cfg in enumerate(runs):
        if model_override:
            run_cfg = run_cfg.replace(model=model_override)
        plan.append(PlannedRun(index, run_cfg, ExperimentFolder(folder).run(run_folder_name(index, run_cfg)).path))
    if runs_on == "inline":
        status, failed = yield from _run_inline(cfg, folder, runs, plan, store, experiment_id)
    else:
        from mto_studio.core.training.scheduler import ExperimentRuns, run_scheduled

        context = ExperimentRuns(cfg, folder, runs, store, experiment_id)
        status, failed = yield from run_scheduled(context, plan, parallel=parallel, backend=runs_on, cluster=cluster)
    yield finish(status, failed)


def _run_inline(
    cfg: ExperimentConfig,
    folder: Path,
    runs: list[TrainConfig],
    plan: list[PlannedRun],
    store: RunStore | None,
    experiment_id: int,
):
    """The runs one after another in this thread; returns the experiment's (status, failed runs)."""
    from mto_studio.core.training.loop import train

    failed = 0
    for planned in plan:
        run_cfg, run_dir = planned.cfg, planned.folder
        status = RunFolder(run_dir).status()
        if status is RunStatus.FINISHED:
            yield planned.queued(experiment_id, len(plan), skipped=True)
            continue
        resumable = RunFolder(run_dir).is_resumable()
        out_of_space = False
        command = yield planned.queued(experiment_id, len(plan))
        if isinstance(command, Stop):
            return "stopped", failed
        try:
            events = train(None if resumable else run_cfg, run_dir, resume=resumable)
            if store is not None:  # the run's row is made once it has locked its folder
                events = recorded_run(
                    events, store, run_dir, name=run_cfg.label, experiment_id=experiment_id, config=run_cfg.to_dict()
                )
            command = None
            stopped = False
            while True:
                try:
                    event = events.send(command)
                except StopIteration:
                    break
                if isinstance(event, RunFailed):
                    failed += 1
                    out_of_space = mentions_disk_full(event.reason)
                if isinstance(event, RunFinished) and event.status == "stopped":
                    stopped = True
                command = yield event
        except FolderBusyError:
            raise  # another process trains this run now: nothing of its folder or row is ours to write
        except MtoError as exc:
            failed += 1
            out_of_space = isinstance(exc, NotEnoughSpaceError) or is_disk_full(exc)
            reason = exc.one_line()
            if out_of_space and not isinstance(exc, NotEnoughSpaceError):
                reason = disk_full_reason(exc, run_dir, store)
            record_failure(store, run_dir, run_cfg, experiment_id, reason, resumable=out_of_space)
            yield RunFailed(run_dir.name, reason, 0, str(run_dir))
            if not out_of_space:
                continue
        if out_of_space:  # the next runs would fail alike: the experiment ends, resumable once there is room
            return "failed", failed
        if stopped:
            return "stopped", failed
        tables, finished = current_tables(cfg, folder, runs)
        yield TableUpdated(experiment_id, tuple(tables), finished, len(runs))
    return "finished", failed
