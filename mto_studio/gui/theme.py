"""Colours, fonts, icons and the application style: one place, so slot blocks, chips and diffs agree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from mto_studio.core.resources import resource
from mto_studio.core.templates import SlotKind


@dataclass(frozen=True)
class Swatch:
    fill: str
    border: str
    text: str = "#1f2933"


#: One colour family per slot kind; the sentinel's orange is the same in blocks, text and token chips.
SLOT_SWATCHES: dict[SlotKind, Swatch] = {
    SlotKind.TEXT: Swatch("#eef1f4", "#9aa5b1"),
    SlotKind.PREFIX: Swatch("#dcebfb", "#4a90d9"),
    SlotKind.SOFT: Swatch("#efe3f7", "#9c5cc4"),
    SlotKind.REL_BEFORE: Swatch("#ddf2e3", "#3f9d5a"),
    SlotKind.REL: Swatch("#ddf2e3", "#3f9d5a"),
    SlotKind.REL_AFTER: Swatch("#ddf2e3", "#3f9d5a"),
    SlotKind.INPUT: Swatch("#fdf0c9", "#d39e00"),
    SlotKind.MASK: Swatch("#ffe0cf", "#e8590c", "#7a2a00"),
    SlotKind.TARGET: Swatch("#d5f3f5", "#1f9aa8"),
}

TOKEN_SWATCHES = {
    "text": Swatch("#f1f3f5", "#d0d5da"),
    "sentinel": Swatch("#ff8a3d", "#d9480f", "#ffffff"),
    "soft": Swatch("#efe3f7", "#9c5cc4", "#5b2a86"),
    "special": Swatch("#e6e9ec", "#b6bec6", "#6b7580"),
    "cut": Swatch("#f8f9fa", "#e3e6e9", "#adb5bd"),
}

DIFF_COLOURS = {"same": "#ffffff", "changed": "#fff3bf", "removed": "#ffe3e3", "added": "#d3f9d8"}
DIFF_BORDERS = {"same": "#ced4da", "changed": "#f08c00", "removed": "#e03131", "added": "#2f9e44"}
ERROR_RED = "#c92a2a"
MUTED = "#6b7580"
TEXT = "#1f2933"  # chart titles, axes and legends
ACCENT = "#3b5bdb"

STYLE_SHEET = f"""
QLineEdit[invalid="true"], QComboBox[invalid="true"], QSpinBox[invalid="true"] {{
    border: 2px solid {ERROR_RED}; border-radius: 3px; background: #fff5f5;
}}
QLabel[role="error"] {{ color: {ERROR_RED}; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="heading"] {{ font-weight: 600; font-size: 11pt; }}
QLabel[role="section"] {{ font-weight: 600; color: #364152; letter-spacing: 0.5px; }}
QFrame[role="banner"] {{ background: #fff4e6; border: 1px solid #ffc078; border-radius: 4px; }}
QFrame[role="card"] {{ background: #ffffff; border: 1px solid #dde2e6; border-radius: 6px; }}
QListWidget#sidebar {{ background: #1f2a37; color: #e9edf2; border: none; font-size: 10pt; outline: 0; }}
QListWidget#sidebar::item {{ padding: 10px 6px; border-left: 3px solid transparent; }}
QListWidget#sidebar::item:selected {{ background: #2f3e50; border-left: 3px solid #74c0fc; color: #ffffff; }}
QListWidget#sidebar::item:hover:!selected {{ background: #283545; }}
QLabel#brand {{ background: #1f2a37; color: #ffffff; font-weight: 700; font-size: 12pt; padding: 12px 8px; }}
QTabWidget::pane {{ border-top: 1px solid #d0d5da; }}
QGroupBox {{ font-weight: 600; }}
"""


def light_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#f5f6f8",
        QPalette.ColorRole.WindowText: "#1f2933",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f7f8fa",
        QPalette.ColorRole.ToolTipBase: "#ffffe1",
        QPalette.ColorRole.ToolTipText: "#1f2933",
        QPalette.ColorRole.Text: "#1f2933",
        QPalette.ColorRole.Button: "#eef0f3",
        QPalette.ColorRole.ButtonText: "#1f2933",
        QPalette.ColorRole.Highlight: "#3b5bdb",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.PlaceholderText: "#8a94a0",
        QPalette.ColorRole.Link: "#1c7ed6",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#8a94a0"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#8a94a0"))
    return palette


def apply_theme(app: QApplication) -> None:
    """Fusion with a light palette: the same look on every platform and on a bare X server."""
    app.setStyle("Fusion")
    app.setPalette(light_palette())
    app.setStyleSheet(STYLE_SHEET)


def monospace_font(point_size: float | None = None) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    if point_size:
        font.setPointSizeF(point_size)
    return font


@cache
def icon(name: str) -> QIcon:
    """An icon from resources/icons (SVG); an empty icon if it is missing, never an error."""
    path = resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


def set_invalid(widget, invalid: bool) -> None:
    """Mark a field invalid (red border, via the style sheet's [invalid="true"] rule)."""
    if bool(widget.property("invalid")) != invalid:
        widget.setProperty("invalid", invalid)
        widget.style().unpolish(widget)
        widget.style().polish(widget)
