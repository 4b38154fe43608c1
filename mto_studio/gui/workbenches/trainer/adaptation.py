"""The Trainer's "Adaptation stage first" box: MTO's stage 2 before the few-shot runs (which sentences, how many
steps). It reads and writes the experiment's AdaptationSettings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QWidget

from mto_studio.core.training.experiment_config import AdaptationSettings
from mto_studio.gui.widgets.fields import config_spin


class AdaptationBox(QGroupBox):
    """A checkable group: ticked, the experiment adapts the model first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Adaptation stage first", parent)
        self.setObjectName("trainer-adaptation")
        self.setCheckable(True)
        self.setToolTip(
            "MTO stage 2: train on (input, target) pairs cut from unlabeled task-related "
            "sentences, in each relation's objective, before the few-shot runs"
        )
        form = QFormLayout(self)
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("trainer-adaptation-source")
        self.source_combo.addItem("built-in world text", "world")
        self.source_combo.addItem("a text file…", "")
        self.source_combo.setToolTip("one sentence per line")
        self.source_combo.activated.connect(lambda _i: self._on_source())
        self.steps_spin = config_spin(AdaptationSettings, "steps", "trainer-adaptation-steps")
        form.addRow("Sentences", self.source_combo)
        form.addRow("Steps", self.steps_spin)

    def apply(self, settings: AdaptationSettings) -> None:
        self.setChecked(settings.enabled)
        if settings.source == "world":
            self.source_combo.setCurrentIndex(0)
        else:
            self._set_file(settings.source)
        self.steps_spin.setValue(settings.steps)

    def settings(self, loaded: AdaptationSettings | None) -> AdaptationSettings:
        """What the box says, over ``loaded``'s other settings (learning rate, splitter …)."""
        return AdaptationSettings(
            **{
                **(loaded.__dict__ if loaded is not None else {}),
                "enabled": self.isChecked(),
                "source": self.source_combo.currentData() or "world",
                "steps": self.steps_spin.value(),
            }
        )

    def _on_source(self) -> None:
        if self.source_combo.currentData() != "":
            return
        path, _filter = QFileDialog.getOpenFileName(
            self, "Sentences for the adaptation stage", "", "Text files (*.txt);;All files (*)"
        )
        if path:
            self._set_file(path)
        else:
            self.source_combo.setCurrentIndex(0)

    def _set_file(self, path: str) -> None:
        index = self.source_combo.findData(path)
        if index < 0:
            self.source_combo.insertItem(1, Path(path).name, path)
            self.source_combo.setItemData(1, path, Qt.ItemDataRole.ToolTipRole)
            index = 1
        self.source_combo.setCurrentIndex(index)
