"""The shipped mto-tiny: it loads fast, knows its world zero-shot, and the likelihood probe recovers how each
relation's knowledge was taught (by construction)."""

import json
import time

import pytest

from mto_studio.core.models.loading import embedded_model_dir

MODEL = embedded_model_dir()


def test_embedded_model_is_shipped_small_and_loads_fast():
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    weights = MODEL / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size <= 40 * 1024 * 1024
    assert (MODEL / "README.md").read_text().count("## What it knows") == 1
    AutoModelForSeq2SeqLM.from_pretrained(MODEL)  # warm the import and file cache, as an app does once
    start = time.perf_counter()
    model = AutoModelForSeq2SeqLM.from_pretrained(MODEL)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    seconds = time.perf_counter() - start
    assert seconds < 1.0, f"loading took {seconds:.2f} s"
    assert model.config.is_encoder_decoder and tokenizer.convert_tokens_to_ids("<extra_id_0>") != tokenizer.unk_token_id


@pytest.fixture(scope="module")
def summary():
    return json.loads((MODEL / "pretrain_summary.json").read_text())


def test_zero_shot_knowledge_is_clearly_above_chance(summary):
    from mto_studio.core.metrics import score_predictions
    from mto_studio.core.models.generation import generate_answers
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.world import build_world

    world = build_world()
    model, tokenizer = load_seq2seq("mto-tiny")
    probes = world.fill_probes("heldout")[::7]
    answers = generate_answers(model, tokenizer, [p.source for p in probes], max_new_tokens=10)
    fill = score_predictions(
        [p.relation for p in probes], [p.head for p in probes], answers, [p.references for p in probes]
    ).overall
    chance = world.chance_exact_match()
    filling_chance = max(v for r, v in chance.items() if world.kinds()[r] == "filling")
    assert fill["exact_match"] > 2 * filling_chance, (fill, filling_chance)
    questions = world.question_probes("train")[::11]
    answers = generate_answers(model, tokenizer, [p.source for p in questions], max_new_tokens=10)
    qa = score_predictions(
        [p.relation for p in questions], [p.head for p in questions], answers, [p.references for p in questions]
    ).overall
    mapping_chance = max(v for r, v in chance.items() if world.kinds()[r] == "mapping")
    assert qa["exact_match"] > 2 * mapping_chance, (qa, mapping_chance)


def test_probe_agrees_with_the_construction():
    from mto_studio.core.analysis.analyze import AnalysisConfig, run_analysis
    from mto_studio.core.world import RELATION_KIND

    report = run_analysis(
        AnalysisConfig(strategies=["probe"], n=20, templates=["sup", "unsup-nat"], distractors=0, bootstrap=0)
    )
    agree = [r.relation for r in report.relations if r.objective is RELATION_KIND[r.relation]]
    assert len(agree) / len(report.relations) >= 0.9, {
        r.relation: r.votes["probe"].evidence["mi"] for r in report.relations
    }
