"""The Trainer on the job backends: where each run runs (WorkerStarted), "Run on: This computer / Ray cluster" with
its connection check and "Runs at once", Ray chosen without Ray installed, and a worker process killed with SIGKILL
while the window watches (marked ``distributed``: it spawns real workers)."""

import os
import signal
import socket
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mto_studio.core.errors import MtoError  # noqa: E402
from mto_studio.core.jobs import backends  # noqa: E402
from mto_studio.core.jobs.events import (  # noqa: E402
    CheckpointSaved,
    ExperimentFinished,
    RunFinished,
    RunStarted,
    StepLogged,
    WorkerLost,
    WorkerStarted,
)
from mto_studio.core.jobs.status import RunStatus  # noqa: E402
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.store.run_folder import RunFolder  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402
from mto_studio.gui.jobs import JobState  # noqa: E402
from mto_studio.gui.models.training import ExperimentRunsModel  # noqa: E402
from mto_studio.gui.settings import app_settings, run_on_choice  # noqa: E402
from mto_studio.gui.workbenches.trainer.run_on import COMPUTER, RAY, RunOnBox  # noqa: E402

RUN_TIMEOUT_MS = 180_000


@pytest.fixture
def default_project(small_world_project) -> Project:
    return small_world_project


def trainer_on(window, *, steps=20, eval_every=10, name="test"):
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    view.settings.apply_config(
        ExperimentConfig(
            name=name,
            templates=["sup"],
            shots=["4"],
            seeds=[0],
            train={
                "steps": steps,
                "eval_every": eval_every,
                "batch_size": 4,
                "validation_heads": 4,
                "warmup_steps": 2,
                "max_new_tokens": 4,
            },
        )
    )
    return view


def cell(view, row: int, column: str) -> str:
    model = view.monitor.runs_model
    return model.index(row, model.COLUMNS.index(column)).data()


# --- Run on: the choices -------------------------------------------------------------------------------------------
def test_choosing_ray_without_ray_says_how_to_install_it_and_goes_back(window, dialogs, monkeypatch):
    monkeypatch.setattr(backends, "ray_available", lambda: False)
    box = trainer_on(window).settings.run_on
    assert box.run_on == COMPUTER and not box.address_edit.isVisible()
    box.where_combo.setCurrentIndex(box.where_combo.findData(RAY))
    assert dialogs.shown, "choosing Ray without Ray says so"
    shown = dialogs.shown[-1]
    assert shown["title"] == "Ray is not installed" and "needs Ray, which is not installed" in shown["text"]
    assert backends.RAY_INSTALL in shown["info"] and 'pip install "mto-studio[cluster]"' in shown["info"]
    assert box.run_on == COMPUTER and not box.address_edit.isVisible(), "the choice goes back to this computer"
    assert box.scheduling() == {} and run_on_choice(app_settings())[0] == COMPUTER


def test_run_on_choices_reach_the_experiment_and_are_remembered(window, monkeypatch, qtbot):
    monkeypatch.setattr(backends, "ray_available", lambda: True)
    view = trainer_on(window)
    box = view.settings.run_on
    assert box.scheduling() == {}, "one run at a time on this computer: run_experiment gets nothing new"
    box.parallel_spin.setMaximum(4)
    box.parallel_spin.setValue(2)
    assert box.scheduling() == {"parallel": 2, "runs_on": "process"}
    box.where_combo.setCurrentIndex(box.where_combo.findData(RAY))
    assert box.address_edit.isVisible() and box.check_button.isVisible()
    box.address_edit.setText("ray://head.lab:10001")
    box.address_edit.editingFinished.emit()
    assert box.scheduling() == {"parallel": 2, "runs_on": "ray", "cluster": "ray://head.lab:10001"}
    assert run_on_choice(app_settings()) == (RAY, "ray://head.lab:10001", 2)
    again = RunOnBox(window.context.workers)  # the next session starts from the same choices
    assert (again.run_on, again.address, again.parallel_spin.value()) == (
        RAY,
        "ray://head.lab:10001",
        min(2, again.parallel_spin.maximum()),
    )

    captured = {}

    def fake_job(cfg, folder, store_path, *, resume=False, **scheduling):
        captured.update(scheduling, resume=resume)
        return None
        yield

    monkeypatch.setattr("mto_studio.gui.workbenches.trainer.view.experiment_job", fake_job)
    assert view.start() is not None
    qtbot.waitUntil(lambda: view.worker is None, timeout=10_000)
    assert captured == {"parallel": 2, "runs_on": "ray", "cluster": "ray://head.lab:10001", "resume": False}


def test_check_connection_shows_the_cluster_or_why_not(window, monkeypatch, qtbot):
    import mto_studio.core.jobs.ray_backend as ray_backend

    monkeypatch.setattr(backends, "ray_available", lambda: True)
    box = trainer_on(window).settings.run_on
    box.where_combo.setCurrentIndex(box.where_combo.findData(RAY))
    asked = []

    def summary(cluster, timeout_s=10):
        asked.append(cluster)
        return {"address": "10.0.0.1:6379", "ray_version": "2.99", "nodes": 2, "hosts": ["a", "b"], "cpus": 16.0,
                "gpus": 1.0}  # fmt: skip

    monkeypatch.setattr(ray_backend, "cluster_summary", summary)
    box.address_edit.setText("auto")
    worker = box.check_connection()
    assert worker is not None and not box.check_button.isEnabled()
    qtbot.waitUntil(lambda: box.check_worker is None, timeout=10_000)
    text = box.check_label.text()
    assert asked == ["auto"] and "connected to 10.0.0.1:6379" in text
    assert all(part in text for part in ("2 node(s) (a, b)", "16 CPUs", "1 GPUs", "Ray 2.99"))

    def unreachable(cluster, timeout_s=10):
        raise MtoError(f"cannot reach the Ray cluster at {cluster} (timed out)", "start the head node")

    monkeypatch.setattr(ray_backend, "cluster_summary", unreachable)
    box.address_edit.setText("ray://nowhere:10001")
    box.check_connection()
    qtbot.waitUntil(lambda: box.check_worker is None, timeout=10_000)
    assert "not reachable: cannot reach the Ray cluster at ray://nowhere:10001" in box.check_label.text()
    assert box.check_button.isEnabled()


# --- where each run runs, and a lost worker (synthetic events) -------------------------------------------------------
def test_the_where_column_and_the_status_line_say_where_runs_run(window):
    view = trainer_on(window)
    cfg = view.settings.current_config()
    view.monitor.folder = Path(window.context.project.folder) / "experiments" / "x"
    view.monitor.set_grid(ExperimentConfig.from_dict({**cfg.to_dict(), "seeds": [0, 1]}), window.context.library)
    first, second = (r.run_id for r in view.monitor.runs_model.runs)
    assert "where" in ExperimentRunsModel.BASE_COLUMNS and cell(view, 0, "where") == ""
    where = view.monitor.runs_model.COLUMNS.index("where")
    view._on_event(WorkerStarted("process", socket.gethostname(), 4321))  # the experiment's own worker
    view._on_event(RunStarted(first, "r", 20, folder=str(view.monitor.folder / first)))
    assert view.monitor.job_where == "this computer (process 4321)" and cell(view, 0, "where") == ""
    assert view.monitor.runs_table.isColumnHidden(where), "no run has a place of its own: the status line says it"
    view._on_event(WorkerStarted("ray", "10.0.0.7", 99, run_id=second, attempt=2))
    view._on_event(RunStarted(second, "r", 20, folder=str(view.monitor.folder / second)))
    view._on_event(WorkerStarted("process", "node-b", 55, run_id=first))
    assert cell(view, 1, "where") == "ray: 10.0.0.7 (attempt 2)" and cell(view, 0, "where") == "node-b (process 55)"
    assert not view.monitor.runs_table.isColumnHidden(where)
    view.job.state = JobState.RUNNING  # the status line of a running experiment names its worker
    view.monitor.progress_dirty = True
    view._on_tick()
    view.job.state = JobState.IDLE
    assert "this computer (process 4321)" in view.status_label.text()


def test_a_lost_worker_leaves_the_window_usable_and_says_what_happened(window, qtbot, dialogs, monkeypatch):
    view = trainer_on(window)
    cfg = view.settings.current_config()
    reason = (
        "the worker process was killed (SIGKILL: the system's out-of-memory killer, or a kill -9); "
        "the run is interrupted; resume it from its last checkpoint"
    )

    view.monitor.set_grid(cfg, window.context.library)
    run_id = view.monitor.runs_model.runs[0].run_id

    def lost_job(cfg, folder, store_path, *, resume=False, **scheduling):
        yield WorkerStarted("process", socket.gethostname(), 777)
        yield RunStarted(run_id, "r", 20, folder=str(Path(folder) / run_id))
        yield StepLogged(run_id, 15, 20, 1.0, 1e-3, 60, 100.0, 1.0)
        yield WorkerLost(reason, -9, run_id, str(Path(folder) / run_id), 15)

    monkeypatch.setattr("mto_studio.gui.workbenches.trainer.view.experiment_job", lost_job)
    view.start()
    qtbot.waitUntil(lambda: view.worker is None, timeout=10_000)
    assert view.state == JobState.IDLE and view.start_button.isEnabled()
    shown = dialogs.shown[-1]
    assert shown["title"] == "The training worker was lost"
    assert (
        "was killed (SIGKILL" in shown["text"] and "run sup · finetune · k=4 · seed 0 is interrupted" in shown["text"]
    )
    assert "at step 15" in shown["text"]
    assert "Resume continues it from its last checkpoint" in shown["info"]
    assert cell(view, 0, "status") == "interrupted" and "killed" in cell(view, 0, "note")
    assert view.monitor.notice.isVisible() and "Worker lost" in view.monitor.notice_label.text()
    assert "interrupted" in view.status_label.text()


def test_a_run_worker_lost_in_a_parallel_sweep_interrupts_that_run_and_the_experiment(
    window, qtbot, dialogs, monkeypatch
):
    view = trainer_on(window)
    cfg = ExperimentConfig.from_dict({**view.settings.current_config().to_dict(), "seeds": [0, 1]})
    view.monitor.set_grid(cfg, window.context.library)
    first, second = (r.run_id for r in view.monitor.runs_model.runs)
    reason = "the worker process was ended by SIGTERM; the run is interrupted; resume it from its last checkpoint"

    def parallel_job(cfg, folder, store_path, *, resume=False, **scheduling):
        yield WorkerStarted("process", socket.gethostname(), 700)  # the experiment's worker
        for run_id, pid in ((first, 701), (second, 702)):
            yield WorkerStarted("process", socket.gethostname(), pid, run_id=run_id)
            yield RunStarted(run_id, "r", 20, folder=str(Path(folder) / run_id))
        yield WorkerLost(reason, -15, first, str(Path(folder) / first), 10)
        yield RunFinished(second, "stopped", 12, folder=str(Path(folder) / second))  # the others stop resumably
        yield ExperimentFinished(1, "interrupted", str(folder))

    monkeypatch.setattr("mto_studio.gui.workbenches.trainer.view.experiment_job", parallel_job)
    view.settings.apply_config(cfg)
    at_loss = []  # the table right after the view handled WorkerLost (this slot is connected after the view's)
    view.job.emitted.connect(
        lambda e: (
            at_loss.append([cell(view, r, "status") for r in (0, 1)] + [len(dialogs.shown)])
            if isinstance(e, WorkerLost)
            else None
        )
    )
    view.start()
    qtbot.waitUntil(lambda: view.worker is None, timeout=10_000)
    assert at_loss == [["interrupted", "running", 0]], "the lost run only; the dialog waits for the job's end"
    assert [d["title"] for d in dialogs.shown] == ["The training worker was lost"], "one dialog, when the job ended"
    assert "run sup · finetune · k=4 · seed 0 is interrupted at step 10" in dialogs.shown[0]["text"]
    assert [cell(view, r, "status") for r in (0, 1)] == ["interrupted", "stopped"]
    assert [cell(view, r, "where") for r in (0, 1)] == ["this computer (process 701)", "this computer (process 702)"]
    assert view.last_status == "interrupted" and "ended by SIGTERM" in view.status_label.text()
    assert "Resume</b> continues from the last checkpoint" in view.status_label.text()  # (no store here to find it)


# --- a real worker process killed mid-run ----------------------------------------------------------------------------
@pytest.mark.distributed
def test_the_window_survives_a_worker_killed_with_sigkill_and_resume_finishes_the_run(
    window, qtbot, dialogs, monkeypatch
):
    monkeypatch.setenv("MTO_BACKEND", "process")
    view = trainer_on(window, steps=120, eval_every=10, name="killed")
    worker = view.start()
    assert worker is not None
    events: list = []
    killed: list[int] = []

    def on_event(event) -> None:
        events.append(event)
        # the first step logged after a checkpoint: kill the worker there (in this slot, before it runs much on)
        if isinstance(event, StepLogged) and not killed and any(isinstance(e, CheckpointSaved) for e in events):
            pid = next(e.pid for e in events if isinstance(e, WorkerStarted) and not e.run_id)
            os.kill(pid, signal.SIGKILL)
            killed.append(event.step)

    view.job.emitted.connect(on_event)
    qtbot.waitUntil(lambda: view.worker is None, timeout=RUN_TIMEOUT_MS)
    assert killed, "the job ended before it could be killed"
    started = next(e for e in events if isinstance(e, WorkerStarted))
    assert started.backend == "process" and started.pid != os.getpid()
    assert view.monitor.job_where == f"this computer (process {started.pid})"
    lost = events[-1]
    assert isinstance(lost, WorkerLost) and "killed (SIGKILL" in lost.reason and lost.step >= killed[0]

    # the controller is idle, the dialog says what happened and what Resume does
    assert view.state == JobState.IDLE and view.job.worker is None and view.start_button.isEnabled()
    shown = next(d for d in dialogs.shown if d["title"] == "The training worker was lost")
    assert "killed (SIGKILL" in shown["text"] and "is interrupted" in shown["text"]
    assert "Resume continues it from its last checkpoint" in shown["info"]
    assert cell(view, 0, "status") == "interrupted"

    # the store row and the run folder read interrupted
    store = RunStore(window.context.project.run_store_path)
    (row,) = store.runs()
    (experiment,) = store.experiments()
    store.close()
    assert row.status == RunStatus.INTERRUPTED and "killed" in (row.reason or "")
    assert experiment.status == RunStatus.INTERRUPTED
    assert RunFolder(Path(row.folder)).status() is RunStatus.INTERRUPTED and RunFolder(Path(row.folder)).is_resumable()

    # the window responds: another workbench shows the run interrupted, and back
    window.show_workbench("runs")
    runs = window.workbench("runs")
    runs.refresh()
    assert [r.status for r in runs.tree_model.runs()] == ["interrupted"]
    window.show_workbench("trainer")
    assert window.current_key == "trainer" and view.resumable == view.folder and view.resume_button.isEnabled()

    # Resume continues from the last checkpoint and finishes the run
    second = view.resume()
    assert second is not None
    resumed: list = []
    second.emitted.connect(resumed.append)
    qtbot.waitUntil(lambda: view.worker is None, timeout=RUN_TIMEOUT_MS)
    run_started = next(e for e in resumed if isinstance(e, RunStarted))
    assert run_started.resumed_from >= 10
    finished = next(e for e in resumed if isinstance(e, ExperimentFinished))
    assert finished.status == "finished" and view.last_status == "finished"
    store = RunStore(window.context.project.run_store_path)
    (row,) = store.runs()
    store.close()
    assert row.status == RunStatus.FINISHED and cell(view, 0, "status") == "finished"


def test_a_lost_pretraining_worker_leaves_the_lab_usable_and_resumable(window, qtbot, dialogs, monkeypatch):
    window.show_workbench("lab")
    lab = window.workbench("lab")
    reason = "the worker process crashed (SIGSEGV: a fault in native code such as torch or a GPU driver); more"

    def lost_job(cfg, out_dir, *, resume=False):
        (Path(out_dir) / "checkpoints").mkdir(parents=True)  # what a worker leaves behind at its periodic checkpoint
        yield WorkerStarted("process", socket.gethostname(), 888)
        yield RunStarted("pretrain", "p", 400, folder=str(out_dir))
        yield StepLogged("pretrain", 40, 400, 3.0, 1e-3, 640, 100.0, 1.0)
        yield WorkerLost(reason, -11, "", str(out_dir), 40)

    monkeypatch.setattr("mto_studio.gui.workbenches.lab.view.pretrain_job", lost_job)
    assert lab.start() is not None
    qtbot.waitUntil(lambda: lab.worker is None, timeout=10_000)
    assert lab.state == JobState.IDLE and lab.start_button.isEnabled()
    shown = dialogs.shown[-1]
    assert shown["title"] == "The pre-training worker was lost"
    assert shown["text"].count("The worker process crashed (SIGSEGV") == 1 and "interrupted at step 40" in shown["text"]
    assert "Resume continues it from its last checkpoint" in shown["info"]
    assert lab.resumable == lab.out_dir and lab.resume_button.isEnabled()
    assert "interrupted at step 40" in lab.status_label.text() and "SIGSEGV" in lab.status_label.text()
