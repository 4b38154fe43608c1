"""The Analyzer's results: the decisions per relation (the user may set them), a summary line, the selected
relation's evidence in words and its template ranking chart, and “Use this recommendation”, which writes the
decisions into the project and prepares an experiment from them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mto_studio.core.analysis.analyze import AnalysisConfig, AnalysisReport, RelationReport, report_from_dict
from mto_studio.core.errors import MtoError
from mto_studio.core.project import Project
from mto_studio.core.templates import Objective
from mto_studio.core.templates.colours import OBJECTIVE_COLOURS
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.gui.context import StudioContext
from mto_studio.gui.dialogs import show_error
from mto_studio.gui.format import esc as _esc
from mto_studio.gui.models.analysis import AUTO, RelationResultsModel, objective_text
from mto_studio.gui.plots.template_ranking import SIGNALS_HTML, TemplateRankingChart
from mto_studio.gui.theme import ERROR_RED, MUTED

EXPERIMENT_CHOICES = [
    ("mixed", "mixed vs sup (each relation gets its matched template)"),
    ("best", "each relation's best template vs sup"),
]


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
        combo.activated.connect(lambda _i, c=combo: self.commitData.emit(c))
        combo.activated.connect(lambda _i, c=combo: self.closeEditor.emit(c))
        return combo

    def setEditorData(self, editor, index):  # noqa: N802 - Qt override
        value = index.data(Qt.ItemDataRole.EditRole) or AUTO
        editor.setCurrentIndex(max(0, editor.findData(value)))

    def setModelData(self, editor, model, index):  # noqa: N802 - Qt override
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class AnalysisResults(QSplitter):
    """The decisions table over the evidence and the chart. ``report`` is the report shown (None: no analysis yet);
    ``busy``: an analysis runs, so the recommendation cannot be used meanwhile."""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.setObjectName("analyzer-vsplitter")
        self.context = context
        self.report: AnalysisReport | None = None
        self.report_dict: dict[str, Any] | None = None
        self.busy = False
        self.addWidget(self._build_table())
        self.addWidget(self._build_evidence())
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.setSizes([360, 540])

    def _build_table(self) -> QWidget:
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
        return top

    def _build_evidence(self) -> QSplitter:
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
        return bottom

    # --- the report ------------------------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        ready = not busy and self.report is not None
        self.use_button.setEnabled(ready)
        self.experiment_combo.setEnabled(ready)

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
        self.update_summary()
        self.set_busy(self.busy)
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

    def update_summary(self) -> None:
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

    def _on_overrides_changed(self) -> None:
        self.update_summary()
        self._show_selected()

    # --- the selected relation ---------------------------------------------------------------------------------
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
        self.evidence.setHtml(self.evidence_html(report, self.report.config))
        self.chart.set_scores(report.relation, report.scores, report.best_template, self.report.config.distractors)

    def evidence_html(self, report: RelationReport, config: AnalysisConfig) -> str:
        """The selected relation's evidence in words (``config``: the analysis's settings)."""
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
        decided_by, passed = report.decision.strategy, report.decision.evidence.get("fell_through") or []
        why = ": the first strategy, in your order, that could decide" if decided_by in report.votes else ""
        after = f" ({', '.join(passed)} inconclusive)" if passed else ""
        parts.append(f"<p>Decided by <b>{_esc(decided_by)}</b>{_esc(why + after)}.</p>")
        items = []
        for name, vote in report.votes.items():
            mark = " ✔" if name == decided_by else ""
            said = _objective_span(vote.objective, "inconclusive" if vote.inconclusive else None)
            items.append(f"<li><b>{_esc(name)}</b>{mark} → {said}: {_esc(vote.reason)}</li>")
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
                f"threshold {e.get('threshold', config.threshold):.2f}.</p>"
            )
        if report.scores and config.distractors:
            chance = 1 / (config.distractors + 1)
            parts.append(
                f"<p style='color:{MUTED}'>Knowledge check: the gold answer against "
                f"{config.distractors} distractors; chance is {chance:.0%}.</p>"
            )
        return "".join(parts)

    # --- use the recommendation ----------------------------------------------------------------------------------
    def use_recommendation(self) -> ExperimentConfig | None:
        """Write the decisions (with the user's overrides) into the project's objectives and add an experiment."""
        if self.report is None or self.busy:
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
        templates, note = self._experiment_templates(self.report.relations, self.experiment_combo.currentData())
        try:
            experiment = ExperimentConfig(
                name=self._experiment_name(),
                data=project.data,
                validation_data=project.validation_data,
                test_data=project.test_data,
                columns=project.columns_spec(),
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

    @staticmethod
    def _experiment_templates(relations: list[RelationReport], kind: str) -> tuple[list[str], str]:
        if kind == "best":
            best = [t for t in dict.fromkeys(r.best_template for r in relations) if t and t != "sup"]
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
