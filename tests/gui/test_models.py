"""Every item model passes pytest-qt's model tester, and the pure preview helpers do what the views show."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from mto_studio.core.data import ColumnMapping, load_table, load_task_data  # noqa: E402
from mto_studio.core.project import Project  # noqa: E402
from mto_studio.core.templates import (  # noqa: E402
    Objective,
    Phrase,
    Slot,
    SlotKind,
    TemplateLibrary,
    builtin_phrases,
    builtin_template,
    parse_pattern,
)
from mto_studio.core.templates.pattern import block_slots  # noqa: E402
from mto_studio.core.training.data import world_file  # noqa: E402
from mto_studio.gui.models.data_table import RawTableModel, RelationCountsModel  # noqa: E402
from mto_studio.gui.models.templates import PhraseTableModel, TemplateEntry, TemplateListModel  # noqa: E402
from mto_studio.gui.preview import align_slots, build_preview, spread_heads, word_diff  # noqa: E402


@pytest.fixture(scope="module")
def world():
    return load_task_data(world_file("train"))


def test_raw_table_model_is_lazy_and_valid(qtmodeltester, world, tmp_path):
    model = RawTableModel()
    model.FETCH_BATCH = 500
    model.set_table(world.raw, world.mapping)
    assert model.rowCount() == 500 and model.canFetchMore()
    qtmodeltester.check(model)
    while model.canFetchMore():
        model.fetchMore()
    last = len(world.raw) - 1
    assert model.rowCount() == len(world.raw) > 500
    assert model.index(last, 0).data() == world.raw.dataset[last]["head"]
    small = tmp_path / "small.tsv"
    small.write_text("input\ttarget\nx\tnone\n\ty\nz\tw\n")
    raw = load_table(small)
    model.set_table(raw, ColumnMapping("input", "target"))
    assert [model.drop_reason(r) is not None for r in range(3)] == [True, True, False]
    assert model.index(0, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
    model.set_table(None, None)
    assert model.rowCount() == 0 and model.columnCount() == 0
    small_model = RawTableModel()
    small_model.set_table(raw, ColumnMapping("input", "target"))
    qtmodeltester.check(small_model)  # all rows at once: the C++ tester too


def test_relation_counts_model(qtmodeltester, world):
    model = RelationCountsModel()
    model.set_data(world, TemplateLibrary(objectives={"xIntent": Objective.FILLING}))
    qtmodeltester.check(model)
    rows = {model.index(r, 0).data(): r for r in range(model.rowCount())}
    assert model.index(rows["xIntent"], 3).data() == "filling"
    assert "the analyzer's decision" in model.index(rows["xIntent"], 3).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(rows["xNeed"], 3).data() == "mapping"
    assert model.index(rows["xNeed"], 1).data(Qt.ItemDataRole.UserRole) == 160


def test_template_list_model(qtmodeltester, qapp):
    model = TemplateListModel()
    entries = [TemplateEntry(t.name, t.name, t.objective, t.builtin, t.description) for t in TemplateLibrary()]
    entries.append(TemplateEntry("*draft-1", "mine", Objective.FILLING, False, unsaved=True))
    model.set_entries(entries)
    qtmodeltester.check(model)
    assert model.index(model.row_of("*draft-1"), 0).data() == "mine •"
    assert model.index(0, 0).data(TemplateListModel.BuiltinRole) is True
    assert model.index(0, 0).data(TemplateListModel.TagRole) == "built-in"
    assert model.index(model.row_of("*draft-1"), 0).data(TemplateListModel.TagRole) == "new"
    model.update_entry(TemplateEntry("*draft-1", "mine2", Objective.MAPPING, False))
    assert model.index(model.row_of("*draft-1"), 0).data() == "mine2"


def test_phrase_table_model_edits_through_the_project(qtmodeltester, tmp_path):
    project = Project.new(tmp_path)
    model = PhraseTableModel()
    relations = ["xIntent", "AtLocation", "task"]

    def commit(relation, phrase):
        project.set_phrase(relation, phrase)
        model.refresh(project.phrase_table(), set(project.phrases))

    model.set_commit(commit)
    model.set_phrases(relations, project.phrase_table(), set(project.phrases), {"xIntent"})
    qtmodeltester.check(model)
    assert model.flags(model.index(0, 1)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(model.index(2, 2), "the answer is")
    assert project.phrases["task"] == Phrase("", "the answer is")
    rejected = []
    model.edit_rejected.connect(rejected.append)
    assert not model.setData(model.index(0, 1), "no input")
    assert rejected and "exactly once" in rejected[0]
    assert model.setData(model.index(0, 1), "")  # clearing goes back to the built-in text
    assert model.index(0, 1).data() == builtin_phrases()["xIntent"].clause


def test_spread_heads_covers_relations_round_robin(world):
    n = len(world.relations)
    heads = spread_heads(world.heads, n + 2)
    assert [h.relation for h in heads[:n]] == world.relations, "one head of each relation first"
    assert [h.relation for h in heads[n:]] == world.relations[:2] and len(heads) == n + 2
    assert {h.relation for h in spread_heads(world.heads, 3, "xWant")} == {"xWant"}


def test_preview_rows_render_and_report_missing_phrases(world, tiny_t5_tokenizer):
    library = TemplateLibrary()
    heads = spread_heads(world.heads, 2)
    rows = build_preview(library, library.get("unsup-nat"), heads, tokenizer=tiny_t5_tokenizer, max_source_length=6)
    assert rows[0].rendered.source.endswith("<extra_id_0>") and rows[0].tokens.source.truncated
    task_head = heads[0].__class__("id", "task", "x", ("y",))
    [row] = build_preview(library, library.get("unsup-nat"), [task_head])
    assert row.error is not None and "no relation phrase for 'task'" in row.error.message


def test_slot_alignment_and_word_diff():
    fill, sup = builtin_template("unsup-nat"), builtin_template("sup")
    aligned = align_slots(fill.target, sup.target)
    assert [(p.status, p.a and p.a.kind, p.b and p.b.kind) for p in aligned] == [
        ("removed", SlotKind.MASK, None),
        ("same", SlotKind.TARGET, SlotKind.TARGET),
    ]
    changed = align_slots(parse_pattern("{input} so {mask}", "source"), parse_pattern("{input} thus {mask}", "source"))
    assert [p.status for p in changed] == ["same", "changed", "same"]
    assert changed[1].a == Slot(SlotKind.TEXT, text="so")
    assert block_slots(parse_pattern("{prefix}: {input}", "source")) == (
        Slot(SlotKind.PREFIX),
        Slot(SlotKind.TEXT, text=":"),
        Slot(SlotKind.INPUT),
    )
    left, right = word_diff("a b c", "a x c")
    assert left == [("a", "same"), ("b", "removed"), ("c", "same")]
    assert right == [("a", "same"), ("x", "added"), ("c", "same")]
