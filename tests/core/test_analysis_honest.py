"""The faster, honest analyzer (issue 14, item 5): the classifier trains once and is cached, scoring reuses
encoder outputs, progress moves in every phase, and evidence that does not separate Filling from Mapping is
called inconclusive and passes the decision on to the next strategy."""

import time

import pytest

from mto_studio.core.analysis.analyze import AnalysisConfig, AnalysisDone, analyze, choose
from mto_studio.core.analysis.report import AnalysisReport, RelationReport, recommend, report_from_dict
from mto_studio.core.jobs.events import Progress
from mto_studio.core.models.scoring import PairScore, Scorer
from mto_studio.core.objectives import classifier
from mto_studio.core.objectives.classifier_cache import classifier_cache_dir
from mto_studio.core.objectives.decision import Decision
from mto_studio.core.objectives.strategies import StrategyContext, _probe_decision
from mto_studio.core.templates import Objective, TemplateLibrary


def run(cfg):
    events = list(analyze(cfg))
    assert isinstance(events[-1], AnalysisDone)
    return events, report_from_dict(events[-1].report)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MTO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def classifier_cfg(data, **kw):
    return AnalysisConfig(data=str(data), strategies=["classifier"], classifier_steps=20, templates=["sup"], **kw)


def test_the_classifier_trains_once_then_comes_from_the_cache(cache, small_world_tsv, monkeypatch):
    start = time.perf_counter()
    events, first = run(classifier_cfg(small_world_tsv))
    first_s = time.perf_counter() - start
    training = [e for e in events if isinstance(e, Progress) and "training the classifier" in e.message]
    assert training, "the first analysis trains, and says so as it goes"
    assert len({e.done for e in training}) == len(training) == 6, "every training event moves the bar (3 folds × 2)"
    assert [e.done for e in events if isinstance(e, Progress)] == sorted(
        e.done for e in events if isinstance(e, Progress)
    )
    files = sorted(p.name for p in classifier_cache_dir().glob("*/*.safetensors"))
    assert files == ["fold0.safetensors", "fold1.safetensors", "fold2.safetensors"]
    assert str(classifier_cache_dir()).startswith(str(cache))

    def no_training(*args, **kwargs):
        raise AssertionError("the second analysis trained the classifier again")

    monkeypatch.setattr(classifier, "_train", no_training)
    start = time.perf_counter()
    events, second = run(classifier_cfg(small_world_tsv))
    second_s = time.perf_counter() - start
    assert not [e for e in events if isinstance(e, Progress) and "training" in e.message]
    for a, b in zip(first.relations, second.relations, strict=True):
        assert a.votes["classifier"].evidence["margin"] == pytest.approx(b.votes["classifier"].evidence["margin"])
        assert b.votes["classifier"].evidence["cached"] is True
    assert second_s < first_s, (first_s, second_s)


def test_a_corrupt_cache_file_is_ignored_and_rebuilt(cache, small_world_tsv):
    run(classifier_cfg(small_world_tsv))
    (torn,) = [p for p in classifier_cache_dir().glob("*/fold1.safetensors")]
    torn.write_bytes(b"not a safetensors file")
    events, report = run(classifier_cfg(small_world_tsv))
    retrained = {
        e.message.split("(")[1].split(")")[0]
        for e in events
        if isinstance(e, Progress) and "training the classifier" in e.message
    }
    assert retrained == {"fold1"}
    assert torn.stat().st_size > 1000 and all(r.votes["classifier"].reason for r in report.relations)


def test_a_classifier_no_better_than_chance_is_inconclusive_and_the_rules_decide(cache, small_world_tsv, monkeypatch):
    monkeypatch.setattr(classifier, "CHANCE", 1.0)  # whatever it scored on held-out relations is "not above"
    cfg = AnalysisConfig(
        data=str(small_world_tsv), strategies=["classifier", "rules"], classifier_steps=5, templates=["sup"]
    )
    _, report = run(cfg)
    for r in report.relations:
        vote = r.votes["classifier"]
        assert vote.objective is None and vote.inconclusive and "not above chance" in vote.reason
        assert r.decision.strategy == "rules" and r.objective is not None
        assert r.recommendation.startswith(f"{r.relation}: classifier inconclusive (held-out-relation accuracy")
        assert f"→ rules: {r.objective.value.capitalize()}" in r.recommendation
    assert "rules (classifier inconclusive)" in report.table()


def scores(ranks):
    return [PairScore(-1.0, float(r), 2) for r in ranks]


def test_a_probe_whose_mi_interval_includes_0_is_inconclusive():
    ctx = StrategyContext(heads={}, library=TemplateLibrary(), bootstrap=1000)
    # masked better for some heads, worse for others: MI near 0 and its interval on both sides
    vote = _probe_decision("xIntent", scores([5, 30, 10, 40, 12]), scores([30, 5, 40, 10, 11]), ctx, "", "probe")
    assert vote.objective is None and vote.inconclusive and vote.evidence["leaning"] == "mapping"
    low, high = vote.evidence["mi_ci"]
    assert low < 0 < high and vote.reason.startswith("inconclusive (MI ") and "includes 0" in vote.reason
    # a clear signal stays a decision
    clear = _probe_decision("xAttr", scores([2, 3, 2, 3, 2]), scores([40, 50, 45, 60, 55]), ctx, "", "probe")
    assert clear.objective is Objective.FILLING and not clear.inconclusive and clear.evidence["mi_ci"][0] > 0.3
    # the decision falls through to the rules, and says so in the report, the table and the saved form
    rules = Decision("xIntent", "rules", Objective.MAPPING, "the rule table lists xIntent as mapping")
    chosen = choose("xIntent", [vote, rules])
    assert chosen.strategy == "rules" and chosen.objective is Objective.MAPPING
    assert chosen.reason.startswith("probe inconclusive (MI ") and "→ rules: Mapping" in chosen.reason
    relation = RelationReport("xIntent", 5, chosen, {"probe": vote, "rules": rules})
    recommend(relation, 0.3)
    assert relation.recommendation.startswith("xIntent: probe inconclusive (MI ")
    assert relation.recommendation.endswith("includes 0) → rules: Mapping")
    report = AnalysisReport(AnalysisConfig(templates=["sup"]), [relation], "tiny", 1.0)
    table = report.table()
    assert "rules (probe inconclusive)" in table and "probe inconclusive" in table
    again = report_from_dict(report.to_dict())
    assert again.relations[0].votes["probe"].inconclusive and again.relations[0].decision.reason == chosen.reason
    # nothing decides: undecided, with the reason
    alone = choose("xIntent", [vote])
    assert alone.objective is None and "inconclusive" in alone.reason and "no other strategy" in alone.reason


def test_a_report_saved_before_this_change_still_loads():
    decision = {
        "relation": "xIntent",
        "strategy": "probe",
        "objective": "mapping",
        "reason": "MI 0.02 < 0.30",
        "evidence": {"mi": 0.02, "dr_masked": 9.0, "dr_prefix": 9.2, "n": 5},
    }
    old = {
        "config": {"templates": ["sup"], "strategies": ["probe", "rules"]},
        "model": "mto-tiny",
        "elapsed_s": 1.0,
        "relations": [
            {
                "relation": "xIntent",
                "heads": 5,
                "decision": decision,
                "votes": {"probe": decision},
                "scores": [],
                "best_template": None,
                "recommendation": "xIntent: Mapping",
            }
        ],
    }
    report = report_from_dict(old)
    assert report.decisions() == {"xIntent": "mapping"} and "probe" in report.table()
    assert not report.relations[0].decision.inconclusive


def test_the_encoder_runs_once_per_distinct_source_and_the_numbers_do_not_change(tiny_model_dir):
    from mto_studio.core.models.loading import load_seq2seq

    model, tokenizer = load_seq2seq(str(tiny_model_dir))
    sources = ["PersonX buys a ticket because PersonX wants <extra_id_0>", "xIntent: PersonX naps", "hello"]
    targets = ["<extra_id_0> to see a film", "to rest", "a cup of tea", "to sleep well and long"]
    pairs = [(s, t) for s in sources for t in targets] + [(sources[0], targets[0])]
    scorer = Scorer(model, tokenizer, batch_size=4)
    batched = scorer.score(pairs)
    assert scorer.passes == {"encoder": 1, "decoder": 3}, "3 distinct sources, 12 distinct pairs"
    looped = Scorer(model, tokenizer).score_one_by_one(pairs)
    for a, b in zip(batched, looped, strict=True):
        assert a.tokens == b.tokens
        assert a.log_likelihood == pytest.approx(b.log_likelihood, abs=1e-5)
        assert a.rank == pytest.approx(b.rank, abs=1e-5)
    assert scorer.score(pairs[:3]) == batched[:3] and scorer.passes["decoder"] == 3, "scored pairs are remembered"


def test_an_answer_span_scores_only_the_answer_tokens(tiny_model_dir):
    from mto_studio.core.models.loading import load_seq2seq

    model, tokenizer = load_seq2seq(str(tiny_model_dir))
    text = "the cup is in the kitchen"
    start = text.index("kitchen")
    whole, answer = Scorer(model, tokenizer).score(
        [("where is the cup?", text), ("where is the cup?", text, (start, len(text)))]
    )
    reference = Scorer(model, tokenizer).score_one_by_one([("where is the cup?", text, (start, len(text)))])[0]
    assert 0 < answer.tokens < whole.tokens and answer.log_likelihood == pytest.approx(
        reference.log_likelihood, abs=1e-5
    )


def test_only_a_rebuilt_targets_answer_is_scored():
    from mto_studio.core.models.scoring import pair_of
    from mto_studio.core.templates.render import Rendered

    target = "the cup is in the kitchen"
    common = dict(template="t", objective=Objective.FILLING, relation="AtLocation", input="the cup")
    common.update(target_value="the kitchen", source="the cup is in <mask>", target=target, answer_span=(14, 25))
    assert pair_of(Rendered(**common, rebuilt=True)) == ("the cup is in <mask>", target, (14, 25))
    assert pair_of(Rendered(**common)) == ("the cup is in <mask>", target), "T5-style targets are scored whole"
