"""The Ray backend on a local cluster (num_cpus=2, one per module): the process backend's protocol — WorkerStarted
first, live events, commands, the job's result and errors — and a killed worker as WorkerLostError, resumable."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from mto_studio.core.errors import ConfigError, MtoError  # noqa: E402
from mto_studio.core.jobs import ray_backend  # noqa: E402
from mto_studio.core.jobs.backends import run_job  # noqa: E402
from mto_studio.core.jobs.events import (  # noqa: E402
    CheckpointSaved,
    Pause,
    Paused,
    Resume,
    Resumed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    WorkerStarted,
)
from mto_studio.core.jobs.process import WorkerLostError, run_inline  # noqa: E402
from mto_studio.core.store.run_folder import RunFolder  # noqa: E402
from mto_studio.core.training.jobs import train_spec  # noqa: E402
from tests.helpers import SHORT_RUN, drain  # noqa: E402

pytestmark = pytest.mark.distributed

#: the shared short run, with a checkpoint every 10 steps
CONFIG = {**SHORT_RUN, "checkpoint_every": 10}


@pytest.fixture(scope="module")
def inline_metrics(tmp_path_factory) -> dict[str, float]:
    """The reference: the same spec run in this thread."""
    events = list(run_inline(train_spec(CONFIG, tmp_path_factory.mktemp("inline") / "run")))
    return _finished(events).metrics


def _finished(events) -> RunFinished:
    finished = [e for e in events if isinstance(e, RunFinished)]
    assert len(finished) == 1, events
    return finished[0]


def test_a_train_run_on_ray_streams_live_and_matches_inline(cluster, inline_metrics, tmp_path):
    folder = tmp_path / "run"
    seen_while_running = []

    def watch(event):
        if isinstance(event, StepLogged) and not seen_while_running:
            # the run has not finished when its first step arrives here: events are not batched at the end
            seen_while_running.append(not RunFolder(folder).file(RunFolder.RESULT).exists())
        return None

    events, _ = drain(ray_backend.run_on_ray(train_spec(CONFIG, folder, run_id="r1")), watch)
    started = events[0]
    assert isinstance(started, WorkerStarted)
    assert (started.backend, started.run_id, started.attempt) == ("ray", "r1", 1)
    assert started.pid != os.getpid() and started.host
    assert seen_while_running == [True]
    steps = [e.step for e in events if isinstance(e, StepLogged)]
    assert steps == sorted(steps) and steps[-1] == 30
    finished = _finished(events)
    assert finished.status == "finished"
    assert finished.metrics == inline_metrics
    assert RunFolder(folder).file(RunFolder.RESULT).exists()


def test_pause_resume_and_stop_reach_the_task(cluster, tmp_path):
    folder = tmp_path / "run"
    sent: list[str] = []

    def control(event):
        if isinstance(event, StepLogged) and not sent:
            sent.append("pause")
            return Pause()
        if isinstance(event, Paused):
            sent.append("resume")
            return Resume()
        if isinstance(event, Resumed):
            sent.append("stop")
            return Stop()
        return Stop() if "stop" in sent else None  # sticky, as the CLI and the GUI send it

    events, _ = drain(ray_backend.run_on_ray(train_spec(CONFIG, folder)), control)
    assert sent == ["pause", "resume", "stop"]
    kinds = [type(e) for e in events]
    assert kinds.index(Paused) < kinds.index(Resumed)
    finished = _finished(events)
    assert finished.status == "stopped" and finished.step < 30
    # the checkpoint of the step it stopped at (a "stop" one, or the periodic one the Stop arrived with)
    assert any(isinstance(e, CheckpointSaved) and e.step == finished.step for e in events)
    assert RunFolder(folder).is_resumable()


def test_a_killed_worker_is_lost_and_the_run_resumes(cluster, inline_metrics, tmp_path):
    folder = tmp_path / "run"
    stream = ray_backend.run_on_ray(train_spec(CONFIG, folder, resume="auto"))
    started = next(stream)
    assert isinstance(started, WorkerStarted)
    with pytest.raises(WorkerLostError) as lost:
        for event in stream:
            if isinstance(event, CheckpointSaved) and event.step >= 10:
                os.kill(started.pid, signal.SIGKILL)
    assert "Ray worker running the job died" in lost.value.message
    assert "resume it from its last checkpoint" in lost.value.hint
    assert RunFolder(folder).is_resumable()

    again, _ = drain(ray_backend.run_on_ray(train_spec(CONFIG, folder, resume="auto"), attempt=2))
    assert again[0].attempt == 2 and again[0].pid != started.pid
    resumed = next(e for e in again if isinstance(e, RunStarted))
    assert resumed.resumed_from >= 10
    finished = _finished(again)
    assert finished.status == "finished"
    assert finished.metrics == inline_metrics


def test_closing_the_stream_cancels_the_task(cluster, tmp_path):
    folder = tmp_path / "run"
    stream = ray_backend.run_on_ray(train_spec(CONFIG, folder))
    started = next(stream)
    next(e for e in stream if isinstance(e, StepLogged))
    stream.close()  # an abort: the worker is ended at once, not at the run's end
    deadline = time.monotonic() + 20
    while _alive(started.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(started.pid)
    assert not RunFolder(folder).file(RunFolder.RESULT).exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


def test_the_jobs_own_errors_come_back_as_their_type(cluster, tmp_path):
    spec = train_spec({**CONFIG, "template": "no-such-template"}, tmp_path / "run")
    with pytest.raises(MtoError) as inline:
        list(run_inline(spec))
    with pytest.raises(MtoError) as remote:
        drain(ray_backend.run_on_ray(spec))
    assert type(remote.value) is type(inline.value)
    assert remote.value.one_line() == inline.value.one_line()


def test_a_cuda_run_on_a_cluster_without_gpus_is_refused_not_left_waiting(cluster, tmp_path):
    from mto_studio.core.training.jobs import wanted_gpus

    assert (wanted_gpus({"device": "cuda"}), wanted_gpus({"device": "cpu"}), wanted_gpus(None)) == (1, 0, None)
    with pytest.raises(ConfigError) as refused:
        drain(ray_backend.run_on_ray(train_spec({**CONFIG, "device": "cuda"}, tmp_path / "run")))
    assert "asks for 1 GPU(s) but the Ray cluster has 0" in refused.value.message
    assert "--device cpu" in refused.value.hint
    # "auto" on a cluster without GPUs reserves none and trains on the CPU
    events, _ = drain(ray_backend.run_on_ray(train_spec({**CONFIG, "device": "auto"}, tmp_path / "auto")))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"


def test_cluster_summary_describes_the_local_cluster(cluster):
    summary = ray_backend.cluster_summary(None)
    assert summary["nodes"] == 1 and summary["cpus"] == 2.0
    assert summary["ray_version"] == ray.__version__
    assert summary["address"] == "local"


def test_an_unreachable_cluster_fails_fast_with_the_fix():
    begun = time.monotonic()
    with pytest.raises(ray_backend.ClusterUnreachableError) as error:
        ray_backend.connect("ray://127.0.0.1:1")
    assert time.monotonic() - begun < 10
    assert "cannot reach the Ray cluster at ray://127.0.0.1:1" in error.value.message
    assert "start the cluster" in error.value.hint
    with pytest.raises(ray_backend.ClusterUnreachableError):
        ray_backend.cluster_summary("ray://127.0.0.1:1", timeout_s=5)


@pytest.mark.parametrize("address", ["localhost:6379", "ray://no-port", "http://head:10001", "ray://h:99999"])
def test_a_bad_cluster_address_is_a_config_error(address, tmp_path):
    with pytest.raises(ConfigError) as error:
        ray_backend.connect(address)
    assert f"unknown cluster address '{address}'" in error.value.message
    assert "ray://HOST:PORT" in error.value.hint and "'auto'" in error.value.hint
    with pytest.raises(ConfigError):
        run_job(train_spec(CONFIG, Path(tmp_path) / "run"), "ray", cluster=address)
