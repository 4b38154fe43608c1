"""The trainer: loss falls, metrics rise, methods save and reload, stop/resume is exact, failures are clean."""

import json

import pytest
import torch

from mto_studio.core.errors import ConfigError, ModelError
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    Pause,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
)
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train


def _config(model_dir, data_path, **changes) -> TrainConfig:
    """A short run on ``data_path`` with the test file beside it (``small-test.tsv``: other heads)."""
    test = data_path.with_name("small-test.tsv")
    base = dict(
        model=str(model_dir),
        data=str(data_path),
        test_data=str(test),
        template="unsup-nat",
        steps=60,
        batch_size=8,
        lr=3e-3,
        warmup_steps=5,
        eval_every=20,
        validation_heads=2,
        threads=1,
    )
    base.update(changes)
    return TrainConfig(**base)


def _run(cfg, folder, commands=None):
    """Run to the end; ``commands`` maps (event type, step) → command to send."""
    events = []
    gen = train(cfg, folder)
    command = None
    while True:
        try:
            event = gen.send(command)
        except StopIteration:
            break
        events.append(event)
        command = (commands or {}).get((type(event), getattr(event, "step", None)))
    return events


def _untrained_rouge(model_dir, data, template="unsup-nat"):
    from mto_studio.core.data import load_task_data
    from mto_studio.core.metrics import score_predictions
    from mto_studio.core.models.generation import generate_answers
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.templates import TemplateLibrary

    model, tokenizer = load_seq2seq(str(model_dir))
    heads = load_task_data(data).heads
    library = TemplateLibrary()
    sources = [library.render(template, h.relation, h.input, h.references[0]).source for h in heads]
    answers = generate_answers(model, tokenizer, sources, max_new_tokens=8)
    return score_predictions(
        [h.relation for h in heads], [h.input for h in heads], answers, [h.references for h in heads]
    ).overall["rougeL"]


def test_finetuning_lowers_the_loss_and_raises_rouge_on_training_heads(tmp_path, small_world_tsv):
    # a tokenizer that knows the data's words: with the shared tiny one the world's words are spelt letter by letter
    # and 300 steps of a 100k-parameter model memorise the letters' frequencies, not the answers
    from tests.helpers import build_tiny_model

    words = small_world_tsv.read_text().replace("\t", " ").splitlines()[1:]
    tiny_model_dir = build_tiny_model(tmp_path / "model", vocab_size=400, extra_texts=words * 5)
    cfg = _config(tiny_model_dir, small_world_tsv, steps=300, lr=1e-2, validation_heads=1)
    events = _run(cfg, tmp_path / "run")
    losses = [e.loss for e in events if isinstance(e, StepLogged)]
    assert losses[-1] < losses[0] * 0.5, losses
    finished = events[-1]
    assert isinstance(finished, RunFinished) and finished.status == "finished"
    before = _untrained_rouge(tiny_model_dir, small_world_tsv)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"] == "finished" and result["split"] == "test"
    # the fit: the trained weights (saved in the run folder) on the training file, 26 of whose 28 heads they saw
    after = _untrained_rouge(result["artifact"], small_world_tsv)
    assert after > before + 0.3, (before, after)
    for name in (
        "config.json",
        "template.toml",
        "split.json",
        "environment.json",
        "metrics.jsonl",
        "predictions.jsonl",
        "run.json",
    ):
        assert (tmp_path / "run" / name).is_file(), name
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["sample"]["k"] == "full" and len(split["validation_head_ids"]) == 2
    run_info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert len(run_info["template_sha256"]) == 64


def test_event_stream_shape_and_validation_curve(tmp_path, tiny_model_dir, small_world_tsv):
    events = _run(_config(tiny_model_dir, small_world_tsv, steps=40, shots=4), tmp_path / "run")
    assert isinstance(events[0], RunStarted) and events[0].total_steps == 40
    steps = [e.step for e in events if isinstance(e, StepLogged)]
    assert steps == list(range(5, 41, 5))
    evals = [e for e in events if isinstance(e, EvalDone)]
    assert [(e.split, e.step) for e in evals] == [("validation", 20), ("validation", 40), ("test", 40)]
    assert set(evals[0].per_relation) == {"AtLocation", "xIntent"}
    assert evals[-1].samples and {"prediction", "references"} <= set(evals[-1].samples[0])
    assert any(isinstance(e, CheckpointSaved) for e in events)
    assert json.loads((tmp_path / "run" / "split.json").read_text())["sample"]["per_relation"] == {
        "AtLocation": 4,
        "xIntent": 4,
    }


def test_stop_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_model_dir, small_world_tsv):
    cfg = _config(tiny_model_dir, small_world_tsv, steps=40, eval_every=10)
    straight = _run(cfg, tmp_path / "straight")
    stopped = _run(cfg, tmp_path / "stopped", {(StepLogged, 25): Stop()})
    assert isinstance(stopped[-1], RunFinished) and stopped[-1].status == "stopped" and stopped[-1].step == 25
    assert json.loads((tmp_path / "stopped" / "result.json").read_text())["status"] == "stopped"
    resumed = []
    for event in train(None, tmp_path / "stopped", resume=True):
        resumed.append(event)
    assert resumed[0].resumed_from == 25
    a, b = straight[-1].metrics, resumed[-1].metrics
    assert a["rougeL"] == pytest.approx(b["rougeL"], abs=1e-6) and a["loss"] == pytest.approx(b["loss"], rel=1e-4)
    from safetensors.torch import load_file

    wa = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    wb = load_file(str(tmp_path / "stopped" / "model" / "model.safetensors"))
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-5, atol=1e-6)
    logged = [json.loads(line) for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in logged if r["event"] == "StepLogged"]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) == 8


def test_pause_and_resume_between_steps(tmp_path, tiny_model_dir, small_world_tsv):
    gen = train(_config(tiny_model_dir, small_world_tsv, steps=20, eval_every=0), tmp_path / "run")
    seen = []
    command = None
    while True:
        try:
            event = gen.send(command)
        except StopIteration:
            break
        seen.append(event)
        command = Pause() if isinstance(event, StepLogged) and event.step == 10 else None
    kinds = [type(e) for e in seen]
    assert Paused in kinds and kinds[kinds.index(Paused) + 1] is Resumed
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "finished"


def test_prompt_tuning_changes_only_the_prompts_and_reloads(tmp_path, tiny_model_dir, small_world_tsv):
    from mto_studio.core.models.loading import load_seq2seq

    cfg = _config(
        tiny_model_dir, small_world_tsv, template="prompt-unsup-nat", method="prompt", steps=40, prompt_lr=0.05
    )
    events = _run(cfg, tmp_path / "run")
    assert isinstance(events[-1], RunFinished), events[-1]
    assert events[0].config["trainable_parameters"] < events[0].config["parameters"] / 2
    base, _ = load_seq2seq(str(tiny_model_dir))
    prompt_dir = tmp_path / "run" / "prompt"
    assert (prompt_dir / "prompt.safetensors").is_file() and (prompt_dir / "prompt.json").is_file()
    assert not (tmp_path / "run" / "model").exists()
    # the backbone on disk is untouched, and training never wrote it: compare with a fresh load
    fresh, _ = load_seq2seq(str(tiny_model_dir))
    for (name, a), (_, b) in zip(base.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    _assert_reload_reproduces(tmp_path / "run", "prompt")


def test_prompt_tuning_leaves_backbone_bit_identical_in_memory(tmp_path, tiny_model_dir, small_world_tsv, monkeypatch):
    from mto_studio.core.training.run_setup import RunSetup

    captured = {}
    original = RunSetup.__init__

    def spy(self, cfg, run_dir):
        original(self, cfg, run_dir)
        captured["run"] = self
        captured["before"] = {k: v.clone() for k, v in self.method.base.state_dict().items()}

    monkeypatch.setattr(RunSetup, "__init__", spy)
    cfg = _config(tiny_model_dir, small_world_tsv, template="prompt-sup", method="prompt", steps=30)
    cfg = TrainConfig.from_dict(
        {**cfg.to_dict(), "prompt": {"reparam": "lstm", "init": "vocab", "hidden": 16, "shared": False}}
    )
    events = _run(cfg, tmp_path / "run")
    assert isinstance(events[-1], RunFinished)
    after = captured["run"].method.base.state_dict()
    for key, value in captured["before"].items():
        assert torch.equal(value, after[key]), key
    encoder = captured["run"].method.module.encoder
    assert encoder.reparam == "lstm" and encoder.base.shape[0] == 2


def test_lora_adapter_saves_and_reloads(tmp_path, tiny_model_dir, small_world_tsv):
    cfg = _config(tiny_model_dir, small_world_tsv, method="lora", steps=40, lr=5e-3)
    events = _run(cfg, tmp_path / "run")
    assert isinstance(events[-1], RunFinished), events[-1]
    assert (tmp_path / "run" / "lora" / "adapter_config.json").is_file()
    _assert_reload_reproduces(tmp_path / "run", "lora")


def _assert_reload_reproduces(run_dir, kind):
    """Reload the saved prompts/adapter onto a fresh base model and regenerate the run's test predictions."""
    from mto_studio.core.models.generation import decode_answers, generate_ids
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.templates import TemplateLibrary, load_template
    from mto_studio.core.training.data import encode
    from mto_studio.core.training.methods import load_lora
    from mto_studio.core.training.prompt import SoftPromptModel

    config = json.loads((run_dir / "config.json").read_text())
    model, tokenizer = load_seq2seq(config["resolved_model"])
    template = load_template(run_dir / "template.toml")
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    library = TemplateLibrary()
    sources = [
        encode(tokenizer, library.render(template, p["relation"], p["input"], "x").source, 128)[0] for p in predictions
    ]
    encode_inputs = None
    generator = model
    if kind == "prompt":
        wrapped = SoftPromptModel.load(run_dir / "prompt", model)
        relations = wrapped.relations
        tasks = [relations.index(p["relation"]) for p in predictions]

        def encode_inputs(ids, mask, indices):
            return wrapped.embed(ids, torch.as_tensor([tasks[i] for i in indices]))
    else:
        generator = load_lora(run_dir / "lora", model)
    answers = decode_answers(
        tokenizer,
        generate_ids(generator, sources, pad_id=tokenizer.pad_token_id, max_new_tokens=16, encode_inputs=encode_inputs),
    )
    assert answers == [p["prediction"] for p in predictions]


def test_nan_loss_fails_the_run_with_a_reason_and_the_next_run_works(
    tmp_path, tiny_model_dir, small_world_tsv, monkeypatch
):
    from mto_studio.core.training.methods import MethodRun
    from tests.helpers import nan_loss_at_step

    monkeypatch.setattr(MethodRun, "forward", MethodRun.forward)  # restored after the test
    real = nan_loss_at_step(7)
    events = _run(_config(tiny_model_dir, small_world_tsv, steps=20), tmp_path / "bad")
    MethodRun.forward = real
    failed = events[-1]
    assert isinstance(failed, RunFailed) and "loss became nan at step 7" in failed.reason
    assert "lower the learning rate" in failed.reason
    assert json.loads((tmp_path / "bad" / "result.json").read_text())["reason"] == failed.reason
    again = _run(_config(tiny_model_dir, small_world_tsv, steps=10), tmp_path / "good")
    assert isinstance(again[-1], RunFinished) and again[-1].status == "finished"


def test_out_of_memory_fails_the_run_cleanly(tmp_path, tiny_model_dir, small_world_tsv, monkeypatch):
    from mto_studio.core.training import methods

    def explode(self, ids, mask, tasks, labels):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(methods.MethodRun, "forward", explode)
    events = _run(_config(tiny_model_dir, small_world_tsv, steps=10), tmp_path / "oom")
    assert isinstance(events[-1], RunFailed)
    assert "out of memory at step 1" in events[-1].reason and "lower batch_size" in events[-1].reason


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"template": "prompt-sup"}, ConfigError, "only prompt tuning trains"),
        ({"method": "prompt", "template": "sup"}, ConfigError, "prompt tuning needs soft-prompt slots"),
        ({"shots": 50}, ConfigError, "k=50 is larger than the 12 heads of relation 'AtLocation' left after"),
        ({"model": "/no/such/model"}, ModelError, "model folder not found"),
    ],
)
def test_bad_configs_raise_before_training(tmp_path, tiny_model_dir, small_world_tsv, changes, error, message):
    with pytest.raises(error, match=message):
        next(train(_config(tiny_model_dir, small_world_tsv, **changes), tmp_path / "run"))


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown method 'sft'"):
        TrainConfig(method="sft")


def test_a_resumed_run_trains_on_the_template_it_started_with(tmp_path, tiny_model_dir, small_world_tsv):
    """The library's template may change between a stop and a resume (an edit, a new built-in version): the resume
    uses the run's own template.toml, so the run stays one experiment."""
    template = tmp_path / "mine.toml"
    template.write_text(
        'name = "mine"\nobjective = "filling"\nsource = "{input} {rel} {mask}"\ntarget = "{mask} {target}"\n',
        encoding="utf-8",
    )
    cfg = _config(tiny_model_dir, small_world_tsv, template=str(template), steps=12, eval_every=0)
    stopped = _run(cfg, tmp_path / "run", {(StepLogged, 5): Stop()})
    assert stopped[-1].status == "stopped"
    template.write_text('name = "mine"\nsource = "{input"\n', encoding="utf-8")  # now broken in the library
    resumed = list(train(None, tmp_path / "run", resume=True))
    assert isinstance(resumed[-1], RunFinished) and resumed[-1].status == "finished", resumed[-1]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["template"] == "mine"
