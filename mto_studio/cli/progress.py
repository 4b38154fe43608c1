"""Drive an event generator from the terminal: a progress bar with ETA; Ctrl-C (or SIGTERM) stops the work at its
next event (checkpoint, status 'stopped', exit 130), a second one aborts at once."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

from mto_studio.core.jobs.events import (
    CheckpointSaved,
    Command,
    EvalDone,
    Event,
    EventStream,
    ExperimentFinished,
    ExperimentStarted,
    RunFailed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    Stop,
    TableUpdated,
    WorkerLost,
    WorkerStarted,
)

#: exit codes of the commands that drive work: done, the run failed (its reason stored), interrupted (resumable)
EXIT_DONE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class EventPrinter:
    """Consumes events: JSON lines (``as_json``) or a tqdm bar over all steps plus one line per milestone."""

    def __init__(self, as_json: bool = False, total_steps: int | None = None, unit: str = "step") -> None:
        self.as_json = as_json
        self.bar = None
        self.total_steps = total_steps
        self.unit = unit
        #: steps done per run (keyed by run id): runs of a parallel sweep interleave; the bar shows their sum
        self.done: dict[str, int] = {}
        self.totals: dict[str, int] = {}
        self.last: dict = {}
        #: the WorkerLost events seen (the command says what to do about them once the work has ended)
        self.lost: list[WorkerLost] = []

    def _advance(self, run_id: str, steps: int) -> None:
        self.done[run_id] = steps
        bar = self._bar()
        bar.n = sum(self.done.values())

    def _bar(self):
        if self.bar is None and not self.as_json:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total_steps,
                unit=self.unit,
                dynamic_ncols=True,
                file=sys.stderr,
                smoothing=0.1,
                mininterval=0.5,
            )
        return self.bar

    def note(self, text: str) -> None:
        if self.as_json:
            return
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def __call__(self, event) -> None:
        if isinstance(event, WorkerLost):
            self.lost.append(event)
        if self.as_json:
            print(json.dumps(event.to_dict(), default=str, ensure_ascii=False), flush=True)
            return
        if isinstance(event, ExperimentStarted):
            self.note(f"experiment '{event.name}': {event.total_runs} runs → {event.folder}")
        elif isinstance(event, RunQueued):
            word = "done already" if event.skipped else "starting"
            self.note(f"[{event.index + 1}/{event.total}] {event.label} ({word})")
        elif isinstance(event, WorkerStarted):
            who = f"run {event.run_id}" if event.run_id else "the job"
            where = (
                f"on Ray node {event.host} (pid {event.pid})"
                if event.backend == "ray"
                else f"in process {event.pid} on {event.host}"
            )
            again = f" (attempt {event.attempt}, from its last checkpoint)" if event.attempt > 1 else ""
            self.note(f"{who} runs {where}{again}")
        elif isinstance(event, WorkerLost):
            self.note(f"  run {event.run_id or '?'} LOST at step {event.step}: {event.reason}")
        elif isinstance(event, RunStarted):
            self.totals[event.run_id] = event.total_steps
            if self.total_steps is None:
                self.total_steps = event.total_steps
            self._advance(event.run_id, event.resumed_from)
            self._bar().refresh()
            if event.resumed_from:
                self.note(f"resumed at step {event.resumed_from}")
        elif isinstance(event, StepLogged):
            self._advance(event.run_id, event.step)
            bar = self._bar()
            self.last["loss"] = f"{event.loss:.3f}"
            bar.set_postfix(self.last, refresh=False)
            bar.refresh()
        elif isinstance(event, EvalDone):
            shown = {
                k: round(v, 3)
                for k, v in event.metrics.items()
                if k in ("accuracy", "accuracy_ranked", "rougeL", "exact_match") or k.endswith("_em")
            }
            self.last[{"validation": "val", "zero-shot": "zs"}.get(event.split, event.split)] = shown.get(
                "accuracy", shown.get("rougeL", next(iter(shown.values()), ""))
            )
            what = (
                f"{event.split} score of the kept weights (step {event.step})"
                if event.final
                else f"{event.split} at step {event.step}"
            )
            self.note(f"  {what}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        elif isinstance(event, CheckpointSaved) and event.reason in ("stop", "final"):
            self.note(f"  saved {event.path}")
        elif isinstance(event, RunFinished):
            if event.status != "stopped":
                self._advance(event.run_id, self.totals.get(event.run_id, event.step))
            shown = {k: round(v, 3) for k, v in event.metrics.items() if isinstance(v, float)}
            scored = f" ({event.score_label})" if event.score_label else ""
            self.note(f"  run {event.status} at step {event.step} in {event.elapsed_s:.0f} s{scored}: {shown}")
        elif isinstance(event, RunFailed):
            self._advance(event.run_id, self.totals.get(event.run_id, event.step))
            self.note(f"  run FAILED: {event.reason}")
        elif isinstance(event, TableUpdated):
            self.note(f"  {event.finished_runs}/{event.total_runs} runs finished; table updated")
        elif isinstance(event, ExperimentFinished):
            self.note(f"experiment {event.status}: report {event.report}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Interrupts:
    """SIGINT (Ctrl-C) and SIGTERM while a job is driven (``with Interrupts() as interrupts:``): the first one only
    sets ``requested``, so the driver sends Stop() at the job's next event (the step ends, a checkpoint is written,
    the run ends 'stopped'); the next one raises KeyboardInterrupt at once. The previous handlers come back on exit.
    A signal the process was started ignoring (a shell's background job) stays ignored."""

    NOTICE = "stopping after the current step (Ctrl-C again aborts at once)…"

    def __init__(self, notice: str = NOTICE) -> None:
        self.notice = notice
        self.received: str | None = None  # the first signal's name, e.g. "SIGINT"
        self._count = 0
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self._count > 0

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self  # Python runs signal handlers in the main thread only; elsewhere the defaults stay
        for name in ("SIGINT", "SIGTERM"):
            number = getattr(signal, name, None)
            if number is None:
                continue
            previous = signal.getsignal(number)
            if previous == signal.SIG_IGN:
                continue
            self._previous[number] = previous
            signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, number: int, frame: object) -> None:
        self._count += 1
        if self._count > 1:
            raise KeyboardInterrupt
        self._tell(signal.Signals(number).name)

    def request(self, why: str) -> None:
        """Ask for a stop as a first signal does (e.g. the reader of our output went away)."""
        if not self._count:
            self._count = 1
            self._tell(why)

    def _tell(self, why: str) -> None:
        self.received = why
        try:  # os.write, not print: the handler may run inside a print to stderr (the progress bar)
            os.write(2, f"\nmto-studio: {why}: {self.notice}\n".encode(errors="replace"))
        except OSError:
            pass


class Printer(Protocol):
    def __call__(self, event: Any) -> None: ...

    def close(self) -> None: ...


def drive(events: EventStream, printer: Printer, interrupts: Interrupts | None = None) -> Event | None:
    """Iterate ``events`` with ``interrupts`` installed (a fresh ``Interrupts`` by default): after the first SIGINT or
    SIGTERM every send is Stop(), so the work ends resumably at its next event; a second signal raises
    KeyboardInterrupt here (the generator is closed first). Returns the last event; whether it is the work's final
    event is for the caller to check (a generator can end without one)."""
    interrupts = interrupts or Interrupts()
    last = None
    command: Command | None = None
    with interrupts:
        try:
            while True:
                try:
                    event = events.send(command)
                except StopIteration:
                    break
                last = event
                try:
                    printer(event)
                except BrokenPipeError:  # e.g. `--json | head`: the work stops resumably, as after a Ctrl-C
                    printer = _Silent(printer)
                    silence_stdout()
                    interrupts.request("output closed")
                command = Stop() if interrupts.requested else None
        except BaseException:
            events.close()
            raise
        finally:
            printer.close()
    return last


class _Silent:
    """A printer whose output has gone: prints nothing; closing still closes the original (its bar)."""

    def __init__(self, printer: Printer) -> None:
        self.printer = printer

    def __call__(self, event: Any) -> None:
        pass

    def close(self) -> None:
        try:
            self.printer.close()
        except BrokenPipeError:
            pass


def silence_stdout() -> None:
    """Point stdout at the null device, so nothing more (not even the flush at exit) hits the closed pipe."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def say(text: str) -> None:
    """One line for the user on stderr (stdout stays for results and --json events)."""
    print(f"mto-studio: {text}", file=sys.stderr, flush=True)


def resume_hint(*words: object) -> str:
    """A shell command line, each argument quoted where it needs to be."""
    return " ".join(shlex.quote(str(w)) for w in words)


def mark_aborted(store_path: str | Path, *, run_id: int | None = None, experiment_id: int | None = None) -> bool:
    """After an abort: the run ``run_id`` (or the experiment's runs, and the experiment) left 'running' become
    'interrupted', through a fresh connection (a write the abort cut short dies with the old one). Returns False
    when the store could not be written (the next open marks dead runs instead)."""
    import sqlite3

    from mto_studio.core.errors import MtoError
    from mto_studio.core.jobs.status import RunStatus
    from mto_studio.core.store import RunStore

    reason = "aborted by a second interrupt; resume it from its last checkpoint"
    try:
        with RunStore(store_path) as store:
            rows = [store.run(run_id)] if run_id is not None else []
            if experiment_id is not None:
                rows += store.runs(experiment_id)
            for row in rows:
                if row.status == RunStatus.RUNNING:
                    store.set_run_status(row.id, RunStatus.INTERRUPTED, reason)
            if experiment_id is not None and store.experiment(experiment_id).status == RunStatus.RUNNING:
                store.set_experiment_status(experiment_id, RunStatus.INTERRUPTED)
    except (MtoError, sqlite3.Error, OSError):
        return False
    return True


def kept_checkpoint(folder: str | Path) -> str:
    """What an aborted run in ``folder`` resumes from, in words."""
    from mto_studio.core.store.checkpoint import latest_checkpoint
    from mto_studio.core.store.run_folder import RunFolder

    found = latest_checkpoint(Path(folder) / RunFolder.CHECKPOINTS)
    if found is None:
        return f"no checkpoint was written in {folder} yet, so it resumes from step 0"
    return f"the checkpoint of step {int(found.name.split('-')[1])} in {folder} stays valid"


def ended_without_result(what: str, last: Event | None, fix: str) -> int:
    """A generator that ended without its final event: never a success (exit 1, naming what was seen last)."""
    seen = f"its last event was {type(last).__name__}" if last is not None else "it sent no event"
    say(f"{what} ended without a result ({seen}); {fix}")
    return EXIT_FAILED


def worker_lost_line(lost: WorkerLost, resume: str) -> str:
    """What to tell the user when a run's worker died: the reason, the run, its last checkpoint, how to resume."""
    run = f"run {lost.run_id}" if lost.run_id else "the run"
    where = kept_checkpoint(lost.folder) if lost.folder else "its folder keeps its last checkpoint"
    reason = lost.reason.split("; ")[0]
    return f"{run} was interrupted at step {lost.step}: {reason}; {where}; resume with: {resume}"
