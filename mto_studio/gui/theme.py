"""Colours, fonts, icons and the application style: one place, so slot blocks, chips and diffs agree. Every colour
of the GUI is named here; the other GUI modules use the names (tests/gui/test_theme.py checks)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtGui import QColor, QFont, QFontDatabase, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from mto_studio.core.resources import resource
from mto_studio.core.templates import Objective, SlotKind
from mto_studio.core.templates.colours import PALETTE

# --- text and lines, darkest first ---------------------------------------------------------------------------
TEXT = "#1f2933"  # body text; chart titles, axes, legends and their darkest lines
WHISKER = "#343a40"  # error bars
SECTION = "#364152"  # section headings, captions and the text of badges
SECONDARY = "#52606d"  # a step lighter than TEXT: built-in templates, glyph buttons
MUTED = "#6b7580"
PENDING = "#868e96"  # queued and waiting runs, undecided relations
DISABLED = "#8a94a0"  # placeholder and disabled text
FAINT = "#9aa5b1"  # text with little to say: dropped rows, empty cells, the 'built-in' tag
OUTLINE = "#adb5bd"  # chart axes, the outlines of chips and dashed buttons
BORDER = "#d0d5da"  # frames: the tab pane, the slot strip
LIGHT_BORDER = "#dee2e6"  # cards and chart legends

# --- fills ---------------------------------------------------------------------------------------------------
WHITE = "#ffffff"
WINDOW = "#f5f6f8"
CANVAS = "#fbfcfd"  # the editable slot strip
READ_ONLY_FILL = "#f4f5f7"  # the slot strip of a built-in template
CHIP_FILL = "#f1f3f5"
BADGE_FILL = "#e7ecf3"
SELECTED_FILL = "#dbe4ff"  # a selected chip; light text on a selected row
EDITED_FILL = "#fff9db"  # a phrase-table cell that overrides the library's phrase

# --- meaning -------------------------------------------------------------------------------------------------
ACCENT = "#3b5bdb"
LINK = "#1c7ed6"  # links and running runs
SUCCESS = "#2b8a3e"  # finished runs, an exact answer
SUCCESS_FILL = "#ebfbee"  # a gain over the baseline
ERROR_RED = "#c92a2a"
ERROR_FILL = "#fff5f5"  # invalid fields, a loss against the baseline
WARNING = "#9a5b00"  # notes: no test split, so scores are validation scores
HALTED = "#e67700"  # paused, stopped and interrupted runs

STATUS_COLOURS = {
    "finished": SUCCESS,
    "running": LINK,
    "paused": HALTED,
    "stopping": HALTED,
    "stopped": HALTED,
    "interrupted": HALTED,
    "failed": ERROR_RED,
    "diverged": ERROR_RED,  # the loss ran away or the predictions collapsed (core/jobs/status.py)
    "queued": PENDING,
    "skipped": SUCCESS,
    "waiting": PENDING,
}
#: The template list's tags, after each entry's name.
TAG_COLOURS = {"built-in": FAINT, "project": "#2f9e44", "new": "#e8590c"}
#: Pale fills in an objective's colour family (core/templates/colours.py has the strong ones): behind a decision
#: in the Analyzer's table, and the bars of templates that are not recommended.
OBJECTIVE_FILLS = {Objective.FILLING: "#fff0e6", Objective.MAPPING: "#e7f1fb"}
OBJECTIVE_BAR_FILLS = {Objective.FILLING: "#ffd8bf", Objective.MAPPING: "#cfe3f7", Objective.MIXED: "#e5dbff"}
#: The Objective Lab's lines: its losses and its zero-shot knowledge checks.
LAB_LOSS_COLOURS = {"total": TEXT, "span": "#e8590c", "salient": "#f59f00", "supervised": LINK}
LAB_KNOWLEDGE_COLOURS = {
    "fill_heldout_em": "#e8590c",
    "fill_seen_em": "#f59f00",
    "qa_seen_em": LINK,
    "qa_heldout_em": "#0c8599",
}
#: One colour per run compared in the Runs view, in order.
COMPARE_COLOURS = ["#e8590c", LINK, "#2f9e44", "#7048e8", "#c2255c", "#0c8599", "#f59f00", *PALETTE]


@dataclass(frozen=True)
class Swatch:
    fill: str
    border: str
    text: str = TEXT


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
    SlotKind.CHOICES: Swatch("#e7e9fb", "#5c6ac4"),
    SlotKind.LABEL: Swatch("#d5f3f5", "#1f9aa8"),
}

TOKEN_SWATCHES = {
    "text": Swatch(CHIP_FILL, BORDER),
    "sentinel": Swatch("#ff8a3d", "#d9480f", WHITE),
    "soft": Swatch("#efe3f7", "#9c5cc4", "#5b2a86"),
    "special": Swatch("#e6e9ec", "#b6bec6", MUTED),
    "cut": Swatch("#f8f9fa", "#e3e6e9", "#adb5bd"),
}

DIFF_COLOURS = {"same": WHITE, "changed": "#fff3bf", "removed": "#ffe3e3", "added": "#d3f9d8"}
DIFF_BORDERS = {"same": "#ced4da", "changed": "#f08c00", "removed": "#e03131", "added": "#2f9e44"}

STYLE_SHEET = f"""
QLineEdit[invalid="true"], QComboBox[invalid="true"], QSpinBox[invalid="true"] {{
    border: 2px solid {ERROR_RED}; border-radius: 3px; background: {ERROR_FILL};
}}
QLabel[role="error"] {{ color: {ERROR_RED}; }}
QLabel[role="muted"] {{ color: {MUTED}; }}
QLabel[role="heading"] {{ font-weight: 600; font-size: 11pt; }}
QLabel[role="section"] {{ font-weight: 600; color: {SECTION}; letter-spacing: 0.5px; }}
QFrame[role="banner"] {{ background: #fff4e6; border: 1px solid #ffc078; border-radius: 4px; }}
QFrame[role="card"] {{ background: {WHITE}; border: 1px solid {LIGHT_BORDER}; border-radius: 6px; }}
QListWidget#sidebar {{ background: #1f2a37; color: #e9edf2; border: none; font-size: 10pt; outline: 0; }}
QListWidget#sidebar::item {{ padding: 10px 6px; border-left: 3px solid transparent; }}
QListWidget#sidebar::item:selected {{ background: #2f3e50; border-left: 3px solid #74c0fc; color: {WHITE}; }}
QListWidget#sidebar::item:hover:!selected {{ background: #283545; }}
QLabel#brand {{ background: #1f2a37; color: {WHITE}; font-weight: 700; font-size: 12pt; padding: 12px 8px; }}
QTabWidget::pane {{ border-top: 1px solid {BORDER}; }}
QGroupBox {{ font-weight: 600; }}
"""


def light_palette() -> QPalette:
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: WHITE,
        QPalette.ColorRole.AlternateBase: "#f7f8fa",
        QPalette.ColorRole.ToolTipBase: "#ffffe1",
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#eef0f3",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: WHITE,
        QPalette.ColorRole.PlaceholderText: DISABLED,
        QPalette.ColorRole.Link: LINK,
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(DISABLED))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(DISABLED))
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
