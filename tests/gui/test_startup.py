"""run_app end to end in a fresh interpreter (the user's path: heavy libraries first imported in workers), and
the lock that keeps those imports from racing."""

import os
import subprocess
import sys
import threading

import pytest

pytest.importorskip("PySide6")

from mto_studio.core.project import DATA_DIR_ENV, Project  # noqa: E402

STARTUP = r"""
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[1])
app = QApplication([])
from mto_studio.gui.app import run_app

def poll():
    windows = [w for w in app.topLevelWidgets() if w.objectName() == "main-window" and w.isVisible()]
    if windows:
        context = windows[0].context
        loaded = context.data is not None and (context.tokenizer is not None or context.tokenizer_error is not None)
        if loaded:
            print("DATA", context.data.task.summary() if context.data.task else None)
            print("TOKENIZER", type(context.tokenizer).__name__, context.tokenizer_error)
            print("TITLE", windows[0].windowTitle())
            windows[0].close()
            return
    QTimer.singleShot(50, poll)

QTimer.singleShot(0, poll)
sys.exit(run_app([]))
"""


def test_run_app_opens_the_default_project_and_closes_cleanly(tmp_path, tiny_model_dir):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{DATA_DIR_ENV: str(tmp_path / "data")})
    os.environ[DATA_DIR_ENV] = env[DATA_DIR_ENV]
    try:
        project = Project.open_or_create_default()  # as first launch would, then pointed at the test model
        project.model = str(tiny_model_dir)
        project.save()
    finally:
        del os.environ[DATA_DIR_ENV]
    done = subprocess.run(
        [sys.executable, "-c", STARTUP, str(tmp_path / "settings")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    from mto_studio.core.data import load_task_data
    from mto_studio.core.training.data import world_file

    assert f"DATA {load_task_data(world_file('train')).summary()}" in done.stdout
    assert "TOKENIZER T5Tokenizer None" in done.stdout
    assert "TITLE Default project" in done.stdout
    assert (tmp_path / "settings" / "MTO Studio" / "MTO Studio.ini").is_file(), "UI state saved on close"


def test_data_loading_holds_the_library_lock(monkeypatch):
    from mto_studio.gui import context as context_module
    from mto_studio.gui.workers import LIBRARY_LOCK

    seen = {}

    def fake_load_table(path):
        # Another thread (a tokenizer import) must not get the lock while datasets is at work.
        probe = threading.Thread(
            target=lambda: seen.setdefault("other_thread_got_it", LIBRARY_LOCK.acquire(blocking=False))
        )
        probe.start()
        probe.join()
        raise context_module.DataError("stop here", "")

    monkeypatch.setattr(context_module, "load_table", fake_load_table)
    with pytest.raises(context_module.DataError):
        context_module.read_data("x", "x.tsv", None)
    assert seen == {"other_thread_got_it": False}


def test_the_window_check_exits_cleanly_when_closed_before_the_loaders_finish(tmp_path):
    """--self-test's window check closes as soon as the rows are there, while the tokenizer may still load: the
    process must wait for that thread after closing (a running QThread at exit aborts the process)."""
    code = "import sys; from mto_studio.gui.app import self_test_window; sys.exit(self_test_window())"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MTO_SELFTEST_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "closed in" in done.stdout and "Destroyed while thread" not in done.stderr
