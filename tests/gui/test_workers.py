"""Workers: a core event generator runs in a thread; events, results and failures arrive on the GUI thread; Stop,
Pause and Resume reach the generator between steps."""

import threading

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QThread  # noqa: E402

from mto_studio.core.jobs.events import (  # noqa: E402
    Paused,
    Progress,
    Resumed,
    RunFinished,
    Stop,
    pause_point,
)
from mto_studio.gui.workers import Worker, WorkerSet  # noqa: E402


def counting(total: int, gate: threading.Event | None = None):
    """A core-style generator: one Progress per step, obeys Stop and Pause between steps."""
    step = 0
    while step < total:
        if gate is not None:
            gate.wait(5)
        step += 1
        command = yield Progress("count", step, total)
        command = yield from pause_point("count", step, command)
        if isinstance(command, Stop):
            yield RunFinished("count", "stopped", step)
            return step
    yield RunFinished("count", "finished", step)
    return step


def test_events_arrive_in_order_on_the_gui_thread_then_the_result(qtbot):
    seen, threads = [], set()
    worker = Worker(lambda: counting(5), name="count")
    worker.emitted.connect(lambda event: (seen.append(event), threads.add(QThread.currentThread())))
    with qtbot.waitSignal(worker.finished, timeout=5000):
        with qtbot.waitSignal(worker.returned, timeout=5000) as returned:
            worker.start()
    assert [e.done for e in seen if isinstance(e, Progress)] == [1, 2, 3, 4, 5]
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "finished"
    assert returned.args == [5]
    assert threads == {QThread.currentThread()}, "slots must run on the GUI thread"
    assert worker.wait(1000) and worker.is_finished


def test_stop_is_sent_into_the_generator_between_steps(qtbot):
    gate = threading.Event()
    worker = Worker(lambda: counting(1000, gate))
    events = []
    worker.emitted.connect(events.append)
    worker.start()
    worker.stop()  # queued before the first step finishes
    gate.set()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    assert worker.result == 1
    assert events[-1] == RunFinished("count", "stopped", 1)


def test_pause_waits_for_resume(qtbot):
    gate = threading.Event()
    worker = Worker(lambda: counting(3, gate))
    events = []
    worker.emitted.connect(events.append)
    worker.start()
    worker.pause()
    gate.set()
    qtbot.waitUntil(lambda: any(isinstance(e, Paused) for e in events), timeout=5000)
    assert worker.is_running, "a paused generator waits; the thread stays alive"
    worker.resume()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Paused") < kinds.index("Resumed") < kinds.index("RunFinished")
    assert any(isinstance(e, Resumed) for e in events) and worker.result == 3


def test_failures_and_plain_functions(qtbot):
    def broken():
        yield Progress("x", 1, 2)
        raise ValueError("bad row 7")

    worker = Worker(broken)
    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.start()
    assert isinstance(failed.args[0], ValueError) and "bad row 7" in str(failed.args[0])
    call = Worker.call(lambda a, b=0: a * 10 + b, 4, b=2)
    with qtbot.waitSignal(call.returned, timeout=5000) as returned:
        call.start()
    assert returned.args == [42]


def test_worker_set_stops_and_awaits_everything(qtbot):
    workers = WorkerSet()
    gate = threading.Event()
    long_runs = [workers.start(Worker(lambda: counting(10_000, gate))) for _ in range(2)]
    gate.set()
    assert workers.stop_all(timeout_ms=10_000)
    assert all(w.is_finished for w in long_runs), "the threads have ended when stop_all returns"
    # Their results still travel to the GUI thread by queued signal.
    qtbot.waitUntil(lambda: all(w.result is not None for w in long_runs), timeout=5000)
    assert all(w.result < 10_000 for w in long_runs)
