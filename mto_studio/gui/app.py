"""Start the desktop app: the Qt application, the startup project, the main window."""

from __future__ import annotations

import sys
from pathlib import Path

from mto_studio.core.runtime import prepare_environment


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

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "mto-studio", *(argv or [])])
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
    return app.exec()
