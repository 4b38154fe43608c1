"""Models for the Analyzer: checkable choice lists (templates, relations) and the per-relation results table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

from mto_studio.core.analysis.report import AnalysisReport, RelationReport, decided_by
from mto_studio.core.objectives.strategies import Decision
from mto_studio.core.templates import Objective
from mto_studio.gui.models.analysis_columns import BEST_COLUMN, FIXED_COLUMNS, QA_ACCURACY_COLUMN, Column
from mto_studio.gui.models.qa import accuracy_tooltip, best_accuracy
from mto_studio.gui.models.templates import OBJECTIVE_COLOURS, objective_icon
from mto_studio.gui.theme import OBJECTIVE_FILLS, PENDING

Index = QModelIndex | QPersistentModelIndex
#: What "auto" means in the decision column's editor: the analysis decides.
AUTO = "auto"


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    tooltip: str = ""
    objective: Objective | None = None  # shown as a coloured dot
    disabled_reason: str = ""  # non-empty: greyed out, cannot be checked, the reason is its tooltip


class ChoiceListModel(QAbstractListModel):
    """A checkable list. Disabled rows are never checked and say why in their tooltip."""

    KeyRole = Qt.ItemDataRole.UserRole
    checks_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._choices: list[Choice] = []
        self._checked: set[str] = set()
        self._icons: dict[Objective, QIcon] = {}

    def set_choices(self, choices: Iterable[Choice], checked: Iterable[str]) -> None:
        self.beginResetModel()
        self._choices = list(choices)
        wanted = set(checked)
        self._checked = {c.key for c in self._choices if c.key in wanted and not c.disabled_reason}
        self.endResetModel()
        self.checks_changed.emit()

    def choices(self) -> list[Choice]:
        return list(self._choices)

    def keys(self) -> list[str]:
        return [c.key for c in self._choices]

    def enabled_keys(self) -> list[str]:
        return [c.key for c in self._choices if not c.disabled_reason]

    def checked_keys(self) -> list[str]:
        """The checked keys, in list order."""
        return [c.key for c in self._choices if c.key in self._checked]

    def set_checked(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        self._checked = {c.key for c in self._choices if c.key in wanted and not c.disabled_reason}
        if self._choices:
            self.dataChanged.emit(self.index(0), self.index(len(self._choices) - 1), [Qt.ItemDataRole.CheckStateRole])
        self.checks_changed.emit()

    def set_all(self, checked: bool) -> None:
        self.set_checked(self.enabled_keys() if checked else [])

    def row_of(self, key: str) -> int:
        return next((row for row, c in enumerate(self._choices) if c.key == key), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._choices)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._choices):
            return None
        choice = self._choices[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return choice.label
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if choice.key in self._checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return choice.disabled_reason or choice.tooltip or None
        if role == Qt.ItemDataRole.DecorationRole and choice.objective is not None:
            if choice.objective not in self._icons:
                self._icons[choice.objective] = objective_icon(choice.objective)
            return self._icons[choice.objective]
        if role == self.KeyRole:
            return choice.key
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if self._choices[index.row()].disabled_reason:
            return Qt.ItemFlag.ItemNeverHasChildren  # shown, not selectable, not checkable
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole:
            return False
        choice = self._choices[index.row()]
        if choice.disabled_reason:
            return False
        state = value.value if isinstance(value, Qt.CheckState) else int(value)
        if state == Qt.CheckState.Checked.value:
            self._checked.add(choice.key)
        else:
            self._checked.discard(choice.key)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checks_changed.emit()
        return True


def objective_text(objective: Objective | None) -> str:
    return objective.value.capitalize() if objective is not None else "undecided"


class RelationResultsModel(QAbstractTableModel):
    """One row per relation of an AnalysisReport: the decision (overridable), the probe's evidence, each
    strategy's vote and the best template. ``overrides`` (relation → 'filling'/'mapping') are the user's."""

    SortRole = Qt.ItemDataRole.UserRole
    RelationRole = Qt.ItemDataRole.UserRole + 1
    overrides_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.report: AnalysisReport | None = None
        self.overrides: dict[str, str] = {}
        self._columns: list[Column] = []
        self._bold = QFont()
        self._bold.setBold(True)
        self._italic = QFont()
        self._italic.setItalic(True)

    # --- content ----------------------------------------------------------------------------------------------
    def set_report(self, report: AnalysisReport | None, overrides: dict[str, str] | None = None) -> None:
        self.beginResetModel()
        self.report = report
        relations = {r.relation for r in report.relations} if report else set()
        self.overrides = {k: v for k, v in (overrides or {}).items() if k in relations}
        strategies = list(report.config.strategies) if report else []
        self._columns = (
            [
                *FIXED_COLUMNS,
                *(
                    Column(
                        f"vote:{s}",
                        f"{s.capitalize()}\nvote",
                        f"what the {s} strategy said (hover a cell for its reason)",
                    )
                    for s in strategies
                ),
                BEST_COLUMN,
                *([QA_ACCURACY_COLUMN] if report.kind == "qa" else []),
            ]
            if report
            else []
        )
        self.endResetModel()

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    def column_of(self, key: str) -> int:
        return next((i for i, c in enumerate(self._columns) if c.key == key), -1)

    def relation_at(self, row: int) -> RelationReport | None:
        if self.report is None or not 0 <= row < len(self.report.relations):
            return None
        return self.report.relations[row]

    def row_of(self, relation: str) -> int:
        if self.report is None:
            return -1
        return next((row for row, r in enumerate(self.report.relations) if r.relation == relation), -1)

    def effective_objective(self, report: RelationReport) -> Objective | None:
        override = self.overrides.get(report.relation)
        return Objective(override) if override else report.objective

    def effective_decisions(self) -> dict[str, str]:
        """relation → 'filling'/'mapping': the analysis's decisions with the user's overrides on top."""
        if self.report is None:
            return {}
        return {
            r.relation: obj.value for r in self.report.relations if (obj := self.effective_objective(r)) is not None
        }

    def set_override(self, relation: str, objective: str | None) -> bool:
        """Fix ``relation`` to 'filling'/'mapping', or give it back to the analysis (None / 'auto' / the value the
        analysis chose anyway)."""
        row = self.row_of(relation)
        report = self.relation_at(row)
        if report is None:
            return False
        if objective in (None, AUTO) or (report.objective is not None and objective == report.objective.value):
            changed = self.overrides.pop(relation, None) is not None
        else:
            objective = Objective(objective).value
            if objective not in (Objective.FILLING.value, Objective.MAPPING.value):
                return False
            changed = self.overrides.get(relation) != objective
            self.overrides[relation] = objective
        if changed:
            self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
            self.overrides_changed.emit()
        return True

    # --- Qt model ---------------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() or self.report is None else len(self.report.relations)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 - Qt override
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802 - Qt override
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if self._columns[index.column()].key == "decision":
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or role != Qt.ItemDataRole.EditRole or self._columns[index.column()].key != "decision":
            return False
        report = self.relation_at(index.row())
        if report is None or value not in (AUTO, None, Objective.FILLING.value, Objective.MAPPING.value):
            return False
        return self.set_override(report.relation, value)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.report is None or not 0 <= index.row() < len(self.report.relations):
            return None
        report = self.report.relations[index.row()]
        column = self._columns[index.column()]
        key = column.key
        if role == self.RelationRole:
            return report.relation
        if role == Qt.ItemDataRole.TextAlignmentRole:
            align = Qt.AlignmentFlag.AlignRight if column.numeric else Qt.AlignmentFlag.AlignLeft
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if key == "decision":
            return self._decision_data(report, role)
        if key.startswith("vote:"):
            return self._vote_data(report, report.votes.get(key[5:]), role)
        value = self._value(report, key)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._format(key, value)
        if role == self.SortRole:
            return value if value is not None else float("-inf") if column.numeric else ""
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "best":
                return report.recommendation or None
            if key == QA_ACCURACY_COLUMN.key:
                return accuracy_tooltip(report)
            if key == "by" and report.relation in self.overrides:
                return f"you set it; the analysis said {objective_text(report.objective)} ({report.decision.strategy})"
            if key == "by":
                return report.decision.reason
            probe = report.votes.get("probe")
            if key == "mi" and probe is not None and probe.evidence.get("mi_ci"):
                return f"{column.tooltip}. {probe.reason}"
            return column.tooltip
        if role == Qt.ItemDataRole.ForegroundRole and value is None:
            return QBrush(QColor(PENDING))
        return None

    def _value(self, report: RelationReport, key: str) -> Any:
        if key == "relation":
            return report.relation
        if key == "heads":
            return report.heads
        if key == "by":
            return "you" if report.relation in self.overrides else decided_by(report.decision)
        if key == "best":
            return report.best_template
        if key == QA_ACCURACY_COLUMN.key:
            return best_accuracy(report)
        probe = report.votes.get("probe")
        evidence = probe.evidence if probe is not None else {}
        value = evidence.get(key)
        return float(value) if isinstance(value, (int, float)) else None

    @staticmethod
    def _format(key: str, value: Any) -> str:
        if value is None:
            return "—"
        if key == "mi":
            return f"{value:+.2f}"
        if key in ("dr_masked", "dr_prefix"):
            return f"{value:.1f}"
        if key == QA_ACCURACY_COLUMN.key:
            return f"{value:.0%}"
        if key in ("ll_masked", "ll_prefix"):
            return f"{value:.2f}"
        if key == "heads":
            return f"{value:,}"
        return str(value)

    def _decision_data(self, report: RelationReport, role: int) -> Any:
        objective = self.effective_objective(report)
        overridden = report.relation in self.overrides
        if role == Qt.ItemDataRole.DisplayRole:
            return objective_text(objective) + ("  ✎" if overridden else "")
        if role == Qt.ItemDataRole.EditRole:
            return self.overrides.get(report.relation, AUTO)
        if role == self.SortRole:
            return objective.value if objective is not None else "~"
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(OBJECTIVE_COLOURS[objective] if objective is not None else PENDING))
        if role == Qt.ItemDataRole.BackgroundRole and objective is not None:
            return QBrush(QColor(OBJECTIVE_FILLS[objective]))
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if objective is not None else self._italic
        if role == Qt.ItemDataRole.ToolTipRole:
            if overridden:
                return (
                    f"set by you; the analysis said {objective_text(report.objective)} "
                    f"({report.decision.strategy}: {report.decision.reason}). Double-click to change."
                )
            return f"{report.decision.strategy}: {report.decision.reason}. Double-click to set it yourself."
        return None

    def _vote_data(self, report: RelationReport, vote: Decision | None, role: int) -> Any:
        objective = vote.objective if vote is not None else None
        if role == Qt.ItemDataRole.DisplayRole:  # undecided votes stay short: the tooltip says why
            if vote is not None and vote.inconclusive:
                return "Inconclusive"
            return objective_text(objective) if objective is not None else "—"
        if role == self.SortRole:
            return objective.value if objective is not None else "~"
        if role == Qt.ItemDataRole.ToolTipRole:
            return vote.reason if vote is not None else "this strategy did not run"
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(OBJECTIVE_COLOURS[objective] if objective is not None else PENDING))
        if role == Qt.ItemDataRole.FontRole:
            decided = (
                vote is not None and report.decision.strategy == vote.strategy and report.relation not in self.overrides
            )
            return self._bold if decided else None
        return None
