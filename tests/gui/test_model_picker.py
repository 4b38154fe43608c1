"""The model picker (issue 14): the embedded model, the encoder-decoders of the local Hugging Face cache and recent
model folders, each with family, parameter count, size and pre-training; choosing one sets the project's model."""

import shutil
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QDialog  # noqa: E402

from tests.core.test_model_refs import _cache_repo  # noqa: E402
from tests.gui.conftest import LOAD_TIMEOUT_MS  # noqa: E402


def _tiny_bart(folder: Path) -> int:
    from transformers import BartConfig, BartForConditionalGeneration

    config = BartConfig(vocab_size=300, d_model=32, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=64,
                        decoder_ffn_dim=64, encoder_attention_heads=4, decoder_attention_heads=4,
                        max_position_embeddings=64)  # fmt: skip
    model = BartForConditionalGeneration(config)
    model.save_pretrained(folder)
    return model.num_parameters()


@pytest.fixture
def fake_cache(tmp_path, monkeypatch, tiny_model_dir):
    """A Hugging Face cache holding the tiny T5 (with its tokenizer) as org/tiny-t5 and a tiny BART as
    facebook/tiny-bart; HF_HUB_CACHE points at it and MTO Studio is offline. Returns the BART's parameter count."""
    cache = tmp_path / "hf" / "hub"
    _cache_repo(cache, "org/tiny-t5", tiny_model_dir)
    bart = tmp_path / "bart-src"
    parameters = _tiny_bart(bart)
    _cache_repo(cache, "facebook/tiny-bart", bart)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache, parameters


def _rows(dialog):
    table = dialog.table
    return {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    }


def test_the_picker_lists_cached_models_with_family_and_parameters(window, fake_cache, tiny_model_dir):
    from transformers import AutoModelForSeq2SeqLM

    from mto_studio.gui.dialogs import ChooseModelDialog

    cache, bart_parameters = fake_cache
    t5_parameters = AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir).num_parameters()
    dialog = ChooseModelDialog(str(tiny_model_dir), window)
    rows = _rows(dialog)
    assert {"mto-tiny", "org/tiny-t5", "facebook/tiny-bart"} <= set(rows)
    name, where, family, parameters, size, pretrained = rows["facebook/tiny-bart"]
    assert (where, family) == ("HF cache", "BART") and pretrained.startswith("denoising")
    assert parameters == f"{bart_parameters / 1000:.1f} k" and size.endswith("KB")
    assert rows["org/tiny-t5"][1:4] == ["HF cache", "T5 v1.1 / LM-adapted", f"{t5_parameters / 1000:.1f} k"]
    assert rows["mto-tiny"][2] == "MTO Studio embedded model" and rows["mto-tiny"][3].endswith(" M")
    assert str(cache) in dialog.cache_note.text()
    dialog.table.selectRow(dialog.row_of("facebook/tiny-bart"))
    assert dialog.hub_radio.isChecked() and dialog.reference() == "facebook/tiny-bart" and dialog.check() is None
    dialog.table.selectRow(dialog.row_of("mto-tiny"))
    assert dialog.embedded_radio.isChecked() and dialog.reference() == "mto-tiny"


def test_choosing_a_cached_model_sets_the_projects_model(window, qtbot, fake_cache, monkeypatch):
    from mto_studio.gui.model_picker import ModelPickerDialog

    def pick(dialog):
        dialog.table.selectRow(dialog.row_of("org/tiny-t5"))
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(ModelPickerDialog, "exec", pick)
    with qtbot.waitSignal(window.context.tokenizer_changed, timeout=LOAD_TIMEOUT_MS):
        window.choose_model()
    assert window.context.project.model == "org/tiny-t5"
    assert window.context.tokenizer is not None and window.context.tokenizer_error is None


def test_a_typed_folder_is_stored_absolute_and_listed_as_recent(window, fake_cache, tiny_model_dir, tmp_path,
                                                                monkeypatch):  # fmt: skip
    from mto_studio.gui.dialogs import ChooseModelDialog

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "mine")
    dialog = ChooseModelDialog("mto-tiny", window)
    dialog.folder_edit.setText("models/t5-smal")
    dialog.folder_radio.setChecked(True)
    assert dialog.check() == "model folder not found: models/t5-smal"
    dialog.folder_edit.setText("models/mine")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.reference() == str(tmp_path / "models" / "mine")
    again = ChooseModelDialog(dialog.reference(), window)
    rows = _rows(again)
    assert rows["mine"][1] == "recent folder" and rows["mine"][2] == "T5 v1.1 / LM-adapted"
    assert again.table.selectionModel().selectedRows()[0].row() == again.row_of(dialog.reference())
