"""The template library panel: every template (built-in, project, new drafts) in a list, and the buttons that act on
the selected one."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QGridLayout, QLabel, QListView, QPushButton, QVBoxLayout, QWidget

from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.gui.models.templates import TemplateEntry, TemplateListDelegate, TemplateListModel
from mto_studio.gui.workbenches.templates.draft import Draft


def template_entries(library: TemplateLibrary, drafts: dict[str, Draft]) -> list[TemplateEntry]:
    """The list's rows: the library's templates as their drafts show them, then the drafts never saved."""
    entries = []
    for template in library:
        draft = drafts.get(template.name)
        shown = draft.name if draft else template.name
        objective = Objective(draft.objective) if draft else template.objective
        entries.append(
            TemplateEntry(
                template.name,
                shown,
                objective,
                template.builtin,
                template.description,
                modified=bool(draft and draft.modified),
            )
        )
    for key, draft in drafts.items():
        if draft.unsaved:
            entries.append(
                TemplateEntry(key, draft.name, Objective(draft.objective), False, draft.description, unsaved=True)
            )
    return entries


class LibraryPanel(QWidget):
    """The template list with New, Duplicate, Revert and Delete, and the colour legend."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        heading = QLabel("Template library")
        heading.setProperty("role", "heading")
        layout.addWidget(heading)
        self.model = TemplateListModel(self)
        self.view = QListView()
        self.view.setObjectName("template-list")
        self.view.setModel(self.model)
        self.view.setItemDelegate(TemplateListDelegate(self.view))
        self.view.setUniformItemSizes(True)
        self.view.setSpacing(1)
        layout.addWidget(self.view, 1)
        buttons = QGridLayout()
        self.new_button = self._button("New", "start a new template")
        self.duplicate_button = self._button("Duplicate", "copy this template into the project to edit it")
        self.delete_button = self._button("Delete", "delete this project template")
        self.revert_button = self._button("Revert", "discard the unsaved edits of this template")
        buttons.addWidget(self.new_button, 0, 0)
        buttons.addWidget(self.duplicate_button, 0, 1)
        buttons.addWidget(self.revert_button, 1, 0)
        buttons.addWidget(self.delete_button, 1, 1)
        layout.addLayout(buttons)
        dots = (f'<span style="color:{OBJECTIVE_COLOURS[objective]}">●</span> {objective}' for objective in Objective)
        legend = QLabel(" &nbsp; ".join(dots) + "<br>• unsaved changes")
        legend.setProperty("role", "muted")
        layout.addWidget(legend)
        self.setMinimumWidth(170)

    @staticmethod
    def _button(text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        return button

    def show_entries(self, library: TemplateLibrary, drafts: dict[str, Draft]) -> None:
        self.model.set_entries(template_entries(library, drafts))

    def select(self, key: str) -> bool:
        """Make ``key`` the current row (the view says so through its selection model); False if it is not listed."""
        row = self.model.row_of(key)
        if row < 0:
            return False
        index = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        return True

    def select_quietly(self, key: str) -> None:
        """Make ``key`` the current row without telling anyone (the list was refilled under an open template)."""
        selection = self.view.selectionModel()
        selection.blockSignals(True)
        self.view.setCurrentIndex(self.model.index(self.model.row_of(key), 0))
        selection.blockSignals(False)
