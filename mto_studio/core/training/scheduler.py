"""Several runs of an experiment at once: each run is a job (``train_spec``) executed by a backend (a spawned worker
process, a Ray task, or a thread for tests); a relay thread per run iterates its event stream and puts each event
on one queue, and the experiment's generator (the driver) takes them off in arrival order. Only the driver thread
touches the run store (a SQLite connection belongs to its thread) and the consumer: it records each run's events,
yields them, and forwards the consumer's commands to every active run."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import threading
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import DiskFullError, NotEnoughSpaceError, is_disk_full, mentions_disk_full
from mto_studio.core.jobs.backends import Backend, run_job
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    Command,
    Event,
    EventStream,
    Pause,
    Paused,
    Resume,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    TableUpdated,
    WorkerLost,
    WorkerStarted,
)
from mto_studio.core.jobs.process import StickyCommands, WorkerLostError
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import FolderBusyError, RunStore
from mto_studio.core.store.recording import RunRecorder
from mto_studio.core.store.run_folder import RunFolder
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.core.training.experiment_outputs import (
    PlannedRun,
    current_tables,
    disk_full_reason,
    record_failure,
    unless_disk_full,
)

#: how often a Ray run whose worker or node died is started (again from its last checkpoint) before it counts as lost
RAY_ATTEMPTS = 3
#: how long closing the scheduler waits for the relay threads after ending their workers
ABORT_WAIT_S = 10.0

EVENT, END, ERROR = "event", "end", "error"
_ABORT = object()  # put in a relay's command queue: close the job at once


class RunScheduler:
    """Runs event streams in relay threads. ``next()`` returns ``(key, kind, payload)`` in arrival order: an
    "event", the stream's "end", or an "error" (the exception it raised). ``command`` forwards Stop, Pause and
    Resume to every active stream, each at that stream's next event, with the sticky semantics of a job driven in
    a thread (Stop goes in with every later event, Pause until the job says Paused, a paused job waits for the
    next command)."""

    def __init__(self) -> None:
        self.out: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self.commands: dict[str, queue.Queue[Any]] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.workers: dict[str, WorkerStarted] = {}

    @property
    def active(self) -> list[str]:
        return list(self.threads)

    def launch(self, key: str, stream: EventStream) -> None:
        commands: queue.Queue[Any] = queue.Queue()
        thread = threading.Thread(
            target=_relay, args=(key, stream, commands, self.out), name=f"mto-relay-{key}", daemon=True
        )
        self.commands[key], self.threads[key] = commands, thread
        thread.start()

    def command(self, command: Command, keys: list[str] | None = None) -> None:
        for key in self.active if keys is None else keys:
            self.commands[key].put(command)

    def next(self) -> tuple[str, str, Any]:
        key, kind, payload = self.out.get()
        if isinstance(payload, WorkerStarted):
            self.workers[key] = payload
        if kind in (END, ERROR):
            self.threads.pop(key).join(ABORT_WAIT_S)
            self.commands.pop(key)
            self.workers.pop(key, None)
        return key, kind, payload

    def abort(self) -> None:
        """End every active job now (the consumer went away, a second Ctrl-C, an error): a worker process is
        terminated (its last periodic checkpoint stays valid), a thread job is closed at its next event."""
        for key in self.active:
            self.commands[key].put(_ABORT)
            worker = self.workers.get(key)
            if worker is not None and worker.backend == "process" and worker.host == socket.gethostname():
                with contextlib.suppress(OSError):  # a relay blocked on the worker's pipe wakes when it ends
                    os.kill(worker.pid, signal.SIGTERM)
        for thread in self.threads.values():
            thread.join(ABORT_WAIT_S)
        self.threads.clear()
        self.commands.clear()


def _relay(key: str, stream: EventStream, commands: queue.Queue[Any], out: queue.Queue[tuple[str, str, Any]]) -> None:
    sticky = StickyCommands(commands)
    command: Command | None = None
    try:
        while True:
            try:
                event = next(stream) if command is None else stream.send(command)
            except StopIteration:
                out.put((key, END, None))
                return
            out.put((key, EVENT, event))
            taken = sticky.take(event)
            if any(one is _ABORT for one in taken):
                stream.close()
                out.put((key, END, None))
                return
            command = sticky.next_command(taken)
    except BaseException as exc:  # noqa: BLE001 - the driver decides what a job's failure means
        out.put((key, ERROR, exc))


@dataclass
class ExperimentRuns:
    """What the scheduled runs of one experiment share with it."""

    cfg: ExperimentConfig
    folder: Path
    runs: list[TrainConfig]
    store: RunStore | None
    experiment_id: int


@dataclass
class _Run:
    planned: PlannedRun
    recorder: RunRecorder | None
    attempt: int = 1
    step: int = 0
    paused: bool = False
    started: bool = False  # its RunStarted came (its setup, model loading included, is done)
    ended: Event | None = None
    disk_full: DiskFullError | None = None
    config: dict[str, Any] = field(default_factory=dict)


def run_threads(cfg: TrainConfig, parallel: int) -> int:
    """Torch threads for one of ``parallel`` concurrent runs: the run's own setting (else this machine's cores)
    split between them."""
    from mto_studio.core.training.precision import available_cores

    return max(1, (cfg.threads or available_cores()) // parallel)


def run_scheduled(
    ctx: ExperimentRuns, plan: list[PlannedRun], *, parallel: int | None, backend: str, cluster: str | None
) -> Generator[Event, Command | None, tuple[str, int]]:
    """The experiment's runs on ``backend``, up to ``parallel`` at once (see ``run_experiment``). Yields the runs'
    events (and RunQueued, TableUpdated, WorkerLost); returns the experiment's (status, failed runs)."""
    from mto_studio.core.training.jobs import train_spec

    kind = Backend.parse(backend)
    total = len(plan)
    if parallel is None:
        from mto_studio.core.training.precision import available_cores

        parallel = total if kind is Backend.RAY else available_cores()
    attempts = RAY_ATTEMPTS if kind is Backend.RAY else 1
    pending: deque[PlannedRun] = deque()
    for planned in plan:
        if RunFolder(planned.folder).status() is RunStatus.FINISHED:
            yield planned.queued(ctx.experiment_id, total, skipped=True)
        else:
            pending.append(planned)
    scheduler = RunScheduler()
    runs: dict[str, _Run] = {}
    failed, stopping, pausing, out_of_space, any_stopped = 0, False, False, False, False
    lost: WorkerLost | None = None

    def start(run: _Run) -> None:
        spec = train_spec(run.config, run.planned.folder, resume="auto", run_id=run.planned.folder.name,
                          threads=run.config["threads"])  # fmt: skip
        scheduler.launch(run.planned.folder.name, run_job(spec, kind, cluster=cluster))

    def take(command: Command | None) -> None:
        nonlocal stopping, pausing
        if isinstance(command, Stop) and not stopping:
            stopping, pausing = True, False
            scheduler.command(Stop())
        elif isinstance(command, Pause) and not pausing and not stopping:
            pausing = True
            scheduler.command(Pause())
        elif isinstance(command, Resume) and pausing:
            pausing = False
            scheduler.command(Resume())

    def stop_all() -> None:
        nonlocal stopping, pausing
        if not stopping:
            stopping, pausing = True, False
            scheduler.command(Stop())

    def record(run: _Run, event: Event) -> None:
        nonlocal out_of_space
        if run.recorder is None or run.disk_full is not None:
            return
        try:
            run.recorder.record(event)
        except DiskFullError as full:  # the run store's disk is full: every run stops; this one ends failed
            run.disk_full, out_of_space = full, True
            stop_all()

    def starting() -> bool:
        """On the thread backend a run starts once the one before it has set up: two threads importing the
        libraries' lazily loaded classes at once can see them half-made."""
        return kind is Backend.THREAD and any(not r.started for r in runs.values())

    def paused_together() -> Generator[Event, Command | None, None]:
        """Once every active run has paused: one Paused for the consumer, which answers Resume or Stop."""
        held = [runs[k] for k in scheduler.active]
        if not pausing or not all(r.paused for r in held):
            return
        command = yield Paused(held[0].planned.folder.name if held else "", held[0].step if held else 0)
        if command is None or isinstance(command, Resume):
            take(Resume())
            return
        take(command)

    try:
        while True:
            while pending and not stopping and not pausing and len(scheduler.active) < parallel and not starting():
                planned = pending.popleft()
                take((yield planned.queued(ctx.experiment_id, total)))
                if stopping:
                    pending.appendleft(planned)
                    break
                config = planned.cfg.replace(threads=run_threads(planned.cfg, parallel)).to_dict()
                recorder = None
                if ctx.store is not None:
                    recorder = RunRecorder(ctx.store, planned.folder, name=planned.cfg.label,
                                           experiment_id=ctx.experiment_id, config=config)  # fmt: skip
                run = runs[planned.folder.name] = _Run(planned, recorder, config=config)
                start(run)
            if not scheduler.active:
                if pausing and pending:
                    yield from paused_together()
                    continue
                break
            key, what, payload = scheduler.next()
            run = runs[key]
            if what == EVENT:
                event = payload
                if isinstance(event, WorkerStarted) and run.attempt > 1:
                    event = replace(event, attempt=run.attempt)
                record(run, event)
                if isinstance(event, RunStarted):
                    run.step, run.started = event.resumed_from, True
                elif isinstance(event, StepLogged | CheckpointSaved):
                    run.step = event.step
                elif isinstance(event, RunFinished | RunFailed):
                    run.ended, run.started = event, True
                    any_stopped |= isinstance(event, RunFinished) and event.status == "stopped"
                    if isinstance(event, RunFailed):
                        failed += 1
                        if mentions_disk_full(event.reason):
                            out_of_space = True
                            stop_all()
                elif isinstance(event, Resumed):
                    run.paused = False
                if isinstance(event, Paused):
                    run.paused = True
                    if pausing:
                        yield from paused_together()
                        continue
                take((yield event))
            elif what == END:
                del runs[key]
                if run.disk_full is not None:
                    failed += 1
                    reason = disk_full_reason(run.disk_full, run.planned.folder, ctx.store)
                    record_failure(ctx.store, run.planned.folder, run.planned.cfg, ctx.experiment_id, reason,
                                   resumable=True)  # fmt: skip
                    take((yield RunFailed(key, reason, run.step, str(run.planned.folder))))
                elif not (isinstance(run.ended, RunFinished) and run.ended.status == "stopped") and not out_of_space:
                    tables, finished = current_tables(ctx.cfg, ctx.folder, ctx.runs)
                    take((yield TableUpdated(ctx.experiment_id, tuple(tables), finished, len(ctx.runs))))
                yield from paused_together()
            else:
                exc = payload
                if isinstance(exc, WorkerLostError):
                    if run.attempt < attempts and not stopping:
                        run.attempt += 1  # on Ray: again, from the run's last checkpoint, wherever Ray places it
                        start(run)
                        continue
                    del runs[key]
                    if run.recorder is not None:
                        unless_disk_full(
                            partial(run.recorder.set_status, RunStatus.INTERRUPTED, f"{exc.message}; {exc.hint}")
                        )
                    lost = WorkerLost(f"{exc.message}; {exc.hint}", exc.exitcode, key, str(run.planned.folder),
                                      run.step)  # fmt: skip
                    stop_all()  # the others stop resumably: the experiment ends 'interrupted'
                    take((yield lost))
                    continue
                if isinstance(exc, FolderBusyError) or not isinstance(exc, MtoError):
                    raise exc
                del runs[key]
                failed += 1
                full = isinstance(exc, NotEnoughSpaceError) or is_disk_full(exc)
                reason = exc.one_line()
                if full and not isinstance(exc, NotEnoughSpaceError):
                    reason = disk_full_reason(exc, run.planned.folder, ctx.store)
                record_failure(ctx.store, run.planned.folder, run.planned.cfg, ctx.experiment_id, reason,
                               resumable=full)  # fmt: skip
                if full:
                    out_of_space = True
                    stop_all()
                take((yield RunFailed(key, reason, 0, str(run.planned.folder))))
    finally:
        scheduler.abort()
    if lost is not None:
        return "interrupted", failed
    if out_of_space:
        return "failed", failed
    return ("stopped" if pending or any_stopped else "finished"), failed
