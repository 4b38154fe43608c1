"""Closing the window never hangs or aborts: a job that does not stop in time is left to the end of the process,
which then leaves at once instead of letting Qt abort on a running QThread."""

import threading

import pytest

pytest.importorskip("PySide6")

from mto_studio.core.jobs.events import Progress  # noqa: E402
from mto_studio.gui import jobs  # noqa: E402
from mto_studio.gui.workers import Worker  # noqa: E402


def deaf_for(gate: threading.Event):
    yield Progress("slow", 0, 1)
    gate.wait(10)  # one long step that cannot see the Stop
    yield Progress("slow", 1, 1)


def test_a_job_that_does_not_stop_in_time_is_left_to_process_exit(qtbot, monkeypatch):
    registered, exits = [], []
    monkeypatch.setattr(jobs.atexit, "register", registered.append)
    monkeypatch.setattr(jobs.os, "_exit", exits.append)
    gate = threading.Event()
    worker = Worker(lambda: deaf_for(gate), name="slow")
    events = []
    worker.emitted.connect(events.append)
    worker.start()
    qtbot.waitUntil(lambda: bool(events), timeout=5000)
    assert jobs.stop_and_wait(worker, timeout_ms=100) is False
    assert len(registered) == 1, "an exit hook takes over"
    registered[0]()
    assert exits == [0], "at interpreter exit, a job still running makes the process leave at once"
    gate.set()
    assert worker.wait(5000)
    registered[0]()
    assert exits == [0], "a job that ended meanwhile changes nothing"


def test_a_job_that_stops_is_awaited(qtbot):
    gate = threading.Event()
    gate.set()
    worker = Worker(lambda: deaf_for(gate), name="quick")
    worker.start()
    assert jobs.stop_and_wait(worker, timeout_ms=5000) is True and worker.is_finished
    assert jobs.stop_and_wait(None) is True
