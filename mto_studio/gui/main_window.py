"""The main window: a sidebar of workbenches, File menu, a notice banner and a status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.project import PROJECT_FILE, Project
from mto_studio.core.store.locks import FolderLock
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import (
    ChooseModelDialog,
    OpenExampleDialog,
    ask_unsaved,
    choose_data_file,
    show_about,
    show_error,
)
from mto_studio.gui.format import esc
from mto_studio.gui.settings import app_settings, forget_project, recent_projects, remember_project
from mto_studio.gui.theme import icon
from mto_studio.gui.widgets.banner import NoticeBanner, add_action
from mto_studio.gui.widgets.status import ProjectStatus
from mto_studio.gui.workbenches import WORKBENCHES, ExperimentResumer, build_workbench


class MainWindow(QMainWindow):
    """Hosts the registered workbenches over one StudioContext; owns the menus, dialogs and closing."""

    def __init__(self, context: StudioContext, settings: QSettings | None = None) -> None:
        super().__init__()
        self.context = context
        self.settings = settings or app_settings()
        self.setObjectName("main-window")
        self.setWindowIcon(icon("mto-studio"))
        self.setMinimumSize(QSize(960, 640))
        self.workbenches: dict[str, QWidget] = {}

        central = QWidget()
        outer = QHBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        sidebar_panel = QWidget()
        sidebar_layout = QVBoxLayout(sidebar_panel)
        sidebar_layout.setContentsMargins(0, 0, 0, 0)
        sidebar_layout.setSpacing(0)
        brand = QLabel("MTO Studio")
        brand.setObjectName("brand")
        sidebar_layout.addWidget(brand)
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(22, 22))
        self.sidebar.setFixedWidth(150)
        brand.setFixedWidth(150)
        sidebar_layout.addWidget(self.sidebar, 1)
        outer.addWidget(sidebar_panel)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(0)
        self.banner = NoticeBanner()
        right_layout.addWidget(self.banner)
        self.stack = QStackedWidget()
        right_layout.addWidget(self.stack, 1)
        outer.addWidget(right, 1)
        self.setCentralWidget(central)

        # Workbenches are built on their first visit (start-up builds only the one shown), so the window paints
        # before the heavy views and their imports exist. ``workbenches`` holds the built ones.
        self._registry = {workbench.key: workbench for workbench in WORKBENCHES}
        self._keys = list(self._registry)
        for workbench in WORKBENCHES:
            self.stack.addWidget(QWidget())  # a stand-in until the workbench is first shown
            item = QListWidgetItem(icon(workbench.icon), workbench.title)
            item.setToolTip(workbench.tooltip)
            item.setData(Qt.ItemDataRole.UserRole, workbench.key)
            self.sidebar.addItem(item)
        self.sidebar.currentRowChanged.connect(self._on_sidebar)

        context.set_resume_handler(self._resume_in_trainer)
        self._build_menus()
        self._build_status_bar()
        context.project_changed.connect(self._update_titles)
        context.modified_changed.connect(lambda _m: self._update_titles())
        context.data_loading.connect(lambda _p: self._update_status())
        context.data_changed.connect(self._update_status)
        context.data_failed.connect(self._on_data_failed)
        context.tokenizer_loading.connect(lambda _r: self._update_status())
        context.tokenizer_changed.connect(self._on_tokenizer)
        context.busy_changed.connect(lambda _n: self._update_status())
        context.lock_changed.connect(self._on_lock_changed)
        self._restore_state()
        self._update_titles()
        remember_project(self.settings, context.project.folder)
        self._fill_recent_menu()
        self._on_lock_changed()
        QTimer.singleShot(0, self._say_read_only)  # once the window shows: the dialog sits on it
        if context.data is None and context.data_loading_path is None:
            context.reload()

    # --- workbenches -------------------------------------------------------------------------------------------
    def workbench(self, key: str) -> QWidget:
        """The workbench ``key``, built now if it has not been shown yet."""
        widget = self.workbenches.get(key)
        if widget is None:
            index = self._keys.index(key)
            widget = build_workbench(self._registry[key], self.context)
            widget.setObjectName(f"workbench-{key}")
            stand_in = self.stack.widget(index)
            self.stack.insertWidget(index, widget)
            if stand_in is not None:
                self.stack.removeWidget(stand_in)
                stand_in.deleteLater()
            self.workbenches[key] = widget
            if hasattr(widget, "restore_state"):
                widget.restore_state(self.settings)
        return widget

    def _resume_in_trainer(self, folder: Path):
        trainer = self.workbench("trainer")
        if not isinstance(trainer, ExperimentResumer):
            return None
        if trainer.is_running:
            show_error(
                self,
                "The Trainer is busy",
                MtoError("another experiment is training", "stop it first, or wait until it finishes"),
            )
            return None
        worker = trainer.resume(folder)
        if worker is not None:
            self.show_workbench("trainer")
        return worker

    def show_workbench(self, key: str) -> None:
        self.sidebar.setCurrentRow(self._keys.index(key))

    @property
    def current_key(self) -> str:
        return self._keys[self.stack.currentIndex()]

    def _on_sidebar(self, row: int) -> None:
        if row < 0:
            return
        widget = self.workbench(self._keys[row])
        self.stack.setCurrentIndex(row)
        if hasattr(widget, "activated"):
            widget.activated()

    # --- menus ---------------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        add_action(
            file_menu,
            "&New project…",
            self.new_project,
            QKeySequence.StandardKey.New,
            "create a project in a new folder",
        )
        add_action(file_menu, "&Open project…", self.open_project, QKeySequence.StandardKey.Open)
        add_action(
            file_menu,
            "Open e&xample…",
            self.open_example,
            tip="real data shipped with MTO Studio, opened as a project with its own training and validation files",
        )
        self.recent_menu = file_menu.addMenu("Recent projects")
        file_menu.addSeparator()
        self.save_action = add_action(
            file_menu, "&Save", self.save, QKeySequence.StandardKey.Save, "save the project and edited templates"
        )
        add_action(
            file_menu,
            "Save &as…",
            self.save_as,
            QKeySequence.StandardKey.SaveAs,
            "save a copy of the project in another folder and continue there",
        )
        file_menu.addSeparator()
        add_action(file_menu, "Open &data…", self.open_data, "Ctrl+D", "load a CSV, TSV, JSONL or Parquet file")
        add_action(file_menu, "Use the built-in &world", lambda: self.context.load_data("world"))
        add_action(
            file_menu,
            "Choose &model…",
            self.choose_model,
            "Ctrl+M",
            "the embedded model, a model folder, or a hub id (offline: from the local Hugging Face cache)",
        )
        file_menu.addSeparator()
        add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        view_menu = self.menuBar().addMenu("&View")
        for number, workbench in enumerate(WORKBENCHES, start=1):
            add_action(
                view_menu,
                workbench.title,
                lambda k=workbench.key: self.show_workbench(k),
                f"Ctrl+{number}" if number < 10 else None,
            )
        help_menu = self.menuBar().addMenu("&Help")
        add_action(help_menu, "&About MTO Studio", lambda: show_about(self))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = recent_projects(self.settings)
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _checked=False, f=folder: self.open_project(f))
        self.recent_menu.setEnabled(bool(recent))

    # --- status --------------------------------------------------------------------------------------------------
    def _build_status_bar(self) -> None:
        self.status = ProjectStatus(self.statusBar(), self.context)
        self.project_status, self.model_status, self.data_status = self.status.labels

    def _update_titles(self) -> None:
        project = self.context.project
        read_only = " (read-only)" if self.context.lease.read_only else ""
        self.setWindowTitle(f"{project.name}[*]{read_only} — MTO Studio")
        self.setWindowModified(project.is_modified)
        self._update_status()

    def _update_status(self) -> None:
        self.status.update()

    def _on_tokenizer(self) -> None:
        self._update_status()
        error = self.context.tokenizer_error
        if error is None:
            self.banner.clear_notice("tokenizer")
            return
        hint = error.hint[:1].upper() + error.hint[1:]
        self.banner.show_notice(
            f"<b>No tokenizer:</b> {error.message}.<br>{hint}.", "Choose model…", self.choose_model, key="tokenizer"
        )

    def _on_lock_changed(self) -> None:
        """The read-only notice follows the project's lock: shown while another process holds the project."""
        self._update_titles()
        error = self.context.lease.busy
        if error is None:
            self.banner.clear_notice("read-only")
            return
        who = error.holder.describe() if error.holder is not None else "another process"
        self.banner.show_notice(
            f"<b>Read-only:</b> the project is open read-only because {esc(who)} has it open; saving is turned off "
            "(experiments and analyses still run).<br>To edit it here, close the other MTO Studio window that has it "
            "open and press <i>Open again</i>; or keep a copy of your changes with File ▸ Save as…",
            "Open again",
            lambda: self.open_project(str(self.context.project.folder)),
            key="read-only",
        )

    def _say_read_only(self) -> None:
        error = self.context.lease.busy
        if error is not None:
            show_error(self, "The project is open read-only", error, path=str(self.context.project.project_file))

    def _on_data_failed(self, error: MtoError, path: str) -> None:
        self._update_status()
        show_error(self, "Cannot open the data file", error, path=path)

    # --- project actions -------------------------------------------------------------------------------------
    def unsaved_changes(self) -> list[str]:
        changes = []
        if self.context.project.is_modified:
            changes.append(f"project '{self.context.project.name}' (model, data, columns or phrases)")
        for widget in self.workbenches.values():
            if hasattr(widget, "unsaved_changes"):
                changes += widget.unsaved_changes()
        return changes

    def _settle_unsaved(self) -> bool:
        """Ask Save/Discard/Cancel when something is unsaved; True when it is fine to go on."""
        changes = self.unsaved_changes()
        if not changes:
            return True
        answer = ask_unsaved(self, changes)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        if answer == QMessageBox.StandardButton.Discard:
            for widget in self.workbenches.values():
                if hasattr(widget, "discard_changes"):
                    widget.discard_changes()
            return True
        return False

    def save(self) -> bool:
        try:
            self.context.save_project()
            for widget in self.workbenches.values():
                if hasattr(widget, "save_changes") and not widget.save_changes():
                    self.show_workbench(next(k for k, w in self.workbenches.items() if w is widget))
                    self.statusBar().showMessage("a template has errors and was not saved; fix it or discard it", 8000)
                    return False
        except MtoError as exc:
            show_error(self, "Cannot save the project", exc, path=str(self.context.project.project_file))
            return False
        self.statusBar().showMessage(f"saved {self.context.project.project_file}", 4000)
        self._update_titles()
        return True

    def save_as(self, folder: str | None = None) -> bool:
        folder = folder or QFileDialog.getExistingDirectory(self, "Save the project in a folder")
        if not folder:
            return False
        try:
            self.context.save_project(folder)
        except MtoError as exc:
            show_error(self, "Cannot save the project", exc, path=folder)
            return False
        remember_project(self.settings, folder)
        self._fill_recent_menu()
        self._update_titles()
        return True

    def new_project(self, folder: str | None = None) -> bool:
        if not self._settle_unsaved():
            return False
        folder = folder or QFileDialog.getExistingDirectory(self, "Choose an empty folder for the new project")
        if not folder:
            return False
        try:
            lock = self.context.lease.claim(folder)  # before anything is written there
        except MtoError as exc:
            show_error(self, "Cannot create the project", exc, path=folder)
            return False
        try:
            project = Project.create(folder, Path(folder).name)
        except MtoError as exc:
            self.context.lease.drop(lock)
            show_error(self, "Cannot create the project", exc, path=folder)
            return False
        self._open(project, lock)
        return True

    def open_project(self, path: str | None = None) -> bool:
        if not self._settle_unsaved():
            return False
        path = path or QFileDialog.getExistingDirectory(self, "Open a project folder")
        if not path:
            return False
        try:
            project = Project.load(path)
        except MtoError as exc:
            show_error(self, "Cannot open the project", exc, path=str(Path(path) / PROJECT_FILE))
            if not (Path(path) / PROJECT_FILE).exists():
                forget_project(self.settings, path)
                self._fill_recent_menu()
            return False
        self._open(project)
        return True

    def open_example(self, name: str | None = None) -> bool:
        """Open a shipped example as a project (created in the user data folder on first use)."""
        if not self._settle_unsaved():
            return False
        if name is None:
            dialog = OpenExampleDialog(self)
            name = dialog.chosen() if dialog.exec() == OpenExampleDialog.DialogCode.Accepted else None
            if not name:
                return False
        try:
            project = Project.open_example(name)
        except MtoError as exc:
            show_error(self, "Cannot open the example", exc)
            return False
        self._open(project)
        self.show_workbench("data")
        return True

    def _open(self, project: Project, lock: FolderLock | None = None) -> None:
        for widget in self.workbenches.values():
            if hasattr(widget, "discard_changes"):
                widget.discard_changes()
        self.context.open_project(project, lock=lock)
        remember_project(self.settings, project.folder)
        self._fill_recent_menu()
        self._say_read_only()
        if project.template_errors:
            show_error(
                self,
                "Some project templates could not be read",
                project.template_errors[0],
                path=project.template_errors[0].source_name,
            )

    def open_data(self, path: str | None = None) -> None:
        path = path or choose_data_file(self)
        if path:
            self.context.load_data(path)

    def choose_model(self, ref: str | None = None) -> None:
        if ref is None:
            dialog = ChooseModelDialog(self.context.project.model, self)
            if dialog.exec() != ChooseModelDialog.DialogCode.Accepted:
                return
            ref = dialog.reference()
        self.context.set_model(ref)

    # --- state and closing -----------------------------------------------------------------------------------
    def _restore_state(self) -> None:
        settings = self.settings
        geometry = settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1600, 1000)
        state = settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        key = settings.value("window/workbench", "data")
        self.show_workbench(key if key in self._registry else "data")

    def save_ui_state(self) -> None:
        settings = self.settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/workbench", self.current_key)
        for widget in self.workbenches.values():
            if hasattr(widget, "save_state"):
                widget.save_state(settings)
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._settle_unsaved():
            event.ignore()
            return
        self.save_ui_state()
        for widget in self.workbenches.values():
            if hasattr(widget, "shutdown"):
                widget.shutdown()  # a training job checkpoints and ends here (bounded): nothing is lost
        self.context.release_project()  # another window may open it now
        self.context.shutdown(wait=False)  # loaders only read: the window goes now, the app waits after its loop
        event.accept()
