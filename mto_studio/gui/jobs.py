"""Training jobs as Worker generators (they run in the worker's thread), and the registry of run folders this
app's workers are training, which the Runs view leaves alone when it marks dead runs interrupted."""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from mto_studio.gui.workers import LIBRARY_LOCK

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


def experiment_job(cfg, folder: str | Path, store_path: str | Path, *, resume: bool = False):
    """run_experiment in a worker thread, recording into the run store at ``store_path`` (opened here: a SQLite
    connection belongs to the thread that made it). Commands sent to the worker go through to the experiment."""
    import_libraries()
    from mto_studio.core.store import RunStore
    from mto_studio.core.training.experiment import run_experiment

    store = RunStore(store_path)
    try:
        with SWITCH_INTERVAL:
            return (yield from run_experiment(None if resume else cfg, folder, store=store, resume=resume))
    finally:
        store.close()


def pretrain_job(cfg, out_dir: str | Path, *, resume: bool = False):
    """The Objective Lab's pre-training in a worker thread."""
    import_libraries()
    from mto_studio.core.pretraining.objective_lab import pretrain

    with SWITCH_INTERVAL:
        return (yield from pretrain(cfg, out_dir, resume=resume))


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
