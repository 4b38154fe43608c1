"""A run's events passed through while each is recorded in the run store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mto_studio.core.jobs.events import EventStream
from mto_studio.core.store.sqlite import RunStore


def recorded(events: EventStream, store: RunStore, run_id: int) -> EventStream:
    """Pass a run's events through, recording each in ``store``; commands sent in go through to the run."""
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            return
        store.record(run_id, event)
        command = yield event


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
    run_id, command = None, None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            return
        if run_id is None:
            run_id = store.upsert_run(folder, name=name, experiment_id=experiment_id, config=config)
        store.record(run_id, event)
        command = yield event
