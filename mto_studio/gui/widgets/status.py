"""The main window's status bar: the open project (and whether it is read-only), the model, the data."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QLabel, QStatusBar

from mto_studio.core.models.loading import EMBEDDED_MODEL
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc
from mto_studio.gui.theme import ERROR_RED


class ProjectStatus:
    """Three permanent labels on ``bar``; ``update`` refills them from the context."""

    def __init__(self, bar: QStatusBar, context: StudioContext) -> None:
        self.context = context
        self.project_label = QLabel()
        self.model_label = QLabel()
        self.data_label = QLabel()
        for name, label in (
            ("status-project", self.project_label),
            ("status-model", self.model_label),
            ("status-data", self.data_label),
        ):
            label.setObjectName(name)
            label.setContentsMargins(8, 0, 8, 0)
            bar.addPermanentWidget(label)
        self.labels = (self.project_label, self.model_label, self.data_label)
        self.update()

    def update(self) -> None:
        context = self.context
        project = context.project
        read_only = context.lease.busy is not None
        self.project_label.setText(
            f"Project: <b>{esc(project.name)}</b>"
            + (f" · <span style='color:{ERROR_RED}'>read-only</span>" if read_only else "")
        )
        self.project_label.setToolTip(str(project.folder))
        model = project.model
        if context.tokenizer_loading_ref:
            state = "loading…"
        elif context.tokenizer is not None:
            state = "ready"
        elif context.tokenizer_error is not None:
            state = f"<span style='color:{ERROR_RED}'>not available</span>"
        else:
            state = ""
        shown = model if model == EMBEDDED_MODEL or "/" not in model else Path(model).name
        self.model_label.setText(f"Model: <b>{esc(shown)}</b>" + (f" · {state}" if state else ""))
        self.model_label.setToolTip(project.model_ref())
        data = context.data
        if context.data_loading_path:
            text = f"Data: reading {esc(Path(context.data_loading_path).name)}…"
        elif data is None:
            text = "Data: none"
        elif data.task is None:
            text = f"Data: <b>{esc(data.display_name)}</b> · columns not mapped"
        else:
            text = (
                f"Data: <b>{esc(data.display_name)}</b> · {len(data.task.examples):,} rows · "
                f"{len(data.task.heads):,} heads"
            )
        self.data_label.setText(text)
