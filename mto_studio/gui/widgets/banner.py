"""The window's non-blocking notice banner, and a menu-action helper."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QVBoxLayout, QWidget


def add_action(menu: QMenu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    """A menu entry that calls ``slot()`` (with an optional shortcut and status-bar tip)."""
    action = menu.addAction(text)
    action.triggered.connect(lambda _checked=False: slot())
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    return action


class NoticeBanner(QFrame):
    """A non-blocking notice above the workbenches (e.g. the embedded model is not installed yet, the project is
    open read-only). Notices are kept by key, so one concern's notice (and its button) never replaces another's;
    the banner shows while any is set and hides when the last is cleared (or the user closes it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setProperty("role", "banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.text_label = QLabel()
        self.text_label.setObjectName("notice-text")
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        self.buttons = QVBoxLayout()
        self.buttons.setContentsMargins(0, 0, 0, 0)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("hide this notice")
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.text_label, 1)
        layout.addLayout(self.buttons)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        #: key → (html, action text, action), in the order they were first set
        self.notices: dict[str, tuple[str, str, Callable[[], object] | None]] = {}
        self.hide()

    def show_notice(
        self, html: str, action_text: str = "", action: Callable[[], object] | None = None, *, key: str = "notice"
    ) -> None:
        """Set the notice ``key`` (replacing that key's earlier one) and show the banner."""
        self.notices[key] = (html, action_text, action)
        self._refresh()
        self.show()

    def clear_notice(self, key: str = "notice") -> None:
        """Remove the notice ``key``; the banner hides when none is left."""
        if self.notices.pop(key, None) is not None:
            self._refresh()
        if not self.notices:
            self.hide()

    def action_button(self, key: str = "notice") -> QPushButton | None:
        """The button of the notice ``key`` (None when it has none)."""
        for index in range(self.buttons.count()):
            item = self.buttons.itemAt(index)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QPushButton) and widget.property("notice") == key:
                return widget
        return None

    def _refresh(self) -> None:
        self.text_label.setText("<br><br>".join(html for html, _text, _action in self.notices.values()))
        while self.buttons.count():
            item = self.buttons.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()  # at once: deleteLater waits for the event loop
                widget.deleteLater()
        for key, (_html, text, action) in self.notices.items():
            if not text or action is None:
                continue
            button = QPushButton(text)
            button.setObjectName(f"notice-action-{key}")
            button.setProperty("notice", key)
            button.clicked.connect(lambda _checked=False, run=action: run())
            self.buttons.addWidget(button)
