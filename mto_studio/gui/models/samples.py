"""The sample predictions of one evaluation (EvalDone.samples), as the Trainer and the Lab show them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

from mto_studio.core.training.results import metric_text
from mto_studio.gui.models.table import ColumnTableModel, Index
from mto_studio.gui.theme import ERROR_RED, SUCCESS, TEXT


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
            return QBrush(QColor(SUCCESS if score >= 0.999 else ERROR_RED if score <= 0.001 else TEXT))
        if role == Qt.ItemDataRole.TextAlignmentRole and column == "ROUGE-L":
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
