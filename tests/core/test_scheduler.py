"""The experiment's scheduler with fake runs in place of workers (fast: no process, no training): commands reach
every active run, one Paused for the consumer once all have paused, a lost worker ends the experiment
'interrupted' in the store, a Ray run is started again up to 3 times, and the driver records each run's events."""

from __future__ import annotations

import threading

import pytest

from mto_studio.core.jobs.events import (
    ExperimentFinished,
    Pause,
    Paused,
    Resume,
    Resumed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    Stop,
    WorkerLost,
    WorkerStarted,
    pause_point,
)
from mto_studio.core.jobs.process import WorkerLostError
from mto_studio.core.store import RunStore
from mto_studio.core.training import scheduler
from mto_studio.core.training.experiment import run_experiment
from mto_studio.core.training.experiment_config import ExperimentConfig

STEPS = 4
#: every fake run waits here after its step 2 until the test opens it, so a command lands while all runs are busy
GATE = threading.Event()


def fake_run(spec, *, lose_at: int | None = None):
    """A run as a worker would relay it: WorkerStarted, RunStarted, a StepLogged per step (Pause and Stop act as in
    the trainer), RunFinished; ``lose_at``: the worker dies before that step."""
    run_id, folder = spec.run_id, spec.kwargs["folder"]
    yield WorkerStarted("process", "fake-host", 0, run_id)  # another host: nothing here is ever signalled
    yield RunStarted(run_id, run_id, STEPS, folder=folder)
    for step in range(1, STEPS + 1):
        if step == lose_at:
            raise WorkerLostError(
                "the worker process was killed (SIGKILL: fake)",
                "the run is interrupted; resume it from its last checkpoint",
                exitcode=-9,
            )
        command = yield StepLogged(run_id, step, STEPS, 1.0, 0.1, step, 0.0, 0.0)
        if step == 2:
            assert GATE.wait(30), "the test never opened the gate"
        command = yield from pause_point(run_id, step, command)
        if isinstance(command, Stop):
            yield RunFinished(run_id, "stopped", step, folder=folder)
            return
    yield RunFinished(run_id, "finished", STEPS, {"rougeL": 0.5}, folder)


@pytest.fixture
def fake_backend(monkeypatch):
    """Replaces the backends: run ``N`` of the sweep (by index) loses its worker at the steps listed in ``losses``
    (one entry per attempt). Returns (losses, started specs)."""
    GATE.clear()
    losses: dict[int, list[int]] = {}
    started: list[tuple[str, object]] = []

    def run_job(spec, backend, *, cluster=None):
        started.append((spec.run_id, backend))
        index = int(spec.run_id.split("-")[0]) if spec.run_id.split("-")[0].isdigit() else -1
        pending = losses.get(index, [])
        return fake_run(spec, lose_at=pending.pop(0) if pending else None)

    monkeypatch.setattr(scheduler, "run_job", run_job)
    yield losses, started
    GATE.set()


def sweep_config() -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "templates": ["unsup-nat", "sup"],
            "shots": ["8"],
            "seeds": [0, 1],
            "relations": ["AtLocation", "xIntent"],
            "train": {"steps": STEPS},
        }  # fmt: skip
    )


def drive(events, answer):
    """Iterate the experiment; ``answer(event, seen)`` gives the command to send back (or None)."""
    seen = []
    command = None
    while True:
        try:
            event = events.send(command)
        except StopIteration:
            return seen
        seen.append(event)
        command = answer(event, seen)


def at_step_2_of_both(seen) -> bool:
    return len({e.run_id for e in seen if isinstance(e, StepLogged) and e.step == 2}) == 2


def test_stop_reaches_every_active_run_and_no_new_run_starts(tmp_path, fake_backend):
    _, started = fake_backend
    store = RunStore(tmp_path / "runs.sqlite")
    sent = []

    def answer(event, seen):
        if not sent and at_step_2_of_both(seen):
            sent.append(True)
            GATE.set()
            return Stop()
        return Stop() if sent else None  # sticky, as the CLI and the GUI send it

    seen = drive(run_experiment(sweep_config(), tmp_path / "exp", store=store, parallel=2, runs_on="process"), answer)
    finished = [e for e in seen if isinstance(e, RunFinished)]
    assert sorted((e.status, e.step) for e in finished) == [("stopped", 3), ("stopped", 3)]
    assert [e.index for e in seen if isinstance(e, RunQueued)] == [0, 1], "no run starts after Stop"
    assert [b for _, b in started] == ["process", "process"]
    assert seen[-1] == ExperimentFinished(seen[-1].experiment_id, "stopped", str(tmp_path / "exp"), seen[-1].report)
    assert sorted(r.status for r in store.runs()) == ["stopped", "stopped"]
    assert [r.step for r in store.runs()] == [3, 3], "the driver recorded each run's steps"
    assert store.experiments()[0].status == "stopped"


def test_pause_waits_for_every_run_then_one_paused_and_resume_continues_all(tmp_path, fake_backend):
    store = RunStore(tmp_path / "runs.sqlite")
    state = {"paused": 0}

    def answer(event, seen):
        if isinstance(event, Paused):
            state["paused"] += 1
            return Resume()
        if state["paused"] == 0 and at_step_2_of_both(seen):
            GATE.set()
            return Pause()
        return Pause() if GATE.is_set() and not state["paused"] else None  # sticky until Paused

    seen = drive(run_experiment(sweep_config(), tmp_path / "exp", store=store, parallel=2, runs_on="process"), answer)
    assert state["paused"] == 1, "one Paused for the consumer, once both runs had paused"
    assert len([e for e in seen if isinstance(e, Resumed)]) == 2, "Resume reached both runs"
    assert [e.status for e in seen if isinstance(e, RunFinished)] == ["finished"] * 4
    assert seen[-1].status == "finished"
    assert [r.status for r in store.runs()] == ["finished"] * 4


def test_a_lost_worker_interrupts_its_run_stops_the_others_and_ends_the_experiment(tmp_path, fake_backend):
    losses, started = fake_backend
    losses[0] = [2]
    store = RunStore(tmp_path / "runs.sqlite")

    def answer(event, seen):
        if isinstance(event, WorkerLost):
            GATE.set()
        return None

    seen = drive(run_experiment(sweep_config(), tmp_path / "exp", store=store, parallel=2, runs_on="process"), answer)
    (lost,) = [e for e in seen if isinstance(e, WorkerLost)]
    assert lost.run_id.startswith("000-") and lost.step == 1 and lost.exitcode == -9
    assert "SIGKILL" in lost.reason and lost.folder.endswith(lost.run_id)
    assert [e.status for e in seen if isinstance(e, RunFinished)] == ["stopped"], "the other run stopped resumably"
    assert isinstance(seen[-1], ExperimentFinished) and seen[-1].status == "interrupted"
    assert seen.index(lost) < len(seen) - 1
    assert len(started) == 2, "no run started after the loss"
    rows = {r.folder.rsplit("/", 1)[-1]: r for r in store.runs()}
    assert rows[lost.run_id].status == "interrupted" and "SIGKILL" in rows[lost.run_id].reason
    assert sorted(r.status for r in rows.values()) == ["interrupted", "stopped"]
    assert store.experiments()[0].status == "interrupted"


def test_ray_starts_a_lost_run_again_up_to_three_attempts(tmp_path, fake_backend):
    losses, started = fake_backend
    losses[0] = [2, 3]  # attempts 1 and 2 die; the third finishes
    GATE.set()
    seen = drive(run_experiment(sweep_config(), tmp_path / "a", parallel=2, runs_on="ray"), lambda e, s: None)
    first = [e for e in seen if isinstance(e, WorkerStarted) and e.run_id.startswith("000-")]
    assert [e.attempt for e in first] == [1, 2, 3]
    assert not [e for e in seen if isinstance(e, WorkerLost)]
    assert seen[-1].status == "finished" and len([e for e in seen if isinstance(e, RunFinished)]) == 4

    losses[0] = [2, 2, 2]  # every attempt dies: the run is lost, as on the process backend
    store = RunStore(tmp_path / "runs.sqlite")
    seen = drive(
        run_experiment(sweep_config(), tmp_path / "b", store=store, parallel=2, runs_on="ray"), lambda e, s: None
    )
    assert [e.attempt for e in seen if isinstance(e, WorkerStarted) and e.run_id.startswith("000-")] == [1, 2, 3]
    assert len([e for e in seen if isinstance(e, WorkerLost)]) == 1 and seen[-1].status == "interrupted"
    assert [b for _, b in started][-1] == "ray"


def test_threads_are_split_between_parallel_runs():
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.precision import available_cores

    assert scheduler.run_threads(TrainConfig(threads=8), 2) == 4
    assert scheduler.run_threads(TrainConfig(threads=1), 2) == 1
    assert scheduler.run_threads(TrainConfig(), 1) == available_cores()


def test_parallel_needs_a_backend_that_runs_several():
    from mto_studio.core.errors import ConfigError

    with pytest.raises(ConfigError, match="parallel runs need the process or ray backend"):
        next(run_experiment(sweep_config(), "unused", parallel=2))
    with pytest.raises(ConfigError, match="unknown way to run"):
        next(run_experiment(sweep_config(), "unused", runs_on="gpu"))
