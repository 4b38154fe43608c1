"""The slot palette: every slot kind as a chip to drag onto a side or click to add; it doubles as the legend."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from mto_studio.core.templates import SLOT_LABELS, SlotKind
from mto_studio.gui.theme import SLOT_SWATCHES
from mto_studio.gui.workbenches.templates.slot_blocks import KIND_ORDER, NEW_MIME, SLOT_HELP


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
