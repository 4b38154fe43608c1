"""Start the desktop app: the Qt application, the startup project, the main window."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mto_studio.core.runtime import prepare_environment

_IMPORTED_AT = time.time()


def startup_project(settings):
    """The last project opened (if it still loads), else the default project, created on first launch.
    Returns (project, error): when even the default cannot be read, an unsaved fresh default and the error."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.project import PROJECT_FILE, Project, default_project_dir
    from mto_studio.gui.settings import recent_projects

    recent = recent_projects(settings)
    if recent and (Path(recent[0]) / PROJECT_FILE).is_file():
        try:
            return Project.load(recent[0]), None
        except MtoError:
            pass  # fall back to the default project; the broken one stays in the recent list
    try:
        return Project.open_or_create_default(), None
    except MtoError as exc:
        return Project.new(default_project_dir(), "Default project"), exc


def run_app(argv: list[str] | None = None) -> int:
    """Run MTO Studio until its window closes; returns the exit code."""
    prepare_environment()
    from PySide6.QtWidgets import QApplication

    from mto_studio import __version__
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.dialogs import show_error
    from mto_studio.gui.main_window import MainWindow
    from mto_studio.gui.settings import APPLICATION, ORGANIZATION, app_settings
    from mto_studio.gui.theme import apply_theme, icon

    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication([sys.argv[0] if sys.argv else "mto-studio", *(argv or [])])
    )
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icon("mto-studio"))
    apply_theme(app)
    settings = app_settings()
    project, error = startup_project(settings)
    context = StudioContext(project)
    window = MainWindow(context, settings)
    window.show()
    if error is not None:
        show_error(window, "Cannot open the default project", error, path=str(project.project_file))
    if os.environ.get("MTO_STARTUP_PROBE"):
        _report_startup(app, window)
    code = app.exec()
    context.shutdown()  # the loaders the window did not wait for (reading a large file can take seconds)
    return code


def _report_startup(app, window) -> None:
    """Print the seconds from process start to the window's first paint, then quit (packaging measures the cold
    start of a bundle with MTO_STARTUP_PROBE=1)."""
    from PySide6.QtCore import QTimer

    def report() -> None:
        try:
            import psutil

            started = psutil.Process().create_time()
        except ImportError:  # psutil comes with accelerate; without it, time since this module was imported
            started = _IMPORTED_AT
        print(f"startup: window visible after {time.time() - started:.2f} s", flush=True)
        app.quit()

    window.repaint()
    QTimer.singleShot(0, report)


def self_test_window() -> int:
    """Open the main window on the default project offscreen, wait for its data to load, close it; exit 0 or 1.
    Used by `mto-studio --self-test` (in a child process, so a Qt crash cannot take the self-test down)."""
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = os.environ.get("MTO_SELFTEST_HOME") or tempfile.mkdtemp(prefix="mto-selftest-")
    os.environ["MTO_STUDIO_DATA_DIR"] = str(Path(home) / "data")
    prepare_environment()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(home) / "settings"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    from mto_studio.core.project import Project
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow
    from mto_studio.gui.settings import app_settings

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(["mto-studio-self-test"])
    start = time.perf_counter()
    context = StudioContext(Project.open_or_create_default())
    window = MainWindow(context, app_settings())
    window.show()
    deadline = time.perf_counter() + 120
    while context.data is None and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.02)
    data = context.data
    window.close()
    app.processEvents()
    context.shutdown()  # closing does not wait for the loaders (the tokenizer may still be reading): the app does
    if data is None:
        print("the window opened but the default project's data did not load within 120 s")
        return 1
    if data.task is None:
        print(f"the default project's data loaded without heads: {data.error}")
        return 1
    print(
        f"window opened on the default project ({data.task.summary()}) and closed in "
        f"{time.perf_counter() - start:.1f} s"
    )
    return 0
