"""Slot blocks: a template side as coloured, editable, reorderable blocks (drag-and-drop or ◀ ▶), and a palette."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetItem,
)

from mto_studio.core.templates import SLOT_LABELS, Slot, SlotKind
from mto_studio.core.templates.model import MAX_SOFT_LENGTH, SOURCE_SLOTS, TARGET_SLOTS
from mto_studio.core.templates.render import T5_SENTINEL
from mto_studio.gui.theme import ACCENT, SLOT_SWATCHES

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
)
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
}


def allowed_kinds(side: str) -> list[SlotKind]:
    allowed = SOURCE_SLOTS if side == "source" else TARGET_SLOTS
    return [k for k in KIND_ORDER if k in allowed]


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping to new lines (Qt's flow-layout example)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:  # noqa: N802 - Qt override
        self._items.append(item)

    def insertWidget(self, index: int, widget: QWidget) -> None:  # noqa: N802 - mirrors QBoxLayout
        self.addChildWidget(widget)
        self._items.insert(index, QWidgetItem(widget))
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _arrange(self, rect: QRect, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, line_height = area.x(), area.y(), 0
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and line_height > 0:
                x = area.x()
                y += line_height + self._spacing
                line_height = 0
            if move:
                # Centre each item vertically on its line so buttons line up with blocks.
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line_height = max(line_height, hint.height())
        return y + line_height - rect.y() + margins.bottom()


class SlotBlock(QFrame):
    """One slot: its kind, an editor (phrase text, soft length) or what it becomes on the example row, and ◀ ✕ ▶."""

    clicked = Signal(int)
    remove_requested = Signal(int)
    move_requested = Signal(int, int)  # index, delta
    text_edited = Signal(int, str)
    length_edited = Signal(int, int)

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
            edit.textChanged.connect(lambda _t: self._fit_editor())
            self.editor = edit
            layout.addWidget(edit)
            self._fit_editor()
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
            "QToolButton { font-size: 7pt; border: none; color: #52606d; background: transparent; }"
            "QToolButton:hover { background: rgba(0,0,0,0.10); border-radius: 3px; }"
        )
        button.clicked.connect(action)
        return button

    def _fit_editor(self) -> None:
        edit = self.editor
        width = edit.fontMetrics().horizontalAdvance(edit.text() or edit.placeholderText()) + 18
        edit.setFixedWidth(max(70, min(360, width)))
        self.adjustSize()
        if self.parentWidget() is not None and self.parentWidget().layout() is not None:
            self.parentWidget().layout().invalidate()

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


class SlotStrip(QWidget):
    """One side of a template as blocks. Emits ``slots_changed(slots, structural)``: structural edits (add, remove,
    move) rebuild the blocks; text and length edits do not, so the editor being typed in keeps its focus."""

    slots_changed = Signal(tuple, bool)
    activated = Signal(str)  # the side, when the user interacts with this strip

    def __init__(self, side: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setObjectName(f"{side}-strip")
        self.slots: tuple[Slot, ...] = ()
        self.examples: dict[SlotKind, str] = {}
        self.soft_default = 8
        self.read_only = False
        self.selected = -1
        self.blocks: list[SlotBlock] = []
        self._drop_index: int | None = None
        self.setAcceptDrops(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._layout = FlowLayout(self, spacing=6)
        self._layout.setContentsMargins(6, 6, 6, 6)
        self.add_button = QToolButton(self)
        self.add_button.setObjectName(f"{side}-add")
        self.add_button.setText("+")
        self.add_button.setToolTip(f"add a slot to the {side}")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setFixedSize(30, 46)
        self.add_button.setStyleSheet(
            "QToolButton { font-size: 14pt; color: #52606d; border: 1px dashed #9aa5b1; "
            "border-radius: 6px; background: #ffffff; }"
            "QToolButton::menu-indicator { image: none; }"
        )
        menu = QMenu(self.add_button)
        for kind in allowed_kinds(side):
            action = menu.addAction(f"{SLOT_LABELS[kind]}   {Slot(kind).to_text() or '(text)'}")
            action.setData(kind.value)
            action.triggered.connect(lambda _checked=False, k=kind: self.insert_kind(k))
        self.add_button.setMenu(menu)
        self._layout.addWidget(self.add_button)
        for key, handler in (
            (QKeySequence.StandardKey.Delete, self._delete_selected),
            (QKeySequence("Ctrl+Left"), lambda: self._move_selected(-1)),
            (QKeySequence("Ctrl+Right"), lambda: self._move_selected(1)),
        ):
            shortcut = QShortcut(key, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(handler)

    # --- content -------------------------------------------------------------------------------------------
    def set_slots(
        self,
        slots: tuple[Slot, ...],
        *,
        examples: dict[SlotKind, str] | None = None,
        read_only: bool | None = None,
        soft_default: int | None = None,
    ) -> None:
        self.slots = tuple(slots)
        if examples is not None:
            self.examples = examples
        if read_only is not None:
            self.read_only = read_only
        if soft_default is not None:
            self.soft_default = soft_default
        if self.selected >= len(self.slots):
            self.selected = len(self.slots) - 1
        self._rebuild()

    def set_examples(self, examples: dict[SlotKind, str]) -> None:
        """Refresh what non-editable blocks show for the example row (no rebuild when nothing changed)."""
        if examples != self.examples:
            self.examples = examples
            focused = self.focusWidget()
            if focused is None or not self.isAncestorOf(focused):
                self._rebuild()

    def _rebuild(self) -> None:
        for block in self.blocks:
            self._layout.removeWidget(block)
            block.hide()
            block.deleteLater()
        self.blocks = []
        masks = 0
        for index, slot in enumerate(self.slots):
            example = self.examples.get(slot.kind, "")
            if slot.kind is SlotKind.MASK:
                example = T5_SENTINEL.format(masks)  # numbered in order of appearance, as rendering does
                masks += 1
            block = SlotBlock(
                slot, index, example=example, read_only=self.read_only, soft_default=self.soft_default, parent=self
            )
            block.clicked.connect(self._select)
            block.remove_requested.connect(self.remove_at)
            block.move_requested.connect(self.move)
            block.text_edited.connect(self._text_edited)
            block.length_edited.connect(self._length_edited)
            block.left_button.setEnabled(index > 0)
            block.right_button.setEnabled(index < len(self.slots) - 1)
            block.set_selected(index == self.selected)
            self._layout.insertWidget(index, block)
            block.show()
            self.blocks.append(block)
        self.add_button.setVisible(not self.read_only)
        self._layout.invalidate()
        self.updateGeometry()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._layout.heightForWidth(width)

    def sizeHint(self) -> QSize:  # noqa: N802
        width = max(self.width(), 400)
        return QSize(width, self._layout.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(200, self._layout.heightForWidth(max(self.width(), 400)))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        height = self._layout.heightForWidth(self.width())
        if height != self.minimumHeight():
            self.setMinimumHeight(height)

    # --- edits ---------------------------------------------------------------------------------------------
    def _emit(self, slots: tuple[Slot, ...], structural: bool) -> None:
        self.slots = slots
        if structural:
            self._rebuild()
        self.activated.emit(self.side)
        self.slots_changed.emit(slots, structural)

    def _select(self, index: int) -> None:
        self.selected = index
        for block in self.blocks:
            block.set_selected(block.index == index)
        self.activated.emit(self.side)

    def insert_kind(self, kind: SlotKind, at: int | None = None) -> bool:
        """Insert a new ``kind`` block (after the selected block, or at ``at``); False if the side refuses it."""
        if self.read_only or kind not in allowed_kinds(self.side):
            return False
        if at is None:
            at = self.selected + 1 if 0 <= self.selected < len(self.slots) else len(self.slots)
        slots = list(self.slots)
        slots.insert(at, Slot(kind))
        self.selected = at
        self._emit(tuple(slots), True)
        if kind is SlotKind.TEXT and self.blocks[at].editor is not None:
            self.blocks[at].editor.setFocus()
        return True

    def remove_at(self, index: int) -> None:
        if self.read_only or not 0 <= index < len(self.slots):
            return
        slots = list(self.slots)
        del slots[index]
        self.selected = min(index, len(slots) - 1)
        self._emit(tuple(slots), True)

    def move(self, index: int, delta: int) -> None:
        self.move_to(index, index + delta + (1 if delta > 0 else 0))

    def move_to(self, index: int, insert_before: int) -> None:
        """Move block ``index`` so that it lands before the block now at ``insert_before``."""
        if self.read_only or not 0 <= index < len(self.slots):
            return
        insert_before = max(0, min(insert_before, len(self.slots)))
        target = insert_before - 1 if insert_before > index else insert_before
        if target == index:
            return
        slots = list(self.slots)
        slot = slots.pop(index)
        slots.insert(target, slot)
        self.selected = target
        self._emit(tuple(slots), True)

    def _text_edited(self, index: int, text: str) -> None:
        slots = list(self.slots)
        slots[index] = Slot(SlotKind.TEXT, text=text)
        self.blocks[index].slot = slots[index]
        self._emit(tuple(slots), False)

    def _length_edited(self, index: int, length: int) -> None:
        slots = list(self.slots)
        slots[index] = Slot(SlotKind.SOFT, length=length)
        self.blocks[index].slot = slots[index]
        self._emit(tuple(slots), False)

    def _delete_selected(self) -> None:
        focused = self.focusWidget()
        if isinstance(focused, (QLineEdit, QSpinBox)):
            return  # Delete inside a phrase editor deletes text, not the block
        self.remove_at(self.selected)

    def _move_selected(self, delta: int) -> None:
        if 0 <= self.selected < len(self.slots):
            self.move(self.selected, delta)

    # --- drag and drop -------------------------------------------------------------------------------------------
    def _insert_index(self, pos: QPoint) -> int:
        for block in self.blocks:
            geometry = block.geometry()
            if pos.y() < geometry.top() - 3:
                return block.index
            if pos.y() <= geometry.bottom() + 3 and pos.x() < geometry.center().x():
                return block.index
        return len(self.blocks)

    def _accepts(self, mime: QMimeData) -> bool:
        if self.read_only:
            return False
        if mime.hasFormat(MOVE_MIME):
            return True
        if mime.hasFormat(NEW_MIME):
            kind = SlotKind(bytes(mime.data(NEW_MIME)).decode())
            return kind in allowed_kinds(self.side)
        return False

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        moving_here = (
            event.mimeData().hasFormat(MOVE_MIME)
            and isinstance(event.source(), SlotBlock)
            and event.source().parentWidget() is self
        )
        if moving_here or (event.mimeData().hasFormat(NEW_MIME) and self._accepts(event.mimeData())):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        self._drop_index = self._insert_index(event.position().toPoint())
        self.update()
        event.acceptProposedAction()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self._drop_index = None
        self.update()

    def dropEvent(self, event) -> None:  # noqa: N802
        at = self._insert_index(event.position().toPoint())
        self._drop_index = None
        mime = event.mimeData()
        if mime.hasFormat(MOVE_MIME):
            self.move_to(int(bytes(mime.data(MOVE_MIME)).decode()), at)
        elif mime.hasFormat(NEW_MIME):
            self.insert_kind(SlotKind(bytes(mime.data(NEW_MIME)).decode()), at)
        event.acceptProposedAction()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#d0d5da"), 1))
        painter.setBrush(QColor("#fbfcfd" if not self.read_only else "#f4f5f7"))
        painter.drawRoundedRect(self.rect().adjusted(0, 0, -1, -1), 6, 6)
        if self._drop_index is not None:
            if self._drop_index < len(self.blocks):
                geometry = self.blocks[self._drop_index].geometry()
                x = geometry.left() - 4
            elif self.blocks:
                geometry = self.blocks[-1].geometry()
                x = geometry.right() + 4
            else:
                geometry = QRect(6, 6, 0, 40)
                x = 6
            painter.setPen(QPen(QColor(ACCENT), 3))
            painter.drawLine(x, geometry.top(), x, geometry.bottom())


class PaletteChip(QLabel):
    """A slot kind to drag onto a side, or to click to add to the active side."""

    chosen = Signal(object)

    def __init__(self, kind: SlotKind, parent: QWidget | None = None) -> None:
        super().__init__(SLOT_LABELS[kind], parent)
        self.kind = kind
        self._press: QPoint | None = None
        swatch = SLOT_SWATCHES[kind]
        self.setObjectName(f"palette-{kind.value}")
        self.setStyleSheet(
            f"QLabel {{ background: {swatch.fill}; border: 1px solid {swatch.border}; "
            f"border-radius: 9px; padding: 2px 9px; color: {swatch.text}; }}"
        )
        self.setToolTip(
            f"<b>{SLOT_LABELS[kind]}</b>: {SLOT_HELP[kind]}<br><i>Drag onto the source or target, or "
            "click to add it after the selected block.</i>"
        )
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        self._press = event.position().toPoint()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._press is None or (event.position().toPoint() - self._press).manhattanLength() < 8:
            return
        drag = QDrag(self)
        mime = QMimeData()
        mime.setData(NEW_MIME, self.kind.value.encode())
        drag.setMimeData(mime)
        drag.setPixmap(self.grab())
        self._press = None
        drag.exec(Qt.DropAction.CopyAction)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._press is not None and self.rect().contains(event.position().toPoint()):
            self.chosen.emit(self.kind)
        self._press = None


class SlotPalette(QWidget):
    """Every slot kind as a chip; it doubles as the colour legend."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        caption = QLabel("Add a slot:")
        caption.setProperty("role", "muted")
        layout.addWidget(caption)
        self.chips: dict[SlotKind, PaletteChip] = {}
        for kind in KIND_ORDER:
            chip = PaletteChip(kind)
            chip.chosen.connect(self.chosen)
            layout.addWidget(chip)
            self.chips[kind] = chip
        layout.addStretch(1)
