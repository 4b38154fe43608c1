"""The objective-match analysis: per relation, which objective fits (rules, probe, classifier) and how K candidate
templates rank zero-shot, with bootstrap confidence intervals and a recommendation in words.

`analyze(config)` is a generator of Progress events ending with AnalysisDone (or AnalysisCancelled after a
Stop()). Two zero-shot signals are reported, and named for what they are:
  - format fit: mean log-likelihood and mean gold-token rank of the gold target under the template;
  - knowledge: accuracy of picking the gold target among distractor targets (other heads' answers); on QA data,
    the zero-shot accuracy of picking the right choice among the question's own choices (see analysis/qa.py).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mto_studio.core.analysis.config import AnalysisConfig
from mto_studio.core.analysis.qa import ChoicePlan, choice_hits, for_qa, plan_choices
from mto_studio.core.analysis.report import (
    AnalysisReport,
    RelationReport,
    TemplateScore,
    recommend,
    report_from_dict,
)
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import Event, EventStream, Progress, Stop
from mto_studio.core.objectives.decision import bootstrap_ci
from mto_studio.core.objectives.strategies import STRATEGIES, Decision, StrategyContext, render_head
from mto_studio.core.templates import Objective, SlotKind, TemplateLibrary


@dataclass(frozen=True)
class AnalysisDone(Event):
    report: dict[str, Any]


@dataclass(frozen=True)
class AnalysisCancelled(Event):
    done: int
    total: int


def analyze(cfg: AnalysisConfig, library: TemplateLibrary | None = None) -> EventStream:
    """Run the analysis; a generator of Progress events, then AnalysisDone. Send Stop() to cancel.

    ``library``: where template names are looked up (a project's library, with its own templates and phrase
    overrides); the built-in library when None. It gains the candidates it resolves, so pass one of your own."""
    from mto_studio.core.models.loading import load_seq2seq, pick_device
    from mto_studio.core.models.scoring import Scorer
    from mto_studio.core.templates import T5_STYLE, require_sentinel_style, sentinel_style_for
    from mto_studio.core.training.data import load_for_run

    start = time.perf_counter()
    library = library if library is not None else TemplateLibrary()
    data = load_for_run(cfg.data, cfg.columns, cfg.relations or None, "train")
    if data.kind == "qa":
        cfg = for_qa(cfg, library)
    templates = []
    for name in cfg.templates:
        template = library.get(name)
        library.add(template)
        if template.is_mixed:
            raise ConfigError(f"'{name}' is a mixed template", "rank concrete templates; mixed follows the decision")
        if template.soft_total:
            raise ConfigError(
                f"template '{name}' has soft-prompt slots, which are untrained zero-shot",
                "leave it out of the zero-shot ranking",
            )
        templates.append(template)
    heads: dict[str, list] = {}
    for head in data.heads:
        heads.setdefault(head.relation, []).append(head)
    relations = list(heads)
    warnings = [
        f"{rel} has {len(h)} heads, fewer than n={cfg.n}: it is analysed on all of them"
        for rel, h in heads.items()
        if len(h) < cfg.n
    ]
    needs_model = "probe" in cfg.strategies or templates
    scorer, style = None, None
    model_name = cfg.model
    if needs_model:
        command = yield Progress("analysis", 0, 1, f"loading {cfg.model}")
        if isinstance(command, Stop):  # a Stop sent this early used to be dropped, and the analysis ran on
            yield AnalysisCancelled(0, 1)
            return
        model, tokenizer = load_seq2seq(cfg.model)
        needs_sentinels = "probe" in cfg.strategies or any(
            t.count(SlotKind.MASK, "source") or t.count(SlotKind.MASK, "target") for t in templates
        )
        # Templates without sentinels render the same in any style, so a model without sentinels can rank them.
        style = (
            require_sentinel_style(tokenizer, cfg.model)
            if needs_sentinels
            else sentinel_style_for(tokenizer) or T5_STYLE
        )
        scorer = Scorer(model, tokenizer, device=pick_device(cfg.device), batch_size=cfg.batch_size)
    ctx = StrategyContext(
        heads=heads,
        library=library,
        n=cfg.n,
        seed=cfg.seed,
        threshold=cfg.threshold,
        masked_template=cfg.masked_template,
        prefix_template=cfg.prefix_template,
        scorer=scorer,
        style=style,
        classifier_steps=cfg.classifier_steps,
        bootstrap=cfg.bootstrap,
    )
    strategies = {name: STRATEGIES[name]() for name in cfg.strategies}
    tally = _Tally(len(cfg.strategies) * len(relations) + len(relations))
    plans: dict[str, list[_Plan]] = {}
    if scorer is not None:
        # Every pair of every template and relation (probe and ranking alike) in one pass: the encoder runs once
        # per distinct source, identical pairs are scored once, and the strategies then read the scores back.
        pairs = [p for strategy in strategies.values() for p in strategy.pairs(relations, ctx)]
        for relation in relations:
            plans[relation] = _plan_ranking(relation, templates, ctx, cfg)
            pairs += [p for plan in plans[relation] for p in (*plan.gold, *plan.candidates)]
        scoring_total = None
        for passes, passes_total in scorer.prefetch(pairs):
            if scoring_total is None:
                scoring_total = passes_total
                tally.total += passes_total
            tally.done += 1
            message = f"scoring {len(pairs)} pairs: pass {passes} of {passes_total}"
            if isinstance((yield tally.event(message)), Stop):
                yield tally.cancelled()
                return
    votes: dict[str, dict[str, Decision]] = {r: {} for r in relations}
    for name, strategy in strategies.items():
        for item in strategy.decide(relations, ctx):
            if isinstance(item, Progress):  # a long step inside the strategy (the classifier training)
                tally.sub_step(item)
                message = item.message
            else:
                votes[item.relation][name] = item
                tally.done += 1
                message = f"{name}: {item.relation}"
            if isinstance((yield tally.event(message)), Stop):
                yield tally.cancelled()
                return
    reports = []
    for relation in relations:
        if relation in cfg.objectives_override:
            objective = Objective(cfg.objectives_override[relation])
            chosen = Decision(relation, "user", objective, f"set by the user to {objective.value}")
        else:
            chosen = choose(relation, [votes[relation][n] for n in cfg.strategies if n in votes[relation]])
        report = RelationReport(relation, len(heads[relation]), chosen, votes[relation])
        if scorer is not None:
            report.scores = _rank_templates(relation, plans[relation], ctx, cfg)
        recommend(report, cfg.threshold)
        reports.append(report)
        tally.done += 1
        if isinstance((yield tally.event(f"ranking templates: {relation}")), Stop):
            yield tally.cancelled()
            return
    result = AnalysisReport(cfg, reports, model_name, time.perf_counter() - start, warnings, data.kind)
    yield AnalysisDone(result.to_dict())


@dataclass
class _Tally:
    """The analysis's overall progress: strategies × relations + relations, plus the scoring passes and any
    classifier training steps as they become known (the total may grow; ``done`` only moves forward)."""

    total: int
    done: int = 0
    seen: dict[str, int] = field(default_factory=dict)

    def sub_step(self, item: Progress) -> None:
        if item.task not in self.seen:
            self.seen[item.task] = 0
            self.total += item.total
        self.done += item.done - self.seen[item.task]
        self.seen[item.task] = item.done

    def event(self, message: str) -> Progress:
        return Progress("analysis", self.done, self.total, message)

    def cancelled(self) -> AnalysisCancelled:
        return AnalysisCancelled(self.done, self.total)


def choose(relation: str, votes: list[Decision]) -> Decision:
    """The first vote, in the strategies' order, that decided; inconclusive votes before it are named in its
    reason ("probe inconclusive (…) → rules: Mapping")."""
    passed: list[Decision] = []
    for vote in votes:
        if vote.objective is None:
            if vote.inconclusive:
                passed.append(vote)
            continue
        if not passed:
            return vote
        return Decision(
            relation,
            vote.strategy,
            vote.objective,
            f"{_notes(passed)} → {vote.strategy}: {vote.objective.value.capitalize()} ({vote.reason})",
            {**vote.evidence, "fell_through": [v.strategy for v in passed], "fell_through_notes": _notes(passed)},
        )
    if passed:
        return Decision(relation, "none", None, f"{_notes(passed)}; no other strategy could decide")
    return Decision(relation, "none", None, "no strategy could decide")


def _notes(passed: list[Decision]) -> str:
    return "; ".join(f"{v.strategy} {v.reason.split(' (gold-token')[0].split('; it leans')[0]}" for v in passed)


@dataclass
class _Plan:
    """One template's pairs for a relation: the gold pairs and the knowledge check's candidates (gold first), or
    on QA data every choice of every question."""

    template: Any
    gold: list
    candidates: list
    spans: list[int]
    choices: ChoicePlan | None = None


def _plan_ranking(relation: str, templates, ctx: StrategyContext, cfg: AnalysisConfig) -> list[_Plan]:
    from mto_studio.core.models.scoring import pair_of

    heads = ctx.examples(relation)
    if not heads:
        return []
    pool = [t for h in ctx.heads[relation] for t in h.references]
    rng = random.Random(f"{cfg.seed}:distractors:{relation}")
    plans = []
    for template in templates:
        try:
            rendered = [render_head(ctx, template, h) for h in heads]
            choices = plan_choices(template, heads, ctx) if ctx.is_qa(relation) else None
        except MtoError:
            continue  # e.g. no relation phrase for this relation: the template cannot be scored here
        plan = _Plan(template, [pair_of(r) for r in rendered], [], [], choices)
        if choices is not None:
            plan.candidates = choices.pairs  # the question's own choices replace the distractors
        elif cfg.distractors:
            for head in heads:
                wrong = sorted({t for t in pool if t not in head.references})
                picks = rng.sample(wrong, min(cfg.distractors, len(wrong)))
                candidates = [head.references[0], *picks]
                plan.spans.append(len(candidates))
                for candidate in candidates:
                    r = ctx.library.render(template, head.relation, head.input, candidate, style=ctx.style)
                    plan.candidates.append(pair_of(r))
        plans.append(plan)
    return plans


def _rank_templates(relation: str, plans: list[_Plan], ctx: StrategyContext, cfg: AnalysisConfig) -> list:
    scores = []
    for plan in plans:
        results = ctx.scorer.score(plan.gold)
        lls = [s.log_likelihood for s in results]
        ranks = [s.rank for s in results]
        choice, choice_ci, accuracy, accuracy_ci = None, None, None, None
        if plan.choices is not None:
            hits = choice_hits([s.log_likelihood for s in ctx.scorer.score(plan.choices.pairs)], plan.choices)
            accuracy = float(np.mean(hits)) if hits else None
            accuracy_ci = bootstrap_ci(hits, cfg.bootstrap, cfg.seed) if hits else None
        elif cfg.distractors:
            hits = []
            scored = ctx.scorer.score(plan.candidates)
            position = 0
            for count in plan.spans:
                block = [s.log_likelihood for s in scored[position : position + count]]
                hits.append(1.0 if count > 1 and max(range(count), key=block.__getitem__) == 0 else 0.0)
                position += count
            choice = float(np.mean(hits))
            choice_ci = bootstrap_ci(hits, cfg.bootstrap, cfg.seed)
        scores.append(
            TemplateScore(
                relation,
                plan.template.name,
                plan.template.objective.value,
                len(plan.gold),
                float(np.mean(lls)),
                bootstrap_ci(lls, cfg.bootstrap, cfg.seed),
                float(np.mean(ranks)),
                bootstrap_ci(ranks, cfg.bootstrap, cfg.seed),
                choice,
                choice_ci,
                accuracy,
                accuracy_ci,
            )
        )
    return scores


def run_analysis(cfg: AnalysisConfig) -> AnalysisReport:
    """Run to the end and rebuild the report object (for the CLI and tests)."""
    last = None
    for event in analyze(cfg):
        last = event
    assert isinstance(last, AnalysisDone), "analyze() ends with AnalysisDone unless it is stopped"
    return report_from_dict(last.report)
