"""The JobController: one lifecycle for the Trainer's, the Lab's and the Analyzer's jobs (state, claims, ETA,
shutdown), driven here by a small generator job that honours Pause, Resume and Stop the way training does."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QObject  # noqa: E402

from mto_studio.core.jobs.events import Progress, Stop, pause_point  # noqa: E402
from mto_studio.gui.jobs import JobController, JobState, run_owners  # noqa: E402
from mto_studio.gui.workers import WorkerSet  # noqa: E402


class Host(QObject):
    """What a controller needs from the StudioContext: its WorkerSet (and the run-owner registry it creates)."""

    def __init__(self) -> None:
        super().__init__()
        self.workers = WorkerSet(self)


def counting_job(steps: int, delay: float = 0.01):
    """A job of ``steps`` steps that pauses and stops between steps, as the training loop does."""
    for step in range(1, steps + 1):
        time.sleep(delay)
        command = yield Progress("count", step, steps)
        command = yield from pause_point("count", step, command)
        if isinstance(command, Stop):
            return "stopped"
    return "finished"


@pytest.fixture
def host(qapp):
    made = Host()
    yield made
    made.workers.stop_all(5_000)


def test_a_job_goes_running_pausing_paused_running_stopping_idle_and_releases_its_folders(qtbot, host, tmp_path):
    job = JobController(host, "count", tick_ms=20)
    states: list[JobState] = []
    job.state_changed.connect(states.append)
    ended = []
    job.ended.connect(lambda worker: ended.append((worker.result, job.state)))
    folder = tmp_path / "run"
    worker = job.start(lambda: counting_job(100_000), claims=[folder])
    assert job.busy and job.state is JobState.RUNNING
    assert str(folder) in run_owners(host).folders, "the Runs view must leave a training folder alone"
    qtbot.waitUntil(lambda: worker.is_running, timeout=5_000)

    assert job.pause() and job.state is JobState.PAUSING
    qtbot.waitUntil(lambda: job.state is JobState.PAUSED, timeout=5_000)
    assert not job.pause(), "pausing twice does nothing"
    assert job.resume()
    qtbot.waitUntil(lambda: job.state is JobState.RUNNING, timeout=5_000)
    assert job.stop() and job.state is JobState.STOPPING
    qtbot.waitUntil(lambda: not job.busy, timeout=10_000)

    assert ended == [("stopped", JobState.STOPPING)], "ended comes before the state turns idle"
    assert job.state is JobState.IDLE
    assert str(folder) not in run_owners(host).folders
    assert states[0] is JobState.RUNNING and states[-1] is JobState.IDLE
    assert JobState.PAUSED in states and JobState.STOPPING in states
    assert not job.stop() and not job.resume(), "an idle controller has nothing to stop or resume"


def test_a_job_that_cannot_pause_is_cancelled_and_a_second_start_is_refused(qtbot, host):
    job = JobController(host, "analysis", pausable=False)
    job.start(lambda: counting_job(100_000))
    with pytest.raises(RuntimeError, match="already running"):
        job.start(lambda: counting_job(1))
    assert not job.pause(), "the Analyzer's job has no Pause"
    assert job.stop() and job.state is JobState.CANCELLING
    qtbot.waitUntil(lambda: job.state is JobState.IDLE, timeout=10_000)


def test_the_eta_counts_only_active_time_and_this_sessions_steps(monkeypatch):
    from mto_studio.gui import jobs

    now = [100.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: now[0])
    clock = jobs.JobClock()
    clock.start()
    now[0] += 10
    clock.add_steps(20)
    clock.pause()
    now[0] += 1_000  # paused: not counted
    assert clock.rate() == pytest.approx(2.0)
    assert clock.eta_s(done=120, total=200) == pytest.approx(40.0)
    assert clock.eta_s(done=200, total=200) is None
    fresh = jobs.JobClock()
    fresh.start()
    now[0] += 0.5
    fresh.add_steps(5)
    assert fresh.eta_s(done=5, total=10) is None, "no estimate from the first second"


def test_shutdown_stops_the_job_and_returns(qtbot, host):
    job = JobController(host, "count")
    worker = job.start(lambda: counting_job(100_000))
    started = time.monotonic()
    job.shutdown(timeout_ms=10_000)
    assert time.monotonic() - started < 5 and worker.is_finished
    assert job.unsaved_line("x") == []
