"""The process backend: a spawned worker runs a job, its events and return value come back in order, commands
reach it, its errors arrive typed, and its death is a WorkerLostError (and, supervised, an interrupted run)."""

from __future__ import annotations

import os
import signal

import pytest

from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.backends import Backend, default_backend, run_job
from mto_studio.core.jobs.events import (
    Pause,
    Paused,
    Progress,
    Resume,
    Resumed,
    RunFinished,
    StepLogged,
    Stop,
    WorkerLost,
    WorkerStarted,
)
from mto_studio.core.jobs.process import JobSpec, WorkerLostError, describe_exit, run_in_process
from tests.helpers import drain

FAKE = "tests.jobs.fake_jobs"


def stop_after_step_1(event):
    return Stop() if isinstance(event, StepLogged) and event.step == 1 else None


def test_events_and_return_value_come_back_from_another_process():
    events, value = drain(run_in_process(JobSpec(f"{FAKE}:counting_job", {"steps": 3})))
    assert isinstance(events[0], WorkerStarted) and events[0].backend == "process"
    assert events[0].pid != os.getpid()
    assert [e.step for e in events if isinstance(e, StepLogged)] == [1, 2, 3]
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    assert value["pid"] == events[0].pid and value["steps"] == 3


def test_stop_reaches_the_worker_and_the_job_ends_stopped():
    # Stop goes in after the first step's event
    events, value = drain(
        run_in_process(JobSpec(f"{FAKE}:counting_job", {"steps": 50, "delay_s": 0.05})), stop_after_step_1
    )
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "stopped"
    assert finished.step < 50 and value == "stopped"


def test_pause_then_resume_in_order():
    stream = run_in_process(JobSpec(f"{FAKE}:counting_job", {"steps": 20, "delay_s": 0.05}))
    events = [next(stream), stream.send(None)]  # WorkerStarted, step 1
    paused = stream.send(Pause())
    while not isinstance(paused, Paused):
        paused = stream.send(None)
    resumed = stream.send(Resume())
    assert isinstance(resumed, Resumed) and resumed.step == paused.step
    rest, _ = drain(stream)
    assert isinstance(rest[-1], RunFinished) and rest[-1].status == "finished"
    assert isinstance(events[1], StepLogged)


def test_a_user_error_in_the_worker_arrives_with_its_type_and_fix():
    with pytest.raises(ConfigError) as raised:
        drain(run_in_process(JobSpec(f"{FAKE}:failing_job", {"kind": "config"})))
    assert raised.value.message == "the fake job's setting is wrong" and raised.value.hint == "set it right"


def test_an_error_that_does_not_pickle_arrives_as_text():
    with pytest.raises(RuntimeError, match="_Unpicklable in the worker process"):
        drain(run_in_process(JobSpec(f"{FAKE}:failing_job", {"kind": "other"})))


def test_a_killed_worker_is_a_worker_lost_error_naming_the_signal():
    stream = run_in_process(JobSpec(f"{FAKE}:hanging_job"))
    started = next(stream)
    first = stream.send(None)
    assert isinstance(first, Progress)
    os.kill(started.pid, signal.SIGKILL)
    with pytest.raises(WorkerLostError) as raised:
        stream.send(None)
    assert raised.value.exitcode == -signal.SIGKILL
    assert "killed (SIGKILL" in raised.value.message and raised.value.last == first


def test_closing_the_stream_ends_the_worker():
    stream = run_in_process(JobSpec(f"{FAKE}:hanging_job"))
    started = next(stream)
    stream.send(None)
    stream.close()
    with pytest.raises(ProcessLookupError):  # terminated and reaped
        os.kill(started.pid, 0)


def test_describe_exit_words():
    assert "out-of-memory" in describe_exit(-signal.SIGKILL)
    assert "SIGSEGV" in describe_exit(-signal.SIGSEGV)
    assert "code 3" in describe_exit(3)


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("MTO_BACKEND", raising=False)
    assert default_backend() is Backend.PROCESS
    monkeypatch.setenv("MTO_BACKEND", "thread")
    assert default_backend() is Backend.THREAD
    with pytest.raises(ConfigError, match="unknown backend 'gpu'"):
        Backend.parse("gpu")
    events, value = drain(run_job(JobSpec(f"{FAKE}:counting_job", {"steps": 2}), "thread"))
    assert value["pid"] == os.getpid() and not any(isinstance(e, WorkerStarted) for e in events)


def test_supervised_marks_the_run_interrupted_in_the_store(tmp_path):
    from mto_studio.core.store import RunStore
    from mto_studio.core.training.jobs import supervised

    folder = tmp_path / "run"
    folder.mkdir()
    store_path = tmp_path / "runs.sqlite"
    with RunStore(store_path) as store:
        row = store.upsert_run(folder, name="fake")
        store.set_run_status(row, "running")
    stream = supervised(run_in_process(JobSpec(f"{FAKE}:hanging_job")), folder=folder, store_path=store_path)
    started = next(stream)
    stream.send(None)
    os.kill(started.pid, signal.SIGKILL)
    lost = stream.send(None)
    assert isinstance(lost, WorkerLost) and "SIGKILL" in lost.reason and lost.exitcode == -signal.SIGKILL
    with pytest.raises(StopIteration):
        next(stream)
    with RunStore(store_path) as store:
        run = store.run(row)
    assert run.status == "interrupted" and "killed (SIGKILL" in run.reason and "resume" in run.reason
