"""The Data workbench's domain check: a notice when the project's model does not know its data's words."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from mto_studio.core.models.domain import DomainReport, domain_report, task_texts
from mto_studio.core.models.family import family_of_ref
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc

#: texts read on the GUI thread (inputs and targets; about 20-60 ms with a fast tokenizer)
GUI_SAMPLE = 600


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
        data, tokenizer = self.context.data, self.context.tokenizer
        task = data.task if data is not None else None
        if task is None or tokenizer is None or not task.examples:
            self.report = None
            self.hide()
            return
        family = family_of_ref(self.context.project.model)
        self.report = domain_report(tokenizer, task_texts(task.examples, GUI_SAMPLE), family)
        if not self.report.warnings:
            self.hide()
            return
        lines = [f"<b>Domain check</b> — {esc(warning)}" for warning in self.report.warnings]
        lines.append(f"<span>{esc(self.report.summary())}. Choose another in File ▸ Choose model…</span>")
        self.text_label.setText("<br>".join(lines))
        self.show()
