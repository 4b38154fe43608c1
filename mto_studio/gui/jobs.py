"""Jobs in the GUI: training and pre-training as Worker generators (they run in the worker's thread), the registry
of run folders this app's workers are training (the Runs view leaves them alone when it marks dead runs
interrupted), and the JobController that takes a workbench's job from Start to its end."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from PySide6.QtCore import QObject, QTimer, Signal

from mto_studio.core.jobs.events import Paused, Resumed
from mto_studio.gui.workers import LIBRARY_LOCK, Worker, WorkerSet

#: The GIL switch interval while training runs in a thread of the GUI process (seconds; Python's default is
#: 0.005). The training thread holds the GIL for its Python glue between torch kernels; every time the GUI thread
#: wants it back it may wait up to one interval, and a repaint asks many times. See
#: tests/benchmarks/bench_gui_stall.py for the measurements behind this value.
TRAINING_SWITCH_INTERVAL = 0.001


def import_libraries() -> None:
    """Import what training needs before it starts, never overlapping a datasets call in another worker (see
    LIBRARY_LOCK), then move every object that exists by now out of the garbage collector's sight.

    Both keep the window responsive while training runs in a thread of its process. A module imported lazily in
    mid-run (the first evaluation pulls in rouge_score and nltk; the report at the end, matplotlib) and, above all,
    a full collection of the cyclic garbage collector hold the GIL for their whole duration: with torch,
    transformers, Qt and pyqtgraph loaded the heap holds ~500k objects and a full collection took 220 ms, a
    window freeze each time one triggered (bench_gui_stall.py found them). Frozen objects are the libraries'
    long-lived ones; later full collections only walk what was made since."""
    with LIBRARY_LOCK:
        import datasets  # noqa: F401
        import matplotlib.backends.backend_agg  # noqa: F401 - the experiment's report plots
        import matplotlib.figure  # noqa: F401
        import peft  # noqa: F401
        import rouge_score.rouge_scorer  # noqa: F401 - the first evaluation's metric (imports nltk)
        import safetensors.torch  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    gc.freeze()  # (no gc.collect() first: on this heap it would itself be a 220 ms freeze)


class _SwitchInterval:
    """Shorten the GIL switch interval while at least one training job runs; restore it after the last one."""

    def __init__(self) -> None:
        self.depth = 0
        self.saved = sys.getswitchinterval()
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            if self.depth == 0:
                self.saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self.saved, TRAINING_SWITCH_INTERVAL))
            self.depth += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.depth -= 1
            if self.depth == 0:
                sys.setswitchinterval(self.saved)


SWITCH_INTERVAL = _SwitchInterval()


def job_backend(backend: str | None = None):
    """The backend a training or pre-training job of the app runs on: ``backend`` when given, else the default
    (``process``; $MTO_BACKEND overrides it, the test suite sets ``thread``)."""
    from mto_studio.core.jobs.backends import Backend, default_backend

    return default_backend() if backend is None else Backend.parse(backend)


def _in_app_thread(events):
    """A job that runs in this process (the thread backend): the libraries imported and frozen first, and a short
    GIL switch interval while it runs, so that the window stays responsive. The process backend needs neither:
    the worker thread then waits on a pipe without the GIL, and torch is never imported here."""
    import_libraries()
    with SWITCH_INTERVAL:
        return (yield from events)


def experiment_job(
    cfg, folder: str | Path, store_path: str | Path, *, resume: bool = False, backend=None, **scheduling
):
    """The Trainer's experiment, iterated by its Worker's thread. On the process backend (the default) a spawned
    worker runs it and this generator relays its events (the first: WorkerStarted, where it runs) and the
    Stop/Pause/Resume commands; on the thread backend it runs right here. A worker that dies ends the job with
    WorkerLost, its store rows 'interrupted' (``supervised``). ``scheduling``: how the experiment executes its runs
    (``parallel``, ``runs_on``, ``cluster``: see ``run_experiment``), passed only when not the defaults."""
    from mto_studio.core.jobs.backends import Backend, run_job
    from mto_studio.core.training.jobs import experiment_spec, supervised

    chosen = job_backend(backend)
    config = None if resume or cfg is None else cfg.to_dict()
    spec = experiment_spec(config, folder, store_path, resume=resume, **scheduling)
    events = supervised(run_job(spec, chosen), folder=folder, store_path=store_path)
    return (yield from (_in_app_thread(events) if chosen is Backend.THREAD else events))


def pretrain_job(cfg, out_dir: str | Path, *, resume: bool = False, backend=None):
    """The Objective Lab's pre-training, iterated by its Worker's thread, on the process backend by default (see
    ``experiment_job``); a lost worker ends it with WorkerLost, resumable from its last checkpoint."""
    from mto_studio.core.jobs.backends import Backend, run_job
    from mto_studio.core.pretraining.jobs import pretrain_spec
    from mto_studio.core.training.jobs import supervised

    chosen = job_backend(backend)
    events = supervised(run_job(pretrain_spec(cfg.to_dict(), out_dir, resume=resume), chosen), folder=out_dir)
    return (yield from (_in_app_thread(events) if chosen is Backend.THREAD else events))


#: How long closing the window waits for a training job to checkpoint and end after Stop.
SHUTDOWN_WAIT_MS = 60_000


def stop_and_wait(worker, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
    """Closing the window: send Stop (the job finishes its step, checkpoints and ends 'stopped') and wait for it.
    True when it ended. A job still busy after ``timeout_ms`` (one very long step or evaluation) is left to the end
    of the process: at interpreter exit the process leaves at once instead of letting Qt abort on a QThread that
    still runs; the run then resumes from its last periodic checkpoint, and the next start marks it interrupted."""
    if worker is None or not worker.is_running:
        return True
    worker.stop()
    if worker.wait(timeout_ms):
        return True

    def leave_now() -> None:
        if worker.is_running:
            sys.stderr.write(
                f"MTO Studio: '{worker.name}' did not stop within {timeout_ms // 1000} s; exiting "
                "without waiting (resume it from its last checkpoint)\n"
            )
            sys.stderr.flush()
            os._exit(0)

    atexit.register(leave_now)
    return False


class RunOwners(QObject):
    """Folders (experiments and runs) that a worker of this app is training now; one per StudioContext."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("run-owners")
        self.folders: set[str] = set()

    def claim(self, folders) -> None:
        self.folders |= {str(f) for f in folders}
        self.changed.emit()

    def release(self, folders) -> None:
        self.folders -= {str(f) for f in folders}
        self.changed.emit()

    def touched(self) -> None:
        """Something in the run store changed (a run finished or failed): views that show it may refresh."""
        self.changed.emit()


def run_owners(context: QObject) -> RunOwners:
    """The context's registry, created on first use (a child object, so it lives and dies with the context)."""
    found = context.findChild(RunOwners, "run-owners")
    return found if found is not None else RunOwners(context)


class JobState(StrEnum):
    """Where a workbench's job is; the run controls' buttons follow from it."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSING = "pausing"  # Pause sent, the job has not reached its next step yet
    PAUSED = "paused"
    STOPPING = "stopping"  # Stop sent: the job checkpoints and ends
    CANCELLING = "cancelling"  # Stop sent to a job that cannot pause or resume (the Analyzer)

    @property
    def busy(self) -> bool:
        return self is not JobState.IDLE


class JobClock:
    """Time the job was active in this session (paused time left out) and the steps it trained meanwhile: the rate
    behind an ETA. Steps a resumed job had done before this session do not count."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.active_s = 0.0
        self.since: float | None = None
        self.steps = 0

    def start(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def pause(self) -> None:
        if self.since is not None:
            self.active_s += time.monotonic() - self.since
            self.since = None

    def add_steps(self, steps: int) -> None:
        self.steps += max(0, int(steps))

    def seconds(self) -> float:
        return self.active_s + (time.monotonic() - self.since if self.since is not None else 0.0)

    def rate(self) -> float:
        """Steps per second of active time (0 during the first second: too few steps to say)."""
        active = self.seconds()
        return self.steps / active if active > 1 else 0.0

    def eta_s(self, done: int, total: int) -> float | None:
        rate = self.rate()
        return (total - done) / rate if rate > 0 and done < total else None


@runtime_checkable
class JobHost(Protocol):
    """What a JobController needs of its context (the StudioContext, a sibling module not imported here) besides
    being a QObject: the WorkerSet its jobs run in."""

    workers: WorkerSet


class JobController(QObject):
    """One workbench's job from Start to its end: the worker, the state, the ETA clock, the run folders it claims
    (the Runs view leaves claimed folders alone), and closing the window. Trainer, Objective Lab and Analyzer each
    own one and keep only their event handlers.

    Signals: ``state_changed(JobState)``; ``emitted(object)`` for every event of the job (after Paused/Resumed have
    moved the state); ``failed(BaseException)``; ``ended(Worker)`` when the job is over (state still the last busy
    one; it turns IDLE right after); ``tick()`` every ``tick_ms`` while the job runs (progress and ETA)."""

    state_changed = Signal(object)
    emitted = Signal(object)
    failed = Signal(object)
    ended = Signal(object)
    tick = Signal()

    def __init__(self, context: QObject, name: str, *, pausable: bool = True, tick_ms: int = 200, parent=None) -> None:
        if not isinstance(context, JobHost):
            raise TypeError(f"{name}: the job's context has no WorkerSet")
        super().__init__(parent if parent is not None else context)
        self.context = context
        self.name = name
        self.pausable = pausable
        self.owners = run_owners(context)
        self.worker: Worker | None = None
        self.state = JobState.IDLE
        self.clock = JobClock()
        self.claimed: list[str] = []
        self._timer = QTimer(self)
        self._timer.setInterval(tick_ms)
        self._timer.timeout.connect(self.tick)

    # --- lifecycle -------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self, factory, *, claims=()) -> Worker:
        """Run ``factory()`` (a generator of events) in a worker; ``claims``: folders it trains in."""
        if self.worker is not None:
            raise RuntimeError(f"{self.name}: a job is already running")
        worker = Worker(factory, name=self.name)
        worker.emitted.connect(self._on_event)
        worker.failed.connect(self.failed)
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.worker = worker
        self.clock.reset()
        self.clock.start()
        self.claim(claims)
        self._set_state(JobState.RUNNING)
        self.context.workers.start(worker)
        self._timer.start()
        return worker

    def claim(self, folders) -> None:
        folders = [str(f) for f in folders if str(f) not in self.claimed]
        if folders:
            self.claimed += folders
            self.owners.claim(folders)

    def release(self) -> None:
        if self.claimed:
            self.owners.release(self.claimed)
            self.claimed = []

    def pause(self) -> bool:
        if self.worker is None or not self.pausable or self.state is not JobState.RUNNING:
            return False
        self.worker.pause()
        self._set_state(JobState.PAUSING)
        return True

    def resume(self) -> bool:
        """Continue a paused job (False when there is none: the workbench may then resume from a folder)."""
        if self.worker is None or self.state not in (JobState.PAUSED, JobState.PAUSING):
            return False
        self.worker.resume()
        self._set_state(JobState.RUNNING)
        return True

    def stop(self) -> bool:
        """Stop (a training job checkpoints and ends 'stopped'); a job that cannot pause is cancelled."""
        if self.worker is None or self.state not in (JobState.RUNNING, JobState.PAUSING, JobState.PAUSED):
            return False
        self.worker.stop()
        self._set_state(JobState.STOPPING if self.pausable else JobState.CANCELLING)
        return True

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> None:
        """The window is closing: stop the job and wait for it, bounded so that closing never hangs."""
        if stop_and_wait(self.worker, timeout_ms):
            self.release()
        self._timer.stop()

    def unsaved_line(self, text: str) -> list[str]:
        """``[text]`` while a job runs (what closing the window would do to it), else []."""
        return [text] if self.worker is not None and self.worker.is_running else []

    # --- worker signals (GUI thread) -------------------------------------------------------------------------
    def _set_state(self, state: JobState) -> None:
        self.state = state
        self.state_changed.emit(state)

    def _on_event(self, event) -> None:
        if isinstance(event, Paused) and self.state in (JobState.RUNNING, JobState.PAUSING):
            self.clock.pause()
            self._set_state(JobState.PAUSED)
        elif isinstance(event, Resumed):
            self.clock.start()
            if self.state in (JobState.PAUSED, JobState.PAUSING):
                self._set_state(JobState.RUNNING)
        self.emitted.emit(event)

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self.release()
        self.clock.pause()
        self._timer.stop()
        self.ended.emit(worker)
        self._set_state(JobState.IDLE)
        self.owners.touched()
