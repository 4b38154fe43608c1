"""Slot blocks: one slot of a template side as a coloured block, with its editor and ◀ ✕ ▶ buttons."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.templates import SLOT_LABELS, Slot, SlotKind
from mto_studio.core.templates.model import MAX_SOFT_LENGTH, SOURCE_SLOTS, TARGET_SLOTS
from mto_studio.core.templates.render import choices_text
from mto_studio.gui.theme import ACCENT, SECONDARY, SLOT_SWATCHES
from mto_studio.gui.workbenches.templates.draft import CHOICES_SEPARATOR

MOVE_MIME = "application/x-mto-slot-move"
NEW_MIME = "application/x-mto-slot-new"
#: The skeleton order of MTO_METHOD §2, used for menus and the palette.
KIND_ORDER = (
    SlotKind.PREFIX,
    SlotKind.SOFT,
    SlotKind.TEXT,
    SlotKind.REL_BEFORE,
    SlotKind.INPUT,
    SlotKind.REL,
    SlotKind.REL_AFTER,
    SlotKind.MASK,
    SlotKind.TARGET,
    SlotKind.CHOICES,
    SlotKind.LABEL,
)
#: a choices block's forms as its menu shows them (Slot.form → words)
CHOICE_FORM_NAMES = {"": "inlined: choice1: … choice2: …", "numbered": "numbered: (A) … (B) …"}
SLOT_HELP = {
    SlotKind.TEXT: "literal text, written as is",
    SlotKind.PREFIX: "the task prefix: the template's prefix text, or else the relation's name (xIntent)",
    SlotKind.SOFT: "trainable soft-prompt tokens (prompt tuning); 0 = the template's default length",
    SlotKind.REL_BEFORE: 'the part of the relation\'s clause that comes before the input ("After")',
    SlotKind.INPUT: "the row's input (the head)",
    SlotKind.REL: 'the relation\'s connective phrase, which continues the input ("so PersonX feels")',
    SlotKind.REL_AFTER: "the part of the relation's clause that comes after the input",
    SlotKind.MASK: "a sentinel: <extra_id_0>, <extra_id_1>, … numbered in order of appearance",
    SlotKind.TARGET: "the row's target (the answer)",
    SlotKind.CHOICES: "QA: the question's choices, inlined (\"choice1: … choice2: …\", the method's form) or numbered "
    '("(A) … (B) …"); leave it out to omit the choices',
    SlotKind.LABEL: 'QA: the right choice\'s letter ("B"), a verbalizer target instead of the answer text',
}


def allowed_kinds(side: str) -> list[SlotKind]:
    allowed = SOURCE_SLOTS if side == "source" else TARGET_SLOTS
    return [k for k in KIND_ORDER if k in allowed]


class SlotBlock(QFrame):
    """One slot: its kind, an editor (phrase text, soft length) or what it becomes on the example row, and ◀ ✕ ▶."""

    clicked = Signal(int)
    remove_requested = Signal(int)
    move_requested = Signal(int, int)  # index, delta
    text_edited = Signal(int, str)
    length_edited = Signal(int, int)
    form_edited = Signal(int, str)

    def __init__(
        self,
        slot: Slot,
        index: int,
        *,
        example: str = "",
        read_only: bool = False,
        soft_default: int = 8,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if slot.kind is SlotKind.CHOICES and example:  # the example row's choices, written in this slot's form
            example = choices_text(example.split(CHOICES_SEPARATOR), slot.form)
        self.slot = slot
        self.index = index
        self.read_only = read_only
        self.selected = False
        self._press: QPoint | None = None
        self.swatch = SLOT_SWATCHES[slot.kind]
        self.setObjectName(f"block-{slot.kind.value}")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setToolTip(
            f"<b>{SLOT_LABELS[slot.kind]}</b> <code>{slot.to_text() or '{text}'}</code><br>"
            f"{SLOT_HELP[slot.kind]}" + ("" if read_only else "<br><i>Drag to reorder.</i>")
        )

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 6, 6)
        layout.setSpacing(2)
        header = QHBoxLayout()
        header.setSpacing(1)
        self.kind_label = QLabel(SLOT_LABELS[slot.kind].upper())
        self.kind_label.setStyleSheet(
            f"color: {self.swatch.border}; font-size: 7.5pt; font-weight: 700; "
            "letter-spacing: 0.6px; background: transparent;"
        )
        header.addWidget(self.kind_label)
        header.addStretch(1)
        self.left_button = self._tiny_button(
            "◀", "move left (Ctrl+←)", lambda: self.move_requested.emit(self.index, -1)
        )
        self.right_button = self._tiny_button(
            "▶", "move right (Ctrl+→)", lambda: self.move_requested.emit(self.index, 1)
        )
        self.remove_button = self._tiny_button("✕", "remove (Delete)", lambda: self.remove_requested.emit(self.index))
        for button in (self.left_button, self.right_button, self.remove_button):
            button.setVisible(not read_only)
            header.addWidget(button)
        layout.addLayout(header)

        self.editor: QWidget | None = None
        if slot.kind is SlotKind.TEXT:
            edit = QLineEdit(slot.text)
            edit.setObjectName("phrase-edit")
            edit.setPlaceholderText("type a phrase")
            edit.setReadOnly(read_only)
            edit.setFrame(False)
            edit.setStyleSheet("background: rgba(255,255,255,0.75); border-radius: 3px; padding: 1px 3px;")
            edit.textEdited.connect(lambda text: self.text_edited.emit(self.index, text))
            edit.textChanged.connect(lambda _t: self._fit_editor(edit))
            self.editor = edit
            layout.addWidget(edit)
            self._fit_editor(edit)
        elif slot.kind is SlotKind.SOFT:
            row = QHBoxLayout()
            spin = QSpinBox()
            spin.setObjectName("soft-length")
            spin.setRange(0, MAX_SOFT_LENGTH)
            spin.setSpecialValueText(f"default ({soft_default})")
            spin.setValue(slot.length)
            spin.setSuffix(" tokens")
            spin.setReadOnly(read_only)
            spin.setToolTip("soft-prompt tokens in this block (0 = the template's default length)")
            spin.valueChanged.connect(lambda value: self.length_edited.emit(self.index, value))
            self.editor = spin
            row.addWidget(spin)
            layout.addLayout(row)
        elif slot.kind is SlotKind.CHOICES and not read_only:
            combo = QComboBox()
            combo.setObjectName("choices-form")
            for form, words in CHOICE_FORM_NAMES.items():
                combo.addItem(words.split(":")[0], form)
                combo.setItemData(combo.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
            combo.setCurrentIndex(max(0, combo.findData(slot.form)))
            combo.setToolTip(f"on the example row: {example}" if example else "how the choices are written")
            combo.currentIndexChanged.connect(lambda _i: self.form_edited.emit(self.index, combo.currentData()))
            self.editor = combo
            layout.addWidget(combo)
            if example:
                self.value_label = QLabel(example if len(example) <= 34 else example[:32] + "…")
                self.value_label.setObjectName("example")
                self.value_label.setStyleSheet(
                    f"color: {self.swatch.text}; background: transparent; font-style: italic;"
                )
                layout.addWidget(self.value_label)
        else:
            shown = example if example else slot.to_text()
            if len(shown) > 34:
                shown = shown[:32] + "…"
            self.value_label = QLabel(shown)
            self.value_label.setObjectName("example")
            self.value_label.setStyleSheet(
                f"color: {self.swatch.text}; background: transparent;"
                + ("font-style: italic;" if example and slot.kind is not SlotKind.MASK else "font-family: monospace;")
                + ("font-weight: 700;" if slot.kind is SlotKind.MASK else "")
            )
            if example:
                self.value_label.setToolTip(f"on the example row: {example}")
            layout.addWidget(self.value_label)

    def _tiny_button(self, text: str, tip: str, action) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setFixedSize(16, 16)
        button.setStyleSheet(
            f"QToolButton {{ font-size: 7pt; border: none; color: {SECONDARY}; background: transparent; }}"
            "QToolButton:hover { background: rgba(0,0,0,0.10); border-radius: 3px; }"
        )
        button.clicked.connect(action)
        return button

    def _fit_editor(self, edit: QLineEdit) -> None:
        width = edit.fontMetrics().horizontalAdvance(edit.text() or edit.placeholderText()) + 18
        edit.setFixedWidth(max(70, min(360, width)))
        self.adjustSize()
        parent = self.parentWidget()
        parent_layout = parent.layout() if parent is not None else None
        if parent_layout is not None:
            parent_layout.invalidate()

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        border = QColor(ACCENT if self.selected else self.swatch.border)
        painter.setPen(QPen(border, 2.2 if self.selected else 1.2))
        painter.setBrush(QColor(self.swatch.fill))
        painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), 6, 6)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
            self.clicked.emit(self.index)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self.read_only or self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        if (event.position().toPoint() - self._press).manhattanLength() < 8:
            return
        drag = QDrag(self)
        mime = QMimeData()
        mime.setData(MOVE_MIME, str(self.index).encode())
        drag.setMimeData(mime)
        drag.setPixmap(self.grab())
        drag.setHotSpot(self._press)
        self._press = None
        drag.exec(Qt.DropAction.MoveAction)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._press = None
        super().mouseReleaseEvent(event)
