"""The objective-match analysis: per relation, which objective fits (rules, probe, classifier) and how K candidate
templates rank zero-shot, with bootstrap confidence intervals and a recommendation in words.

`analyze(config)` is a generator of Progress events ending with AnalysisDone (or AnalysisCancelled after a
Stop()). Two zero-shot signals are reported, and named for what they are:
  - format fit: mean log-likelihood and mean gold-token rank of the gold target under the template;
  - knowledge: accuracy of picking the gold target among distractor targets (other heads' answers).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from mto_studio.core.analysis.config import AnalysisConfig
from mto_studio.core.analysis.report import (
    AnalysisReport,
    RelationReport,
    TemplateScore,
    recommend,
    report_from_dict,
)
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import Event, EventStream, Progress, Stop
from mto_studio.core.objectives.strategies import STRATEGIES, Decision, StrategyContext
from mto_studio.core.templates import Objective, SlotKind, TemplateLibrary


@dataclass(frozen=True)
class AnalysisDone(Event):
    report: dict[str, Any]


@dataclass(frozen=True)
class AnalysisCancelled(Event):
    done: int
    total: int


def bootstrap_ci(values: list[float], reps: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    if not values:
        return (math.nan, math.nan)
    if reps == 0 or len(values) == 1:
        mean = float(np.mean(values))
        return (mean, mean)
    rng = np.random.default_rng(seed)
    data = np.asarray(values, dtype=float)
    means = data[rng.integers(0, len(data), size=(reps, len(data)))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(low), float(high))


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
    data = load_for_run(cfg.data, cfg.columns, cfg.relations or None, "train")
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
    )
    total = len(cfg.strategies) * len(relations) + len(relations)
    done = 0
    votes: dict[str, dict[str, Decision]] = {r: {} for r in relations}
    for name in cfg.strategies:
        strategy = STRATEGIES[name]()
        for decision in strategy.decide(relations, ctx):
            votes[decision.relation][name] = decision
            done += 1
            command = yield Progress("analysis", done, total, f"{name}: {decision.relation}")
            if isinstance(command, Stop):
                yield AnalysisCancelled(done, total)
                return
    reports = []
    for relation in relations:
        chosen = None
        if relation in cfg.objectives_override:
            objective = Objective(cfg.objectives_override[relation])
            chosen = Decision(relation, "user", objective, f"set by the user to {objective.value}")
        else:
            for name in cfg.strategies:
                vote = votes[relation].get(name)
                if vote is not None and vote.objective is not None:
                    chosen = vote
                    break
        if chosen is None:
            chosen = Decision(relation, "none", None, "no strategy could decide")
        report = RelationReport(relation, len(heads[relation]), chosen, votes[relation])
        if scorer is not None:
            report.scores = _rank_templates(relation, templates, ctx, cfg)
        recommend(report, cfg.threshold)
        reports.append(report)
        done += 1
        command = yield Progress("analysis", done, total, f"ranking templates: {relation}")
        if isinstance(command, Stop):
            yield AnalysisCancelled(done, total)
            return
    result = AnalysisReport(cfg, reports, model_name, time.perf_counter() - start, warnings)
    yield AnalysisDone(result.to_dict())


def _rank_templates(relation: str, templates, ctx: StrategyContext, cfg: AnalysisConfig) -> list[TemplateScore]:
    heads = ctx.examples(relation)
    if not heads:
        return []
    pool = [t for h in ctx.heads[relation] for t in h.references]
    rng = random.Random(f"{cfg.seed}:distractors:{relation}")
    scores = []
    for template in templates:
        try:
            rendered = [
                ctx.library.render(template, h.relation, h.input, h.references[0], style=ctx.style) for h in heads
            ]
        except MtoError:
            continue  # e.g. no relation phrase for this relation: the template cannot be scored here
        results = ctx.scorer.score([(r.source, r.target) for r in rendered])
        lls = [s.log_likelihood for s in results]
        ranks = [s.rank for s in results]
        choice, choice_ci = None, None
        if cfg.distractors:
            hits = []
            pairs, spans = [], []
            for head in heads:
                wrong = sorted({t for t in pool if t not in head.references})
                picks = rng.sample(wrong, min(cfg.distractors, len(wrong)))
                candidates = [head.references[0], *picks]
                spans.append(len(candidates))
                for candidate in candidates:
                    r = ctx.library.render(template, head.relation, head.input, candidate, style=ctx.style)
                    pairs.append((r.source, r.target))
            scored = ctx.scorer.score(pairs)
            position = 0
            for count in spans:
                block = [s.log_likelihood for s in scored[position : position + count]]
                hits.append(1.0 if count > 1 and max(range(count), key=block.__getitem__) == 0 else 0.0)
                position += count
            choice = float(np.mean(hits))
            choice_ci = bootstrap_ci(hits, cfg.bootstrap, cfg.seed)
        scores.append(
            TemplateScore(
                relation,
                template.name,
                template.objective.value,
                len(heads),
                float(np.mean(lls)),
                bootstrap_ci(lls, cfg.bootstrap, cfg.seed),
                float(np.mean(ranks)),
                bootstrap_ci(ranks, cfg.bootstrap, cfg.seed),
                choice,
                choice_ci,
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
