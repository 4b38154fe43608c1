"""The template designer tells which pre-training format of the model's family the template matches, and previews
BART's denoising target (the whole text) when the project's model is a BART."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.gui.conftest import LOAD_TIMEOUT_MS  # noqa: E402


def test_designer_names_the_family_format_and_follows_a_bart_model(window, qtbot, tmp_path):
    from tests.core.test_family_framing import build_tiny_bart

    window.show_workbench("templates")
    designer = window.workbench("templates")
    assert designer.select_template("unsup-nat")
    label = designer.preview.format_label
    assert not label.isHidden()
    assert "T5 v1.1" in label.text() and "matches T5 span corruption" in label.text()
    assert designer.select_template("unsupnat")
    assert "does not match T5 span corruption: the source has no sentinel" in label.text()

    context = window.context
    bart = build_tiny_bart(tmp_path / "bart", ["PersonX buys a ticket because PersonX wants to see a film."])
    context.set_model(str(bart))
    qtbot.waitUntil(lambda: getattr(context.tokenizer, "mask_token", None) == "<mask>", timeout=LOAD_TIMEOUT_MS)
    assert designer.select_template("unsup-nat")
    qtbot.waitUntil(lambda: "BART" in label.text(), timeout=LOAD_TIMEOUT_MS)
    assert "matches BART denoising: the target is the whole text" in label.text()
    row = designer.tabs.rows[0]
    assert row.rendered.rebuilt and row.rendered.input.rstrip(".") in row.rendered.target
    assert row.rendered.target.endswith(row.head.references[0].rstrip("."))
    assert row.tokens.target.tokens[0] == "<s>" and row.tokens.target.count == len(
        context.tokenizer(row.rendered.target)["input_ids"]
    )
    assert designer.select_template("sup")
    assert "Mapping: does not match this family's pre-training" in label.text()
