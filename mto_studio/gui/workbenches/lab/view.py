"""The Objective Lab workbench: pick a pre-training recipe, adjust the objective mix, the model size and the
training settings, pre-train a small T5 on the built-in world in the background, and watch the total and
per-objective losses and the zero-shot knowledge checks stream in; stop, resume, and use the result as the
project's model."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.config import field_info
from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
)
from mto_studio.core.pretraining.objective_lab import (
    PRETRAIN_LOG,
    STREAMS,
    ModelSection,
    ObjectiveMix,
    PretrainConfig,
    TrainingSection,
)
from mto_studio.core.resources import resource
from mto_studio.core.store.run_folder import RunLog
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import THREADS_TIP, format_duration
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.jobs import pretrain_job, run_owners, stop_and_wait
from mto_studio.gui.models.training import SamplesModel
from mto_studio.gui.plots.live_curves import LineChart
from mto_studio.gui.theme import ERROR_RED, MUTED
from mto_studio.gui.widgets.fields import config_spin, scrolling_settings
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workers import Worker

MODELS_DIR = "models"
OPEN_RECIPE = "\x00open"
LOSS_LINES = {
    "total": ("#212529", 2.4),
    "span": ("#e8590c", 1.6),
    "salient": ("#f59f00", 1.6),
    "supervised": ("#1c7ed6", 1.6),
}
OBJECTIVE_HELP = {
    "span": "T5 span corruption over packed knowledge sentences",
    "salient": "salient-span corruption: the knowledge-bearing tail of each sentence is masked",
    "supervised": "the Mapping stream: question/instruction → answer pairs",
}
#: Zero-shot knowledge checks (EvalDone metrics) and how they are drawn.
KNOWLEDGE_LINES = {
    "fill_heldout_em": ("fill, held-out wording", "#e8590c", Qt.PenStyle.SolidLine),
    "fill_seen_em": ("fill, seen wording", "#f59f00", Qt.PenStyle.DashLine),
    "qa_seen_em": ("QA, trained formats", "#1c7ed6", Qt.PenStyle.SolidLine),
    "qa_heldout_em": ("QA, held-out formats", "#0c8599", Qt.PenStyle.DashLine),
}
STATUS_TICK_MS = 250


def recipes() -> list[Path]:
    return sorted(resource("recipes").glob("*.toml"))


def parameter_estimate(cfg: PretrainConfig) -> int:
    """Roughly the T5 parameter count: tied embeddings, attention, gated feed-forward, layer norms."""
    m = cfg.model
    inner = m.num_heads * m.d_kv
    ff = (3 if m.feed_forward_proj.startswith("gated") else 2) * m.d_model * m.d_ff
    encoder = m.num_layers * (4 * m.d_model * inner + ff)
    decoder = m.num_decoder_layers * (8 * m.d_model * inner + ff)
    embeddings = (cfg.tokenizer.vocab_size + 100) * m.d_model * (1 if m.tie_embeddings else 2)
    return encoder + decoder + embeddings


class ObjectiveLabWorkbench(QWidget):
    """Recipe and settings on the left; the streaming losses, knowledge checks and sample answers on the right."""

    title = "Objective Lab"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.owners = run_owners(context)
        self.worker: Worker | None = None
        self.state = "idle"
        self.recipe: PretrainConfig | None = None
        self.recipe_path: Path | None = None
        self.out_dir: Path | None = None
        self.finished_dir: Path | None = None
        self.resumable: Path | None = None
        self.last_status = ""
        self.knowledge: dict[str, float] = {}
        self._step = 0
        self._total = 0
        self._session_steps = 0
        self._active = 0.0
        self._since: float | None = None
        self._dirty = False
        self._build()
        self.tick = QTimer(self)
        self.tick.setInterval(STATUS_TICK_MS)
        self.tick.timeout.connect(self._on_tick)
        self._fill_recipes()
        default = resource("recipes", "pilot.toml")
        self.load_recipe(default if default.is_file() else (recipes() or [None])[0])
        self._set_state("idle")

    # --- layout ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("lab-splitter")
        outer.addWidget(self.splitter)
        self.splitter.addWidget(self._build_settings())
        self.splitter.addWidget(self._build_monitor())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([330, 1230])

    def _spin(self, name: str, cls: type, field: str, tip: str = "") -> QSpinBox:
        """An integer row for the recipe's ``cls.field``: range and help from the field (``tip`` adds advice)."""
        spin = config_spin(cls, field, f"lab-{name}", tip=tip)
        spin.valueChanged.connect(lambda _v: self._update_estimate())
        return spin

    def _double(self, name: str, cls: type, field: str, step: float, tip: str = "", high: float | None = None):
        info = field_info(cls, field)
        spin = QDoubleSpinBox()
        spin.setObjectName(f"lab-{name}")
        spin.setRange(info.low if info.low is not None else 0.0, high if high is not None else info.high or 100.0)
        spin.setSingleStep(step)
        spin.setDecimals(2)
        spin.setToolTip(info.describe() + (f". {tip}" if tip else ""))
        spin.valueChanged.connect(lambda _v: self._update_estimate())
        return spin

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(6)
        heading = QLabel("Objective Lab")
        heading.setProperty("role", "heading")
        layout.addWidget(heading)
        intro = QLabel(
            "Pre-train a small T5 from scratch on the built-in world and watch what each objective "
            "teaches it: Filling relations only from sentences (span and salient-span corruption), "
            "Mapping relations only from question → answer pairs."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        layout.addWidget(intro)
        recipe_form = QFormLayout()
        self.recipe_combo = QComboBox()
        self.recipe_combo.setObjectName("lab-recipe")
        self.recipe_combo.activated.connect(lambda _i: self._on_recipe_chosen())
        recipe_form.addRow("Recipe", self.recipe_combo)
        layout.addLayout(recipe_form)
        self.description_label = QLabel()
        self.description_label.setObjectName("lab-description")
        self.description_label.setWordWrap(True)
        self.description_label.setProperty("role", "muted")
        layout.addWidget(self.description_label)

        mix_box = QGroupBox("Objective mix")
        mix_form = QFormLayout(mix_box)
        self.weight_spins = {}
        for stream in STREAMS:
            spin = self._double(f"weight-{stream}", ObjectiveMix, stream, 0.05, OBJECTIVE_HELP[stream], high=100.0)
            self.weight_spins[stream] = spin
            mix_form.addRow(f"{stream.capitalize()} weight", spin)
        self.noise_spin = self._double("noise-density", ObjectiveMix, "noise_density", 0.01)
        self.span_spin = self._double("mean-span", ObjectiveMix, "mean_span_length", 0.5)
        mix_form.addRow("Noise density", self.noise_spin)
        mix_form.addRow("Mean span length", self.span_spin)
        layout.addWidget(mix_box)

        model_box = QGroupBox("Model size")
        model_form = QFormLayout(model_box)
        self.d_model_spin = self._spin("d-model", ModelSection, "d_model")
        self.d_ff_spin = self._spin("d-ff", ModelSection, "d_ff")
        self.layers_spin = self._spin("layers", ModelSection, "num_layers", "the decoder gets as many")
        self.heads_spin = self._spin("heads", ModelSection, "num_heads")
        model_form.addRow("Hidden size", self.d_model_spin)
        model_form.addRow("Feed-forward", self.d_ff_spin)
        model_form.addRow("Layers (each side)", self.layers_spin)
        model_form.addRow("Heads", self.heads_spin)
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("lab-estimate")
        self.estimate_label.setProperty("role", "muted")
        model_form.addRow("", self.estimate_label)
        layout.addWidget(model_box)

        train_box = QGroupBox("Training")
        train_form = QFormLayout(train_box)
        self.steps_spin = self._spin("steps", TrainingSection, "steps")
        self.batch_spin = self._spin("batch", TrainingSection, "batch_size")
        self.lr_spin = config_spin(
            TrainingSection, "lr", "lab-lr", tip="at 3e-3 the probe learned no facts; 1e-3 did"
        )  # fmt: skip
        self.eval_spin = self._spin("eval-every", TrainingSection, "eval_every")
        self.threads_spin = self._spin("threads", TrainingSection, "threads", THREADS_TIP)
        train_form.addRow("Steps", self.steps_spin)
        train_form.addRow("Batch size", self.batch_spin)
        train_form.addRow("Learning rate", self.lr_spin)
        train_form.addRow("Check knowledge every", self.eval_spin)
        train_form.addRow("Torch threads", self.threads_spin)
        layout.addWidget(train_box)
        layout.addStretch(1)

        outer, outer_layout = scrolling_settings(panel)
        self.controls = RunControls("lab", start_text="Pre-train")
        self.start_button, self.pause_button = self.controls.start_button, self.controls.pause_button
        self.resume_button, self.stop_button = self.controls.resume_button, self.controls.stop_button
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
        outer_layout.addWidget(self.controls)
        return outer

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

    # --- recipes -----------------------------------------------------------------------------------------------
    def _fill_recipes(self) -> None:
        self.recipe_combo.blockSignals(True)
        self.recipe_combo.clear()
        for path in recipes():
            self.recipe_combo.addItem(path.stem, str(path))
        self.recipe_combo.addItem("open a recipe file…", OPEN_RECIPE)
        self.recipe_combo.blockSignals(False)

    def _on_recipe_chosen(self) -> None:
        data = self.recipe_combo.currentData()
        if data == OPEN_RECIPE:
            path, _f = QFileDialog.getOpenFileName(
                self, "Open a pre-training recipe", str(resource("recipes")), "Recipes (*.toml)"
            )
            if path:
                self.load_recipe(path)
            elif self.recipe_path is not None:
                self.recipe_combo.setCurrentIndex(max(0, self.recipe_combo.findData(str(self.recipe_path))))
            return
        self.load_recipe(data)

    def load_recipe(self, path: str | Path | None) -> bool:
        if path is None:
            return False
        try:
            cfg = PretrainConfig.load(path)
        except MtoError as exc:
            show_error(self, "Cannot read the recipe", exc, path=str(path))
            return False
        self.recipe, self.recipe_path = cfg, Path(path)
        index = self.recipe_combo.findData(str(path))
        if index < 0:
            self.recipe_combo.insertItem(self.recipe_combo.count() - 1, Path(path).stem, str(path))
            index = self.recipe_combo.count() - 2
        self.recipe_combo.setCurrentIndex(index)
        self.description_label.setText(" ".join(cfg.description.split()) or f"recipe {cfg.name}")
        mix = cfg.objectives
        for stream, spin in self.weight_spins.items():
            spin.setValue(getattr(mix, stream))
        self.noise_spin.setValue(mix.noise_density)
        self.span_spin.setValue(mix.mean_span_length)
        self.d_model_spin.setValue(cfg.model.d_model)
        self.d_ff_spin.setValue(cfg.model.d_ff)
        self.layers_spin.setValue(cfg.model.num_layers)
        self.heads_spin.setValue(cfg.model.num_heads)
        t = cfg.training
        self.steps_spin.setValue(t.steps)
        self.batch_spin.setValue(t.batch_size)
        self.lr_spin.setValue(t.lr)
        self.eval_spin.setValue(t.eval_every)
        self.threads_spin.setValue(t.threads)
        self._update_estimate()
        return True

    def current_config(self) -> PretrainConfig:
        """The loaded recipe with the form's values (raises MtoError)."""
        if self.recipe is None:
            raise MtoError("no recipe is loaded", "pick one of resources/recipes/*.toml")
        data = self.recipe.to_dict()
        data["objectives"].update(
            {s: round(spin.value(), 4) for s, spin in self.weight_spins.items()},
            noise_density=round(self.noise_spin.value(), 4),
            mean_span_length=round(self.span_spin.value(), 4),
        )
        heads = self.heads_spin.value()
        data["model"].update(
            d_model=self.d_model_spin.value(),
            d_ff=self.d_ff_spin.value(),
            num_layers=self.layers_spin.value(),
            num_decoder_layers=self.layers_spin.value(),
            num_heads=heads,
            d_kv=max(4, self.d_model_spin.value() // heads),
        )
        data["training"].update(
            steps=self.steps_spin.value(),
            batch_size=self.batch_spin.value(),
            lr=self.lr_spin.value(),
            eval_every=self.eval_spin.value(),
            threads=self.threads_spin.value(),
        )
        return PretrainConfig.from_dict(data)

    def _update_estimate(self) -> None:
        try:
            cfg = self.current_config()
        except MtoError as exc:
            self.estimate_label.setText(f'<span style="color:{ERROR_RED}">{_esc(exc.message)}</span>')
            return
        count = parameter_estimate(cfg)
        self.estimate_label.setText(
            f"≈ {count / 1e6:.1f} M parameters" if count >= 1e5 else f"≈ {count / 1e3:.0f} k parameters"
        )

    # --- running -----------------------------------------------------------------------------------------------
    def start(self) -> Worker | None:
        if self.worker is not None:
            return None
        try:
            cfg = self.current_config()
        except MtoError as exc:
            show_error(self, "Cannot start pre-training", exc)
            return None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = self.context.project.folder / MODELS_DIR / f"{cfg.name}-{stamp}"
        return self._launch(cfg, out, resume=False)

    def resume(self, folder: str | Path | None = None) -> Worker | None:
        if self.worker is not None:
            if self.state in ("paused", "pausing"):
                self.worker.resume()
                self._set_state("running")
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
        if self.worker is not None and self.state == "running":
            self.worker.pause()
            self._set_state("pausing")

    def stop(self) -> None:
        if self.worker is not None and self.state in ("running", "pausing", "paused"):
            self.worker.stop()
            self._set_state("stopping")
            self.status_label.setText("stopping after the current step (with a checkpoint)…")

    def _launch(self, cfg: PretrainConfig, out: Path, *, resume: bool) -> Worker:
        self.out_dir = out
        self.finished_dir = None
        self.last_status = ""
        self._step, self._total = 0, cfg.training.steps
        self._session_steps = 0
        self._active, self._since = 0.0, time.monotonic()
        if not resume:
            self.knowledge = {}
            self.chart.reset()
            self._lines()
            self.samples_model.set_samples([])
            self._show_knowledge()
        worker = Worker(lambda: pretrain_job(cfg, out, resume=resume), name="pretrain")
        worker.event.connect(self._on_event)
        worker.failed.connect(lambda exc: show_error(self, "Pre-training failed", exc))
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.worker = worker
        self.owners.claim([str(out)])
        self._set_state("running")
        self.progress.setRange(0, 0)
        self.status_label.setText(
            ("resuming " if resume else "building the world and the tokenizer for ") + f"{_esc(out.name)}…"
        )
        self.context.workers.start(worker)
        self.tick.start()
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
            self._session_steps += max(0, event.step - self._step)
            self._step = event.step
            self._add_step(event.step, event.examples_seen, event.loss, event.losses)
            self._dirty = True
        elif isinstance(event, EvalDone):
            self._add_eval(event.step, event.examples_seen, event.metrics)
            if event.samples:
                self.samples_model.set_samples(event.samples)
        elif isinstance(event, Paused):
            self._set_state("paused")
            self._stop_clock()
            self.status_label.setText(f"paused at step {event.step}")
        elif isinstance(event, Resumed):
            self._set_state("running")
            self._since = time.monotonic()
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
                f"{self.eval_spin.value() or 'few hundred'} steps and at the end: can the "
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

    def _stop_clock(self) -> None:
        if self._since is not None:
            self._active += time.monotonic() - self._since
            self._since = None

    def _on_tick(self) -> None:
        if not self._dirty or not self._total:
            return
        self._dirty = False
        self.progress.setRange(0, self._total)
        self.progress.setValue(self._step)
        active = self._active + (time.monotonic() - self._since if self._since else 0.0)
        rate = self._session_steps / active if active > 1 else 0.0
        eta = (
            f"  ·  ETA {format_duration((self._total - self._step) / rate)}"
            if rate > 0 and self._step < self._total
            else ""
        )
        self.progress.setFormat(f"%p%  ·  step {self._step:,} / {self._total:,}{eta}")

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self.tick.stop()
        self._dirty = True
        self._on_tick()
        self._stop_clock()
        if self.out_dir is not None:
            self.owners.release([str(self.out_dir)])
        self.chart.redraw()
        if self.last_status == "finished":
            self.resumable = None
            summary = self._summary()
            self.status_label.setText(
                f"finished: <b>{_esc(self.out_dir.name)}</b>{summary} · “Use as the project's model” to train on it"
            )
        elif self.last_status == "stopped":
            self.status_label.setText(f"stopped at step {self._step}: <b>Resume</b> continues from the checkpoint")
        elif worker.error is not None:
            self.status_label.setText(
                f'<span style="color:{ERROR_RED}">did not run: '
                f"{_esc(getattr(worker.error, 'message', worker.error))}</span>"
            )
        self._set_state("idle")

    def _summary(self) -> str:
        try:
            summary = json.loads((self.out_dir / "pretrain_summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return ""
        return f" in {format_duration(summary.get('wall_time_s', 0))}, {summary.get('parameters', 0) / 1e6:.2f} M parameters"

    def use_model(self) -> None:
        if self.finished_dir is None:
            return
        self.context.set_model(str(self.finished_dir))
        self.status_label.setText(f"the project now uses <b>{_esc(self.finished_dir.name)}</b> (File ▸ Save keeps it)")

    def _set_state(self, state: str) -> None:
        self.state = state
        idle = state == "idle"
        self.controls.set_state(state, can_resume=self.resumable is not None)
        self.use_button.setEnabled(idle and self.finished_dir is not None)
        for widget in (
            self.recipe_combo,
            self.noise_spin,
            self.span_spin,
            self.d_model_spin,
            self.d_ff_spin,
            self.layers_spin,
            self.heads_spin,
            self.steps_spin,
            self.batch_spin,
            self.lr_spin,
            self.eval_spin,
            self.threads_spin,
            *self.weight_spins.values(),
        ):
            widget.setEnabled(idle)

    # --- workbench protocol ------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        stop_and_wait(self.worker)
        self.tick.stop()

    def unsaved_changes(self) -> list[str]:
        if self.worker is not None and self.worker.is_running:
            return ["pre-training is running: closing stops it with a checkpoint (Resume continues it)"]
        return []

    def save_state(self, settings) -> None:
        settings.setValue("lab/splitter", self.splitter.saveState())
        settings.setValue("lab/vsplitter", self.vsplitter.saveState())

    def restore_state(self, settings) -> None:
        for key, splitter in (("lab/splitter", self.splitter), ("lab/vsplitter", self.vsplitter)):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
