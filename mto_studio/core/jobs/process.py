"""The ``process`` backend: a job (a generator of events, named by ``JobSpec.target``) runs in a worker process of
its own, spawned (never forked: torch and Qt threads do not survive a fork). Events come back over one pipe, in
order; commands (Stop/Pause/Resume) go over another, so the job protocol is the one the thread backend speaks.

The calling side is itself an event generator (:func:`run_in_process`), so the CLI's ``drive`` and the GUI's
worker thread iterate it exactly as they iterate a job in their own process; the thread that does so spends its
time blocked on the pipe, without the GIL. When the worker dies before its last event (killed, out of memory, a
native crash) the generator raises :class:`WorkerLostError` naming how it died; the caller marks the run
interrupted (see ``mto_studio.core.training.jobs``)."""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import pickle
import queue
import signal
import socket
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import Command, Event, EventStream, Pause, Paused, Resume, Stop, WorkerStarted

#: how long ending a worker waits after SIGTERM before SIGKILL
TERMINATE_WAIT_S = 5.0


@dataclass(frozen=True)
class JobSpec:
    """What a worker runs: ``target`` ("package.module:function") called with ``kwargs`` returns the job's event
    generator. Everything here is pickled to the worker, so it holds plain data (dicts, strings, paths)."""

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "job"
    #: torch/OpenMP threads in the worker (set before torch is imported); None: the job's own setting
    threads: int | None = None
    #: the run this job executes, when it is one run of a sweep ("" for a whole job)
    run_id: str = ""
    #: extra environment variables for the worker
    env: dict[str, str] = field(default_factory=dict)
    #: GPUs a Ray task reserves: 0, 1 (the job asked for CUDA), or None: one if the cluster has any ("auto")
    gpus: float | None = 0


def load_target(target: str) -> Callable[..., EventStream]:
    module, _, name = target.partition(":")
    if not module or not name:
        raise ValueError(f"job target '{target}' is not 'package.module:function'")
    return getattr(importlib.import_module(module), name)


def run_inline(spec: JobSpec) -> EventStream:
    """The ``thread`` backend's view of a spec: the job itself, in the calling thread."""
    return load_target(spec.target)(**spec.kwargs)


class WorkerLostError(MtoError):
    """The worker process ended without finishing its job (killed, out of memory, a crash)."""

    def __init__(self, message: str, hint: str = "", *, exitcode: int | None = None, last: Event | None = None):
        super().__init__(message, hint)
        self.exitcode = exitcode
        self.last = last


def describe_exit(exitcode: int | None) -> str:
    """How a worker ended, in words a user can act on."""
    if exitcode is None:
        return "the worker process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if name == "SIGKILL":
            return "the worker process was killed (SIGKILL: the system's out-of-memory killer, or a kill -9)"
        if name == "SIGSEGV":
            return "the worker process crashed (SIGSEGV: a fault in native code such as torch or a GPU driver)"
        return f"the worker process was ended by {name}"
    return f"the worker process exited with code {exitcode} before the job finished"


def run_in_process(spec: JobSpec) -> EventStream:
    """Run ``spec`` in a spawned worker and relay its events; commands sent in go to the worker (it acts on them
    between steps, as a job in this process would). The first event is WorkerStarted (where it runs). Closing this
    generator (an abort) ends the worker: SIGTERM, then SIGKILL; its last periodic checkpoint stays valid."""
    context = mp.get_context("spawn")
    events_in, events_out = context.Pipe(duplex=False)
    commands_in, commands_out = context.Pipe(duplex=False)
    process = context.Process(
        target=_worker_main, args=(spec, events_out, commands_in), name=f"mto-{spec.name}", daemon=False
    )
    process.start()
    events_out.close()  # only the worker writes events: when it dies, reading ends with EOF
    commands_in.close()
    sent: Command | None = None
    last: Event | None = None
    try:
        command = yield WorkerStarted("process", socket.gethostname(), process.pid or 0, spec.run_id)
        while True:
            if command is not None and type(command) is not type(sent):
                try:
                    commands_out.send(command)
                    sent = command
                except OSError:
                    pass  # the worker is gone; reading says how
            try:
                kind, payload = events_in.recv()
            except (EOFError, OSError):
                process.join(TERMINATE_WAIT_S)
                raise WorkerLostError(
                    describe_exit(process.exitcode),
                    "the run is interrupted; resume it from its last checkpoint",
                    exitcode=process.exitcode,
                    last=last,
                ) from None
            if kind == "event":
                last = payload
                command = yield payload
            elif kind == "return":
                process.join(TERMINATE_WAIT_S)
                return payload
            else:
                raise _rebuilt_error(payload)
    finally:
        _end(process)
        for end in (events_in, commands_out):
            end.close()


def _end(process) -> None:
    if process.is_alive():
        process.terminate()
        process.join(TERMINATE_WAIT_S)
    if process.is_alive():
        process.kill()
        process.join(TERMINATE_WAIT_S)


# --- the worker's side -------------------------------------------------------------------------------------------
def _worker_main(spec: JobSpec, events_out, commands_in) -> None:
    """The worker process: run the job, send every event, take commands between them. Ctrl-C in a terminal reaches
    the whole process group; the worker ignores it (the parent turns it into Stop, as for a job of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.threads:
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[key] = str(spec.threads)
    os.environ.update(spec.env)
    from mto_studio.core.runtime import prepare_environment

    prepare_environment()
    _thread_lock_for_tqdm()
    commands: queue.Queue[Command] = queue.Queue()
    gone = threading.Event()

    def read_commands() -> None:
        while True:
            try:
                commands.put(commands_in.recv())
            except (EOFError, OSError):  # the parent is gone: end resumably, as after Stop
                gone.set()
                commands.put(Stop())
                return

    threading.Thread(target=read_commands, name="mto-commands", daemon=True).start()

    def send(message: tuple[str, Any]) -> None:
        if gone.is_set():
            return
        try:
            events_out.send(message)
        except OSError:
            gone.set()
            commands.put(Stop())

    try:
        send(("return", _drive(load_target(spec.target)(**spec.kwargs), send, commands)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent, typed where possible
        send(("error", _portable(exc)))
    finally:
        events_out.close()


def _thread_lock_for_tqdm() -> None:
    """tqdm's default lock is a multiprocessing semaphore: a worker killed while holding one makes the parent's
    resource tracker warn of a leaked semaphore at exit. A worker's bars never share a terminal: a thread lock does."""
    try:
        from tqdm import tqdm
    except ImportError:
        return
    tqdm.set_lock(threading.RLock())


def _drive(generator: EventStream, send: Callable[[tuple[str, Any]], None], commands: queue.Queue[Command]) -> Any:
    """Iterate the job. Commands are sticky, as in the thread backend: Stop goes in with every later event, Pause
    until the job says Paused; a paused job waits for the next command."""
    sticky = StickyCommands(commands)
    command: Command | None = None
    while True:
        try:
            item = generator.send(command)
        except StopIteration as stop:
            return stop.value
        send(("event", item))
        command = sticky.next_command(sticky.take(item))


class StickyCommands:
    """The commands a job driven from another thread or process receives, as a job driven in a thread does: Stop
    goes in with every later event, Pause until the job says Paused, and a paused job waits for the next command.
    ``inbox`` holds the commands as they arrive (other items in it are the caller's business)."""

    def __init__(self, inbox: queue.Queue[Any]) -> None:
        self.inbox = inbox
        self.stopping = self.pausing = False

    def take(self, event: object) -> list[Any]:
        """Everything waiting after ``event``; after Paused, wait for at least one item."""
        taken: list[Any] = []
        if isinstance(event, Paused):
            self.pausing = False
            if not self.stopping:
                taken.append(self.inbox.get())  # a paused job waits here for Resume or Stop
        while not self.inbox.empty():
            taken.append(self.inbox.get_nowait())
        return taken

    def next_command(self, taken: list[Any]) -> Command | None:
        """The command to send with the job's next step."""
        resume = False
        for one in taken:
            if isinstance(one, Stop):
                self.stopping, self.pausing = True, False
            elif isinstance(one, Pause):
                self.pausing = True
            elif isinstance(one, Resume):
                self.pausing, resume = False, True
        return Stop() if self.stopping else Pause() if self.pausing else Resume() if resume else None


def _portable(exc: BaseException) -> tuple[bytes | None, str, str]:
    """The exception as pickled bytes when it survives the round trip, with its type and text either way."""
    text = "".join(traceback.format_exception(exc))
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
    except Exception:  # noqa: BLE001 - an exception that does not pickle travels as text
        data = None
    return data, f"{type(exc).__module__}.{type(exc).__qualname__}", text


def _rebuilt_error(payload: tuple[bytes | None, str, str]) -> BaseException:
    data, kind, text = payload
    if data is not None:
        error = pickle.loads(data)
        if isinstance(error, BaseException):
            if not isinstance(error, MtoError):
                error.add_note(f"in the worker process:\n{text}")
            return error
    return RuntimeError(f"{kind} in the worker process:\n{text}")
