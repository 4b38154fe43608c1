"""The Analyzer workbench driven as a user would: settings, a background run with progress, cancel, errors, the
results table and evidence, the template-ranking chart, overrides, "Use this recommendation", and reopening."""

import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QComboBox  # noqa: E402

from mto_studio.core.analysis.analyze import (  # noqa: E402
    AnalysisCancelled,
    AnalysisConfig,
    AnalysisDone,
    AnalysisReport,
    RelationReport,
    TemplateScore,
    report_from_dict,
)
from mto_studio.core.jobs.events import Progress  # noqa: E402
from mto_studio.core.objectives.strategies import Decision  # noqa: E402
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.templates import Objective  # noqa: E402

RUN_TIMEOUT_MS = 120_000
RELATIONS = ["AtLocation", "xIntent"]
TEMPLATES = ["sup", "sup-nat", "unsup-nat"]


def analyzer_on(window, *, relations=RELATIONS, templates=TEMPLATES, strategies=("probe", "rules"), n=3, distractors=3):
    """The analyzer with small, fast settings (two relations, three templates, three examples)."""
    window.show_workbench("analyzer")
    view = window.workbench("analyzer")
    view.settings.set_strategies(list(strategies))
    view.settings.templates_model.set_checked(templates)
    view.settings.relations_model.set_checked(relations)
    view.settings.n_spin.setValue(n)
    view.settings.distractors_spin.setValue(distractors)
    view.settings.seed_spin.setValue(0)
    return view


def run_to_end(qtbot, view):
    events = []
    worker = view.start()
    assert worker is not None, "the analysis did not start"
    worker.emitted.connect(events.append)
    qtbot.waitUntil(lambda: not view.is_running, timeout=RUN_TIMEOUT_MS)
    assert worker.is_finished and view.worker is None
    return events


def table_rows(view):
    model = view.results.results_proxy
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    return [{h: model.index(r, c).data() for c, h in enumerate(headers)} for r in range(model.rowCount())]


# --- running ------------------------------------------------------------------------------------------------------
def test_the_analysis_runs_in_the_background_and_fills_the_table_and_the_chart(window, qtbot):
    view = analyzer_on(window)
    assert view.results.summary_label.text().startswith("no analysis yet")
    worker = view.start()
    events = []
    worker.emitted.connect(events.append)
    assert view.is_running and not view.run_button.isEnabled() and view.cancel_button.isEnabled()
    assert view.start() is None, "a second run cannot start while one runs"
    assert not view.results.use_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_running, timeout=RUN_TIMEOUT_MS)
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled() and view.results.use_button.isEnabled()

    progress = [e for e in events if isinstance(e, Progress)]
    # strategies × relations + ranking per relation, plus the scoring passes (all pairs scored in one go first)
    scoring = [e for e in progress if e.message.startswith("scoring ")]
    assert scoring and progress[-1].done == progress[-1].total == 3 * len(RELATIONS) + scoring[-1].done
    assert [e.done for e in progress] == sorted(e.done for e in progress), "the bar only moves forward"
    assert view.progress.maximum() == progress[-1].total
    assert isinstance(events[-1], AnalysisDone)
    assert view.status_label.text().startswith("done: 2 relation(s)") and "analysis.json" in view.status_label.text()

    report = view.report
    assert [r.relation for r in report.relations] == RELATIONS
    assert report.config.model == window.context.project.model_ref() and report.config.templates == TEMPLATES
    rows = table_rows(view)
    assert [row["Relation"] for row in rows] == RELATIONS
    for row, relation in zip(rows, report.relations, strict=True):
        probe = relation.votes["probe"].evidence
        assert row["Decision"] == relation.objective.value.capitalize()
        # a random model's probe is inconclusive when its MI interval includes 0: the rules decide then
        by = "rules (probe inconclusive)" if relation.votes["probe"].inconclusive else "probe"
        assert row["Decided\nby"] == by and relation.decision.strategy == by.split()[0]
        assert row["MI"] == f"{probe['mi']:+.2f}" and row["DR\nmasked"] == f"{probe['dr_masked']:.1f}"
        assert row["LL\nprefix"] == f"{probe['ll_prefix']:.2f}"
        assert row["Rules\nvote"] == relation.votes["rules"].objective.value.capitalize()
        assert row["Best\ntemplate"] == relation.best_template
    assert rows[0]["Rules\nvote"] == "Filling" and rows[1]["Rules\nvote"] == "Mapping"

    # The chart shows the selected (first) relation: one bar per template, lengths = the report's log-likelihoods.
    first = report.relations[0]
    chart = view.results.chart
    assert view.results.selected_relation() == first.relation == chart.relation
    bars = chart.fit_bars()
    assert len(bars) == len(first.scores) == 3
    by_template = {s.template: s for s in first.scores}
    for bar in bars:
        assert bar.value == pytest.approx(by_template[bar.template].log_likelihood, abs=1e-9)
        assert (bar.low, bar.high) == pytest.approx(by_template[bar.template].log_likelihood_ci)
    assert [b.value for b in bars] == sorted((b.value for b in bars), reverse=True), "best format fit on top"
    assert [b.template for b in bars if b.recommended] == [first.best_template]
    knowledge = chart.knowledge_bars()
    assert [b.template for b in knowledge] == [b.template for b in bars]
    assert [b.value for b in knowledge] == pytest.approx([by_template[b.template].choice_accuracy for b in knowledge])
    assert chart.chance_line.isVisible() and chart.chance_line.value() == pytest.approx(1 / 4)
    assert "Format fit" in view.results.chart_caption.text() and "Knowledge" in view.results.chart_caption.text()

    saved = json.loads((window.context.project.folder / "analysis.json").read_text())
    assert report_from_dict(saved["report"]).decisions() == report.decisions()


def test_selecting_a_relation_shows_its_evidence_and_its_ranking(window, qtbot):
    view = analyzer_on(window)
    run_to_end(qtbot, view)
    xintent = view.report.relations[1]
    proxy_row = view.results.results_proxy.mapFromSource(view.results.results_model.index(1, 0)).row()
    view.results.table.selectRow(proxy_row)
    assert view.results.selected_relation() == "xIntent" and view.results.chart.relation == "xIntent"
    text = view.results.evidence.toPlainText()
    assert text.startswith(f"xIntent → {xintent.objective.value.capitalize()}")
    assert xintent.recommendation in text
    for name, vote in xintent.votes.items():
        assert f"{name}" in text and vote.reason in text
    assert "Knowledge check: the gold answer against 3 distractors; chance is 25%" in text
    assert {b.template for b in view.results.chart.fit_bars()} == {s.template for s in xintent.scores}
    assert [b.value for b in view.results.chart.fit_bars()] == pytest.approx(
        sorted((s.log_likelihood for s in xintent.scores), reverse=True)
    )
    # Sorting the table keeps the selection on the same relation.
    view.results.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
    assert view.results.selected_relation() == "xIntent"


def test_cancel_stops_the_worker_and_returns_to_idle(window, qtbot, dialogs):
    view = analyzer_on(window, relations=[])  # every relation: long enough to cancel in the middle
    view.settings.relations_model.set_all(True)
    events = []
    worker = view.start()
    worker.emitted.connect(events.append)
    worker.emitted.connect(lambda e: view.cancel() if isinstance(e, Progress) and e.done >= 1 else None)
    qtbot.waitUntil(lambda: not view.is_running, timeout=RUN_TIMEOUT_MS)
    assert worker.is_finished and not worker.is_running and view.worker is None
    assert any(isinstance(e, AnalysisCancelled) for e in events)
    assert not any(isinstance(e, AnalysisDone) for e in events)
    assert "cancelled" in view.status_label.text()
    assert view.state == "idle" and view.run_button.isEnabled() and not view.cancel_button.isEnabled()
    assert view.report is None and not (window.context.project.folder / "analysis.json").exists()
    assert dialogs.shown == []


def test_cancel_right_after_start_is_honoured(window, qtbot):
    view = analyzer_on(window)
    events = []
    worker = view.start()
    worker.emitted.connect(events.append)
    view.cancel()
    assert view.state == "cancelling" and not view.cancel_button.isEnabled() and not view.run_button.isEnabled()
    qtbot.waitUntil(lambda: not view.is_running, timeout=RUN_TIMEOUT_MS)
    assert isinstance(events[-1], AnalysisCancelled) and "cancelled" in view.status_label.text()


def test_closing_the_window_stops_a_running_analysis(window, qtbot):
    view = analyzer_on(window)
    worker = view.start()
    view.shutdown()
    assert worker.is_finished and not worker.is_running, "closing waits for the analysis to stop"
    qtbot.waitUntil(lambda: not view.is_running, timeout=RUN_TIMEOUT_MS)
    assert view.worker is None and view.state == "idle"


def test_a_bad_masked_template_gives_a_dialog_and_the_view_stays_usable(window, qtbot, dialogs):
    view = analyzer_on(window)
    view.settings.masked_combo.setCurrentIndex(view.settings.masked_combo.findData("sup"))
    assert view.settings.probe_error.isVisible() and "has no sentinel" in view.settings.probe_error.text()
    assert view.settings.masked_combo.property("invalid") is True
    assert view.start() is None and not view.is_running
    assert len(dialogs.shown) == 1
    shown = dialogs.shown[0]
    assert shown["title"] == "Cannot run the analysis"
    assert "'sup' has no sentinel in its source" in shown["text"]
    assert shown["info"] == "How to fix it: pick a filling template such as unsup-nat"
    view.settings.masked_combo.setCurrentIndex(view.settings.masked_combo.findData("unsup-nat"))
    assert not view.settings.probe_error.isVisible()
    run_to_end(qtbot, view)
    assert view.report is not None and len(dialogs.shown) == 1


def test_a_missing_model_fails_in_the_worker_with_a_dialog(window, qtbot, dialogs, tmp_path):
    view = analyzer_on(window)
    window.context.project.model = str(tmp_path / "no-model-here")
    run_to_end(qtbot, view)
    assert len(dialogs.shown) == 1 and dialogs.shown[0]["title"] == "Cannot run the analysis"
    assert "no-model-here" in dialogs.shown[0]["text"] and dialogs.shown[0]["info"].startswith("How to fix it:")
    assert view.last_error is not None and view.state == "idle" and view.run_button.isEnabled()
    assert "error" in view.status_label.text()


def test_nothing_ticked_is_refused_with_a_dialog(window, qtbot, dialogs):
    view = analyzer_on(window)
    view.settings.relations_model.set_all(False)
    assert view.start() is None
    assert "no relation is ticked" in dialogs.shown[-1]["text"]
    view.settings.relations_model.set_all(True)
    view.settings.templates_model.set_checked([])
    assert view.start() is None and "no candidate template" in dialogs.shown[-1]["text"]


# --- overrides and using the recommendation ----------------------------------------------------------------------
def test_use_this_recommendation_writes_objectives_and_adds_an_experiment(window, qtbot):
    view = analyzer_on(window)
    run_to_end(qtbot, view)
    context, project = window.context, window.context.project
    analysed = view.report.decisions()
    assert project.objectives == {} and project.experiments == []
    # The user sets xIntent by hand through the decision column's editor.
    flipped = "filling" if analysed["xIntent"] == "mapping" else "mapping"
    index = view.results.results_proxy.mapFromSource(
        view.results.results_model.index(1, view.results.results_model.column_of("decision"))
    )
    view.results.table.setCurrentIndex(index)
    view.results.table.edit(index)
    editor = view.results.table.findChild(QComboBox, "decision-editor")
    assert editor is not None
    editor.setCurrentIndex(editor.findData(flipped))
    editor.activated.emit(editor.currentIndex())
    assert view.results.results_model.overrides == {"xIntent": flipped}
    assert (
        index.data() == f"{flipped.capitalize()}  ✎"
        and view.results.results_proxy.index(index.row(), 3).data() == "you"
    )
    assert "Set by you" in view.results.evidence.toPlainText()
    assert view.current_config().objectives_override == {"xIntent": flipped}
    saved = json.loads((project.folder / "analysis.json").read_text())
    assert saved["overrides"] == {"xIntent": flipped}

    with qtbot.waitSignal(context.library_changed, timeout=1000):
        view.results.use_button.click()
    wanted = {**analysed, "xIntent": flipped}
    assert {r: o.value for r, o in project.objectives.items()} == wanted
    assert context.library.objective_for("xIntent") == (Objective(flipped), "analysis")
    assert len(project.experiments) == 1
    experiment = project.experiment_configs()[0]
    assert experiment.name == "analyzer-1" and experiment.templates == ["mixed", "sup"]
    assert experiment.baseline == "sup" and experiment.shots == ["8", "32", "full"] and experiment.seeds == [0, 1, 2]
    assert experiment.objectives == wanted and experiment.relations == RELATIONS
    assert experiment.model == project.model and experiment.data == project.data
    assert project.is_modified and window.isWindowModified()
    message = window.statusBar().currentMessage()
    assert "analyzer-1" in message and "Objectives of 2 relation(s)" in message
    assert view.results.notice_label.isVisible() and "Trainer" in view.results.notice_label.text()
    # The mixed template now follows the decision in the designer's preview.
    rendered = context.library.render("mixed", "xIntent", "PersonX naps", "to rest")
    assert rendered.template == ("unsup-nat" if flipped == "filling" else "sup-nat")

    view.results.use_button.click()
    assert len(project.experiments) == 1, "the same experiment is not added twice"
    assert "already has this experiment" in view.results.notice_label.text()
    view.results.experiment_combo.setCurrentIndex(view.results.experiment_combo.findData("best"))
    view.results.use_button.click()
    best = [t for t in dict.fromkeys(r.best_template for r in view.report.relations) if t != "sup"]
    if best:
        second = project.experiment_configs()[1]
        assert second.name == "analyzer-2" and second.templates == [*best, "sup"] and second.baseline == "sup"
    else:  # every relation's best template was sup: it falls back to mixed vs sup, which the project has
        assert (
            len(project.experiments) == 1
            and "every relation's best template was sup" in view.results.notice_label.text()
        )


def test_an_override_is_used_by_the_next_run(window, qtbot):
    view = analyzer_on(window, relations=["xIntent"], strategies=("rules",), templates=["sup"], distractors=0)
    run_to_end(qtbot, view)
    assert view.report.relations[0].objective is Objective.MAPPING
    assert view.results.results_model.set_override("xIntent", "filling")
    run_to_end(qtbot, view)
    relation = view.report.relations[0]
    assert relation.decision.strategy == "user" and relation.objective is Objective.FILLING
    assert view.results.results_model.set_override("xIntent", "auto") and view.results.results_model.overrides == {}
    assert not view.results.chart.knowledge.drawn and view.results.chart.knowledge.note.isVisible(), (
        "knowledge check off"
    )


def test_the_last_report_comes_back_when_the_project_reopens(window, qtbot, tmp_path):
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.workbenches.analyzer.view import AnalyzerWorkbench

    view = analyzer_on(window, n=4, distractors=2)
    view.settings.threshold_spin.setValue(0.25)
    run_to_end(qtbot, view)
    view.results.results_model.set_override(
        "AtLocation", "mapping" if view.report.relations[0].objective is Objective.FILLING else "filling"
    )
    decisions = view.results.results_model.effective_decisions()

    reopened = StudioContext(Project.load(window.context.project.folder))
    other = AnalyzerWorkbench(reopened)
    qtbot.addWidget(other)
    assert other.report is not None and other.results.results_model.effective_decisions() == decisions
    assert other.results.results_model.rowCount() == 2 and other.results.chart.relation == "AtLocation"
    assert (other.settings.n_spin.value(), other.settings.distractors_spin.value()) == (4, 2)
    assert other.settings.threshold_spin.value() == pytest.approx(0.25)
    assert (
        other.settings.strategies() == ["probe", "rules"] and other.settings.templates_model.checked_keys() == TEMPLATES
    )
    assert "last analysis" in other.status_label.text()

    # Opening another project shows its own (here: no) analysis; save-as carries the report along.
    window.new_project(str(tmp_path / "fresh"))
    assert view.report is None and view.results.results_model.rowCount() == 0
    assert "no analysis yet" in view.results.summary_label.text()
    window.open_project(str(reopened.project.folder))
    assert view.report is not None
    window.save_as(str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "analysis.json").is_file()
    reopened.shutdown()


def test_a_broken_analysis_file_is_reported_quietly(window, qtbot, dialogs):
    folder = window.context.project.folder
    (folder / "analysis.json").write_text("{not json")
    window.open_project(str(folder))
    view = window.workbench("analyzer")
    assert view.report is None and "cannot read analysis.json" in view.status_label.text()
    assert dialogs.shown == []


# --- the item models and the chart on their own ---------------------------------------------------------------------
def fake_report(distractors: int = 9) -> AnalysisReport:
    cfg = AnalysisConfig(
        templates=["sup", "unsup-nat", "sup-nat"],
        strategies=["probe", "rules", "classifier"],
        distractors=distractors,
        relations=["AtLocation", "xIntent", "Causes"],
    )
    relations = []
    for relation, mi, rule in (
        ("AtLocation", 0.41, Objective.FILLING),
        ("xIntent", -0.5, Objective.MAPPING),
        ("Causes", 0.1, None),
    ):
        probe_objective = Objective.FILLING if mi >= 0.3 else Objective.MAPPING
        probe = Decision(
            relation,
            "probe",
            probe_objective,
            f"MI {mi:.2f}",
            {"mi": mi, "dr_masked": 10.0, "dr_prefix": 20.0, "ll_masked": -2.0, "ll_prefix": -3.0, "n": 5},
        )
        votes = {
            "probe": probe,
            "rules": Decision(relation, "rules", rule, "rule table"),
            "classifier": Decision(relation, "classifier", None, "no model"),
        }
        scores = [
            TemplateScore(
                relation,
                name,
                objective,
                5,
                ll,
                (ll - 0.4, ll + 0.3),
                12.0,
                (10.0, 14.0),
                acc,
                (max(0.0, acc - 0.2), min(1.0, acc + 0.2)),
            )
            for name, objective, ll, acc in (
                ("sup", "mapping", -3.1, 0.2),
                ("unsup-nat", "filling", -1.9, 0.8),
                ("sup-nat", "mapping", -2.6, 0.4),
            )
        ]
        best = "unsup-nat" if probe_objective is Objective.FILLING else "sup-nat"
        relations.append(RelationReport(relation, 40, probe, votes, scores, best, f"{relation}: advice"))
    return AnalysisReport(cfg, relations, "tiny", 1.5)


def test_item_models_pass_the_model_tester(qtmodeltester):
    from mto_studio.core.templates import TemplateLibrary
    from mto_studio.gui.models.analysis import ChoiceListModel, RelationResultsModel
    from mto_studio.gui.workbenches.analyzer.settings import template_choice

    results = RelationResultsModel()
    results.set_report(fake_report(), {"Causes": "filling"})
    qtmodeltester.check(results)
    assert results.columnCount() == 9 + 3 + 1 and results.rowCount() == 3
    assert results.index(2, results.column_of("decision")).data() == "Filling  ✎"
    assert results.index(2, results.column_of("by")).data() == "you"
    classifier = results.index(0, results.column_of("vote:classifier"))
    assert classifier.data() == "—" and classifier.data(Qt.ItemDataRole.ToolTipRole) == "no model"
    assert results.setData(results.index(0, results.column_of("decision")), "mapping", Qt.ItemDataRole.EditRole)
    assert results.effective_decisions() == {"AtLocation": "mapping", "xIntent": "mapping", "Causes": "filling"}
    assert not results.setData(results.index(0, 0), "x", Qt.ItemDataRole.EditRole), "only the decision is editable"
    assert not results.setData(results.index(0, results.column_of("decision")), "mixed", Qt.ItemDataRole.EditRole)
    qtmodeltester.check(results)
    results.set_report(None)
    assert results.rowCount() == 0 and results.columnCount() == 0
    qtmodeltester.check(results)

    choices = ChoiceListModel()
    choices.set_choices([template_choice(t) for t in TemplateLibrary()], ["sup", "mixed", "unsup-nat"])
    qtmodeltester.check(choices)
    assert choices.checked_keys() == ["sup", "unsup-nat"], "a disabled template is never checked"
    mixed = choices.index(choices.row_of("mixed"))
    assert not mixed.flags() & Qt.ItemFlag.ItemIsEnabled and "mixed template" in mixed.data(Qt.ItemDataRole.ToolTipRole)
    soft = choices.index(choices.row_of("prompt-sup"))
    assert "soft-prompt" in soft.data(Qt.ItemDataRole.ToolTipRole)
    assert not choices.setData(mixed, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert choices.setData(
        choices.index(choices.row_of("sup")), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole
    )
    assert choices.checked_keys() == ["unsup-nat"]
    qtmodeltester.check(choices)


def test_the_chart_is_updated_in_place(qtbot):
    from mto_studio.gui.plots.template_ranking import TemplateRankingChart

    chart = TemplateRankingChart()
    qtbot.addWidget(chart)
    report = fake_report()
    items_before = list(chart.fit.plot.items)
    at_location = report.relations[0]
    chart.set_scores(at_location.relation, at_location.scores, at_location.best_template, 9)
    bars = chart.fit_bars()
    assert [(b.template, b.value) for b in bars] == [("unsup-nat", -1.9), ("sup-nat", -2.6), ("sup", -3.1)]
    assert [b.recommended for b in bars] == [True, False, False]
    assert [b.value for b in chart.knowledge_bars()] == pytest.approx([0.8, 0.4, 0.2])
    assert chart.chance_line.value() == pytest.approx(0.1) and "10%" in chart.chance_line.label.format
    ticks = chart.fit.plot.getAxis("left")._tickLevels[0]
    assert [name for _, name in ticks] == ["★ unsup-nat", "sup-nat", "sup"]
    chart.set_scores("xIntent", report.relations[1].scores[:2], "sup", 0)
    assert len(chart.fit_bars()) == 2 and chart.knowledge_bars() == [] and not chart.chance_line.isVisible()
    assert sum(label.isVisible() for label in chart.fit.labels) == 2
    created = [i for i in chart.fit.plot.items if i not in items_before]
    assert all(type(i).__name__ == "TextItem" for i in created), "bars and whiskers are reused, not re-created"
    chart.clear_scores()
    assert chart.fit_bars() == [] and chart.relation is None
