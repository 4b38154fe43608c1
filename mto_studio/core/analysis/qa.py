"""The analyzer on multiple-choice QA data (``TaskData.kind == "qa"``).

- **Defaults for QA.** Left at their completion defaults, the candidate templates become the library's QA templates
  (a name starting with ``qa-`` or a choices slot; mixed and soft-prompt ones left out) and the probe's masked and
  prefix templates become ``qa-unsup`` and ``qa-sup`` (when the library has them). Templates named by the user are
  kept as they are (a template without a choices slot renders the question with the choices omitted).
- **Zero-shot accuracy.** Each choice of each question is rendered as the template's target (``answer`` = its
  index, so a ``{label}`` target is that choice's letter) and scored; the choice with the highest mean
  log-likelihood per scored token is the template's answer (``rank_choices``: a tie at the top counts wrong). The
  share of questions answered right is the template's ``accuracy``; the pairs join the analyzer's single prefetch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from mto_studio.core.analysis.config import AnalysisConfig
from mto_studio.core.metrics.choice import rank_choices
from mto_studio.core.objectives.strategies import StrategyContext, render_head

#: the probe's QA templates, used when the masked/prefix templates are left at their completion defaults
QA_MASKED, QA_PREFIX = "qa-unsup", "qa-sup"


def qa_template_names(library: Any) -> list[str]:
    """The library's concrete QA templates (``TemplateLibrary.qa_names``: named ``qa-…`` or with a choices slot),
    without mixed or soft-prompt ones (the zero-shot ranking cannot score those)."""
    names = []
    for name in library.qa_names():
        template = library.get(name)
        if not (template.is_mixed or template.soft_total):
            names.append(name)
    return names


def for_qa(cfg: AnalysisConfig, library: Any) -> AnalysisConfig:
    """``cfg`` with the settings left at their completion defaults swapped for the QA ones (see the module doc)."""
    default = AnalysisConfig()
    changes: dict[str, Any] = {}
    if cfg.templates == default.templates:
        names = qa_template_names(library)
        if names:
            changes["templates"] = names
    if cfg.masked_template == default.masked_template and QA_MASKED in library:
        changes["masked_template"] = QA_MASKED
    if cfg.prefix_template == default.prefix_template and QA_PREFIX in library:
        changes["prefix_template"] = QA_PREFIX
    return replace(cfg, **changes) if changes else cfg


@dataclass
class ChoicePlan:
    """One template's choice pairs for a relation's questions: every choice of every question, in order;
    ``spans`` = choices per question, ``answers`` = the right choice's index per question."""

    pairs: list = field(default_factory=list)
    spans: list[int] = field(default_factory=list)
    answers: list[int | None] = field(default_factory=list)


def plan_choices(template: Any, heads: list, ctx: StrategyContext) -> ChoicePlan:
    from mto_studio.core.models.scoring import pair_of

    plan = ChoicePlan()
    for head in heads:
        for index, choice in enumerate(head.choices):
            plan.pairs.append(pair_of(render_head(ctx, template, head, choice, index)))
        plan.spans.append(len(head.choices))
        plan.answers.append(head.answer)
    return plan


def choice_hits(lls: list[float], plan: ChoicePlan) -> list[float]:
    """Per question: 1.0 when the right choice has the highest mean log-likelihood (ties and no answer: 0.0)."""
    hits, position = [], 0
    for count, answer in zip(plan.spans, plan.answers, strict=True):
        picked = rank_choices(lls[position : position + count])
        hits.append(1.0 if picked is not None and picked == answer else 0.0)
        position += count
    return hits
