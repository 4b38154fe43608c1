"""Dialogs: errors that name the file, the problem and the fix; unsaved-changes questions; choosing a model (the
picker in ``gui/model_picker.py``, as ``ChooseModelDialog``); the examples."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from mto_studio import __version__
from mto_studio.core.data import SUPPORTED_SUFFIXES
from mto_studio.core.errors import MtoError
from mto_studio.gui.format import esc as _escape
from mto_studio.gui.model_picker import ModelPickerDialog as ChooseModelDialog  # noqa: F401 - opened by this name
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
