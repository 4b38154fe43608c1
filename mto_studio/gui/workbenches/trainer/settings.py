"""The Trainer's settings column: which experiment (new, or one kept in the project), its grid (templates,
baseline, k ladder, seeds, methods), the training settings, where it runs and the optional adaptation stage. It
reads and writes an ExperimentConfig; running it is the workbench's business."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.templates import Template
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.analysis import Choice, ChoiceListModel
from mto_studio.gui.theme import ERROR_RED, WARNING
from mto_studio.gui.widgets.fields import SeedsEdit, ShotsEditor, settings_layout
from mto_studio.gui.workbenches.trainer.adaptation import AdaptationBox
from mto_studio.gui.workbenches.trainer.estimate import EstimateLabel
from mto_studio.gui.workbenches.trainer.run_on import RunOnBox
from mto_studio.gui.workbenches.trainer.training_box import TrainingBox

TRAIN = TrainConfig()
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
NEW_EXPERIMENT = "\x00new"
#: what the form shows for a new project
DEFAULT_EXPERIMENT = ExperimentConfig(templates=["unsup-nat", "sup"], train={"steps": 200, "eval_every": 25})


class TrainerSettings(QWidget):
    """The form. ``experiment_added(name)``: an experiment appeared in the project since the last look (the
    Analyzer's “Use this recommendation”) and the form now shows it; the workbench says so in its status line."""

    experiment_added = Signal(str)

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.busy = False  # an experiment runs: a new project experiment is listed, not loaded into the form
        self._loaded: ExperimentConfig | None = None  # the experiment the form was filled from
        self._known_experiments: set[str] | None = None  # the project's, as last listed
        self._build()
        context.library_changed.connect(self._refresh_templates)
        context.library_changed.connect(self.refresh_experiments)
        self._refresh_templates()

    def _build(self) -> None:
        layout = settings_layout(self, "Trainer")
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

        self.training = TrainingBox()
        box = self.training
        self.steps_spin, self.lr_spin, self.prompt_lr_spin = box.steps_spin, box.lr_spin, box.prompt_lr_spin
        self.batch_spin, self.eval_spin, self.device_combo = box.batch_spin, box.eval_spin, box.device_combo
        self.threads_spin = box.threads_spin
        layout.addWidget(box)
        self.run_on = RunOnBox(self.context.workers)  # this computer or a Ray cluster; runs at once
        layout.addWidget(self.run_on)

        self.adapt_box = AdaptationBox()
        layout.addWidget(self.adapt_box)
        layout.addStretch(1)
        self.estimate_label = EstimateLabel()  # the Trainer pins it above its Start button

        for signal in (
            self.templates_model.checks_changed,
            self.shots_editor.changed,
            self.seeds_edit.textChanged,
            *self.training.changed_signals,
            self.adapt_box.toggled,
            self.adapt_box.steps_spin.valueChanged,
            self.context.data_changed,  # the estimate line carries the domain check of the model on the data
            self.context.tokenizer_changed,
        ):
            signal.connect(lambda *_a: self._update_grid_summary())
        for check in self.method_checks.values():
            check.toggled.connect(lambda *_a: self._update_grid_summary())

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

    def refresh_experiments(self, *, forget: bool = False) -> None:
        """The project's experiments in the picker; one that appeared since (the Analyzer's “Use this
        recommendation”) is shown in the form at once, unless an experiment is running. ``forget``: the project
        changed, so the experiments listed now are not new ones."""
        if forget:
            self._known_experiments = None
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
        if added and not self.busy:
            self.select_experiment(added[-1])
            self.experiment_added.emit(added[-1])

    def project_experiments(self) -> list[ExperimentConfig]:
        try:
            return self.context.project.experiment_configs()
        except MtoError:
            return []

    def select_experiment(self, name: str) -> bool:
        """Fill the form from the project's experiment ``name`` (e.g. one the Analyzer prepared)."""
        index = self.experiment_combo.findData(name)
        if index < 0:
            self.refresh_experiments()
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
        self.training.apply(cfg.train)
        self.adapt_box.apply(cfg.adaptation)
        self._update_grid_summary()

    def show_running_source(self, cfg: ExperimentConfig, *, running: bool) -> None:
        from mto_studio.core.data.sources import describe

        model = cfg.model if "/" not in cfg.model else Path(cfg.model).name
        data = describe(cfg.data, "train") if cfg.data.startswith(("example:", "world")) else Path(cfg.data).name
        verb = "Training" if running else "Trained"
        self.source_label.setText(
            f"{verb} <b>{_esc(model)}</b> on <b>{_esc(data)}</b> (experiment <b>{_esc(cfg.name)}</b>)"
        )
        self.source_label.setToolTip(f"model: {cfg.model}\ndata: {cfg.data}")

    def show_project_source(self) -> bool:
        """What the coming experiment trains on and where its scores will come from; True when there is a test
        split."""
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
            else f"<span style='color:{WARNING}'>no test split: scores are <b>validation</b> scores</span>"
        )
        self.source_label.setText(
            f"Trains <b>{_esc(model)}</b> on <b>{_esc(data_name)}</b>; checkpoint chosen on {chosen_on}; {scored}"
        )
        self.source_label.setToolTip(project.model_ref())
        return bool(test)

    def _update_grid_summary(self) -> None:
        try:
            cfg = self.current_config()
        except MtoError as exc:
            self.grid_summary.setText(f'<span style="color:{ERROR_RED}">{_esc(exc.message)}</span>')
            self.estimate_label.show_for(None, self.context.project.folder)
            return
        profile = self.context.profile()  # the domain check's warnings and the data's lengths, when both are loaded
        warnings, tokens = (list(profile.report.warnings), profile.example_tokens) if profile else ([], None)
        self.estimate_label.show_for(cfg, self.context.project.folder, warnings, tokens)
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
        train.update(self.training.values())
        adaptation = self.adapt_box.settings(loaded.adaptation if loaded is not None else None)
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
        data_refs = project.run_data_refs()
        assert data_refs["data"] is not None, "a project always has training data"
        return ExperimentConfig(
            name=name,
            data=data_refs["data"],
            validation_data=data_refs["validation_data"],
            test_data=data_refs["test_data"],
            columns=project.columns_spec(),
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

    def set_editable(self, editable: bool) -> None:
        """While an experiment runs the form shows it and cannot be edited."""
        for widget in (
            self.experiment_combo,
            self.name_edit,
            self.templates_view,
            self.baseline_combo,
            self.shots_editor,
            self.seeds_edit,
            *self.training.fields(),
            self.adapt_box,
            self.run_on,
            *self.method_checks.values(),
        ):
            widget.setEnabled(editable)

    def reset(self) -> None:
        """Another project: the form starts from the default experiment."""
        self._known_experiments = None  # another project's experiments are not new ones
        self.experiment_combo.setCurrentIndex(0)
        self.apply_config(DEFAULT_EXPERIMENT)
