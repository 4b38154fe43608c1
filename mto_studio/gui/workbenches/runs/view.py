"""The Runs workbench: every experiment and run in the project's run store; compare runs (curves, config diff,
template diff), export what a run produced (model, soft prompts, LoRA weights, template, a report), and show the
command line that reproduces an experiment."""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import atomic_write_json
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder, template_label
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.templates.colours import PALETTE
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.jobs import run_owners
from mto_studio.gui.models.training import (
    ConfigDiffModel,
    RunsTreeModel,
    experiment_runs,
    metric_text,
    run_score,
    shots_text,
)
from mto_studio.gui.plots.live_curves import LineChart, export_png
from mto_studio.gui.theme import MUTED
from mto_studio.gui.widgets.diff_view import TemplateDiffView

COMPARE_COLOURS = ["#e8590c", "#1c7ed6", "#2f9e44", "#7048e8", "#c2255c", "#0c8599", "#f59f00", *PALETTE]
MAX_COMPARED = 12
REFRESH_MS = 2000  # while this app trains, the tree refreshes from the store this often (when visible)
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


class RunsWorkbench(QWidget):
    """The store's experiments and runs on the left; the comparison of the selected runs on the right."""

    title = "Runs"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.owners = run_owners(context)
        self.store: RunStore | None = None
        self.store_path: Path | None = None
        self.compared: list[RunRow] = []
        self.last_export: list[Path] = []
        self.marked_interrupted = 0
        self._build()
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_MS)
        self.refresh_timer.timeout.connect(self._refresh_if_visible)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(300)
        self._debounce.timeout.connect(self.refresh)
        self.owners.changed.connect(self._on_owners_changed)
        context.project_changed.connect(self._on_project_changed)
        self._open_store(mark_dead=True)
        self.refresh()

    # --- layout ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        bar = QHBoxLayout()
        heading = QLabel("Runs")
        heading.setProperty("role", "heading")
        bar.addWidget(heading)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("runs-summary")
        self.summary_label.setProperty("role", "muted")
        bar.addWidget(self.summary_label, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("runs-refresh")
        self.refresh_button.clicked.connect(self.refresh)
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
        self.resume_button = QPushButton("Resume in the Trainer")
        self.resume_button.setObjectName("runs-resume")
        self.resume_button.setToolTip(
            "continue the selected stopped or interrupted experiment from its last checkpoint"
        )
        self.resume_button.clicked.connect(lambda: self.resume_selected())
        self.command_button = QPushButton("Show command")
        self.command_button.setObjectName("runs-command-button")
        self.command_button.setToolTip("the mto-studio sweep command line that reproduces the selected experiment")
        self.command_button.clicked.connect(lambda: self.show_command())
        for widget in (self.refresh_button, self.resume_button, self.export_button, self.command_button):
            bar.addWidget(widget)
        outer.addLayout(bar)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("runs-splitter")
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        self.tree_model = RunsTreeModel(self)
        self.tree = QTreeView()
        self.tree.setObjectName("runs-tree")
        self.tree.setModel(self.tree_model)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAllColumnsShowFocus(True)
        self.tree.header().setStretchLastSection(True)
        self.tree.setIndentation(14)
        for column, width in enumerate((76, 96, 64, 52, 38, 80, 64, 62, 52)):
            self.tree.setColumnWidth(column, width)
        self.tree.selectionModel().selectionChanged.connect(lambda _s, _d: self._on_selection())
        left_layout.addWidget(self.tree, 1)
        self.detail_label = QLabel()
        self.detail_label.setObjectName("runs-detail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextFormat(Qt.TextFormat.RichText)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left_layout.addWidget(self.detail_label)
        self.splitter.addWidget(left)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 0, 0, 0)
        compare_heading = QLabel("Compare")
        compare_heading.setProperty("role", "section")
        right_layout.addWidget(compare_heading)
        self.compare_caption = QLabel()
        self.compare_caption.setObjectName("runs-compare-caption")
        self.compare_caption.setProperty("role", "muted")
        self.compare_caption.setWordWrap(True)
        right_layout.addWidget(self.compare_caption)
        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("runs-vsplitter")
        self.chart = LineChart(
            [("loss", "Training loss", "loss"), ("rougeL", "Validation ROUGE-L", "ROUGE-L")], shared_legend=True
        )
        self.chart.setObjectName("runs-compare-chart")
        self.chart.plots["rougeL"].getViewBox().setLimits(yMin=-0.02, yMax=1.02)
        self.vsplitter.addWidget(self.chart)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("runs-tabs")
        self.diff_model = ConfigDiffModel(self)
        self.diff_table = QTableView()
        self.diff_table.setObjectName("runs-config-diff")
        self.diff_table.setModel(self.diff_model)
        self.diff_table.verticalHeader().setVisible(False)
        self.diff_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.diff_table.setWordWrap(False)
        self.tabs.addTab(self.diff_table, "Config diff")
        self.template_diff = TemplateDiffView()
        self.template_diff.setObjectName("runs-template-diff")
        self.tabs.addTab(self.template_diff, "Template diff")
        self.vsplitter.addWidget(self.tabs)
        self.vsplitter.setStretchFactor(0, 3)
        self.vsplitter.setStretchFactor(1, 2)
        self.vsplitter.setSizes([520, 330])
        right_layout.addWidget(self.vsplitter, 1)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([660, 900])
        outer.addWidget(self.splitter, 1)
        self._show_compare([])

    # --- the store ---------------------------------------------------------------------------------------------
    def _open_store(self, *, mark_dead: bool) -> None:
        """(Re)open the project's run store in this (the GUI) thread; at start-up and when another project opens,
        runs left 'running' by a process that is gone become 'interrupted', except those a worker here owns."""
        if self.store is not None:
            self.store.close()
            self.store = None
        path = self.context.project.run_store_path
        self.store_path = path
        if not path.is_file():
            return
        try:
            self.store = RunStore(path)
            if mark_dead:
                self.marked_interrupted = self.store.mark_interrupted(keep=self.owners.folders)
        except MtoError as exc:
            self.store = None
            self.summary_label.setText(f"cannot read the run store: {exc.message}")

    def refresh(self) -> None:
        """Re-read the store, keeping the expanded experiments and the selection."""
        if self.store is None:
            self._open_store(mark_dead=False)
        expanded = {
            self.tree_model.data(self.tree_model.index(r, 0), RunsTreeModel.IdRole)
            for r in range(self.tree_model.rowCount())
            if self.tree.isExpanded(self.tree_model.index(r, 0))
        }
        first_fill = self.tree_model.rowCount() == 0
        selected_runs = [r.id for r in self.selected_runs(expand_experiments=False)]
        selected_experiments = [e.id for e in self._selected_experiment_rows()]
        experiments: list[ExperimentRow] = []
        runs: list[RunRow] = []
        if self.store is not None:
            try:
                experiments, runs = self.store.experiments(), self.store.runs()
            except Exception as exc:  # noqa: BLE001 - a locked or damaged store must not break the view
                self.summary_label.setText(f"cannot read the run store: {exc}")
        self.tree_model.owned = set(self.owners.folders)
        self.tree.selectionModel().blockSignals(True)
        self.tree_model.set_rows(experiments, runs)
        for row in range(self.tree_model.rowCount()):
            index = self.tree_model.index(row, 0)
            key = self.tree_model.data(index, RunsTreeModel.IdRole)
            # An experiment's row spans the columns: its name and a summary do not fit the runs' columns.
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)
            if key in expanded or (first_fill and row == 0):
                self.tree.expand(index)
        selection = self.tree.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for run_id in selected_runs:
            index = self.tree_model.index_of_run(run_id)
            if index.isValid():
                selection.select(index, flags)
        for experiment_id in selected_experiments:
            index = self.tree_model.index_of_experiment(experiment_id)
            if index.isValid():
                selection.select(index, flags)
        self.tree.selectionModel().blockSignals(False)
        finished = sum(r.status == "finished" for r in runs)
        failed = sum(r.status == "failed" for r in runs)
        interrupted = sum(r.status == "interrupted" for r in runs)
        total = sum(experiment_runs(e, sum(r.experiment_id == e.id for r in runs)) for e in experiments) + sum(
            r.experiment_id is None for r in runs
        )
        parts = [f"{len(experiments)} experiment(s), {total} run(s): {finished} finished"]
        if failed:
            parts.append(f"{failed} failed")
        if interrupted:
            parts.append(f"{interrupted} interrupted (resume them from the Trainer)")
        if self.store is None:
            parts = ["no runs yet: experiments started in the Trainer appear here"]
        self.summary_label.setText(", ".join(parts))
        self._on_selection(keep_chart=True)

    def _refresh_if_visible(self) -> None:
        if not self.owners.folders:
            self.refresh_timer.stop()
        if self.isVisible():
            self.refresh()

    def _on_owners_changed(self) -> None:
        if self.owners.folders and not self.refresh_timer.isActive():
            self.refresh_timer.start()
        self._debounce.start()

    def _on_project_changed(self) -> None:
        if self.context.project.run_store_path != self.store_path:
            self._open_store(mark_dead=True)
            self.refresh()

    # --- selection ---------------------------------------------------------------------------------------------
    def _selected_rows(self) -> list[QModelIndex]:
        return [i for i in self.tree.selectionModel().selectedRows(0)]

    def _selected_experiment_rows(self) -> list[ExperimentRow]:
        out = []
        for index in self._selected_rows():
            if self.tree_model.data(index, RunsTreeModel.KindRole) == "experiment":
                experiment = self.tree_model.experiment_at(index)
                if experiment is not None:
                    out.append(experiment)
        return out

    def selected_runs(self, *, expand_experiments: bool = True) -> list[RunRow]:
        """The selected runs; a selected experiment stands for its runs (when no run is selected itself)."""
        runs, experiments = [], []
        for index in self._selected_rows():
            run = self.tree_model.run_at(index)
            if run is not None:
                runs.append(run)
            elif expand_experiments:
                experiments.append(index)
        if not runs and expand_experiments:
            for index in experiments:
                for row in range(self.tree_model.rowCount(index)):
                    run = self.tree_model.run_at(self.tree_model.index(row, 0, index))
                    if run is not None:
                        runs.append(run)
        return runs

    def selected_experiment(self) -> ExperimentRow | None:
        """The experiment of the current row (or of the first selected one)."""
        index = self.tree.currentIndex()
        if not index.isValid():
            rows = self._selected_rows()
            index = rows[0] if rows else QModelIndex()
        return self.tree_model.experiment_at(index) if index.isValid() else None

    def select_runs(self, run_ids: list[int]) -> None:
        selection = self.tree.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for run_id in run_ids:
            index = self.tree_model.index_of_run(run_id)
            if index.isValid():
                self.tree.expand(index.parent())
                selection.select(index, flags)
                if run_id == run_ids[0]:
                    selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)

    def select_experiment(self, experiment_id: int) -> None:
        index = self.tree_model.index_of_experiment(experiment_id)
        if index.isValid():
            selection = self.tree.selectionModel()
            selection.clearSelection()
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            selection.select(index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)

    def _on_selection(self, keep_chart: bool = False) -> None:
        runs = self.selected_runs()[:MAX_COMPARED]
        if not keep_chart or [r.id for r in runs] != [r.id for r in self.compared] or self.owners.folders:
            self._show_compare(runs)
        self._show_detail()
        self._update_actions()

    def _show_detail(self) -> None:
        runs = self.selected_runs(expand_experiments=False)
        experiment = self.selected_experiment()
        if len(runs) == 1:
            run = runs[0]
            parts = [f"<b>{_esc(run.name)}</b> · {_esc(run.status)}"]
            if run.metrics:
                label = run.metrics.get("score_label") or "ROUGE-L"
                parts.append(
                    f"{_esc(str(label))} {metric_text(run_score(run, 'rougeL'))}, exact match "
                    f"{metric_text(run_score(run, 'exact_match'))}"
                )
                if run.scored_on == "validation" and "best" in str(label):
                    parts.append(
                        '<span style="color:#9a5b00">No test split: the checkpoint was chosen on these '
                        "same validation heads, so the score is optimistic.</span>"
                    )
            if run.reason:
                parts.append(f'<span style="color:#c92a2a">{_esc(run.reason)}</span>')
            parts.append(f'<span style="color:{MUTED}">{_esc(run.folder)}</span>')
            self.detail_label.setText("<br>".join(parts))
        elif experiment is not None:
            self.detail_label.setText(
                f"<b>{_esc(experiment.name)}</b> · {_esc(experiment.status)}<br>"
                f'<span style="color:{MUTED}">{_esc(experiment.folder or "")}</span>'
            )
        else:
            self.detail_label.setText(
                f'<span style="color:{MUTED}">Select runs (Ctrl/Shift-click) to compare '
                "their curves and settings; select an experiment to compare all its runs."
                "</span>"
            )

    def _update_actions(self) -> None:
        runs = self.selected_runs(expand_experiments=False)
        run = runs[0] if len(runs) == 1 else None
        for kind, (name, _what) in ARTIFACTS.items():
            self.export_actions[kind].setEnabled(run is not None and (Path(run.folder) / name).exists())
        self.export_actions["report"].setEnabled(bool(self.selected_runs()))
        experiment = self.selected_experiment()
        self.command_button.setEnabled(experiment is not None and bool(experiment.folder))
        self.resume_button.setEnabled(self._resumable(experiment))

    def _resumable(self, experiment: ExperimentRow | None) -> bool:
        return (
            experiment is not None
            and bool(experiment.folder)
            and str(experiment.folder) not in self.owners.folders
            and ExperimentFolder(experiment.folder).is_resumable(experiment.status)
        )

    def resume_selected(self):
        """Hand the selected experiment to the Trainer, which continues it from its folder."""
        experiment = self.selected_experiment()
        if not self._resumable(experiment):
            return None
        return self.context.resume_experiment(experiment.folder)

    # --- comparing ---------------------------------------------------------------------------------------------
    def _label(self, run: RunRow) -> str:
        if run.template and run.method:
            return f"#{run.id} {template_label(run.template)} · {shots_text(run.shots or 'full')} · s{run.seed}"
        return f"#{run.id} {run.name}"

    def _show_compare(self, runs: list[RunRow]) -> None:
        self.compared = list(runs)
        self.chart.reset()
        if not runs:
            self.compare_caption.setText(
                "Select several runs (or an experiment) to overlay their curves and see how "
                "their settings and templates differ."
            )
            self.diff_model.set_configs([], [])
            return
        for i, run in enumerate(runs):
            colour = COMPARE_COLOURS[i % len(COMPARE_COLOURS)]
            label = self._label(run)
            self.chart.add_line("loss", label, colour, width=1.8)
            self.chart.add_line("rougeL", label, colour, width=1.8, symbol="o")
            if self.store is not None:
                self.chart.set_points("loss", label, self.store.series(run.id, "loss", "train"))
                self.chart.set_points("rougeL", label, self.store.series(run.id, "rougeL", "validation"))
        for plot in self.chart.plots.values():
            plot.enableAutoRange()
        self.diff_model.set_configs([f"#{r.id}" for r in runs], [r.config for r in runs])
        differing = len(self.diff_model.fields)
        self.compare_caption.setText(
            f"{len(runs)} run(s) · {differing} setting(s) differ"
            if len(runs) > 1
            else "one run: select more to compare"
        )
        self._show_template_diff(runs)

    def _show_template_diff(self, runs: list[RunRow]) -> None:
        """The first two distinct templates among the compared runs, as they were run (their template.toml)."""
        library = TemplateLibrary(
            phrases=self.context.project.phrase_table(), objectives=self.context.project.objectives
        )
        names: list[str] = []
        texts: dict[str, str] = {}
        for run in runs:
            path = RunFolder(run.folder).file(RunFolder.TEMPLATE)
            try:
                text = path.read_text(encoding="utf-8")
                template = TemplateLibrary().get(str(path))
            except (OSError, MtoError):
                continue
            if text in texts.values():
                continue
            name = f"{template.name} (#{run.id})"
            library.add(dataclasses.replace(template, name=name, builtin=False))
            texts[name] = text
            names.append(name)
        data = self.context.data
        heads = list(data.task.heads[:60]) if data is not None and data.task is not None else []
        self.template_diff.set_context(library, None, heads, self.context.sentinel_style)
        if len(names) >= 2:
            self.template_diff.select(names[0], names[1])
            self.tabs.setTabText(1, "Template diff")
        elif names:
            self.template_diff.select(names[0], names[0])
            self.tabs.setTabText(1, "Template diff (all the same)")

    # --- export ------------------------------------------------------------------------------------------------
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
        from mto_studio.core.training.report import plot_curves, write_report
        from mto_studio.core.training.results import RunResult

        runs = self.selected_runs()
        if not runs:
            show_error(self, "Export", MtoError("select runs or an experiment first", "click them in the tree"))
            return None
        folder = Path(destination) if destination is not None else self._ask_folder("Export the report into")
        if folder is None:
            return None
        written: list[Path] = []
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if [r.id for r in runs[:MAX_COMPARED]] != [r.id for r in self.compared]:
                self._show_compare(runs[:MAX_COMPARED])
            chart_png = folder / "compare-curves.png"
            self.export_chart(chart_png)
            written.append(chart_png)
            results = [found for r in runs if (found := RunResult.from_folder(r.folder)) is not None]
            sections = []
            lines = [
                "| run | template | method | k | seed | status | scored on | ROUGE-L | EM | note |",
                "|---" * 10 + "|",
            ]
            for run in runs:
                scored = run.metrics.get("score_label") or ""
                lines.append(
                    f"| {run.name} | {template_label(run.template)} | {run.method or ''} | "
                    f"{shots_text(run.shots or 'full')} | {'' if run.seed is None else run.seed} | "
                    f"{run.status} | {scored} | {metric_text(run_score(run, 'rougeL'))} | "
                    f"{metric_text(run_score(run, 'exact_match'))} | {(run.reason or '').replace('|', '/')} |"
                )
            note = ""
            if any(r.scored_on == "validation" for r in runs):
                note = (
                    "\n\nRuns scored on *validation* had no test split: their score is the validation score of "
                    "the checkpoint chosen on those same heads, so it is optimistic. Curves are validation "
                    "scores during training."
                )
            sections.append("## Runs\n\n" + "\n".join(lines) + note)
            sections.append(f"## Curves as compared in MTO Studio\n\n![compared curves]({chart_png.name})")
            if results:
                curves = plot_curves(
                    results, folder / "validation-curves.png", title="Validation ROUGE-L (mean ± sd over seeds)"
                )
                written.append(curves)
                sections.append(f"## Validation curves\n\n![validation curves]({curves.name})")
            if self.diff_model.fields:
                rows = [
                    "| setting | " + " | ".join(self.diff_model.names) + " |",
                    "|---" * (1 + len(self.diff_model.names)) + "|",
                ]
                rows += [
                    f"| {f} | " + " | ".join(v) + " |"
                    for f, v in zip(self.diff_model.fields, self.diff_model.values, strict=True)
                ]
                sections.append("## Settings that differ\n\n" + "\n".join(rows))
            for experiment in {e.id: e for e in self._experiments_of(runs)}.values():
                copied = self._copy_experiment_report(experiment, folder)
                if copied is not None:
                    written.append(copied)
                    sections.append(
                        f"## Experiment {experiment.name}\n\nIts own report: "
                        f"[{copied.relative_to(folder)}]({copied.relative_to(folder).as_posix()})"
                    )
            report = write_report(folder, f"MTO Studio: {len(runs)} run(s) compared", sections)
            written.insert(0, report)
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
        """The comparison chart as PNG (pyqtgraph's ImageExporter; its SVG exporter crashes on Qt 6.12)."""
        export_png(self.chart, path, 1400)
        return Path(path)

    def _experiments_of(self, runs: list[RunRow]) -> list[ExperimentRow]:
        by_id = {e.id: e for e in self.tree_model.experiments()}
        return [by_id[r.experiment_id] for r in runs if r.experiment_id in by_id]

    @staticmethod
    def _copy_experiment_report(experiment: ExperimentRow, folder: Path) -> Path | None:
        source = Path(experiment.folder) if experiment.folder else None
        if source is None or not (source / "report.md").is_file():
            return None
        target = folder / f"experiment-{experiment.id}"
        target.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():
            if path.is_file() and path.suffix in (".md", ".png", ".csv", ".json"):
                shutil.copy2(path, target / path.name)
        return target / "report.md"

    # --- the command line ------------------------------------------------------------------------------------
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

    def _status(self, text: str) -> None:
        window = self.window()
        if hasattr(window, "statusBar"):
            window.statusBar().showMessage(text, 10000)
        self.summary_label.setToolTip(text)

    # --- workbench protocol ------------------------------------------------------------------------------------
    def activated(self) -> None:
        self.refresh()

    def shutdown(self) -> None:
        self.refresh_timer.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    def unsaved_changes(self) -> list[str]:
        return []

    def save_state(self, settings) -> None:
        settings.setValue("runs/splitter", self.splitter.saveState())
        settings.setValue("runs/vsplitter", self.vsplitter.saveState())
        settings.setValue("runs/tree-header", self.tree.header().saveState())

    def restore_state(self, settings) -> None:
        for key, splitter in (("runs/splitter", self.splitter), ("runs/vsplitter", self.vsplitter)):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
        header = settings.value("runs/tree-header")
        if header is not None:
            self.tree.header().restoreState(header)
