"""The Data workbench's domain check: a notice when the project's model does not know its data's words."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from mto_studio.core.models.domain import DomainReport
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc


class DomainNotice(QFrame):
    """Hidden while the model knows the data (or there is no data or tokenizer); else the warnings and the
    fragmentation figures. Re-checked when the data or the tokenizer changes."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.setObjectName("domain-notice")
        self.setProperty("role", "banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.text_label = QLabel()
        self.text_label.setObjectName("domain-text")
        self.text_label.setWordWrap(True)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.text_label, 1)
        self.report: DomainReport | None = None
        context.data_changed.connect(self.refresh)
        context.tokenizer_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        profile = self.context.profile()
        self.report = profile.report if profile is not None else None
        if self.report is None:
            self.hide()
            return
        if not self.report.warnings:
            self.hide()
            return
        lines = [f"<b>Domain check</b> — {esc(warning)}" for warning in self.report.warnings]
        lines.append(f"<span>{esc(self.report.summary())}. Choose another in File ▸ Choose model…</span>")
        self.text_label.setText("<br>".join(lines))
        self.show()
