"""Two templates side by side: slot sequences aligned with differing blocks marked, and both renderings of a row."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.data import Head
from mto_studio.core.errors import MtoError
from mto_studio.core.templates import (
    SLOT_LABELS,
    T5_STYLE,
    Rendered,
    SentinelStyle,
    Slot,
    SlotKind,
    Template,
    TemplateLibrary,
)
from mto_studio.gui.preview import AlignedSlot, align_slots, word_diff
from mto_studio.gui.theme import DIFF_BORDERS, DIFF_COLOURS, FAINT, MUTED, SECTION, SLOT_SWATCHES
from mto_studio.gui.widgets.preview_panel import rendered_html

DRAFT_KEY = "\x00draft"


def slot_caption(slot: Slot) -> str:
    if slot.kind is SlotKind.TEXT:
        return f"“{slot.text.strip() or '␣'}”"
    if slot.kind is SlotKind.SOFT:
        return f"soft ×{slot.length}" if slot.length else "soft"
    return SLOT_LABELS[slot.kind]


class AlignmentGrid(QWidget):
    """Two rows of mini blocks (A over B), one column per aligned pair."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(4)
        self.grid.setVerticalSpacing(4)
        self.cells: list[QLabel] = []
        self.aligned: list[AlignedSlot] = []

    def set_alignment(self, aligned: list[AlignedSlot], names: tuple[str, str]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.cells = []
        self.aligned = aligned
        for row, name in enumerate(names):
            caption = QLabel(name)
            caption.setStyleSheet(f"font-weight:600; color:{SECTION};")
            self.grid.addWidget(caption, row, 0)
        for column, pair in enumerate(aligned, start=1):
            for row, slot in enumerate((pair.a, pair.b)):
                cell = self._cell(slot, pair.status)
                self.grid.addWidget(cell, row, column)
                self.cells.append(cell)
        self.grid.setColumnStretch(len(aligned) + 1, 1)

    @staticmethod
    def _cell(slot: Slot | None, status: str) -> QLabel:
        if slot is None:
            cell = QLabel("—")
            cell.setStyleSheet(
                f"border: 1px dashed {DIFF_BORDERS[status]}; border-radius: 5px; padding: 3px 8px; "
                f"color: {FAINT}; background: {DIFF_COLOURS[status]};"
            )
        else:
            swatch = SLOT_SWATCHES[slot.kind]
            border = f"2px solid {DIFF_BORDERS[status]}" if status != "same" else f"1px solid {swatch.border}"
            cell = QLabel(html.escape(slot_caption(slot)))
            cell.setStyleSheet(
                f"background: {swatch.fill}; color: {swatch.text}; border: {border}; "
                "border-radius: 5px; padding: 3px 8px;"
            )
            cell.setToolTip(f"{SLOT_LABELS[slot.kind]} {slot.to_text()}")
        cell.setObjectName(f"diff-{status}")
        cell.setProperty("status", status)
        cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return cell


def words_html(words: Sequence[tuple[str, str]]) -> str:
    out = []
    for word, status in words:
        text = rendered_html(word)
        if status == "removed":
            out.append(
                f'<span style="background:{DIFF_COLOURS["removed"]}; text-decoration:line-through;">{text}</span>'
            )
        elif status == "added":
            out.append(f'<span style="background:{DIFF_COLOURS["added"]}; font-weight:600;">{text}</span>')
        else:
            out.append(text)
    return " ".join(out)


class TemplateDiffView(QWidget):
    """Pick two templates (the one being edited is offered as 'this draft'); see where their slots differ and how
    both render the same row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library: TemplateLibrary | None = None
        self.draft: Template | None = None
        self.heads: list[Head] = []
        self.sentinel_style: SentinelStyle | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 6, 0, 0)
        bar = QHBoxLayout()
        self.a_combo = QComboBox()
        self.a_combo.setObjectName("diff-a")
        self.b_combo = QComboBox()
        self.b_combo.setObjectName("diff-b")
        self.swap_button = QToolButton()
        self.swap_button.setText("⇄")
        self.swap_button.setToolTip("swap the two templates")
        self.swap_button.clicked.connect(self._swap)
        self.row_combo = QComboBox()
        self.row_combo.setObjectName("diff-row")
        self.row_combo.setMinimumContentsLength(30)
        for text, widget in (
            ("Compare", self.a_combo),
            (None, self.swap_button),
            ("with", self.b_combo),
            ("on the row", self.row_combo),
        ):
            if text:
                bar.addWidget(QLabel(text))
            bar.addWidget(widget)
        bar.addStretch(1)
        outer.addLayout(bar)
        for combo in (self.a_combo, self.b_combo, self.row_combo):
            combo.currentIndexChanged.connect(lambda _i: self.refresh())

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 4, 0, 0)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("diff-summary")
        layout.addWidget(self.summary_label)
        self.source_grid = AlignmentGrid()
        self.target_grid = AlignmentGrid()
        for title, grid in (("Source slots", self.source_grid), ("Target slots", self.target_grid)):
            heading = QLabel(title)
            heading.setProperty("role", "section")
            layout.addWidget(heading)
            layout.addWidget(grid)
        heading = QLabel("Renderings of the same row")
        heading.setProperty("role", "section")
        layout.addWidget(heading)
        self.render_grid = QGridLayout()
        self.render_grid.setColumnStretch(1, 1)
        self.render_labels: dict[tuple[str, str], QLabel] = {}
        for row, (which, side) in enumerate((("a", "source"), ("b", "source"), ("a", "target"), ("b", "target"))):
            caption = QLabel()
            caption.setObjectName(f"caption-{which}-{side}")
            caption.setStyleSheet(f"color:{MUTED}; font-weight:600;")
            label = QLabel()
            label.setObjectName(f"render-{which}-{side}")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.render_grid.addWidget(caption, row, 0, Qt.AlignmentFlag.AlignTop)
            self.render_grid.addWidget(label, row, 1)
            self.render_labels[(which, side)] = label
            self.render_labels[(which, side + "-caption")] = caption
        layout.addLayout(self.render_grid)
        layout.addStretch(1)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

    # --- inputs -------------------------------------------------------------------------------------------
    def set_context(
        self, library: TemplateLibrary, draft: Template | None, heads: list[Head], style: SentinelStyle | None
    ) -> None:
        self.library, self.draft, self.heads, self.sentinel_style = library, draft, heads, style
        for combo, with_draft in ((self.a_combo, True), (self.b_combo, False)):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            if with_draft and draft is not None:
                combo.addItem(f"this draft ({draft.name})", DRAFT_KEY)
            for name in library.names():
                combo.addItem(name, name)
            index = combo.findData(current) if current is not None else -1
            if index < 0:
                fallback = DRAFT_KEY if with_draft and draft is not None else "unsup-nat"
                if not with_draft and draft is not None:
                    fallback = "sup" if draft.name != "sup" else "unsup-nat"
                index = max(0, combo.findData(fallback))
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        current_row = self.row_combo.currentIndex()
        self.row_combo.blockSignals(True)
        self.row_combo.clear()
        for head in heads:
            self.row_combo.addItem(f"[{head.relation}] {head.input}", head.id)
        self.row_combo.setCurrentIndex(max(0, min(current_row, len(heads) - 1)))
        self.row_combo.blockSignals(False)
        self.refresh()

    def select(self, a: str | None, b: str) -> None:
        """Compare template ``a`` (None: the draft) with ``b``."""
        self.a_combo.setCurrentIndex(self.a_combo.findData(DRAFT_KEY if a is None else a))
        self.b_combo.setCurrentIndex(self.b_combo.findData(b))

    def _swap(self) -> None:
        a, b = self.a_combo.currentData(), self.b_combo.currentData()
        if a == DRAFT_KEY:
            return  # the draft lives only in the first picker
        self.blockSignals(True)
        self.a_combo.setCurrentIndex(self.a_combo.findData(b))
        self.b_combo.setCurrentIndex(self.b_combo.findData(a))
        self.blockSignals(False)
        self.refresh()

    def _template(self, key: str | None) -> Template | None:
        if key == DRAFT_KEY:
            return self.draft
        if key is None or self.library is None or key not in self.library:
            return None
        return self.library.get(key)

    # --- output -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.library is None:
            return
        a = self._template(self.a_combo.currentData())
        b = self._template(self.b_combo.currentData())
        if a is None or b is None:
            return
        head = self.heads[self.row_combo.currentIndex()] if self.heads and self.row_combo.currentIndex() >= 0 else None
        relation = head.relation if head else "xIntent"
        try:
            concrete_a = self.library.resolve(a, relation)
            concrete_b = self.library.resolve(b, relation)
        except MtoError as exc:
            self.summary_label.setText(f"cannot resolve a mixed template: {exc.message}")
            return
        names = (self._label(a, concrete_a), self._label(b, concrete_b))
        source = align_slots(concrete_a.source, concrete_b.source)
        target = align_slots(concrete_a.target, concrete_b.target)
        self.source_grid.set_alignment(source, names)
        self.target_grid.set_alignment(target, names)
        differ_source = sum(p.status != "same" for p in source)
        differ_target = sum(p.status != "same" for p in target)
        if differ_source + differ_target == 0:
            self.summary_label.setText(f"<b>{names[0]}</b> and <b>{names[1]}</b> have the same slots.")
        else:
            self.summary_label.setText(
                f"<b>{differ_source}</b> source and <b>{differ_target}</b> target slot(s) "
                f"differ between <b>{html.escape(names[0])}</b> and "
                f"<b>{html.escape(names[1])}</b>."
            )
        self._render(a, b, head, names)

    @staticmethod
    def _label(template: Template, concrete: Template) -> str:
        return f"{template.name} → {concrete.name}" if template.is_mixed else template.name

    def _render(self, a: Template, b: Template, head: Head | None, names: tuple[str, str]) -> None:
        for which, name in (("a", names[0]), ("b", names[1])):
            for side in ("source", "target"):
                self.render_labels[(which, side + "-caption")].setText(f"{name} · {side}")
        if head is None:
            for key, label in self.render_labels.items():
                if not key[1].endswith("caption"):
                    label.setText("load data to compare renderings")
            return
        assert self.library is not None, "refresh() renders only with a library"
        style = self.sentinel_style if self.sentinel_style is not None else T5_STYLE
        outputs: list[Rendered | MtoError] = []
        for template in (a, b):
            try:
                outputs.append(
                    self.library.render(template, head.relation, head.input, head.references[0], style=style)
                )
            except MtoError as exc:
                outputs.append(exc)
        for side in ("source", "target"):
            ra, rb = outputs
            if isinstance(ra, MtoError) or isinstance(rb, MtoError):
                for which, out in (("a", ra), ("b", rb)):
                    text = out.message if isinstance(out, MtoError) else rendered_html(getattr(out, side))
                    self.render_labels[(which, side)].setText(text)
                continue
            left, right = word_diff(getattr(ra, side), getattr(rb, side))
            self.render_labels[("a", side)].setText(words_html(left))
            self.render_labels[("b", side)].setText(words_html(right))
