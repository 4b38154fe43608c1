"""The desktop app driven as a user would: default project, data view, template designer, phrases, diff, errors."""

import re

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from mto_studio.core.data import ColumnMapping, load_task_data  # noqa: E402
from mto_studio.core.project import PROJECT_FILE, Project, default_project_dir  # noqa: E402
from mto_studio.core.templates import Objective, SlotKind, TemplateLibrary, load_template  # noqa: E402
from mto_studio.core.training.data import world_file  # noqa: E402
from mto_studio.gui.preview import spread_heads  # noqa: E402
from tests.gui.conftest import LOAD_TIMEOUT_MS  # noqa: E402


@pytest.fixture(scope="module")
def world():
    """The built-in world as the core reads it: what the views must show (it changes as the world evolves)."""
    return load_task_data(world_file("train"))


@pytest.fixture(scope="module")
def head(world):
    """The first head the preview shows."""
    return spread_heads(world.heads, 1)[0]


def connective_source(head) -> str:
    """The head under unsup-nat-short (input, connective, sentinel): the form these designer tests edit."""
    return TemplateLibrary().render("unsup-nat-short", head.relation, head.input, head.references[0]).source


def designer_on(window, qtbot, key="unsup-nat"):
    window.show_workbench("templates")
    designer = window.workbench("templates")
    assert designer.select_template(key)
    return designer


def type_into(qtbot, edit, text, *, at_start=False):
    edit.setFocus()
    edit.setCursorPosition(0 if at_start else len(edit.text()))
    qtbot.keyClicks(edit, text)


def first_card(designer):
    return designer.preview.cards[0]


# --- the default project and the data view -----------------------------------------------------------------------
def test_first_launch_opens_the_default_project_with_the_world(window, world):
    context = window.context
    folder = default_project_dir()
    assert (folder / PROJECT_FILE).is_file() and context.project.folder == folder
    assert "Default project" in window.windowTitle()
    data_view = window.workbench("data")
    assert window.current_key == "data"
    values = {key: label.text() for key, label in data_view.summary_values.items()}
    assert values == {
        "rows": f"{len(world.examples):,}",
        "heads": f"{len(world.heads):,}",
        "relations": str(len(world.relations)),
        "file_rows": f"{len(world.raw):,}",
        "dropped_none": f"{world.dropped_none:,}",
        "dropped_empty": f"{world.dropped_empty_input:,}",
    }
    assert len(world.heads) > 100 and len(world.relations) >= 5, "the world is big enough to be a real check"
    counts = data_view.counts_model
    shown = {
        counts.index(r, 0).data(): (counts.index(r, 1).data(), counts.index(r, 2).data(), counts.index(r, 3).data())
        for r in range(counts.rowCount())
    }
    rules = TemplateLibrary()
    assert shown == {
        rel: (f"{world.head_counts()[rel]:,}", f"{world.row_counts()[rel]:,}", rules.objective_for(rel)[0].value)
        for rel in world.relations
    }
    rows = data_view.rows_model
    assert rows.total_rows == len(world.raw)
    assert rows.rowCount() == min(rows.FETCH_BATCH, len(world.raw)), "rows arrive in batches"
    first = world.raw.dataset[0]
    assert rows.index(0, 0).data() == first["head"] and rows.index(0, 2).data() == first["tail"]
    assert rows.headerData(0, Qt.Orientation.Horizontal) == "head  ▸ input"
    assert data_view.detected_label.text().count("head-relation-tail") == 1
    assert f"{len(world.examples):,} rows" in window.data_status.text() and "ready" in window.model_status.text()


def test_the_window_opens_with_a_notice_when_the_embedded_model_is_missing(
    qtbot, isolated, dialogs, monkeypatch, tmp_path
):
    from mto_studio.gui import context as context_module
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow

    monkeypatch.setattr(context_module, "embedded_model_dir", lambda: tmp_path / "not-trained-yet")
    project = Project.open_or_create_default()
    assert project.model == "mto-tiny"
    context = StudioContext(project)
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: context.tokenizer_error is not None and context.data is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.banner.isVisible() and "not installed yet" in window.banner.text_label.text()
    assert dialogs.shown == [], "a missing model is a notice, not a blocking dialog"
    designer = designer_on(window, qtbot)
    assert designer.preview.cards, "the preview still renders text without a tokenizer"
    assert "no token counts" in designer.preview.summary_label.text()
    context.shutdown()


def test_an_unreadable_data_file_gives_a_dialog_and_keeps_the_old_data(window, qtbot, dialogs, tmp_path, world):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet at all")
    before = window.context.data
    with qtbot.waitSignal(window.context.data_failed, timeout=LOAD_TIMEOUT_MS):
        window.open_data(str(bad))
    assert len(dialogs.shown) == 1
    shown = dialogs.shown[0]
    assert shown["title"] == "Cannot open the data file"
    assert "broken.parquet" in shown["text"] and "cannot read" in shown["text"]
    assert "How to fix it:" in shown["info"] and str(bad) in shown["info"]
    assert window.context.data is before and window.context.project.data == "world"
    assert window.workbench("data").summary_values["rows"].text() == f"{len(world.examples):,}"
    assert window.workbench("data").open_button.isEnabled(), "the app stays usable"


def test_a_file_with_unknown_columns_is_mapped_by_hand(window, qtbot, tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text(
        "text,answer_text,kind\nwhat is red,a colour,colour\nwhat is two,a number,number\n"
        "what is blue,none,colour\n,orphan,colour\n"
    )
    data_view = window.workbench("data")
    with qtbot.waitSignal(window.context.mapping_failed, timeout=LOAD_TIMEOUT_MS):
        window.open_data(str(path))
    assert "no recognisable columns" in data_view.mapping_error.text()
    assert window.context.project.data == "world", "the project keeps its data until the columns are mapped"
    with qtbot.waitSignal(window.context.data_changed, timeout=LOAD_TIMEOUT_MS):
        data_view.set_mapping(ColumnMapping(input="text", target="answer_text", relation="kind"))
    values = {key: label.text() for key, label in data_view.summary_values.items()}
    assert (values["rows"], values["heads"], values["relations"]) == ("2", "2", "2")
    assert (values["dropped_none"], values["dropped_empty"]) == ("1", "1")
    assert data_view.rows_model.drop_reason(2) and data_view.rows_model.drop_reason(0) is None
    project = window.context.project
    assert project.data == str(path) and project.columns == ColumnMapping("text", "answer_text", "kind")
    assert project.is_modified and window.isWindowModified()


# --- the template designer ----------------------------------------------------------------------------------------
def test_builtins_are_read_only_and_duplicate_makes_an_editable_copy(window, qtbot):
    designer = designer_on(window, qtbot, "unsup-nat")
    assert designer.pattern_edits["source"].isReadOnly() and "read-only" in designer.badge.text()
    assert [b.slot.kind for b in designer.strips["source"].blocks] == [
        SlotKind.PREFIX,
        SlotKind.TEXT,
        SlotKind.REL_BEFORE,
        SlotKind.INPUT,
        SlotKind.REL_AFTER,
        SlotKind.MASK,
    ]
    draft = designer.duplicate()
    assert draft.name == "unsup-nat-copy" and not designer.pattern_edits["source"].isReadOnly()
    assert designer.list_model.row_of(draft.key) >= 0 and designer.unsaved_changes() == [
        "template 'unsup-nat-copy' (new)"
    ]


def test_a_template_edit_changes_the_preview_and_the_token_counts(window, qtbot, head):
    designer = designer_on(window, qtbot, "unsup-nat-short")
    designer.duplicate()
    card = first_card(designer)
    assert card.row.head == head
    before_source = card.row.rendered.source
    before_count = card.row.tokens.source.count
    assert before_source == connective_source(head) and before_source.endswith(" <extra_id_0>")
    sentinel_chips = [c for c in card.source_chips.chips if c.kind == "sentinel"]
    assert [c.token for c in sentinel_chips] == ["<extra_id_0>"], "the sentinel is one highlighted token"
    assert re.search(
        r'<span style="background:#[0-9a-f]{6};[^"]*">&nbsp;&lt;extra_id_0&gt;&nbsp;</span>', card.source_text.text()
    ), "the sentinel is highlighted in the rendered text"

    type_into(qtbot, designer.pattern_edits["source"], "{prefix}: ", at_start=True)
    assert designer.pattern_edits["source"].text() == "{prefix}: {input} {rel} {mask}"
    assert designer.errors == {}
    card = first_card(designer)
    assert card.row.rendered.source == f"{head.relation}: {before_source}"
    assert card.row.tokens.source.count > before_count
    assert f"source {card.row.tokens.source.count}/128" in card.counts_label.text()
    assert [b.slot.kind for b in designer.strips["source"].blocks][:2] == [SlotKind.PREFIX, SlotKind.TEXT]

    designer.preview.max_source_spin.setValue(5)
    card = first_card(designer)
    assert sum(c.cut for c in card.source_chips.chips) == card.row.tokens.source.count - 5
    assert "cut" in card.counts_label.text() and "truncated" in designer.preview.summary_label.text()
    designer.preview.rows_spin.setValue(3)
    assert len(designer.preview.cards) == 3


def test_block_edits_rewrite_the_text_form(window, qtbot):
    designer = designer_on(window, qtbot, "unsup-nat-short")
    designer.duplicate()
    strip, edit = designer.strips["source"], designer.pattern_edits["source"]
    strip.insert_kind(SlotKind.TEXT, at=0)
    phrase_editor = strip.blocks[0].editor
    qtbot.keyClicks(phrase_editor, "Question:")
    assert edit.text() == "Question: {input} {rel} {mask}"
    assert phrase_editor.hasFocus(), "typing in a block keeps its focus (no rebuild under the cursor)"
    strip.move_block(0, 1)
    assert edit.text() == "{input} Question: {rel} {mask}"
    strip.remove_at(1)
    strip.insert_kind(SlotKind.SOFT, at=0)
    strip.blocks[0].editor.setValue(4)
    assert edit.text() == "{soft:4} {input} {rel} {mask}"
    card = first_card(designer)
    assert sum(c.kind == "soft" for c in card.source_chips.chips) == 4
    assert "[soft ×4]" in card.source_text.text()
    strip.move_to(3, 0)  # drag the sentinel to the front
    assert edit.text().startswith("{mask} {soft:4}")


def test_an_invalid_edit_shows_an_inline_error_and_keeps_the_text(window, qtbot):
    designer = designer_on(window, qtbot, "unsup-nat-short")
    designer.duplicate()
    edit = designer.pattern_edits["source"]
    good_source = first_card(designer).row.rendered.source
    type_into(qtbot, edit, " {inptu}")
    assert edit.text() == "{input} {rel} {mask} {inptu}", "the text is never lost"
    error = designer.error_labels["source"]
    assert error.isVisible() and "unknown slot {inptu}" in error.text() and "column 22" in error.text()
    assert "Fix:" in error.text() and edit.property("invalid") is True
    assert not designer.save_button.isEnabled() and not designer.strips["source"].isEnabled()
    assert first_card(designer).row.rendered.source == good_source, "the preview keeps the last valid template"
    assert "last valid version" in designer.preview.summary_label.text()

    for _ in range(len(" {inptu}")):
        qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    assert not designer.error_labels["source"].isVisible() and edit.property("invalid") is False
    target = designer.pattern_edits["target"]
    target.selectAll()
    qtbot.keyClicks(target, "{mask}")
    assert "must hold {target} (or, for QA, {label}) exactly once" in designer.error_labels["target"].text()
    name = designer.name_edit
    name.selectAll()
    qtbot.keyClicks(name, "sup")
    assert "already exists" in designer.error_labels["name"].text()


def test_editing_the_phrase_table_changes_the_rendering(window, qtbot, head):
    from mto_studio.core.templates import builtin_phrases

    designer = designer_on(window, qtbot, "unsup-nat-short")
    designer.tabs.setCurrentWidget(designer.phrase_editor)
    editor = designer.phrase_editor
    row = editor.model.row_of(head.relation)
    assert row == 0, "the data's relations come first"
    assert editor.model.index(row, 2).data() == builtin_phrases()[head.relation].connective
    assert editor.edit_phrase(head.relation, connective="is, we are told, best paired with")
    assert first_card(designer).row.rendered.source == f"{head.input} is, we are told, best paired with <extra_id_0>"
    assert window.context.project.phrases[head.relation].connective == "is, we are told, best paired with"
    assert window.isWindowModified()
    assert editor.model.index(row, 2).data(Qt.ItemDataRole.BackgroundRole) is not None, "overrides are marked"
    assert editor.model.index(row, 1).data(Qt.ItemDataRole.BackgroundRole) is None, "only the edited cell"
    assert not editor.edit_phrase(head.relation, clause="no input slot here")
    assert "exactly once" in editor.error_label.text()
    editor.table.selectRow(row)
    editor.reset_button.click()
    assert first_card(designer).row.rendered.source == connective_source(head)
    assert not window.context.project.is_modified


def test_saving_a_duplicated_template_writes_a_toml_that_reloads(window, qtbot):
    designer = designer_on(window, qtbot, "sup")
    designer.duplicate()
    designer.name_edit.selectAll()
    qtbot.keyClicks(designer.name_edit, "question-map")
    designer.description_edit.selectAll()
    qtbot.keyClicks(designer.description_edit, "a question prefix")
    designer.pattern_edits["source"].selectAll()
    qtbot.keyClicks(designer.pattern_edits["source"], "question: {input} {rel}")
    assert designer.save_button.isEnabled()
    qtbot.mouseClick(designer.save_button, Qt.MouseButton.LeftButton)
    path = window.context.project.templates_dir / "question-map.toml"
    assert path.is_file()
    reloaded = load_template(path)
    assert (reloaded.name, reloaded.source_text, reloaded.target_text) == (
        "question-map",
        "question: {input} {rel}",
        "{target}",
    )
    assert reloaded.description == "a question prefix"
    assert "question-map" in window.context.library and designer.unsaved_changes() == []
    assert designer.draft.saved_name == "question-map" and "project template" in designer.badge.text()
    assert "question-map" in Project.load(window.context.project.folder).templates
    # A second edit and save renames the file.
    designer.name_edit.selectAll()
    qtbot.keyClicks(designer.name_edit, "question-map2")
    designer.save_current()
    assert not path.exists() and (path.parent / "question-map2.toml").is_file()


def test_the_diff_view_marks_differences(window, qtbot, head):
    designer = designer_on(window, qtbot, "unsup-nat")
    designer.tabs.setCurrentWidget(designer.diff_view)
    diff = designer.diff_view
    diff.select(None, "sup")
    statuses = [pair.status for pair in diff.source_grid.aligned]
    assert "same" in statuses and set(statuses) - {"same"}, statuses
    assert [p.status for p in diff.target_grid.aligned] == ["removed", "same"]  # unsup-nat's leading sentinel
    changed = [c for c in diff.source_grid.cells if c.property("status") != "same"]
    assert changed and all(c.objectName().startswith("diff-") for c in changed)
    assert "differ between" in diff.summary_label.text()
    assert "line-through" in diff.render_labels[("a", "source")].text()  # words only in unsup-nat
    assert f"{head.relation}:" in diff.render_labels[("b", "source")].text()
    diff.select("sup", "sup")
    assert all(p.status == "same" for p in diff.source_grid.aligned)
    assert "the same slots" in diff.summary_label.text()


def test_mixed_templates_pick_per_relation(window, qtbot, world):
    designer = designer_on(window, qtbot, "mixed")
    assert designer.mixed_panel.isVisibleTo(designer) and not designer.strips["source"].isVisibleTo(designer)
    library = TemplateLibrary()
    expected = {
        rel: "unsup-nat" if library.objective_for(rel)[0] is Objective.FILLING else "sup-nat" for rel in world.relations
    }
    designer.preview.rows_spin.setValue(len(world.relations))
    shown = {card.row.head.relation: card.row.rendered.template for card in designer.preview.cards}
    assert shown == expected and set(shown.values()) == {"unsup-nat", "sup-nat"}
    mapping_relation = next(rel for rel, name in expected.items() if name == "sup-nat")
    designer.preview.relation_combo.setCurrentIndex(designer.preview.relation_combo.findData(mapping_relation))
    assert {card.row.head.relation for card in designer.preview.cards} == {mapping_relation}
    assert {card.row.rendered.template for card in designer.preview.cards} == {"sup-nat"}


# --- model, projects, closing ---------------------------------------------------------------------------------------
def test_choosing_a_model_folder_reloads_the_tokenizer(window, qtbot, tiny_model_dir, tmp_path):
    from mto_studio.gui.dialogs import ChooseModelDialog

    dialog = ChooseModelDialog(str(tiny_model_dir), window)
    assert dialog.folder_radio.isChecked() and dialog.check() is None
    dialog.folder_edit.setText(str(tmp_path / "nowhere"))
    assert "not found" in dialog.check()
    dialog.hub_radio.setChecked(True)
    dialog.hub_edit.setText("someone/not-cached")  # offline: only ids already in the local cache are usable
    assert "not in the local Hugging Face cache" in dialog.check()
    with qtbot.waitSignal(window.context.tokenizer_changed, timeout=LOAD_TIMEOUT_MS):
        window.choose_model(str(tiny_model_dir))
    assert window.context.tokenizer is not None and window.context.project.model == str(tiny_model_dir)


def test_closing_with_unsaved_changes_asks_save_discard_cancel(window, qtbot, dialogs):
    from mto_studio.core.templates import Phrase

    window.context.set_phrase("xReact", Phrase(connective="and so PersonX feels"))
    dialogs.answers = [QMessageBox.StandardButton.Cancel]
    window.close()
    assert window.isVisible() and "project 'Default project'" in dialogs.questions[-1]
    dialogs.answers = [QMessageBox.StandardButton.Save]
    window.close()
    assert not window.isVisible()
    assert Project.load(window.context.project.folder).phrases["xReact"].connective == "and so PersonX feels"
    assert all(w.is_finished for w in window.context.workers.active) and not window.context.workers.active


def test_discarding_on_close_drops_template_drafts_without_writing(window, qtbot, dialogs):
    designer = designer_on(window, qtbot)
    designer.duplicate()
    assert window.unsaved_changes() == ["template 'unsup-nat-copy' (new)"]
    dialogs.answers = [QMessageBox.StandardButton.Discard]
    window.close()
    assert not window.isVisible() and designer.unsaved_changes() == []
    assert not window.context.project.templates_dir.exists()


def test_new_and_reopened_projects_and_recent_list(window, qtbot, tmp_path):
    from mto_studio.gui.settings import recent_projects

    designer = designer_on(window, qtbot, "sup")
    designer.duplicate()
    assert designer.save_current() and designer.draft.saved_name == "sup-copy"
    assert window.new_project(str(tmp_path / "second"))
    assert window.context.project.name == "second" and (tmp_path / "second" / PROJECT_FILE).is_file()
    assert designer.list_model.row_of("sup-copy") < 0, "the other project's templates are gone"
    assert designer.draft.name == "unsup-nat"
    assert designer.pattern_edits["source"].text() == "{prefix}: {rel_before} {input} {rel_after} {mask}"
    qtbot.waitUntil(
        lambda: window.context.data is not None and window.context.data.task is not None, timeout=LOAD_TIMEOUT_MS
    )
    assert recent_projects(window.settings)[0] == str((tmp_path / "second").resolve())
    assert window.open_project(str(default_project_dir()))
    assert window.context.project.name == "Default project"
    assert designer.select_template("sup-copy"), "its own templates come back with it"
    assert window.save_as(str(tmp_path / "copy"))
    assert window.context.project.folder == tmp_path / "copy" and (tmp_path / "copy" / PROJECT_FILE).is_file()


def test_ui_state_is_restored_from_qsettings(window, qtbot):
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow

    window.show_workbench("templates")
    window.save_ui_state()
    again = MainWindow(StudioContext(window.context.project))
    qtbot.addWidget(again)
    assert again.current_key == "templates"
    again.context.shutdown()
