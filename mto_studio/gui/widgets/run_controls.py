"""The run controls pinned under a workbench's settings: Start · Pause · Resume · Stop, a progress bar and a status
line. One widget for the Trainer, the Objective Lab and the Analyzer, so a job's buttons behave and sit the same
everywhere, and nothing moves when the state changes (the status keeps room for its longest text)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from mto_studio.gui.jobs import JobState


class RunControls(QWidget):
    """Buttons, progress and status. ``prefix`` names them for tests and styles (``trainer-start`` …);
    ``pausable=False`` leaves out Pause and Resume (the Analyzer cancels, it does not pause)."""

    def __init__(
        self,
        prefix: str,
        *,
        start_text: str = "Start",
        stop_text: str = "Stop",
        pausable: bool = True,
        status_lines: int = 3,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        row = QHBoxLayout()
        self.start_button = self._button(row, prefix, "start", start_text)
        self.start_button.setDefault(True)
        self.pause_button = self._button(row, prefix, "pause", "Pause") if pausable else None
        self.resume_button = self._button(row, prefix, "resume", "Resume") if pausable else None
        self.stop_button = self._button(row, prefix, "stop", stop_text)
        layout.addLayout(row)
        self.extra = QVBoxLayout()  # a workbench's own buttons under the row (the Lab's "Use as the model")
        self.extra.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.extra)
        self.progress = QProgressBar()
        self.progress.setObjectName(f"{prefix}-progress")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status_label = QLabel()
        self.status_label.setObjectName(f"{prefix}-status")
        self.status_label.setWordWrap(True)
        self.status_label.setProperty("role", "muted")
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # a fixed height: a status that grows or shrinks would move the buttons under the user's pointer
        self.status_label.setFixedHeight(self.status_label.fontMetrics().lineSpacing() * status_lines + 4)
        layout.addWidget(self.status_label)
        self.state = JobState.IDLE

    def pause_buttons(self) -> tuple[QPushButton, QPushButton]:
        """Pause and Resume (controls made with ``pausable=False`` have neither)."""
        if self.pause_button is None or self.resume_button is None:
            raise ValueError("these run controls cannot pause")
        return self.pause_button, self.resume_button

    @staticmethod
    def _button(row: QHBoxLayout, prefix: str, key: str, text: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(f"{prefix}-{key}")
        row.addWidget(button)
        return button

    def set_state(self, state: JobState | str, *, can_resume: bool = False, resume_tip: str = "") -> None:
        """Enable the buttons that make sense in ``state``; ``can_resume``: an earlier job can be continued."""
        state = JobState(state)
        self.state = state
        idle = state is JobState.IDLE
        self.start_button.setEnabled(idle)
        self.stop_button.setEnabled(state in (JobState.RUNNING, JobState.PAUSING, JobState.PAUSED))
        if self.pause_button is not None and self.resume_button is not None:
            self.pause_button.setEnabled(state is JobState.RUNNING)
            self.resume_button.setEnabled(state in (JobState.PAUSED, JobState.PAUSING) or (idle and can_resume))
            self.resume_button.setToolTip(resume_tip or "continue the paused run")
