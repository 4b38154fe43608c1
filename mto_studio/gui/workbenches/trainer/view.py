"""The Trainer workbench: configure an experiment (templates × k ladder × seeds × methods, training settings, the
optional adaptation stage), run it in the background into the project's experiments folder and run store, and
watch it: progress with ETA, live few-shot vs full-data curves (mean ± sd over seeds), the runs, the template × k
result table as runs finish, and sample predictions. Pause, resume, stop; resume a stopped or interrupted
experiment from its folder."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QMainWindow,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    ExperimentFinished,
    ExperimentStarted,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunQueued,
    RunStarted,
    StepLogged,
    TableUpdated,
)
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder, slug
from mto_studio.core.templates import Objective, Template
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.experiment import run_folder_name
from mto_studio.core.training.experiment_config import AdaptationSettings, ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import THREADS_TIP, format_duration
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.jobs import experiment_job, run_owners, stop_and_wait
from mto_studio.gui.models.analysis import Choice, ChoiceListModel
from mto_studio.gui.models.training import ExperimentRunsModel, ResultTableModel, RunInfo, SamplesModel
from mto_studio.gui.plots.live_curves import CurveKey, LadderChart, LiveCurves
from mto_studio.gui.theme import ERROR_RED
from mto_studio.gui.widgets.fields import SeedsEdit, ShotsEditor, config_spin, scrolling_settings
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workers import Worker

EXPERIMENTS_DIR = "experiments"
TRAIN = TrainConfig()
ADAPT = AdaptationSettings()
METHOD_LABELS = [
    ("finetune", "fine-tune", "update every weight of the model"),
    (
        "prompt",
        "prompt tuning",
        "train soft-prompt vectors only; the model stays frozen (needs a "
        "template with {soft} slots, e.g. prompt-unsup-nat)",
    ),
    ("lora", "LoRA", "train low-rank adapters on the attention weights (PEFT)"),
]
STATUS_TICK_MS = 200  # progress bar, ETA and the runs table refresh at 5 Hz (the curves at ≤ 20 Hz)
NEW_EXPERIMENT = "\x00new"


def experiments_folder(project) -> Path:
    return project.folder / EXPERIMENTS_DIR


def new_experiment_folder(project, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = experiments_folder(project) / f"{slug(name) or 'experiment'}-{stamp}"
    folder, n = base, 2
    while folder.exists():
        folder = base.with_name(f"{base.name}-{n}")
        n += 1
    return folder


#: what the form shows for a new project
DEFAULT_EXPERIMENT = ExperimentConfig(templates=["unsup-nat", "sup"], train={"steps": 200, "eval_every": 25})


class TrainerWorkbench(QWidget):
    """Settings on the left; progress, live curves, runs, results and samples on the right. One experiment runs at
    a time, in the background."""

    title = "Trainer"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.owners = run_owners(context)
        self.worker: Worker | None = None
        self.state = "idle"  # idle, running, pausing, paused, stopping
        self.config: ExperimentConfig | None = None  # the running (or last) experiment's
        self.folder: Path | None = None
        self.experiment_id: int | None = None
        self.last_status = ""
        self.resumable: Path | None = None
        self.failed_notices: list[str] = []
        self._loaded: ExperimentConfig | None = None  # the experiment the form was filled from
        self._known_experiments: set[str] | None = None  # the project's, as last listed
        self._claimed: list[str] = []
        self._samples: dict[str, tuple[int, str, tuple]] = {}
        self._latest_sample_run: str | None = None
        self._progress_dirty = False
        self._active_seconds = 0.0
        self._active_since: float | None = None
        self._session_steps = 0  # steps trained in this session (the ETA's rate; resumed work excluded)
        self.final_status_text = ""
        self._build()
        self.tick = QTimer(self)
        self.tick.setInterval(STATUS_TICK_MS)
        self.tick.timeout.connect(self._on_tick)
        context.library_changed.connect(self._refresh_templates)
        context.library_changed.connect(self._refresh_experiments)
        context.project_changed.connect(self._on_project_changed)
        context.project_opened.connect(self._on_project_opened)
        context.data_changed.connect(self._refresh_source_label)
        context.tokenizer_changed.connect(self._refresh_source_label)
        context.splits_changed.connect(self._refresh_source_label)
        self._refresh_templates()
        self.apply_config(DEFAULT_EXPERIMENT)
        self._refresh_experiments()
        self._refresh_source_label()
        self._find_resumable()
        self._set_state("idle")

    # --- layout ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("trainer-splitter")
        outer.addWidget(self.splitter)
        self.splitter.addWidget(self._build_settings())
        self.splitter.addWidget(self._build_monitor())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([330, 1230])

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(6)
        heading = QLabel("Trainer")
        heading.setProperty("role", "heading")
        layout.addWidget(heading)
        self.source_label = QLabel()
        self.source_label.setObjectName("trainer-source")
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.source_label)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.experiment_combo = QComboBox()
        self.experiment_combo.setObjectName("trainer-experiment")
        self.experiment_combo.setToolTip(
            "experiments kept in the project (the Analyzer's “Use this recommendation” adds one), or a new one"
        )
        self.experiment_combo.activated.connect(lambda _i: self._on_experiment_chosen())
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("trainer-name")
        self.name_edit.setToolTip("the experiment's name; its folder is experiments/<name>-<date-time> in the project")
        form.addRow("Experiment", self.experiment_combo)
        form.addRow("Name", self.name_edit)
        layout.addLayout(form)

        grid_box = QGroupBox("Grid")
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.addWidget(QLabel("Templates"))
        self.templates_model = ChoiceListModel(self)
        self.templates_view = QListView()
        self.templates_view.setObjectName("trainer-templates")
        self.templates_view.setModel(self.templates_model)
        self.templates_view.setUniformItemSizes(True)
        self.templates_view.setFixedHeight(118)
        self.templates_model.checks_changed.connect(self._refresh_baselines)
        grid_layout.addWidget(self.templates_view)
        grid_form = QFormLayout()
        self.baseline_combo = QComboBox()
        self.baseline_combo.setObjectName("trainer-baseline")
        self.baseline_combo.setToolTip(
            "the template the relative gains are measured against (the conventional one: sup)"
        )
        grid_form.addRow("Baseline", self.baseline_combo)
        self.shots_editor = ShotsEditor()
        grid_form.addRow("k ladder", self.shots_editor)
        self.seeds_edit = SeedsEdit()
        grid_form.addRow("Seeds", self.seeds_edit)
        methods_row = QHBoxLayout()
        self.method_checks: dict[str, QCheckBox] = {}
        for key, label, tip in METHOD_LABELS:
            check = QCheckBox(label)
            check.setObjectName(f"trainer-method-{key}")
            check.setToolTip(tip)
            self.method_checks[key] = check
            methods_row.addWidget(check)
        methods_row.addStretch(1)
        grid_form.addRow("Methods", methods_row)
        grid_layout.addLayout(grid_form)
        self.grid_summary = QLabel()
        self.grid_summary.setObjectName("trainer-grid-summary")
        self.grid_summary.setProperty("role", "muted")
        self.grid_summary.setWordWrap(True)
        grid_layout.addWidget(self.grid_summary)
        layout.addWidget(grid_box)

        train_box = QGroupBox("Training")
        train_form = QFormLayout(train_box)
        self.steps_spin = config_spin(TrainConfig, "steps", "trainer-steps")
        self.lr_spin = config_spin(TrainConfig, "lr", "trainer-lr", tip="~1e-4 … 1e-3 for fine-tuning")
        self.prompt_lr_spin = config_spin(TrainConfig, "prompt_lr", "trainer-prompt-lr", tip="large: 0.01 … 0.3")
        self.batch_spin = config_spin(TrainConfig, "batch_size", "trainer-batch")
        self.eval_spin = config_spin(
            TrainConfig, "eval_every", "trainer-eval-every",
            tip="few-shot Filling peaks early, so evaluate often and keep the best checkpoint",
        )  # fmt: skip
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("trainer-device")
        for device in ("auto", "cpu", "cuda", "mps"):
            self.device_combo.addItem(device, device)
        self.device_combo.setToolTip("auto picks CUDA or MPS when present, else the CPU")
        self.threads_spin = config_spin(
            TrainConfig, "threads", "trainer-threads", tip=THREADS_TIP, high=max(1, os.cpu_count() or 1)
        )
        train_form.addRow("Steps per run", self.steps_spin)
        train_form.addRow("Learning rate", self.lr_spin)
        train_form.addRow("Prompt learning rate", self.prompt_lr_spin)
        train_form.addRow("Batch size", self.batch_spin)
        train_form.addRow("Evaluate every", self.eval_spin)
        train_form.addRow("Device", self.device_combo)
        train_form.addRow("Torch threads", self.threads_spin)
        layout.addWidget(train_box)

        self.adapt_box = QGroupBox("Adaptation stage first")
        self.adapt_box.setObjectName("trainer-adaptation")
        self.adapt_box.setCheckable(True)
        self.adapt_box.setToolTip(
            "MTO stage 2: train on (input, target) pairs cut from unlabeled task-related "
            "sentences, in each relation's objective, before the few-shot runs"
        )
        adapt_form = QFormLayout(self.adapt_box)
        self.adapt_source_combo = QComboBox()
        self.adapt_source_combo.setObjectName("trainer-adaptation-source")
        self.adapt_source_combo.addItem("built-in world text", "world")
        self.adapt_source_combo.addItem("a text file…", "")
        self.adapt_source_combo.setToolTip("one sentence per line")
        self.adapt_source_combo.activated.connect(lambda _i: self._on_adapt_source())
        self.adapt_steps_spin = QSpinBox()
        self.adapt_steps_spin.setObjectName("trainer-adaptation-steps")
        self.adapt_steps_spin.setRange(1, 1_000_000)
        self.adapt_steps_spin.setValue(ADAPT.steps)
        adapt_form.addRow("Sentences", self.adapt_source_combo)
        adapt_form.addRow("Steps", self.adapt_steps_spin)
        layout.addWidget(self.adapt_box)
        layout.addStretch(1)

        for signal in (
            self.templates_model.checks_changed,
            self.shots_editor.changed,
            self.seeds_edit.textChanged,
            self.steps_spin.valueChanged,
            self.adapt_box.toggled,
            self.adapt_steps_spin.valueChanged,
        ):
            signal.connect(lambda *_a: self._update_grid_summary())
        for check in self.method_checks.values():
            check.toggled.connect(lambda *_a: self._update_grid_summary())

        outer, outer_layout = scrolling_settings(panel)
        self.controls = RunControls("trainer")
        self.start_button, self.pause_button = self.controls.start_button, self.controls.pause_button
        self.resume_button, self.stop_button = self.controls.resume_button, self.controls.stop_button
        self.progress, self.status_label = self.controls.progress, self.controls.status_label
        self.start_button.setToolTip("run the experiment in the background into the project's experiments folder")
        self.start_button.clicked.connect(self.start)
        self.pause_button.setToolTip("pause after the current step; the run stays in memory")
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(lambda: self.resume())
        self.stop_button.setToolTip("stop after the current step: the run saves a checkpoint and can be resumed")
        self.stop_button.clicked.connect(self.stop)
        outer_layout.addWidget(self.controls)
        return outer

    def _build_monitor(self) -> QWidget:
        right = QWidget()
        layout = QVBoxLayout(right)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.setSpacing(4)
        self.notice = QFrame()
        self.notice.setObjectName("trainer-notice")
        self.notice.setProperty("role", "banner")
        notice_layout = QHBoxLayout(self.notice)
        notice_layout.setContentsMargins(10, 4, 4, 4)
        self.notice_label = QLabel()
        self.notice_label.setObjectName("trainer-notice-text")
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextFormat(Qt.TextFormat.RichText)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("hide this notice")
        close.clicked.connect(self.notice.hide)
        notice_layout.addWidget(self.notice_label, 1)
        notice_layout.addWidget(close)
        self.notice.hide()
        layout.addWidget(self.notice)

        header = QHBoxLayout()
        heading = QLabel("Learning curves")
        heading.setProperty("role", "heading")
        header.addWidget(heading)
        self.curves_caption = QLabel(
            "few-shot (dotted/dashed) and full data (solid) · one colour per template · band = ± sd over seeds"
        )
        self.curves_caption.setProperty("role", "muted")
        header.addWidget(self.curves_caption, 1)
        self.png_button = QToolButton()
        self.png_button.setObjectName("trainer-save-png")
        self.png_button.setText("Save PNG…")
        self.png_button.setToolTip("save the curves as drawn (with the legend) as a PNG image")
        self.png_button.clicked.connect(lambda: self.save_curves_png())
        header.addWidget(self.png_button)
        header.addWidget(QLabel("x axis"))
        self.x_combo = QComboBox()
        self.x_combo.setObjectName("trainer-x-axis")
        self.x_combo.addItem("steps", "step")
        self.x_combo.addItem("examples seen", "examples")
        self.x_combo.currentIndexChanged.connect(lambda _i: self.curves.set_x_mode(self.x_combo.currentData()))
        header.addWidget(self.x_combo)
        layout.addLayout(header)

        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("trainer-vsplitter")
        self.curves = LiveCurves()
        self.vsplitter.addWidget(self.curves)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("trainer-bottom-splitter")
        self.bottom_splitter = bottom
        runs_panel = QWidget()
        runs_layout = QVBoxLayout(runs_panel)
        runs_layout.setContentsMargins(0, 4, 4, 0)
        runs_heading = QLabel("Runs")
        runs_heading.setProperty("role", "section")
        runs_layout.addWidget(runs_heading)
        self.runs_model = ExperimentRunsModel(self)
        self.runs_table = QTableView()
        self.runs_table.setObjectName("trainer-runs")
        self.runs_table.setModel(self.runs_model)
        self.runs_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_table.verticalHeader().setVisible(False)
        self.runs_table.verticalHeader().setDefaultSectionSize(22)
        self.runs_table.horizontalHeader().setStretchLastSection(True)
        self.runs_table.setAlternatingRowColors(True)
        self.runs_table.setWordWrap(False)
        self.runs_table.selectionModel().currentRowChanged.connect(lambda _c, _p: self._show_samples())
        for column, width in enumerate((28, 86, 62, 46, 36, 72, 62, 62)):
            self.runs_table.setColumnWidth(column, width)
        runs_layout.addWidget(self.runs_table)
        bottom.addWidget(runs_panel)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("trainer-tabs")
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(4, 6, 4, 4)
        group_row = QHBoxLayout()
        self.results_caption = QLabel()
        self.results_caption.setObjectName("trainer-results-caption")
        self.results_caption.setProperty("role", "muted")
        self.results_caption.setWordWrap(True)
        self.results_caption.setTextFormat(Qt.TextFormat.RichText)
        group_row.addWidget(self.results_caption, 1)
        group_row.addWidget(QLabel("Relations"))
        self.group_combo = QComboBox()
        self.group_combo.setObjectName("trainer-group")
        self.group_combo.setToolTip("all relations, or only those decided as Filling or as Mapping")
        self.group_combo.currentIndexChanged.connect(self._on_group)
        group_row.addWidget(self.group_combo)
        results_layout.addLayout(group_row)
        self.results_model = ResultTableModel(self)
        self.results_table = QTableView()
        self.results_table.setObjectName("trainer-results")
        self.results_table.setModel(self.results_model)
        self.results_table.verticalHeader().setVisible(False)
        self.results_table.verticalHeader().setDefaultSectionSize(40)  # mean ± sd, then the gain
        self.results_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.results_table.horizontalHeader().setMinimumSectionSize(120)
        self.results_table.setWordWrap(True)
        self.results_table.setMinimumHeight(84)
        results_splitter = QSplitter(Qt.Orientation.Vertical)
        self.results_splitter = results_splitter
        results_splitter.setObjectName("trainer-results-splitter")
        results_splitter.addWidget(self.results_table)
        self.ladder = LadderChart()
        results_splitter.addWidget(self.ladder)
        results_splitter.setStretchFactor(0, 1)
        results_splitter.setStretchFactor(1, 2)
        results_splitter.setSizes([110, 220])
        results_layout.addWidget(results_splitter, 1)
        self.tabs.addTab(results, "Results: template × k")
        samples = QWidget()
        samples_layout = QVBoxLayout(samples)
        samples_layout.setContentsMargins(4, 6, 4, 4)
        self.samples_caption = QLabel("Predictions appear with the first evaluation.")
        self.samples_caption.setObjectName("trainer-samples-caption")
        self.samples_caption.setProperty("role", "muted")
        samples_layout.addWidget(self.samples_caption)
        self.samples_model = SamplesModel(self)
        self.samples_table = QTableView()
        self.samples_table.setObjectName("trainer-samples")
        self.samples_table.setModel(self.samples_model)
        self.samples_table.verticalHeader().setVisible(False)
        self.samples_table.setWordWrap(False)
        self.samples_table.horizontalHeader().setStretchLastSection(False)
        for column, width in enumerate((90, 250, 170, 250, 64)):
            self.samples_table.setColumnWidth(column, width)
        samples_layout.addWidget(self.samples_table)
        self.tabs.addTab(samples, "Sample predictions")
        bottom.addWidget(self.tabs)
        bottom.setStretchFactor(0, 5)
        bottom.setStretchFactor(1, 6)
        bottom.setSizes([600, 610])
        self.vsplitter.addWidget(bottom)
        self.vsplitter.setStretchFactor(0, 3)
        self.vsplitter.setStretchFactor(1, 2)
        self.vsplitter.setSizes([520, 360])
        layout.addWidget(self.vsplitter, 1)
        self._update_results_caption()
        return right

    # --- the form ----------------------------------------------------------------------------------------------
    def _template_choice(self, template: Template) -> Choice:
        tip = f"{template.objective.value} template" + (f": {template.description}" if template.description else "")
        if template.soft_total:
            tip += " (soft-prompt slots: prompt tuning only)"
        return Choice(template.name, template.name, tip, template.objective)

    def _refresh_templates(self) -> None:
        templates = list(self.context.library)
        checked = self.templates_model.checked_keys() if self.templates_model.rowCount() else ["unsup-nat", "sup"]
        self.templates_model.set_choices([self._template_choice(t) for t in templates], checked)

    def _refresh_baselines(self) -> None:
        current = self.baseline_combo.currentData() or (self._loaded.baseline if self._loaded else "sup")
        checked = self.templates_model.checked_keys()
        self.baseline_combo.blockSignals(True)
        self.baseline_combo.clear()
        for name in checked:
            self.baseline_combo.addItem(name, name)
        index = self.baseline_combo.findData(current)
        if index < 0:
            index = self.baseline_combo.findData("sup")
        self.baseline_combo.setCurrentIndex(max(0, index) if checked else -1)
        self.baseline_combo.blockSignals(False)

    def _refresh_experiments(self) -> None:
        """The project's experiments in the picker; one that appeared since (the Analyzer's “Use this
        recommendation”) is shown in the form at once, unless an experiment is running."""
        current = self.experiment_combo.currentData()
        self.experiment_combo.blockSignals(True)
        self.experiment_combo.clear()
        self.experiment_combo.addItem("new experiment", NEW_EXPERIMENT)
        configs = self.project_experiments()
        for cfg in configs:
            self.experiment_combo.addItem(f"{cfg.name} (kept in the project)", cfg.name)
        index = self.experiment_combo.findData(current) if current else -1
        self.experiment_combo.setCurrentIndex(max(0, index))
        self.experiment_combo.blockSignals(False)
        names = [cfg.name for cfg in configs]
        known = self._known_experiments
        self._known_experiments = set(names)
        added = [n for n in names if known is not None and n not in known]
        if added and self.worker is None:
            self.select_experiment(added[-1])
            self.status_label.setText(
                f"experiment <b>{_esc(added[-1])}</b> from the project is ready: check the settings and press Start"
            )

    def project_experiments(self) -> list[ExperimentConfig]:
        try:
            return self.context.project.experiment_configs()
        except MtoError:
            return []

    def select_experiment(self, name: str) -> bool:
        """Fill the form from the project's experiment ``name`` (e.g. one the Analyzer prepared)."""
        index = self.experiment_combo.findData(name)
        if index < 0:
            self._refresh_experiments()
            index = self.experiment_combo.findData(name)
        if index < 0:
            return False
        self.experiment_combo.setCurrentIndex(index)
        self._on_experiment_chosen()
        return True

    def _on_experiment_chosen(self) -> None:
        key = self.experiment_combo.currentData()
        if key == NEW_EXPERIMENT:
            return
        for cfg in self.project_experiments():
            if cfg.name == key:
                self.apply_config(cfg)
                return

    def apply_config(self, cfg: ExperimentConfig) -> None:
        """Show ``cfg``'s grid and settings in the form."""
        self._loaded = cfg
        self.name_edit.setText(cfg.name)
        self.templates_model.set_checked(cfg.templates)
        self._refresh_baselines()
        index = self.baseline_combo.findData(cfg.baseline)
        if index >= 0:
            self.baseline_combo.setCurrentIndex(index)
        self.shots_editor.set_shots(list(cfg.shots))
        self.seeds_edit.set_seeds(list(cfg.seeds))
        for key, check in self.method_checks.items():
            check.setChecked(key in cfg.methods)
        train = {**TRAIN.to_dict(), **cfg.train}
        self.steps_spin.setValue(int(train["steps"]))
        self.lr_spin.setValue(float(train["lr"]))
        self.prompt_lr_spin.setValue(float(train["prompt_lr"]))
        self.batch_spin.setValue(int(train["batch_size"]))
        self.eval_spin.setValue(int(train["eval_every"]))
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(train["device"])))
        self.threads_spin.setValue(min(int(train["threads"]), self.threads_spin.maximum()))
        self.adapt_box.setChecked(cfg.adaptation.enabled)
        source = cfg.adaptation.source
        if source == "world":
            self.adapt_source_combo.setCurrentIndex(0)
        else:
            self._set_adapt_file(source)
        self.adapt_steps_spin.setValue(cfg.adaptation.steps)
        self._update_grid_summary()

    def _on_adapt_source(self) -> None:
        if self.adapt_source_combo.currentData() != "":
            return
        path, _filter = QFileDialog.getOpenFileName(
            self, "Sentences for the adaptation stage", "", "Text files (*.txt);;All files (*)"
        )
        if path:
            self._set_adapt_file(path)
        else:
            self.adapt_source_combo.setCurrentIndex(0)

    def _set_adapt_file(self, path: str) -> None:
        index = self.adapt_source_combo.findData(path)
        if index < 0:
            self.adapt_source_combo.insertItem(1, Path(path).name, path)
            self.adapt_source_combo.setItemData(1, path, Qt.ItemDataRole.ToolTipRole)
            index = 1
        self.adapt_source_combo.setCurrentIndex(index)

    def _show_running_source(self, cfg: ExperimentConfig) -> None:
        from mto_studio.core.data.sources import describe

        model = cfg.model if "/" not in cfg.model else Path(cfg.model).name
        data = describe(cfg.data, "train") if cfg.data.startswith(("example:", "world")) else Path(cfg.data).name
        verb = "Training" if self.worker is not None else "Trained"
        self.source_label.setText(
            f"{verb} <b>{_esc(model)}</b> on <b>{_esc(data)}</b> (experiment <b>{_esc(cfg.name)}</b>)"
        )
        self.source_label.setToolTip(f"model: {cfg.model}\ndata: {cfg.data}")

    def _refresh_source_label(self) -> None:
        if self.config is not None and (self.worker is not None or self.runs_model.runs):
            self._show_running_source(self.config)  # the shown experiment's own model and data
            return
        project = self.context.project
        data = self.context.data
        data_name = data.display_name if data is not None and data.task is not None else project.data
        model = project.model if "/" not in project.model else Path(project.model).name
        try:
            validation, test = project.split_ref("validation"), project.split_ref("test")
        except MtoError:
            validation, test = None, None
        chosen_on = "a validation file" if validation else "heads held out of the training data"
        scored = (
            "scores on the <b>test</b> split"
            if test
            else "<span style='color:#9a5b00'>no test split: scores are <b>validation</b> scores</span>"
        )
        self.source_label.setText(
            f"Trains <b>{_esc(model)}</b> on <b>{_esc(data_name)}</b>; checkpoint chosen on {chosen_on}; {scored}"
        )
        if self.worker is None and not self.runs_model.runs:
            # nothing shown yet: the labels say where the coming experiment's scores will come from
            from mto_studio.core.training.results import score_label

            try:
                best = self.current_config().base_train_config().select_best
            except MtoError:
                best = True
            label = score_label("test" if test else "validation", checkpoint="best" if best else "last")
            self.results_model.label = label
            self.runs_model.set_score_header(label)
            self.runs_table.resizeColumnToContents(ExperimentRunsModel.COLUMNS.index("ROUGE-L"))
            self._update_results_caption()
        self.source_label.setToolTip(project.model_ref())

    def _update_grid_summary(self) -> None:
        try:
            cfg = self.current_config()
        except MtoError as exc:
            self.grid_summary.setText(f'<span style="color:{ERROR_RED}">{_esc(exc.message)}</span>')
            return
        runs = len(cfg.runs())
        steps = runs * int(cfg.train.get("steps", TRAIN.steps))
        extra = f" + {cfg.adaptation.steps} adaptation steps" if cfg.adaptation.enabled else ""
        self.grid_summary.setText(
            f"{len(cfg.templates)} template(s) × {len(cfg.shots)} k × {len(cfg.seeds)} seed(s)"
            f" × {len(cfg.methods)} method(s) = <b>{runs} runs</b>, {steps:,} steps{extra}"
        )

    def current_config(self) -> ExperimentConfig:
        """The experiment the form describes, on the project's model and data (raises MtoError)."""
        project = self.context.project
        templates = self.templates_model.checked_keys()
        if not templates:
            raise ConfigError("no template is ticked", "tick at least two templates to compare, e.g. unsup-nat and sup")
        baseline = self.baseline_combo.currentData() or templates[-1]
        if baseline in templates:  # the baseline last: tables and legends read "candidates, then the baseline"
            templates = [t for t in templates if t != baseline] + [baseline]
        methods = [key for key, check in self.method_checks.items() if check.isChecked()]
        if not methods:
            raise ConfigError("no method is ticked", "tick fine-tune, prompt tuning or LoRA")
        loaded = self._loaded
        train = dict(loaded.train) if loaded is not None else {}
        train.update(
            steps=self.steps_spin.value(),
            lr=self.lr_spin.value(),
            prompt_lr=self.prompt_lr_spin.value(),
            batch_size=self.batch_spin.value(),
            eval_every=self.eval_spin.value(),
            device=self.device_combo.currentData(),
            threads=self.threads_spin.value(),
        )
        source = self.adapt_source_combo.currentData() or "world"
        adaptation = AdaptationSettings(
            **{
                **(loaded.adaptation.__dict__ if loaded is not None else {}),
                "enabled": self.adapt_box.isChecked(),
                "source": source,
                "steps": self.adapt_steps_spin.value(),
            }
        )
        library = self.context.library
        # Project templates are passed by file (the experiment's own library holds only the built-ins).
        refs = []
        for name in templates:
            template = library.get(name) if name in library else None
            refs.append(template.path if template is not None and not template.builtin and template.path else name)
        objectives = {r: o.value for r, o in project.objectives.items()}
        if loaded is not None:
            objectives = {**loaded.objectives, **objectives}
        name = self.name_edit.text().strip() or "experiment"
        baseline_ref = refs[templates.index(baseline)] if baseline in templates else baseline
        return ExperimentConfig(
            name=name,
            **project.run_data_refs(),
            columns=self._columns_spec(),
            relations=list(loaded.relations) if loaded is not None else [],
            model=project.model_ref(),
            templates=refs,
            baseline=baseline_ref,
            shots=self.shots_editor.shots(),
            seeds=self.seeds_edit.seeds(),
            methods=methods,
            train=train,
            objectives=objectives,
            adaptation=adaptation,
        )

    def _columns_spec(self) -> str | None:
        mapping = self.context.project.columns
        if mapping is None:
            return None
        parts = {
            "input": mapping.input,
            "target": mapping.target,
            "relation": mapping.relation,
            "default_relation": mapping.default_relation,
        }
        return ",".join(f"{k}={v}" for k, v in parts.items() if v)

    # --- running -----------------------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def start(self) -> Worker | None:
        """Start the experiment the form describes; None (and a dialog) when it cannot run."""
        if self.is_running:
            return None
        try:
            cfg = self.current_config()
        except MtoError as exc:
            show_error(self, "Cannot start the experiment", exc)
            return None
        folder = new_experiment_folder(self.context.project, cfg.name)
        return self._launch(cfg, folder, resume=False)

    def resume(self, folder: str | Path | None = None) -> Worker | None:
        """Resume the paused experiment, or continue a stopped or interrupted one from its folder (by default the
        latest such experiment of the project)."""
        if self.worker is not None:
            if self.state in ("paused", "pausing"):
                self.worker.resume()
                self._set_state("running")
            return None
        target = Path(folder) if folder is not None else self.resumable
        if target is None or not ExperimentFolder(target).config_file.is_file():
            show_error(
                self,
                "Nothing to resume",
                MtoError("no stopped or interrupted experiment was found", "start a new experiment"),
            )
            return None
        return self._launch(None, target, resume=True)

    def pause(self) -> None:
        if self.worker is not None and self.state == "running":
            self.worker.pause()
            self._set_state("pausing")
            self.status_label.setText("pausing after the current step…")

    def stop(self) -> None:
        if self.worker is not None and self.state in ("running", "pausing", "paused"):
            self.worker.stop()
            self._set_state("stopping")
            self.status_label.setText("stopping after the current step: the run saves a checkpoint…")

    def _launch(self, cfg: ExperimentConfig | None, folder: Path, *, resume: bool) -> Worker:
        store_path = self.context.project.run_store_path
        self.folder = folder
        self.config = cfg
        self.experiment_id = None
        self.last_status = ""
        self.failed_notices = []
        self._samples.clear()
        self._latest_sample_run = None
        self.notice.hide()
        self.runs_model.set_runs([])
        self.samples_model.set_samples([])
        self.curves.reset()
        self.curves.show_note("Preparing the experiment: checking the grid, loading the model and data…")
        if cfg is not None:
            self._set_grid(cfg)
        worker = Worker(lambda: experiment_job(cfg, folder, store_path, resume=resume), name="experiment")
        worker.event.connect(self._on_event)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.worker = worker
        self._claim([str(folder)])
        self._active_seconds = 0.0
        self._active_since = time.monotonic()
        self._session_steps = 0
        self.final_status_text = ""
        self._set_state("running")
        self.progress.setRange(0, 0)
        self.status_label.setText(("resuming" if resume else "starting") + f" {_esc(folder.name)}…")
        self.context.workers.start(worker)
        self.tick.start()
        return worker

    def _claim(self, folders: list[str]) -> None:
        self._claimed += folders
        self.owners.claim(folders)

    def _release(self) -> None:
        if self._claimed:
            self.owners.release(self._claimed)
            self._claimed = []

    def _set_grid(self, cfg: ExperimentConfig) -> None:
        """Runs list, result grid and curve styles for ``cfg`` (known when the experiment starts)."""
        names = [Path(t).stem if t.endswith(".toml") else t for t in cfg.templates]
        library = self.context.library
        objectives: dict[str, Objective] = {}
        for name in names:
            if name in library:
                objectives[name] = library.get(name).objective
        self.curves.set_grid(names, objectives, list(cfg.shots), list(cfg.methods))
        baseline = Path(cfg.baseline).stem if cfg.baseline.endswith(".toml") else cfg.baseline
        from mto_studio.core.training.experiment import expected_scoring
        from mto_studio.core.training.results import score_label

        split, checkpoint = expected_scoring(cfg)
        label = score_label(split, checkpoint=checkpoint)
        self.results_model.set_grid(list(cfg.methods), names, list(cfg.shots), baseline, len(cfg.seeds), label)
        self.runs_model.set_score_header(label)
        self.runs_table.resizeColumnToContents(ExperimentRunsModel.COLUMNS.index("ROUGE-L"))
        self._refresh_groups()
        self._refresh_ladder(reset=True)
        table_height = self.results_table.horizontalHeader().height() + 40 * len(self.results_model.rows) + 8
        total = sum(self.results_splitter.sizes()) or 330
        table_height = min(table_height, total // 2)
        self.results_splitter.setSizes([table_height, max(total - table_height, 120)])
        runs = []
        steps = int(cfg.train.get("steps", TRAIN.steps))
        if cfg.adaptation.enabled:
            runs.append(RunInfo("adaptation", -1, "adaptation stage", "adaptation", "full", 0, cfg.adaptation.steps))
        for index, run_cfg in enumerate(cfg.runs()):
            template = Path(run_cfg.template).stem if run_cfg.template.endswith(".toml") else run_cfg.template
            shots = "full" if run_cfg.shots is None else str(run_cfg.shots)
            runs.append(
                RunInfo(
                    run_folder_name(index, run_cfg), index, template, run_cfg.method.value, shots, run_cfg.seed, steps
                )
            )
        for position, run in enumerate(runs):
            run.index = position
        self.runs_model.set_runs(runs)
        single_method = len(cfg.methods) == 1 and not cfg.adaptation.enabled
        self.runs_table.setColumnHidden(ExperimentRunsModel.COLUMNS.index("method"), single_method)
        self._update_results_caption()

    # --- events (GUI thread) ---------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def _on_experiment_started(self, event: ExperimentStarted) -> None:
        cfg = ExperimentConfig.from_dict(event.config)
        self.config = cfg
        # the form and the header show the experiment that runs (a resumed one may differ from what they showed)
        names = [Path(t).stem if t.endswith(".toml") else t for t in cfg.templates]
        baseline = Path(cfg.baseline).stem if cfg.baseline.endswith(".toml") else cfg.baseline
        self.apply_config(dataclasses.replace(cfg, templates=names, baseline=baseline))
        self._show_running_source(cfg)
        self.experiment_id = event.experiment_id
        self.folder = Path(event.folder)
        self._set_grid(cfg)
        runs_dir = self.folder / "runs"
        self._claim(
            [str(runs_dir / r.run_id) for r in self.runs_model.runs if r.method != "adaptation"]
            + [str(self.folder / "adaptation")]
        )
        self.curves.show_note("Waiting for the first steps…")
        total = sum(r.total_steps for r in self.runs_model.runs)
        self.progress.setRange(0, max(total, 1))
        self._progress_dirty = True

    def _run_key(self, run: RunInfo) -> CurveKey:
        return CurveKey(run.method, run.template, run.shots)

    def _on_run_queued(self, event: RunQueued) -> None:
        run_dir = self.folder / "runs" / event.run_id if self.folder else None
        if event.skipped:
            result = RunFolder(run_dir).result() if run_dir else {}
            metrics = result.get("metrics", {})
            run = self.runs_model.update(
                event.run_id,
                status="skipped",
                step=int(result.get("step", 0)),
                rouge=metrics.get("rougeL"),
                exact_match=metrics.get("exact_match"),
                scored_on=str(result.get("split") or "validation"),
                score_label=str(result.get("score_label") or ""),
                folder=str(run_dir or ""),
            )
            if run is not None and run_dir is not None:
                self._load_history(run, run_dir, after=None)
        else:
            self.runs_model.update(event.run_id, status="queued", folder=str(run_dir or ""))
        self._progress_dirty = True

    def _load_history(self, run: RunInfo, run_dir: Path, after: int | None) -> None:
        """Draw what an earlier session logged for ``run`` (up to step ``after`` when given)."""
        if run.method == "adaptation":
            return
        key = self._run_key(run)
        losses, scores = [], []
        samples = None
        for record in RunFolder(run_dir).events():
            step = int(record.get("step", 0) or 0)
            if after is not None and step > after:
                continue
            if record.get("event") == "StepLogged":
                losses.append((step, int(record.get("examples_seen", 0)), float(record["loss"])))
            elif (
                record.get("event") == "EvalDone"
                and record.get("split") == "validation"
                and not record.get("final")
                and not (scores and scores[-1][0] == step)
            ):
                scores.append((step, int(record.get("examples_seen", 0)), float(record["metrics"].get("rougeL", 0))))
                samples = (step, "validation", tuple(record.get("samples", ())))
        if after is not None:
            self.curves.truncate(key, run.seed, after)
        self.curves.add_points(key, run.seed, "loss", losses)
        self.curves.add_points(key, run.seed, "rougeL", scores)
        if samples is not None:
            self._samples[run.run_id] = samples

    def _on_run_started(self, event: RunStarted) -> None:
        run = self.runs_model.update(
            event.run_id,
            status="running",
            step=event.resumed_from,
            total_steps=event.total_steps,
            folder=event.folder,
            reason="",
        )
        if run is None:
            return
        if event.resumed_from:
            self._load_history(run, Path(event.folder), after=event.resumed_from)
            self.status_label.setText(f"run {run.index + 1}: resumed from its checkpoint at step {event.resumed_from}")
        self._progress_dirty = True

    def _on_step(self, event: StepLogged) -> None:
        run = self.runs_model.run(event.run_id)
        if run is None:
            return
        self._session_steps += max(0, event.step - run.step)
        self.runs_model.update(event.run_id, now=False, step=event.step)
        if run.method != "adaptation":
            self.curves.add_point(self._run_key(run), run.seed, "loss", event.step, event.examples_seen, event.loss)
        self._progress_dirty = True

    def _on_eval(self, event: EvalDone) -> None:
        run = self.runs_model.run(event.run_id)
        if run is None:
            return
        value = event.metrics.get("rougeL")
        if event.split == "validation" and value is not None and run.method != "adaptation" and not event.final:
            # a final evaluation is the run's result (RunFinished carries it), not a point of the curve
            self.curves.add_point(self._run_key(run), run.seed, "rougeL", event.step, event.examples_seen, value)
        if value is not None and run.status == "running" and not event.final:
            self.runs_model.update(event.run_id, rouge=value)
        if event.samples:
            self._samples[event.run_id] = (event.step, event.split, event.samples)
            self._latest_sample_run = event.run_id
            self._show_samples()

    def _on_run_finished(self, event: RunFinished) -> None:
        fields: dict[str, Any] = {"status": event.status, "step": event.step}
        if event.status == "finished":
            fields.update(
                rouge=event.metrics.get("rougeL"),
                exact_match=event.metrics.get("exact_match"),
                scored_on=event.split or "validation",
                score_label=event.score_label,
            )
        else:
            fields["reason"] = f"stopped at step {event.step}; resumable from its checkpoint"
        self.runs_model.update(event.run_id, **fields)
        self.owners.touched()
        self._progress_dirty = True

    def _on_run_failed(self, event: RunFailed) -> None:
        run = self.runs_model.update(event.run_id, status="failed", reason=event.reason, step=event.step)
        label = run.label if run is not None else event.run_id
        self.failed_notices.append(event.reason)
        self.notice_label.setText(
            f'<b style="color:{ERROR_RED}">Run failed:</b> {_esc(label)}: {_esc(event.reason)}'
            "<br>The experiment goes on with the next run; the table leaves this run out."
        )
        self.notice.show()
        window = self.window()
        if isinstance(window, QMainWindow):
            window.statusBar().showMessage(f"run failed: {label}: {event.reason}", 15000)
        self.owners.touched()
        self._progress_dirty = True

    def _on_paused(self, event: Paused) -> None:
        self.runs_model.update(event.run_id, status="paused", step=event.step)
        if self.state in ("running", "pausing"):
            self._set_state("paused")
        self._pause_clock()
        self.status_label.setText(f"paused at step {event.step}: Resume continues, Stop saves a checkpoint")

    def _on_resumed(self, event: Resumed) -> None:
        self.runs_model.update(event.run_id, status="running")
        if self.state in ("paused", "pausing"):
            self._set_state("running")
        if self._active_since is None:
            self._active_since = time.monotonic()

    def _on_checkpoint(self, event: CheckpointSaved) -> None:
        if event.reason == "stop":
            self.status_label.setText(f"checkpoint saved at step {event.step}; finishing…")

    def _on_table(self, event: TableUpdated) -> None:
        self.results_model.set_tables(event.tables)
        self._refresh_groups()
        self._refresh_ladder()
        self._update_results_caption(event.finished_runs, event.total_runs)

    def _on_experiment_finished(self, event: ExperimentFinished) -> None:
        self.last_status = event.status
        failed = f", {event.failed_runs} failed" if event.failed_runs else ""
        if event.status == "stopped":
            self.resumable = Path(event.folder)
            text = f"stopped{failed}: <b>Resume</b> continues from the last checkpoint"
        else:
            text = f'finished{failed} · report: <a href="{QUrl.fromLocalFile(event.report).toString()}">{_esc(Path(event.report).name)}</a>'
            if self.resumable == Path(event.folder):
                self.resumable = None
        self.final_status_text = text
        self.owners.touched()

    _handlers = {
        ExperimentStarted: _on_experiment_started,
        RunQueued: _on_run_queued,
        RunStarted: _on_run_started,
        StepLogged: _on_step,
        EvalDone: _on_eval,
        RunFinished: _on_run_finished,
        RunFailed: _on_run_failed,
        Paused: _on_paused,
        Resumed: _on_resumed,
        CheckpointSaved: _on_checkpoint,
        TableUpdated: _on_table,
        ExperimentFinished: _on_experiment_finished,
    }

    def _on_failed(self, error: BaseException) -> None:
        self.last_status = "failed"
        show_error(self, "The experiment could not run", error)

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self._release()
        self._pause_clock()
        self.tick.stop()
        self._on_tick()
        self.curves.redraw()
        if self.last_status == "failed" or (self.last_status == "" and worker.error is not None):
            self.status_label.setText(
                f'<span style="color:{ERROR_RED}">did not run: '
                f"{_esc(getattr(worker.error, 'message', worker.error))}</span>"
            )
            self.curves.show_note("The experiment did not start")
        elif self.last_status:
            self.status_label.setText(self.final_status_text or self.last_status)
        if self.last_status != "finished":
            self._find_resumable()
        self._set_state("idle")
        self.owners.touched()

    def shutdown(self) -> None:
        """The window is closing: stop the experiment (the run checkpoints and is marked stopped, resumable) and
        wait for it, bounded so that closing never hangs."""
        if stop_and_wait(self.worker):
            self._release()
        self.tick.stop()

    def unsaved_changes(self) -> list[str]:
        if self.worker is not None and self.worker.is_running:
            name = self.config.name if self.config is not None else self.folder.name if self.folder else "?"
            return [
                f"experiment '{name}' is training: closing stops it after the current step (resume it later "
                "from the Trainer)"
            ]
        return []

    # --- progress ------------------------------------------------------------------------------------------------
    def _pause_clock(self) -> None:
        if self._active_since is not None:
            self._active_seconds += time.monotonic() - self._active_since
            self._active_since = None

    def _done_steps(self) -> int:
        return sum(r.done_steps for r in self.runs_model.runs)

    def _on_tick(self) -> None:
        self.runs_model.flush()
        if not self._progress_dirty:
            return
        self._progress_dirty = False
        runs = self.runs_model.runs
        total = sum(r.total_steps for r in runs)
        if not total:
            return
        done = self._done_steps()
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        active = self._active_seconds + (time.monotonic() - self._active_since if self._active_since else 0.0)
        rate = self._session_steps / active if active > 1 else 0.0
        eta = f"ETA {format_duration((total - done) / rate)}" if rate > 0 and done < total else ""
        self.progress.setFormat(f"%p%  ·  {done:,} / {total:,} steps" + (f"  ·  {eta}" if eta else ""))
        if self.state == "running":
            current = next((r for r in runs if r.status == "running"), None)
            finished = sum(r.status in ("finished", "skipped") for r in runs)
            failed = sum(r.status == "failed" for r in runs)
            parts = [f"{finished} of {len(runs)} runs done" + (f", {failed} failed" if failed else "")]
            if current is not None:
                parts.append(f"now <b>{_esc(current.label)}</b> at step {current.step}/{current.total_steps}")
            if rate > 0:
                parts.append(f"{rate:.1f} steps/s")
            self.status_label.setText(" · ".join(parts))

    def save_curves_png(self, path: str | Path | None = None) -> Path | None:
        if path is None:
            start = str((self.folder or experiments_folder(self.context.project)) / "live-curves.png")
            path, _f = QFileDialog.getSaveFileName(self, "Save the curves as PNG", start, "PNG images (*.png)")
            if not path:
                return None
        self.curves.export_png(path)
        return Path(path)

    # --- results and samples ---------------------------------------------------------------------------------
    def _refresh_groups(self) -> None:
        groups = self.results_model.groups()
        current = self.group_combo.currentData() or self.results_model.group
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        for group in groups:
            self.group_combo.addItem(group.replace(" relations", "") if group != "all relations" else "all", group)
        self.group_combo.setCurrentIndex(max(0, self.group_combo.findData(current)))
        self.group_combo.blockSignals(False)

    def _on_group(self, _index: int) -> None:
        group = self.group_combo.currentData()
        if group:
            self.results_model.set_group(group)
            self._update_results_caption()
            self._refresh_ladder()

    def _refresh_ladder(self, reset: bool = False) -> None:
        """The ladder chart follows the table (its rows, its k columns, the selected relation group)."""
        model = self.results_model
        if reset or set(self.ladder.shots) != set(model.shots) or set(self.ladder._lines) != set(model.rows):
            self.ladder.set_rows(model.rows, model.shots, self.curves.colour, model.baseline)

        def cell(method, template, shots):
            found = model.cell(method, template, shots)
            return None if found is None else (found.mean, found.sd)

        self.ladder.set_cells(cell)
        self.ladder.plot.setTitle(f"{_esc(model.label)} by training size · {model.group}", color="#1f2933", size="10pt")

    def _update_results_caption(self, finished: int | None = None, total: int | None = None) -> None:
        model = self.results_model
        label = _esc(model.label)
        warning = ""
        if model.label.startswith("Validation"):
            warning = (
                " <span style='color:#9a5b00'>No test split: these are validation scores of the checkpoint "
                "the same heads chose (optimistic); set a test file in the Data workbench.</span>"
            )
        if not model.rows:
            self.results_caption.setText(
                f"The table fills in as runs finish: {label}, mean ± sd over seeds, and the "
                f"gain over the baseline at the same k.{warning}"
            )
            return
        counted = f" · {finished} of {total} runs counted" if finished is not None else ""
        self.results_caption.setText(
            f"<b>{label}</b> on {model.group}, mean ± sd over seeds; % = relative gain over "
            f"{model.baseline} at the same k{counted}.{warning}"
        )

    def _show_samples(self) -> None:
        index = self.runs_table.currentIndex()
        run_id = index.data(ExperimentRunsModel.RunIdRole) if index.isValid() else self._latest_sample_run
        if run_id not in self._samples:
            run_id = self._latest_sample_run
        found = self._samples.get(run_id) if run_id else None
        if found is None:
            self.samples_model.set_samples([])
            self.samples_caption.setText("Predictions appear with the first evaluation.")
            return
        step, split, samples = found
        run = self.runs_model.run(run_id)
        label = run.label if run is not None else run_id
        self.samples_model.set_samples(samples)
        self.samples_caption.setText(f"{_esc(label)} · {split} at step {step} (select a run to see its own)")

    # --- state ---------------------------------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        self.state = state
        idle = state == "idle"
        tip = f"continue {self.resumable.name} from its last checkpoint" if idle and self.resumable else ""
        self.controls.set_state(state, can_resume=self.resumable is not None, resume_tip=tip)
        for widget in (
            self.experiment_combo,
            self.name_edit,
            self.templates_view,
            self.baseline_combo,
            self.shots_editor,
            self.seeds_edit,
            self.steps_spin,
            self.lr_spin,
            self.prompt_lr_spin,
            self.batch_spin,
            self.eval_spin,
            self.device_combo,
            self.threads_spin,
            self.adapt_box,
        ):
            widget.setEnabled(idle)
        for check in self.method_checks.values():
            check.setEnabled(idle)

    def _find_resumable(self) -> None:
        """The project's latest stopped or interrupted experiment whose folder still exists."""
        self.resumable = None
        path = self.context.project.run_store_path
        if path.is_file():
            try:
                store = RunStore(path)
                try:
                    experiments = store.experiments()
                finally:
                    store.close()
            except MtoError:
                experiments = []
            for experiment in reversed(experiments):
                if (
                    experiment.folder
                    and str(experiment.folder) not in self.owners.folders
                    and ExperimentFolder(experiment.folder).is_resumable(experiment.status)
                ):
                    self.resumable = Path(experiment.folder)
                    break
        if self.state == "idle":
            self._set_state("idle")

    def _on_project_opened(self) -> None:
        """Another project: nothing of the previous one's experiment stays on screen (unless it is still running)."""
        if self.worker is not None:
            return
        self.config = None
        self.folder = None
        self.final_status_text = ""
        self.last_status = ""
        self.status_label.setText("")
        self.runs_model.set_runs([])
        self.results_model.set_grid([], [], [], "")
        self.curves.reset()
        self.curves.show_note("Start an experiment: the curves fill in as the runs train")
        self._samples.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.experiment_combo.setCurrentIndex(0)
        self.apply_config(DEFAULT_EXPERIMENT)
        self._refresh_ladder(reset=True)

    def _on_project_changed(self) -> None:
        self._known_experiments = None  # another project's experiments are not new ones
        self._refresh_experiments()
        self._refresh_source_label()
        if self.worker is None:
            self._find_resumable()

    # --- workbench protocol ------------------------------------------------------------------------------------
    def activated(self) -> None:
        self._refresh_experiments()
        if self.worker is None:
            self._find_resumable()

    def save_state(self, settings) -> None:
        settings.setValue("trainer/splitter", self.splitter.saveState())
        settings.setValue("trainer/vsplitter", self.vsplitter.saveState())
        settings.setValue("trainer/bottom-splitter", self.bottom_splitter.saveState())
        settings.setValue("trainer/x-axis", self.x_combo.currentData())

    def restore_state(self, settings) -> None:
        for key, splitter in (
            ("trainer/splitter", self.splitter),
            ("trainer/vsplitter", self.vsplitter),
            ("trainer/bottom-splitter", self.bottom_splitter),
        ):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
        mode = settings.value("trainer/x-axis")
        if mode:
            self.x_combo.setCurrentIndex(max(0, self.x_combo.findData(mode)))
