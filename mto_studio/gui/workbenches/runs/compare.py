"""The Runs workbench's comparison: the selected runs' curves overlaid, and the settings and templates in which they
differ."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget

from mto_studio.core.errors import MtoError
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import RunFolder, template_label
from mto_studio.core.store.sqlite import RunRow
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.training.results import shots_text
from mto_studio.gui.context import StudioContext
from mto_studio.gui.models.qa import qa_metric_name, qa_metrics_in
from mto_studio.gui.models.runs import ConfigDiffModel
from mto_studio.gui.plots.base import export_png
from mto_studio.gui.plots.line_chart import LineChart
from mto_studio.gui.theme import COMPARE_COLOURS, MUTED, TEXT
from mto_studio.gui.widgets.diff_view import TemplateDiffView

MAX_COMPARED = 12


def run_label(run: RunRow) -> str:
    """A run's name in the chart's legend."""
    if run.template and run.method:
        return f"#{run.id} {template_label(run.template)} · {shots_text(run.shots or 'full')} · s{run.seed}"
    return f"#{run.id} {run.name}"


class ComparePanel(QWidget):
    """The compared runs: loss and validation ROUGE-L curves, the config diff and the template diff."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.compared: list[RunRow] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)
        heading = QLabel("Compare")
        heading.setProperty("role", "section")
        layout.addWidget(heading)
        self.caption = QLabel()
        self.caption.setObjectName("runs-compare-caption")
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        layout.addWidget(self.caption)
        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("runs-vsplitter")
        self.chart = LineChart(
            [("loss", "Training loss", "loss"), ("rougeL", "Validation ROUGE-L", "ROUGE-L")], shared_legend=True
        )
        self.chart.setObjectName("runs-compare-chart")
        self.chart.plots["rougeL"].getViewBox().setLimits(yMin=-0.02, yMax=1.02)
        self.vsplitter.addWidget(self.chart)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("runs-tabs")
        self.diff_model = ConfigDiffModel(self)
        self.diff_table = QTableView()
        self.diff_table.setObjectName("runs-config-diff")
        self.diff_table.setModel(self.diff_model)
        self.diff_table.verticalHeader().setVisible(False)
        self.diff_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.diff_table.setWordWrap(False)
        self.tabs.addTab(self.diff_table, "Config diff")
        self.template_diff = TemplateDiffView()
        self.template_diff.setObjectName("runs-template-diff")
        self.tabs.addTab(self.template_diff, "Template diff")
        self.vsplitter.addWidget(self.tabs)
        self.vsplitter.setStretchFactor(0, 3)
        self.vsplitter.setStretchFactor(1, 2)
        self.vsplitter.setSizes([520, 330])
        layout.addWidget(self.vsplitter, 1)

    def show_runs(self, runs: list[RunRow], store: RunStore | None) -> None:
        """Compare ``runs``: their curves as ``store`` recorded them, and how their settings and templates differ."""
        self.compared = list(runs)
        self.chart.reset()
        if not runs:
            self.caption.setText(
                "Select several runs (or an experiment) to overlay their curves and see how "
                "their settings and templates differ."
            )
            self.diff_model.set_configs([], [])
            return
        # QA runs are compared on validation accuracy (the "rougeL" panel keeps its key and takes the title)
        metric = "accuracy" if any(qa_metrics_in(r.metrics) for r in runs) else "rougeL"
        name = qa_metric_name(metric)
        self.chart.plots["rougeL"].setTitle(f"Validation {name}", color=TEXT, size="10pt")
        self.chart.plots["rougeL"].setLabel("left", name, color=MUTED, size="9pt")
        for i, run in enumerate(runs):
            colour = COMPARE_COLOURS[i % len(COMPARE_COLOURS)]
            label = run_label(run)
            self.chart.add_line("loss", label, colour, width=1.8)
            self.chart.add_line("rougeL", label, colour, width=1.8, symbol="o")
            if store is not None:
                self.chart.set_points("loss", label, store.series(run.id, "loss", "train"))
                self.chart.set_points("rougeL", label, store.series(run.id, metric, "validation"))
        for plot in self.chart.plots.values():
            plot.enableAutoRange()
        self.diff_model.set_configs([f"#{r.id}" for r in runs], [r.config for r in runs])
        differing = len(self.diff_model.fields)
        self.caption.setText(
            f"{len(runs)} run(s) · {differing} setting(s) differ"
            if len(runs) > 1
            else "one run: select more to compare"
        )
        self._show_template_diff(runs)

    def _show_template_diff(self, runs: list[RunRow]) -> None:
        """The first two distinct templates among the compared runs, as they were run (their template.toml)."""
        library = TemplateLibrary(
            phrases=self.context.project.phrase_table(), objectives=self.context.project.objectives
        )
        names: list[str] = []
        texts: dict[str, str] = {}
        for run in runs:
            path = RunFolder(run.folder).file(RunFolder.TEMPLATE)
            try:
                text = path.read_text(encoding="utf-8")
                template = TemplateLibrary().get(str(path))
            except (OSError, MtoError):
                continue
            if text in texts.values():
                continue
            name = f"{template.name} (#{run.id})"
            library.add(dataclasses.replace(template, name=name, builtin=False))
            texts[name] = text
            names.append(name)
        data = self.context.data
        heads = list(data.task.heads[:60]) if data is not None and data.task is not None else []
        self.template_diff.set_context(library, None, heads, self.context.sentinel_style)
        if len(names) >= 2:
            self.template_diff.select(names[0], names[1])
            self.tabs.setTabText(1, "Template diff")
        elif names:
            self.template_diff.select(names[0], names[0])
            self.tabs.setTabText(1, "Template diff (all the same)")

    def export_chart(self, path: str | Path) -> Path:
        """The comparison chart as PNG (pyqtgraph's ImageExporter; its SVG exporter crashes on Qt 6.12)."""
        export_png(self.chart, path, 1400)
        return Path(path)
