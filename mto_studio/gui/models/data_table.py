"""Table models of a loaded data set: its raw rows (lazy, for big files) and its relations with counts."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from mto_studio.core.data import NONE_TARGETS, ColumnMapping, RawTable, TaskData
from mto_studio.core.data.qa import QARow
from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.gui.format import choices_text, choices_tooltip
from mto_studio.gui.theme import FAINT

Index = QModelIndex | QPersistentModelIndex


class RawTableModel(QAbstractTableModel):
    """The rows of a RawTable as read from the file. Rows arrive in batches as the view scrolls (fetchMore), and
    are read from the Arrow-backed dataset a chunk at a time, so a million-row file opens at once. Rows that the
    mapping drops (empty input, 'none' target) are greyed, with the reason as tooltip. QA data gains a last column,
    QA_COLUMN (after the question): the row's choices as read, the right one marked."""

    QA_COLUMN = "choices (✓ answer)"

    FETCH_BATCH = 2000
    CHUNK_ROWS = 256
    CACHED_CHUNKS = 16

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._raw: RawTable | None = None
        self._mapping: ColumnMapping | None = None
        self._loaded = 0
        self._fetching = False
        self._chunks: OrderedDict[int, dict[str, list[Any]]] = OrderedDict()
        self._qa: dict[int, QARow] = {}

    def set_table(
        self, raw: RawTable | None, mapping: ColumnMapping | None, qa_rows: dict[int, QARow] | None = None
    ) -> None:
        """``qa_rows``: for QA data, the usable rows by row index (their choices and answer)."""
        self.beginResetModel()
        self._raw = raw
        self._mapping = mapping
        self._qa = dict(qa_rows or {})
        self._chunks.clear()
        self._loaded = min(self.FETCH_BATCH, len(raw)) if raw is not None else 0
        self.endResetModel()

    @property
    def total_rows(self) -> int:
        return len(self._raw) if self._raw is not None else 0

    @property
    def columns(self) -> list[str]:
        """The file's columns (and, for QA data, QA_COLUMN right after the question)."""
        if self._raw is None:
            return []
        columns = list(self._raw.columns)
        if self._qa:
            question = self._mapping.input if self._mapping is not None else None
            columns.insert(columns.index(question) + 1 if question in columns else len(columns), self.QA_COLUMN)
        return columns

    @property
    def is_qa(self) -> bool:
        return bool(self._qa)

    def qa_row(self, row: int) -> QARow | None:
        """The QA row at file row ``row`` (None for completion data and rows without a question)."""
        return self._qa.get(row)

    # --- lazy loading ---------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._loaded

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._loaded < self.total_rows

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        # Listeners of rowsAboutToBeInserted may ask for more rows again (Qt's model tester does); a nested
        # fetch would insert the same rows twice, so it waits for this one to finish.
        if parent.isValid() or self._fetching:
            return
        count = min(self.FETCH_BATCH, self.total_rows - self._loaded)
        if count <= 0:
            return
        self._fetching = True
        try:
            self.beginInsertRows(QModelIndex(), self._loaded, self._loaded + count - 1)
            self._loaded += count
            self.endInsertRows()
        finally:
            self._fetching = False

    def _chunk(self, number: int) -> dict[str, list[Any]]:
        if number in self._chunks:
            self._chunks.move_to_end(number)
            return self._chunks[number]
        assert self._raw is not None, "rows exist only while a table is shown"
        start = number * self.CHUNK_ROWS
        chunk = self._raw.dataset[start : start + self.CHUNK_ROWS]
        self._chunks[number] = chunk
        if len(self._chunks) > self.CACHED_CHUNKS:
            self._chunks.popitem(last=False)
        return chunk

    def value(self, row: int, column: str) -> Any:
        return self._chunk(row // self.CHUNK_ROWS)[column][row % self.CHUNK_ROWS]

    def drop_reason(self, row: int) -> str | None:
        """Why the mapping drops this row, or None when it is used."""
        mapping = self._mapping
        if mapping is None or mapping.input not in self.columns or mapping.target not in self.columns:
            return None
        if self._qa:
            return None if row in self._qa else "dropped: the question is empty"
        if not _text(self.value(row, mapping.input)):
            return "dropped: the input is empty"
        if _text(self.value(row, mapping.target)).lower() in NONE_TARGETS:
            return "dropped: the target is empty or 'none' (no inference)"
        return None

    # --- data -----------------------------------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._raw is None:
            return None
        row, column = index.row(), self.columns[index.column()]
        if self._qa and column == self.QA_COLUMN:
            return self._qa_data(row, role)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return _text(self.value(row, column))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(FAINT)) if self.drop_reason(row) else None
        if role == Qt.ItemDataRole.ToolTipRole:
            reason = self.drop_reason(row)
            text = _text(self.value(row, column))
            return f"{text}\n\n({reason})" if reason else (text if len(text) > 40 else None)
        return None

    def _qa_data(self, row: int, role: int) -> Any:
        qa = self._qa.get(row)
        if qa is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return choices_text(qa.choices, qa.answer)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{qa.question}\n\n{choices_tooltip(qa.choices, qa.answer)}"
        if role == Qt.ItemDataRole.UserRole:
            return qa.answer
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Vertical:
            if role == Qt.ItemDataRole.DisplayRole and 0 <= section < self._loaded:
                return str(section + 1)
            return None
        if not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        role_name = self.role_of(column)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{column}  ▸ {role_name}" if role_name else column
        if role == Qt.ItemDataRole.FontRole and role_name:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if self._qa and column == self.QA_COLUMN:
                return "each question's choices as read from the file, the right one marked ✓"
            return f"column '{column}'" + (f", mapped to the {role_name}" if role_name else ", not used")
        return None

    def role_of(self, column: str) -> str | None:
        mapping = self._mapping
        if mapping is None:
            return None
        if self._qa:
            choices = (mapping.choices or "").split("|")
            names = (("question", mapping.input), ("answer", mapping.target), ("relation", mapping.relation))
            if column in choices or column == (mapping.choices or "").split(".")[0]:
                return "choices" if column != mapping.input else "question + choices"
        else:
            names = (("input", mapping.input), ("target", mapping.target), ("relation", mapping.relation))
        for role_name, mapped in names:
            if mapped == column:
                return role_name
        return None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


class RelationCountsModel(QAbstractTableModel):
    """Relation · heads · rows · objective (as the library would decide it for a mixed template)."""

    HEADERS = ("Relation", "Heads", "Rows", "Objective")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, int, int, str, str]] = []

    def set_data(self, task: TaskData | None, library: TemplateLibrary | None = None) -> None:
        self.beginResetModel()
        self._rows = []
        if task is not None:
            heads, rows = task.head_counts(), task.row_counts()
            for relation in task.relations:
                objective, decided_by = library.objective_for(relation) if library else ("", "")
                self._rows.append((relation, heads.get(relation, 0), rows.get(relation, 0), str(objective), decided_by))
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        relation, heads, rows, objective, decided_by = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (relation, f"{heads:,}", f"{rows:,}", objective)[column]
        if role == Qt.ItemDataRole.UserRole:
            return (relation, heads, rows, objective)[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (1, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and column == 3 and objective:
            source = {
                "rules": "the rule table",
                "analysis": "the analyzer's decision",
                "fallback": "the fallback for undecided relations",
            }.get(decided_by, decided_by)
            return f"{relation} → {objective}, decided by {source}"
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            return QBrush(QColor(OBJECTIVE_COLOURS[Objective.FILLING if objective == "filling" else Objective.MAPPING]))
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None
