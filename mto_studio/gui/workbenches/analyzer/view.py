"""The Analyzer workbench: per relation, decide Filling or Mapping (rules, likelihood probe, classifier) and rank
the candidate templates zero-shot on the project's model and data, in the background; apply the decisions to the
project and prepare an experiment from them. The last report is kept in the project folder (analysis.json)."""

from __future__ import annotations

import html
import json
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.analysis.analyze import (
    AnalysisCancelled,
    AnalysisConfig,
    AnalysisDone,
    AnalysisReport,
    RelationReport,
    analyze,
    report_from_dict,
)
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import atomic_write_json
from mto_studio.core.jobs.events import Progress
from mto_studio.core.objectives.strategies import check_probe_templates, strategy_names
from mto_studio.core.project import Project
from mto_studio.core.templates import Objective, Template
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.analysis import AUTO, Choice, ChoiceListModel, RelationResultsModel, objective_text
from mto_studio.gui.plots.template_ranking import TemplateRankingChart
from mto_studio.gui.theme import ERROR_RED, MUTED, set_invalid
from mto_studio.gui.widgets.fields import config_spin, scrolling_settings
from mto_studio.gui.widgets.run_controls import RunControls
from mto_studio.gui.workers import Worker

ANALYSIS_FILE = "analysis.json"
ANALYSIS_FORMAT = 1
DEFAULTS = AnalysisConfig()
STRATEGY_HELP = {
    "probe": (
        "likelihood probe",
        "how much better the masked (Filling) template predicts the gold answer's tokens "
        "than the prefix (Mapping) template: MI ≥ threshold → Filling. Needs the model.",
    ),
    "rules": (
        "rule table",
        "relations whose answer completes a sentence about the head → Filling; event-to-event "
        "relations → Mapping; others undecided",
    ),
    "classifier": (
        "trained classifier",
        "a small seq2seq model trained on relations whose objective is known, "
        "checked on held-out ones. Needs the embedded model mto-tiny; it trains first (a minute or so)",
    ),
}
SIGNALS_HTML = (
    "<b>Format fit</b> = mean log-likelihood of the gold answer's tokens under the template: how familiar the "
    "framing looks to the model (higher is better). <b>Knowledge</b> = how often the gold answer scores above "
    "the distractors (other heads' answers): whether the model knows the fact in this framing. Whiskers: 95% "
    "bootstrap intervals over the examples. ★ = recommended."
)
EXPERIMENT_CHOICES = [
    ("mixed", "mixed vs sup (each relation gets its matched template)"),
    ("best", "each relation's best template vs sup"),
]


# --- the saved report ----------------------------------------------------------------------------------------
def analysis_path(project: Project) -> Path:
    return project.folder / ANALYSIS_FILE


def save_analysis(project: Project, report: dict[str, Any], overrides: dict[str, str]) -> Path:
    """Write the report and the user's overrides next to project.toml (atomically)."""
    return atomic_write_json(
        analysis_path(project),
        {"format": ANALYSIS_FORMAT, "report": report, "overrides": dict(sorted(overrides.items()))},
    )


def load_analysis(project: Project) -> tuple[dict[str, Any], AnalysisReport, dict[str, str]] | None:
    """The saved report (also a bare report as `mto-studio analyze --out` writes it), or None when there is none.
    A file that cannot be read raises an MtoError that says so."""
    path = analysis_path(project)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        raw = data["report"] if "report" in data else data
        report = report_from_dict(raw)
        overrides = {str(k): Objective(str(v)).value for k, v in data.get("overrides", {}).items()}
    except MtoError as exc:
        raise MtoError(f"{ANALYSIS_FILE}: {exc.message}", "run the analysis again to replace it") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MtoError(f"cannot read {ANALYSIS_FILE}: {exc}", "run the analysis again to replace it") from None
    return raw, report, overrides


def columns_spec(project: Project) -> str | None:
    mapping = project.columns
    if mapping is None:
        return None
    parts = {
        "input": mapping.input,
        "target": mapping.target,
        "relation": mapping.relation,
        "default_relation": mapping.default_relation,
    }
    return ",".join(f"{k}={v}" for k, v in parts.items() if v)


def template_choice(template: Template) -> Choice:
    reason = ""
    if template.is_mixed:
        reason = (
            "a mixed template picks its filling or mapping template per relation from the decisions, so it "
            "is not ranked itself; rank the templates it picks from"
        )
    elif template.soft_total:
        reason = (
            "has soft-prompt slots, which hold untrained vectors until prompt tuning: a zero-shot score "
            "would mean nothing"
        )
    tip = f"{template.objective.value} template" + (f": {template.description}" if template.description else "")
    return Choice(template.name, template.name, tip, template.objective, reason)


def fit_list_height(view: QListView, rows: int, most: int) -> None:
    """Size a short list to its rows (up to ``most``, then it scrolls), so the settings need no scrolling."""
    row = view.sizeHintForRow(0) if view.model() is not None and view.model().rowCount() else 18
    view.setFixedHeight(max(2, min(rows, most)) * max(row, 16) + 2 * view.frameWidth() + 2)


def _objective_span(objective: Objective | None, text: str | None = None) -> str:
    colour = OBJECTIVE_COLOURS[objective] if objective is not None else MUTED
    return f'<b style="color:{colour}">{_esc(text or objective_text(objective))}</b>'


class ObjectiveDelegate(QStyledItemDelegate):
    """The decision column's editor: 'as analysed', Filling or Mapping; the choice applies as soon as it is made."""

    def createEditor(self, parent, option, index):  # noqa: N802 - Qt override
        combo = QComboBox(parent)
        combo.setObjectName("decision-editor")
        combo.addItem("as analysed", AUTO)
        combo.addItem("Filling", Objective.FILLING.value)
        combo.addItem("Mapping", Objective.MAPPING.value)
        combo.setToolTip("'as analysed' gives the relation back to the analysis")
        combo.activated.connect(lambda _i, c=combo: (self.commitData.emit(c), self.closeEditor.emit(c)))
        return combo

    def setEditorData(self, editor, index):  # noqa: N802 - Qt override
        value = index.data(Qt.ItemDataRole.EditRole) or AUTO
        editor.setCurrentIndex(max(0, editor.findData(value)))

    def setModelData(self, editor, model, index):  # noqa: N802 - Qt override
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class AnalyzerWorkbench(QWidget):
    """Settings on the left; the per-relation table, the evidence in words and the template ranking chart on the
    right. One analysis runs at a time, in the background."""

    title = "Analyzer"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.worker: Worker | None = None
        self.report: AnalysisReport | None = None
        self.report_dict: dict[str, Any] | None = None
        self.last_error: BaseException | None = None
        self.state = "idle"  # idle, running, cancelling
        self._cancelled = False
        self._project = context.project
        self._folder = context.project.folder
        self._running_project: Project | None = None
        self._config: AnalysisConfig | None = None  # the running analysis's
        self._build()
        context.library_changed.connect(self._refresh_templates)
        context.data_changed.connect(self._refresh_relations)
        context.data_changed.connect(self._refresh_source_label)
        context.project_changed.connect(self._on_project_changed)
        context.tokenizer_changed.connect(self._refresh_source_label)
        self._refresh_templates()
        self._refresh_relations()
        self._refresh_source_label()
        self._load_saved()
        self._set_state("idle")

    # --- layout ----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("analyzer-splitter")
        outer.addWidget(self.splitter)
        self.splitter.addWidget(self._build_settings())
        self.splitter.addWidget(self._build_results())
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([310, 1250])

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(6)
        heading = QLabel("Analyzer")
        heading.setProperty("role", "heading")
        layout.addWidget(heading)
        intro = QLabel(
            "Which objective did the model learn each relation through, Filling or Mapping? And which "
            "template fits it best, zero-shot, before any training?"
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "muted")
        layout.addWidget(intro)
        self.source_label = QLabel()
        self.source_label.setObjectName("analysis-source")
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.source_label)

        strategies_box = QGroupBox("Decide with (in this order)")
        strategies_layout = QVBoxLayout(strategies_box)
        self.strategy_list = QListWidget()
        self.strategy_list.setObjectName("analysis-strategies")
        self.strategy_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.strategy_list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.strategy_list.setToolTip("drag to reorder: the first strategy that decides a relation decides it")
        for name in strategy_names():
            label, tip = STRATEGY_HELP.get(name, (name, ""))
            item = QListWidgetItem(f"{name} — {label}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(tip)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if name in DEFAULTS.strategies else Qt.CheckState.Unchecked)
            self.strategy_list.addItem(item)
        self.strategy_list.setFixedHeight(self.strategy_list.sizeHintForRow(0) * 3 + 8)
        strategies_layout.addWidget(self.strategy_list)
        order_hint = QLabel("Drag to reorder; the first that decides, decides.")
        order_hint.setProperty("role", "muted")
        strategies_layout.addWidget(order_hint)
        probe_form = QFormLayout()
        probe_form.setContentsMargins(0, 4, 0, 0)
        self.masked_combo = QComboBox()
        self.masked_combo.setObjectName("analysis-masked-template")
        self.masked_combo.setToolTip(
            "the probe's Filling template: a sentinel in the source, the target starts with it"
        )
        self.prefix_combo = QComboBox()
        self.prefix_combo.setObjectName("analysis-prefix-template")
        self.prefix_combo.setToolTip("the probe's Mapping template: no sentinel, the target is the bare answer")
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setObjectName("analysis-threshold")
        self.threshold_spin.setRange(-1.0, 1.0)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setDecimals(2)
        self.threshold_spin.setValue(DEFAULTS.threshold)
        self.threshold_spin.setToolTip(
            "MI at or above this → Filling (the published T5-base values run from −0.66 for xIntent to 0.48 for xAttr)"
        )
        probe_form.addRow("Masked template", self.masked_combo)
        probe_form.addRow("Prefix template", self.prefix_combo)
        probe_form.addRow("MI threshold", self.threshold_spin)
        strategies_layout.addLayout(probe_form)
        self.probe_error = QLabel()
        self.probe_error.setObjectName("analysis-probe-error")
        self.probe_error.setProperty("role", "error")
        self.probe_error.setWordWrap(True)
        self.probe_error.setVisible(False)
        strategies_layout.addWidget(self.probe_error)
        self.masked_combo.currentIndexChanged.connect(lambda _i: self._check_probe_inline())
        self.prefix_combo.currentIndexChanged.connect(lambda _i: self._check_probe_inline())
        layout.addWidget(strategies_box)

        templates_box = QGroupBox("Rank these templates")
        templates_layout = QVBoxLayout(templates_box)
        self.templates_model = ChoiceListModel(self)
        self.templates_view = QListView()
        self.templates_view.setObjectName("analysis-templates")
        self.templates_view.setModel(self.templates_model)
        self.templates_view.setUniformItemSizes(True)
        templates_layout.addWidget(self.templates_view)
        knowledge_form = QFormLayout()
        self.distractors_spin = config_spin(AnalysisConfig, "distractors", "analysis-distractors")
        knowledge_form.addRow("Distractors", self.distractors_spin)
        templates_layout.addLayout(knowledge_form)
        layout.addWidget(templates_box)

        examples_box = QGroupBox("Examples")
        examples_layout = QVBoxLayout(examples_box)
        examples_form = QFormLayout()
        self.n_spin = config_spin(AnalysisConfig, "n", "analysis-n", tip="the paper's probe used ~5")
        self.seed_spin = config_spin(
            AnalysisConfig, "seed", "analysis-seed", tip="it picks the examples, the distractors and the resamples"
        )  # fmt: skip
        examples_form.addRow("Per relation", self.n_spin)
        examples_form.addRow("Seed", self.seed_spin)
        examples_layout.addLayout(examples_form)
        relations_row = QHBoxLayout()
        relations_label = QLabel("Relations")
        relations_row.addWidget(relations_label)
        relations_row.addStretch(1)
        for text, checked in (("All", True), ("None", False)):
            button = QPushButton(text)
            button.setFlat(True)
            button.setObjectName(f"analysis-relations-{text.lower()}")
            button.clicked.connect(lambda _c=False, on=checked: self.relations_model.set_all(on))
            relations_row.addWidget(button)
        examples_layout.addLayout(relations_row)
        self.relations_model = ChoiceListModel(self)
        self.relations_view = QListView()
        self.relations_view.setObjectName("analysis-relations")
        self.relations_view.setModel(self.relations_model)
        self.relations_view.setUniformItemSizes(True)
        examples_layout.addWidget(self.relations_view)
        layout.addWidget(examples_box)

        layout.addStretch(1)
        outer, outer_layout = scrolling_settings(panel)
        self.controls = RunControls("analysis", start_text="Analyse", stop_text="Cancel", pausable=False)
        self.run_button, self.cancel_button = self.controls.start_button, self.controls.stop_button
        self.progress, self.status_label = self.controls.progress, self.controls.status_label
        self.run_button.setToolTip(
            "score the chosen relations and templates on the project's model and data, in the background"
        )
        self.run_button.clicked.connect(self.start)
        self.cancel_button.setToolTip("stop after the current step; the previous results stay")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress.setFormat("%v / %m")
        outer_layout.addWidget(self.controls)
        return outer

    def _build_results(self) -> QWidget:
        self.vsplitter = QSplitter(Qt.Orientation.Vertical)
        self.vsplitter.setObjectName("analyzer-vsplitter")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(8, 0, 0, 4)
        header = QHBoxLayout()
        heading = QLabel("Decisions per relation")
        heading.setProperty("role", "heading")
        header.addWidget(heading)
        header.addSpacing(12)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("analysis-summary")
        self.summary_label.setProperty("role", "muted")
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setWordWrap(True)
        header.addWidget(self.summary_label, 1)
        top_layout.addLayout(header)

        self.results_model = RelationResultsModel(self)
        self.results_model.overrides_changed.connect(self._on_overrides_changed)
        self.results_proxy = QSortFilterProxyModel(self)
        self.results_proxy.setSourceModel(self.results_model)
        self.results_proxy.setSortRole(RelationResultsModel.SortRole)
        self.table = QTableView()
        self.table.setObjectName("analysis-table")
        self.table.setModel(self.results_proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.SelectedClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setWordWrap(False)
        self.decision_delegate = ObjectiveDelegate(self.table)
        self.table.selectionModel().currentRowChanged.connect(lambda _c, _p: self._show_selected())
        top_layout.addWidget(self.table, 1)

        apply_row = QHBoxLayout()
        self.override_hint = QLabel("Double-click a decision to set it yourself.")
        self.override_hint.setProperty("role", "muted")
        apply_row.addWidget(self.override_hint, 1)
        apply_row.addWidget(QLabel("Experiment:"))
        self.experiment_combo = QComboBox()
        self.experiment_combo.setObjectName("analysis-experiment-kind")
        for key, text in EXPERIMENT_CHOICES:
            self.experiment_combo.addItem(text, key)
        self.experiment_combo.setToolTip(
            "the templates of the experiment prepared in the project; the baseline is "
            "sup, the ladder k = 8, 32, full × 3 seeds"
        )
        apply_row.addWidget(self.experiment_combo)
        self.use_button = QPushButton("Use this recommendation")
        self.use_button.setObjectName("analysis-use")
        self.use_button.setToolTip(
            "write the decisions into the project's per-relation objectives (the mixed "
            "template follows them) and add an experiment for the Trainer"
        )
        self.use_button.clicked.connect(self.use_recommendation)
        apply_row.addWidget(self.use_button)
        top_layout.addLayout(apply_row)
        self.notice_label = QLabel()
        self.notice_label.setObjectName("analysis-notice")
        self.notice_label.setWordWrap(True)
        self.notice_label.setTextFormat(Qt.TextFormat.RichText)
        self.notice_label.setVisible(False)
        top_layout.addWidget(self.notice_label)
        self.vsplitter.addWidget(top)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("analyzer-evidence-splitter")
        self.evidence_splitter = bottom
        self.evidence = QTextBrowser()
        self.evidence.setObjectName("analysis-evidence")
        self.evidence.setOpenLinks(False)
        self.evidence.setMinimumWidth(280)
        bottom.addWidget(self.evidence)
        chart_panel = QWidget()
        chart_layout = QVBoxLayout(chart_panel)
        chart_layout.setContentsMargins(6, 0, 0, 0)
        chart_layout.setSpacing(4)
        self.chart_caption = QLabel(SIGNALS_HTML)
        self.chart_caption.setObjectName("analysis-chart-caption")
        self.chart_caption.setWordWrap(True)
        self.chart_caption.setTextFormat(Qt.TextFormat.RichText)
        self.chart_caption.setStyleSheet(f"color: {MUTED};")
        chart_layout.addWidget(self.chart_caption)
        self.chart = TemplateRankingChart()
        chart_layout.addWidget(self.chart, 1)
        bottom.addWidget(chart_panel)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 3)
        bottom.setSizes([420, 700])
        self.vsplitter.addWidget(bottom)
        self.vsplitter.setStretchFactor(0, 1)
        self.vsplitter.setStretchFactor(1, 1)
        self.vsplitter.setSizes([360, 540])
        return self.vsplitter

    # --- settings ----------------------------------------------------------------------------------------------
    def strategies(self) -> list[str]:
        """The checked strategies, in the list's (decision) order."""
        out = []
        for row in range(self.strategy_list.count()):
            item = self.strategy_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_strategies(self, names: list[str]) -> None:
        """Check ``names`` and put them first, in that order; the others follow unchecked."""
        items = {
            self.strategy_list.item(r).data(Qt.ItemDataRole.UserRole): self.strategy_list.takeItem(r)
            for r in reversed(range(self.strategy_list.count()))
        }
        order = [n for n in names if n in items] + [n for n in strategy_names() if n in items and n not in names]
        order += [n for n in items if n not in order]
        for name in order:
            item = items[name]
            item.setCheckState(Qt.CheckState.Checked if name in names else Qt.CheckState.Unchecked)
            self.strategy_list.addItem(item)

    def _fill_template_combo(self, combo: QComboBox, templates: list[Template], default: str) -> None:
        current = combo.currentData() or default
        combo.blockSignals(True)
        combo.clear()
        for template in templates:
            combo.addItem(f"{template.name}  ({template.objective.value})", template.name)
        index = combo.findData(current)
        combo.setCurrentIndex(index if index >= 0 else max(0, combo.findData(default)))
        combo.blockSignals(False)

    def _refresh_templates(self) -> None:
        library = self.context.library
        templates = list(library)
        checked = self.templates_model.checked_keys() if self.templates_model.rowCount() else DEFAULTS.templates
        self.templates_model.set_choices([template_choice(t) for t in templates], checked)
        fit_list_height(self.templates_view, len(templates), 9)
        concrete = [t for t in templates if not t.is_mixed]
        filling_first = sorted(concrete, key=lambda t: t.objective is not Objective.FILLING)
        mapping_first = sorted(concrete, key=lambda t: t.objective is not Objective.MAPPING)
        self._fill_template_combo(self.masked_combo, filling_first, DEFAULTS.masked_template)
        self._fill_template_combo(self.prefix_combo, mapping_first, DEFAULTS.prefix_template)
        self._check_probe_inline()

    def _refresh_relations(self) -> None:
        data = self.context.data
        relations = list(data.task.relations) if data is not None and data.task is not None else []
        previous = set(self.relations_model.keys())
        checked = set(self.relations_model.checked_keys())
        # Relations new to the list start checked; the ones the user unticked stay unticked.
        keep = [r for r in relations if r in checked or r not in previous]
        counts: dict[str, int] = {}
        if data is not None and data.task is not None:
            for head in data.task.heads:
                counts[head.relation] = counts.get(head.relation, 0) + 1
        choices = [Choice(r, f"{r}  ({counts.get(r, 0):,} heads)", f"{counts.get(r, 0):,} heads") for r in relations]
        self.relations_model.set_choices(choices, keep)
        fit_list_height(self.relations_view, len(choices), 10)

    def _refresh_source_label(self) -> None:
        project = self.context.project
        data = self.context.data
        data_name = data.display_name if data is not None and data.task is not None else project.data
        model = project.model if "/" not in project.model else Path(project.model).name
        note = ""
        if self.context.tokenizer_error is not None:
            note = (
                f'<br><span style="color:{ERROR_RED}">the model is not available: '
                f"{_esc(self.context.tokenizer_error.message)}</span>"
            )
        self.source_label.setText(f"Model <b>{_esc(model)}</b> · data <b>{_esc(data_name)}</b>{note}")
        self.source_label.setToolTip(project.model_ref())

    def _check_probe_inline(self) -> None:
        """Flag an unusable probe template pair at once (the run would refuse it with the same words)."""
        error = self._probe_error()
        self.probe_error.setText(f"{_esc(error.message)}<br>Fix: {_esc(error.hint)}" if error else "")
        self.probe_error.setVisible(error is not None)
        set_invalid(self.masked_combo, error is not None and "masked" in error.message)
        set_invalid(self.prefix_combo, error is not None and "prefix" in error.message)

    def _probe_error(self) -> MtoError | None:
        masked, prefix = self.masked_combo.currentData(), self.prefix_combo.currentData()
        if not masked or not prefix:
            return None
        try:
            check_probe_templates(self.context.library.get(masked), self.context.library.get(prefix))
        except MtoError as exc:
            return exc
        return None

    def current_config(self) -> AnalysisConfig:
        """The analysis the settings describe, on the project's model and data (raises ConfigError)."""
        project = self.context.project
        relations = self.relations_model.checked_keys()
        if self.relations_model.rowCount() and not relations:
            raise ConfigError("no relation is ticked", "tick at least one relation (or All)")
        if len(relations) == self.relations_model.rowCount():
            relations = []  # all of them, including any the data gains later
        templates = self.templates_model.checked_keys()
        if not templates:
            raise ConfigError(
                "no candidate template is ticked", "tick at least one template to rank, e.g. sup and unsup-nat"
            )
        strategies = self.strategies()
        if not strategies:
            raise ConfigError("no decision strategy is ticked", "tick rules, probe or classifier")
        return AnalysisConfig(
            data=project.run_data_refs()["data"],
            model=project.model_ref(),
            columns=columns_spec(project),
            relations=relations,
            templates=templates,
            strategies=strategies,
            n=self.n_spin.value(),
            seed=self.seed_spin.value(),
            threshold=round(self.threshold_spin.value(), 4),
            masked_template=self.masked_combo.currentData() or DEFAULTS.masked_template,
            prefix_template=self.prefix_combo.currentData() or DEFAULTS.prefix_template,
            distractors=self.distractors_spin.value(),
            objectives_override=dict(self.results_model.overrides),
        )

    def apply_config(self, cfg: AnalysisConfig) -> None:
        """Show ``cfg``'s settings (a reopened report's)."""
        self.set_strategies(list(cfg.strategies))
        self.templates_model.set_checked(cfg.templates)
        for combo, name in ((self.masked_combo, cfg.masked_template), (self.prefix_combo, cfg.prefix_template)):
            index = combo.findData(name)
            if index >= 0:
                combo.setCurrentIndex(index)
        self.n_spin.setValue(cfg.n)
        self.seed_spin.setValue(cfg.seed)
        self.threshold_spin.setValue(cfg.threshold)
        self.distractors_spin.setValue(cfg.distractors)
        if cfg.relations:
            self.relations_model.set_checked(cfg.relations)
        else:
            self.relations_model.set_all(True)

    # --- running -----------------------------------------------------------------------------------------------
    @property
    def is_running(self) -> bool:
        return self.state != "idle"

    def start(self) -> Worker | None:
        """Start the analysis in the background; None (and a dialog) when the settings cannot run."""
        if self.is_running:
            return None
        try:
            cfg = self.current_config()
            if "probe" in cfg.strategies:
                error = self._probe_error()
                if error is not None:
                    raise error
        except MtoError as exc:
            self._show_failure(exc)
            return None
        library = self.context.project.library()  # the worker's own copy: the analysis adds to it
        worker = Worker(lambda: analyze(cfg, library=library), name="analysis")
        worker.event.connect(self._on_event)
        worker.failed.connect(self._on_failed)
        worker.finished.connect(lambda w=worker: self._on_finished(w))
        self.worker = worker
        self._config = cfg
        self._cancelled = False
        self.last_error = None
        self._running_project = self.context.project
        self._set_state("running")
        self.progress.setRange(0, 0)
        self.status_label.setText(
            f"starting: {len(cfg.strategies)} strateg{'y' if len(cfg.strategies) == 1 else 'ies'}"
            f", {len(cfg.templates)} template(s)…"
        )
        self.context.workers.start(worker)
        return worker

    def cancel(self) -> None:
        if self.worker is None or self.state != "running":
            return
        self.worker.stop()
        self._set_state("cancelling")
        self.status_label.setText("cancelling after the current step…")

    def _set_state(self, state: str) -> None:
        self.state = state
        running = state != "idle"
        self.controls.set_state(state)
        self.cancel_button.setEnabled(state == "running")
        self.use_button.setEnabled(not running and self.report is not None)
        self.experiment_combo.setEnabled(not running and self.report is not None)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, Progress):
            self.progress.setRange(0, max(event.total, 1))
            self.progress.setValue(event.done)
            self.status_label.setText(self._progress_text(event))
        elif isinstance(event, AnalysisCancelled):
            self._cancelled = True
            self.status_label.setText(f"cancelled after {event.done} of {event.total} steps; the previous results stay")
        elif isinstance(event, AnalysisDone):
            if self.worker is not None and self.worker.stop_requested:
                self._cancelled = True  # it finished before it saw the Stop: the user asked for nothing
                return
            self._take_result(event.report)

    def _progress_text(self, event: Progress) -> str:
        text = event.message
        strategies = self._config.strategies if self._config is not None else []
        relations = event.total // (len(strategies) + 1) if event.total > 1 else 0
        if relations and event.done % relations == 0 and event.done // relations < len(strategies):
            following = strategies[event.done // relations]
            text += f" · next: {following}"
            if following == "classifier":
                text += " (trains a small model first)"
        return text

    def _on_failed(self, error: BaseException) -> None:
        self.last_error = error
        if not isinstance(error, MtoError):
            traceback.print_exception(error)
        self.status_label.setText("the analysis stopped with an error")
        self._show_failure(error)

    def _show_failure(self, error: BaseException) -> None:
        show_error(self, "Cannot run the analysis", error)

    def _on_finished(self, worker: Worker) -> None:
        if worker is not self.worker:
            return
        self.worker = None
        self._running_project = None
        if self._cancelled:
            self.status_label.setText("cancelled; the previous results stay")
        self._set_state("idle")

    def shutdown(self) -> None:
        if self.worker is not None and self.worker.is_running:
            self.worker.stop()
            self.worker.wait(15_000)

    # --- results -----------------------------------------------------------------------------------------------
    def _take_result(self, report: dict[str, Any]) -> None:
        project = self._running_project or self.context.project
        if project is not self.context.project:
            return  # another project was opened meanwhile: this report is not its own
        overrides = dict(self.results_model.overrides)
        self.show_report(report, overrides)
        try:
            path = save_analysis(project, report, self.results_model.overrides)
            saved = f"saved to {path.name}"
        except MtoError as exc:
            saved = f'<span style="color:{ERROR_RED}">not saved: {_esc(exc.message)}</span>'
        relations = len(self.report.relations)
        self.status_label.setText(f"done: {relations} relation(s) in {self.report.elapsed_s:.1f} s · {saved}")

    def show_report(self, report: dict[str, Any] | None, overrides: dict[str, str] | None = None) -> None:
        """Show a report (as ``AnalysisReport.to_dict`` made it); None clears the results."""
        selected = self.selected_relation()
        self.report_dict = report
        self.report = report_from_dict(report) if report is not None else None
        self.results_model.set_report(self.report, overrides or {})
        decision_column = self.results_model.column_of("decision")
        if decision_column >= 0:
            self.table.setItemDelegateForColumn(decision_column, self.decision_delegate)
        self._fit_columns()
        self._update_summary()
        self._set_state(self.state)
        if self.report is not None and self.report.relations:
            self.select_relation(
                selected if selected and self.results_model.row_of(selected) >= 0 else self.report.relations[0].relation
            )
        else:
            self._show_selected()

    def _fit_columns(self) -> None:
        """Columns as wide as their widest text (a header's sort-indicator reserve would make the table scroll)."""
        model = self.results_model
        header = self.table.horizontalHeader()
        cell = self.table.fontMetrics()
        bold = header.fontMetrics()
        for column in range(model.columnCount()):
            title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
            widest = max((bold.horizontalAdvance(line) for line in title.splitlines()), default=0)
            for row in range(model.rowCount()):
                text = model.data(model.index(row, column))
                widest = max(widest, cell.horizontalAdvance(str(text)) + (8 if column == 2 else 0))
            header.resizeSection(column, widest + 16)

    def _update_summary(self) -> None:
        report = self.report
        if report is None:
            self.summary_label.setText("no analysis yet: choose the settings on the left and press <b>Analyse</b>")
            return
        decided = self.results_model.effective_decisions()
        filling = sum(v == Objective.FILLING.value for v in decided.values())
        mapping = sum(v == Objective.MAPPING.value for v in decided.values())
        undecided = len(report.relations) - len(decided)
        model = Path(report.model).name if "/" in report.model else report.model
        parts = [
            f"model <b>{_esc(model)}</b>",
            f"n = {report.config.n} per relation",
            f"{_objective_span(Objective.FILLING, f'{filling} Filling')}",
            f"{_objective_span(Objective.MAPPING, f'{mapping} Mapping')}",
        ]
        if undecided:
            parts.append(f"{undecided} undecided")
        parts.append(f"{report.elapsed_s:.1f} s")
        if report.model != self.context.project.model_ref():
            parts.append(f'<span style="color:{ERROR_RED}">the project now uses another model: analyse again</span>')
        for warning in report.warnings[:2]:
            parts.append(f'<span style="color:{ERROR_RED}">{_esc(warning)}</span>')
        self.summary_label.setText(" · ".join(parts))

    def selected_relation(self) -> str | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return index.data(RelationResultsModel.RelationRole)

    def select_relation(self, relation: str) -> bool:
        row = self.results_model.row_of(relation)
        if row < 0:
            return False
        index = self.results_proxy.mapFromSource(self.results_model.index(row, 0))
        self.table.setCurrentIndex(index)
        self.table.selectRow(index.row())
        self._show_selected()
        return True

    def _show_selected(self) -> None:
        relation = self.selected_relation()
        row = self.results_model.row_of(relation) if relation else -1
        report = self.results_model.relation_at(row)
        if report is None or self.report is None:
            self.evidence.setHtml(
                f'<p style="color:{MUTED}">Select a relation to see why it was decided as it was '
                "and how its templates rank.</p>"
            )
            self.chart.clear_scores()
            return
        self.evidence.setHtml(self.evidence_html(report))
        self.chart.set_scores(report.relation, report.scores, report.best_template, self.report.config.distractors)

    def evidence_html(self, report: RelationReport) -> str:
        """The selected relation's evidence in words."""
        model = self.results_model
        objective = model.effective_objective(report)
        parts = [f'<h3 style="margin:0">{_esc(report.relation)} → {_objective_span(objective)}</h3>']
        if report.relation in model.overrides:
            parts.append(
                f"<p><b>Set by you.</b> The analysis said {_objective_span(report.objective)} "
                f"({_esc(report.decision.strategy)}); the next run and “Use this recommendation” use your "
                "choice.</p>"
            )
        parts.append(f"<p><b>Recommendation:</b> {_esc(report.recommendation)}.</p>")
        decided_by = report.decision.strategy
        parts.append(
            f"<p>Decided by <b>{_esc(decided_by)}</b>"
            + (": the first strategy, in your order, that could decide." if decided_by in report.votes else ".")
            + "</p>"
        )
        items = []
        for name, vote in report.votes.items():
            mark = " ✔" if name == decided_by else ""
            items.append(f"<li><b>{_esc(name)}</b>{mark} → {_objective_span(vote.objective)}: {_esc(vote.reason)}</li>")
        if items:
            parts.append(
                "<p style='margin-bottom:0'>Each strategy's vote:</p><ul style='margin-top:2px'>"
                + "".join(items)
                + "</ul>"
            )
        probe = report.votes.get("probe")
        if probe is not None and "mi" in probe.evidence:
            e = probe.evidence
            parts.append(
                f"<p style='color:{MUTED}'>Probe on {e.get('n', '?')} examples: the gold answer's tokens rank "
                f"{e['dr_masked']:.1f} on average under <i>{_esc(e.get('masked_template', 'masked'))}</i> and "
                f"{e['dr_prefix']:.1f} under <i>{_esc(e.get('prefix_template', 'prefix'))}</i> (lower is better); "
                f"MI = ({e['dr_prefix']:.1f} − {e['dr_masked']:.1f}) / {e['dr_prefix']:.1f} = {e['mi']:+.2f}, "
                f"threshold {e.get('threshold', self.report.config.threshold):.2f}.</p>"
            )
        if report.scores and self.report.config.distractors:
            chance = 1 / (self.report.config.distractors + 1)
            parts.append(
                f"<p style='color:{MUTED}'>Knowledge check: the gold answer against "
                f"{self.report.config.distractors} distractors; chance is {chance:.0%}.</p>"
            )
        return "".join(parts)

    def _on_overrides_changed(self) -> None:
        self._update_summary()
        self._show_selected()
        if self.report_dict is not None:
            try:
                save_analysis(self.context.project, self.report_dict, self.results_model.overrides)
            except MtoError as exc:
                self.status_label.setText(f"could not save the override: {exc.message}")

    # --- use the recommendation ----------------------------------------------------------------------------------
    def use_recommendation(self) -> ExperimentConfig | None:
        """Write the decisions (with the user's overrides) into the project's objectives and add an experiment."""
        if self.report is None or self.is_running:
            return None
        project = self.context.project
        decisions = self.results_model.effective_decisions()
        if not decisions:
            show_error(
                self,
                "Nothing to use",
                MtoError("no relation was decided", "tick more strategies, or set the decisions by hand"),
            )
            return None
        changed = [r for r, obj in decisions.items() if project.objectives.get(r) != Objective(obj)]
        for relation, objective in decisions.items():
            project.set_objective(relation, objective)
        kind = self.experiment_combo.currentData()
        templates, note = self._experiment_templates(kind)
        try:
            experiment = ExperimentConfig(
                name=self._experiment_name(),
                data=project.data,
                validation_data=project.validation_data,
                test_data=project.test_data,
                columns=columns_spec(project),
                relations=list(self.report.config.relations),
                model=project.model,
                templates=templates,
                baseline="sup",
                objectives=dict(sorted(decisions.items())),
            )
        except MtoError as exc:
            show_error(self, "Cannot prepare the experiment", exc)
            return None
        same = self._same_experiment(project, experiment)
        if same is None:
            project.add_experiment(experiment)
        # The library is rebuilt so that the mixed template (designer preview, data view) follows the decisions.
        self.context.objectives_changed()
        shots = ", ".join(experiment.shots)
        where = (
            f"experiment <b>{_esc(experiment.name)}</b> added to the project ({_esc(' vs '.join(templates))}; "
            f"k = {_esc(shots)} × {len(experiment.seeds)} seeds)"
            if same is None
            else f"the project already has this experiment (<b>{_esc(same)}</b>)"
        )
        text = (
            f"Objectives of {len(decisions)} relation(s) written to the project ({len(changed)} changed); "
            f"{where}{note}. The Trainer picks it up from the project; File ▸ Save keeps it."
        )
        self.notice_label.setText(text)
        self.notice_label.setVisible(True)
        window = self.window()
        if isinstance(window, QMainWindow):
            plain = html.unescape(text.replace("<b>", "").replace("</b>", ""))
            window.statusBar().showMessage(plain, 15000)
        return experiment if same is None else None

    def _experiment_templates(self, kind: str) -> tuple[list[str], str]:
        if kind == "best":
            best = []
            for relation in self.report.relations:
                if relation.best_template and relation.best_template != "sup" and relation.best_template not in best:
                    best.append(relation.best_template)
            if best:
                return [*best, "sup"], ""
            return ["mixed", "sup"], " (every relation's best template was sup, so it compares mixed with sup)"
        return ["mixed", "sup"], ""

    def _experiment_name(self) -> str:
        taken = {e.get("name") for e in self.context.project.experiments}
        number = 1
        while f"analyzer-{number}" in taken:
            number += 1
        return f"analyzer-{number}"

    @staticmethod
    def _same_experiment(project: Project, experiment: ExperimentConfig) -> str | None:
        wanted = {k: v for k, v in experiment.to_dict().items() if k != "name"}
        for existing in project.experiment_configs():
            if {k: v for k, v in existing.to_dict().items() if k != "name"} == wanted:
                return existing.name
        return None

    # --- the project -----------------------------------------------------------------------------------------------
    def _load_saved(self) -> None:
        try:
            saved = load_analysis(self.context.project)
        except MtoError as exc:
            self.show_report(None)
            self.status_label.setText(f"{exc.message} ({exc.hint})")
            return
        if saved is None:
            self.show_report(None)
            self.status_label.setText("")
            return
        raw, report, overrides = saved
        self.apply_config(report.config)
        self.show_report(raw, overrides)
        self.status_label.setText(f"the last analysis, from {ANALYSIS_FILE}")

    def _on_project_changed(self) -> None:
        project = self.context.project
        if project is self._project:
            if project.folder != self._folder and self.report_dict is not None:
                try:  # saved as a copy elsewhere: the report goes along
                    save_analysis(project, self.report_dict, self.results_model.overrides)
                except MtoError as exc:
                    self.status_label.setText(f"could not copy {ANALYSIS_FILE}: {exc.message}")
        else:
            if self.worker is not None and self.worker.is_running:
                self.cancel()  # its result belongs to the project that was closed
            self.notice_label.setVisible(False)
            self._load_saved()
        self._project, self._folder = project, project.folder
        self._refresh_source_label()
        self._update_summary()

    # --- workbench protocol ------------------------------------------------------------------------------------
    def save_state(self, settings) -> None:
        settings.setValue("analyzer/splitter", self.splitter.saveState())
        settings.setValue("analyzer/vsplitter", self.vsplitter.saveState())
        settings.setValue("analyzer/evidence-splitter", self.evidence_splitter.saveState())

    def restore_state(self, settings) -> None:
        for key, splitter in (
            ("analyzer/splitter", self.splitter),
            ("analyzer/vsplitter", self.vsplitter),
            ("analyzer/evidence-splitter", self.evidence_splitter),
        ):
            state = settings.value(key)
            if state is not None:
                splitter.restoreState(state)
