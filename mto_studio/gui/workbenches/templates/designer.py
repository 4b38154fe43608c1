"""The template designer: slot blocks in sync with the text form, inline validation, live token preview, phrases
and a side-by-side diff."""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGraphicsOpacityEffect,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.data import Head
from mto_studio.core.errors import MtoError, TemplateError
from mto_studio.core.templates import (
    T5_STYLE,
    Objective,
    Phrase,
    Slot,
    SlotKind,
    Template,
    TemplateLibrary,
    parse_pattern,
    pattern_text,
    template_from_dict,
)
from mto_studio.core.templates.model import MAX_SOFT_LENGTH
from mto_studio.gui.context import StudioContext
from mto_studio.gui.models.templates import TemplateEntry, TemplateListDelegate, TemplateListModel
from mto_studio.gui.preview import PreviewRow, block_slots, build_preview, spread_heads
from mto_studio.gui.theme import monospace_font, set_invalid
from mto_studio.gui.widgets.diff_view import TemplateDiffView
from mto_studio.gui.widgets.preview_panel import PreviewPanel
from mto_studio.gui.workbenches.templates.phrase_editor import PhraseEditor
from mto_studio.gui.workbenches.templates.slot_blocks import SlotPalette, SlotStrip

NEW_SOURCE = "{input} {rel} {mask}"
NEW_TARGET = "{mask} {target}"
FIELDS = (
    "name",
    "description",
    "objective",
    "source",
    "target",
    "prefix",
    "soft_length",
    "filling",
    "mapping",
    "general",
)


@dataclass
class Draft:
    """What the editor shows for one template: the fields as typed (possibly invalid) and the slot blocks."""

    key: str
    saved_name: str | None  # the project template it edits; None while never saved
    builtin: bool
    name: str
    objective: str
    description: str = ""
    source_text: str = ""
    target_text: str = ""
    source_slots: tuple[Slot, ...] = ()
    target_slots: tuple[Slot, ...] = ()
    prefix: str = ""
    soft_length: int = 8
    filling: str = "unsup-nat"
    mapping: str = "sup"
    phrases: dict[str, Phrase] = field(default_factory=dict)  # template-level overrides, kept as they are
    baseline: dict[str, Any] = field(default_factory=dict)
    last_valid: Template | None = None

    @classmethod
    def from_template(cls, template: Template, key: str, *, saved: bool = True) -> Draft:
        draft = cls(
            key=key,
            saved_name=template.name if saved and not template.builtin else None,
            builtin=template.builtin,
            name=template.name,
            objective=template.objective.value,
            description=template.description,
            source_text=template.source_text,
            target_text=template.target_text,
            source_slots=block_slots(template.source),
            target_slots=block_slots(template.target),
            prefix=template.prefix or "",
            soft_length=template.soft_length,
            filling=template.filling or "unsup-nat",
            mapping=template.mapping or "sup",
            phrases=dict(template.phrases),
            last_valid=template,
        )
        if draft.objective == Objective.MIXED.value and not draft.source_text:
            draft.source_text, draft.target_text = NEW_SOURCE, NEW_TARGET
            draft.source_slots = block_slots(parse_pattern(NEW_SOURCE, "source"))
            draft.target_slots = block_slots(parse_pattern(NEW_TARGET, "target"))
        draft.baseline = draft.to_dict() if saved else {}
        return draft

    def to_dict(self) -> dict[str, Any]:
        """The template file's fields, as ``template_from_dict`` validates them."""
        data: dict[str, Any] = {"name": self.name, "description": self.description, "objective": self.objective}
        if self.objective == Objective.MIXED.value:
            data["filling"], data["mapping"] = self.filling, self.mapping
        else:
            data["source"], data["target"] = self.source_text, self.target_text
        if self.prefix:
            data["prefix"] = self.prefix
        data["soft_length"] = self.soft_length
        if self.phrases:
            data["phrases"] = {
                r: {k: v for k, v in (("clause", p.clause), ("connective", p.connective)) if v}
                for r, p in self.phrases.items()
            }
        return data

    @property
    def modified(self) -> bool:
        return not self.builtin and self.to_dict() != self.baseline

    @property
    def unsaved(self) -> bool:
        return self.saved_name is None and not self.builtin


def validate_draft(draft: Draft, library: TemplateLibrary) -> tuple[Template | None, dict[str, TemplateError]]:
    """The template the draft describes, or None, and every error found, by field. Each side's pattern is parsed
    on its own so both can show an error at once."""
    errors: dict[str, TemplateError] = {}
    if draft.objective != Objective.MIXED.value:
        for side, text in (("source", draft.source_text), ("target", draft.target_text)):
            try:
                parse_pattern(text, side)
            except TemplateError as exc:
                errors[side] = exc
    template = None
    try:
        template = template_from_dict(draft.to_dict())
        library.check(template)
    except TemplateError as exc:
        errors.setdefault(exc.field if exc.field in FIELDS else "general", exc)
        template = None
    if not draft.builtin and draft.name != draft.saved_name and draft.name in library:
        errors.setdefault(
            "name",
            TemplateError(f"a template named '{draft.name}' already exists", "choose another name", field="name"),
        )
        template = None
    return (template if not errors else None), errors


def error_html(error: TemplateError) -> str:
    where = f" (column {error.column})" if error.column else ""
    hint = f"<br>Fix: {html.escape(error.hint)}" if error.hint else ""
    return f"<b>{html.escape(error.bare_message)}</b>{where}{hint}"


def phrase_examples(template: Template | None, head: Head, library: TemplateLibrary) -> dict[SlotKind, str]:
    """What each slot kind becomes on ``head`` (shown inside the blocks)."""
    examples = {SlotKind.INPUT: head.input, SlotKind.TARGET: head.references[0]}
    prefix = template.prefix if template is not None and template.prefix is not None else None
    examples[SlotKind.PREFIX] = prefix if prefix is not None else head.relation
    table = library.phrases.overridden(template.phrases if template is not None else None)
    if head.relation in table or head.relation.lower() in {r.lower() for r in table}:
        phrase = table.lookup(head.relation)
        before, after = phrase.clause_parts()
        examples[SlotKind.REL] = phrase.connective or after
        examples[SlotKind.REL_BEFORE] = before
        examples[SlotKind.REL_AFTER] = after if phrase.clause else phrase.connective
    return examples


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
        self.preview_rows: list[PreviewRow] = []
        self._draft_ids = itertools.count(1)
        self._loading = False
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

        library_panel = QWidget()
        library_layout = QVBoxLayout(library_panel)
        library_layout.setContentsMargins(0, 0, 6, 0)
        heading = QLabel("Template library")
        heading.setProperty("role", "heading")
        library_layout.addWidget(heading)
        self.list_model = TemplateListModel(self)
        self.list_view = QListView()
        self.list_view.setObjectName("template-list")
        self.list_view.setModel(self.list_model)
        self.list_view.setItemDelegate(TemplateListDelegate(self.list_view))
        self.list_view.setUniformItemSizes(True)
        self.list_view.setSpacing(1)
        self.list_view.selectionModel().currentChanged.connect(self._on_list_current)
        library_layout.addWidget(self.list_view, 1)
        buttons = QGridLayout()
        self.new_button = self._button("New", "start a new template", self.new_template)
        self.duplicate_button = self._button(
            "Duplicate", "copy this template into the project to edit it", self.duplicate
        )
        self.delete_button = self._button("Delete", "delete this project template", self.delete_current)
        self.revert_button = self._button("Revert", "discard the unsaved edits of this template", self.revert)
        buttons.addWidget(self.new_button, 0, 0)
        buttons.addWidget(self.duplicate_button, 0, 1)
        buttons.addWidget(self.revert_button, 1, 0)
        buttons.addWidget(self.delete_button, 1, 1)
        library_layout.addLayout(buttons)
        legend = QLabel(
            '<span style="color:#e8590c">●</span> filling &nbsp; <span style="color:#1c7ed6">●</span> '
            'mapping &nbsp; <span style="color:#7048e8">●</span> mixed<br>• unsaved changes'
        )
        legend.setProperty("role", "muted")
        library_layout.addWidget(legend)
        library_panel.setMinimumWidth(170)
        self.splitter.addWidget(library_panel)

        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("designer-vsplitter")
        self.vsplitter = right
        right.addWidget(self._build_editor())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("designer-tabs")
        self.preview = PreviewPanel()
        self.preview.settings_changed.connect(self.refresh_preview)
        self.phrase_editor = PhraseEditor(self.context)
        self.diff_view = TemplateDiffView()
        self.tabs.addTab(self.preview, "Preview")
        self.tabs.addTab(self.phrase_editor, "Relation phrases")
        self.tabs.addTab(self.diff_view, "Compare")
        self.tabs.currentChanged.connect(lambda _i: self._refresh_diff())
        right.addWidget(self.tabs)
        right.setStretchFactor(0, 0)
        right.setStretchFactor(1, 1)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([210, 1200])

    def _button(self, text: str, tip: str, action) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(action)
        return button

    def _error_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(f"error-{name}")
        label.setProperty("role", "error")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setVisible(False)
        return label

    def _build_editor(self) -> QWidget:
        editor = QFrame()
        editor.setObjectName("template-editor")
        grid = QGridLayout(editor)
        grid.setContentsMargins(4, 0, 4, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        self.error_labels: dict[str, QLabel] = {name: self._error_label(name) for name in FIELDS}

        # Row: name, objective, read-only badge, save
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("template-name")
        self.name_edit.setMaximumWidth(260)
        self.name_edit.textEdited.connect(lambda text: self._edit(name=text))
        self.objective_combo = QComboBox()
        self.objective_combo.setObjectName("template-objective")
        for objective in Objective:
            self.objective_combo.addItem(objective.value, objective.value)
        self.objective_combo.setToolTip(
            "filling: sentinels, like T5's span corruption · mapping: a text-to-text "
            "answer · mixed: each relation gets the template its objective calls for"
        )
        self.objective_combo.activated.connect(lambda _i: self._edit(objective=self.objective_combo.currentData()))
        self.badge = QLabel()
        self.badge.setObjectName("readonly-badge")
        self.badge.setStyleSheet("background:#e7ecf3; color:#364152; border-radius:8px; padding:2px 10px;")
        self.save_button = QPushButton("Save template")
        self.save_button.setObjectName("save-template")
        self.save_button.setToolTip("write it to the project's templates/ folder")
        self.save_button.clicked.connect(self.save_current)
        top = QHBoxLayout()
        top.addWidget(self.name_edit)
        top.addSpacing(16)
        objective_label = QLabel("Objective")
        objective_label.setBuddy(self.objective_combo)
        top.addWidget(objective_label)
        top.addSpacing(4)
        top.addWidget(self.objective_combo)
        top.addSpacing(12)
        top.addWidget(self.badge)
        top.addStretch(1)
        top.addWidget(self.save_button)
        row = 0
        grid.addWidget(self._caption("Name"), row, 0)
        grid.addLayout(top, row, 1)
        row += 1
        for name in ("name", "objective"):
            grid.addWidget(self.error_labels[name], row, 1)
            row += 1
        self.description_edit = QLineEdit()
        self.description_edit.setObjectName("template-description")
        self.description_edit.setPlaceholderText("what this template is for")
        self.description_edit.textEdited.connect(lambda text: self._edit(description=text))
        grid.addWidget(self._caption("Description"), row, 0)
        grid.addWidget(self.description_edit, row, 1)
        row += 1
        grid.addWidget(self.error_labels["description"], row, 1)
        row += 1

        self.palette = SlotPalette()
        self.palette.chosen.connect(self._palette_chosen)
        grid.addWidget(self.palette, row, 1)
        self.palette_row = row
        row += 1
        self.strips: dict[str, SlotStrip] = {}
        self.pattern_edits: dict[str, QLineEdit] = {}
        self.side_widgets: list[QWidget] = [self.palette]
        self.active_side = "source"
        for side in ("source", "target"):
            caption = self._caption(side.capitalize())
            strip = SlotStrip(side)
            strip.slots_changed.connect(lambda slots, structural, s=side: self._strip_edited(s, slots, structural))
            strip.activated.connect(self._set_active_side)
            edit = QLineEdit()
            edit.setObjectName(f"{side}-pattern")
            edit.setFont(monospace_font(10))
            edit.setPlaceholderText("{input} {rel} {mask}" if side == "source" else "{mask} {target}")
            edit.setToolTip(
                "the text form: slots in braces ({input}, {rel}, {mask}, {soft:8}, …) between literal "
                "text; '{{' writes a brace"
            )
            edit.textEdited.connect(lambda text, s=side: self._pattern_typed(s, text))
            self.strips[side] = strip
            self.pattern_edits[side] = edit
            grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(strip, row, 1)
            grid.addWidget(edit, row + 1, 1)
            grid.addWidget(self.error_labels[side], row + 2, 1)
            self.side_widgets += [caption, strip, edit]
            row += 3

        # Mixed templates name two others instead of patterns.
        self.mixed_panel = QWidget()
        mixed = QGridLayout(self.mixed_panel)
        mixed.setContentsMargins(0, 0, 0, 0)
        self.filling_combo = QComboBox()
        self.filling_combo.setObjectName("mixed-filling")
        self.mapping_combo = QComboBox()
        self.mapping_combo.setObjectName("mixed-mapping")
        self.filling_combo.activated.connect(lambda _i: self._edit(filling=self.filling_combo.currentText()))
        self.mapping_combo.activated.connect(lambda _i: self._edit(mapping=self.mapping_combo.currentText()))
        explain = QLabel(
            "Each relation is rendered with the Filling template when its objective is filling (the "
            "analyzer's decision, else the rule table) and with the Mapping template otherwise."
        )
        explain.setWordWrap(True)
        explain.setProperty("role", "muted")
        mixed.addWidget(QLabel("Filling template"), 0, 0)
        mixed.addWidget(self.filling_combo, 0, 1)
        mixed.addWidget(QLabel("Mapping template"), 0, 2)
        mixed.addWidget(self.mapping_combo, 0, 3)
        mixed.setColumnStretch(4, 1)
        mixed.addWidget(self.error_labels["filling"], 1, 1)
        mixed.addWidget(self.error_labels["mapping"], 1, 3)
        mixed.addWidget(explain, 2, 0, 1, 5)
        grid.addWidget(self.mixed_panel, row, 0, 1, 2)
        row += 1

        options = QHBoxLayout()
        self.prefix_edit = QLineEdit()
        self.prefix_edit.setObjectName("template-prefix")
        self.prefix_edit.setPlaceholderText("the relation's name")
        self.prefix_edit.setToolTip("the text of the {prefix} slot; empty = the relation's name (xIntent)")
        self.prefix_edit.setMaximumWidth(220)
        self.prefix_edit.textEdited.connect(lambda text: self._edit(prefix=text))
        self.soft_spin = QSpinBox()
        self.soft_spin.setObjectName("template-soft-length")
        self.soft_spin.setRange(1, MAX_SOFT_LENGTH)
        self.soft_spin.setSuffix(" tokens")
        self.soft_spin.setToolTip("the length of a {soft} block without its own length")
        self.soft_spin.valueChanged.connect(lambda value: self._edit(soft_length=value))
        options.addWidget(QLabel("Prefix text"))
        options.addWidget(self.prefix_edit)
        options.addSpacing(16)
        options.addWidget(QLabel("Default soft-prompt length"))
        options.addWidget(self.soft_spin)
        options.addStretch(1)
        self.phrases_note = QLabel()
        self.phrases_note.setProperty("role", "muted")
        options.addWidget(self.phrases_note)
        grid.addWidget(self._caption("Options"), row, 0)
        grid.addLayout(options, row, 1)
        row += 1
        for name in ("prefix", "soft_length", "general"):
            grid.addWidget(self.error_labels[name], row, 1)
            row += 1
        editor.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        return editor

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("role", "section")
        return label

    # --- the list ------------------------------------------------------------------------------------------------
    def _entries(self) -> list[TemplateEntry]:
        entries = []
        for template in self.context.library:
            draft = self.drafts.get(template.name)
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
        for key, draft in self.drafts.items():
            if draft.unsaved:
                entries.append(
                    TemplateEntry(key, draft.name, Objective(draft.objective), False, draft.description, unsaved=True)
                )
        return entries

    def _fill_list(self) -> None:
        self.list_model.set_entries(self._entries())
        self._fill_mixed_pickers()

    def _fill_mixed_pickers(self) -> None:
        for combo, objective in ((self.filling_combo, Objective.FILLING), (self.mapping_combo, Objective.MAPPING)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([t.name for t in self.context.library if t.objective is objective])
            combo.setCurrentText(current)
            combo.blockSignals(False)

    def select_template(self, key: str) -> bool:
        row = self.list_model.row_of(key)
        if row < 0:
            return False
        index = self.list_model.index(row, 0)
        self.list_view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
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
        self._show_draft()

    def _keep_draft(self) -> None:
        """Remember the current draft while it differs from what is saved (so switching away keeps the edits)."""
        draft = self.draft
        if draft is None or draft.builtin:
            return
        if draft.modified or draft.unsaved:
            self.drafts[draft.key] = draft
        else:
            self.drafts.pop(draft.key, None)
        entry = next((e for e in self._entries() if e.key == draft.key), None)
        if entry is not None:
            if self.list_model.row_of(draft.key) < 0:
                self._fill_list()
            else:
                self.list_model.update_entry(entry)

    # --- showing and editing a draft ----------------------------------------------------------------------------
    def _show_draft(self) -> None:
        draft = self.draft
        self._loading = True
        read_only = draft.builtin
        self.name_edit.setText(draft.name)
        self.description_edit.setText(draft.description)
        self.objective_combo.setCurrentIndex(self.objective_combo.findData(draft.objective))
        self.prefix_edit.setText(draft.prefix)
        self.soft_spin.setValue(draft.soft_length)
        self.filling_combo.setCurrentText(draft.filling)
        self.mapping_combo.setCurrentText(draft.mapping)
        for side in ("source", "target"):
            self.pattern_edits[side].setText(getattr(draft, f"{side}_text"))
        for widget in (self.name_edit, self.description_edit, self.prefix_edit, *self.pattern_edits.values()):
            widget.setReadOnly(read_only)
        for widget in (self.objective_combo, self.soft_spin, self.filling_combo, self.mapping_combo):
            widget.setEnabled(not read_only)
        self.palette.setEnabled(not read_only)
        self.badge.setText(
            "built-in · read-only — Duplicate to edit"
            if read_only
            else ("new — not saved yet" if draft.unsaved else "project template")
        )
        self.phrases_note.setText(f"{len(draft.phrases)} template phrase override(s)" if draft.phrases else "")
        self._loading = False
        self._validate()
        for side in ("source", "target"):
            self.strips[side].set_slots(
                getattr(draft, f"{side}_slots"),
                read_only=read_only,
                soft_default=draft.soft_length,
                examples=self._examples(),
            )
        self._update_buttons()
        self.refresh_preview()

    def _edit(self, **changes: Any) -> None:
        """A field changed in a widget: update the draft, re-validate, refresh the preview."""
        if self._loading or self.draft is None or self.draft.builtin:
            return
        draft = self.draft
        for key, value in changes.items():
            setattr(draft, key, value)
        if "objective" in changes:
            self._apply_objective_visibility()
        if "soft_length" in changes:
            for strip in self.strips.values():
                strip.soft_default = draft.soft_length
        self._after_edit()

    def _after_edit(self) -> None:
        self._validate()
        self._keep_draft()
        self._update_buttons()
        self.refresh_preview()

    def _pattern_typed(self, side: str, text: str) -> None:
        """The user typed in a text form: re-parse it; valid text rebuilds that side's blocks."""
        if self._loading or self.draft is None or self.draft.builtin:
            return
        setattr(self.draft, f"{side}_text", text)
        try:
            slots = parse_pattern(text, side)
        except TemplateError:
            slots = None
        if slots is not None:
            slots = block_slots(slots)
            setattr(self.draft, f"{side}_slots", slots)
            self.strips[side].set_slots(slots, examples=self._examples())
        self._after_edit()

    def _strip_edited(self, side: str, slots: tuple[Slot, ...], structural: bool) -> None:
        """Blocks changed: rewrite the text form (keeping its cursor where it was when it has focus)."""
        if self.draft is None or self.draft.builtin:
            return
        text = pattern_text(slots)
        setattr(self.draft, f"{side}_slots", slots)
        setattr(self.draft, f"{side}_text", text)
        edit = self.pattern_edits[side]
        if edit.text() != text:
            position = edit.cursorPosition()
            edit.setText(text)
            if edit.hasFocus():
                edit.setCursorPosition(min(position, len(text)))
        self._after_edit()

    def _set_active_side(self, side: str) -> None:
        self.active_side = side

    def _palette_chosen(self, kind: SlotKind) -> None:
        strip = self.strips[self.active_side]
        if not strip.isEnabled() or not strip.insert_kind(kind):
            other = self.strips["target" if self.active_side == "source" else "source"]
            if other.isEnabled():
                other.insert_kind(kind)

    def _apply_objective_visibility(self) -> None:
        mixed = self.draft is not None and self.draft.objective == Objective.MIXED.value
        read_only = self.draft is not None and self.draft.builtin
        for widget in self.side_widgets:
            widget.setVisible(not mixed and not (widget is self.palette and read_only))
        self.mixed_panel.setVisible(mixed)

    def _validate(self) -> None:
        draft = self.draft
        self.template, self.errors = validate_draft(draft, self.context.library)
        if draft.builtin:
            self.template, self.errors = draft.last_valid, {}
        if self.template is not None:
            draft.last_valid = self.template
        widgets = {
            "name": self.name_edit,
            "description": self.description_edit,
            "objective": self.objective_combo,
            "source": self.pattern_edits["source"],
            "target": self.pattern_edits["target"],
            "prefix": self.prefix_edit,
            "soft_length": self.soft_spin,
            "filling": self.filling_combo,
            "mapping": self.mapping_combo,
        }
        for name, label in self.error_labels.items():
            error = self.errors.get(name)
            label.setText(error_html(error) if error else "")
            label.setVisible(error is not None)
            if name in widgets:
                set_invalid(widgets[name], error is not None)
        for side in ("source", "target"):
            # While a side's text does not parse, its blocks show the last valid pattern and are locked, so a
            # block edit cannot overwrite what the user is typing.
            broken = side in self.errors and self.errors[side].column is not None
            strip = self.strips[side]
            if strip.isEnabled() == broken:
                strip.setEnabled(not broken)
                strip.setToolTip("fix the text form below to edit the blocks again" if broken else "")
                if broken:
                    faded = QGraphicsOpacityEffect(strip)
                    faded.setOpacity(0.4)
                    strip.setGraphicsEffect(faded)
                else:
                    strip.setGraphicsEffect(None)
        self._apply_objective_visibility()

    def _update_buttons(self) -> None:
        draft = self.draft
        editable = draft is not None and not draft.builtin
        self.save_button.setEnabled(editable and self.template is not None and (draft.modified or draft.unsaved))
        self.revert_button.setEnabled(editable and draft.modified and not draft.unsaved)
        self.delete_button.setEnabled(editable)
        self.duplicate_button.setEnabled(draft is not None and draft.last_valid is not None)
        self.duplicate_button.setDefault(bool(draft and draft.builtin))

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
        source = self.template or (self.draft.last_valid if self.draft else None)
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
        if draft is None or draft.builtin or template is None:
            return False
        self._saving = True
        try:
            self.context.save_template(template, replacing=draft.saved_name)
        except MtoError as exc:
            self.error_labels["general"].setText(f"<b>{html.escape(exc.message)}</b><br>Fix: {html.escape(exc.hint)}")
            self.error_labels["general"].setVisible(True)
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

    def delete_current(self) -> None:
        draft = self.draft
        if draft is None or draft.builtin:
            return
        if draft.saved_name is not None:
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
            row = self.list_model.row_of(key)
            self.list_view.selectionModel().blockSignals(True)
            self.list_view.setCurrentIndex(self.list_model.index(row, 0))
            self.list_view.selectionModel().blockSignals(False)
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
        data = self.context.data
        if data is None or data.task is None:
            return []
        return spread_heads(data.task.heads, self.preview.rows_spin.value(), self.preview.relation)

    def _examples(self) -> dict[SlotKind, str]:
        heads = self.preview_heads()
        if not heads:
            return {}
        template = self.template or (self.draft.last_valid if self.draft else None)
        return phrase_examples(template, heads[0], self.context.library)

    def refresh_preview(self) -> None:
        if self.draft is None:
            return
        template = self.template or self.draft.last_valid
        heads = self.preview_heads()
        context = self.context
        for strip in self.strips.values():
            strip.set_examples(self._examples())
        if template is None or not heads:
            self.preview_rows = []
            reason = "Load data (File ▸ Open data…) to preview." if not heads else "Fix the template to preview it."
            self.preview.show_rows([], summary=reason)
            self._refresh_diff()
            return
        style = context.sentinel_style if context.tokenizer is not None else T5_STYLE
        self.preview_rows = build_preview(
            context.library,
            template,
            heads,
            tokenizer=context.tokenizer,
            style=style or T5_STYLE,
            max_source_length=self.preview.max_source_spin.value(),
            max_target_length=self.preview.max_target_spin.value(),
        )
        mask_token = style.mask_token if style is not None and style.kind == "mask" else None
        self.preview.show_rows(
            self.preview_rows, summary=self._summary(template, style), mixed=template.is_mixed, mask_token=mask_token
        )
        self._refresh_diff()

    def _summary(self, template: Template, style) -> str:
        rows = [r for r in self.preview_rows if r.tokens is not None]
        parts = []
        if self.template is None:
            parts.append('<span style="color:#c92a2a">showing the last valid version of the template</span>')
        parts.append(f"<b>{len(self.preview_rows)}</b> row(s)")
        if rows:
            for side in ("source", "target"):
                counts = [getattr(r.tokens, side).count for r in rows]
                parts.append(f"{side} tokens {min(counts)}–{max(counts)} (mean {sum(counts) / len(counts):.1f})")
            cut = sum(r.tokens.source.truncated or r.tokens.target.truncated for r in rows)
            parts.append(f'<span style="color:#c92a2a"><b>{cut}</b> truncated</span>' if cut else "none truncated")
        context = self.context
        if context.tokenizer is None:
            if context.tokenizer_loading_ref:
                parts.append("loading the tokenizer…")
            elif context.tokenizer_error is not None:
                parts.append(f"no token counts: {html.escape(context.tokenizer_error.message)}")
        elif style is None and template.objective is not Objective.MAPPING:
            parts.append(
                '<span style="color:#c92a2a">this model has no sentinel or mask token: use a mapping template</span>'
            )
        errors = sum(r.error is not None for r in self.preview_rows)
        if errors:
            parts.append(f'<span style="color:#c92a2a">{errors} row(s) cannot be rendered</span>')
        return " · ".join(parts)

    def _refresh_diff(self) -> None:
        if self.tabs.currentWidget() is not self.diff_view:
            return
        draft_template = self.template or (self.draft.last_valid if self.draft else None)
        style = self.context.sentinel_style if self.context.tokenizer is not None else None
        self.diff_view.set_context(self.context.library, draft_template, self.preview_heads(), style)

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
