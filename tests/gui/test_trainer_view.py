"""The Trainer workbench driven as a user would, on the tiny test model and a small slice of the world: live
curves with seed bands and a result table that fill in as runs finish, pause and resume, stop and resume from the
checkpoint, a failed run that does not stop the experiment, and closing the window mid-run."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from mto_studio.core.jobs.events import (  # noqa: E402
    ExperimentFinished,
    Paused,
    Resumed,
    RunStarted,
    StepLogged,
    TableUpdated,
)
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402
from mto_studio.gui.plots.live_curves import CurveKey, aggregate_seeds  # noqa: E402

RUN_TIMEOUT_MS = 120_000


@pytest.fixture
def default_project(small_world_project) -> Project:
    return small_world_project


def trainer_on(
    window,
    *,
    templates=("unsup-nat", "sup"),
    shots=("4", "full"),
    seeds=(0, 1),
    steps=20,
    eval_every=10,
    batch_size=8,
    **train,
):
    """The trainer with a small grid; validation on 4 heads per relation keeps evaluations short."""
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    view.settings.apply_config(
        ExperimentConfig(
            name="test",
            templates=list(templates),
            shots=list(shots),
            seeds=list(seeds),
            train={
                "steps": steps,
                "eval_every": eval_every,
                "batch_size": batch_size,
                "validation_heads": 4,
                "warmup_steps": 2,
                "max_new_tokens": 4,
                **train,
            },
        )
    )
    return view


def collect(worker):
    events = []
    worker.emitted.connect(events.append)
    return events


def wait_idle(qtbot, view):
    qtbot.waitUntil(lambda: view.worker is None, timeout=RUN_TIMEOUT_MS)


# --- a whole experiment ---------------------------------------------------------------------------------------
def test_an_experiment_streams_curves_with_seed_bands_and_fills_the_table(window, qtbot, qtmodeltester):
    view = trainer_on(window)
    assert "8 runs" in view.settings.grid_summary.text()
    worker = view.start()
    assert worker is not None and view.state == "running" and not view.start_button.isEnabled()
    events = collect(worker)
    filled_as_tables_came = []
    points_at_first_table = []

    def on_event(event):
        if isinstance(event, TableUpdated):
            filled_as_tables_came.append(view.monitor.results.model.filled)
            if not points_at_first_table:
                points_at_first_table.append(
                    sum(
                        len(view.monitor.curves.seed_points(k, s, "loss"))
                        for k in view.monitor.curves.keys()
                        for s in (0, 1)
                    )
                )

    worker.emitted.connect(on_event)
    wait_idle(qtbot, view)

    assert view.last_status == "finished" and view.state == "idle" and view.start_button.isEnabled()
    assert isinstance(events[-1], ExperimentFinished) and events[-1].status == "finished"
    # Curves: one band per (template, k), both seeds in it, drawn as mean ± sd.
    keys = {CurveKey("finetune", t, k) for t in ("unsup-nat", "sup") for k in ("4", "full")}
    assert set(view.monitor.curves.keys()) == keys
    key = CurveKey("finetune", "unsup-nat", "4")
    seed0, seed1 = (view.monitor.curves.seed_points(key, s, "loss") for s in (0, 1))
    assert list(seed0[:, 0]) == [5, 10, 15, 20] and list(seed1[:, 0]) == [5, 10, 15, 20]
    x, mean, sd = view.monitor.curves.curve(key, "loss")
    assert list(x) == [5, 10, 15, 20]
    np.testing.assert_allclose(mean, (seed0[:, 2] + seed1[:, 2]) / 2)
    np.testing.assert_allclose(sd, np.std([seed0[:, 2], seed1[:, 2]], axis=0, ddof=1), atol=1e-9)
    assert sd.max() > 0, "two seeds train differently, so the band has a width"
    assert view.monitor.curves.band_item(key, "loss").path().boundingRect().height() > 0
    rouge_x, _, _ = view.monitor.curves.curve(key, "rougeL")
    assert list(rouge_x) == [10, 20], "validation points at each evaluation (the best-checkpoint rerun is not one)"
    view.monitor.x_combo.setCurrentIndex(view.monitor.x_combo.findData("examples"))
    assert list(view.monitor.curves.curve(key, "loss")[0]) == [40, 80, 120, 160], "examples seen = step × batch size"
    assert view.monitor.curves.redraws < 200, "redraws are batched by the timer, not one per event"
    assert points_at_first_table and points_at_first_table[0] >= 4, "curve points arrive while runs train"

    # The table filled in run by run: the cell of a (template, k) appears with its first seed.
    assert [e.finished_runs for e in events if isinstance(e, TableUpdated)] == list(range(1, 9))
    assert filled_as_tables_came[0] == 1 and filled_as_tables_came[-1] == 4
    table = view.monitor.results.model
    assert [table.headerData(c, Qt.Orientation.Horizontal) for c in range(table.columnCount())] == [
        "template",
        "k = 4",
        "full data",
    ]
    assert table.index(1, 0).data() == "sup (baseline)"
    cell = table.cell("finetune", "unsup-nat", "4")
    assert cell.n == 2 and "±" in table.index(0, 1).data()
    if cell.gain is not None:
        assert table.index(0, 1).data().endswith("%")
    x, y = view.monitor.results.ladder.points("finetune", "unsup-nat")  # the ladder chart draws the same cells
    assert list(x) == [0, 1] and y[0] == pytest.approx(cell.mean)
    groups = [view.monitor.results.group_combo.itemData(i) for i in range(view.monitor.results.group_combo.count())]
    assert groups == ["all relations", "Filling relations", "Mapping relations"]
    view.monitor.results.group_combo.setCurrentIndex(1)
    assert table.group == "Filling relations" and "Filling" in view.monitor.results.caption.text()

    png = view.save_curves_png(window.context.project.folder / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    # Runs list, samples, progress.
    assert [r.status for r in view.monitor.runs_model.runs] == ["finished"] * 8
    assert view.progress.value() == view.progress.maximum() == 8 * 20
    view.monitor.runs_table.selectRow(2)
    assert (
        view.monitor.samples_model.rowCount() > 0
        and view.monitor.runs_model.runs[2].label in view.monitor.samples_caption.text()
    )
    sample = view.monitor.samples_model.samples[0]
    assert {"input", "prediction", "references", "rougeL"} <= set(sample)
    for model in (
        view.monitor.runs_model,
        view.monitor.results.model,
        view.monitor.samples_model,
        view.settings.templates_model,
    ):
        qtmodeltester.check(model)

    # Everything on disk and in the project's run store.
    folder = view.folder
    assert folder.parent == window.context.project.folder / "experiments" and folder.name.startswith("test-")
    assert (folder / "report.md").is_file() and len(list((folder / "runs").iterdir())) == 8
    store = RunStore(window.context.project.run_store_path)
    assert [e.status for e in store.experiments()] == ["finished"]
    assert sorted({r.status for r in store.runs()}) == ["finished"] and len(store.runs()) == 8
    store.close()


def test_aggregate_seeds_uses_the_seeds_that_reached_each_step():
    a = np.array([[5, 40, 1.0], [10, 80, 3.0]])
    b = np.array([[5, 40, 2.0]])
    steps, examples, mean, sd, count = aggregate_seeds([a, b])
    assert list(steps) == [5, 10] and list(examples) == [40, 80] and list(count) == [2, 1]
    np.testing.assert_allclose(mean, [1.5, 3.0])
    np.testing.assert_allclose(sd, [np.std([1.0, 2.0], ddof=1), 0.0])


# --- pause, resume, stop, resume from the checkpoint ----------------------------------------------------------
def steps_of(events, after=0):
    return [e.step for e in events[after:] if isinstance(e, StepLogged)]


def test_pause_resume_stop_and_resume_from_the_checkpoint(window, qtbot):
    view = trainer_on(
        window, templates=("unsup-nat",), shots=("full",), seeds=(0,), steps=300, eval_every=25, batch_size=4
    )
    worker = view.start()
    events = collect(worker)
    qtbot.waitUntil(lambda: any(s >= 10 for s in steps_of(events)), timeout=RUN_TIMEOUT_MS)
    view.pause()
    assert view.state == "pausing"
    qtbot.waitUntil(lambda: any(isinstance(e, Paused) for e in events), timeout=RUN_TIMEOUT_MS)
    assert view.state == "paused" and view.resume_button.isEnabled() and not view.pause_button.isEnabled()
    paused_at = next(e.step for e in events if isinstance(e, Paused))
    count = len(events)
    qtbot.wait(300)
    assert len(events) == count, "a paused run takes no steps"
    assert view.monitor.runs_model.runs[0].status == "paused"
    view.resume()
    qtbot.waitUntil(lambda: any(isinstance(e, Resumed) for e in events), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: any(s > paused_at + 10 for s in steps_of(events)), timeout=RUN_TIMEOUT_MS)
    assert view.state == "running"
    view.stop()
    wait_idle(qtbot, view)
    assert view.last_status == "stopped"
    run = view.monitor.runs_model.runs[0]
    stopped_at = run.step
    assert run.status == "stopped" and 0 < stopped_at < 300 and "resumable" in run.reason
    run_dir = Path(run.folder)
    assert json.loads((run_dir / "result.json").read_text())["status"] == "stopped"
    assert view.resumable == view.folder and view.resume_button.isEnabled()
    assert "ETA" not in view.progress.format(), "a stopped experiment has no time left to estimate"
    assert view.settings.source_label.text().startswith("Trained "), view.settings.source_label.text()
    points_before = view.monitor.curves.seed_points(CurveKey("finetune", "unsup-nat", "full"), 0, "loss")

    window.show_workbench("runs")  # the Runs view hands a stopped experiment back to the Trainer
    runs = window.workbench("runs")
    runs.select_experiment(runs.tree_model.experiments()[0].id)
    assert runs.tree_model.experiments()[0].status == "stopped" and runs.resume_button.isEnabled()
    second = runs.resume_selected()
    assert second is not None and window.current_key == "trainer"
    resumed_events = collect(second)
    wait_idle(qtbot, view)
    assert view.last_status == "finished"
    started = next(e for e in resumed_events if isinstance(e, RunStarted))
    assert started.resumed_from == stopped_at, "the run continues from the checkpoint saved at the stop"
    new_steps = steps_of(resumed_events)
    assert new_steps[0] > stopped_at and new_steps[-1] == 300
    assert view.monitor.runs_model.runs[0].status == "finished" and view.monitor.runs_model.runs[0].step == 300
    loss = view.monitor.curves.seed_points(CurveKey("finetune", "unsup-nat", "full"), 0, "loss")
    assert list(loss[:, 0]) == list(range(5, 305, 5)), "the curve holds the steps before the stop, then the rest"
    np.testing.assert_allclose(
        loss[: len(points_before)][:, 2][: int(stopped_at // 5)], points_before[: int(stopped_at // 5)][:, 2]
    )
    store = RunStore(window.context.project.run_store_path)
    (row,) = store.runs()
    assert row.status == "finished" and [s for s, _, _ in store.series(row.id, "loss")] == list(range(5, 305, 5))
    store.close()


# --- a failed run ---------------------------------------------------------------------------------------------
def test_a_failed_run_shows_its_reason_and_the_next_run_works(window, qtbot, monkeypatch, dialogs):
    from mto_studio.core.training.methods import MethodRun
    from tests.helpers import nan_loss_at_step

    monkeypatch.setattr(MethodRun, "forward", MethodRun.forward)  # restored after the test
    nan_loss_at_step(3, seed=0)  # the first run's loss becomes NaN at step 3
    view = trainer_on(window, templates=("unsup-nat",), shots=("full",), seeds=(0, 1), steps=10, eval_every=5)
    view.start()
    wait_idle(qtbot, view)
    failed, finished = view.monitor.runs_model.runs
    assert failed.status == "failed" and "the loss became nan at step 3" in failed.reason
    assert failed.reason in view.monitor.runs_model.index(0, view.monitor.runs_model.COLUMNS.index("note")).data()
    assert view.monitor.notice.isVisible() and "the loss became nan" in view.monitor.notice_label.text()
    assert finished.status == "finished" and finished.step == 10
    assert view.last_status == "finished" and "1 failed" in view.status_label.text()
    assert view.monitor.results.model.cell("finetune", "unsup-nat", "full").n == 1, "the failed run is left out"
    assert dialogs.shown == [], "a failed run is a notice, not a modal dialog"
    store = RunStore(window.context.project.run_store_path)
    assert [r.status for r in store.runs()] == ["failed", "finished"]
    store.close()


def test_a_grid_that_cannot_run_says_why_at_once(window, dialogs):
    view = trainer_on(window, templates=("sup",), shots=("99",), seeds=(0,))
    view.settings.method_checks["finetune"].setChecked(False)
    assert view.start() is None and "no method is ticked" in dialogs.shown[-1]["text"]
    assert "no method" in view.settings.grid_summary.text()


# --- experiments prepared elsewhere, and closing ---------------------------------------------------------------
def test_an_experiment_the_analyzer_prepared_fills_the_form(window):
    project = window.context.project
    view = window.workbench("trainer")
    project.add_experiment(
        ExperimentConfig(
            name="analyzer-1",
            templates=["mixed", "sup"],
            shots=["8", "32", "full"],
            seeds=[0, 1, 2],
            objectives={"AtLocation": "filling"},
        )
    )
    window.context.library_changed.emit()  # what the Analyzer's "Use this recommendation" does after adding it
    assert view.settings.name_edit.text() == "analyzer-1", "a new project experiment is picked up at once"
    assert view.settings.experiment_combo.currentData() == "analyzer-1" and "ready" in view.status_label.text()
    view.settings.apply_config(ExperimentConfig(name="other"))
    window.show_workbench("trainer")
    assert view.settings.select_experiment("analyzer-1")
    assert view.settings.name_edit.text() == "analyzer-1"
    assert view.settings.templates_model.checked_keys() == ["mixed", "sup"] or set(
        view.settings.templates_model.checked_keys()
    ) == {
        "mixed",
        "sup",
    }
    assert view.settings.shots_editor.shots() == ["8", "32", "full"] and view.settings.seeds_edit.seeds() == [0, 1, 2]
    cfg = view.settings.current_config()
    assert cfg.templates == ["mixed", "sup"] and cfg.baseline == "sup" and cfg.objectives["AtLocation"] == "filling"
    assert "18 runs" in view.settings.grid_summary.text()


def test_closing_the_window_during_training_leaves_the_run_stopped_and_resumable(window, qtbot, dialogs):
    view = trainer_on(
        window, templates=("unsup-nat",), shots=("full",), seeds=(0,), steps=5000, eval_every=0, batch_size=4
    )
    worker = view.start()
    events = collect(worker)
    qtbot.waitUntil(lambda: any(s >= 10 for s in steps_of(events)), timeout=RUN_TIMEOUT_MS)
    assert view.unsaved_changes() and "training" in view.unsaved_changes()[0]
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 30, "closing waits for the checkpoint, not for the run"
    assert not window.isVisible() and worker.is_finished
    assert any("training" in q for q in dialogs.questions), "the running experiment was mentioned on close"
    run_dir = view.folder / "runs" / view.monitor.runs_model.runs[0].run_id
    assert json.loads((run_dir / "result.json").read_text())["status"] == "stopped"
    assert any((run_dir / "checkpoints").iterdir())
    store = RunStore(window.context.project.run_store_path)
    assert [r.status for r in store.runs()] == ["stopped"]
    assert [e.status for e in store.experiments()] == ["stopped"]
    store.close()
    # A fresh session offers to resume it.
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.workbenches.trainer.view import TrainerWorkbench

    again = TrainerWorkbench(StudioContext(Project.load(window.context.project.folder)))
    qtbot.addWidget(again)
    assert again.resumable == view.folder and again.resume_button.isEnabled()


def test_the_adaptation_stage_runs_first_and_shows_as_a_run(window, qtbot):
    view = trainer_on(window, templates=("unsup-nat",), shots=("full",), seeds=(0,), steps=5, eval_every=0)
    view.settings.adapt_box.setChecked(True)
    view.settings.adapt_box.steps_spin.setValue(5)
    assert (
        view.settings.current_config().adaptation.enabled
        and view.settings.current_config().adaptation.source == "world"
    )
    assert "+ 5 adaptation steps" in view.settings.grid_summary.text()
    view.start()
    wait_idle(qtbot, view)
    adaptation, run = view.monitor.runs_model.runs
    assert (adaptation.run_id, adaptation.status, adaptation.step) == ("adaptation", "finished", 5)
    assert run.status == "finished" and view.last_status == "finished"
    assert view.progress.maximum() == 10 and not view.monitor.runs_table.isColumnHidden(2), (
        "method shows with adaptation"
    )
    assert (view.folder / "adaptation" / "model" / "config.json").is_file()
