"""The Runs workbench: every experiment and run in the project's run store; compare runs (curves, config diff,
template diff), export what a run produced (model, soft prompts, LoRA weights, template, a report), and show the
command line that reproduces an experiment."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import ExperimentFolder
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.compare_report import run_score
from mto_studio.core.training.results import metric_text
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.jobs import run_owners
from mto_studio.gui.models.qa import qa_metrics_in
from mto_studio.gui.models.runs import QA_COLUMN_METRIC, RunsTreeModel, experiment_runs, qa_detail
from mto_studio.gui.theme import ERROR_RED, MUTED, WARNING
from mto_studio.gui.workbenches.runs.compare import MAX_COMPARED, ComparePanel, run_label
from mto_studio.gui.workbenches.runs.export import RunExports

REFRESH_MS = 2000  # while this app trains, the tree refreshes from the store this often (when visible)


class RunsWorkbench(RunExports):
    """The store's experiments and runs on the left; the comparison of the selected runs on the right."""

    title = "Runs"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.owners = run_owners(context)
        self.store: RunStore | None = None
        self.store_path: Path | None = None
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
        self._build_export_button()
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
        for column, width in enumerate((76, 92, 64, 44, 38, 72, 60, 82, 76)):  # room for "0.857 test"
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

        self.compare = ComparePanel(self.context)
        # the comparison's parts, as the tests and the screenshot script reach them
        self.chart, self.tabs, self.vsplitter = self.compare.chart, self.compare.tabs, self.compare.vsplitter
        self.diff_model, self.template_diff = self.compare.diff_model, self.compare.template_diff
        self.compare_caption = self.compare.caption
        self.splitter.addWidget(self.compare)
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
        for column, name in enumerate(self.tree_model.COLUMNS):
            if name in QA_COLUMN_METRIC:  # a QA run's accuracy columns, as wide as ROUGE-L's
                self.tree.setColumnWidth(column, 82)
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
            if run.metrics and qa_metrics_in(run.metrics):  # a QA run: accuracy first, then ROUGE-L
                label = run.metrics.get("score_label") or "accuracy"
                parts.append(qa_detail(run))
            elif run.metrics:
                label = run.metrics.get("score_label") or "ROUGE-L"
                parts.append(
                    f"{_esc(str(label))} {metric_text(run_score(run, 'rougeL'))}, exact match "
                    f"{metric_text(run_score(run, 'exact_match'))}"
                )
                if run.scored_on == "validation" and "best" in str(label):
                    parts.append(
                        f'<span style="color:{WARNING}">No test split: the checkpoint was chosen on these '
                        "same validation heads, so the score is optimistic.</span>"
                    )
            if run.reason:
                parts.append(f'<span style="color:{ERROR_RED}">{_esc(run.reason)}</span>')
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
        self._update_export_actions()
        experiment = self.selected_experiment()
        self.command_button.setEnabled(experiment is not None and bool(experiment.folder))
        self.resume_button.setEnabled(self._resumable_folder(experiment) is not None)

    def _resumable_folder(self, experiment: ExperimentRow | None) -> str | None:
        """The folder ``experiment`` can be continued from (None: it cannot, or a worker here trains it)."""
        if experiment is None or not experiment.folder or experiment.folder in self.owners.folders:
            return None
        return experiment.folder if ExperimentFolder(experiment.folder).is_resumable(experiment.status) else None

    def resume_selected(self):
        """Hand the selected experiment to the Trainer, which continues it from its folder."""
        folder = self._resumable_folder(self.selected_experiment())
        return self.context.resume_experiment(folder) if folder is not None else None

    # --- comparing ---------------------------------------------------------------------------------------------
    @property
    def compared(self) -> list[RunRow]:
        return self.compare.compared

    def _label(self, run: RunRow) -> str:
        return run_label(run)

    def _show_compare(self, runs: list[RunRow]) -> None:
        self.compare.show_runs(runs, self.store)

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
