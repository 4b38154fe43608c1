"""Training real architectures (T5 v1.0, T5 v1.1, mT5, BART) with the core API: the loss falls, every method ends
`finished` with finite metrics, a stopped run resumed through the CLI ends exactly where an uninterrupted one does,
and a model trained on one answer reproduces it word for word (its first word too: BART's ``<s>`` framing)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from mto_studio.cli import main
from mto_studio.core.jobs.events import RunFinished, StepLogged, Stop
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train
from tests.real_models.conftest import ANSWER, BUILDS


def _config(model, data, **changes) -> TrainConfig:
    base = dict(
        model=str(model.folder),
        data=str(data),
        test_data=str(data.with_name("small-test.tsv")),
        template="unsup-nat",
        steps=40,
        batch_size=8,
        lr=1e-2,
        prompt_lr=3e-2,
        warmup_steps=5,
        eval_every=0,
        validation_heads=2,
        max_new_tokens=12,
        threads=1,
    )
    base.update(changes)
    return TrainConfig(**base)


def _run(cfg, folder, stop_at: int | None = None) -> list:
    events, command = [], None
    gen = train(cfg, folder)
    while True:
        try:
            event = gen.send(command)
        except StopIteration:
            return events
        events.append(event)
        command = Stop() if isinstance(event, StepLogged) and event.step == stop_at else None


def _result(folder) -> dict:
    return json.loads((folder / "result.json").read_text())


def _assert_finite_result(folder, name: str) -> dict:
    result = _result(folder)
    assert result["status"] == "finished", (name, result)
    metrics = result["metrics"]
    assert {"rougeL", "exact_match", "token_f1"} <= set(metrics), metrics
    assert all(math.isfinite(value) for value in metrics.values()), (name, metrics)
    assert 0.0 <= metrics["rougeL"] <= 1.0 and metrics["heads"] == 12
    assert math.isfinite(result["final_loss"])
    return result


def test_finetuning_loss_falls_over_40_steps(tmp_path, real_model, real_data):
    events = _run(_config(real_model, real_data), tmp_path / "run")
    losses = [e.loss for e in events if isinstance(e, StepLogged)]
    assert len(losses) == 8 and all(math.isfinite(x) for x in losses), losses
    assert losses[-1] < 0.6 * losses[0], (real_model.name, losses)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    _assert_finite_result(tmp_path / "run", real_model.name)
    assert (tmp_path / "run" / "model" / "config.json").is_file()


@pytest.mark.parametrize(("method", "template"), [("prompt", "prompt-sup"), ("lora", "unsup-nat")])
def test_prompt_tuning_and_lora_train_and_save_their_weights(tmp_path, real_model, real_data, method, template):
    events = _run(_config(real_model, real_data, method=method, template=template), tmp_path / "run")
    losses = [e.loss for e in events if isinstance(e, StepLogged)]
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0], (real_model.name, method, losses)
    result = _assert_finite_result(tmp_path / "run", real_model.name)
    saved = {"prompt": "prompt", "lora": "lora"}[method]
    assert result["artifact"].endswith(saved) and (tmp_path / "run" / saved).is_dir(), result["artifact"]
    assert not (tmp_path / "run" / "model").exists(), "prompt tuning and LoRA keep only what they trained"


def test_a_model_trained_on_one_answer_reproduces_it_first_word_included(tmp_path, real_model, constant_answer_data):
    """Every target is ANSWER ('the dog to come'): after 40 steps the test heads' predictions must be exactly it.
    A family whose training and generation disagree about ``<s>`` loses the first word ('dog to come')."""
    _run(_config(real_model, constant_answer_data, template="sup"), tmp_path / "run")
    result = _assert_finite_result(tmp_path / "run", real_model.name)
    predictions = [json.loads(line)["prediction"] for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert predictions and all(p.split()[:1] == ["the"] for p in predictions), (real_model.name, predictions[:3])
    assert predictions.count(ANSWER) == len(predictions), (real_model.name, predictions[:3])
    assert result["metrics"]["exact_match"] == 1.0


@pytest.mark.parametrize("name", [b for b in BUILDS if b != "bart"])
def test_filling_with_one_answer_extracts_the_answer(tmp_path, real_models, constant_answer_data, name):
    """The same with the Filling template: T5 families answer after the sentinel and the prediction is the answer
    alone. (Not BART: its Filling target is the whole source rebuilt, and a 1-layer random BART does not learn to
    copy unseen heads in a test's time: it rebuilds training heads, whose frame does not match.)"""
    real_model = real_models[name]
    _run(_config(real_model, constant_answer_data, template="unsup-nat", max_new_tokens=24), tmp_path / "run")
    _assert_finite_result(tmp_path / "run", real_model.name)
    predictions = [json.loads(line)["prediction"] for line in (tmp_path / "run" / "predictions.jsonl").open()]
    assert predictions.count(ANSWER) == len(predictions), (real_model.name, predictions[:3])


def test_a_stopped_run_resumed_through_the_cli_matches_an_uninterrupted_one(tmp_path, capsys, real_model, real_data):
    cfg = _config(real_model, real_data, steps=30, eval_every=10)
    straight = _run(cfg, tmp_path / "straight")
    stopped = _run(cfg, tmp_path / "stopped", stop_at=15)
    assert isinstance(stopped[-1], RunFinished) and stopped[-1].status == "stopped" and stopped[-1].step == 15
    assert _result(tmp_path / "stopped")["status"] == "stopped"
    rc = main(["train", "--resume", str(tmp_path / "stopped")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    a, b = _result(tmp_path / "straight"), _result(tmp_path / "stopped")
    assert b["status"] == "finished" and b["step"] == 30
    assert a["metrics"] == pytest.approx(b["metrics"], abs=1e-6), (a["metrics"], b["metrics"])
    assert a["final_loss"] == pytest.approx(b["final_loss"], rel=1e-4)
    assert straight[-1].metrics["rougeL"] == pytest.approx(b["metrics"]["rougeL"], abs=1e-6)
    from safetensors.torch import load_file

    wa = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    wb = load_file(str(tmp_path / "stopped" / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-6)
    pa = (tmp_path / "straight" / "predictions.jsonl").read_text()
    assert pa == (tmp_path / "stopped" / "predictions.jsonl").read_text()
