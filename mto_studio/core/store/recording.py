"""A run's events passed through while each is recorded in the run store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from mto_studio.core.fsio import DiskFullError
from mto_studio.core.jobs.events import Event, EventStream, WorkerStarted
from mto_studio.core.store.sqlite import RunStore


def _each_recorded(events: EventStream, record: Callable[[Event], None]) -> EventStream:
    """Pass a run's events through, calling ``record`` on each; commands sent in go through to the run. When the
    store's disk is full the run is told (it ends failed, its checkpoint intact); its last events are recorded
    where space allows."""
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            return
        try:
            record(event)
        except DiskFullError as full:
            try:
                event = events.throw(full)
                while True:
                    with suppress(DiskFullError):  # the reason is stored where space allows
                        record(event)
                    yield event
                    event = next(events)
            except (StopIteration, DiskFullError):
                return
        command = yield event


def recorded(events: EventStream, store: RunStore, run_id: int) -> EventStream:
    """Pass a run's events through, recording each in ``store``; commands sent in go through to the run."""
    return _each_recorded(events, lambda event: store.record(run_id, event))


class RunRecorder:
    """Records one run's events in the store from the thread that owns ``store`` (a SQLite connection belongs to
    its thread), without wrapping the run's generator: a scheduler that relays several runs calls ``record`` for
    each event it receives. The run's row is made (``upsert_run``) at its first event that says the run has begun
    (not at WorkerStarted, which comes before the run has locked its folder and checked its setup), so a refused or
    invalid run writes nothing to the store."""

    def __init__(
        self,
        store: RunStore,
        folder: str | Path,
        *,
        name: str,
        experiment_id: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.folder = folder
        self.name = name
        self.experiment_id = experiment_id
        self.config = config
        self.run_id: int | None = None

    def row(self) -> int:
        """The run's row id, made now if it has none yet."""
        if self.run_id is None:
            self.run_id = self.store.upsert_run(
                self.folder, name=self.name, experiment_id=self.experiment_id, config=self.config
            )
        return self.run_id

    def record(self, event: Event) -> None:
        if self.run_id is None and isinstance(event, WorkerStarted):
            return  # where the run executes is no row's business until the run itself has begun
        self.store.record(self.row(), event)

    def set_status(self, status: str, reason: str | None = None) -> None:
        """A status the run could not report itself (e.g. 'interrupted' when its worker died); only for a run that
        has a row."""
        if self.run_id is not None:
            self.store.set_run_status(self.run_id, status, reason)


def recorded_run(
    events: EventStream,
    store: RunStore,
    folder: str | Path,
    *,
    name: str,
    experiment_id: int | None = None,
    config: dict[str, Any] | None = None,
) -> EventStream:
    """``recorded`` for a run whose row is made only when its first event arrives (see :class:`RunRecorder`)."""
    recorder = RunRecorder(store, folder, name=name, experiment_id=experiment_id, config=config)
    return _each_recorded(events, recorder.record)
