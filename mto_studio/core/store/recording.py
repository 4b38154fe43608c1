"""A run's events passed through while each is recorded in the run store."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from mto_studio.core.fsio import DiskFullError
from mto_studio.core.jobs.events import Event, EventStream
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


def recorded_run(
    events: EventStream,
    store: RunStore,
    folder: str | Path,
    *,
    name: str,
    experiment_id: int | None = None,
    config: dict[str, Any] | None = None,
) -> EventStream:
    """``recorded`` for a run whose row is made (``upsert_run``) only when its first event arrives: after the run
    has locked its folder and checked its setup, so a refused or invalid run writes nothing to the store."""
    run_id: int | None = None

    def record(event: Event) -> None:
        nonlocal run_id
        if run_id is None:
            run_id = store.upsert_run(folder, name=name, experiment_id=experiment_id, config=config)
        store.record(run_id, event)

    return _each_recorded(events, record)
