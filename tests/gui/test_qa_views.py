"""Multiple-choice QA in the GUI: the Data view shows each question's choices with the right one marked and how the
answers were given; the run tables show a QA run's accuracy next to ROUGE-L (labelled with where it comes from) and
completion runs exactly as before; the designer offers the QA slots; the analyzer shows zero-shot accuracy."""

import json

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from mto_studio.core.data import load_task_data  # noqa: E402
from mto_studio.core.jobs.events import EvalDone, RunFinished, RunStarted, StepLogged  # noqa: E402
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.store import RunStore  # noqa: E402
from mto_studio.core.templates import SlotKind  # noqa: E402
from mto_studio.gui.models.data_table import RawTableModel  # noqa: E402
from mto_studio.gui.models.runs import RunsTreeModel  # noqa: E402
from mto_studio.gui.models.training import ExperimentRunsModel, RunInfo  # noqa: E402
from mto_studio.gui.workbenches.data.qa import qa_rows_by_row  # noqa: E402

LOAD_TIMEOUT_MS = 30_000
QA_METRICS = {"rougeL": 0.512, "exact_match": 0.4, "accuracy": 0.625, "accuracy_ranked": 0.75, "matched": 0.9}
COMPLETION_METRICS = {"rougeL": 0.433, "exact_match": 0.2}


@pytest.fixture(scope="module")
def world_qa():
    return load_task_data("world-qa")


def first_rows(task, n):
    """The first ``n`` lines of the QA file as written: (question, choices, answer label)."""
    with open(task.raw.source, encoding="utf-8") as handle:
        rows = [json.loads(next(handle)) for _ in range(n)]
    return [(r["question"], r["choices"], r["answer"]) for r in rows]


def test_raw_rows_of_qa_data_show_the_choices_with_the_answer_marked(qtmodeltester, world_qa):
    model = RawTableModel()
    model.set_table(world_qa.raw, world_qa.mapping, qa_rows_by_row(world_qa))
    qtmodeltester.check(model)
    column = model.columns.index(RawTableModel.QA_COLUMN)
    assert model.columns[column - 1] == "question" and model.is_qa  # right after the question
    for row, (question, choices, answer) in enumerate(first_rows(world_qa, 5)):
        text = model.index(row, column).data()
        right = "ABCDEFGH".index(answer)
        assert text.count("✓") == 1
        assert f"✓{answer}) {choices[right]}" in text, text
        assert all(f"{'ABCDEFGH'[i]}) {c}" in text for i, c in enumerate(choices))
        assert question in model.index(row, column).data(Qt.ItemDataRole.ToolTipRole)
        assert model.index(row, column).data(Qt.ItemDataRole.UserRole) == right
        assert model.drop_reason(row) is None
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert "question  ▸ question" in headers and "answer  ▸ answer" in headers and "choices  ▸ choices" in headers


def test_completion_rows_gain_no_choices_column(world_qa, small_world_tsv):
    task = load_task_data(small_world_tsv)
    model = RawTableModel()
    model.set_table(task.raw, task.mapping, qa_rows_by_row(task))
    assert model.columns == task.raw.columns and not model.is_qa


@pytest.fixture
def default_project(isolated, tiny_model_dir) -> Project:
    project = Project.open_or_create_default()
    project.model = str(tiny_model_dir)
    project.data = "world-qa"
    project.save()
    return project


def test_the_data_view_shows_world_qa_questions(window, world_qa):
    window.show_workbench("data")
    view = window.workbench("data")
    assert view.context.data.task.kind == "qa"
    model = view.rows_model
    column = model.columns.index(RawTableModel.QA_COLUMN)
    question, choices, answer = first_rows(world_qa, 1)[0]
    assert f"✓{answer}) {choices['ABCDEFGH'.index(answer)]}" in model.index(0, column).data()
    assert view.qa_summary.isVisible()
    summary = view.qa_summary.text()
    assert f"{len(world_qa.heads):,} questions" in summary and "5 choices each" in summary
    assert "answers given as <b>label</b>" in summary
    assert "multiple-choice QA" in view.detected_label.text()
    assert not view.reset_button.isEnabled()
    # editing a column keeps the data QA (the choices column stays mapped)
    assert view.current_mapping().choices == world_qa.mapping.choices
    # without a test split, the note names the score QA runs will report
    view.context.set_split("test", None)
    assert "<i>Validation accuracy (best checkpoint)</i>" in view.splits.split_note.text()


# --- runs ---------------------------------------------------------------------------------------------------------
def finish(store, folder, name, metrics, split="validation"):
    run = store.upsert_run(folder, name=name, config={"template": "qa-sup", "method": "finetune", "seed": 0})
    store.record(run, RunStarted("r", str(folder), 10, 0))
    for step in (5, 10):
        store.record(run, StepLogged("r", step, 10, 1.0 / step, 1e-3, step * 8, 100.0, 1.0))
        scores = {k: v * step / 10 for k, v in metrics.items()}
        store.record(run, EvalDone("r", step, step * 8, scores))
    label = "Validation ROUGE-L (best checkpoint)" if split == "validation" else "Test ROUGE-L"
    store.record(run, RunFinished("r", "finished", 10, metrics, str(folder), 1.0, split, label))
    return run


@pytest.fixture
def store(tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    yield store
    store.close()


def cell(model, run_id, column):
    index = model.index_of_run(run_id)
    return model.index(index.row(), model.COLUMNS.index(column), index.parent())


def test_runs_tree_shows_qa_accuracy_next_to_rouge(qtmodeltester, store, tmp_path):
    completion = finish(store, tmp_path / "c", "completion", COMPLETION_METRICS)
    model = RunsTreeModel()
    model.set_rows(store.experiments(), store.runs())
    assert model.COLUMNS == RunsTreeModel.BASE_COLUMNS  # completion runs: the columns as before
    assert cell(model, completion, "ROUGE-L").data() == "0.433 val"
    qa = finish(store, tmp_path / "q", "qa", QA_METRICS, split="test")
    model.set_rows(store.experiments(), store.runs())
    qtmodeltester.check(model)
    at = model.COLUMNS.index("ROUGE-L")
    assert model.COLUMNS[at + 1 : at + 3] == ("accuracy", "acc. ranked")
    assert cell(model, qa, "accuracy").data() == "0.625 test"
    assert cell(model, qa, "acc. ranked").data() == "0.750 test"
    assert cell(model, qa, "ROUGE-L").data() == "0.512 test"
    assert cell(model, qa, "accuracy").data(Qt.ItemDataRole.ToolTipRole).startswith("Test accuracy\n")
    assert cell(model, qa, "acc. ranked").data(Qt.ItemDataRole.ToolTipRole).startswith("Test accuracy (ranked)\n")
    assert cell(model, completion, "accuracy").data() == "—"


def test_experiment_runs_table_gains_accuracy_only_for_qa_runs(qtmodeltester):
    model = ExperimentRunsModel()
    model.set_runs([RunInfo(f"run-{i}", i, "qa-sup", "finetune", "8", i, 10) for i in range(2)])
    model.set_score_header("Validation ROUGE-L (best checkpoint)")
    model.update("run-0", status="finished", rouge=0.4, scored_on="validation",
                 score_label="Validation ROUGE-L (best checkpoint)")  # fmt: skip
    assert model.COLUMNS == ExperimentRunsModel.BASE_COLUMNS  # a completion run: as before
    model.update("run-1", status="finished", rouge=0.5, accuracy=0.625, scored_on="validation",
                 score_label="Validation ROUGE-L (best checkpoint)")  # fmt: skip
    qtmodeltester.check(model)
    column = model.COLUMNS.index("accuracy")
    assert column == model.COLUMNS.index("ROUGE-L") + 1 and "acc. ranked" not in model.COLUMNS
    assert model.headerData(column, Qt.Orientation.Horizontal) == "val accuracy (best)"
    tip = model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert tip == "Validation accuracy (best checkpoint)"
    assert model.index(1, column).data() == "0.625" and model.index(0, column).data() == "—"
    assert "Validation accuracy (best checkpoint) of the finished run" in model.index(1, column).data(
        Qt.ItemDataRole.ToolTipRole
    )
    model.update("run-1", accuracy_ranked=0.75, score_label="Test accuracy", scored_on="test")  # a label by headline
    ranked = model.COLUMNS.index("acc. ranked")
    assert model.index(1, ranked).data(Qt.ItemDataRole.ToolTipRole).startswith("Test accuracy (ranked) of the finished")
    rouge = model.COLUMNS.index("ROUGE-L")
    assert model.index(1, rouge).data(Qt.ItemDataRole.ToolTipRole).startswith("Test ROUGE-L of the finished run")
    model.set_runs([RunInfo("run-0", 0, "sup", "finetune", "8", 0, 10)])  # a new experiment starts as before
    assert model.COLUMNS == ExperimentRunsModel.BASE_COLUMNS


# --- designer and analyzer ----------------------------------------------------------------------------------------
def test_the_palette_offers_the_qa_slots_and_blocks_show_the_choices(qapp, world_qa):
    from mto_studio.core.templates import Slot, TemplateLibrary
    from mto_studio.gui.workbenches.templates.draft import phrase_examples
    from mto_studio.gui.workbenches.templates.slot_blocks import SlotBlock
    from mto_studio.gui.workbenches.templates.slot_palette import SlotPalette

    palette = SlotPalette()
    assert SlotKind.CHOICES in palette.chips and SlotKind.LABEL in palette.chips
    head = world_qa.heads[0]
    examples = phrase_examples(None, head, TemplateLibrary())
    assert examples[SlotKind.LABEL] == "ABCDEFGH"[head.answer]
    numbered = SlotBlock(Slot(SlotKind.CHOICES, form="numbered"), 0, example=examples[SlotKind.CHOICES])
    assert numbered.editor.currentData() == "numbered"
    assert f"(A) {head.choices[0]}" in numbered.editor.toolTip()
    inlined = SlotBlock(Slot(SlotKind.CHOICES), 0, example=examples[SlotKind.CHOICES])
    assert f"choice1: {head.choices[0]}" in inlined.editor.toolTip()


def qa_report(kind="qa"):
    from mto_studio.core.analysis.config import AnalysisConfig
    from mto_studio.core.analysis.report import AnalysisReport, RelationReport, TemplateScore
    from mto_studio.core.objectives.strategies import Decision
    from mto_studio.core.templates import Objective

    decision = Decision("AtLocation", "rules", Objective.FILLING, "rule table")
    scores = [
        TemplateScore(
            "AtLocation",
            name,
            objective,
            40,
            ll,
            (ll - 0.3, ll + 0.3),
            3.0,
            (2.0, 4.0),
            accuracy=acc,
            accuracy_ci=(acc - 0.1, acc + 0.1),
        )  # fmt: skip
        for name, objective, ll, acc in (("qa-unsup", "filling", -1.5, 0.55), ("qa-sup", "mapping", -2.0, 0.35))
    ]
    relation = RelationReport("AtLocation", 40, decision, {"rules": decision}, scores, "qa-unsup", "advice")
    return AnalysisReport(AnalysisConfig(strategies=["rules"]), [relation], "tiny", 1.0, kind=kind)


def test_analyzer_table_shows_zero_shot_accuracy_on_qa_reports(qtmodeltester):
    from mto_studio.gui.models.analysis import RelationResultsModel

    model = RelationResultsModel()
    model.set_report(qa_report())
    qtmodeltester.check(model)
    column = model.column_of("accuracy")
    assert column == model.column_of("best") + 1
    assert model.headerData(column, Qt.Orientation.Horizontal) == "Zero-shot\naccuracy"
    assert model.index(0, column).data() == "55%"
    tip = model.index(0, column).data(Qt.ItemDataRole.ToolTipRole)
    assert "qa-unsup: 55% (95% 45%–65%) of 40 questions  ← best" in tip and "qa-sup: 35%" in tip
    model.set_report(qa_report(kind="completion"))
    assert model.column_of("accuracy") == -1  # completion reports: the columns as before


def test_the_designer_preview_renders_a_qa_row_with_its_choices(qapp, world_qa):
    from mto_studio.core.templates import TemplateLibrary
    from mto_studio.gui.preview import build_preview
    from mto_studio.gui.widgets.preview_panel import PreviewCard

    library = TemplateLibrary()
    if "qa-sup" not in library:
        pytest.skip("no built-in QA template yet")
    head = world_qa.heads[0]
    [row] = build_preview(library, library.get("qa-sup"), [head])
    assert row.error is None, row.error
    assert all(choice in row.rendered.source for choice in head.choices)
    widget = PreviewCard()
    widget.show_row(row)
    assert widget.references_label.text().startswith("choices: A) ")
    assert f"✓{'ABCDEFGH'[head.answer]}) {head.choices[head.answer]}" in widget.references_label.text()
