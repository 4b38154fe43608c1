"""The built-in world and the Objective Lab: deterministic files, knowledge kinds by construction, a short
pre-training run whose loss falls."""

import filecmp
import json

from mto_studio.core.resources import resource
from mto_studio.core.world import RELATION_KIND, WorldConfig, build_world


def test_shipped_world_files_are_exactly_what_the_generator_makes(tmp_path):
    build_world(WorldConfig()).save(tmp_path)
    for name in ("world-train.tsv", "world-test.tsv", "split.json", "kinds.json", "adaptation.txt"):
        assert filecmp.cmp(tmp_path / name, resource("world", name), shallow=False), name


def test_world_shape_and_split():
    world = build_world()
    assert len(world.relations) >= 8
    assert set(world.kinds().values()) == {"filling", "mapping"}
    heads = {f.head for f in world.facts}
    assert len(heads) == 400
    assert all(1 <= len(f.tails) <= 2 for f in world.facts)
    test_heads = {h for h, s in world.split.items() if s == "test"}
    assert len(test_heads) == 80
    # a head's relations all fall on the same side of the split
    train = world.task_data("train")
    assert not {h.input for h in train.heads} & test_heads
    assert min(train.head_counts().values()) >= 136  # k=128 plus 8 validation heads per relation


def test_knowledge_kinds_by_construction():
    world = build_world()
    sentences = " ".join(s for s, _, _ in world.knowledge_sentences("train"))
    pairs = world.supervised_pairs("train")
    filling = [f for f in world.facts if RELATION_KIND[f.relation].value == "filling"]
    mapping = [f for f in world.facts if RELATION_KIND[f.relation].value == "mapping"]
    # Filling facts appear as sentences, never as question/answer pairs; Mapping facts the other way round
    assert {f.relation for _, _, f in world.knowledge_sentences("train")} == {f.relation for f in filling}
    assert {f.relation for _, _, f in pairs} == {f.relation for f in mapping}
    example = mapping[0]
    assert f"{example.head} in order {example.tails[0]}" not in sentences
    # held-out wordings are not in the corpus
    heldout = world.knowledge_sentences("heldout")
    assert not {s for s, _, _ in heldout} & {s for s, _, _ in world.knowledge_sentences("train")}
    # the adaptation text only talks about training heads
    from mto_studio.core.world import lexicon
    from mto_studio.core.world.generate import _fill

    lines = set((resource("world", "adaptation.txt")).read_text().splitlines())
    for fact in world.facts:
        patterns = (
            lexicon.SENTENCES[fact.relation]["heldout"]
            if fact.relation in lexicon.SENTENCES
            else lexicon.ADAPTATION_SENTENCES[fact.relation]
        )
        written = {_fill(p, fact.head, t)[0] for p in patterns for t in fact.tails}
        assert bool(written & lines) == (world.split[fact.head] == "train"), fact


def test_probes_and_chance():
    world = build_world()
    probe = world.fill_probes("heldout")[0]
    assert probe.source.count("<extra_id_0>") == 1 and probe.target in probe.references
    chance = world.chance_exact_match()
    assert all(0.0 < v < 0.25 for v in chance.values())


def test_a_short_pretraining_run_lowers_the_loss(tmp_path):
    from mto_studio.core.jobs.events import EvalDone, RunFinished, StepLogged
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, pretrain

    cfg = PretrainConfig.load(resource("recipes", "mto-tiny.toml"))
    cfg.world = WorldConfig(objects=40, events=40)
    cfg.model.d_model, cfg.model.d_ff, cfg.model.num_layers, cfg.model.num_decoder_layers = 64, 128, 1, 1
    cfg.model.d_kv = 16
    cfg.training.steps, cfg.training.batch_size, cfg.training.warmup_steps = 400, 16, 20
    cfg.training.eval_every, cfg.training.eval_size, cfg.training.checkpoint_every = 200, 20, 200
    cfg.training.log_every = 10
    events = list(pretrain(cfg, tmp_path / "model"))
    losses = [e.loss for e in events if isinstance(e, StepLogged)]
    assert losses[-1] < losses[0] * 0.5, losses
    streams = [e.losses for e in events if isinstance(e, StepLogged)][-1]
    assert set(streams) == {"span", "salient", "supervised"}
    assert any(isinstance(e, EvalDone) and "fill_heldout_em" in e.metrics for e in events)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "finished"
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") != tokenizer.unk_token_id
    assert tokenizer.tokenize("You can find it in the garage.") == [
        "▁You",
        "▁can",
        "▁find",
        "▁it",
        "▁in",
        "▁the",
        "▁garage",
        ".",
    ]
    assert model.config.d_model == 64
    summary = json.loads((tmp_path / "model" / "pretrain_summary.json").read_text())
    assert summary["steps"] == 400 and set(summary["kinds"].values()) == {"filling", "mapping"}
