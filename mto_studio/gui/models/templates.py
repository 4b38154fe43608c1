"""Models for the template designer: the library list and the editable relation-phrase table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

from mto_studio.core.templates import Objective, Phrase, PhraseTable
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.gui.theme import EDITED_FILL, SECONDARY, SELECTED_FILL, TAG_COLOURS

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class TemplateEntry:
    key: str  # stable id in the list: the saved name, or a draft's id while it is unsaved
    name: str
    objective: Objective
    builtin: bool
    description: str = ""
    modified: bool = False  # an edit not yet saved
    unsaved: bool = False  # a new template never saved


def objective_icon(objective: Objective) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(OBJECTIVE_COLOURS[objective]))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


class TemplateListModel(QAbstractListModel):
    """The library: built-ins first (read-only), then the project's templates and unsaved drafts."""

    KeyRole = Qt.ItemDataRole.UserRole
    BuiltinRole = Qt.ItemDataRole.UserRole + 1
    ObjectiveRole = Qt.ItemDataRole.UserRole + 2
    TagRole = Qt.ItemDataRole.UserRole + 3  # 'built-in', 'project' or 'new'

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._entries: list[TemplateEntry] = []
        self._icons: dict[Objective, QIcon] = {}

    def set_entries(self, entries: list[TemplateEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def update_entry(self, entry: TemplateEntry) -> None:
        """Refresh one row in place (no reset, so the selection stays)."""
        for row, current in enumerate(self._entries):
            if current.key == entry.key:
                self._entries[row] = entry
                index = self.index(row, 0)
                self.dataChanged.emit(index, index)
                return

    def entries(self) -> list[TemplateEntry]:
        return list(self._entries)

    def row_of(self, key: str) -> int:
        return next((row for row, e in enumerate(self._entries) if e.key == key), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._entries)

    def _icon(self, objective: Objective) -> QIcon:
        if objective not in self._icons:
            self._icons[objective] = objective_icon(objective)
        return self._icons[objective]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            marker = " •" if entry.modified or entry.unsaved else ""
            return f"{entry.name}{marker}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(entry.objective)
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "built-in, read-only (Duplicate to edit)" if entry.builtin else "project template"
            state = " — not saved yet" if entry.unsaved else (" — unsaved changes" if entry.modified else "")
            return f"{entry.name} · {entry.objective} · {kind}{state}\n{entry.description}".strip()
        if role == Qt.ItemDataRole.ForegroundRole and entry.builtin:
            return QBrush(QColor(SECONDARY))
        if role == Qt.ItemDataRole.FontRole and (entry.unsaved or entry.modified):
            font = QFont()
            font.setItalic(True)
            return font
        if role == self.KeyRole:
            return entry.key
        if role == self.BuiltinRole:
            return entry.builtin
        if role == self.ObjectiveRole:
            return entry.objective.value
        if role == self.TagRole:
            return "built-in" if entry.builtin else ("new" if entry.unsaved else "project")
        return None


class TemplateListDelegate(QStyledItemDelegate):
    """Draws a muted tag ('built-in', 'project', 'new') at the right of each library entry."""

    def paint(self, painter: QPainter, option, index) -> None:
        super().paint(painter, option, index)
        tag = index.data(TemplateListModel.TagRole) or ""
        painter.save()
        font = QFont(option.font)
        font.setPointSizeF(max(6.5, font.pointSizeF() - 1.5))
        painter.setFont(font)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(QColor(SELECTED_FILL if selected else TAG_COLOURS.get(tag, TAG_COLOURS["built-in"])))
        painter.drawText(
            option.rect.adjusted(0, 0, -6, 0), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, tag
        )
        painter.restore()


class PhraseTableModel(QAbstractTableModel):
    """Relation · clause · connective, editable. Overridden cells are bold on a tinted background. An edit goes
    through ``commit(relation, phrase)``, which returns an error message (the edit is refused) or None."""

    HEADERS = ("Relation", "Clause (wraps {input})", "Connective (continues the input)")
    edit_rejected = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._relations: list[str] = []
        self._effective: PhraseTable = PhraseTable()
        self._overridden: set[str] = set()
        self._used: set[str] = set()
        self._builtin: PhraseTable = PhraseTable()
        self._commit: Callable[[str, Phrase], str | None] | None = None

    def set_phrases(
        self,
        relations: list[str],
        effective: PhraseTable,
        overridden: set[str],
        used: set[str] | None = None,
        builtin: PhraseTable | None = None,
    ) -> None:
        """``relations`` in display order; ``used``: relations of the loaded data (shown first, in bold);
        ``builtin``: the shipped phrases, so that only the cells that differ from them are marked."""
        self.beginResetModel()
        self._builtin = builtin if builtin is not None else PhraseTable()
        self._relations = list(relations)
        self._effective = effective
        self._overridden = set(overridden)
        self._used = set(used or ())
        self.endResetModel()

    def set_commit(self, commit: Callable[[str, Phrase], str | None]) -> None:
        self._commit = commit

    def relation_at(self, row: int) -> str:
        return self._relations[row]

    def row_of(self, relation: str) -> int:
        return self._relations.index(relation) if relation in self._relations else -1

    def phrase(self, relation: str) -> Phrase:
        return self._effective.get(relation, Phrase())

    def is_overridden(self, relation: str, column: int) -> bool:
        """Whether this cell holds the project's own text (not the built-in one)."""
        if relation not in self._overridden or column == 0:
            return False
        field = "clause" if column == 1 else "connective"
        base = self._builtin.get(relation, Phrase())
        return getattr(self.phrase(relation), field) != getattr(base, field)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._relations)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() > 0 and self._commit is not None:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._relations):
            return None
        relation = self._relations[index.row()]
        phrase = self.phrase(relation)
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return (relation, phrase.clause, phrase.connective)[column]
        if role == Qt.ItemDataRole.FontRole:
            bold = (column == 0 and relation in self._used) or self.is_overridden(relation, column)
            if bold:
                font = QFont()
                font.setBold(True)
                return font
        if role == Qt.ItemDataRole.BackgroundRole and self.is_overridden(relation, column):
            return QBrush(QColor(EDITED_FILL))
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == 0:
                return f"{relation}" + (" — in the loaded data" if relation in self._used else "")
            state = "project override" if self.is_overridden(relation, column) else "built-in phrase"
            return f"{state}; double-click to edit, clear the cell to go back to the built-in text"
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() == 0 or role != Qt.ItemDataRole.EditRole or self._commit is None:
            return False
        relation = self._relations[index.row()]
        current = self.phrase(relation)
        text = " ".join(str(value).split())
        if index.column() == 1:
            if text and text.count("{input}") != 1:
                self.edit_rejected.emit(
                    f'the clause for {relation} must hold {{input}} exactly once, e.g. "After {{input}}, PersonX feels"'
                )
                return False
            phrase = Phrase(clause=text, connective=current.connective)
        else:
            phrase = Phrase(clause=current.clause, connective=text)
        error = self._commit(relation, phrase)
        if error:
            self.edit_rejected.emit(error)
            return False
        return True

    def refresh(self, effective: PhraseTable, overridden: set[str]) -> None:
        """New phrases without a reset (the view keeps its selection and editor)."""
        self._effective = effective
        self._overridden = set(overridden)
        if self._relations:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._relations) - 1, self.columnCount() - 1))

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None
