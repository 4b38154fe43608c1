"""The Analyzer's settings column: the decision strategies in their order and the probe's options, the templates to
rank, the examples and the relations. It reads and writes an AnalysisConfig; running it is the workbench's
business."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.analysis.analyze import AnalysisConfig
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.objectives.strategies import check_probe_templates, strategy_names
from mto_studio.core.templates import Objective, Template
from mto_studio.gui.context import StudioContext
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.analysis import Choice, ChoiceListModel
from mto_studio.gui.theme import ERROR_RED, set_invalid
from mto_studio.gui.widgets.fields import config_double, config_spin, settings_layout

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


class AnalyzerSettings(QWidget):
    """The form. It follows the context's library, data and model; ``refresh()`` fills it the first time."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._build()
        context.library_changed.connect(self.refresh_templates)
        context.data_changed.connect(self.refresh_relations)
        context.data_changed.connect(self.refresh_source_label)
        context.tokenizer_changed.connect(self.refresh_source_label)

    def _build(self) -> None:
        layout = settings_layout(
            self,
            "Analyzer",
            "Which objective did the model learn each relation through, Filling or Mapping? And which "
            "template fits it best, zero-shot, before any training?",
        )
        self.source_label = QLabel()
        self.source_label.setObjectName("analysis-source")
        self.source_label.setWordWrap(True)
        self.source_label.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.source_label)
        layout.addWidget(self._build_strategies())
        layout.addWidget(self._build_templates())
        layout.addWidget(self._build_examples())
        layout.addStretch(1)

    def _build_strategies(self) -> QGroupBox:
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
        self.threshold_spin = config_double(
            AnalysisConfig, "threshold", "analysis-threshold", step=0.05,
            tip="the published T5-base values run from −0.66 for xIntent to 0.48 for xAttr",
        )  # fmt: skip
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
        return strategies_box

    def _build_templates(self) -> QGroupBox:
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
        return templates_box

    def _build_examples(self) -> QGroupBox:
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
        self.relations_model = ChoiceListModel(self)
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
        self.relations_view = QListView()
        self.relations_view.setObjectName("analysis-relations")
        self.relations_view.setModel(self.relations_model)
        self.relations_view.setUniformItemSizes(True)
        examples_layout.addWidget(self.relations_view)
        return examples_box

    # --- strategies ----------------------------------------------------------------------------------------------
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

    # --- following the context -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_templates()
        self.refresh_relations()
        self.refresh_source_label()

    @staticmethod
    def _fill_template_combo(combo: QComboBox, templates: list[Template], default: str) -> None:
        current = combo.currentData() or default
        combo.blockSignals(True)
        combo.clear()
        for template in templates:
            combo.addItem(f"{template.name}  ({template.objective.value})", template.name)
        index = combo.findData(current)
        combo.setCurrentIndex(index if index >= 0 else max(0, combo.findData(default)))
        combo.blockSignals(False)

    def refresh_templates(self) -> None:
        templates = list(self.context.library)
        checked = self.templates_model.checked_keys() if self.templates_model.rowCount() else DEFAULTS.templates
        self.templates_model.set_choices([template_choice(t) for t in templates], checked)
        fit_list_height(self.templates_view, len(templates), 9)
        concrete = [t for t in templates if not t.is_mixed]
        filling_first = sorted(concrete, key=lambda t: t.objective is not Objective.FILLING)
        mapping_first = sorted(concrete, key=lambda t: t.objective is not Objective.MAPPING)
        self._fill_template_combo(self.masked_combo, filling_first, DEFAULTS.masked_template)
        self._fill_template_combo(self.prefix_combo, mapping_first, DEFAULTS.prefix_template)
        self._check_probe_inline()

    def refresh_relations(self) -> None:
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

    def refresh_source_label(self) -> None:
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

    # --- the probe's templates -----------------------------------------------------------------------------------
    def _check_probe_inline(self) -> None:
        """Flag an unusable probe template pair at once (the run would refuse it with the same words)."""
        error = self.probe_problem()
        self.probe_error.setText(f"{_esc(error.message)}<br>Fix: {_esc(error.hint)}" if error else "")
        self.probe_error.setVisible(error is not None)
        set_invalid(self.masked_combo, error is not None and "masked" in error.message)
        set_invalid(self.prefix_combo, error is not None and "prefix" in error.message)

    def probe_problem(self) -> MtoError | None:
        """Why the chosen masked and prefix templates cannot make a probe (None: they can)."""
        masked, prefix = self.masked_combo.currentData(), self.prefix_combo.currentData()
        if not masked or not prefix:
            return None
        try:
            check_probe_templates(self.context.library.get(masked), self.context.library.get(prefix))
        except MtoError as exc:
            return exc
        return None

    # --- the config ----------------------------------------------------------------------------------------------
    def config(self, overrides: dict[str, str]) -> AnalysisConfig:
        """The analysis the settings describe, on the project's model and data, with the user's ``overrides`` of
        the decisions (raises ConfigError)."""
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
        data = project.run_data_refs()["data"]
        assert data is not None, "a project always has training data"
        return AnalysisConfig(
            data=data,
            model=project.model_ref(),
            columns=project.columns_spec(),
            relations=relations,
            templates=templates,
            strategies=strategies,
            n=self.n_spin.value(),
            seed=self.seed_spin.value(),
            threshold=round(self.threshold_spin.value(), 4),
            masked_template=self.masked_combo.currentData() or DEFAULTS.masked_template,
            prefix_template=self.prefix_combo.currentData() or DEFAULTS.prefix_template,
            distractors=self.distractors_spin.value(),
            objectives_override=dict(overrides),
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
