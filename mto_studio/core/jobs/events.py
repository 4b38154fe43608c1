"""Typed, frozen events that long-running work (training, pre-training, analysis) yields, and the commands it
accepts between steps through ``generator.send(...)``."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field
from typing import Any


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    name: str
    total_steps: int
    config: dict[str, Any] = field(default_factory=dict)
    folder: str = ""
    resumed_from: int = 0
    time: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepLogged(Event):
    run_id: str
    step: int
    total_steps: int
    loss: float
    lr: float
    examples_seen: int
    tokens_per_s: float
    elapsed_s: float
    losses: dict[str, float] = field(default_factory=dict)  # per objective/stream, when there are several


@dataclass(frozen=True)
class EvalDone(Event):
    run_id: str
    step: int
    examples_seen: int
    metrics: dict[str, float]
    split: str = "validation"
    per_relation: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: tuple[dict[str, Any], ...] = ()
    is_best: bool = False
    #: the run's reported score (the test split, or the selected checkpoint on validation), not a point of the
    #: learning curve: ``step`` is then the step of the weights it scored
    final: bool = False


@dataclass(frozen=True)
class CheckpointSaved(Event):
    run_id: str
    step: int
    path: str
    reason: str = "periodic"  # periodic | stop | best | final


@dataclass(frozen=True)
class Paused(Event):
    run_id: str
    step: int


@dataclass(frozen=True)
class Resumed(Event):
    run_id: str
    step: int


@dataclass(frozen=True)
class RunFinished(Event):
    run_id: str
    status: str  # finished | stopped
    step: int
    metrics: dict[str, float] = field(default_factory=dict)
    folder: str = ""
    elapsed_s: float = 0.0
    #: where ``metrics`` come from: "test", or "validation" when there is no test split
    split: str = ""
    #: e.g. "Test ROUGE-L" or "Validation ROUGE-L (best checkpoint)"
    score_label: str = ""


@dataclass(frozen=True)
class RunFailed(Event):
    run_id: str
    reason: str
    step: int = 0
    folder: str = ""


@dataclass(frozen=True)
class Progress(Event):
    """Generic progress of non-training work (analysis, data preparation)."""

    task: str
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class ExperimentStarted(Event):
    experiment_id: int
    name: str
    total_runs: int
    folder: str
    config: dict[str, Any] = field(default_factory=dict)
    runs: tuple[str, ...] = ()  # run labels in execution order


@dataclass(frozen=True)
class RunQueued(Event):
    """The experiment moves to run ``index`` (0-based) of ``total``."""

    experiment_id: int
    index: int
    total: int
    run_id: str
    label: str
    template: str
    method: str
    shots: str
    seed: int
    skipped: bool = False  # already finished in an earlier session


@dataclass(frozen=True)
class TableUpdated(Event):
    experiment_id: int
    tables: tuple[dict[str, Any], ...]  # ResultTable.to_dict() per relation group
    finished_runs: int
    total_runs: int


@dataclass(frozen=True)
class ExperimentFinished(Event):
    experiment_id: int
    status: str  # finished | stopped
    folder: str
    report: str = ""
    failed_runs: int = 0


@dataclass(frozen=True)
class WorkerStarted(Event):
    """A job (``run_id``: one run of a sweep, or "" for the whole job) began executing somewhere: where each run
    runs, as the CLI and the Trainer show it."""

    backend: str  # thread | process | ray
    host: str
    pid: int
    run_id: str = ""
    attempt: int = 1  # > 1: a lost worker's run, started again from its last checkpoint


@dataclass(frozen=True)
class WorkerLost(Event):
    """The process executing a job died before its final event (killed, out of memory, a native crash): the run is
    ``interrupted``, resumable from its last checkpoint. A terminal event, like RunFinished."""

    reason: str
    exitcode: int | None = None
    run_id: str = ""
    folder: str = ""
    step: int = 0


# --- commands sent into a running generator ------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    pass


@dataclass(frozen=True)
class Stop(Command):
    """Stop after the current step, save a checkpoint, finish with status 'stopped' (resumable)."""


@dataclass(frozen=True)
class Pause(Command):
    """Pause between steps: the generator yields Paused and waits for the next send()/next()."""


@dataclass(frozen=True)
class Resume(Command):
    pass


TERMINAL = (RunFinished, RunFailed, WorkerLost)

#: long-running work: a generator of events that takes a command (or None) at each ``send``
EventStream = Generator[Event, Command | None, None]


def pause_point(
    run_id: str, step: int, command: Command | None
) -> Generator[Paused | Resumed, Command | None, Command | None]:
    """Between steps: while the command is Pause, yield Paused and wait for the next one (``next()`` or
    Resume() continues, after a Resumed event). Use as ``command = yield from pause_point(...)``; returns the
    command still to act on (Stop or None)."""
    while isinstance(command, Pause):
        command = yield Paused(run_id, step)
        if command is None or isinstance(command, Resume):
            command = yield Resumed(run_id, step)
    return command
