"""Models for the Runs view: the store's experiments → runs tree and a config diff of the compared runs."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, ClassVar, overload

from PySide6.QtCore import QAbstractItemModel, QAbstractTableModel, QModelIndex, QObject, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from mto_studio.core.store.run_folder import template_label
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.compare_report import config_diff, run_score
from mto_studio.core.training.results import metric_text, shots_text
from mto_studio.gui.models.qa import (
    QA_COLUMNS,
    QA_METRICS,
    label_checkpoint,
    qa_metric_name,
    qa_metrics_in,
    qa_score_label,
)
from mto_studio.gui.models.table import Index, column_header
from mto_studio.gui.theme import DIFF_COLOURS, STATUS_COLOURS, TEXT


@dataclass
class _Group:
    """A top-level node: an experiment, or the synthetic 'single runs' node (no experiment)."""

    kind: ClassVar[str] = "experiment"
    row: int
    experiment: ExperimentRow | None = None
    children: list[_RunNode] = field(default_factory=list)


@dataclass
class _RunNode:
    """A run under its group."""

    kind: ClassVar[str] = "run"
    row: int
    run: RunRow
    parent: _Group


_Node = _Group | _RunNode


def experiment_runs(experiment, seen: int) -> int:
    """The number of runs of an experiment's whole grid (not only those that have started)."""
    from mto_studio.core.training.experiment_config import ExperimentConfig

    total = ExperimentConfig.total_runs(experiment.config) if experiment is not None else None
    return max(total or 0, seen)


#: how a score's split is shown next to it where space is short
SPLIT_SHORT = {"test": "test", "validation": "val"}


def scored_text(run: RunRow, name: str) -> str:
    """A run's score with where it comes from: "0.512 test" or "0.512 val" (a validation score)."""
    value = run_score(run, name)
    text = metric_text(value)
    short = SPLIT_SHORT.get(run.scored_on or "")
    return f"{text} {short}" if value is not None and short else text


def run_metric_label(run: RunRow, metric: str) -> str:
    """Where a run's ``metric`` comes from, worded as its stored score label ("Validation accuracy (best
    checkpoint)"); "" before the run finished."""
    label = str(run.metrics.get("score_label") or "")
    return qa_score_label(run.scored_on, metric, checkpoint=label_checkpoint(label)) if label else ""


def qa_detail(run: RunRow) -> str:
    """A QA run's scores for the detail line (HTML-safe): "Validation accuracy (best checkpoint) 0.600,
    accuracy (ranked) 0.700 · ROUGE-L 0.512, exact match 0.400"."""
    parts = [
        f"{run_metric_label(run, m) or qa_metric_name(m)} {metric_text(run_score(run, m))}"
        for m in qa_metrics_in(run.metrics)
    ]
    scores = (
        f"ROUGE-L {metric_text(run_score(run, 'rougeL'))}, exact match {metric_text(run_score(run, 'exact_match'))}"
    )
    return html.escape(", ".join(parts) + " · " + scores)


#: a QA metric's column → the metric
QA_COLUMN_METRIC = {QA_COLUMNS[m]: m for m in QA_METRICS}


class RunsTreeModel(QAbstractItemModel):
    """Experiments (top level) and their runs (children), from a RunStore's rows. Runs without an experiment sit
    under a synthetic 'single runs' node. When some run is QA, its accuracy columns follow ROUGE-L."""

    BASE_COLUMNS = ("name", "template", "method", "k", "seed", "status", "step", "ROUGE-L", "EM", "reason")
    COLUMNS: tuple[str, ...] = BASE_COLUMNS
    KindRole = Qt.ItemDataRole.UserRole
    IdRole = Qt.ItemDataRole.UserRole + 1
    FolderRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._roots: list[_Group] = []
        self.owned: set[str] = set()  # run folders a worker of this app is training now

    def set_rows(self, experiments: list[ExperimentRow], runs: list[RunRow]) -> None:
        self.beginResetModel()
        roots: list[_Group] = []
        by_id: dict[int, _Group] = {}
        for experiment in sorted(experiments, key=lambda e: e.id, reverse=True):
            node = _Group(len(roots), experiment=experiment)
            roots.append(node)
            by_id[experiment.id] = node
        loose: _Group | None = None
        for run in runs:
            parent = by_id.get(run.experiment_id) if run.experiment_id is not None else None
            if parent is None:
                if loose is None:
                    loose = _Group(len(roots))
                    roots.append(loose)
                parent = loose
            parent.children.append(_RunNode(len(parent.children), run=run, parent=parent))
        self._roots = roots
        reported = {m for run in runs for m in qa_metrics_in(run.metrics)}
        extra = tuple(QA_COLUMNS[m] for m in QA_METRICS if m in reported)
        at = self.BASE_COLUMNS.index("ROUGE-L") + 1
        self.COLUMNS = (*self.BASE_COLUMNS[:at], *extra, *self.BASE_COLUMNS[at:])
        self.endResetModel()

    def node(self, index: Index) -> _Node | None:
        if not index.isValid():
            return None
        return index.internalPointer()

    def run_at(self, index: Index) -> RunRow | None:
        node = self.node(index)
        return node.run if isinstance(node, _RunNode) else None

    def experiment_at(self, index: Index) -> ExperimentRow | None:
        node = self.node(index)
        if node is None:
            return None
        return node.experiment if isinstance(node, _Group) else node.parent.experiment

    def experiments(self) -> list[ExperimentRow]:
        return [n.experiment for n in self._roots if n.experiment is not None]

    def runs(self) -> list[RunRow]:
        return [c.run for n in self._roots for c in n.children]

    def index_of_run(self, run_id: int) -> QModelIndex:
        for root in self._roots:
            for child in root.children:
                if child.run.id == run_id:
                    return self.createIndex(child.row, 0, child)
        return QModelIndex()

    def index_of_experiment(self, experiment_id: int) -> QModelIndex:
        for root in self._roots:
            if root.experiment is not None and root.experiment.id == experiment_id:
                return self.createIndex(root.row, 0, root)
        return QModelIndex()

    # --- the model ----------------------------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, self._roots[row])
        node = parent.internalPointer()
        if node.kind != "experiment" or row >= len(node.children):
            return QModelIndex()
        return self.createIndex(row, column, node.children[row])

    @overload
    def parent(self) -> QObject | None: ...
    @overload
    def parent(self, index: Index) -> QModelIndex: ...
    def parent(self, index: Index | None = None) -> QObject | QModelIndex | None:
        """Qt override: the parent of an item's index; without an index, the model's QObject parent."""
        if index is None:
            return super().parent()
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer()
        if isinstance(node, _Group):
            return QModelIndex()
        return self.createIndex(node.parent.row, 0, node.parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        if not parent.isValid():
            return len(self._roots)
        if parent.column() > 0:
            return 0
        node = parent.internalPointer()
        return len(node.children) if node.kind == "experiment" else 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        return column_header(self.COLUMNS, section, orientation, role)

    def _status(self, node: _Node) -> str:
        if isinstance(node, _RunNode):
            return node.run.status
        return node.experiment.status if node.experiment is not None else ""

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.node(index)
        if node is None:
            return None
        column = self.COLUMNS[index.column()]
        status = self._status(node)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if isinstance(node, _RunNode):
                run = node.run
                tip = f"{run.name}\n{run.folder}"
                if column in QA_COLUMN_METRIC and run.metrics.get("score_label"):
                    tip = run_metric_label(run, QA_COLUMN_METRIC[column]) + "\n" + tip
                elif column in ("ROUGE-L", "EM") and run.metrics.get("score_label"):
                    label = str(run.metrics["score_label"])
                    if qa_metrics_in(run.metrics):  # a QA run's stored label names its headline, accuracy
                        label = run_metric_label(run, "rougeL")
                    tip = (
                        (label if column == "ROUGE-L" else label.replace("ROUGE-L", "exact match"))
                        + (
                            " — no test split: the checkpoint was chosen on these same validation heads (optimistic)"
                            if run.scored_on == "validation" and "best" in label
                            else ""
                        )
                        + "\n"
                        + tip
                    )
                if run.reason:
                    tip += f"\n\n{run.reason}"
                return tip
            if node.experiment is not None:
                return f"{node.experiment.name}\n{node.experiment.folder or ''}"
            return "runs trained outside an experiment"
        if role == Qt.ItemDataRole.ForegroundRole and column in ("status", "reason"):
            return QBrush(QColor(STATUS_COLOURS.get(status, TEXT)))
        if role == Qt.ItemDataRole.FontRole and node.kind == "experiment" and column == "name":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("seed", "step", "ROUGE-L", "EM", *QA_COLUMN_METRIC):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.KindRole:
            return node.kind
        if role == self.IdRole:
            if isinstance(node, _RunNode):
                return node.run.id
            return node.experiment.id if node.experiment is not None else -1
        if role == self.FolderRole:
            if isinstance(node, _RunNode):
                return node.run.folder
            return node.experiment.folder if node.experiment is not None else ""
        return None

    def _text(self, node: _Node, column: str) -> str:
        if isinstance(node, _Group):
            experiment = node.experiment
            if column == "name":  # the row spans every column in the view: name and summary
                return experiment_summary(experiment, [c.run for c in node.children])
            if column == "status":
                return experiment.status if experiment is not None else ""
            if column == "step":
                done = sum(c.run.status == "finished" for c in node.children)
                return f"{done}/{experiment_runs(experiment, len(node.children))} runs"
            if column == "template" and experiment is not None:
                return ", ".join(template_label(t) for t in experiment.config.get("templates", []))
            if column == "method" and experiment is not None:
                return ", ".join(experiment.config.get("methods", []))
            if column == "k" and experiment is not None:
                return ", ".join(str(s) for s in experiment.config.get("shots", []))
            if column == "seed" and experiment is not None:
                return ", ".join(str(s) for s in experiment.config.get("seeds", []))
            return ""
        run = node.run
        status = run.status
        if status == "running" and run.folder not in self.owned:
            status = "running (another process?)"
        values = {
            "name": f"#{run.id}",
            "template": template_label(run.template),
            "method": run.method or "",
            "k": shots_text(run.shots or "full") if run.method else "",
            "seed": "" if run.seed is None else str(run.seed),
            "status": status,
            "step": f"{run.step}/{run.total_steps}" if run.total_steps else str(run.step),
            "ROUGE-L": scored_text(run, "rougeL"),
            "EM": scored_text(run, "exact_match"),
            "reason": run.reason or "",
        }
        if column in QA_COLUMN_METRIC:
            return scored_text(run, QA_COLUMN_METRIC[column])
        return values[column]

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        node = index.internalPointer()
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if node.kind == "run":
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        return flags


def experiment_summary(experiment: ExperimentRow | None, runs: list[RunRow]) -> str:
    if experiment is None:
        return f"single runs ({len(runs)})"
    config = experiment.config
    done = sum(r.status == "finished" for r in runs)
    failed = sum(r.status == "failed" for r in runs)
    total = experiment_runs(experiment, len(runs))
    parts = [experiment.name, experiment.status, f"{done}/{total} runs" + (f", {failed} failed" if failed else "")]
    templates = [template_label(t) for t in config.get("templates", [])]
    if templates:
        parts.append(" vs ".join(templates))
    if config.get("shots"):
        parts.append("k " + ", ".join(str(s) for s in config["shots"]))
    if config.get("seeds"):
        parts.append(f"{len(config['seeds'])} seed(s)")
    if config.get("methods"):
        parts.append(", ".join(config["methods"]))
    return "  ·  ".join(parts)


class ConfigDiffModel(QAbstractTableModel):
    """The TrainConfig fields in which the compared runs differ: one row per field, one column per run."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.fields: list[str] = []
        self.values: list[list[str]] = []

    def set_configs(self, names: list[str], configs: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self.names = list(names)
        self.fields, self.values = config_diff(configs)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self.fields)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else 1 + len(self.names)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        if section == 0:
            return "setting"
        return self.names[section - 1] if 1 <= section <= len(self.names) else None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.fields):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if index.column() == 0:
                return self.fields[index.row()]
            if 1 <= index.column() <= len(self.names):
                return self.values[index.row()][index.column() - 1]
        if role == Qt.ItemDataRole.BackgroundRole and index.column() > 0:
            return QBrush(QColor(DIFF_COLOURS["changed"]))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
