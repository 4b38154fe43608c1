"""Models for the Trainer and the Runs view: an experiment's runs, the template × k result table, sample
predictions, the store's experiments → runs tree, and a config diff of several runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from mto_studio.core.store.run_folder import template_label
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.results import shots_order

Index = QModelIndex | QPersistentModelIndex

STATUS_COLOURS = {
    "finished": "#2b8a3e",
    "running": "#1c7ed6",
    "paused": "#e67700",
    "stopping": "#e67700",
    "stopped": "#e67700",
    "interrupted": "#e67700",
    "failed": "#c92a2a",
    "queued": "#868e96",
    "skipped": "#2b8a3e",
    "waiting": "#868e96",
}
STATUS_TEXT = {"skipped": "finished earlier", "waiting": "waiting"}
GAIN_UP, GAIN_DOWN = "#2b8a3e", "#c92a2a"


def shots_text(shots: str) -> str:
    return "full" if shots in ("full", "None", "") else f"k={shots}"


def metric_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.3f}"


@dataclass
class RunInfo:
    """One run of the experiment shown in the Trainer, as its events have told it so far."""

    run_id: str
    index: int
    template: str
    method: str
    shots: str
    seed: int
    total_steps: int
    status: str = "waiting"
    step: int = 0
    rouge: float | None = None  # the final (test, else validation) ROUGE-L once finished; the last validation before
    scored_on: str = ""  # once finished: "test" or "validation" (the kept checkpoint's); "" = latest validation
    score_label: str = ""  # once finished: e.g. "Validation ROUGE-L (best checkpoint)"
    exact_match: float | None = None
    reason: str = ""
    folder: str = ""

    @property
    def label(self) -> str:
        return f"{self.template} · {self.method} · {shots_text(self.shots)} · seed {self.seed}"

    @property
    def done_steps(self) -> int:
        """Steps that count as done for the progress bar (a failed or skipped run counts whole)."""
        if self.status in ("finished", "skipped", "failed"):
            return self.total_steps
        return min(self.step, self.total_steps)


def column_header(columns: tuple[str, ...], section: int, orientation: Qt.Orientation, role: int):
    """The horizontal header of a model whose columns are a fixed tuple of names."""
    if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(columns):
        return columns[section]
    return None


class ColumnTableModel(QAbstractTableModel):
    """A flat table with the fixed columns COLUMNS, one row per item of ``_row_items()``."""

    COLUMNS: tuple[str, ...] = ()

    def _row_items(self) -> list:
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._row_items())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        return column_header(self.COLUMNS, section, orientation, role)


class ExperimentRunsModel(ColumnTableModel):
    """The runs of the running (or last) experiment, in execution order."""

    COLUMNS = ("#", "template", "method", "k", "seed", "status", "step", "ROUGE-L", "note")
    RunIdRole = Qt.ItemDataRole.UserRole
    StatusRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.runs: list[RunInfo] = []
        self._rows: dict[str, int] = {}
        self._dirty: set[int] = set()
        #: the score column's header: where finished runs' scores come from (set when an experiment starts)
        self.score_header = "ROUGE-L"

    def set_score_header(self, text: str) -> None:
        self.score_header = text
        column = self.COLUMNS.index("ROUGE-L")
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, column, column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if (
            orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
            and self.COLUMNS[section] == "ROUGE-L"
        ):
            from mto_studio.core.training.results import short_score_label

            if role == Qt.ItemDataRole.DisplayRole:
                return short_score_label(self.score_header)
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.score_header
        return super().headerData(section, orientation, role)

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self._rows = {r.run_id: i for i, r in enumerate(self.runs)}
        self._dirty.clear()
        self.endResetModel()

    def run(self, run_id: str) -> RunInfo | None:
        row = self._rows.get(run_id)
        return self.runs[row] if row is not None else None

    def row_of(self, run_id: str) -> int:
        return self._rows.get(run_id, -1)

    def update(self, run_id: str, *, now: bool = True, **fields: Any) -> RunInfo | None:
        """Change a run's fields; ``now=False`` defers the repaint to :meth:`flush` (batched step updates)."""
        row = self._rows.get(run_id)
        if row is None:
            return None
        info = self.runs[row]
        for name, value in fields.items():
            setattr(info, name, value)
        if now:
            self._changed(row)
        else:
            self._dirty.add(row)
        return info

    def flush(self) -> None:
        for row in sorted(self._dirty):
            self._changed(row)
        self._dirty.clear()

    def _changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def _row_items(self) -> list:
        return self.runs

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.runs):
            return None
        run = self.runs[index.row()]
        column = self.COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return {
                "#": str(run.index + 1),
                "template": run.template,
                "method": run.method,
                "k": shots_text(run.shots) if run.method != "adaptation" else "—",
                "seed": str(run.seed) if run.method != "adaptation" else "—",
                "status": STATUS_TEXT.get(run.status, run.status),
                "step": f"{run.step}/{run.total_steps}" if run.total_steps else "",
                "ROUGE-L": metric_text(run.rouge),
                "note": run.reason,
            }[column]
        if role == Qt.ItemDataRole.ForegroundRole and column in ("status", "note"):
            return QBrush(QColor(STATUS_COLOURS.get(run.status, "#1f2933")))
        if role == Qt.ItemDataRole.FontRole and column == "status" and run.status in ("running", "failed"):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{run.label}\nfolder: {run.folder or '(not created yet)'}"
            if column == "ROUGE-L" and run.rouge is not None:
                tip = (
                    (
                        f"{run.score_label or run.scored_on} of the finished run"
                        if run.scored_on
                        else "latest validation ROUGE-L (a point of the curve, not the run's result yet)"
                    )
                    + "\n"
                    + tip
                )
            return f"{tip}\n\n{run.reason}" if run.reason else tip
        if role == Qt.ItemDataRole.FontRole and column == "ROUGE-L" and run.rouge is not None and not run.scored_on:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("#", "seed", "step", "ROUGE-L"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.RunIdRole:
            return run.run_id
        if role == self.StatusRole:
            return run.status
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


@dataclass
class ResultCell:
    mean: float
    sd: float
    n: int
    gain: float | None
    values: tuple[float, ...] = ()


class ResultTableModel(QAbstractTableModel):
    """Template × k: mean ± sd over seeds of the reported ROUGE-L (test, else validation: ``label`` says which) and
    the relative gain over the baseline, for one
    relation group. The grid is known from the start; cells fill in as TableUpdated events arrive."""

    MeanRole = Qt.ItemDataRole.UserRole
    SdRole = Qt.ItemDataRole.UserRole + 1
    GainRole = Qt.ItemDataRole.UserRole + 2
    CountRole = Qt.ItemDataRole.UserRole + 3
    BaselineRole = Qt.ItemDataRole.UserRole + 4

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, str]] = []  # (method, template)
        self.shots: list[str] = []
        self.baseline = ""
        self.metric = "rougeL"
        self.tables: list[dict[str, Any]] = []
        self.group = "all relations"
        #: where the cells' scores come from, e.g. "Test ROUGE-L" or "Validation ROUGE-L (best checkpoint)"
        self.label = "ROUGE-L"
        self.seeds_expected = 0
        self._cells: dict[tuple[str, str, str], ResultCell] = {}

    # --- inputs -------------------------------------------------------------------------------------------------
    def set_grid(
        self,
        methods: list[str],
        templates: list[str],
        shots: list[str],
        baseline: str,
        seeds: int = 0,
        label: str | None = None,
    ) -> None:
        self.beginResetModel()
        if label:
            self.label = label
        self.rows = [(m, t) for m in methods for t in templates]
        self.shots = sorted(dict.fromkeys(shots), key=shots_order)
        self.baseline = baseline
        self.seeds_expected = seeds
        self.tables = []
        self._cells = {}
        self.endResetModel()

    def groups(self) -> list[str]:
        return [t.get("group", "all relations") for t in self.tables] or ["all relations"]

    def set_tables(self, tables: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> None:
        """The tables of a TableUpdated event (ResultTable.to_dict() per relation group)."""
        self.tables = list(tables)
        self._fill()

    def set_group(self, group: str) -> None:
        if group != self.group:
            self.group = group
            self._fill()

    def _fill(self) -> None:
        table = next((t for t in self.tables if t.get("group") == self.group), None)
        if table is None and self.tables:
            table = self.tables[0]
            self.group = table.get("group", "all relations")
        cells: dict[tuple[str, str, str], ResultCell] = {}
        rows, shots = list(self.rows), list(self.shots)
        if table is not None:
            self.metric = table.get("metric", "rougeL")
            self.label = table.get("label", self.label)
            self.baseline = table.get("baseline", self.baseline)
            for c in table.get("cells", []):
                key = (c["method"], c["template"], str(c["shots"]))
                values = tuple(float(v) for v in c.get("values", ()))
                cells[key] = ResultCell(float(c["mean"]), float(c["sd"]), len(values), c.get("gain"), values)
                if (key[0], key[1]) not in rows:
                    rows.append((key[0], key[1]))
                if key[2] not in shots:
                    shots.append(key[2])
        shots.sort(key=shots_order)
        if rows != self.rows or shots != self.shots:
            self.beginResetModel()
            self.rows, self.shots, self._cells = rows, shots, cells
            self.endResetModel()
        else:
            self._cells = cells
            if self.rows and self.shots:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, len(self.shots)))

    def cell(self, method: str, template: str, shots: str) -> ResultCell | None:
        return self._cells.get((method, template, shots))

    @property
    def filled(self) -> int:
        return len(self._cells)

    # --- the model ----------------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else 1 + len(self.shots)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            if section == 0:
                return "template"
            if 1 <= section <= len(self.shots):
                shots = self.shots[section - 1]
                return "full data" if shots == "full" else f"k = {shots}"
        return None

    def _methods(self) -> int:
        return len({m for m, _ in self.rows})

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        method, template = self.rows[index.row()]
        is_baseline = template == self.baseline
        if index.column() == 0:
            if role == Qt.ItemDataRole.DisplayRole:
                name = f"{template} · {method}" if self._methods() > 1 else template
                return f"{name} (baseline)" if is_baseline else name
            if role == Qt.ItemDataRole.FontRole:
                font = QFont()
                font.setBold(not is_baseline)
                return font
            if role == self.BaselineRole:
                return is_baseline
            return None
        if not 1 <= index.column() <= len(self.shots):
            return None
        shots = self.shots[index.column() - 1]
        cell = self._cells.get((method, template, shots))
        if role == Qt.ItemDataRole.DisplayRole:
            if cell is None:
                return "…"
            text = f"{cell.mean:.3f} ± {cell.sd:.3f}"
            if cell.gain is not None and not is_baseline:
                text += f"\n{cell.gain * 100:+.0f}%"  # the view shows two lines per row
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            if cell is None:
                return "no finished run in this cell yet"
            values = ", ".join(f"{v:.3f}" for v in cell.values)
            tip = (
                f"{self.metric} on {self.group}: mean {cell.mean:.4f}, sd {cell.sd:.4f} over {cell.n} seed(s): {values}"
            )
            if cell.gain is not None:
                tip += f"\n{cell.gain * 100:+.1f}% relative to {self.baseline} at the same k"
            if self.seeds_expected and cell.n < self.seeds_expected:
                tip += f"\n{cell.n} of {self.seeds_expected} seeds finished"
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and cell is None:
            return QBrush(QColor("#adb5bd"))
        if role == Qt.ItemDataRole.BackgroundRole and cell is not None and cell.gain is not None and not is_baseline:
            return QBrush(QColor("#ebfbee" if cell.gain > 0 else "#fff5f5"))
        if cell is None:
            return None
        if role == self.MeanRole:
            return cell.mean
        if role == self.SdRole:
            return cell.sd
        if role == self.GainRole:
            return cell.gain
        if role == self.CountRole:
            return cell.n
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


class SamplesModel(ColumnTableModel):
    """Sample predictions of one evaluation (EvalDone.samples)."""

    COLUMNS = ("relation", "input", "prediction", "references", "ROUGE-L")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.samples: list[dict[str, Any]] = []

    def set_samples(self, samples) -> None:
        self.beginResetModel()
        self.samples = [dict(s) for s in samples]
        self.endResetModel()

    def _row_items(self) -> list:
        return self.samples

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.samples):
            return None
        sample = self.samples[index.row()]
        column = self.COLUMNS[index.column()]
        score = sample.get("rougeL")
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if column == "references":
                refs = [str(r) for r in sample.get("references", [])]
                return " | ".join(refs) if role == Qt.ItemDataRole.DisplayRole else "\n".join(refs)
            if column == "ROUGE-L":
                return metric_text(score)
            return str(sample.get(column, ""))
        if role == Qt.ItemDataRole.ForegroundRole and column in ("prediction", "ROUGE-L") and score is not None:
            return QBrush(QColor("#2b8a3e" if score >= 0.999 else "#c92a2a" if score <= 0.001 else "#1f2933"))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == "ROUGE-L":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


# --- the run store as a tree ------------------------------------------------------------------------------------
@dataclass
class _Node:
    kind: str  # "experiment" | "run"
    row: int
    experiment: ExperimentRow | None = None
    run: RunRow | None = None
    parent: _Node | None = None
    children: list[_Node] = field(default_factory=list)


def experiment_runs(experiment, seen: int) -> int:
    """The number of runs of an experiment's whole grid (not only those that have started)."""
    from mto_studio.core.training.experiment_config import ExperimentConfig

    total = ExperimentConfig.total_runs(experiment.config) if experiment is not None else None
    return max(total or 0, seen)


def run_score(run: RunRow, name: str) -> float | None:
    value = run.metrics.get(name)
    return float(value) if isinstance(value, (int, float)) else None


#: how a score's split is shown next to it where space is short
SPLIT_SHORT = {"test": "test", "validation": "val"}


def scored_text(run: RunRow, name: str) -> str:
    """A run's score with where it comes from: "0.512 test" or "0.512 val" (a validation score)."""
    value = run_score(run, name)
    text = metric_text(value)
    short = SPLIT_SHORT.get(run.scored_on or "")
    return f"{text} {short}" if value is not None and short else text


class RunsTreeModel(QAbstractItemModel):
    """Experiments (top level) and their runs (children), from a RunStore's rows. Runs without an experiment sit
    under a synthetic 'single runs' node."""

    COLUMNS = ("name", "template", "method", "k", "seed", "status", "step", "ROUGE-L", "EM", "reason")
    KindRole = Qt.ItemDataRole.UserRole
    IdRole = Qt.ItemDataRole.UserRole + 1
    FolderRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._roots: list[_Node] = []
        self.owned: set[str] = set()  # run folders a worker of this app is training now

    def set_rows(self, experiments: list[ExperimentRow], runs: list[RunRow]) -> None:
        self.beginResetModel()
        roots: list[_Node] = []
        by_id: dict[int, _Node] = {}
        for experiment in sorted(experiments, key=lambda e: e.id, reverse=True):
            node = _Node("experiment", len(roots), experiment=experiment)
            roots.append(node)
            by_id[experiment.id] = node
        loose: _Node | None = None
        for run in runs:
            parent = by_id.get(run.experiment_id) if run.experiment_id is not None else None
            if parent is None:
                if loose is None:
                    loose = _Node("experiment", len(roots))
                    roots.append(loose)
                parent = loose
            parent.children.append(_Node("run", len(parent.children), run=run, parent=parent))
        self._roots = roots
        self.endResetModel()

    def node(self, index: Index) -> _Node | None:
        if not index.isValid():
            return None
        return index.internalPointer()

    def run_at(self, index: Index) -> RunRow | None:
        node = self.node(index)
        return node.run if node is not None and node.kind == "run" else None

    def experiment_at(self, index: Index) -> ExperimentRow | None:
        node = self.node(index)
        if node is None:
            return None
        return node.experiment if node.kind == "experiment" else node.parent.experiment

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

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # noqa: B008 - Qt override (also QObject.parent)
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer()
        if node.parent is None:
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
        if node.kind == "run":
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
            if node.kind == "run":
                run = node.run
                tip = f"{run.name}\n{run.folder}"
                if column in ("ROUGE-L", "EM") and run.metrics.get("score_label"):
                    label = str(run.metrics["score_label"])
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
            return QBrush(QColor(STATUS_COLOURS.get(status, "#1f2933")))
        if role == Qt.ItemDataRole.FontRole and node.kind == "experiment" and column == "name":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("seed", "step", "ROUGE-L", "EM"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.KindRole:
            return node.kind
        if role == self.IdRole:
            if node.kind == "run":
                return node.run.id
            return node.experiment.id if node.experiment is not None else -1
        if role == self.FolderRole:
            if node.kind == "run":
                return node.run.folder
            return node.experiment.folder if node.experiment is not None else ""
        return None

    def _text(self, node: _Node, column: str) -> str:
        if node.kind == "experiment":
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
        flat = [flatten(c) for c in configs]
        keys = sorted({k for f in flat for k in f} - {"name"})
        self.names = list(names)
        self.fields = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1] if len(flat) > 1 else []
        self.values = [[value_text(f.get(k)) for f in flat] for k in self.fields]
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
            return QBrush(QColor("#fff3bf"))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "objectives":
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "(none)"
    return str(value)
