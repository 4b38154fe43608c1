"""The example opens from the File menu with its own splits; the Data workbench shows and sets train, validation
and test; without a test file every score in the Trainer and the Runs view says it is a validation score."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from mto_studio.core.training.experiment_config import ExperimentConfig  # noqa: E402
from mto_studio.gui.models.runs import RunsTreeModel  # noqa: E402

EXAMPLE = "example:atomic2020-xintent"
TIMEOUT_MS = 60_000


def open_example(window, qtbot):
    assert window.open_example("atomic2020-xintent")
    context = window.context
    qtbot.waitUntil(
        lambda: (
            context.data is not None
            and context.data.task is not None
            and "validation" in context.splits
            and "test" in context.splits
            and context.tokenizer is not None
        ),
        timeout=TIMEOUT_MS,
    )
    return context, window.workbench("data")


def test_the_example_opens_with_its_splits_shown(window, qtbot):
    context, view = open_example(window, qtbot)
    assert window.current_key == "data"
    assert context.project.data == EXAMPLE and context.project.validation_data == EXAMPLE
    assert context.project.name == "Example: ATOMIC-2020, relation xIntent"
    assert "Example: ATOMIC-2020" in window.windowTitle()
    assert view.split_labels["train"].text() == "train.tsv"
    assert view.split_counts["train"].text() == f"510 rows · 200 heads · {EXAMPLE}"
    assert view.split_labels["validation"].text() == "validation.tsv"
    assert view.split_labels["validation"].toolTip().endswith("atomic2020-xintent/validation.tsv")
    assert view.split_counts["validation"].text() == "79 rows · 30 heads"
    assert view.split_labels["test"].text() == "<b>none</b>"
    assert "No test file" in view.split_note.text() and "Validation ROUGE-L (best checkpoint)" in view.split_note.text()
    trainer = window.workbench("trainer")
    assert "no test split: scores are <b>validation</b> scores" in trainer.settings.source_label.text()
    # before anything runs, the Trainer's labels already say where the scores will come from
    assert trainer.monitor.results.model.label == "Validation ROUGE-L (best checkpoint)"
    assert "Validation ROUGE-L (best checkpoint)" in trainer.monitor.results.caption.text()


def test_a_bad_test_file_gets_a_dialog_naming_the_split_and_the_project_keeps_none(window, qtbot, dialogs, tmp_path):
    context, view = open_example(window, qtbot)
    bad = tmp_path / "held-out.csv"
    bad.write_text("colour,size\nred,big\n")
    with qtbot.waitSignal(context.split_failed, timeout=TIMEOUT_MS):
        context.set_split("test", str(bad))
    assert dialogs.shown[-1]["title"] == "Cannot use this test file"
    assert "test file held-out.csv: no recognisable columns" in dialogs.shown[-1]["text"]
    assert context.project.test_data is None and view.split_labels["test"].text() == "<b>none</b>"
    with qtbot.waitSignal(context.split_failed, timeout=TIMEOUT_MS):
        context.set_split("validation", str(tmp_path / "missing.tsv"))
    assert dialogs.shown[-1]["title"] == "Cannot use this validation file"
    assert "missing.tsv" in dialogs.shown[-1]["text"] and context.project.validation_data == EXAMPLE


def test_a_test_file_is_shown_with_its_counts_and_changes_the_labels(window, qtbot, tmp_path):
    context, view = open_example(window, qtbot)
    good = tmp_path / "my-test.tsv"
    good.write_text(
        "prefix\tinput_text\ttarget_text\nxIntent\tPersonX waves\tto greet\n"
        "xIntent\tPersonX waves\tto be polite\nxIntent\tPersonX sings\tto have fun\n"
    )
    with qtbot.waitSignal(context.splits_changed, timeout=TIMEOUT_MS):
        context.set_split("test", str(good))
    assert context.project.test_data == str(good) and context.project.is_modified
    assert view.split_labels["test"].text() == "my-test.tsv"
    assert view.split_counts["test"].text() == "3 rows · 2 heads"
    assert "measured on the test split only" in view.split_note.text()
    assert "scores on the <b>test</b> split" in window.workbench("trainer").settings.source_label.text()
    context.set_split("test", None)
    qtbot.waitUntil(lambda: view.split_labels["test"].text() == "<b>none</b>", timeout=TIMEOUT_MS)
    assert context.project.test_data is None
    # another training file: the example's own validation file does not carry over
    with qtbot.waitSignal(context.data_changed, timeout=TIMEOUT_MS):
        context.load_data(str(good))
    qtbot.waitUntil(lambda: context.project.data == str(good), timeout=TIMEOUT_MS)
    assert context.project.validation_data is None
    qtbot.waitUntil(lambda: view.split_labels["validation"].text().startswith("held out of train"), timeout=TIMEOUT_MS)


def test_an_experiment_on_the_example_labels_every_score_as_validation(window, qtbot):
    context, _ = open_example(window, qtbot)
    window.show_workbench("trainer")
    view = window.workbench("trainer")
    view.settings.apply_config(
        ExperimentConfig(
            name="example",
            templates=["unsup-nat", "sup"],
            shots=["8"],
            seeds=[0],
            train={"steps": 10, "eval_every": 5, "batch_size": 8, "max_new_tokens": 6, "warmup_steps": 2},
        )
    )
    worker = view.start()
    assert worker is not None
    qtbot.waitUntil(lambda: view.worker is None, timeout=180_000)
    label = "Validation ROUGE-L (best checkpoint)"
    column = view.monitor.runs_model.COLUMNS.index("ROUGE-L")
    assert view.monitor.runs_model.headerData(column, Qt.Orientation.Horizontal) == "val ROUGE-L (best)"
    assert view.monitor.runs_model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == label
    assert [r.scored_on for r in view.monitor.runs_model.runs] == ["validation", "validation"]
    assert view.monitor.results.model.label == label
    assert label in view.monitor.results.caption.text() and "No test split" in view.monitor.results.caption.text()
    assert "Test ROUGE-L" not in view.monitor.results.caption.text()
    assert view.monitor.results.model.filled == 2
    runs = window.workbench("runs")
    runs.refresh()
    model = runs.tree_model
    texts = []
    for row in range(model.rowCount()):
        parent = model.index(row, 0)
        for child in range(model.rowCount(parent)):
            index = model.index(child, RunsTreeModel.COLUMNS.index("ROUGE-L"), parent)
            texts.append(model.data(index))
            assert label in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert len(texts) == 2 and all(t.endswith(" val") for t in texts), texts


def test_the_open_example_dialog_describes_the_data_and_its_licence(qtbot, qapp):
    from mto_studio.gui.dialogs import OpenExampleDialog

    dialog = OpenExampleDialog()
    qtbot.addWidget(dialog)
    assert dialog.list.count() >= 1 and dialog.chosen() == "atomic2020-xintent"
    text = dialog.description.text()
    assert "ATOMIC-2020, relation xIntent" in text and "train: train.tsv" in text and "no test file" in text
    assert "Creative Commons Attribution 4.0 International licence (CC BY 4.0)" in text
    assert "**" not in text and "`" not in text


def test_clear_on_the_examples_own_validation_file_holds_heads_out_and_restore_brings_it_back(window, qtbot):
    context, view = open_example(window, qtbot)
    assert view.split_clear["validation"].text() == "Clear" and view.split_clear["validation"].isEnabled()
    view.split_clear["validation"].click()
    qtbot.waitUntil(lambda: view.split_labels["validation"].text().startswith("held out of train"), timeout=TIMEOUT_MS)
    assert context.project.validation_data == "none" and context.project.split_ref("validation") is None
    assert view.split_counts["validation"].text() == "8 heads"
    assert view.split_clear["validation"].text() == "Restore"
    assert "heads held out of the training data" in window.workbench("trainer").settings.source_label.text()
    view.split_clear["validation"].click()
    qtbot.waitUntil(lambda: view.split_labels["validation"].text() == "validation.tsv", timeout=TIMEOUT_MS)
    assert context.project.validation_data is None and view.split_clear["validation"].text() == "Clear"
    assert not view.split_clear["test"].isEnabled()  # no test file to clear


def test_a_project_naming_an_example_this_install_lacks_gets_a_dialog_not_a_traceback(window, qtbot, dialogs, tmp_path):
    from mto_studio.core.project import Project

    project = Project.create(tmp_path / "old", "old", data="example:atomic2019-gone")
    window._open(project)
    qtbot.waitUntil(lambda: bool(dialogs.shown), timeout=TIMEOUT_MS)
    assert "no example named 'atomic2019-gone'" in dialogs.shown[-1]["text"]
    view = window.workbench("data")
    view.splits.refresh()
    assert "no example named 'atomic2019-gone'" in view.split_labels["validation"].text()
