"""What the run and result models share: the index type of Qt's model methods and a table with fixed columns."""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

Index = QModelIndex | QPersistentModelIndex


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
