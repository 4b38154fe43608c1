"""Training on multiple-choice (QA) data: a short mto-tiny fine-tune on world-qa reports accuracy that the saved
predictions reproduce, batched choice ranking equals scoring one pair at a time (and the model's own loss), and QA
templates on completion data fail before training."""

import json

import pytest
import torch

from mto_studio.core.data import load_task_data
from mto_studio.core.errors import ConfigError
from mto_studio.core.jobs.events import EvalDone, RunFinished
from mto_studio.core.metrics import match_choice, rank_choices
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train
from mto_studio.core.training.qa_eval import choice_log_likelihoods

QA_RUN = dict(
    data="world-qa",
    model="mto-tiny",
    template="qa-mixed",
    relations=["AtLocation", "xWant"],
    shots=8,
    steps=30,
    batch_size=8,
    warmup_steps=5,
    eval_every=15,
    max_eval_heads=3,
    max_test_heads=6,
    save_model=False,
    threads=1,
)


def test_a_short_qa_finetune_reports_accuracy_that_its_predictions_reproduce(tmp_path):
    events = list(train(TrainConfig(**QA_RUN), tmp_path / "run"))
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "finished", finished
    evals = [e for e in events if isinstance(e, EvalDone)]
    assert evals and all({"accuracy", "matched", "accuracy_ranked"} <= set(e.metrics) for e in evals)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    metrics = result["metrics"]
    assert {"accuracy", "matched", "accuracy_ranked", "rougeL"} <= set(metrics)
    lines = [json.loads(x) for x in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 12  # 6 test questions of each of the 2 relations
    # recompute from the saved predictions: each generated text matched to its question's choices
    questions = {(h.relation, h.input): h for h in load_task_data("world-qa", None, split="test").heads}
    correct = matched = 0
    for line in lines:
        head = questions[(line["relation"], line["input"])]
        chosen = match_choice(line["prediction"], head.choices)
        assert line["choice"] == (-1 if chosen is None else chosen)
        correct += chosen == head.answer
        matched += chosen is not None
    assert metrics["accuracy"] == pytest.approx(correct / len(lines))
    assert metrics["matched"] == pytest.approx(matched / len(lines))
    assert metrics["accuracy_ranked"] == pytest.approx(sum(x["accuracy_ranked"] for x in lines) / len(lines))
    assert set(result["per_relation"]) == {"AtLocation", "xWant"}
    # a QA run is labelled, and chooses its checkpoint, by accuracy
    assert result["score_label"].startswith("Test accuracy"), result["score_label"]
    assert result["best_validation_metric"] == "accuracy"
    best = [e.metrics["accuracy"] for e in evals if e.split == "validation"]
    assert result["best_validation_rougeL"] == pytest.approx(max(best))
    assert all("accuracy" in v for v in result["per_relation"].values())


def test_batched_choice_ranking_equals_one_pair_at_a_time(tmp_path):
    from mto_studio.core.training.run_setup import RunSetup

    cfg = TrainConfig(**{**QA_RUN, "template": "qa-unsup", "relations": ["HasProperty"], "max_test_heads": 4})
    setup = RunSetup(cfg, tmp_path)
    split = "test"
    sources, tasks = setup.data.eval_sources[split], setup.data.eval_tasks[split]
    targets = setup.data.eval_choice_targets[split]
    assert [len(t) for t in targets] == [5] * 4  # five choices per question, each rendered as the target
    pad = setup.tokenizer.pad_token_id
    batched = choice_log_likelihoods(setup.method, sources, tasks, targets, pad_id=pad, batch_size=64)
    single = choice_log_likelihoods(setup.method, sources, tasks, targets, pad_id=pad, batch_size=1)
    assert [len(s) for s in batched] == [5] * 4
    assert sum(batched, []) == pytest.approx(sum(single, []), abs=1e-4)
    # one pair by hand: the mean log-likelihood is minus the model's own mean cross-entropy on that target
    model = setup.method.generator
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([sources[0]]), labels=torch.tensor([targets[0][2]])).loss
    assert batched[0][2] == pytest.approx(-float(loss), abs=1e-4)
    heads = setup.data.test
    report = setup.evaluate(split)
    ranked = [float(rank_choices(s) == h.answer) for s, h in zip(batched, heads, strict=True)]
    assert report.overall["accuracy_ranked"] == pytest.approx(sum(ranked) / len(ranked))
    # ranking off: accuracy of the generated texts only
    setup.cfg = setup.cfg.replace(qa_scoring="generate")
    plain = setup.evaluate(split)
    assert "accuracy_ranked" not in plain.overall and plain.overall["accuracy"] == report.overall["accuracy"]


@pytest.mark.parametrize("template", ["qa-sup", "qa-unsup", "qa-mixed"])
def test_a_qa_template_on_completion_data_fails_before_training(tmp_path, small_world_tsv, template):
    cfg = TrainConfig(
        data=str(small_world_tsv), test_data=str(small_world_tsv.with_name("small-test.tsv")), template=template,
        steps=2, validation_heads=2, threads=1,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=f"template '{template}' is for multiple-choice .QA. data") as caught:
        next(train(cfg, tmp_path / "run"))
    assert "world-qa" in caught.value.hint


def test_qa_scoring_accepts_only_its_three_modes():
    assert TrainConfig().qa_scoring == "both"
    with pytest.raises(ConfigError, match="qa_scoring"):
        TrainConfig(qa_scoring="vote")


def test_reports_put_accuracy_next_to_rouge_for_qa_runs_only(tmp_path):
    from dataclasses import replace

    from mto_studio.core.training.compare_report import runs_table
    from mto_studio.core.training.results import RunResult, build_table, headline_metric, score_label
    from tests.core.test_compare_report import run_row

    completion = run_row(1, tmp_path, "sup", "test", "Test ROUGE-L", 0.5)
    qa = replace(run_row(2, tmp_path, "qa-sup", "test", "Test ROUGE-L", 0.4))
    qa.metrics.update(accuracy=0.75, accuracy_ranked=0.5)
    header, rule, *rows = runs_table([completion, qa]).splitlines()[:4]
    assert "| accuracy | accuracy (ranked) | ROUGE-L | EM |" in header
    assert "| 0.750 | 0.500 | 0.400 |" in rows[1] and "| — | — | 0.500 |" in rows[0]
    assert "accuracy" not in runs_table([completion]).splitlines()[0]
    assert headline_metric(qa.metrics) == "accuracy" and headline_metric(completion.metrics) == "rougeL"
    assert score_label("test", "accuracy") == "Test accuracy"
    assert score_label("validation", "accuracy_ranked") == "Validation accuracy (ranked) (best checkpoint)"
    results = [RunResult("qa-sup", "finetune", "8", s, {"accuracy": 0.5 + s / 10}, split="test") for s in (0, 1)]
    table = build_table(results, metric="accuracy", baseline="qa-sup")
    assert table.label == "Test accuracy" and table.cells[0].mean == 0.55
