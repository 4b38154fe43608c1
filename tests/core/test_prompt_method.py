"""Prompt tuning as the method has it: prompt-mixed places each relation's prompt by its objective, and a shared
prompt combines with per-relation ones (trains, saves, reloads; old configs and prompt folders still load)."""

import dataclasses
import json

import pytest
import torch

from mto_studio.core.jobs.events import RunFinished, StepLogged
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.training.config import TrainConfig
from mto_studio.core.training.loop import train
from mto_studio.core.training.prompt import PROMPT_META, PROMPT_WEIGHTS, PromptEncoder, SoftPromptModel

EVENT = "PersonX buys a ticket"


def test_prompt_mixed_gives_filling_relations_the_sentinel_and_mapping_ones_none():
    library = TemplateLibrary()
    template = library.get("prompt-mixed")
    library.check(template)
    filling = library.render(template, "AtLocation", "a cup", "the cupboard")
    mapping = library.render(template, "xIntent", EVENT, "to see a film")
    assert filling.template == "prompt-unsup-nat" and mapping.template == "prompt-sup"
    assert filling.source.endswith("<extra_id_0>") and filling.target == "<extra_id_0> the cupboard"
    assert "<extra_id_0>" not in mapping.source and mapping.target == "to see a film"
    assert filling.soft_total > 0 and mapping.soft_total > 0
    assert mapping.source.startswith("<soft_0>") and mapping.source.endswith(EVENT)


def _run(cfg, folder):
    events = list(train(cfg, folder))
    assert isinstance(events[-1], RunFinished), events[-1]
    return events


def test_shared_plus_relation_prompts_train_save_and_reload_to_the_same_predictions(tmp_path, small_world_tsv):
    from mto_studio.core.models.generation import decode_answers, generate_ids
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.templates import load_template
    from mto_studio.core.training.data import encode

    cfg = TrainConfig(
        model="mto-tiny",
        data=str(small_world_tsv),
        test_data=str(small_world_tsv.with_name("small-test.tsv")),
        template="prompt-mixed",
        method="prompt",
        prompt={"sharing": "both"},
        steps=30,
        batch_size=8,
        warmup_steps=3,
        eval_every=0,
        validation_heads=2,
        threads=1,
    )
    run_dir = tmp_path / "run"
    events = _run(cfg, run_dir)
    losses = [e.loss for e in events if isinstance(e, StepLogged)]
    assert losses[-1] < losses[0] * 0.8, losses
    meta = json.loads((run_dir / "prompt" / PROMPT_META).read_text())
    assert meta["sharing"] == "both" and meta["shared"] is False
    assert json.loads((run_dir / "config.json").read_text())["prompt"]["sharing"] == "both"

    model, tokenizer = load_seq2seq("mto-tiny")
    wrapped = SoftPromptModel.load(run_dir / "prompt", model)
    assert wrapped.sharing == "both" and wrapped.encoder.n_tasks == len(wrapped.relations) + 1
    template = load_template(run_dir / "template.toml")
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    library = TemplateLibrary()
    sources = [
        encode(tokenizer, library.render(template, p["relation"], p["input"], "x").source, 128)[0] for p in predictions
    ]
    tasks = [wrapped.relations.index(p["relation"]) for p in predictions]

    def encode_inputs(ids, mask, indices):
        return wrapped.embed(ids, torch.as_tensor([tasks[i] for i in indices]))

    answers = decode_answers(
        tokenizer,
        generate_ids(model, sources, pad_id=tokenizer.pad_token_id, max_new_tokens=16, encode_inputs=encode_inputs),
    )
    assert answers == [p["prediction"] for p in predictions]


def test_old_configs_with_shared_true_read_as_the_shared_sharing_mode():
    old = TrainConfig.from_dict({"method": "prompt", "prompt": {"reparam": "mlp", "shared": True}})
    assert old.prompt.sharing == "shared"
    assert TrainConfig.from_dict({"prompt": {"shared": False}}).prompt.sharing == "per-relation"
    again = TrainConfig.from_dict(json.loads(json.dumps(old.to_dict())))
    assert again.prompt.sharing == "shared"
    # the old flag is cleared once read: it does not come back to override a later choice
    assert old.to_dict()["prompt"]["shared"] is None
    assert dataclasses.replace(old.prompt, sharing="per-relation").sharing == "per-relation"
    assert TrainConfig.from_dict({"prompt": {"sharing": "both"}}).prompt.sharing == "both"


def _old_prompt_folder(folder, model, relations, *, shared: bool):
    """A prompt folder as the code before sharing modes wrote it: ``shared`` in prompt.json, no ``sharing``."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    d_model = model.get_input_embeddings().weight.shape[1]
    encoder = PromptEncoder(1 if shared else len(relations), 4, d_model, reparam="mlp", hidden=16)
    tensors = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
    tensors["embeddings"] = encoder().detach().contiguous()
    folder.mkdir()
    save_file(tensors, str(folder / PROMPT_WEIGHTS))
    meta = {
        "relations": relations,
        "shared": shared,
        "n_tokens": 4,
        "d_model": d_model,
        "reparam": "mlp",
        "base_model": "tiny",
        "hidden": 16,
    }
    (folder / PROMPT_META).write_text(json.dumps(meta))
    return tensors["embeddings"]


@pytest.mark.parametrize(("shared", "sharing"), [(True, "shared"), (False, "per-relation")])
def test_a_prompt_folder_saved_before_sharing_modes_still_loads(tmp_path, tiny_model_dir, shared, sharing):
    from mto_studio.core.models.loading import load_seq2seq

    model, _ = load_seq2seq(str(tiny_model_dir))
    saved = _old_prompt_folder(tmp_path / "prompt", model, ["AtLocation", "xIntent"], shared=shared)
    loaded = SoftPromptModel.load(tmp_path / "prompt", model)
    assert loaded.sharing == sharing and loaded.shared is shared
    assert torch.allclose(loaded.prompts(), saved)
    ids = torch.tensor([[-1, -2, -3, -4, 5, 6]])
    embedded = loaded.embed(ids, torch.tensor([1]))
    assert torch.allclose(embedded[0, :4], saved[0 if shared else 1])


@pytest.mark.parametrize("reparam", ["mlp", "table"])
def test_every_soft_position_of_a_shared_plus_relation_prompt_uses_both_parameter_sets(tiny_model_dir, reparam):
    from mto_studio.core.models.loading import load_seq2seq

    model, _ = load_seq2seq(str(tiny_model_dir))
    d_model = model.get_input_embeddings().weight.shape[1]
    relations = ["AtLocation", "xIntent", "xWant"]
    encoder = PromptEncoder(len(relations) + 1, 4, d_model, reparam=reparam, hidden=16)
    wrapped = SoftPromptModel(model, encoder, relations, "both")
    with torch.no_grad():
        encoder.base[-1].normal_()  # a trained shared row (it starts at zero)
    ids = torch.tensor([[-1, -2, -3, -4, 5, 6]])
    embedded = wrapped.embed(ids, torch.tensor([1]))
    table = encoder()
    assert torch.allclose(embedded[0, :4], table[1] + table[-1])
    embedded[0, :4].pow(2).sum().backward()
    grad = encoder.base.grad
    assert grad is not None
    for position in range(4):
        assert grad[1, position].abs().sum() > 0 and grad[-1, position].abs().sum() > 0
    assert grad[0].abs().sum() == 0 and grad[2].abs().sum() == 0  # other relations' prompts were not used
