"""Dialogs: errors that name the file, the problem and the fix; unsaved-changes questions; choosing a model."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio import __version__
from mto_studio.core.data import SUPPORTED_SUFFIXES
from mto_studio.core.errors import MtoError
from mto_studio.core.models.loading import EMBEDDED_MODEL, embedded_model_dir, resolve_model_ref
from mto_studio.core.runtime import is_offline
from mto_studio.gui.format import esc as _escape
from mto_studio.gui.theme import MUTED


def show_error(parent: QWidget | None, title: str, error: BaseException, *, path: str | None = None) -> QMessageBox:
    """A window-modal warning that does not block the event loop: the file (when known), what went wrong and,
    for MtoErrors, how to fix it. Returned so callers and tests can inspect it."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    message = error.message if isinstance(error, MtoError) else str(error) or type(error).__name__
    lead = f"<b>{title}</b>"
    if path:
        lead += f"<br><code>{Path(path).name}</code>"
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(f"{lead}<br><br>{_escape(message)}")
    hint = error.hint if isinstance(error, MtoError) else ""
    details = []
    if hint:
        details.append(f"How to fix it: {hint}")
    if path:
        details.append(f"File: {path}")
    box.setInformativeText("\n\n".join(details))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def choose_data_file(parent: QWidget | None, start: str = "") -> str | None:
    """Ask for a data file (CSV, TSV, JSON/JSONL, Parquet); None when cancelled."""
    patterns = " ".join(f"*{suffix}" for suffix in SUPPORTED_SUFFIXES)
    path, _filter = QFileDialog.getOpenFileName(parent, "Open data", start, f"Data files ({patterns});;All files (*)")
    return path or None


def ask_unsaved(parent: QWidget | None, changes: list[str]) -> QMessageBox.StandardButton:
    """Save / Discard / Cancel for ``changes`` (one line each)."""
    listed = "\n".join(f"• {change}" for change in changes)
    return QMessageBox.question(
        parent,
        "Unsaved changes",
        f"There are unsaved changes:\n\n{listed}\n\nSave them before closing?",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )


class ChooseModelDialog(QDialog):
    """The embedded model, a local model folder, or a hub id (from the local cache when offline); checked before it closes."""

    def __init__(self, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose model")
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)
        intro = QLabel(
            "The model's tokenizer counts tokens in the template preview; training uses the model itself. "
            "Any T5/BART-style encoder-decoder saved with <code>save_pretrained()</code> works."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
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
        offline = is_offline()  # offline, a hub id resolves from the local Hugging Face cache (check() says so)
        hub_note = QLabel("offline: hub ids already in the local Hugging Face cache work" if offline else "")
        hub_note.setProperty("role", "muted")
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
        grid.addWidget(hub_note, 3, 1, 1, 2)
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
        self.folder_edit.textEdited.connect(lambda _t: self.folder_radio.setChecked(True))
        self.hub_edit.textEdited.connect(lambda _t: self.hub_radio.setChecked(True))
        if current in ("", EMBEDDED_MODEL):
            self.embedded_radio.setChecked(True)
        elif Path(current).expanduser().exists() or os.sep in current and current.startswith((os.sep, ".", "~")):
            self.folder_radio.setChecked(True)
            self.folder_edit.setText(current)
        else:
            self.hub_radio.setChecked(True)
            self.hub_edit.setText(current)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)
            self.folder_radio.setChecked(True)

    def reference(self) -> str:
        if self.embedded_radio.isChecked():
            return EMBEDDED_MODEL
        if self.folder_radio.isChecked():
            return self.folder_edit.text().strip()
        return self.hub_edit.text().strip()

    def check(self) -> str | None:
        """An error message for the chosen reference, or None when it can be used."""
        ref = self.reference()
        if not ref:
            return "enter a model folder or a hub id"
        if ref == EMBEDDED_MODEL:
            return None  # allowed even before it is installed: the app says so without blocking
        if self.folder_radio.isChecked() and not Path(ref).expanduser().is_dir():
            return f"model folder not found: {ref}"
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
        super().accept()


def _plain(markdown: str) -> str:
    """A README paragraph as escaped text: emphasis, code marks and link brackets dropped, lines joined."""
    import re

    text = re.sub(r"\*\*|`|(?<!\w)_(?=\w)|(?<=\w)_(?!\w)", "", " ".join(markdown.split()))
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return _escape(text)


class OpenExampleDialog(QDialog):
    """The example data sets shipped with MTO Studio: what each holds, its splits, its source and licence."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from PySide6.QtWidgets import QListWidget, QListWidgetItem

        from mto_studio.core.data.sources import list_examples

        super().__init__(parent)
        self.setWindowTitle("Open example")
        self.setMinimumSize(640, 420)
        self.examples = list_examples()
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Examples open as a project of their own (in MTO Studio's data folder), with their training "
            "and validation files set. Nothing is downloaded."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.list = QListWidget()
        self.list.setObjectName("example-list")
        self.list.setMaximumHeight(110)
        for example in self.examples:
            item = QListWidgetItem(f"{example.title}   ({example.ref})")
            item.setData(Qt.ItemDataRole.UserRole, example.name)
            self.list.addItem(item)
        layout.addWidget(self.list)
        self.description = QLabel()
        self.description.setObjectName("example-description")
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.description.setOpenExternalLinks(True)
        layout.addWidget(self.description, 1)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.list.currentRowChanged.connect(self._describe)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        if self.examples:
            self.list.setCurrentRow(0)
        else:
            self.description.setText("No examples are installed with this copy of MTO Studio.")
            self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(False)

    def _describe(self, row: int) -> None:
        if not 0 <= row < len(self.examples):
            return
        example = self.examples[row]
        splits = ", ".join(f"{split}: {path.name}" for split, path in example.files.items())
        if "test" not in example.files:
            splits += " — <i>no test file: its scores are validation scores, and are labelled so</i>"
        paragraphs, licence = [], ""
        if example.readme.is_file():
            text = example.readme.read_text(encoding="utf-8")
            blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
            paragraphs = [b for b in blocks if not b.startswith(("#", "|", ">", "    "))][:1]
            licence = next((b for b in blocks if "licen" in b.lower() and not b.startswith("#")), "")
        parts = [f"<b>{_escape(example.title)}</b>", *(_plain(p) for p in paragraphs), f"Files — {splits}"]
        if licence:
            parts.append(f"<span style='color:{MUTED}'>{_plain(licence)}</span>")
        parts.append(f"<span style='color:{MUTED}'>Details: {_escape(str(example.readme))}</span>")
        self.description.setText("<br><br>".join(parts))

    def chosen(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None


def show_about(parent: QWidget) -> None:
    """Help ▸ About."""
    QMessageBox.about(
        parent,
        "About MTO Studio",
        f"<b>MTO Studio {__version__}</b><br>Match tasks to the pre-training objectives of "
        "encoder-decoder models: Filling (sentinels) or Mapping (prefix → answer).",
    )
