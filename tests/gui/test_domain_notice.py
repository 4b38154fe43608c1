"""The Data workbench's domain check (issue 14): the embedded model on data that is not its world says so."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from tests.gui.conftest import LOAD_TIMEOUT_MS  # noqa: E402


def test_the_data_workbench_warns_when_the_embedded_model_meets_other_data(window, qtbot):
    window.show_workbench("data")
    data = window.workbenches["data"]
    with qtbot.waitSignal(window.context.tokenizer_changed, timeout=LOAD_TIMEOUT_MS):
        window.choose_model("mto-tiny")
    assert window.context.tokenizer is not None
    assert data.domain.report is not None and data.domain.report.warnings == () and data.domain.isHidden()
    with qtbot.waitSignal(window.context.data_changed, timeout=LOAD_TIMEOUT_MS):
        window.context.load_data("example:atomic2020-xintent")
    qtbot.waitUntil(lambda: data.domain.isVisible(), timeout=LOAD_TIMEOUT_MS)
    text = data.domain.text_label.text()
    assert "this model does not know your domain: choose a pre-trained model" in text
    assert "pieces per word" in text and "outside the built-in world" in text
    # the Trainer's estimate line above Start carries the same warning (through the context's one check)
    label = window.workbench("trainer").settings.estimate_label
    qtbot.waitUntil(lambda: "does not know your domain" in label.text(), timeout=LOAD_TIMEOUT_MS)
    assert label.preflight is not None and any("does not know your domain" in w for w in label.preflight.warnings)
