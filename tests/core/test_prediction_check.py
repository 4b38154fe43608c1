"""The prediction check: ρ only over three or more templates, with the count stated; the analyzer's recommendation
always trained; hits counted only where the recommendation was trained."""

import pytest

from mto_studio.core.analysis.config import AnalysisConfig
from mto_studio.core.analysis.prediction import MIN_TEMPLATES, prediction_check, templates_to_check
from mto_studio.core.analysis.report import AnalysisReport, RelationReport, TemplateScore
from mto_studio.core.objectives.decision import Decision
from mto_studio.core.templates import Objective
from mto_studio.core.training.results import RunResult

TEMPLATES = ["sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"]


def report(zero_shot: dict[str, dict[str, float]], best: dict[str, str]) -> AnalysisReport:
    """An analysis report from per-relation zero-shot log-likelihoods and recommended templates (no model)."""
    relations = []
    for relation, scores in zero_shot.items():
        decision = Decision(relation, "probe", Objective.FILLING, "test")
        relations.append(
            RelationReport(
                relation,
                10,
                decision,
                {"probe": decision},
                [TemplateScore(relation, t, "filling", 10, ll, (ll, ll), 1.0, (1.0, 1.0)) for t, ll in scores.items()],
                best[relation],
            )
        )
    return AnalysisReport(AnalysisConfig(templates=TEMPLATES), relations, "tiny", 0.0)


def trained(scores: dict[str, dict[str, float]], shots: str = "8") -> list[RunResult]:
    """template → relation → test ROUGE-L, one seed."""
    return [
        RunResult(t, "finetune", shots, 0, {}, {rel: {"rougeL": v} for rel, v in per.items()})
        for t, per in scores.items()
    ]


def test_templates_to_check_include_every_recommendation_and_reach_three():
    analysis = report(
        {"xReact": {t: 0.0 for t in TEMPLATES}, "xIntent": {t: 0.0 for t in TEMPLATES}},
        {"xReact": "unsupnat", "xIntent": "sup"},
    )
    assert templates_to_check(analysis, ["sup", "unsup-nat"]) == ["sup", "unsup-nat", "unsupnat"]
    only_sup = report({"xIntent": {t: 0.0 for t in TEMPLATES}}, {"xIntent": "sup"})
    assert templates_to_check(only_sup, ["sup"]) == ["sup", "sup-nat", "unsup"]  # filled up in the analysis's order
    assert templates_to_check(only_sup, ["mixed", "sup"]) == ["sup", "sup-nat", "unsup"]  # unscored ones left out


def test_two_templates_give_no_rho_and_say_why():
    analysis = report({"xReact": {"sup": -3.0, "unsup-nat": -1.0}}, {"xReact": "unsup-nat"})
    check = prediction_check(analysis, trained({"sup": {"xReact": 0.2}, "unsup-nat": {"xReact": 0.9}}))
    (row,) = check.rows
    assert row.n == 2 and row.rho is None and row.hit is True
    assert check.mean_rho is None and check.to_dict()["mean_rho"] is None
    text = check.markdown()
    assert "+1.00" not in text and "-1.00" not in text
    assert f"undefined (2 templates; needs {MIN_TEMPLATES})" in text
    assert "Spearman ρ undefined: 2 trained templates per cell at most" in check.summary()


def test_rho_over_four_templates_is_stated_with_the_count():
    zero = {"sup": -4.0, "sup-nat": -3.0, "unsup-nat": -2.0, "unsupnat": -1.0}
    analysis = report({"xReact": zero}, {"xReact": "unsupnat"})
    after = {"sup": 0.1, "sup-nat": 0.3, "unsup-nat": 0.2, "unsupnat": 0.9}
    check = prediction_check(analysis, trained({t: {"xReact": v} for t, v in after.items()}))
    (row,) = check.rows
    assert row.rho == pytest.approx(0.8) and row.hit is True
    assert "+0.80 (over 4 templates)" in check.markdown()
    assert check.summary() == (
        "The analyzer's recommendation was the best trained template in 1 of 1 (relation, k) cells (100%), among "
        "4 templates; mean Spearman ρ +0.80 over 4 templates."
    )


def test_an_untrained_recommendation_is_no_hit_and_no_miss():
    zero = {"sup": -4.0, "sup-nat": -3.0, "unsup-nat": -2.0, "unsupnat": -1.0}
    analysis = report({"xReact": zero, "xIntent": zero}, {"xReact": "unsupnat", "xIntent": "sup"})
    after = {"sup": 0.5, "sup-nat": 0.3, "unsup-nat": 0.2}  # unsupnat never trained
    check = prediction_check(analysis, trained({t: {"xReact": v, "xIntent": v} for t, v in after.items()}))
    by = {r.relation: r for r in check.rows}
    assert by["xReact"].hit is None and by["xIntent"].hit is True
    assert check.hits == 1 and len(check.judged) == 1 and check.hit_rate == 1.0
    assert "| xReact | 8 | sup, sup-nat, unsup-nat |" in check.markdown() and "not trained" in check.markdown()
    assert "1 cell without their recommended template left out" in check.summary()


def test_a_tie_for_first_counts_for_the_recommendation():
    zero = {"sup": -4.0, "unsup-nat": -2.0, "unsupnat": -1.0}
    analysis = report({"xReact": zero}, {"xReact": "unsupnat"})
    check = prediction_check(
        analysis, trained({"sup": {"xReact": 0.2}, "unsup-nat": {"xReact": 1.0}, "unsupnat": {"xReact": 1.0}})
    )
    assert check.rows[0].hit is True and check.rows[0].trained_best == "unsupnat"


def test_when_every_trained_template_ties_nothing_is_a_hit():
    zero = {"sup": -4.0, "unsup-nat": -2.0, "unsupnat": -1.0}
    analysis = report({"xReact": zero}, {"xReact": "unsupnat"})
    check = prediction_check(analysis, trained({t: {"xReact": 0.0} for t in zero}))
    (row,) = check.rows
    assert row.hit is None and row.trained_best is None and row.rho is None
    assert check.hit_rate is None and "| — (all tie) | all tie |" in check.markdown()
    assert check.summary().startswith("No hit can be counted")
