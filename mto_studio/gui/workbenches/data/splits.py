"""The Splits box of the Data workbench: where train, validation and test come from, their rows and heads, and
Choose…, Clear and Restore for each."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from mto_studio.core.errors import DataError, MtoError
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import choose_data_file
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.theme import ERROR_RED, MUTED, WARNING

#: what Clear does to a split without a file of its own to restore
CLEAR_TIPS = {
    "validation": "hold validation heads out of the training data instead",
    "test": "no test file: scores become validation scores (labelled so)",
}


class SplitsBox(QGroupBox):
    """Train, validation and test: where each comes from, its rows and heads, and a picker. Train's Choose… asks
    for the data itself (``train_requested``); the others set or clear the project's split."""

    train_requested = Signal()

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__("Splits", parent)
        self.context = context
        self.setObjectName("data-splits")
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(4)
        self.split_labels: dict[str, QLabel] = {}
        self.split_counts: dict[str, QLabel] = {}
        self.split_choose: dict[str, QPushButton] = {}
        self.split_clear: dict[str, QPushButton] = {}
        tips = {
            "train": "the model learns from these rows (k-shot runs sample heads from them)",
            "validation": "the best checkpoint is chosen on these heads; without a file, heads are held out of "
            "the training data",
            "test": "scored once at the end, never used for training or choosing the checkpoint; without it "
            "the reported scores are validation scores",
        }
        for row, split in enumerate(("train", "validation", "test")):
            name = QLabel(split.capitalize())
            name.setStyleSheet("font-weight:600;")
            name.setToolTip(tips[split])
            source = QLabel("—")
            source.setObjectName(f"split-{split}")
            source.setWordWrap(True)
            source.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            counts = QLabel("—")
            counts.setObjectName(f"split-{split}-counts")
            counts.setProperty("role", "muted")
            counts.setWordWrap(True)
            choose = QPushButton("Choose…")
            choose.setObjectName(f"split-{split}-choose")
            choose.setToolTip(f"pick the {split} file")
            where = QVBoxLayout()
            where.setSpacing(0)
            where.addWidget(source)
            where.addWidget(counts)
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addLayout(where, row, 1)
            grid.addWidget(choose, row, 2, Qt.AlignmentFlag.AlignTop)
            if split == "train":
                choose.clicked.connect(self.train_requested)
            else:
                choose.clicked.connect(lambda _=False, s=split: self.choose_split(s))
                clear = QPushButton("Clear")
                clear.setObjectName(f"split-{split}-clear")
                clear.setToolTip(CLEAR_TIPS[split])
                clear.clicked.connect(lambda _=False, s=split: self.clear_split(s))
                grid.addWidget(clear, row, 3, Qt.AlignmentFlag.AlignTop)
                self.split_clear[split] = clear
            self.split_labels[split] = source
            self.split_counts[split] = counts
            self.split_choose[split] = choose
        self.split_note = QLabel()
        self.split_note.setObjectName("split-note")
        self.split_note.setWordWrap(True)
        grid.addWidget(self.split_note, 3, 0, 1, 4)
        context.splits_changed.connect(self.refresh)
        context.project_changed.connect(self.refresh)
        context.split_failed.connect(self._on_split_failed)

    def clear_split(self, split: str) -> None:
        """Clear: no file for ``split``; on a data set's own split that was cleared, Restore brings it back."""
        from mto_studio.core.data.sources import NO_SPLIT

        if getattr(self.context.project, f"{split}_data") == NO_SPLIT:
            self.context.restore_split(split)
        else:
            self.context.set_split(split, None)

    def refresh(self) -> None:
        """Show each split's source and counts as the project and the context's data have them now."""
        from mto_studio.core.data.sources import NO_SPLIT, default_ref, describe
        from mto_studio.core.training.config import TrainConfig
        from mto_studio.core.training.data import hold_out_validation

        project = self.context.project
        data = self.context.data
        task = data.task if data is not None else None
        self.split_labels["train"].setText(_esc(Path(data.path).name) if data is not None else "—")
        self.split_labels["train"].setToolTip(data.path if data is not None else "")
        held = None
        test_ref: str | None = None
        for split in ("validation", "test"):
            info = self.context.splits.get(split)
            label, counts = self.split_labels[split], self.split_counts[split]
            try:
                ref = project.split_ref(split)
                own = default_ref(project.data, split)
            except MtoError as exc:
                label.setText(f"<span style='color:{ERROR_RED}'>{_esc(exc.one_line())}</span>")
                counts.setText("")
                continue
            if split == "test":
                test_ref = ref
            setting = getattr(project, f"{split}_data")
            clear = self.split_clear[split]
            restorable = setting == NO_SPLIT and own is not None
            clear.setText("Restore" if restorable else "Clear")
            clear.setEnabled(restorable or ref is not None)
            clear.setToolTip(f"use the data set's own {split} file again" if restorable else CLEAR_TIPS[split])
            if info is not None and info.error is not None:
                label.setText(f"<span style='color:{ERROR_RED}'>{_esc(info.error.one_line())}</span>")
                counts.setText("")
                continue
            if ref is None:
                if split == "validation":
                    per_relation = TrainConfig().validation_heads
                    text = f"held out of train: {per_relation} heads per relation"
                    if task is not None:
                        try:
                            _, held = hold_out_validation(task.heads, per_relation)
                        except DataError:
                            held = None
                    counts.setText(f"{len(held)} heads" if held is not None else "")
                    label.setText(text)
                else:
                    label.setText("<b>none</b>")
                    counts.setText("")
                label.setToolTip("")
                continue
            name = describe(ref, split) if info is None or not info.path else Path(info.path).name
            label.setText(_esc(name))
            label.setToolTip(info.path if info is not None and info.path else ref)
            counts.setText(
                f"{info.rows:,} rows · {info.heads:,} heads" if info is not None and info.path else "reading…"
            )
        if task is not None:
            builtin = f" · {project.data}" if project.data.startswith("example:") else ""
            self.split_counts["train"].setText(f"{len(task.examples):,} rows · {len(task.heads):,} heads{builtin}")
        else:
            self.split_counts["train"].setText("")
        if test_ref is None:
            metric = "accuracy" if task is not None and task.kind == "qa" else "ROUGE-L"  # QA runs report accuracy
            self.split_note.setText(
                f"<span style='color:{WARNING}'><b>No test file.</b> Scores will be validation scores of the "
                f"checkpoint those same heads chose, labelled <i>Validation {metric} (best checkpoint)</i>: "
                "optimistic. Choose a test file for an unbiased number.</span>"
            )
        else:
            self.split_note.setText(
                f"<span style='color:{MUTED}'>Scores are measured on the test split only; "
                "validation chooses the checkpoint.</span>"
            )

    def choose_split(self, split: str) -> None:
        path = choose_data_file(self)
        if path:
            self.context.set_split(split, path)

    def _on_split_failed(self, split: str, error, path: str) -> None:
        from mto_studio.gui.dialogs import show_error

        show_error(self, f"Cannot use this {split} file", error, path=path)
        self.refresh()
