"""The Objective Lab on a tiny recipe: losses per objective and zero-shot knowledge checks stream in; stop with a
checkpoint, resume, finish, and use the result as the project's model."""

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mto_studio.core.jobs.events import RunStarted, StepLogged  # noqa: E402
from mto_studio.core.pretraining.objective_lab import PretrainConfig  # noqa: E402
from tests.helpers import tiny_recipe  # noqa: E402

RUN_TIMEOUT_MS = 120_000
TINY_RECIPE = tiny_recipe(
    description="A tiny recipe for the GUI tests.",
    objectives={"span": 0.4, "salient": 0.35, "supervised": 0.25},
    steps=400, batch_size=4, warmup_steps=5, eval_every=100, eval_size=8, checkpoint_every=0, log_every=5,
)  # fmt: skip


@pytest.fixture
def recipe(tmp_path):
    path = tmp_path / "tiny-lab.toml"
    path.write_text(TINY_RECIPE)
    return path


def test_pretraining_streams_losses_and_knowledge_stops_resumes_and_becomes_the_model(
    window, qtbot, recipe, qtmodeltester
):
    window.show_workbench("lab")
    lab = window.workbench("lab")
    assert lab.settings.load_recipe(recipe) and lab.settings.recipe_combo.currentText() == "tiny-lab"
    assert lab.settings.steps_spin.value() == 400 and lab.settings.weight_spins["salient"].value() == pytest.approx(
        0.35
    )
    lab.settings.weight_spins["supervised"].setValue(0.5)
    cfg = lab.settings.current_config()
    assert cfg.objectives.supervised == 0.5 and cfg.model.d_model == 32 and isinstance(cfg, PretrainConfig)
    assert "k parameters" in lab.settings.estimate_label.text()

    worker = lab.start()
    events = []
    worker.emitted.connect(events.append)
    qtbot.waitUntil(lambda: any(isinstance(e, StepLogged) and e.step >= 120 for e in events), timeout=RUN_TIMEOUT_MS)
    lab.stop()
    qtbot.waitUntil(lambda: lab.worker is None, timeout=RUN_TIMEOUT_MS)
    assert lab.last_status == "stopped" and lab.resumable == lab.out_dir and lab.resume_button.isEnabled()
    assert not lab.use_button.isEnabled(), "only a finished model can become the project's"
    stopped_at = lab._step
    total = lab.chart.points("loss", "total")
    assert len(total) == stopped_at // 5 and total[-1, 0] == stopped_at
    for stream in ("span", "salient", "supervised"):
        assert len(lab.chart.points("loss", stream)) > 0, stream
    assert len(lab.chart.points("knowledge", "fill, held-out wording")) == 1, "the check at step 100"
    assert "Zero-shot exact match at step 100" in lab.knowledge_label.text()

    second = lab.resume()
    resumed = []
    second.emitted.connect(resumed.append)
    qtbot.waitUntil(lambda: lab.worker is None, timeout=RUN_TIMEOUT_MS)
    assert lab.last_status == "finished"
    assert next(e for e in resumed if isinstance(e, RunStarted)).resumed_from == stopped_at
    total = lab.chart.points("loss", "total")
    assert list(total[:, 0]) == list(range(5, 405, 5)), "the curve holds the first session's steps, then the rest"
    knowledge = lab.chart.points("knowledge", "QA, trained formats")
    assert list(knowledge[:, 0]) == [100, 200, 300, 400], "checks during training and the final one"
    assert lab.samples_model.rowCount() > 0
    qtmodeltester.check(lab.samples_model)
    assert lab.progress.value() == 400 and "finished" in lab.status_label.text()

    assert lab.use_button.isEnabled()
    lab.use_model()
    assert window.context.project.model == str(lab.out_dir)
    qtbot.waitUntil(lambda: window.context.tokenizer_loading_ref is None, timeout=RUN_TIMEOUT_MS)
    assert window.context.tokenizer is not None and window.context.tokenizer_error is None
