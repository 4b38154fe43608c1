"""The Trainer's "Training" group: steps, learning rates ("auto": the model family's rate for the method), batch
size and gradient accumulation, evaluation, device, threads, precision, gradient checkpointing and prompt sharing. Ranges and
tooltips come from TrainConfig's fields; it reads and writes the ``train`` table of an ExperimentConfig."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from mto_studio.core.config import field_info, to_dict
from mto_studio.core.models.loading import DEVICES
from mto_studio.core.training.config import PRECISIONS, PROMPT_SHARING, PromptSettings, TrainConfig
from mto_studio.core.training.precision import available_cores
from mto_studio.gui.widgets.fields import ScientificSpinBox, config_spin

AUTO = "auto"
THREADS_TIP = "the GUI's default is the cores this process may use less one, so the window stays responsive"


def window_threads() -> int:
    """Training threads that leave one core for the window."""
    return max(1, available_cores() - 1)


def auto_rate_spin(name: str, object_name: str, tip: str) -> ScientificSpinBox:
    """A learning-rate field whose lowest value reads "auto" (the field unset: the family's rate)."""
    info = field_info(TrainConfig, name)
    low, high = float(info.low or 0.0), float(info.high or 10.0)
    spin = ScientificSpinBox(low, high, low)
    spin.setSpecialValueText(AUTO)
    spin.setObjectName(object_name)
    spin.setToolTip(f"{info.describe()}. {tip}")
    return spin


class TrainingBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Training", parent)
        form = QFormLayout(self)
        self._prompt = PromptSettings()
        self.steps_spin = config_spin(TrainConfig, "steps", "trainer-steps")
        self.lr_spin = auto_rate_spin("lr", "trainer-lr", "~1e-4 … 1e-3 for fine-tuning; auto: the family's rate")
        self.prompt_lr_spin = auto_rate_spin("prompt_lr", "trainer-prompt-lr", "large: 0.01 … 0.3; auto: 0.03")
        self.batch_spin = config_spin(TrainConfig, "batch_size", "trainer-batch")
        self.accum_spin = config_spin(TrainConfig, "grad_accum", "trainer-grad-accum")
        self.eval_spin = config_spin(
            TrainConfig, "eval_every", "trainer-eval-every",
            tip="few-shot Filling peaks early, so evaluate often and keep the best checkpoint",
        )  # fmt: skip
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("trainer-device")
        for device in DEVICES:
            self.device_combo.addItem(device, device)
        self.device_combo.setToolTip(field_info(TrainConfig, "device").describe())
        info = field_info(TrainConfig, "threads")
        self.threads_spin = QSpinBox()
        self.threads_spin.setObjectName("trainer-threads")
        self.threads_spin.setRange(int(info.low or 1), max(1, available_cores()))
        self.threads_spin.setValue(window_threads())
        self.threads_spin.setToolTip(f"{info.describe()}. {THREADS_TIP}")
        self.precision_combo = QComboBox()
        self.precision_combo.setObjectName("trainer-precision")
        for choice in PRECISIONS:
            self.precision_combo.addItem(choice, choice)
        self.precision_combo.setToolTip(field_info(TrainConfig, "precision").describe())
        self.checkpointing_check = QCheckBox("recompute activations")
        self.checkpointing_check.setObjectName("trainer-gradient-checkpointing")
        self.checkpointing_check.setToolTip(field_info(TrainConfig, "gradient_checkpointing").describe())
        self.sharing_combo = QComboBox()
        self.sharing_combo.setObjectName("trainer-prompt-sharing")
        for choice in PROMPT_SHARING:
            self.sharing_combo.addItem(choice, choice)
        self.sharing_combo.setToolTip(
            field_info(PromptSettings, "sharing").describe() + " (prompt tuning only; per-relation measured best at "
            "k = 8 on the embedded model, both at k = 32)"
        )
        form.addRow("Steps per run", self.steps_spin)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Prompt learning rate", self.prompt_lr_spin)
        form.addRow("Prompt sharing", self.sharing_combo)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Micro-batches", self.accum_spin)
        form.addRow("Evaluate every", self.eval_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Torch threads", self.threads_spin)
        form.addRow("Precision", self.precision_combo)
        form.addRow("Checkpointing", self.checkpointing_check)

    @property
    def changed_signals(self) -> list:
        return [
            self.steps_spin.valueChanged, self.lr_spin.valueChanged, self.prompt_lr_spin.valueChanged,
            self.batch_spin.valueChanged, self.accum_spin.valueChanged, self.eval_spin.valueChanged,
            self.device_combo.currentIndexChanged, self.threads_spin.valueChanged,
            self.precision_combo.currentIndexChanged, self.checkpointing_check.toggled,
            self.sharing_combo.currentIndexChanged,
        ]  # fmt: skip

    def fields(self) -> list[QWidget]:
        return [
            self.steps_spin, self.lr_spin, self.prompt_lr_spin, self.batch_spin, self.accum_spin, self.eval_spin,
            self.device_combo, self.threads_spin, self.precision_combo, self.checkpointing_check, self.sharing_combo,
        ]  # fmt: skip

    def apply(self, train: dict[str, Any]) -> None:
        """Show a ``train`` table (TrainConfig's fields; missing ones at their defaults)."""
        train = {**TrainConfig().to_dict(), **train}
        self.steps_spin.setValue(int(train["steps"]))
        for spin, name in ((self.lr_spin, "lr"), (self.prompt_lr_spin, "prompt_lr")):
            spin.setValue(float(train[name]) if train[name] is not None else spin.minimum())
        self.batch_spin.setValue(int(train["batch_size"]))
        self.accum_spin.setValue(int(train["grad_accum"]))
        self.eval_spin.setValue(int(train["eval_every"]))
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(train["device"])))
        threads = train["threads"] or window_threads()
        self.threads_spin.setValue(min(int(threads), self.threads_spin.maximum()))
        self.precision_combo.setCurrentIndex(max(0, self.precision_combo.findData(train["precision"])))
        self.checkpointing_check.setChecked(bool(train["gradient_checkpointing"]))
        self._prompt = PromptSettings(**train["prompt"]) if isinstance(train["prompt"], dict) else train["prompt"]
        self.sharing_combo.setCurrentIndex(max(0, self.sharing_combo.findData(self._prompt.sharing)))

    def values(self) -> dict[str, Any]:
        """The form's settings as a ``train`` table (an "auto" learning rate is left unset: None)."""

        def rate(spin: ScientificSpinBox) -> float | None:
            return None if spin.value() <= spin.minimum() else spin.value()

        return {
            "steps": self.steps_spin.value(),
            "lr": rate(self.lr_spin),
            "prompt_lr": rate(self.prompt_lr_spin),
            "batch_size": self.batch_spin.value(),
            "grad_accum": self.accum_spin.value(),
            "eval_every": self.eval_spin.value(),
            "device": self.device_combo.currentData(),
            "threads": self.threads_spin.value(),
            "precision": self.precision_combo.currentData(),
            "gradient_checkpointing": self.checkpointing_check.isChecked(),
            # the prompt table as loaded (reparam, init … have no rows here), with the form's sharing
            "prompt": {**to_dict(self._prompt), "sharing": self.sharing_combo.currentData(), "shared": None},
        }
