"""The live preview: N real rows rendered by the template being edited, as text and as token chips."""

from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.config import field_info
from mto_studio.core.templates import TokenView
from mto_studio.core.training.config import TrainConfig
from mto_studio.gui.format import choices_text
from mto_studio.gui.preview import PreviewRow
from mto_studio.gui.theme import BADGE_FILL, ERROR_RED, MUTED, SECTION, SUCCESS, TOKEN_SWATCHES, WARNING
from mto_studio.gui.widgets.token_chips import TokenChips

DEFAULT_ROWS = 5
MAX_ROWS = 50
DEFAULT_MAX_SOURCE: int = field_info(TrainConfig, "max_source_length").default
DEFAULT_MAX_TARGET: int = field_info(TrainConfig, "max_target_length").default
_SPECIAL_RE = re.compile(r"(<extra_id_\d+>|(?:<soft_\d+>\s*)+)")


def rendered_html(text: str, mask_token: str | None = None) -> str:
    """The rendered string as rich text: sentinels on the sentinel orange, soft-prompt runs as a purple
    '[soft ×N]' marker."""
    sentinel = TOKEN_SWATCHES["sentinel"]
    soft = TOKEN_SWATCHES["soft"]
    pattern = (
        _SPECIAL_RE if not mask_token else re.compile(rf"(<extra_id_\d+>|(?:<soft_\d+>\s*)+|{re.escape(mask_token)})")
    )
    out = []
    for piece in pattern.split(text):
        if not piece:
            continue
        if piece.startswith("<extra_id_") or piece == mask_token:
            out.append(
                f'<span style="background:{sentinel.fill}; color:{sentinel.text}; font-weight:700;">'
                f"&nbsp;{html.escape(piece)}&nbsp;</span>"
            )
        elif piece.startswith("<soft_"):
            count = piece.count("<soft_")
            out.append(
                f'<span style="background:{soft.fill}; color:{soft.text}; font-style:italic;">'
                f"&nbsp;[soft ×{count}]&nbsp;</span> "
            )
        else:
            out.append(html.escape(piece))
    return "".join(out)


def count_text(side: str, view: TokenView | None) -> str:
    if view is None:
        return f"{side} —"
    cut = view.count - view.kept
    text = f"{side} {view.count}/{view.max_length}"
    return f'<span style="color:{ERROR_RED}; font-weight:600;">{text} ({cut} cut)</span>' if cut else text


class PreviewCard(QFrame):
    """One previewed head: relation, input, the rendered source and target, their tokens and counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        header = QHBoxLayout()
        self.relation_label = QLabel()
        self.relation_label.setStyleSheet(
            f"background:{BADGE_FILL}; color:{SECTION}; border-radius:8px; padding:1px 8px; font-weight:600;"
        )
        self.input_label = QLabel()
        self.input_label.setStyleSheet("font-weight:600;")
        self.template_label = QLabel()
        self.template_label.setProperty("role", "muted")
        self.counts_label = QLabel()
        self.counts_label.setObjectName("counts")
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.counts_label.setProperty("role", "muted")
        header.addWidget(self.relation_label)
        header.addWidget(self.input_label, 1)
        header.addWidget(self.template_label)
        header.addWidget(self.counts_label)
        layout.addLayout(header)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        self.source_text, self.source_chips = self._side(grid, 0, "SOURCE")
        self.target_text, self.target_chips = self._side(grid, 2, "TARGET")
        layout.addLayout(grid)
        self.references_label = QLabel()
        self.references_label.setProperty("role", "muted")
        self.references_label.setWordWrap(True)
        layout.addWidget(self.references_label)
        self.error_label = QLabel()
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        self.row: PreviewRow | None = None

    @staticmethod
    def _side(grid: QGridLayout, row: int, title: str) -> tuple[QLabel, TokenChips]:
        caption = QLabel(title)
        caption.setStyleSheet(f"color:{MUTED}; font-size:7.5pt; font-weight:700; letter-spacing:0.6px;")
        text = QLabel()
        text.setObjectName(title.lower())
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        chips = TokenChips()
        chips.setObjectName(f"{title.lower()}-tokens")
        grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(text, row, 1)
        grid.addWidget(chips, row + 1, 1)
        return text, chips

    def show_row(self, row: PreviewRow, *, mixed: bool = False, mask_token: str | None = None) -> None:
        self.row = row
        head = row.head
        self.relation_label.setText(head.relation)
        self.input_label.setText(head.input)
        self.input_label.setToolTip(head.input)
        extra = head.references[1:]
        self.references_label.setText(("other references: " + " | ".join(extra)) if extra else "")
        if head.choices:  # a QA question: its choices, the right one marked (whether or not the template shows them)
            extra = head.choices
            self.references_label.setText("choices: " + choices_text(head.choices, head.answer))
        self.references_label.setVisible(bool(extra))
        if row.error is not None:
            self.error_label.setText(f"{row.error.message}<br><i>{html.escape(row.error.hint)}</i>")
            self.error_label.setVisible(True)
            for widget in (self.source_text, self.target_text, self.source_chips, self.target_chips):
                widget.setVisible(False)
            self.counts_label.setText("")
            self.template_label.setText("")
            return
        self.error_label.setVisible(False)
        rendered = row.rendered
        assert rendered is not None, "a preview row without an error is rendered"
        self.template_label.setText(f"→ {rendered.template} ({rendered.objective})" if mixed else "")
        self.source_text.setText(rendered_html(rendered.source, mask_token))
        self.target_text.setText(rendered_html(rendered.target, mask_token))
        self.source_text.setVisible(True)
        self.target_text.setVisible(True)
        tokens = row.tokens
        self.source_chips.set_view(tokens.source if tokens else None)
        self.target_chips.set_view(tokens.target if tokens else None)
        self.source_chips.setVisible(tokens is not None)
        self.target_chips.setVisible(tokens is not None)
        if tokens is None:
            self.counts_label.setText("")
        else:
            warn = "" if tokens.sentinels_ok else f' · <span style="color:{ERROR_RED}">sentinel split!</span>'
            self.counts_label.setText(
                f"{count_text('source', tokens.source)} · {count_text('target', tokens.target)} tokens{warn}"
            )


class PreviewPanel(QWidget):
    """Settings (rows, relation, max lengths), a summary line, and one card per previewed row."""

    settings_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        bar = QHBoxLayout()
        self.rows_spin = self._spin("preview-rows", 1, MAX_ROWS, DEFAULT_ROWS, "rows of the project's data to preview")
        self.relation_combo = QComboBox()
        self.relation_combo.setObjectName("preview-relation")
        self.relation_combo.setMinimumContentsLength(14)
        self.relation_combo.addItem("all relations", None)
        self.relation_combo.currentIndexChanged.connect(lambda _i: self.settings_changed.emit())
        self.max_source_spin = self._spin(
            "max-source",
            4,
            8192,
            DEFAULT_MAX_SOURCE,
            "source tokens kept in training; the rest is cut (struck through)",
        )
        self.max_target_spin = self._spin("max-target", 2, 4096, DEFAULT_MAX_TARGET, "target tokens kept in training")
        for caption, widget in (
            ("Rows", self.rows_spin),
            ("from", self.relation_combo),
            ("Max source tokens", self.max_source_spin),
            ("Max target tokens", self.max_target_spin),
        ):
            label = QLabel(caption)
            label.setBuddy(widget)
            bar.addWidget(label)
            bar.addWidget(widget)
            bar.addSpacing(8)
        bar.addStretch(1)
        self.legend = QLabel(self._legend_html())
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        bar.addWidget(self.legend)
        layout.addLayout(bar)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("preview-summary")
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        self.format_label = QLabel()  # which pre-training format of the model's family the template matches
        self.format_label.setObjectName("preview-format")
        self.format_label.setTextFormat(Qt.TextFormat.RichText)
        self.format_label.setWordWrap(True)
        self.format_label.setVisible(False)
        layout.addWidget(self.format_label)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.container = QWidget()
        self.cards_layout = QVBoxLayout(self.container)
        self.cards_layout.setContentsMargins(0, 0, 6, 0)
        self.cards_layout.setSpacing(8)
        self.cards_layout.addStretch(1)
        self.scroll_area.setWidget(self.container)
        layout.addWidget(self.scroll_area, 1)
        self.cards: list[PreviewCard] = []

    def _spin(self, name: str, low: int, high: int, value: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setValue(value)
        spin.setToolTip(tip)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(lambda _v: self.settings_changed.emit())
        return spin

    @staticmethod
    def _legend_html() -> str:
        s, p, c = TOKEN_SWATCHES["sentinel"], TOKEN_SWATCHES["soft"], TOKEN_SWATCHES["cut"]
        return (
            f'<span style="background:{s.fill}; color:{s.text}; font-weight:700;">&nbsp;sentinel&nbsp;</span> '
            f'<span style="background:{p.fill}; color:{p.text}; font-style:italic;">&nbsp;soft prompt&nbsp;</span> '
            f'<span style="color:{c.text}; text-decoration:line-through;">&nbsp;cut&nbsp;</span>'
        )

    def set_relations(self, relations: list[str]) -> None:
        current = self.relation_combo.currentData()
        self.relation_combo.blockSignals(True)
        self.relation_combo.clear()
        self.relation_combo.addItem("all relations", None)
        for relation in relations:
            self.relation_combo.addItem(relation, relation)
        index = self.relation_combo.findData(current) if current else 0
        self.relation_combo.setCurrentIndex(max(0, index))
        self.relation_combo.blockSignals(False)

    @property
    def relation(self) -> str | None:
        return self.relation_combo.currentData()

    def show_rows(
        self, rows: list[PreviewRow], *, summary: str, mixed: bool = False, mask_token: str | None = None
    ) -> None:
        while len(self.cards) < len(rows):
            card = PreviewCard()
            self.cards_layout.insertWidget(len(self.cards), card)
            self.cards.append(card)
        while len(self.cards) > len(rows):
            card = self.cards.pop()
            self.cards_layout.removeWidget(card)
            card.deleteLater()
        for card, row in zip(self.cards, rows, strict=True):
            card.show_row(row, mixed=mixed, mask_token=mask_token)
        self.summary_label.setText(summary)

    def show_format(self, family: str, text: str, matches: bool) -> None:
        """``family`` (its label) and whether the template matches its pre-training format (``text`` says how);
        an empty ``family`` hides the line."""
        self.format_label.setVisible(bool(family))
        colour = SUCCESS if matches else WARNING
        mark = "✓" if matches else "!"
        self.format_label.setText(
            f'{html.escape(family)}: <span style="color:{colour}">{mark} {html.escape(text, quote=False)}</span>'
            if family
            else ""
        )
