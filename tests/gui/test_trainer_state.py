"""State that used to live in widgets and outlive its moment: another project's experiment on screen, a resumed
experiment shown with the form's settings, run buttons that move under the pointer."""

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint  # noqa: E402

from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402

TIMEOUT_MS = 120_000


@pytest.fixture
def default_project(small_world_project) -> Project:
    return small_world_project


def small(name="first", shots=("4",), steps=10, **train):
    return ExperimentConfig(
        name=name, templates=["unsup-nat"], shots=list(shots), seeds=[0],
        train={"steps": steps, "eval_every": 5, "batch_size": 8, "validation_heads": 4, "warmup_steps": 2,
               "max_new_tokens": 4, **train},
    )  # fmt: skip


def run_to_end(qtbot, view, cfg):
    view.settings.apply_config(cfg)
    assert view.start() is not None
    qtbot.waitUntil(lambda: view.worker is None, timeout=TIMEOUT_MS)


def test_a_new_project_shows_none_of_the_previous_projects_experiment(window, qtbot, tmp_path):
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    run_to_end(qtbot, view, small(name="old-project-run"))
    assert view.monitor.runs_model.runs and view.monitor.results.model.filled == 1 and view.last_status == "finished"
    assert window.new_project(str(tmp_path / "fresh"))
    assert (
        view.monitor.runs_model.runs == []
        and view.monitor.results.model.filled == 0
        and view.monitor.results.model.rows == []
    )
    assert view.settings.name_edit.text() == "experiment" and view.status_label.text() == ""
    assert view.progress.value() <= 0 and "old-project-run" not in view.settings.source_label.text()
    assert list(view.monitor.curves.keys()) == []


def test_resuming_a_stored_experiment_shows_its_own_settings_and_data(window, qtbot, tmp_path):
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    view.settings.apply_config(small(name="stopped-one", shots=("full",), steps=400))
    worker = view.start()
    qtbot.waitUntil(lambda: any(r.step >= 10 for r in view.monitor.runs_model.runs), timeout=TIMEOUT_MS)
    view.stop()
    qtbot.waitUntil(lambda: view.worker is None, timeout=TIMEOUT_MS)
    assert worker is not None and view.resumable is not None
    # the user now changes the form (and the project's data), then presses Resume
    other = tmp_path / "other.tsv"
    other.write_text(Path(window.context.project.data).read_text())
    window.context.project.data = str(other)
    view.settings.apply_config(small(name="something-else", shots=("4", "full")))
    resumed = view.resume()
    assert resumed is not None
    qtbot.waitUntil(lambda: view.config is not None and view.config.name == "stopped-one", timeout=TIMEOUT_MS)
    assert view.settings.name_edit.text() == "stopped-one" and view.settings.shots_editor.shots() == ["full"]
    assert "small.tsv" in view.settings.source_label.text() and "other.tsv" not in view.settings.source_label.text()
    view.stop()
    qtbot.waitUntil(lambda: view.worker is None, timeout=TIMEOUT_MS)


@pytest.mark.parametrize("workbench", ["trainer", "lab", "analyzer"])
def test_the_run_buttons_do_not_move_when_the_status_grows(window, qtbot, workbench):
    window.show_workbench(workbench)
    view = window.workbench(workbench)
    button = view.start_button if hasattr(view, "start_button") else view.run_button
    qtbot.wait(50)
    before = button.mapTo(window, QPoint(0, 0))
    view.status_label.setText("a status that is long enough to wrap onto a second and then a third line of the "
                              "narrow settings column, as the running state's text does")  # fmt: skip
    qtbot.wait(50)
    assert button.mapTo(window, QPoint(0, 0)) == before
    view.status_label.setText("")
    qtbot.wait(50)
    assert button.mapTo(window, QPoint(0, 0)) == before


def test_the_window_opens_with_only_the_shown_workbench_built_and_closes_without_waiting_for_loaders(
    qtbot, qapp, isolated, dialogs, monkeypatch
):
    import threading

    import mto_studio.gui.context as context_module
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow

    release = threading.Event()
    real = context_module.read_data

    def slow_read(*args):
        release.wait(30)  # a large file still being read
        return real(*args)

    monkeypatch.setattr(context_module, "read_data", slow_read)
    context = StudioContext(Project.open_or_create_default())
    window = MainWindow(context)
    window.show()
    try:
        assert list(window.workbenches) == ["data"], "only the visible workbench is built at start-up"
        trainer = window.workbench("trainer")  # built on first use, in its place in the stack
        assert list(window.workbenches) == ["data", "trainer"] and window.stack.indexOf(trainer) == 3
        assert window.stack.count() == 6 and context.data is None
        window.close()  # returns at once: the loader only reads, the app waits for it after its loop
        assert not window.isVisible() and context.data is None and len(context.workers.active) >= 1
    finally:
        release.set()
        assert context.shutdown()


def test_the_trainer_form_takes_ranges_and_help_from_the_config_fields(window):
    from mto_studio.core.config import field_info
    from mto_studio.core.training.config import TrainConfig

    view = window.workbench("trainer")
    for spin, name in ((view.settings.steps_spin, "steps"), (view.settings.lr_spin, "lr"), (view.settings.batch_spin, "batch_size"),
                       (view.settings.eval_spin, "eval_every"), (view.settings.prompt_lr_spin, "prompt_lr")):  # fmt: skip
        info = field_info(TrainConfig, name)
        assert spin.toolTip().startswith(info.describe()), name
        assert spin.minimum() == info.low and (info.high is None or spin.maximum() == info.high), name


def test_the_lab_and_analyzer_fields_and_the_device_list_come_from_the_config_fields(window):
    from mto_studio.core.analysis.config import AnalysisConfig
    from mto_studio.core.config import field_info
    from mto_studio.core.models.loading import DEVICES
    from mto_studio.core.pretraining.recipe import ObjectiveMix
    from mto_studio.core.training.config import TrainConfig

    threshold = window.workbench("analyzer").settings.threshold_spin
    info = field_info(AnalysisConfig, "threshold")
    assert threshold.toolTip().startswith(info.describe())
    assert (threshold.minimum(), threshold.maximum()) == (info.low, info.high)
    noise = window.workbench("lab").settings.noise_spin
    info = field_info(ObjectiveMix, "noise_density")
    assert noise.toolTip().startswith(info.describe()) and noise.minimum() == (info.low or 0.0)
    combo = window.workbench("trainer").settings.device_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(DEVICES)
    assert combo.toolTip() == field_info(TrainConfig, "device").describe()
