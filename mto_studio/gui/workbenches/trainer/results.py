"""The Trainer's results tab: the template × k table of finished runs (mean ± sd over seeds, gain over the
baseline), a relation-group picker, and the ladder chart that draws the same cells by training size."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QSplitter, QTableView, QVBoxLayout, QWidget

from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.training import ResultTableModel
from mto_studio.gui.plots.live_curves import LadderChart
from mto_studio.gui.theme import TEXT, WARNING

ROW_HEIGHT = 40  # mean ± sd, then the gain


class ResultsPanel(QWidget):
    """``colour(template)`` gives a template's colour, the same as in the curves."""

    def __init__(self, colour: Callable[[str], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour = colour
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 6, 4, 4)
        group_row = QHBoxLayout()
        self.caption = QLabel()
        self.caption.setObjectName("trainer-results-caption")
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        group_row.addWidget(self.caption, 1)
        group_row.addWidget(QLabel("Relations"))
        self.group_combo = QComboBox()
        self.group_combo.setObjectName("trainer-group")
        self.group_combo.setToolTip("all relations, or only those decided as Filling or as Mapping")
        self.group_combo.currentIndexChanged.connect(self._on_group)
        group_row.addWidget(self.group_combo)
        layout.addLayout(group_row)
        self.model = ResultTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("trainer-results")
        self.table.setModel(self.model)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setMinimumSectionSize(120)
        self.table.setWordWrap(True)
        self.table.setMinimumHeight(84)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("trainer-results-splitter")
        self.splitter.addWidget(self.table)
        self.ladder = LadderChart()
        self.splitter.addWidget(self.ladder)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([110, 220])
        layout.addWidget(self.splitter, 1)
        self.update_caption()

    def set_grid(self, methods: list[str], templates: list[str], shots: list[str], baseline: str, seeds: int,
                 label: str) -> None:  # fmt: skip
        """An experiment starts: empty cells for its grid, the table as tall as its rows (up to half the tab)."""
        self.model.set_grid(methods, templates, shots, baseline, seeds, label)
        self.refresh_groups()
        self.refresh_ladder(reset=True)
        table_height = self.table.horizontalHeader().height() + ROW_HEIGHT * len(self.model.rows) + 8
        total = sum(self.splitter.sizes()) or 330
        table_height = min(table_height, total // 2)
        self.splitter.setSizes([table_height, max(total - table_height, 120)])
        self.update_caption()

    def set_label(self, label: str) -> None:
        """Where the coming experiment's scores will come from (before it starts)."""
        self.model.label = label
        self.update_caption()
        self._set_title()

    def set_tables(self, tables, finished: int, total: int) -> None:
        self.model.set_tables(tables)
        self.refresh_groups()
        self.refresh_ladder()
        self.update_caption(finished, total)

    def refresh_groups(self) -> None:
        groups = self.model.groups()
        current = self.group_combo.currentData() or self.model.group
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        for group in groups:
            self.group_combo.addItem(group.replace(" relations", "") if group != "all relations" else "all", group)
        self.group_combo.setCurrentIndex(max(0, self.group_combo.findData(current)))
        self.group_combo.blockSignals(False)

    def _on_group(self, _index: int) -> None:
        group = self.group_combo.currentData()
        if group:
            self.model.set_group(group)
            self.update_caption()
            self.refresh_ladder()

    def refresh_ladder(self, reset: bool = False) -> None:
        """The ladder chart follows the table (its rows, its k columns, the selected relation group)."""
        model = self.model
        if reset or set(self.ladder.shots) != set(model.shots) or set(self.ladder._lines) != set(model.rows):
            self.ladder.set_rows(model.rows, model.shots, self.colour, model.baseline)

        def cell(method, template, shots):
            found = model.cell(method, template, shots)
            return None if found is None else (found.mean, found.sd)

        self.ladder.set_cells(cell)
        self._set_title()

    def _set_title(self) -> None:
        model = self.model
        self.ladder.plot.setTitle(f"{_esc(model.label)} by training size · {model.group}", color=TEXT, size="10pt")

    def update_caption(self, finished: int | None = None, total: int | None = None) -> None:
        model = self.model
        label = _esc(model.label)
        warning = ""
        if model.label.startswith("Validation"):
            warning = (
                f" <span style='color:{WARNING}'>No test split: these are validation scores of the checkpoint "
                "the same heads chose (optimistic); set a test file in the Data workbench.</span>"
            )
        if not model.rows:
            self.caption.setText(
                f"The table fills in as runs finish: {label}, mean ± sd over seeds, and the "
                f"gain over the baseline at the same k.{warning}"
            )
            return
        counted = f" · {finished} of {total} runs counted" if finished is not None else ""
        self.caption.setText(
            f"<b>{label}</b> on {model.group}, mean ± sd over seeds; % = relative gain over "
            f"{model.baseline} at the same k{counted}.{warning}"
        )
