"""The template designer: slot blocks in sync with the text form, inline validation, live token preview, phrases
and a side-by-side diff. It holds the drafts and composes the library list, the editor form and the tabs."""

from __future__ import annotations

import html
import itertools
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QSplitter, QWidget

from mto_studio.core.data import Head
from mto_studio.core.errors import MtoError, TemplateError
from mto_studio.core.templates import (
    Objective,
    Slot,
    SlotKind,
    Template,
    parse_pattern,
    pattern_text,
    template_from_dict,
)
from mto_studio.core.templates.pattern import block_slots
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.models.templates import TemplateListModel
from mto_studio.gui.workbenches.templates.draft import NEW_SOURCE, NEW_TARGET, Draft, phrase_examples, validate_draft
from mto_studio.gui.workbenches.templates.form import TemplateForm
from mto_studio.gui.workbenches.templates.library_panel import LibraryPanel, template_entries
from mto_studio.gui.workbenches.templates.preview_tabs import DesignerTabs


class TemplateDesigner(QWidget):
    """Pick, edit, validate, preview, compare and save templates."""

    title = "Templates"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.drafts: dict[str, Draft] = {}
        self.draft: Draft | None = None
        self.template: Template | None = None  # the current valid template (None while invalid)
        self.errors: dict[str, TemplateError] = {}
        self._draft_ids = itertools.count(1)
        self._saving = False
        self._build()
        context.library_changed.connect(self._on_library_changed)
        context.data_changed.connect(self._on_data_changed)
        context.tokenizer_changed.connect(self.refresh_preview)
        context.tokenizer_loading.connect(lambda _ref: self.refresh_preview())
        context.project_changed.connect(self._on_project_changed)
        self._fill_list()
        data = context.data  # built on first visit: the project's data may have loaded long before
        self.preview.set_relations(data.task.relations if data is not None and data.task is not None else [])
        self.select_template("unsup-nat")

    # --- layout ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("designer-splitter")
        outer.addWidget(self.splitter)

        self.library_panel = LibraryPanel()
        self.library_panel.view.selectionModel().currentChanged.connect(self._on_list_current)
        self.library_panel.new_button.clicked.connect(self.new_template)
        self.library_panel.duplicate_button.clicked.connect(self.duplicate)
        self.library_panel.delete_button.clicked.connect(self.delete_current)
        self.library_panel.revert_button.clicked.connect(self.revert)
        self.splitter.addWidget(self.library_panel)

        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("designer-vsplitter")
        self.form = TemplateForm()
        self.form.field_edited.connect(lambda name, value: self._edit(**{name: value}))
        self.form.pattern_typed.connect(self._pattern_typed)
        self.form.slots_edited.connect(self._strip_edited)
        self.form.save_button.clicked.connect(self.save_current)
        self.vsplitter.addWidget(self.form)
        self.tabs = DesignerTabs(self.context)
        self.tabs.preview.settings_changed.connect(self.refresh_preview)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_diff())
        self.vsplitter.addWidget(self.tabs)
        self.vsplitter.setStretchFactor(0, 0)
        self.vsplitter.setStretchFactor(1, 1)
        self.splitter.addWidget(self.vsplitter)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([210, 1200])

        # The parts' widgets that scripts and tests reach through the designer.
        self.list_model = self.library_panel.model
        self.preview = self.tabs.preview
        self.phrase_editor = self.tabs.phrase_editor
        self.diff_view = self.tabs.diff_view
        self.name_edit = self.form.name_edit
        self.description_edit = self.form.description_edit
        self.badge = self.form.badge
        self.save_button = self.form.save_button
        self.strips = self.form.strips
        self.pattern_edits = self.form.pattern_edits
        self.error_labels = self.form.error_labels
        self.mixed_panel = self.form.mixed_panel

    # --- the list ------------------------------------------------------------------------------------------------
    def _fill_list(self) -> None:
        self.library_panel.show_entries(self.context.library, self.drafts)
        self.form.fill_mixed_pickers(self.context.library)

    def select_template(self, key: str) -> bool:
        if not self.library_panel.select(key):
            return False
        if self.draft is None or self.draft.key != key:
            self._open(key)
        return True

    def _on_list_current(self, current, _previous) -> None:
        if current.isValid():
            self._open(current.data(TemplateListModel.KeyRole))

    def _open(self, key: str) -> None:
        if key in self.drafts:
            draft = self.drafts[key]
        elif key in self.context.library:
            draft = Draft.from_template(self.context.library.get(key), key)
        else:
            return
        self.draft = draft
        self._show_draft(draft)

    def _keep_draft(self) -> None:
        """Remember the current draft while it differs from what is saved (so switching away keeps the edits)."""
        draft = self.draft
        if draft is None or draft.builtin:
            return
        if draft.modified or draft.unsaved:
            self.drafts[draft.key] = draft
        else:
            self.drafts.pop(draft.key, None)
        entry = next((e for e in template_entries(self.context.library, self.drafts) if e.key == draft.key), None)
        if entry is not None:
            if self.list_model.row_of(draft.key) < 0:
                self._fill_list()
            else:
                self.list_model.update_entry(entry)

    # --- showing and editing a draft ----------------------------------------------------------------------------
    def _show_draft(self, draft: Draft) -> None:
        self.form.show_draft(draft)
        self._validate()
        self.form.show_blocks(draft, self._examples())
        self._update_buttons()
        self.refresh_preview()

    def _edit(self, **changes: Any) -> None:
        """A field changed in a widget: update the draft, re-validate, refresh the preview."""
        if self.draft is None or self.draft.builtin:
            return
        draft = self.draft
        for key, value in changes.items():
            setattr(draft, key, value)
        if "objective" in changes:
            self._apply_objective_visibility()
        if "soft_length" in changes:
            self.form.set_soft_default(draft.soft_length)
        self._after_edit()

    def _after_edit(self) -> None:
        self._validate()
        self._keep_draft()
        self._update_buttons()
        self.refresh_preview()

    def _pattern_typed(self, side: str, text: str) -> None:
        """The user typed in a text form: re-parse it; valid text rebuilds that side's blocks."""
        if self.draft is None or self.draft.builtin:
            return
        setattr(self.draft, f"{side}_text", text)
        try:
            slots = parse_pattern(text, side)
        except TemplateError:
            slots = None
        if slots is not None:
            slots = block_slots(slots)
            setattr(self.draft, f"{side}_slots", slots)
            self.form.set_side_slots(side, slots, self._examples())
        self._after_edit()

    def _strip_edited(self, side: str, slots: tuple[Slot, ...], structural: bool) -> None:
        """Blocks changed: rewrite the text form."""
        if self.draft is None or self.draft.builtin:
            return
        text = pattern_text(slots)
        setattr(self.draft, f"{side}_slots", slots)
        setattr(self.draft, f"{side}_text", text)
        self.form.set_side_text(side, text)
        self._after_edit()

    def _apply_objective_visibility(self) -> None:
        mixed = self.draft is not None and self.draft.objective == Objective.MIXED.value
        self.form.apply_objective(mixed, read_only=self.draft is not None and self.draft.builtin)

    def _validate(self) -> None:
        draft = self.draft
        assert draft is not None, "only a shown draft is validated"
        self.template, self.errors = validate_draft(draft, self.context.library)
        if draft.builtin:
            self.template, self.errors = draft.last_valid, {}
        if self.template is not None:
            draft.last_valid = self.template
        self.form.show_errors(self.errors)
        self._apply_objective_visibility()

    def _update_buttons(self) -> None:
        draft, panel = self.draft, self.library_panel
        editable = draft is not None and not draft.builtin
        modified, unsaved = (draft.modified, draft.unsaved) if draft is not None else (False, False)
        self.save_button.setEnabled(editable and self.template is not None and (modified or unsaved))
        panel.revert_button.setEnabled(editable and modified and not unsaved)
        panel.delete_button.setEnabled(editable)
        panel.duplicate_button.setEnabled(draft is not None and draft.last_valid is not None)
        panel.duplicate_button.setDefault(bool(draft and draft.builtin))

    # --- actions -------------------------------------------------------------------------------------------------
    def _unique_name(self, base: str) -> str:
        """``base``, or ``base-2``, ``base-3``… whichever no template or draft uses yet."""
        taken = set(self.context.library.names()) | {d.name for d in self.drafts.values()}
        return next(name for n in itertools.count(1) if (name := base if n == 1 else f"{base}-{n}") not in taken)

    def _add_draft(self, template: Template) -> Draft:
        key = f"*draft-{next(self._draft_ids)}"
        draft = Draft.from_template(template.with_changes(builtin=False, path=None), key, saved=False)
        draft.saved_name = None
        draft.builtin = False
        self.drafts[key] = draft
        self._fill_list()
        self.select_template(key)
        return draft

    def duplicate(self) -> Draft | None:
        source = self._shown_template()
        if source is None:
            return None
        return self._add_draft(source.with_changes(name=self._unique_name(f"{source.name}-copy")))

    def new_template(self) -> Draft:
        template = template_from_dict(
            {
                "name": self._unique_name("new-template"),
                "objective": "filling",
                "source": NEW_SOURCE,
                "target": NEW_TARGET,
            }
        )
        return self._add_draft(template)

    def save_current(self) -> bool:
        draft, template = self.draft, self.template
        if draft is None or draft.builtin or template is None or not self._writable("Cannot save the template"):
            return False
        self._saving = True
        try:
            self.context.save_template(template, replacing=draft.saved_name)
        except MtoError as exc:
            self.form.show_general_error(f"<b>{html.escape(exc.message)}</b><br>Fix: {html.escape(exc.hint)}")
            return False
        finally:
            self._saving = False
        self.drafts.pop(draft.key, None)
        self.draft = None
        self._fill_list()
        self.select_template(template.name)
        return True

    def revert(self) -> None:
        draft = self.draft
        if draft is None or draft.unsaved:
            return
        self.drafts.pop(draft.key, None)
        self.draft = None
        self._fill_list()
        self.select_template(draft.key)

    def _writable(self, title: str) -> bool:
        """False, after a dialog naming who has it, when the project is open read-only (another window holds it)."""
        try:
            self.context.lease.check_writable()
        except MtoError as exc:
            show_error(self, title, exc, path=str(self.context.project.templates_dir))
            return False
        return True

    def delete_current(self) -> None:
        draft = self.draft
        if draft is None or draft.builtin:
            return
        if draft.saved_name is not None:
            if not self._writable("Cannot delete the template"):
                return
            answer = QMessageBox.question(
                self,
                "Delete template",
                f"Delete the project template '{draft.saved_name}'?\n"
                f"Its file templates/{draft.saved_name}.toml is removed.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.drafts.pop(draft.key, None)
            self.draft = None
            self.context.delete_template(draft.saved_name)
        else:
            self.drafts.pop(draft.key, None)
            self.draft = None
            self._fill_list()
        self.select_template("unsup-nat")

    # --- context changes -----------------------------------------------------------------------------------------
    def _on_library_changed(self) -> None:
        if self._saving:
            return  # save_current refills the list and reopens the saved template itself
        key = self.draft.key if self.draft else None
        self._fill_list()
        if key is not None and self.list_model.row_of(key) >= 0:
            self.library_panel.select_quietly(key)
            self._validate()
            self._update_buttons()
            self.refresh_preview()
        else:
            # The template shown is gone (deleted, or another project was opened).
            self.draft = None
            self.select_template("unsup-nat")

    def _on_data_changed(self) -> None:
        data = self.context.data
        self.preview.set_relations(data.task.relations if data is not None and data.task is not None else [])
        self.refresh_preview()

    def _on_project_changed(self) -> None:
        self.refresh_preview()

    # --- preview -------------------------------------------------------------------------------------------------
    def preview_heads(self) -> list[Head]:
        return self.tabs.heads()

    def _shown_template(self) -> Template | None:
        """The draft's template, or its last valid version while it does not validate."""
        return self.template or (self.draft.last_valid if self.draft else None)

    def _examples(self) -> dict[SlotKind, str]:
        heads = self.preview_heads()
        if not heads:
            return {}
        return phrase_examples(self._shown_template(), heads[0], self.context.library)

    def refresh_preview(self) -> None:
        if self.draft is None:
            return
        self.form.set_examples(self._examples())
        self.tabs.show_template(self._shown_template(), stale=self.template is None)

    def _refresh_diff(self) -> None:
        self.tabs.refresh_diff(self._shown_template())

    # --- workbench protocol -------------------------------------------------------------------------------------
    def unsaved_changes(self) -> list[str]:
        self._keep_draft()
        return [
            f"template '{d.name}'" + (" (new)" if d.unsaved else "")
            for d in self.drafts.values()
            if d.modified or d.unsaved
        ]

    def save_changes(self) -> bool:
        """Save every edited template that is valid; False when one cannot be saved (it stays open)."""
        self._keep_draft()
        for key in list(self.drafts):
            if key not in self.drafts:
                continue
            self.select_template(key)
            if not self.save_current():
                return False
        return True

    def discard_changes(self) -> None:
        """Forget every unsaved edit; the editor shows the saved version (or unsup-nat for a new template)."""
        self.drafts.clear()
        draft = self.draft
        if draft is not None and (draft.modified or draft.unsaved):
            self.draft = None
            self._fill_list()
            self.select_template(draft.saved_name or "unsup-nat")

    def save_state(self, settings) -> None:
        settings.setValue("designer/splitter", self.splitter.saveState())
        settings.setValue("designer/vsplitter", self.vsplitter.saveState())
        settings.setValue("designer/tab", self.tabs.currentIndex())

    def restore_state(self, settings) -> None:
        for key, splitter in (("designer/splitter", self.splitter), ("designer/vsplitter", self.vsplitter)):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
        tab = settings.value("designer/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))
