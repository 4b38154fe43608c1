"""The Objective Lab workbench: pick a pre-training recipe, adjust the objective mix, the model size and the
training settings, pre-train a small T5 on the built-in world in the background, and watch the total and
per-objective losses and the zero-shot knowledge checks stream in; stop, resume, and use the result as the
project's model. The settings column is settings.py; a JobController runs the job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QTableView, QVBoxLayout, QWidget

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    Paused,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    WorkerLost,
)
from mto_studio.core.pretraining.objective_lab import PRETRAIN_LOG, PretrainConfig
from mto_studio.core.store.run_folder import RunLog
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.format import format_duration
from mto_studio.gui.jobs import JobController, JobState, pretrain_job
from mto_studio.gui.models.samples import SamplesModel
from mto_studio.gui.plots.line_chart import LineChart
from mto_studio.gui.theme import ERROR_RED, LAB_KNOWLEDGE_COLOURS, LAB_LOSS_COLOURS, MUTED
from mto_studio.gui.widgets.fields import settings_beside
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workbenches.lab.settings import LabSettings
from mto_studio.gui.workers import Worker

MODELS_DIR = "models"
LOSS_LINES = {
    "total": (LAB_LOSS_COLOURS["total"], 2.4),
    "span": (LAB_LOSS_COLOURS["span"], 1.6),
    "salient": (LAB_LOSS_COLOURS["salient"], 1.6),
    "supervised": (LAB_LOSS_COLOURS["supervised"], 1.6),
}
#: Zero-shot knowledge checks (EvalDone metrics) and how they are drawn.
KNOWLEDGE_LINES = {
    "fill_heldout_em": ("fill, held-out wording", LAB_KNOWLEDGE_COLOURS["fill_heldout_em"], Qt.PenStyle.SolidLine),
    "fill_seen_em": ("fill, seen wording", LAB_KNOWLEDGE_COLOURS["fill_seen_em"], Qt.PenStyle.DashLine),
    "qa_seen_em": ("QA, trained formats", LAB_KNOWLEDGE_COLOURS["qa_seen_em"], Qt.PenStyle.SolidLine),
    "qa_heldout_em": ("QA, held-out formats", LAB_KNOWLEDGE_COLOURS["qa_heldout_em"], Qt.PenStyle.DashLine),
}
STATUS_TICK_MS = 250


class ObjectiveLabWorkbench(QWidget):
    """Recipe and settings on the left; the streaming losses, knowledge checks and sample answers on the right."""

    title = "Objective Lab"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.job = JobController(context, "pretrain", tick_ms=STATUS_TICK_MS, parent=self)
        self.out_dir: Path | None = None
        self.finished_dir: Path | None = None
        self.resumable: Path | None = None
        self.last_status = ""
        self.lost_reason = ""
        self.knowledge: dict[str, float] = {}
        self._step = 0
        self._total = 0
        self._dirty = False
        self._build()
        self.job.state_changed.connect(lambda _state: self._show_state())
        self.job.emitted.connect(self._on_event)
        self.job.failed.connect(lambda exc: show_error(self, "Pre-training failed", exc))
        self.job.ended.connect(self._on_ended)
        self.job.tick.connect(self._on_tick)
        self._show_state()

    # --- layout ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.settings = LabSettings()
        self.controls = RunControls("lab", start_text="Pre-train")
        self.start_button, self.stop_button = self.controls.start_button, self.controls.stop_button
        self.pause_button, self.resume_button = self.controls.pause_buttons()
        self.progress, self.status_label = self.controls.progress, self.controls.status_label
        self.start_button.setDefault(False)
        self.start_button.setToolTip("pre-train in the background into the project's models folder")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.stop_button.setToolTip("stop after the current step with a checkpoint; Resume continues from it")
        self.stop_button.clicked.connect(self.stop)
        self.use_button = QPushButton("Use as the project's model")
        self.use_button.setObjectName("lab-use")
        self.use_button.setToolTip("point the project at the pre-trained model (File ▸ Save keeps it)")
        self.use_button.clicked.connect(self.use_model)
        self.controls.extra.addWidget(self.use_button)
        self.splitter = settings_beside(self, "lab", self.settings, self.controls, self._build_monitor())

    def _build_monitor(self) -> QWidget:
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.setContentsMargins(8, 0, 0, 0)
        header = QHBoxLayout()
        heading = QLabel("Pre-training")
        heading.setProperty("role", "heading")
        header.addWidget(heading)
        caption = QLabel(
            "loss per objective (each batch mixes them by weight) · zero-shot exact match on facts: "
            "fill-in sentences (Filling) and questions (Mapping)"
        )
        caption.setProperty("role", "muted")
        header.addWidget(caption, 1)
        layout.addLayout(header)
        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("lab-vsplitter")
        self.chart = LineChart(
            [("loss", "Loss", "cross-entropy per token"), ("knowledge", "Zero-shot knowledge", "exact match")],
            legend_offset=(-6, 6),
        )
        self.chart.setObjectName("lab-chart")
        self.chart.plots["knowledge"].getViewBox().setLimits(yMin=-0.02, yMax=1.02)
        self.chart.plots["knowledge"].setXLink(self.chart.plots["loss"])  # one step axis for both
        self.chart.legends["loss"].anchor((1, 0), (1, 0), offset=(-6, 6))
        self.chart.legends["knowledge"].anchor((0, 0), (0, 0), offset=(6, 6))
        self._lines()
        self.vsplitter.addWidget(self.chart)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 4, 0, 0)
        self.knowledge_label = QLabel()
        self.knowledge_label.setObjectName("lab-knowledge")
        self.knowledge_label.setWordWrap(True)
        self.knowledge_label.setTextFormat(Qt.TextFormat.RichText)
        bottom_layout.addWidget(self.knowledge_label)
        self.samples_model = SamplesModel(self)
        self.samples_table = QTableView()
        self.samples_table.setObjectName("lab-samples")
        self.samples_table.setModel(self.samples_model)
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.setWordWrap(False)
        for column, width in enumerate((110, 420, 190, 260, 70)):
            self.samples_table.setColumnWidth(column, width)
        bottom_layout.addWidget(self.samples_table, 1)
        self.vsplitter.addWidget(bottom)
        self.vsplitter.setStretchFactor(0, 3)
        self.vsplitter.setStretchFactor(1, 2)
        self.vsplitter.setSizes([560, 340])
        layout.addWidget(self.vsplitter, 1)
        self._show_knowledge()
        return right

    def _lines(self) -> None:
        for name, (colour, width) in LOSS_LINES.items():
            self.chart.add_line("loss", name, colour, width=width)
        for label, colour, style in KNOWLEDGE_LINES.values():
            self.chart.add_line("knowledge", label, colour, width=2.0, style=style, symbol="o")

    # --- running -----------------------------------------------------------------------------------------------
    @property
    def worker(self) -> Worker | None:
        return self.job.worker

    @property
    def state(self) -> JobState:
        return self.job.state

    def start(self) -> Worker | None:
        if self.job.busy:
            return None
        try:
            cfg = self.settings.current_config()
        except MtoError as exc:
            show_error(self, "Cannot start pre-training", exc)
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = self.context.project.folder / MODELS_DIR / f"{cfg.name}-{stamp}"
        return self._launch(cfg, out, resume=False)

    def resume(self, folder: str | Path | None = None) -> Worker | None:
        if self.job.busy:
            self.job.resume()
            return None
        out = Path(folder) if folder is not None else self.resumable
        if out is None or not (out / "recipe.toml").is_file():
            show_error(self, "Nothing to resume", MtoError("no stopped pre-training was found", "start a new one"))
            return None
        try:
            cfg = PretrainConfig.load(out / "recipe.toml")
        except MtoError as exc:
            show_error(self, "Cannot resume", exc, path=str(out / "recipe.toml"))
            return None
        return self._launch(cfg, out, resume=True)

    def pause(self) -> None:
        self.job.pause()

    def stop(self) -> None:
        if self.job.stop():
            self.status_label.setText("stopping after the current step (with a checkpoint)…")

    def _launch(self, cfg: PretrainConfig, out: Path, *, resume: bool) -> Worker:
        self.out_dir = out
        self.finished_dir = None
        self.last_status = ""
        self._step, self._total = 0, cfg.training.steps
        if not resume:
            self.knowledge = {}
            self.chart.reset()
            self._lines()
            self.samples_model.set_samples([])
            self._show_knowledge()
        worker = self.job.start(lambda: pretrain_job(cfg, out, resume=resume), claims=[out])
        self.progress.setRange(0, 0)
        self.status_label.setText(
            ("resuming " if resume else "building the world and the tokenizer for ") + f"{_esc(out.name)}…"
        )
        return worker

    def _on_event(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            self._total = event.total_steps
            self._step = event.resumed_from
            if event.resumed_from:
                self._load_log(event.resumed_from)
            params = event.config.get("parameters")
            self.status_label.setText(
                f"{params / 1e6:.2f} M parameters on {event.config.get('device', '?')}, "
                f"{event.config.get('sentences', 0):,} sentences and "
                f"{event.config.get('pairs', 0):,} question pairs"
                if params
                else "training…"
            )
        elif isinstance(event, StepLogged):
            self.job.clock.add_steps(event.step - self._step)
            self._step = event.step
            self._add_step(event.step, event.examples_seen, event.loss, event.losses)
            self._dirty = True
        elif isinstance(event, EvalDone):
            self._add_eval(event.step, event.examples_seen, event.metrics)
            if event.samples:
                self.samples_model.set_samples(event.samples)
        elif isinstance(event, Paused):
            self.status_label.setText(f"paused at step {event.step}")
        elif isinstance(event, CheckpointSaved) and event.reason == "final":
            self.finished_dir = Path(event.path)
        elif isinstance(event, RunFinished):
            self.last_status = event.status
            if event.status == "stopped":
                self.resumable = self.out_dir
        elif isinstance(event, RunFailed):
            self.last_status = "failed"
            self.status_label.setText(f'<span style="color:{ERROR_RED}">failed: {_esc(event.reason)}</span>')
            self.resumable = self.out_dir if self.out_dir and (self.out_dir / "checkpoints").is_dir() else None
        elif isinstance(event, WorkerLost):
            self._on_worker_lost(event)

    def _on_worker_lost(self, event: WorkerLost) -> None:
        """The worker process died (killed, out of memory, a crash): the window stays; Resume continues from the
        last checkpoint."""
        self.last_status = "interrupted"
        self.lost_reason = event.reason.split("; ")[0]
        self.resumable = self.out_dir if self.out_dir and (self.out_dir / "checkpoints").is_dir() else None
        step = f" at step {event.step or self._step}" if (event.step or self._step) else ""
        resume = "Resume continues it from its last checkpoint" if self.resumable else "start it again"
        reason = self.lost_reason[:1].upper() + self.lost_reason[1:]
        error = MtoError(f"{reason}. The window is fine: the pre-training is interrupted{step}.", resume)
        self.lost_dialog = show_error(self, "The pre-training worker was lost", error)

    def _add_step(self, step: int, examples: int, loss: float, losses: dict[str, float]) -> None:
        self.chart.append("loss", "total", step, loss, examples)
        for name, value in losses.items():
            if self.chart.has_line("loss", name):
                self.chart.append("loss", name, step, value, examples)

    def _add_eval(self, step: int, examples: int, metrics: dict[str, float]) -> None:
        for key, (label, _colour, _style) in KNOWLEDGE_LINES.items():
            if key in metrics:
                self.chart.append("knowledge", label, step, metrics[key], examples)
        self.knowledge = {**metrics, "step": step}
        self._show_knowledge()

    def _load_log(self, up_to: int) -> None:
        """Draw what the stopped session logged (pretrain_log.jsonl) before continuing after it."""
        self.chart.reset()
        self._lines()
        if self.out_dir is None:
            return
        for record in RunLog(self.out_dir / PRETRAIN_LOG).events():
            step = int(record.get("step", 0))
            if step > up_to:
                continue
            if record.get("event") == "StepLogged":
                self._add_step(step, record.get("examples_seen", 0), record["loss"], record.get("losses", {}))
            elif record.get("event") == "EvalDone":
                self._add_eval(step, record.get("examples_seen", 0), record.get("metrics", {}))

    def _show_knowledge(self) -> None:
        if not self.knowledge:
            self.knowledge_label.setText(
                f'<span style="color:{MUTED}">The zero-shot checks run every '
                f"{self.settings.eval_spin.value() or 'few hundred'} steps and at the end: can the "
                "model fill a fact into a sentence, or answer a question about it, "
                "before any fine-tuning?</span>"
            )
            return
        parts = []
        for key, (label, colour, _style) in KNOWLEDGE_LINES.items():
            if key in self.knowledge:
                parts.append(f'<span style="color:{colour}">{_esc(label)}</span> <b>{self.knowledge[key]:.0%}</b>')
        self.knowledge_label.setText(
            f"Zero-shot exact match at step {self.knowledge.get('step', '?')}: " + " · ".join(parts)
        )

    def _on_tick(self) -> None:
        if not self._dirty or not self._total:
            return
        self._dirty = False
        self.progress.setRange(0, self._total)
        self.progress.setValue(self._step)
        eta = self.job.clock.eta_s(self._step, self._total) if self.job.busy else None
        self.progress.setFormat(
            f"%p%  ·  step {self._step:,} / {self._total:,}" + (f"  ·  ETA {format_duration(eta)}" if eta else "")
        )

    def _on_ended(self, worker: Worker) -> None:
        self._dirty = True
        self._on_tick()
        self.chart.redraw()
        if self.last_status == "finished":
            self.resumable = None
            folder = self.out_dir
            assert folder is not None, "a pre-training that finished has its folder"
            self.status_label.setText(
                f"finished: <b>{_esc(folder.name)}</b>{self._summary(folder)}"
                " · “Use as the project's model” to train on it"
            )
        elif self.last_status == "stopped":
            self.status_label.setText(f"stopped at step {self._step}: <b>Resume</b> continues from the checkpoint")
        elif self.last_status == "interrupted":
            self.status_label.setText(
                f'<span style="color:{ERROR_RED}">interrupted at step {self._step}: {_esc(self.lost_reason)}</span>'
                + (" · <b>Resume</b> continues from the last checkpoint" if self.resumable else "")
            )
        elif worker.error is not None:
            self.status_label.setText(
                f'<span style="color:{ERROR_RED}">did not run: '
                f"{_esc(getattr(worker.error, 'message', worker.error))}</span>"
            )

    @staticmethod
    def _summary(folder: Path) -> str:
        try:
            summary = json.loads((folder / "pretrain_summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return ""
        return f" in {format_duration(summary.get('wall_time_s', 0))}, {summary.get('parameters', 0) / 1e6:.2f} M parameters"

    def use_model(self) -> None:
        if self.finished_dir is None:
            return
        self.context.set_model(str(self.finished_dir))
        self.status_label.setText(f"the project now uses <b>{_esc(self.finished_dir.name)}</b> (File ▸ Save keeps it)")

    def _show_state(self) -> None:
        idle = self.state == JobState.IDLE
        self.controls.set_state(self.state, can_resume=self.resumable is not None)
        self.use_button.setEnabled(idle and self.finished_dir is not None)
        self.settings.set_editable(idle)

    # --- workbench protocol ------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.job.shutdown()

    def unsaved_changes(self) -> list[str]:
        return self.job.unsaved_line(
            "pre-training is running: closing stops it with a checkpoint (Resume continues it)"
        )

    def save_state(self, settings) -> None:
        settings.setValue("lab/splitter", self.splitter.saveState())
        settings.setValue("lab/vsplitter", self.vsplitter.saveState())

    def restore_state(self, settings) -> None:
        for key, splitter in (("lab/splitter", self.splitter), ("lab/vsplitter", self.vsplitter)):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
