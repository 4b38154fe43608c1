"""Small widgets shared by the settings panels of the Analyzer, the Trainer and the Objective Lab: learning rates in
scientific notation, an editable k-shot ladder, a comma-separated list of seeds, and the scrolling settings column
with its run controls pinned below."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.data.sampling import parse_shots, shots_label
from mto_studio.core.errors import MtoError
from mto_studio.core.training.results import shots_order
from mto_studio.gui.theme import ACCENT, CHIP_FILL, OUTLINE, SELECTED_FILL, TEXT, set_invalid


def config_spin(cls: type, name: str, object_name: str, *, tip: str = "", high: float | None = None):
    """A spin box for config field ``name`` of ``cls``: its range and tooltip come from the field's option()
    metadata, the same text and bounds the CLI shows and validation checks (``tip`` adds advice; ``high`` narrows
    the range, e.g. to this machine's cores)."""
    from mto_studio.core.config import field_info

    info = field_info(cls, name)
    low = info.low if info.low is not None else 0
    top = info.high if info.high is not None else 1_000_000
    if high is not None:
        top = min(top, high)
    spin: ScientificSpinBox | QSpinBox
    if info.type is float:
        spin = ScientificSpinBox(float(low), float(top), float(info.default))
    else:
        spin = QSpinBox()
        spin.setRange(int(low), int(min(top, 2**31 - 1)))
        spin.setValue(int(info.default))
    spin.setObjectName(object_name)
    spin.setToolTip(info.describe() + (f". {tip}" if tip else ""))
    return spin


def config_double(cls: type, name: str, object_name: str, *, step: float, decimals: int = 2, tip: str = "",
                  low: float | None = None, high: float | None = None) -> QDoubleSpinBox:  # fmt: skip
    """A fixed-decimals spin box for float field ``name`` of ``cls`` (weights, thresholds: values of one scale,
    unlike learning rates): range, default and tooltip from the field's metadata (``low``/``high`` narrow it)."""
    from mto_studio.core.config import field_info

    info = field_info(cls, name)
    spin = QDoubleSpinBox()
    spin.setObjectName(object_name)
    bottom = info.low if info.low is not None else 0.0
    top = info.high if info.high is not None else 100.0
    spin.setRange(max(bottom, low) if low is not None else bottom, min(top, high) if high is not None else top)
    spin.setSingleStep(step)
    spin.setDecimals(decimals)
    spin.setValue(float(info.default))
    spin.setToolTip(info.describe() + (f". {tip}" if tip else ""))
    return spin


class ScientificSpinBox(QDoubleSpinBox):
    """A float field that shows and accepts 1e-3, 3e-4, 0.03: learning rates span decades, and fixed decimals
    either hide them (0.000) or drown them (0.000300)."""

    def __init__(self, low: float, high: float, value: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(low, high)
        self.setValue(value)
        self.setKeyboardTracking(False)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt override
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, position: int):  # noqa: D102 - Qt override
        stripped = text.strip()
        if not stripped or re.fullmatch(r"[0-9.eE+-]*", stripped) is None:
            return QValidator.State.Invalid if stripped else QValidator.State.Intermediate, text, position
        try:
            value = float(stripped)
        except ValueError:
            return QValidator.State.Intermediate, text, position
        state = (
            QValidator.State.Acceptable if self.minimum() <= value <= self.maximum() else QValidator.State.Intermediate
        )
        return state, text, position

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt override
        """Arrow keys move along 1, 2, 3, 5 × 10^n (the values people try)."""
        ladder = []
        for exponent in range(-8, 2):
            ladder += [m * 10.0**exponent for m in (1, 2, 3, 5)]
        current = self.value()
        position = min(range(len(ladder)), key=lambda i: abs(ladder[i] - current))
        position = max(0, min(len(ladder) - 1, position + steps))
        self.setValue(min(max(ladder[position], self.minimum()), self.maximum()))


class ShotsEditor(QWidget):
    """The k-shot ladder as editable chips (double-click to edit; 'full' = all the data), plus add and remove."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.list = QListWidget()
        self.list.setObjectName("trainer-shots")
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(True)
        self.list.setSpacing(2)
        self.list.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.list.setToolTip(
            "training heads per relation for each step of the ladder; double-click to edit, "
            "'full' = all the training data"
        )
        self.list.setFixedHeight(32)
        self.list.setStyleSheet(
            "QListWidget#trainer-shots { background: transparent; border: none; }"
            f"QListWidget#trainer-shots::item {{ border: 1px solid {OUTLINE}; border-radius: 9px; "
            f"background: {CHIP_FILL}; padding: 1px 9px; margin: 2px; color: {TEXT}; }}"
            f"QListWidget#trainer-shots::item:selected {{ background: {SELECTED_FILL}; border-color: {ACCENT}; }}"
        )
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemChanged.connect(self._on_item_changed)
        layout.addWidget(self.list, 1)
        buttons = QVBoxLayout()
        buttons.setSpacing(0)
        self.add_button = QToolButton()
        self.add_button.setText("+")
        self.add_button.setToolTip("add a step to the ladder")
        self.add_button.clicked.connect(self.add_step)
        self.remove_button = QToolButton()
        self.remove_button.setText("−")
        self.remove_button.setToolTip("remove the selected step")
        self.remove_button.clicked.connect(self.remove_selected)
        for button in (self.add_button, self.remove_button):
            button.setFixedSize(20, 16)
            buttons.addWidget(button)
        layout.addLayout(buttons)

    def set_shots(self, shots: list[str]) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for label in shots:
            self._add_item(label)
        self.list.blockSignals(False)
        self.changed.emit()

    def _add_item(self, label: str) -> QListWidgetItem:
        item = QListWidgetItem(label)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        self.list.addItem(item)
        return item

    def shots(self) -> list[str]:
        """The ladder, normalised and sorted (raises MtoError naming a bad entry)."""
        labels = []
        for row in range(self.list.count()):
            text = self.list.item(row).text().strip()
            try:
                labels.append(shots_label(parse_shots(text)))
            except MtoError as exc:
                raise MtoError(f"k-shot ladder: {exc.message}", "use whole numbers or 'full'") from None
        return sorted(dict.fromkeys(labels), key=shots_order)

    def add_step(self) -> None:
        try:
            current = [parse_shots(s) for s in self.shots()]
        except MtoError:
            current = []
        numbers = [k for k in current if k is not None]
        proposal = str(max(numbers) * 4 if numbers else 8)
        item = self._add_item(proposal)
        self.list.setCurrentItem(item)
        self.list.editItem(item)
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self.changed.emit()

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        try:
            shots_label(parse_shots(item.text().strip()))
            item.setToolTip("")
            item.setForeground(self.palette().text())
        except MtoError as exc:
            item.setToolTip(exc.message)
            item.setForeground(Qt.GlobalColor.red)
        self.changed.emit()


class SeedsEdit(QLineEdit):
    """Seeds as '0, 1, 2'."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainer-seeds")
        self.setToolTip(
            "seeds per cell, e.g. 0, 1, 2: each seed samples its own k heads and its own data order; "
            "the table and the curves show mean ± sd over them"
        )
        self.textChanged.connect(self._check)

    def set_seeds(self, seeds: list[int]) -> None:
        self.setText(", ".join(str(s) for s in seeds))

    def seeds(self) -> list[int]:
        parts = [p for p in re.split(r"[,\s]+", self.text().strip()) if p]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise MtoError(f"seeds: '{self.text()}' is not a list of whole numbers", "e.g. 0, 1, 2") from None
        if not values:
            raise MtoError("no seed given", "e.g. 0, 1, 2")
        return list(dict.fromkeys(values))

    def _check(self) -> None:
        try:
            self.seeds()
            set_invalid(self, False)
        except MtoError:
            set_invalid(self, True)


def scrolling_settings(panel: QWidget) -> tuple[QWidget, QVBoxLayout]:
    """Wrap a settings panel in a vertical scroll area that is never narrower than the panel, inside a column whose
    layout the caller adds its run controls to: they stay in view however far the settings scroll."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
    outer = QWidget()
    outer_layout = QVBoxLayout(outer)
    outer_layout.setContentsMargins(0, 0, 8, 0)
    outer_layout.setSpacing(6)
    outer_layout.addWidget(scroll, 1)
    return outer, outer_layout


def settings_layout(owner: QWidget, title: str, intro: str = "") -> QVBoxLayout:
    """A settings column's layout: its heading and an optional muted introduction; the caller adds the rest."""
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(0, 0, 4, 0)
    layout.setSpacing(6)
    heading = QLabel(title)
    heading.setProperty("role", "heading")
    layout.addWidget(heading)
    if intro:
        note = QLabel(intro)
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        layout.addWidget(note)
    return layout


def settings_beside(owner: QWidget, name: str, settings: QWidget, controls: QWidget, right: QWidget,
                    settings_width: int = 330) -> QSplitter:  # fmt: skip
    """A workbench's layout: its settings column (scrolling, with ``controls`` pinned below) beside ``right``, in
    a splitter named ``<name>-splitter`` that fills ``owner``."""
    outer = QHBoxLayout(owner)
    outer.setContentsMargins(8, 8, 8, 8)
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setObjectName(f"{name}-splitter")
    outer.addWidget(splitter)
    column, column_layout = scrolling_settings(settings)
    column_layout.addWidget(controls)
    splitter.addWidget(column)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes([settings_width, 1560 - settings_width])
    return splitter
