"""Commands reach generators that ignore what they receive at some events: Stop and Pause are sticky, as the
CLI's drive() sends them (an experiment ignores commands between runs; a run ignores them at its start)."""

import pytest

pytest.importorskip("PySide6")

from mto_studio.core.jobs.events import (  # noqa: E402
    Paused,
    Progress,
    Resumed,
    RunFinished,
    Stop,
    pause_point,
)
from mto_studio.gui.workers import Worker  # noqa: E402


def half_deaf(total: int):
    """Every other event ignores the command sent in reply (like ExperimentStarted or TableUpdated)."""
    for step in range(1, total + 1):
        yield Progress("deaf", step, total)  # whatever comes back is dropped
        command = yield Progress("listening", step, total)
        command = yield from pause_point("x", step, command)
        if isinstance(command, Stop):
            yield RunFinished("x", "stopped", step)
            return step
    return total


def test_a_stop_that_lands_on_a_deaf_event_is_sent_again(qtbot):
    worker = Worker(lambda: half_deaf(1000))
    events = []
    worker.emitted.connect(events.append)
    worker.stop()  # queued before the first (deaf) event
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert worker.result == 1 and events[-1] == RunFinished("x", "stopped", 1)


def test_a_pause_that_lands_on_a_deaf_event_still_pauses_then_resumes(qtbot):
    worker = Worker(lambda: half_deaf(3))
    events = []
    worker.emitted.connect(events.append)
    worker.pause()
    worker.start()
    qtbot.waitUntil(lambda: any(isinstance(e, Paused) for e in events), timeout=5000)
    assert [type(e) for e in events].count(Paused) == 1
    worker.resume()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert any(isinstance(e, Resumed) for e in events) and worker.result == 3
    assert [type(e) for e in events].count(Paused) == 1, "a pause is not sent again once it took effect"
