"""The analyzer on QA data (world-qa): the qa_framing rule and the probe decide, each QA template gets a zero-shot
accuracy from ranking its questions' choices (all pairs in the one prefetch), and the report keeps it."""

import pytest

from mto_studio.core.analysis.analyze import AnalysisConfig, run_analysis
from mto_studio.core.analysis.report import report_from_dict
from mto_studio.core.data import Head
from mto_studio.core.models.scoring import Scorer
from mto_studio.core.objectives.strategies import ClassifierStrategy, StrategyContext, qa_rule_decision
from mto_studio.core.templates import Objective, TemplateLibrary

RELATIONS = ["AtLocation", "xWant"]  # every AtLocation question is Filling-framed, every xWant one Mapping-framed


@pytest.fixture(scope="module")
def qa_run():
    """One analysis of two world-qa relations, with the number of prefetch calls that ran forward passes."""
    calls = []
    original = Scorer.prefetch

    def counting(self, pairs):
        ran = False
        for step in original(self, pairs):
            ran = True
            yield step
        calls.append(ran)

    Scorer.prefetch = counting
    try:
        cfg = AnalysisConfig(data="world-qa", relations=RELATIONS, n=4, strategies=["probe", "rules"], bootstrap=50)
        report = run_analysis(cfg)
    finally:
        Scorer.prefetch = original
    return report, calls


def test_qa_analysis_decides_by_the_probe_or_the_qa_framing_rule(qa_run):
    report, _ = qa_run
    assert report.kind == "qa"
    assert (report.config.masked_template, report.config.prefix_template) == ("qa-unsup", "qa-sup")
    assert {"qa-sup", "qa-unsup"} <= set(report.config.templates)
    assert "qa-mixed" not in report.config.templates
    by = {r.relation: r for r in report.relations}
    assert set(by) == set(RELATIONS)
    rules = {rel: r.votes["rules"] for rel, r in by.items()}
    assert rules["AtLocation"].objective is Objective.FILLING
    assert rules["xWant"].objective is Objective.MAPPING
    assert rules["AtLocation"].evidence["rule"] == "qa_framing"
    assert (rules["AtLocation"].evidence["filling_share"], rules["AtLocation"].evidence["questions"]) == (1.0, 160)
    assert rules["xWant"].evidence["filling_share"] == 0.0
    for r in report.relations:
        assert r.objective is not None
        assert r.decision.strategy in ("probe", "rules")
        assert r.votes["probe"].evidence["masked_template"] == "qa-unsup"


def test_qa_template_accuracy_equals_one_by_one_choice_ranking(qa_run):
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.templates import sentinel_style_for
    from mto_studio.core.training.data import load_for_run

    report, calls = qa_run
    assert calls.count(True) == 1, "probe, gold and every choice of every template are scored in one prefetch"
    model, tokenizer = load_seq2seq("mto-tiny")
    scorer = Scorer(model, tokenizer)
    style = sentinel_style_for(tokenizer)
    library = TemplateLibrary()
    data = load_for_run("world-qa", None, RELATIONS, "train")
    heads = {rel: [h for h in data.heads if h.relation == rel] for rel in RELATIONS}
    ctx = StrategyContext(heads=heads, library=library, n=4, seed=0)
    checked = 0
    for r in report.relations:
        questions = ctx.examples(r.relation)
        assert r.scores and all(s.n == len(questions) == 4 for s in r.scores)
        for score in r.scores:
            assert score.accuracy is not None and 0.0 <= score.accuracy <= 1.0
            hits = 0
            for head in questions:
                pairs = []
                for index, choice in enumerate(head.choices):
                    rendered = library.render(
                        score.template,
                        head.relation,
                        head.input,
                        choice,
                        style=style,
                        choices=head.choices,
                        answer=index,
                    )
                    pairs.append((rendered.source, rendered.target))
                lls = [s.log_likelihood for s in scorer.score_one_by_one(pairs)]
                hits += max(range(len(lls)), key=lls.__getitem__) == head.answer
            assert score.accuracy == pytest.approx(hits / len(questions)), (r.relation, score.template)
            checked += 1
    assert checked >= 2 * 3


def test_qa_report_round_trips_and_old_reports_still_load(qa_run):
    report, _ = qa_run
    data = report.to_dict()
    assert data["kind"] == "qa"
    row = data["relations"][0]["scores"][0]
    assert {"accuracy", "accuracy_ci", "n"} <= set(row)
    again = report_from_dict(data)
    assert again.relations[0].scores[0].accuracy == report.relations[0].scores[0].accuracy
    table = again.table()
    assert "acc qa-sup" in table and "zero-shot accuracy" in table
    for relation in data["relations"]:  # a report saved before QA: no accuracy fields, no kind
        for s in relation["scores"]:
            del s["accuracy"], s["accuracy_ci"]
    del data["kind"]
    old = report_from_dict(data)
    assert old.kind == "completion" and old.relations[0].scores[0].accuracy is None
    assert "acc " not in old.table()


def _qa_head(i: int, question: str, choices: tuple[str, ...]) -> Head:
    return Head(f"h{i}", "Task", question, (choices[0],), choices, 0)


def test_qa_rule_summarises_the_per_example_framing_and_an_even_split_is_inconclusive():
    short = ("the hall", "the attic")
    long = ("wrap it in a cloth and keep it dry", "leave it out on the table overnight")
    filling = [_qa_head(i, "Where is the kettle kept?", short) for i in range(3)]
    mapping = [_qa_head(10 + i, "Why do people nap?", short) for i in range(1)]
    mapping += [_qa_head(20, "Where is the bread kept?", long)]
    mostly = qa_rule_decision("Task", filling + mapping)
    assert mostly.objective is Objective.FILLING
    assert mostly.evidence["filling_share"] == pytest.approx(0.6) and mostly.evidence["questions"] == 5
    assert "3 of 5" in mostly.reason
    even = qa_rule_decision("Task", filling[:2] + mapping)
    assert even.objective is None and even.inconclusive and "even split" in even.reason


def test_classifier_abstains_on_qa_without_training():
    heads = {"Task": [_qa_head(i, "Where is the kettle kept?", ("the hall", "the attic")) for i in range(3)]}
    ctx = StrategyContext(heads=heads, library=TemplateLibrary())
    votes = list(ClassifierStrategy().decide(["Task"], ctx))
    assert len(votes) == 1 and votes[0].objective is None and not votes[0].inconclusive
    assert "QA" in votes[0].reason
