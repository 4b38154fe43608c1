"""The Runs workbench's exports: what a run produced (model, soft prompts, LoRA weights, template), a report of the
selected runs, and the command line that reproduces an experiment."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import atomic_write_json
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import RunFolder, template_label
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.compare_report import CHART_FILE, write_compare_report
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.runs import RunsTreeModel
from mto_studio.gui.workbenches.runs.compare import MAX_COMPARED, ComparePanel

#: What a run folder may hold, by export kind: (sub-folder or file, what it is)
ARTIFACTS = {
    "model": ("model", "the trained model (Hugging Face folder)"),
    "prompt": ("prompt", "the soft prompts (SoftPromptModel.load)"),
    "lora": ("lora", "the LoRA weights (PEFT adapter)"),
    "template": (RunFolder.TEMPLATE, "the template (.toml)"),
}
SWEEP_CONFIG = "sweep-config.json"


def sweep_command(experiment: ExperimentRow) -> tuple[str, Path, Path]:
    """Write the experiment's config next to it and return (command, config file, suggested output folder)."""
    folder = Path(experiment.folder) if experiment.folder else None
    if folder is None or not folder.is_dir():
        raise MtoError(f"experiment '{experiment.name}' has no folder on disk", "it cannot be reproduced from here")
    config = ExperimentConfig.from_dict(experiment.config)
    path = atomic_write_json(folder / SWEEP_CONFIG, config.to_dict())
    out = folder.with_name(f"{folder.name}-rerun")
    command = f"mto-studio sweep --config {shlex.quote(str(path))} --out {shlex.quote(str(out))}"
    return command, Path(path), out


class CommandDialog(QDialog):
    """The CLI line that reproduces an experiment, with a copy button."""

    def __init__(self, command: str, note: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reproduce from the command line")
        self.setMinimumWidth(720)
        self.command = command
        layout = QVBoxLayout(self)
        intro = QLabel(note)
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)
        self.text = QPlainTextEdit(command)
        self.text.setObjectName("runs-command")
        self.text.setReadOnly(True)
        self.text.setFixedHeight(92)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy to clipboard")
        self.copy_button.setObjectName("runs-copy-command")
        self.copy_button.clicked.connect(self.copy)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.command)
        self.copy_button.setText("Copied")


class RunExports(QWidget):
    """The export menu and the command dialog of RunsWorkbench (its base class: they act on its selection, which
    RunsWorkbench provides below)."""

    store: RunStore | None
    tree_model: RunsTreeModel
    compare: ComparePanel
    last_export: list[Path]

    def selected_runs(self, *, expand_experiments: bool = True) -> list[RunRow]:
        raise NotImplementedError

    def selected_experiment(self) -> ExperimentRow | None:
        raise NotImplementedError

    def _status(self, text: str) -> None:
        raise NotImplementedError

    def _build_export_button(self) -> QToolButton:
        self.export_button = QToolButton()
        self.export_button.setObjectName("runs-export")
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_menu = QMenu(self.export_button)
        self.export_actions = {}
        for kind, (_name, what) in ARTIFACTS.items():
            action = self.export_menu.addAction(f"{what[0].upper()}{what[1:]}…")
            action.triggered.connect(lambda _c=False, k=kind: self.export_artifact(k))
            self.export_actions[kind] = action
        self.export_menu.addSeparator()
        report = self.export_menu.addAction("A report of the selection (markdown + PNG plots)…")
        report.triggered.connect(lambda _c=False: self.export_report())
        self.export_actions["report"] = report
        self.export_button.setMenu(self.export_menu)
        self.export_button.setToolTip("copy what the selected run produced into a folder you pick")
        return self.export_button

    def _update_export_actions(self) -> None:
        runs = self.selected_runs(expand_experiments=False)
        run = runs[0] if len(runs) == 1 else None
        for kind, (name, _what) in ARTIFACTS.items():
            self.export_actions[kind].setEnabled(run is not None and (Path(run.folder) / name).exists())
        self.export_actions["report"].setEnabled(bool(self.selected_runs()))

    def _ask_folder(self, title: str) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, title)
        return Path(folder) if folder else None

    def export_artifact(self, kind: str, destination: str | Path | None = None) -> Path | None:
        """Copy the selected run's model / prompt / lora folder or template file into ``destination`` (asked for
        when None). Returns the copy."""
        runs = self.selected_runs(expand_experiments=False)
        if len(runs) != 1:
            show_error(self, "Export", MtoError("select one run to export from", "click a run in the tree"))
            return None
        run = runs[0]
        name, what = ARTIFACTS[kind]
        source = Path(run.folder) / name
        if not source.exists():
            show_error(
                self,
                "Nothing to export",
                MtoError(
                    f"this run has no {what}",
                    "finished runs save it (fine-tuning: model, prompt tuning: prompt, LoRA: lora)",
                ),
            )
            return None
        folder = Path(destination) if destination is not None else self._ask_folder(f"Export {what} into")
        if folder is None:
            return None
        stem = Path(run.folder).name
        target = folder / (
            f"{template_label(run.template) or 'template'}-{stem}.toml" if kind == "template" else f"{stem}-{name}"
        )
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target)
        except OSError as exc:
            show_error(
                self,
                "Export failed",
                MtoError(f"cannot copy {source} to {target}: {exc}", "pick a folder you can write to"),
                path=str(target),
            )
            return None
        self.last_export = [target]
        self._status(f"exported {what} to {target}")
        return target

    def export_report(self, destination: str | Path | None = None) -> Path | None:
        """A markdown report of the selected runs with PNG plots: the comparison as drawn here (pyqtgraph's
        ImageExporter) and the validation curves as the core draws them; an experiment's own report goes along."""
        runs = self.selected_runs()
        if not runs:
            show_error(self, "Export", MtoError("select runs or an experiment first", "click them in the tree"))
            return None
        folder = Path(destination) if destination is not None else self._ask_folder("Export the report into")
        if folder is None:
            return None
        compared = runs[:MAX_COMPARED]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if [r.id for r in compared] != [r.id for r in self.compare.compared]:
                self.compare.show_runs(compared, self.store)
            chart = self.export_chart(folder / CHART_FILE)
            written = write_compare_report(folder, runs, self.tree_model.experiments(), chart=chart, compared=compared)
        except (OSError, MtoError) as exc:
            error = (
                exc
                if isinstance(exc, MtoError)
                else MtoError(f"cannot write the report: {exc}", "pick a folder you can write to")
            )
            show_error(self, "Export failed", error, path=str(folder))
            return None
        self.last_export = written
        self._status(f"report written to {folder / 'report.md'}")
        return folder / "report.md"

    def export_chart(self, path: str | Path) -> Path:
        return self.compare.export_chart(path)

    def show_command(self, experiment: ExperimentRow | None = None) -> CommandDialog | None:
        experiment = experiment or self.selected_experiment()
        if experiment is None:
            show_error(self, "Show command", MtoError("select an experiment (or one of its runs)", "click it"))
            return None
        try:
            command, path, out = sweep_command(experiment)
        except MtoError as exc:
            show_error(self, "Cannot write the experiment's config", exc)
            return None
        resume = f"mto-studio sweep --out {shlex.quote(str(experiment.folder))} --resume"
        full = f"{command}\n\n# or continue this experiment in its own folder:\n{resume}"
        note = (
            f"Runs experiment <b>{_esc(experiment.name)}</b> again from its configuration "
            f"(<code>{_esc(path.name)}</code>, written next to it) into a new folder. The model and data "
            "paths are the ones it used."
        )
        dialog = CommandDialog(full, note, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.command_dialog = dialog
        return dialog
