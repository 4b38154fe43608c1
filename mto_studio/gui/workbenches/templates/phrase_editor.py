"""The editable relation-phrase table: the project's overrides of the built-in clause and connective phrases."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.templates import ATOMIC_RELATIONS, Phrase, builtin_phrases
from mto_studio.gui.context import StudioContext
from mto_studio.gui.models.templates import PhraseTableModel


class PhraseEditor(QWidget):
    """Double-click a cell to edit it; the change applies to every preview at once and is saved with the
    project (phrases.toml)."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        intro = QLabel(
            "The phrases that <code>{rel}</code>, <code>{rel_before}</code> and <code>{rel_after}</code> "
            "slots insert. Relations in your data are bold; edited phrases are highlighted and saved "
            "with the project. Clear a cell to go back to the built-in text."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        layout.addWidget(intro)
        self.model = PhraseTableModel(self)
        self.model.set_commit(self._commit)
        self.model.edit_rejected.connect(self._show_error)
        self.table = QTableView()
        self.table.setObjectName("phrase-table")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        bottom = QHBoxLayout()
        self.error_label = QLabel()
        self.error_label.setObjectName("phrase-error")
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.reset_button = QPushButton("Reset to built-in")
        self.reset_button.setToolTip("remove the project's override of the selected relation")
        self.reset_button.clicked.connect(self._reset_selected)
        bottom.addWidget(self.error_label, 1)
        bottom.addWidget(self.reset_button)
        layout.addLayout(bottom)
        context.library_changed.connect(self._refresh)
        context.data_changed.connect(self.reload)
        context.project_changed.connect(self.reload)
        self.reload()

    def relations(self) -> list[str]:
        """Relations of the data first (in data order), then the other built-in ones, then any override-only."""
        data = self.context.data
        used = list(data.task.relations) if data is not None and data.task is not None else []
        ordered = dict.fromkeys(used)
        ordered.update(dict.fromkeys(ATOMIC_RELATIONS))
        ordered.update(dict.fromkeys(sorted(self.context.project.phrases)))
        return list(ordered)

    def reload(self) -> None:
        data = self.context.data
        used = set(data.task.relations) if data is not None and data.task is not None else set()
        self.model.set_phrases(
            self.relations(),
            self.context.project.phrase_table(),
            set(self.context.project.phrases),
            used,
            builtin_phrases(),
        )

    def _refresh(self) -> None:
        if self.model.rowCount() != len(self.relations()):
            self.reload()
        else:
            self.model.refresh(self.context.project.phrase_table(), set(self.context.project.phrases))

    def _commit(self, relation: str, phrase: Phrase) -> str | None:
        try:
            self.context.set_phrase(relation, phrase)
        except MtoError as exc:
            return exc.one_line()
        self.error_label.setText("")
        return None

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)

    def edit_phrase(self, relation: str, *, clause: str | None = None, connective: str | None = None) -> bool:
        """Edit one relation's phrase as the user would through the table (used by scripts and tests)."""
        row = self.model.row_of(relation)
        ok = True
        if clause is not None:
            ok &= self.model.setData(self.model.index(row, 1), clause, Qt.ItemDataRole.EditRole)
        if connective is not None:
            ok &= self.model.setData(self.model.index(row, 2), connective, Qt.ItemDataRole.EditRole)
        return ok

    def _reset_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.context.set_phrase(self.model.relation_at(rows[0].row()), None)
