"""The Trainer's estimate line above the Start button: peak memory, disk and time of the experiment the form
describes against this machine (core/training/estimate.py), in the warning colour when it will not fit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from mto_studio.core.errors import MtoError
from mto_studio.core.training.estimate import Preflight, estimate_sweep, preflight
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.format import esc
from mto_studio.gui.theme import ERROR_RED, WARNING


class EstimateLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainer-estimate")
        self.setProperty("role", "muted")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.preflight: Preflight | None = None

    def show_for(
        self,
        cfg: ExperimentConfig | None,
        folder: Path,
        warnings: list[str] | None = None,
        example_tokens: float | None = None,
    ) -> Preflight | None:
        """Estimate ``cfg`` (None: the form is incomplete) against the memory and the disk under ``folder``;
        ``warnings`` (the domain check's) are shown with it; ``example_tokens`` (the data's mean tokens per example)
        times the steps at the data's lengths instead of the max lengths."""
        self.preflight = None
        if cfg is None:
            self.setText("")
            return None
        try:
            self.preflight = preflight(estimate_sweep(cfg, example_tokens=example_tokens), folder)
            self.preflight.warnings += warnings or []
        except (MtoError, OSError, ValueError, KeyError) as exc:
            self.setText(f"no estimate: {esc(str(exc))}")
            self.setToolTip("")
            return None
        found = self.preflight
        text = esc(found.summary())
        notes = [*found.problems, *found.warnings]
        if notes:
            colour = ERROR_RED if found.problems else WARNING
            text += "".join(f"<br><span style='color:{colour}'>{esc(note)}</span>" for note in notes)
        self.setText(text)
        parts = found.estimate.memory_parts
        self.setToolTip("peak memory: " + ", ".join(f"{k} {v / 1e6:,.0f} MB" for k, v in parts.items() if v))
        return found
