"""Background workers: run a core event generator (or a plain function) in a QThread, deliver events by signal.

The core's long work is a generator of typed events that accepts commands between steps
(``gen.send(Stop())``, ``Pause()``, ``Resume()``; see ``mto_studio.core.jobs.events``). A :class:`Worker`
iterates such a generator in its own thread and re-emits every event on the GUI thread::

    worker = Worker(lambda: train(cfg), name="train")
    worker.emitted.connect(on_event)          # each yielded event, in order, on the GUI thread
    worker.returned.connect(on_result)      # the generator's return value (or the function's result)
    worker.failed.connect(on_error)         # the exception that ended it
    worker.finished.connect(on_done)        # always last, once
    workers.start(worker)                   # a WorkerSet owns it; workers.stop_all() on close
    worker.stop()                           # sends Stop() at the next step; worker.pause()/resume() likewise

Workers hold no widget references: everything reaches widgets through signals that Qt queues onto the GUI
thread, so only the GUI thread touches widgets.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from mto_studio.core.jobs.events import Command, Pause, Paused, Resume, Stop

GeneratorFactory = Callable[[], Iterator[Any]]

#: Hold this in a worker while importing or running the heavy ML libraries for the first time. Importing
#: transformers in one thread while another runs `datasets` fails at random (datasets probes the half-imported
#: module: "module 'transformers' has no attribute 'PreTrainedTokenizerBase'"), so such steps never overlap.
LIBRARY_LOCK = threading.RLock()


class _GeneratorThread(QThread):
    """Iterates the generator in ``run``; emits from the worker thread, so Qt queues every signal to the Worker
    (which lives in the GUI thread)."""

    emitted = Signal(object)
    returned = Signal(object)
    failed = Signal(object)

    def __init__(self, factory: GeneratorFactory, commands: queue.Queue[Command], ended: threading.Event) -> None:
        super().__init__()
        self._factory = factory
        self._commands = commands
        self._ended = ended

    def _next_command(self, block: bool) -> Command | None:
        try:
            return self._commands.get(block=block)
        except queue.Empty:
            return None

    def run(self) -> None:
        try:
            generator = self._factory()
            command: Command | None = None
            # Commands are sticky, as the CLI's drive() sends them: a generator may ignore what it receives at
            # some events (an experiment between runs, a run's start), so Stop goes in again with every later
            # step, and Pause until the generator says Paused (a Resume or Stop taken first cancels it).
            stopping = False
            pausing = False
            while True:
                try:
                    if command is None or not isinstance(generator, Generator):
                        item = next(generator)
                    else:
                        item = generator.send(command)
                except StopIteration as stop:
                    self.returned.emit(stop.value)
                    break
                self.emitted.emit(item)
                if isinstance(item, Paused):
                    pausing = False
                # A paused generator waits for the next command; otherwise pending commands go in at once.
                taken = self._next_command(block=isinstance(item, Paused))
                if isinstance(taken, Stop):
                    stopping, pausing = True, False
                elif isinstance(taken, Pause):
                    pausing = True
                elif isinstance(taken, Resume):
                    pausing = False
                command = Stop() if stopping else taken or (Pause() if pausing else None)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, never end the thread silently
            self.failed.emit(exc)
        finally:
            self._ended.set()


def _call_as_generator(function: Callable[..., Any], args: tuple, kwargs: dict) -> Iterator[Any]:
    """A generator that yields nothing and returns ``function``'s result."""
    return function(*args, **kwargs)
    yield  # unreachable: makes this a generator function


class Worker(QObject):
    """Runs one generator in a fresh QThread. Signals are emitted on the thread that created the Worker (the GUI
    thread), so slots and lambdas connected to them may touch widgets."""

    emitted = Signal(object)
    returned = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, factory: GeneratorFactory, *, name: str = "worker", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._commands: queue.Queue[Command] = queue.Queue()
        self._ended = threading.Event()
        self._thread = _GeneratorThread(factory, self._commands, self._ended)
        self._thread.setObjectName(f"mto-{name}")
        self._thread.emitted.connect(self._relay_event)
        self._thread.returned.connect(self._relay_returned)
        self._thread.failed.connect(self._relay_failed)
        self._thread.finished.connect(self._on_thread_finished)
        self._started = False
        self._finished_emitted = False
        self.stop_requested = False
        self.result: Any = None
        self.error: BaseException | None = None

    @classmethod
    def call(cls, function: Callable[..., Any], *args: Any, name: str = "task", **kwargs: Any) -> Worker:
        """A worker for a plain function: no events, its result arrives by ``returned``."""
        return cls(lambda: _call_as_generator(function, args, kwargs), name=name)

    # --- control ---------------------------------------------------------------------------------------------
    def start(self) -> Worker:
        if self._started:
            raise RuntimeError(f"worker '{self.name}' was already started")
        self._started = True
        self._thread.start()
        return self

    def send(self, command: Command) -> None:
        """Queue a command for the generator; it receives it after its next event."""
        self._commands.put(command)

    def stop(self) -> None:
        """Ask the generator to stop (it finishes its step, may save, then ends). Plain functions run to the end;
        their result is still delivered, and ``stop_requested`` tells listeners to ignore it."""
        if not self.stop_requested:
            self.stop_requested = True
            self.send(Stop())

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    @property
    def is_running(self) -> bool:
        return self._started and not self._ended.is_set()

    @property
    def is_finished(self) -> bool:
        """True as soon as the generator has ended (before ``finished`` reaches the GUI thread)."""
        return self._ended.is_set()

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Block until the thread has ended (True) or the timeout passed (False)."""
        if not self._started:
            return True
        return self._thread.wait(timeout_ms)

    # --- relays (GUI thread) ------------------------------------------------------------------------------------
    @Slot(object)
    def _relay_event(self, item: Any) -> None:
        self.emitted.emit(item)

    @Slot(object)
    def _relay_returned(self, value: Any) -> None:
        self.result = value
        self.returned.emit(value)

    @Slot(object)
    def _relay_failed(self, exc: BaseException) -> None:
        self.error = exc
        self.failed.emit(exc)

    @Slot()
    def _on_thread_finished(self) -> None:
        if not self._finished_emitted:
            self._finished_emitted = True
            self.finished.emit()


class WorkerSet(QObject):
    """Owns running workers so they are not garbage-collected mid-run, and stops and awaits them on close."""

    active_changed = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._workers: list[Worker] = []

    def start(self, worker: Worker) -> Worker:
        self._workers.append(worker)
        worker.finished.connect(lambda w=worker: self._forget(w))
        worker.start()
        self.active_changed.emit(len(self._workers))
        return worker

    def _forget(self, worker: Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
            self.active_changed.emit(len(self._workers))

    @property
    def active(self) -> list[Worker]:
        return [w for w in self._workers if not w.is_finished]

    def stop_all(self, timeout_ms: int = 15_000) -> bool:
        """Send Stop to every worker and wait for each thread to end; True if all ended in time."""
        workers = list(self._workers)
        for worker in workers:
            worker.stop()
        if timeout_ms <= 0:
            return all(worker.is_finished for worker in workers)
        ended = all(worker.wait(timeout_ms) for worker in workers)
        self._workers = [w for w in self._workers if not w.is_finished]
        return ended
