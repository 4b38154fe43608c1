"""A template side as a strip of slot blocks: edit, add, remove and reorder them (drag-and-drop or ◀ ▶)."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPen, QShortcut
from PySide6.QtWidgets import QComboBox, QLineEdit, QMenu, QSizePolicy, QSpinBox, QToolButton, QWidget

from mto_studio.core.templates import SLOT_LABELS, Slot, SlotKind
from mto_studio.core.templates.render import T5_SENTINEL
from mto_studio.gui.theme import ACCENT, BORDER, CANVAS, OUTLINE, READ_ONLY_FILL, SECONDARY, WHITE
from mto_studio.gui.widgets.flow_layout import FlowLayout
from mto_studio.gui.workbenches.templates.slot_blocks import MOVE_MIME, NEW_MIME, SlotBlock, allowed_kinds


def _mime_text(mime: QMimeData, mime_type: str) -> str:
    """The text a slot block's drag carries under ``mime_type``."""
    return bytes(mime.data(mime_type).data()).decode()


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
            f"QToolButton {{ font-size: 14pt; color: {SECONDARY}; border: 1px dashed {OUTLINE}; "
            f"border-radius: 6px; background: {WHITE}; }}"
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
            block.move_requested.connect(self.move_block)
            block.text_edited.connect(self._text_edited)
            block.length_edited.connect(self._length_edited)
            block.form_edited.connect(self._form_edited)
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
        if kind is SlotKind.TEXT:
            editor = self.blocks[at].editor
            if editor is not None:
                editor.setFocus()
        return True

    def remove_at(self, index: int) -> None:
        if self.read_only or not 0 <= index < len(self.slots):
            return
        slots = list(self.slots)
        del slots[index]
        self.selected = min(index, len(slots) - 1)
        self._emit(tuple(slots), True)

    def move_block(self, index: int, delta: int) -> None:
        """Move block ``index`` by ``delta`` places (◀ ▶, Ctrl+← Ctrl+→)."""
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

    def _form_edited(self, index: int, form: str) -> None:
        slots = list(self.slots)
        slots[index] = Slot(SlotKind.CHOICES, form=form)
        self.blocks[index].slot = slots[index]
        self._emit(tuple(slots), False)

    def _delete_selected(self) -> None:
        focused = self.focusWidget()
        if isinstance(focused, (QLineEdit, QSpinBox, QComboBox)):
            return  # Delete inside a phrase editor deletes text, not the block
        self.remove_at(self.selected)

    def _move_selected(self, delta: int) -> None:
        if 0 <= self.selected < len(self.slots):
            self.move_block(self.selected, delta)

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
            kind = SlotKind(_mime_text(mime, NEW_MIME))
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
            self.move_to(int(_mime_text(mime, MOVE_MIME)), at)
        elif mime.hasFormat(NEW_MIME):
            self.insert_kind(SlotKind(_mime_text(mime, NEW_MIME)), at)
        event.acceptProposedAction()
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(BORDER), 1))
        painter.setBrush(QColor(CANVAS if not self.read_only else READ_ONLY_FILL))
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
