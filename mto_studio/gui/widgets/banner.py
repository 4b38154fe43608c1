"""The window's non-blocking notice banner, and a menu-action helper."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget


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
    """A non-blocking notice above the workbenches (e.g. the embedded model is not installed yet)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setProperty("role", "banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        self.action_button = QPushButton()
        self.action_button.setObjectName("notice-action")
        self.action_button.clicked.connect(self._run_action)
        self._action = None
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("hide this notice")
        self.close_button.clicked.connect(self.hide)
        layout.addWidget(self.text_label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.hide()

    def show_notice(self, html: str, action_text: str = "", action=None) -> None:
        self.text_label.setText(html)
        self._action = action
        self.action_button.setVisible(bool(action_text))
        self.action_button.setText(action_text)
        self.show()

    def _run_action(self) -> None:
        if self._action is not None:
            self._action()
