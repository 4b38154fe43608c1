"""The model picker: the embedded model, the encoder-decoders in the local Hugging Face cache and recent model
folders, each with its family, parameter count, size on disk and what it was pre-trained on; or a typed folder or
hub id. Listing reads config.json files and safetensors headers only (no weights)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import MtoError
from mto_studio.core.models.cache import cached_models, hub_cache_dir
from mto_studio.core.models.family import family_of_folder
from mto_studio.core.models.loading import EMBEDDED_MODEL, embedded_model_dir, resolve_model_ref
from mto_studio.core.models.params import folder_size, parameter_count
from mto_studio.core.runtime import is_offline
from mto_studio.gui.settings import app_settings, recent_models, remember_model

EMBEDDED, CACHED, RECENT = "embedded", "HF cache", "recent folder"
COLUMNS = ("Model", "Where", "Family", "Parameters", "Size", "Pre-trained on")


@dataclass(frozen=True)
class ModelRow:
    """One model the picker lists: ``ref`` is what the project stores when it is chosen."""

    ref: str
    where: str  #: EMBEDDED, CACHED or RECENT
    folder: Path
    family: str  #: the family's label
    pretrained_on: str
    parameters: int | None
    size_bytes: int


def _row(ref: str, where: str, folder: Path, size: int | None = None) -> ModelRow:
    family = family_of_folder(folder)  # a cached snapshot's path names its repo (models--google--flan-t5-…)
    return ModelRow(
        ref,
        where,
        folder,
        family.label,
        family.pretrained_on,
        parameter_count(folder),
        folder_size(folder) if size is None else size,
    )


def list_models(recent: list[str]) -> list[ModelRow]:
    """The embedded model (when installed), the cached encoder-decoders, then the recent folders still there."""
    rows = []
    embedded = embedded_model_dir()
    if (embedded / "config.json").is_file():
        rows.append(_row(EMBEDDED_MODEL, EMBEDDED, embedded))
    rows += [_row(m.repo_id, CACHED, m.folder, m.size_bytes) for m in cached_models()]
    listed = {str(row.folder) for row in rows}
    for folder in recent:
        if folder not in listed and (Path(folder) / "config.json").is_file():
            rows.append(_row(folder, RECENT, Path(folder)))
            listed.add(folder)
    return rows


def format_parameters(count: int | None) -> str:
    if count is None:
        return "?"
    for limit, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if count >= limit:
            value = count / limit
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return str(count)


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


class ModelPickerDialog(QDialog):
    """Pick a listed model, or type a model folder (Browse…) or a hub id; checked before it closes."""

    def __init__(self, current: str, parent: QWidget | None = None, *, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or getattr(parent, "settings", None) or app_settings()
        self.setWindowTitle("Choose model")
        self.setMinimumSize(980, 520)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "The model's tokenizer counts tokens in the template preview; training uses the model itself. "
            "Any T5/BART-style encoder-decoder saved with <code>save_pretrained()</code> works."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("model-table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.table, 1)
        self.cache_note = QLabel()
        self.cache_note.setObjectName("model-cache-note")
        self.cache_note.setProperty("role", "muted")
        self.cache_note.setWordWrap(True)
        layout.addWidget(self.cache_note)

        grid = QGridLayout()
        self.group = QButtonGroup(self)
        self.embedded_radio = QRadioButton(f"Embedded model ({EMBEDDED_MODEL})")
        installed = (embedded_model_dir() / "config.json").is_file()
        self.embedded_state = QLabel("installed" if installed else "not installed yet — choose a folder for now")
        self.embedded_state.setProperty("role", "muted" if installed else "error")
        self.folder_radio = QRadioButton("Model folder")
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("model-folder")
        self.folder_edit.setPlaceholderText("a folder holding config.json and the tokenizer files")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.hub_radio = QRadioButton("Hub id")
        self.hub_edit = QLineEdit()
        self.hub_edit.setObjectName("model-hub-id")
        self.hub_edit.setPlaceholderText("e.g. google/flan-t5-small")
        for button in (self.embedded_radio, self.folder_radio, self.hub_radio):
            self.group.addButton(button)
        grid.addWidget(self.embedded_radio, 0, 0)
        grid.addWidget(self.embedded_state, 0, 1, 1, 2)
        grid.addWidget(self.folder_radio, 1, 0)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        grid.addLayout(folder_row, 1, 1, 1, 2)
        grid.addWidget(self.hub_radio, 2, 0)
        grid.addWidget(self.hub_edit, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self.error_label = QLabel()
        self.error_label.setObjectName("model-error")
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.folder_edit.textEdited.connect(lambda _t: self._typed(self.folder_radio))
        self.hub_edit.textEdited.connect(lambda _t: self._typed(self.hub_radio))
        self.embedded_radio.clicked.connect(lambda: self._select_ref(EMBEDDED_MODEL))
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.itemDoubleClicked.connect(lambda _item: self.accept())
        self._set_current(current)
        self.rows: list[ModelRow] = []
        self.refresh()

    # --- the list ----------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """List the models again (the cache and the recent folders are read at each call)."""
        self.rows = list_models(recent_models(self.settings))
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        for number, row in enumerate(self.rows):
            shown = Path(row.ref).name if row.where == RECENT else row.ref
            cells = (shown, row.where, row.family, format_parameters(row.parameters),
                     format_bytes(row.size_bytes), row.pretrained_on)  # fmt: skip
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{row.ref}\n{row.folder}" if column == 0 else text)
                if column in (3, 4):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(number, column, item)
        self.table.blockSignals(False)
        cached = sum(1 for row in self.rows if row.where == CACHED)
        offline = " MTO Studio is offline: hub ids work when they are in this cache." if is_offline() else ""
        self.cache_note.setText(
            f"{cached} encoder-decoder model{'s' if cached != 1 else ''} in the local Hugging Face cache "
            f"({hub_cache_dir()}).{offline}"
        )
        self._select_ref(self.reference(), fill=False)

    def row_of(self, ref: str) -> int:
        return next((number for number, row in enumerate(self.rows) if row.ref == ref), -1)

    def _select_ref(self, ref: str, *, fill: bool = True) -> None:
        number = self.row_of(ref)
        self.table.blockSignals(True)
        if number >= 0:
            self.table.selectRow(number)
        else:
            self.table.clearSelection()
        self.table.blockSignals(False)
        if fill and number >= 0:
            self._row_selected()

    def _row_selected(self) -> None:
        selected = self.table.selectionModel().selectedRows()
        if not selected:
            return
        row = self.rows[selected[0].row()]
        self.error_label.clear()
        self._set_current(row.ref, where=row.where)

    def _set_current(self, current: str, *, where: str | None = None) -> None:
        if current in ("", EMBEDDED_MODEL) or where == EMBEDDED:
            self.embedded_radio.setChecked(True)
        elif where == RECENT or (where is None and _looks_local(current)):
            self.folder_radio.setChecked(True)
            self.folder_edit.setText(current)
        else:
            self.hub_radio.setChecked(True)
            self.hub_edit.setText(current)

    def _typed(self, radio: QRadioButton) -> None:
        radio.setChecked(True)
        self._select_ref(self.reference(), fill=False)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self._typed(self.folder_radio)

    # --- the choice ----------------------------------------------------------------------------------------------
    def reference(self) -> str:
        """What the project stores: mto-tiny, a hub id, or a model folder made absolute."""
        if self.embedded_radio.isChecked():
            return EMBEDDED_MODEL
        if self.folder_radio.isChecked():
            text = self.folder_edit.text().strip()
            return os.path.abspath(os.path.expanduser(text)) if text else ""
        return self.hub_edit.text().strip()

    def check(self) -> str | None:
        """An error message for the chosen reference, or None when it can be used."""
        ref = self.reference()
        if not ref:
            return "enter a model folder or a hub id"
        if ref == EMBEDDED_MODEL:
            return None  # allowed even before it is installed: the app says so without blocking
        if self.folder_radio.isChecked() and not Path(ref).is_dir():
            return f"model folder not found: {self.folder_edit.text().strip()}"
        try:
            resolve_model_ref(ref)
        except MtoError as exc:
            return exc.one_line()
        return None

    def accept(self) -> None:
        error = self.check()
        if error:
            self.error_label.setText(error)
            return
        if self.folder_radio.isChecked():
            remember_model(self.settings, self.reference())
        super().accept()


def _looks_local(ref: str) -> bool:
    return Path(ref).expanduser().exists() or os.sep in ref and ref.startswith((os.sep, ".", "~"))
