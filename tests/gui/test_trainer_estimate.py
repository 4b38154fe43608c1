"""The Trainer shows the experiment's estimate above Start, follows the form, and warns when it will not fit; its
new rows (auto learning rates, micro-batches, precision, checkpointing) reach the ExperimentConfig."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mto_studio.core.project import Project  # noqa: E402


@pytest.fixture
def default_project(small_world_project) -> Project:
    return small_world_project


def test_the_estimate_follows_the_form_and_turns_red_when_it_will_not_fit(window, monkeypatch):
    from mto_studio.core.training import estimate
    from mto_studio.core.training.precision import available_cores
    from mto_studio.gui.theme import ERROR_RED

    settings = window.workbench("trainer").settings
    label = settings.estimate_label
    assert label.text().startswith("estimate for "), label.text()
    before = label.preflight.estimate.memory
    settings.batch_spin.setValue(settings.batch_spin.value() * 4)
    assert label.preflight.estimate.memory > before  # recomputed when a setting changes
    assert ERROR_RED not in label.text()
    monkeypatch.setattr(estimate, "available_memory", lambda device: 1_000_000)
    settings.batch_spin.setValue(settings.batch_spin.value() + 8)
    assert not label.preflight.fits and ERROR_RED in label.text() and "not enough memory" in label.text()
    # the form's defaults: learning rates "auto" (the family's), threads leave a core for the window
    train = settings.current_config().train
    assert train["lr"] is None and train["prompt_lr"] is None and settings.lr_spin.text() == "auto"
    assert train["threads"] == max(1, available_cores() - 1)
    assert train["precision"] == "auto" and train["gradient_checkpointing"] is False and train["grad_accum"] == 1
    settings.training.precision_combo.setCurrentIndex(settings.training.precision_combo.findData("bf16"))
    settings.training.checkpointing_check.setChecked(True)
    settings.lr_spin.setValue(3e-4)
    train = settings.current_config().train
    assert (train["precision"], train["gradient_checkpointing"], train["lr"]) == ("bf16", True, 3e-4)


def test_prompt_sharing_is_a_trainer_row_that_keeps_the_loaded_prompt_table(window):
    from mto_studio.core.training.experiment_config import ExperimentConfig

    settings = window.workbench("trainer").settings
    combo = settings.training.sharing_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["per-relation", "shared", "both"]
    settings.training.apply({"prompt": {"reparam": "lstm", "shared": True}})  # an old experiment file's table
    assert combo.currentData() == "shared"
    combo.setCurrentIndex(combo.findData("both"))
    prompt = settings.current_config().train["prompt"]
    assert prompt["sharing"] == "both" and prompt["reparam"] == "lstm"
    assert ExperimentConfig.from_dict(settings.current_config().to_dict()).base_train_config().prompt.sharing == "both"
