"""Models for the Trainer: an experiment's runs, the template × k result table and sample predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from mto_studio.core.training.results import metric_text, shots_order, shots_text
from mto_studio.gui.models.qa import QA_COLUMNS, QA_METRICS, finished_label, qa_metric_name, qa_score_label
from mto_studio.gui.models.samples import SamplesModel as SamplesModel  # where it lived before
from mto_studio.gui.models.table import ColumnTableModel, Index
from mto_studio.gui.theme import ERROR_FILL, FAINT, STATUS_COLOURS, SUCCESS_FILL, TEXT

STATUS_TEXT = {"skipped": "finished earlier", "waiting": "waiting"}
#: a QA metric's column → the metric
QA_COLUMN_METRIC = {QA_COLUMNS[m]: m for m in QA_METRICS}


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
    #: a QA run's accuracy (generation matched to a choice) and ranked accuracy, like ``rouge``; None otherwise
    accuracy: float | None = None
    accuracy_ranked: float | None = None
    reason: str = ""
    folder: str = ""
    where: str = ""  # where it runs: "this computer (process 1234)", "ray: 10.0.0.5 (attempt 2)"

    @property
    def label(self) -> str:
        return f"{self.template} · {self.method} · {shots_text(self.shots)} · seed {self.seed}"

    @property
    def done_steps(self) -> int:
        """Steps that count as done for the progress bar (a failed or skipped run counts whole)."""
        if self.status in ("finished", "skipped", "failed"):
            return self.total_steps
        return min(self.step, self.total_steps)


class ExperimentRunsModel(ColumnTableModel):
    """The runs of the running (or last) experiment, in execution order. Once a run reports QA accuracy, its
    columns follow ROUGE-L (their headers say where the scores come from, as ROUGE-L's does)."""

    BASE_COLUMNS = ("#", "template", "method", "k", "seed", "status", "step", "ROUGE-L", "where", "note")
    COLUMNS: tuple[str, ...] = BASE_COLUMNS
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
            and self.COLUMNS[section] in ("ROUGE-L", *QA_COLUMN_METRIC)
        ):
            from mto_studio.core.training.results import short_score_label

            column = self.COLUMNS[section]
            header = self.score_header if column == "ROUGE-L" else self.qa_header(QA_COLUMN_METRIC[column])
            if role == Qt.ItemDataRole.DisplayRole:
                return short_score_label(header)
            if role == Qt.ItemDataRole.ToolTipRole:
                return header
        return super().headerData(section, orientation, role)

    def qa_header(self, metric: str) -> str:
        """The score header for a QA metric: "Validation accuracy (best checkpoint)"."""
        name = qa_metric_name(metric)
        header = self.score_header
        return header.replace("ROUGE-L", name) if "ROUGE-L" in header else qa_score_label(None, metric)

    def _show_qa_columns(self, metrics: list[str]) -> None:
        """Insert the columns of QA ``metrics`` not shown yet, after ROUGE-L."""
        shown = [m for m in QA_METRICS if m in metrics or QA_COLUMNS[m] in self.COLUMNS]
        columns = list(self.BASE_COLUMNS)
        at = columns.index("ROUGE-L") + 1
        columns[at:at] = [QA_COLUMNS[m] for m in shown]
        for position, name in enumerate(columns):
            if name not in self.COLUMNS:
                self.beginInsertColumns(QModelIndex(), position, position)
                self.COLUMNS = (*self.COLUMNS[:position], name, *self.COLUMNS[position:])
                self.endInsertColumns()

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self.runs = list(runs)
        self._rows = {r.run_id: i for i, r in enumerate(self.runs)}
        self._dirty.clear()
        self.COLUMNS = self.BASE_COLUMNS
        self.endResetModel()
        self._show_qa_columns([m for m in QA_METRICS if any(getattr(r, m) is not None for r in self.runs)])

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
        self._show_qa_columns([m for m in QA_METRICS if fields.get(m) is not None])
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
        if role == self.RunIdRole:  # the same for every column, QA ones included
            return run.run_id
        if role == self.StatusRole:
            return run.status
        if column in QA_COLUMN_METRIC:
            return self._qa_data(run, QA_COLUMN_METRIC[column], role)
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
                "where": run.where,
                "note": run.reason,
            }[column]
        if role == Qt.ItemDataRole.ForegroundRole and column in ("status", "note"):
            return QBrush(QColor(STATUS_COLOURS.get(run.status, TEXT)))
        if role == Qt.ItemDataRole.FontRole and column == "status" and run.status in ("running", "failed"):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{run.label}\nfolder: {run.folder or '(not created yet)'}"
            if column == "ROUGE-L" and run.rouge is not None:
                tip = (
                    (
                        f"{finished_label(run.score_label, run.scored_on, 'rougeL', qa=run.accuracy is not None)} of the finished run"
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
        return None

    def _qa_data(self, run: RunInfo, metric: str, role: int) -> Any:
        value = getattr(run, metric)
        if role == Qt.ItemDataRole.DisplayRole:
            return metric_text(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            name = qa_metric_name(metric)
            if value is None:
                return f"{run.label}: no {name} yet"
            if not run.scored_on:
                return f"latest validation {name} (a point of the curve, not the run's result yet)\n{run.label}"
            return f"{finished_label(run.score_label, run.scored_on, metric, qa=run.accuracy is not None)} of the finished run\n{run.label}"
        if role == Qt.ItemDataRole.FontRole and value is not None and not run.scored_on:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
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
            tip = f"{qa_metric_name(self.metric)} on {self.group}: mean {cell.mean:.4f}, sd {cell.sd:.4f} over {cell.n} seed(s): {values}"
            if cell.gain is not None:
                tip += f"\n{cell.gain * 100:+.1f}% relative to {self.baseline} at the same k"
            if self.seeds_expected and cell.n < self.seeds_expected:
                tip += f"\n{cell.n} of {self.seeds_expected} seeds finished"
            return tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and cell is None:
            return QBrush(QColor(FAINT))
        if role == Qt.ItemDataRole.BackgroundRole and cell is not None and cell.gain is not None and not is_baseline:
            return QBrush(QColor(SUCCESS_FILL if cell.gain > 0 else ERROR_FILL))
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
