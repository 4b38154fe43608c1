"""Tokens as chips: sentinels highlighted, soft-prompt tokens styled apart, tokens past max length struck out."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from mto_studio.core.templates import TokenView
from mto_studio.gui.theme import TOKEN_SWATCHES, monospace_font


@dataclass(frozen=True)
class Chip:
    text: str  # as shown (SentencePiece's ▁ shown as a leading ·)
    token: str
    token_id: int
    kind: str  # text | sentinel | soft | special
    cut: bool  # past the max length: dropped by truncation


def chips_of(view: TokenView) -> list[Chip]:
    chips = []
    for i, token in enumerate(view.tokens):
        if view.sentinel[i]:
            kind = "sentinel"
        elif view.soft[i]:
            kind = "soft"
        elif view.special[i]:
            kind = "special"
        else:
            kind = "text"
        shown = token.replace("▁", "·") if kind == "text" else token
        chips.append(Chip(shown or "∅", token, view.ids[i], kind, i >= view.kept))
    return chips


class TokenChips(QWidget):
    """Paints a wrapping row of token chips; hover shows the token and its id."""

    PAD_X, PAD_Y, GAP, LINE_GAP = 4, 2, 3, 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chips: list[Chip] = []
        self._rects: list[QRect] = []
        self._font = monospace_font(8.5)
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)

    def set_view(self, view: TokenView | None) -> None:
        self.chips = chips_of(view) if view is not None else []
        self.setMinimumHeight(self._layout(self.width() or 600))
        self.updateGeometry()
        self.update()

    def _metrics(self, chip: Chip) -> QFontMetrics:
        return QFontMetrics(self._bold if chip.kind == "sentinel" else self._font)

    def _compute(self, width: int) -> tuple[list[QRect], int]:
        """Chip rectangles wrapped at ``width``, and the height they take."""
        rects = []
        x = y = 0
        line = QFontMetrics(self._font).height() + 2 * self.PAD_Y
        for chip in self.chips:
            w = self._metrics(chip).horizontalAdvance(chip.text) + 2 * self.PAD_X
            if x + w > width and x > 0:
                x = 0
                y += line + self.LINE_GAP
            rects.append(QRect(x, y, w, line))
            x += w + self.GAP
        return rects, (y + line) if self.chips else 0

    def _layout(self, width: int) -> int:
        self._rects, height = self._compute(width)
        return height

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._compute(width)[1]

    def sizeHint(self) -> QSize:  # noqa: N802
        width = max(self.width(), 300)
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(100, self.heightForWidth(max(self.width(), 300)))

    def resizeEvent(self, event) -> None:  # noqa: N802
        height = self._layout(self.width())
        if self.minimumHeight() != height:
            self.setMinimumHeight(height)
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:  # noqa: N802
        if len(self._rects) != len(self.chips):
            self._layout(self.width())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for chip, rect in zip(self.chips, self._rects, strict=True):
            swatch = TOKEN_SWATCHES["cut" if chip.cut else chip.kind]
            painter.setPen(QPen(QColor(swatch.border), 1))
            painter.setBrush(QColor(swatch.fill))
            painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 3, 3)
            font = QFont(self._bold if chip.kind == "sentinel" else self._font)
            font.setItalic(chip.kind == "soft")
            font.setStrikeOut(chip.cut)
            painter.setFont(font)
            painter.setPen(QColor(swatch.text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, chip.text)

    def chip_at(self, pos: QPoint) -> Chip | None:
        for chip, rect in zip(self.chips, self._rects, strict=False):
            if rect.contains(pos):
                return chip
        return None

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            chip = self.chip_at(event.pos())
            if chip is None:
                QToolTip.hideText()
            else:
                note = {"sentinel": "sentinel", "soft": "soft-prompt position", "special": "special token"}.get(
                    chip.kind, ""
                )
                id_text = "no vocabulary id (trained embedding)" if chip.token_id < 0 else f"id {chip.token_id}"
                cut = "<br><b>cut</b>: past the max length, truncated away" if chip.cut else ""
                QToolTip.showText(
                    event.globalPos(),
                    f"<code>{chip.token}</code> · {id_text}" + (f" · {note}" if note else "") + cut,
                    self,
                )
            return True
        return super().event(event)
