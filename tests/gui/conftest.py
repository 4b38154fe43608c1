"""GUI fixtures: settings and the user data dir in tmp, a tiny model, captured dialogs, an open main window."""

from __future__ import annotations

import pytest

from mto_studio.core.project import DATA_DIR_ENV, Project

# Qt is imported inside the fixtures: without PySide6 the test modules skip themselves (importorskip), and this
# file must still import.

LOAD_TIMEOUT_MS = 30_000


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from tests.helpers import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """QSettings and the per-user data folder live in tmp_path for the test."""
    from PySide6.QtCore import QSettings

    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "user-data"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    return tmp_path


@pytest.fixture
def dialogs(monkeypatch):
    """Captures every message box instead of showing it; ``answers`` feeds Save/Discard/Cancel questions
    (Discard when empty, so closing a window at teardown never blocks)."""
    from PySide6.QtWidgets import QMessageBox

    class Captured:
        def __init__(self) -> None:
            self.shown: list[dict] = []
            self.questions: list[str] = []
            self.answers: list[QMessageBox.StandardButton] = []

    captured = Captured()

    def fake_open(box, *args):
        captured.shown.append({"title": box.windowTitle(), "text": box.text(), "info": box.informativeText()})

    def fake_question(parent, title, text, *args, **kwargs):
        captured.questions.append(text)
        return captured.answers.pop(0) if captured.answers else QMessageBox.StandardButton.Discard

    monkeypatch.setattr(QMessageBox, "open", fake_open)
    monkeypatch.setattr(QMessageBox, "question", fake_question)
    return captured


@pytest.fixture
def default_project(isolated, tiny_model_dir) -> Project:
    """The default project as first launch creates it, pointed at the tiny test model."""
    project = Project.open_or_create_default()
    project.model = str(tiny_model_dir)
    project.save()
    return project


@pytest.fixture
def small_world_project(isolated, tiny_model_dir, small_world_tsv) -> Project:
    """The default project on the tiny test model and the small world slice (2 relations × 14 heads); a test
    module uses it for its window by defining ``default_project`` as this fixture."""
    project = Project.open_or_create_default()
    project.model = str(tiny_model_dir)
    project.data = str(small_world_tsv)
    project.save()
    return project


@pytest.fixture
def window(qtbot, qapp, default_project, dialogs):
    """The main window on the default project, with the world's rows and the tokenizer loaded."""
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow
    from mto_studio.gui.theme import apply_theme

    apply_theme(qapp)
    context = StudioContext(default_project)
    main = MainWindow(context)
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    qtbot.waitUntil(
        lambda: (
            context.data is not None
            and context.data.task is not None
            and (context.tokenizer is not None or context.tokenizer_error is not None)
        ),
        timeout=LOAD_TIMEOUT_MS,
    )
    assert context.tokenizer is not None, context.tokenizer_error
    yield main
    context.shutdown()
