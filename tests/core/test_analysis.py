"""The analyzer: scoring, the three strategies, template ranking, recommendations, cancel, prediction check."""

import math

import pytest

from mto_studio.core.analysis.analyze import (
    AnalysisCancelled,
    AnalysisConfig,
    analyze,
    bootstrap_ci,
    run_analysis,
)
from mto_studio.core.analysis.prediction import prediction_check, spearman
from mto_studio.core.errors import ModelError, TemplateError
from mto_studio.core.jobs.events import Progress, Stop
from mto_studio.core.models.scoring import Scorer
from mto_studio.core.objectives.strategies import RuleStrategy, StrategyContext
from mto_studio.core.templates import Objective, TemplateLibrary
from mto_studio.core.training.results import RunResult


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    from mto_studio.core.models.loading import load_seq2seq

    model, tokenizer = load_seq2seq(str(tiny_model_dir))
    return Scorer(model, tokenizer, batch_size=4)


def test_batched_scores_equal_one_by_one_and_ranks_are_exact(scorer):
    import torch

    pairs = [
        ("PersonX buys a ticket because PersonX wants <extra_id_0>", "<extra_id_0> to see a film"),
        ("xIntent: PersonX buys a ticket", "to see a film"),
        ("a cup is typically kept in <extra_id_0>", "<extra_id_0> the kitchen cupboard"),
        ("hello", "a"),
        ("PersonX naps", "to rest and sleep well"),
    ]
    batched, looped = scorer.score(pairs), scorer.score_one_by_one(pairs)
    for a, b in zip(batched, looped, strict=True):
        assert a.tokens == b.tokens
        assert a.log_likelihood == pytest.approx(b.log_likelihood, abs=1e-4)
        assert a.rank == pytest.approx(b.rank, abs=1e-4)
    # by hand for the second pair: sentinels and EOS are not scored
    tok = scorer.tokenizer
    ids = tok(pairs[1][0], return_tensors="pt").input_ids
    labels = tok(pairs[1][1], return_tensors="pt").input_ids
    with torch.no_grad():
        logits = scorer.model(input_ids=ids, labels=labels).logits[0]
    content = labels[0, :-1]
    ranks = [(logits[i] > logits[i, t]).sum().item() + 1 for i, t in enumerate(content.tolist())]
    assert batched[1].tokens == len(content) and batched[1].rank == pytest.approx(sum(ranks) / len(ranks))


def test_rules_decide_known_relations_and_leave_others_undecided():
    ctx = StrategyContext(heads={}, library=TemplateLibrary())
    decisions = {d.relation: d for d in RuleStrategy().decide(["xAttr", "xIntent", "Causes", "zorb"], ctx)}
    assert decisions["xAttr"].objective is Objective.FILLING
    assert decisions["xIntent"].objective is Objective.MAPPING
    assert decisions["Causes"].objective is None and decisions["zorb"].objective is None


def test_analysis_report_on_a_small_file(tiny_model_dir, small_world_tsv):
    cfg = AnalysisConfig(
        data=str(small_world_tsv),
        model=str(tiny_model_dir),
        strategies=["probe", "rules"],
        n=6,
        templates=["sup", "unsup-nat", "sup-nat"],
        bootstrap=200,
    )
    report = run_analysis(cfg)
    assert [r.relation for r in report.relations] == ["AtLocation", "xIntent"]
    for r in report.relations:
        probe = r.votes["probe"]
        mi = (probe.evidence["dr_prefix"] - probe.evidence["dr_masked"]) / probe.evidence["dr_prefix"]
        assert probe.evidence["mi"] == pytest.approx(mi) and probe.evidence["n"] == 6
        assert r.objective in (Objective.FILLING, Objective.MAPPING)
        # a random model's probe is often inconclusive (its MI interval includes 0): the rules decide then
        low, high = probe.evidence["mi_ci"]
        if low <= 0 <= high:
            assert probe.objective is None and r.decision.strategy == "rules" and "inconclusive" in r.recommendation
        else:
            assert r.decision.strategy == "probe"
        assert {s.template for s in r.scores} == {"sup", "unsup-nat", "sup-nat"}
        for s in r.scores:
            low, high = s.log_likelihood_ci
            assert low <= s.log_likelihood <= high and s.n == 6
            assert 0.0 <= s.choice_accuracy <= 1.0
        assert r.recommendation.startswith(f"{r.relation}: ") and "best template" in r.recommendation
        assert r.best_template in {"sup", "unsup-nat", "sup-nat"}
    assert "AtLocation" in report.table() and "MI" in report.table()
    assert set(report.decisions()) == {"AtLocation", "xIntent"}


def test_analysis_cancels_on_stop(tiny_model_dir, small_world_tsv):
    gen = analyze(AnalysisConfig(data=str(small_world_tsv), model=str(tiny_model_dir), strategies=["probe"]))
    event = next(gen)
    while not (isinstance(event, Progress) and event.done >= 1):
        event = next(gen)
    assert isinstance(gen.send(Stop()), AnalysisCancelled)


def test_probe_rejects_a_masked_template_without_sentinel(tiny_model_dir, small_world_tsv):
    with pytest.raises(TemplateError, match="'sup' has no sentinel.*cannot be the probe's masked template"):
        run_analysis(
            AnalysisConfig(
                data=str(small_world_tsv), model=str(tiny_model_dir), strategies=["probe"], masked_template="sup"
            )
        )


def test_relation_with_too_few_examples_is_flagged(tmp_path, tiny_model_dir):
    path = tmp_path / "few.tsv"
    path.write_text("head\trelation\ttail\ncup\tAtLocation\tkitchen\npen\tAtLocation\tdesk\nnap\txWant\trest\n")
    report = run_analysis(
        AnalysisConfig(data=str(path), model=str(tiny_model_dir), strategies=["probe", "rules"], n=5, distractors=0)
    )
    by = {r.relation: r for r in report.relations}
    assert "only 2 of the 5 examples" in by["AtLocation"].votes["probe"].reason
    assert "needs at least 2" in by["xWant"].votes["probe"].reason and by["xWant"].decision.strategy == "rules"
    assert any("fewer than n=5" in w for w in report.warnings)


def test_model_without_sentinels_is_a_clear_error(tmp_path):
    import json

    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast

    from tests.helpers import CORPUS

    tok = Tokenizer(models.Unigram())
    tok.normalizer, tok.pre_tokenizer = normalizers.NFKC(), pre_tokenizers.Metaspace()
    tok.train_from_iterator(
        CORPUS, trainers.UnigramTrainer(vocab_size=200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    )
    vocab = [tuple(v) for v in json.loads(tok.to_str())["model"]["vocab"]]
    hf = T5TokenizerFast(vocab=vocab, extra_ids=0)
    hf.save_pretrained(tmp_path)
    T5ForConditionalGeneration(
        T5Config(vocab_size=len(hf), d_model=16, d_ff=32, d_kv=4, num_layers=1, num_heads=2, decoder_start_token_id=0)
    ).save_pretrained(tmp_path)
    data = tmp_path / "d.tsv"
    data.write_text("head\trelation\ttail\ncup\tAtLocation\tkitchen\npen\tAtLocation\tdesk\n")
    with pytest.raises(ModelError, match="has no sentinel tokens"):
        run_analysis(AnalysisConfig(data=str(data), model=str(tmp_path), strategies=["probe"]))


def test_bootstrap_interval_and_spearman():
    low, high = bootstrap_ci([1.0, 2.0, 3.0, 4.0], 2000, 0)
    assert 1.0 <= low < 2.5 < high <= 4.0
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 4], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5))  # ties get average ranks
    assert spearman([1, 1], [1, 2]) is None


def test_prediction_check_counts_hits(tiny_model_dir, small_world_tsv):
    report = run_analysis(
        AnalysisConfig(
            data=str(small_world_tsv),
            model=str(tiny_model_dir),
            strategies=["rules"],
            templates=["sup", "unsup-nat"],
            distractors=0,
        )
    )
    best = {r.relation: r.best_template for r in report.relations}
    results = []
    for seed in (0, 1):
        for template in ("sup", "unsup-nat"):
            good = 0.8 if template == best["AtLocation"] else 0.2
            results.append(
                RunResult(
                    template,
                    "finetune",
                    "8",
                    seed,
                    {},
                    {"AtLocation": {"rougeL": good}, "xIntent": {"rougeL": 1 - good}},
                )
            )
    check = prediction_check(report, results)
    by = {r.relation: r for r in check.rows}
    assert by["AtLocation"].hit and by["AtLocation"].trained_best == best["AtLocation"]
    assert (
        by["xIntent"].trained_best != best["AtLocation"]
        or not by["xIntent"].hit
        or best["xIntent"] != best["AtLocation"]
    )
    assert check.hit_rate is not None and not math.isnan(check.hit_rate)
    assert "Spearman" in check.markdown()
