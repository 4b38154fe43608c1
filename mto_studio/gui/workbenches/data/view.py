"""The Data workbench: the rows of the project's data, its column mapping, and its heads and relations."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.data import ColumnMapping, detect_columns
from mto_studio.core.errors import DataError
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import choose_data_file
from mto_studio.gui.models.data_table import RawTableModel, RelationCountsModel
from mto_studio.gui.theme import MUTED, set_invalid
from mto_studio.gui.workbenches.data.domain import DomainNotice
from mto_studio.gui.workbenches.data.qa import QASummary, qa_rows_by_row
from mto_studio.gui.workbenches.data.splits import SplitsBox

NO_RELATION = "(none — one relation)"


class DataWorkbench(QWidget):
    """Shows whatever the context has loaded; column edits are re-applied in the background at once."""

    title = "Data"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._filling = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)

        top = QHBoxLayout()
        heading = QLabel("Data")
        heading.setProperty("role", "heading")
        self.source_label = QLabel()
        self.source_label.setObjectName("data-source")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(120)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.open_button = QPushButton("Open data…")
        self.open_button.clicked.connect(self.open_data)
        self.world_button = QPushButton("Use the built-in world")
        self.world_button.setToolTip("the synthetic world MTO Studio ships with (10 relations, 1,600 heads)")
        self.world_button.clicked.connect(lambda: self.context.load_data("world"))
        top.addWidget(heading)
        top.addSpacing(12)
        top.addWidget(self.source_label, 1)
        top.addWidget(self.progress)
        top.addWidget(self.open_button)
        top.addWidget(self.world_button)
        layout.addLayout(top)
        self.domain = DomainNotice(context)  # the model does not know the data's words (hidden when it does)
        layout.addWidget(self.domain)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("data-splitter")
        layout.addWidget(self.splitter, 1)
        self.rows_model = RawTableModel(self)
        self.rows_view = QTableView()
        self.rows_view.setObjectName("data-rows")
        self.rows_view.setModel(self.rows_model)
        self.rows_view.setAlternatingRowColors(True)
        self.rows_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rows_view.setWordWrap(False)
        self.rows_view.verticalHeader().setDefaultSectionSize(22)
        self.rows_view.horizontalHeader().setStretchLastSection(True)
        self.rows_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.splitter.addWidget(self.rows_view)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(8, 0, 0, 0)
        self.splits = SplitsBox(context)
        self.splits.train_requested.connect(self.open_data)
        side_layout.addWidget(self.splits)
        side_layout.addWidget(self._build_mapping())
        side_layout.addWidget(self._build_summary())
        relations_box = QGroupBox("Relations")
        relations_layout = QVBoxLayout(relations_box)
        self.counts_model = RelationCountsModel(self)
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(self.counts_model)
        proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.counts_view = QTableView()
        self.counts_view.setObjectName("relation-counts")
        self.counts_view.setModel(proxy)
        self.counts_view.setSortingEnabled(True)
        self.counts_view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.counts_view.verticalHeader().setVisible(False)
        self.counts_view.verticalHeader().setDefaultSectionSize(22)
        self.counts_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.counts_view.setAlternatingRowColors(True)
        relations_layout.addWidget(self.counts_view)
        side_layout.addWidget(relations_box, 1)
        side.setMinimumWidth(360)
        self.splitter.addWidget(side)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([900, 420])
        # The Splits box's labels and buttons, as scripts and tests reach them through the workbench.
        self.split_labels, self.split_counts = self.splits.split_labels, self.splits.split_counts
        self.split_choose, self.split_clear = self.splits.split_choose, self.splits.split_clear
        self.split_note = self.splits.split_note

        context.data_loading.connect(self._on_loading)
        context.data_changed.connect(self.refresh)
        context.data_failed.connect(lambda _e, _p: self._set_busy(False))
        context.mapping_failed.connect(self._on_mapping_failed)
        context.library_changed.connect(self._refresh_counts)
        self.refresh()
        if context.data_loading_path:
            self._on_loading(context.data_loading_path)

    # --- building ------------------------------------------------------------------------------------------
    def _build_mapping(self) -> QGroupBox:
        box = QGroupBox("Column mapping")
        form = QFormLayout(box)
        self.input_combo = QComboBox()
        self.input_combo.setObjectName("column-input")
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("column-target")
        self.relation_combo = QComboBox()
        self.relation_combo.setObjectName("column-relation")
        for combo in (self.input_combo, self.target_combo, self.relation_combo):
            combo.currentIndexChanged.connect(self._mapping_edited)
            combo.setMinimumContentsLength(16)
        form.addRow("Input (head)", self.input_combo)
        form.addRow("Target (answer)", self.target_combo)
        form.addRow("Relation", self.relation_combo)
        self.detected_label = QLabel()
        self.detected_label.setObjectName("detected-preset")
        self.detected_label.setWordWrap(True)
        self.detected_label.setProperty("role", "muted")
        self.reset_button = QPushButton("Use the detected columns")
        self.reset_button.clicked.connect(self.reset_mapping)
        self.mapping_error = QLabel()
        self.mapping_error.setObjectName("mapping-error")
        self.mapping_error.setProperty("role", "error")
        self.mapping_error.setWordWrap(True)
        form.addRow(self.detected_label)
        form.addRow(self.reset_button)
        form.addRow(self.mapping_error)
        return box

    def _build_summary(self) -> QGroupBox:
        box = QGroupBox("Heads and rows")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(2)
        self.summary_values: dict[str, QLabel] = {}
        items = (
            ("rows", "rows used"),
            ("heads", "heads (distinct relation + input)"),
            ("relations", "relations"),
            ("file_rows", "rows in the file"),
            ("dropped_none", "dropped: target empty or 'none'"),
            ("dropped_empty", "dropped: input empty"),
        )
        for i, (key, caption) in enumerate(items):
            value = QLabel("—")
            value.setObjectName(f"summary-{key}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setStyleSheet("font-weight:600;")
            value.setMinimumWidth(64)
            label = QLabel(caption)
            label.setProperty("role", "muted")
            grid.addWidget(value, i, 0)
            grid.addWidget(label, i, 1)
            self.summary_values[key] = value
        self.qa_summary = QASummary()  # questions, choices and answer format of QA data (hidden otherwise)
        grid.addWidget(self.qa_summary, len(items), 0, 1, 2)
        return box

    # --- showing -------------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.open_button.setEnabled(not busy)
        self.world_button.setEnabled(not busy)

    def _on_loading(self, path: str) -> None:
        self._set_busy(True)
        self.source_label.setText(f"reading {Path(path).name}…")

    def refresh(self) -> None:
        self._set_busy(bool(self.context.data_loading_path))
        data = self.context.data
        if data is None:
            self.source_label.setText("no data loaded")
            self.rows_model.set_table(None, None)
            self._fill_combos([], None)
            self._refresh_counts()
            self.splits.refresh()
            return
        mapping = data.task.mapping if data.task is not None else None
        self.rows_model.set_table(data.raw, mapping, qa_rows_by_row(data.task) if data.task is not None else None)
        self.rows_view.resizeColumnsToContents()
        for column, name in enumerate(self.rows_model.columns):
            widest = 600 if name == RawTableModel.QA_COLUMN else 420  # a question's choices, the answer marked
            self.rows_view.setColumnWidth(column, min(self.rows_view.columnWidth(column) + 16, widest))
        self.source_label.setText(
            f"<b>{data.display_name}</b> · {data.raw.format.upper()} · "
            f"{len(data.raw):,} rows · {len(data.raw.columns)} columns"
            f"<br><span style='color:{MUTED}'>{data.path}</span>"
        )
        self._fill_combos(data.raw.columns, mapping)
        if data.task is not None and data.task.kind == "qa":
            self.detected_label.setText(
                f"Auto-detected <b>multiple-choice QA</b> columns (choices: <b>{mapping.choices if mapping else ''}"
                "</b>): the input is the question, the target the answer."
            )
        elif data.detected:
            detected = detect_columns(data.raw.columns).mapping
            edited = mapping is not None and mapping != detected
            self.detected_label.setText(
                f"Auto-detected the <b>{data.detected}</b> column set" + (" — <i>edited</i>" if edited else "") + "."
            )
        else:
            self.detected_label.setText("No known column set in this file's header: choose the columns.")
        self.reset_button.setEnabled(
            bool(data.detected)
            and (data.task is None or data.task.kind != "qa")
            and mapping != (detect_columns(data.raw.columns).mapping if data.detected else None)
        )
        if data.task is not None:
            self.mapping_error.setText("")
        self._refresh_counts()
        self.splits.refresh()

    def _refresh_counts(self) -> None:
        data = self.context.data
        task = data.task if data is not None else None
        self.counts_model.set_data(task, self.context.library)
        self.qa_summary.set_task(task)
        values = {key: "—" for key in self.summary_values}
        if data is not None and task is not None:
            values.update(
                rows=f"{len(task.examples):,}",
                heads=f"{len(task.heads):,}",
                relations=str(len(task.relations)),
                file_rows=f"{len(data.raw):,}",
                dropped_none=f"{task.dropped_none:,}",
                dropped_empty=f"{task.dropped_empty_input:,}",
            )
        elif data is not None:
            values.update(file_rows=f"{len(data.raw):,}")
        for key, label in self.summary_values.items():
            label.setText(values[key])

    def _fill_combos(self, columns: list[str], mapping: ColumnMapping | None) -> None:
        self._filling = True
        for combo, chosen, optional in (
            (self.input_combo, mapping.input if mapping else None, False),
            (self.target_combo, mapping.target if mapping else None, False),
            (self.relation_combo, mapping.relation if mapping else None, True),
        ):
            combo.clear()
            if optional:
                combo.addItem(NO_RELATION, None)
            for column in columns:
                combo.addItem(column, column)
            index = combo.findData(chosen) if chosen is not None else (0 if optional else -1)
            combo.setCurrentIndex(index)
            set_invalid(combo, False)
        self._filling = False

    def _on_mapping_failed(self, error) -> None:
        self._set_busy(False)
        self.mapping_error.setText(f"{error.message}\nFix: {error.hint}" if error is not None else "")

    # --- editing the mapping -----------------------------------------------------------------------------------
    def current_mapping(self) -> ColumnMapping | None:
        input_column, target_column = self.input_combo.currentData(), self.target_combo.currentData()
        if input_column is None or target_column is None:
            return None
        data = self.context.data
        task = data.task if data is not None else None
        choices = task.mapping.choices if task is not None and task.kind == "qa" else None  # QA data stays QA
        return ColumnMapping(
            input=input_column, target=target_column, relation=self.relation_combo.currentData(), choices=choices
        )

    def _mapping_edited(self) -> None:
        if self._filling or self.context.data is None:
            return
        mapping = self.current_mapping()
        set_invalid(self.input_combo, self.input_combo.currentData() is None)
        set_invalid(self.target_combo, self.target_combo.currentData() is None)
        if mapping is None:
            self.mapping_error.setText("choose the input and the target columns")
            return
        used = [mapping.input, mapping.target] + ([mapping.relation] if mapping.relation else [])
        if len(set(used)) < len(used):
            self.mapping_error.setText("each role needs its own column: pick different columns")
            set_invalid(self.target_combo, True)
            return
        self.mapping_error.setText("")
        self._set_busy(True)
        self.context.apply_mapping(mapping)

    def set_mapping(self, mapping: ColumnMapping) -> None:
        """Choose columns as the user would in the three combo boxes (one re-application)."""
        self._filling = True
        self.input_combo.setCurrentIndex(self.input_combo.findData(mapping.input))
        self.target_combo.setCurrentIndex(self.target_combo.findData(mapping.target))
        self.relation_combo.setCurrentIndex(self.relation_combo.findData(mapping.relation) if mapping.relation else 0)
        self._filling = False
        self._mapping_edited()

    def reset_mapping(self) -> None:
        data = self.context.data
        if data is None:
            return
        try:
            self.set_mapping(detect_columns(data.raw.columns).mapping)
        except DataError as exc:
            self.mapping_error.setText(exc.one_line())

    def open_data(self) -> None:
        path = choose_data_file(self)
        if path:
            self.context.load_data(path)

    # --- workbench protocol -------------------------------------------------------------------------------------
    def save_state(self, settings) -> None:
        settings.setValue("data/splitter", self.splitter.saveState())

    def restore_state(self, settings) -> None:
        state = settings.value("data/splitter")
        if state is not None:
            self.splitter.restoreState(state)
