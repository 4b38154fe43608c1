"""The template editor form: name, objective, description, each side as slot blocks over its text form (or the two
templates a mixed template names), prefix and soft-prompt length, each field with its inline error."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGraphicsOpacityEffect,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QWidget,
)

from mto_studio.core.errors import TemplateError
from mto_studio.core.templates import Objective, Slot, SlotKind, TemplateLibrary
from mto_studio.core.templates.model import MAX_SOFT_LENGTH
from mto_studio.gui.theme import BADGE_FILL, SECTION, monospace_font, set_invalid
from mto_studio.gui.workbenches.templates.draft import FIELDS, Draft, error_html
from mto_studio.gui.workbenches.templates.slot_palette import SlotPalette
from mto_studio.gui.workbenches.templates.slot_strip import SlotStrip

SIDES = ("source", "target")


class TemplateForm(QFrame):
    """Shows one draft and reports what the user changes; it keeps no draft of its own. While a draft is being
    shown (``show_draft``), nothing is reported."""

    field_edited = Signal(str, object)  # the draft's field, its new value
    pattern_typed = Signal(str, str)  # side, the text form as typed
    slots_edited = Signal(str, tuple, bool)  # side, its slots, structural (see SlotStrip)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self.setObjectName("template-editor")
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 0, 4, 6)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(4)
        grid.setColumnStretch(1, 1)
        self.error_labels: dict[str, QLabel] = {name: self._error_label(name) for name in FIELDS}

        # Row: name, objective, read-only badge, save
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("template-name")
        self.name_edit.setMaximumWidth(260)
        self.name_edit.textEdited.connect(lambda text: self._edit("name", text))
        self.objective_combo = QComboBox()
        self.objective_combo.setObjectName("template-objective")
        for objective in Objective:
            self.objective_combo.addItem(objective.value, objective.value)
        self.objective_combo.setToolTip(
            "filling: sentinels, like T5's span corruption · mapping: a text-to-text "
            "answer · mixed: each relation gets the template its objective calls for"
        )
        self.objective_combo.activated.connect(lambda _i: self._edit("objective", self.objective_combo.currentData()))
        self.badge = QLabel()
        self.badge.setObjectName("readonly-badge")
        self.badge.setStyleSheet(f"background:{BADGE_FILL}; color:{SECTION}; border-radius:8px; padding:2px 10px;")
        self.save_button = QPushButton("Save template")
        self.save_button.setObjectName("save-template")
        self.save_button.setToolTip("write it to the project's templates/ folder")
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
        self.description_edit.textEdited.connect(lambda text: self._edit("description", text))
        grid.addWidget(self._caption("Description"), row, 0)
        grid.addWidget(self.description_edit, row, 1)
        row += 1
        grid.addWidget(self.error_labels["description"], row, 1)
        row += 1

        self.slot_palette = SlotPalette()
        self.slot_palette.chosen.connect(self._palette_chosen)
        grid.addWidget(self.slot_palette, row, 1)
        self.palette_row = row
        row += 1
        self.strips: dict[str, SlotStrip] = {}
        self.pattern_edits: dict[str, QLineEdit] = {}
        self.side_widgets: list[QWidget] = [self.slot_palette]
        self.active_side = "source"
        for side in SIDES:
            caption = self._caption(side.capitalize())
            strip = SlotStrip(side)
            strip.slots_changed.connect(lambda slots, structural, s=side: self.slots_edited.emit(s, slots, structural))
            strip.activated.connect(self._set_active_side)
            edit = QLineEdit()
            edit.setObjectName(f"{side}-pattern")
            edit.setFont(monospace_font(10))
            edit.setPlaceholderText("{input} {rel} {mask}" if side == "source" else "{mask} {target}")
            edit.setToolTip(
                "the text form: slots in braces ({input}, {rel}, {mask}, {soft:8}, …) between literal "
                "text; '{{' writes a brace"
            )
            edit.textEdited.connect(lambda text, s=side: self._typed(s, text))
            self.strips[side] = strip
            self.pattern_edits[side] = edit
            grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(strip, row, 1)
            grid.addWidget(edit, row + 1, 1)
            grid.addWidget(self.error_labels[side], row + 2, 1)
            self.side_widgets += [caption, strip, edit]
            row += 3

        grid.addWidget(self._build_mixed(), row, 0, 1, 2)
        row += 1
        grid.addWidget(self._caption("Options"), row, 0)
        grid.addLayout(self._build_options(), row, 1)
        row += 1
        for name in ("prefix", "soft_length", "general"):
            grid.addWidget(self.error_labels[name], row, 1)
            row += 1
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def _build_mixed(self) -> QWidget:
        """Mixed templates name two others instead of patterns."""
        self.mixed_panel = QWidget()
        mixed = QGridLayout(self.mixed_panel)
        mixed.setContentsMargins(0, 0, 0, 0)
        self.filling_combo = QComboBox()
        self.filling_combo.setObjectName("mixed-filling")
        self.mapping_combo = QComboBox()
        self.mapping_combo.setObjectName("mixed-mapping")
        self.filling_combo.activated.connect(lambda _i: self._edit("filling", self.filling_combo.currentText()))
        self.mapping_combo.activated.connect(lambda _i: self._edit("mapping", self.mapping_combo.currentText()))
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
        return self.mixed_panel

    def _build_options(self) -> QHBoxLayout:
        options = QHBoxLayout()
        self.prefix_edit = QLineEdit()
        self.prefix_edit.setObjectName("template-prefix")
        self.prefix_edit.setPlaceholderText("the relation's name")
        self.prefix_edit.setToolTip("the text of the {prefix} slot; empty = the relation's name (xIntent)")
        self.prefix_edit.setMaximumWidth(220)
        self.prefix_edit.textEdited.connect(lambda text: self._edit("prefix", text))
        self.soft_spin = QSpinBox()
        self.soft_spin.setObjectName("template-soft-length")
        self.soft_spin.setRange(1, MAX_SOFT_LENGTH)
        self.soft_spin.setSuffix(" tokens")
        self.soft_spin.setToolTip("the length of a {soft} block without its own length")
        self.soft_spin.valueChanged.connect(lambda value: self._edit("soft_length", value))
        options.addWidget(QLabel("Prefix text"))
        options.addWidget(self.prefix_edit)
        options.addSpacing(16)
        options.addWidget(QLabel("Default soft-prompt length"))
        options.addWidget(self.soft_spin)
        options.addStretch(1)
        self.phrases_note = QLabel()
        self.phrases_note.setProperty("role", "muted")
        options.addWidget(self.phrases_note)
        return options

    @staticmethod
    def _error_label(name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(f"error-{name}")
        label.setProperty("role", "error")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setVisible(False)
        return label

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("role", "section")
        return label

    # --- what the user does --------------------------------------------------------------------------------------
    def _edit(self, name: str, value: object) -> None:
        if not self._loading:
            self.field_edited.emit(name, value)

    def _typed(self, side: str, text: str) -> None:
        if not self._loading:
            self.pattern_typed.emit(side, text)

    def _set_active_side(self, side: str) -> None:
        self.active_side = side

    def _palette_chosen(self, kind: SlotKind) -> None:
        strip = self.strips[self.active_side]
        if not strip.isEnabled() or not strip.insert_kind(kind):
            other = self.strips["target" if self.active_side == "source" else "source"]
            if other.isEnabled():
                other.insert_kind(kind)

    # --- showing a draft -----------------------------------------------------------------------------------------
    def show_draft(self, draft: Draft) -> None:
        """Put the draft's fields in the widgets (not its blocks: see ``show_blocks``); a built-in is read-only."""
        self._loading = True
        read_only = draft.builtin
        self.name_edit.setText(draft.name)
        self.description_edit.setText(draft.description)
        self.objective_combo.setCurrentIndex(self.objective_combo.findData(draft.objective))
        self.prefix_edit.setText(draft.prefix)
        self.soft_spin.setValue(draft.soft_length)
        self.filling_combo.setCurrentText(draft.filling)
        self.mapping_combo.setCurrentText(draft.mapping)
        for side in SIDES:
            self.pattern_edits[side].setText(getattr(draft, f"{side}_text"))
        for widget in (self.name_edit, self.description_edit, self.prefix_edit, *self.pattern_edits.values()):
            widget.setReadOnly(read_only)
        for control in (self.objective_combo, self.soft_spin, self.filling_combo, self.mapping_combo):
            control.setEnabled(not read_only)
        self.slot_palette.setEnabled(not read_only)
        self.badge.setText(
            "built-in · read-only — Duplicate to edit"
            if read_only
            else ("new — not saved yet" if draft.unsaved else "project template")
        )
        self.phrases_note.setText(f"{len(draft.phrases)} template phrase override(s)" if draft.phrases else "")
        self._loading = False

    def show_blocks(self, draft: Draft, examples: dict[SlotKind, str]) -> None:
        for side in SIDES:
            self.strips[side].set_slots(
                getattr(draft, f"{side}_slots"),
                read_only=draft.builtin,
                soft_default=draft.soft_length,
                examples=examples,
            )

    def set_side_slots(self, side: str, slots: tuple[Slot, ...], examples: dict[SlotKind, str]) -> None:
        """New blocks for ``side`` (its text form was typed and parses)."""
        self.strips[side].set_slots(slots, examples=examples)

    def set_side_text(self, side: str, text: str) -> None:
        """New text form for ``side`` (its blocks changed), keeping the cursor where it was when it has focus."""
        edit = self.pattern_edits[side]
        if edit.text() != text:
            position = edit.cursorPosition()
            edit.setText(text)
            if edit.hasFocus():
                edit.setCursorPosition(min(position, len(text)))

    def set_soft_default(self, length: int) -> None:
        for strip in self.strips.values():
            strip.soft_default = length

    def set_examples(self, examples: dict[SlotKind, str]) -> None:
        for strip in self.strips.values():
            strip.set_examples(examples)

    def fill_mixed_pickers(self, library: TemplateLibrary) -> None:
        """The templates a mixed template can name: the library's filling and mapping ones."""
        for combo, objective in ((self.filling_combo, Objective.FILLING), (self.mapping_combo, Objective.MAPPING)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([t.name for t in library if t.objective is objective])
            combo.setCurrentText(current)
            combo.blockSignals(False)

    def apply_objective(self, mixed: bool, read_only: bool) -> None:
        """A mixed template shows its two pickers instead of the sides; a read-only one has no palette."""
        for widget in self.side_widgets:
            widget.setVisible(not mixed and not (widget is self.slot_palette and read_only))
        self.mixed_panel.setVisible(mixed)

    def show_errors(self, errors: dict[str, TemplateError]) -> None:
        """Each field's error under it, its widget marked invalid. While a side's text does not parse, its blocks
        show the last valid pattern and are locked, so a block edit cannot overwrite what the user is typing."""
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
            error = errors.get(name)
            label.setText(error_html(error) if error else "")
            label.setVisible(error is not None)
            if name in widgets:
                set_invalid(widgets[name], error is not None)
        for side in SIDES:
            broken = side in errors and errors[side].column is not None
            strip = self.strips[side]
            if strip.isEnabled() == broken:
                strip.setEnabled(not broken)
                strip.setToolTip("fix the text form below to edit the blocks again" if broken else "")
                if broken:
                    faded = QGraphicsOpacityEffect(strip)
                    faded.setOpacity(0.4)
                    strip.setGraphicsEffect(faded)
                else:
                    strip.setGraphicsEffect(None)  # type: ignore[arg-type]  # stub: Qt takes None to remove the effect

    def show_general_error(self, text: str) -> None:
        self.error_labels["general"].setText(text)
        self.error_labels["general"].setVisible(True)
