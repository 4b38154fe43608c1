"""Divergence: a run whose loss runs far above the untrained model's, or whose predictions collapse to one or two
answers while its loss does not fall, ends `diverged` with the reason (result.json, the run store, the CLI: exit 1),
never a silent `finished`. Default training is not flagged: the learning curves below were measured on the embedded
model `mto-tiny` (world data, 300 steps), and tests/core/test_training.py trains the tiny test model many times."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mto_studio.core.jobs.events import EvalDone, RunFailed, RunFinished
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import RunFolder
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train
from mto_studio.core.training.results import DivergenceWatch
from tests.helpers import run_cli

#: mto-tiny on the built-in world, default settings except the learning rate: the loss logged every 5 steps (the
#: mean since the last log), and the untrained model's loss. lr 1e-3 (the default) reaches test ROUGE-L 0.994;
#: lr 10 ends at 0.038 with one distinct prediction; lr 0.01 at 0.227 with 4 (bad, but not diverged by these rules).
START = 1.42
CURVES = {
    1e-3: [1.909, 0.95, 0.599, 0.68, 0.477, 0.166, 0.278, 0.213, 0.102, 0.099, 0.245, 0.192, 0.132, 0.174, 0.161,
           0.224, 0.164, 0.084, 0.076, 0.072, 0.064, 0.084, 0.086, 0.054, 0.061, 0.049, 0.086, 0.067, 0.059, 0.077,
           0.065, 0.09, 0.078, 0.052, 0.04, 0.038, 0.023, 0.02, 0.033, 0.021, 0.025, 0.032, 0.027, 0.029, 0.028],
    1e-2: [1.503, 0.376, 0.62, 2.052, 2.848, 2.877, 3.151, 3.445, 3.121, 2.619, 2.766, 2.947, 3.278, 3.292, 2.828,
           2.788, 2.65, 2.679, 2.315, 2.4, 2.495, 2.411, 2.601, 2.199, 2.29, 2.297, 2.35, 2.637, 1.968, 2.628],
    10.0: [9.058, 36.039, 159.617, 377.411, 664.244, 972.653, 1417.675, 1693.572, 2849.337, 3428.995],
}  # fmt: skip


def _verdict(curve: list[float], start: float = START, warmup: int = 20) -> tuple[int, str] | None:
    watch = DivergenceWatch(warmup, start_loss=start)
    for i, loss in enumerate(curve):
        if reason := watch.logged(5 * (i + 1), loss):
            return 5 * (i + 1), reason
    return None


@pytest.mark.parametrize(("lr", "expected"), [(1e-3, None), (1e-2, None), (10.0, 30)])
def test_measured_curves_diverge_only_at_a_runaway_learning_rate(lr, expected):
    verdict = _verdict(CURVES[lr])
    assert (verdict[0] if verdict else None) == expected, verdict
    if verdict:
        assert verdict[1].startswith("diverged: the training loss rose from 1.42 (the untrained model's) to 973")


def test_one_spike_after_warm_up_is_not_divergence_and_warm_up_is_not_judged():
    assert _verdict([1.0, 0.8, 9.0, 9.0, 9.0, 0.7, 0.6], start=1.0, warmup=25) is None  # the spike is in warm-up
    assert _verdict([1.0, 0.8, 0.7, 9.0, 0.7, 9.0, 0.6], start=1.0, warmup=10) is None  # never two logs in a row
    assert _verdict([1.0, 0.8, 0.7, 9.0, 9.0], start=1.0, warmup=10) is not None
    assert _verdict([0.01, 0.04, 0.05, 0.06, 0.06], start=0.01, warmup=0) is None, "3× a tiny loss is noise"


@dataclass(frozen=True)
class Item:
    prediction: str
    references: tuple[str, ...]


DIVERSE = [(f"answer {i}",) for i in range(12)]


@pytest.mark.parametrize(
    ("predictions", "references", "last_loss", "diverged"),
    [
        (["to eat"] * 12, DIVERSE, 2.0, True),
        (["to eat", "the the"] * 6, DIVERSE, 1.5, True),
        ([""] * 12, DIVERSE, 1.4, True),
        (["to eat"] * 12, DIVERSE, 1.3, False),  # the loss fell: not learnt yet, not diverged
        (["a", "b", "c"] * 4, DIVERSE, 2.0, False),  # three distinct answers
        (["to eat"] * 12, [("to eat",)] * 12, 2.0, False),  # the references are not diverse either
        (["to eat"] * 9, DIVERSE[:9], 2.0, False),  # too few heads to tell
    ],
)
def test_collapsed_predictions_are_divergence_only_while_the_loss_does_not_fall(
    predictions, references, last_loss, diverged
):
    watch = DivergenceWatch(20, start_loss=1.4, last_loss=last_loss)
    reason = watch.evaluated([Item(p, r) for p, r in zip(predictions, references, strict=True)], "validation", 50)
    assert (reason is not None) is diverged, reason
    if diverged:
        assert reason.startswith(f"diverged: at step 50 the {len(predictions)} validation predictions collapsed to")


def test_the_watch_state_survives_a_checkpoint():
    watch = DivergenceWatch(0, start_loss=1.0)
    watch.logged(5, 9.0)
    again = DivergenceWatch(0)
    again.restore(json.loads(json.dumps(watch.state())))
    assert again == watch and again.logged(10, 9.0) is not None, "the second log in a row decides, as uninterrupted"


# --- runs ----------------------------------------------------------------------------------------------------------
def _config(model_dir: Path, data: Path, **changes) -> TrainConfig:
    base = dict(model=str(model_dir), data=str(data), test_data=str(data.with_name("small-test.tsv")),
                template="unsup-nat", steps=30, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=10,
                validation_heads=6, threads=1)  # fmt: skip
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture
def one_answer(monkeypatch):
    """Every generated answer is "to eat" (a collapsed model), whatever the weights."""
    from mto_studio.core.models import generation

    monkeypatch.setattr(generation, "decode_answers", lambda tokenizer, generated: ["to eat"] * len(generated))


def test_collapsed_predictions_with_a_loss_above_its_start_end_the_run_diverged(
    tmp_path, tiny_model_dir, small_world_tsv, one_answer, monkeypatch
):
    from mto_studio.core.training.run_setup import RunSetup

    monkeypatch.setattr(RunSetup, "initial_loss", lambda self: 2.0)  # below the training loss, not 3× below it
    folder = tmp_path / "run"
    events = list(train(_config(tiny_model_dir, small_world_tsv), folder))
    failed = events[-1]
    assert isinstance(failed, RunFailed) and failed.step == 10, failed
    assert failed.reason.startswith("diverged: at step 10 the 12 validation predictions collapsed to 1 distinct answer")
    assert "(e.g. 'to eat')" in failed.reason and "lower the learning rate (now 0.003)" in failed.reason
    assert isinstance(events[-2], EvalDone), "the collapsed evaluation is shown before the run ends"
    result = json.loads((folder / "result.json").read_text())
    assert result["status"] == "diverged" and result["reason"] == failed.reason and "rougeL" in result["metrics"]
    assert RunFolder(folder).status() is RunStatus.DIVERGED and not RunFolder(folder).is_resumable()


def test_an_untrained_model_that_collapses_while_its_loss_falls_finishes(
    tmp_path, tiny_model_dir, small_world_tsv, one_answer
):
    events = list(train(_config(tiny_model_dir, small_world_tsv), tmp_path / "run"))
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished", events[-1]


def test_cli_lr_10_ends_diverged_with_exit_1_and_the_reason_stored(tmp_path):
    out, store = tmp_path / "run", tmp_path / "runs.sqlite"
    done = run_cli("train", "--lr", "10", "--steps", "100", "--eval-every", "50", "--out", str(out),
                   "--store", str(store))  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    said = {line.split("diverged: ", 1)[1] for line in (done.stdout + done.stderr).splitlines() if "diverged: " in line}
    assert len(said) == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    reason = "diverged: " + said.pop()
    assert reason.startswith("diverged: the training loss rose from ") and "lower the learning rate (now 10)" in reason
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "diverged" and result["reason"] == reason and result["step"] <= 30
    with RunStore(store) as runs:
        (row,) = runs.runs()
    assert row.status == "failed" and row.reason == reason
