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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mto_studio.core.config import check_bounds, from_dict, option, to_dict
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.jobs.events import Event, Progress, Stop
from mto_studio.core.objectives.strategies import STRATEGIES, Decision, StrategyContext, strategy_names
from mto_studio.core.templates import Objective, SlotKind, TemplateLibrary


@dataclass
class AnalysisConfig:
    data: str = option("world", "data file ('world' = the built-in world's training split)")
    model: str = option("mto-tiny", "model folder, 'mto-tiny' or a hub id when online")
    columns: str | None = option(None, "explicit column mapping")
    relations: list[str] = option(factory=list, help="relations to analyse (empty = all)")
    templates: list[str] = option(
        factory=lambda: ["sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"],
        help="candidate templates to rank zero-shot",
    )
    strategies: list[str] = option(
        factory=lambda: ["probe", "rules", "classifier"], help="decision strategies, in the order they decide"
    )
    n: int = option(5, "examples per relation for the probe and the ranking", low=1, high=10000)
    seed: int = option(0, "seed for choosing examples and for the bootstrap")
    threshold: float = option(0.30, "MI at or above which the probe says Filling", low=-10.0, high=1.0)
    masked_template: str = option("unsup-nat", "the probe's masked (Filling) template")
    prefix_template: str = option("sup", "the probe's prefix (Mapping) template")
    distractors: int = option(
        9, "wrong answers each gold target competes with in the knowledge check (0 = off)", low=0, high=99
    )
    bootstrap: int = option(1000, "bootstrap resamples for confidence intervals", low=0, high=100000)
    batch_size: int = option(32, "pairs per forward pass", low=1, high=4096)
    device: str = option("auto", "auto, cpu, cuda or mps")
    classifier_steps: int = option(150, "training steps of the classifier strategy", low=1)
    objectives_override: dict[str, str] = option(factory=dict, help="relation → objective the user fixed")

    def __post_init__(self) -> None:
        check_bounds(self)
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ConfigError(f"unknown strategy '{unknown[0]}'", f"use {', '.join(strategy_names())} or all")
        if not self.strategies:
            raise ConfigError("no decision strategy chosen", "use rules, probe, classifier or all")
        if not self.templates:
            raise ConfigError("no candidate templates", "e.g. --templates sup,unsup-nat")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnalysisConfig:
        return from_dict(cls, data)


@dataclass(frozen=True)
class TemplateScore:
    relation: str
    template: str
    objective: str
    n: int
    log_likelihood: float
    log_likelihood_ci: tuple[float, float]
    rank: float
    rank_ci: tuple[float, float]
    choice_accuracy: float | None = None
    choice_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class RelationReport:
    relation: str
    heads: int
    decision: Decision
    votes: dict[str, Decision]
    scores: list[TemplateScore] = field(default_factory=list)
    best_template: str | None = None
    recommendation: str = ""

    @property
    def objective(self) -> Objective | None:
        return self.decision.objective

    def score_of(self, template: str) -> TemplateScore | None:
        return next((s for s in self.scores if s.template == template), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "heads": self.heads,
            "decision": self.decision.to_dict(),
            "votes": {k: v.to_dict() for k, v in self.votes.items()},
            "scores": [s.to_dict() for s in self.scores],
            "best_template": self.best_template,
            "recommendation": self.recommendation,
        }


@dataclass
class AnalysisReport:
    config: AnalysisConfig
    relations: list[RelationReport]
    model: str
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)

    def decisions(self) -> dict[str, str]:
        """relation → 'filling'/'mapping' for every decided relation (what "use this recommendation" applies)."""
        return {r.relation: r.objective.value for r in self.relations if r.objective is not None}

    def best_templates(self) -> dict[str, str]:
        return {r.relation: r.best_template for r in self.relations if r.best_template}

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "model": self.model,
            "elapsed_s": self.elapsed_s,
            "warnings": self.warnings,
            "relations": [r.to_dict() for r in self.relations],
            "decisions": self.decisions(),
        }

    def table(self) -> str:
        """The per-relation table the CLI prints."""
        names = self.config.templates
        header = ["relation", "heads", "decision", "by", "MI", "DR mask/prefix"] + [f"LL {t}" for t in names]
        rows = [header]
        for r in self.relations:
            probe = r.votes.get("probe")
            mi = f"{probe.evidence['mi']:+.2f}" if probe and "mi" in probe.evidence else "—"
            dr = (
                f"{probe.evidence['dr_masked']:.1f}/{probe.evidence['dr_prefix']:.1f}"
                if probe and "dr_masked" in probe.evidence
                else "—"
            )
            cells = []
            for name in names:
                score = r.score_of(name)
                mark = "*" if name == r.best_template else ""
                cells.append(f"{score.log_likelihood:.2f}{mark}" if score else "—")
            rows.append(
                [
                    r.relation,
                    str(r.heads),
                    r.objective.value if r.objective else "undecided",
                    r.decision.strategy,
                    mi,
                    dr,
                    *cells,
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        out = "\n".join(lines)
        out += "\n\nLL = mean log-likelihood per gold target token (format fit; * = recommended). Votes and advice:\n"
        for r in self.relations:
            votes = ", ".join(f"{k} {v.objective.value if v.objective else 'undecided'}" for k, v in r.votes.items())
            out += f"  {r.recommendation}  [votes: {votes}]\n"
        for warning in self.warnings:
            out += f"warning: {warning}\n"
        return out


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


def _recommend(report: RelationReport, threshold: float) -> None:
    decision = report.decision
    matching = [s for s in report.scores if decision.objective and s.objective == decision.objective.value]
    pool = matching or report.scores
    if pool:
        best = max(pool, key=lambda s: s.log_likelihood)
        report.best_template = best.template
    head = report.relation + ": "
    if decision.objective is None:
        head += "undecided"
    else:
        head += decision.objective.value.capitalize()
        if "mi" in decision.evidence:
            sign = "≥" if decision.evidence["mi"] >= threshold else "<"
            head += f" (MI {decision.evidence['mi']:.2f} {sign} {threshold:.2f})"
        else:
            head += f" ({decision.strategy})"
    if report.best_template:
        best = report.score_of(report.best_template)
        head += f"; best template {best.template}"
        others = [s for s in report.scores if s.template != best.template]
        rival = (
            report.score_of("sup")
            if best.template != "sup" and report.score_of("sup")
            else (max(others, key=lambda s: s.log_likelihood) if others else None)
        )
        if rival:
            ratio = math.exp(best.log_likelihood - rival.log_likelihood)
            if ratio >= 1:
                head += f", {ratio:.1f}× likelier per token than {rival.template}"
            else:
                head += (
                    f" (the best {best.objective} template; {rival.template} is {1 / ratio:.1f}× likelier per token)"
                )
        if best.choice_accuracy is not None:
            head += f"; picks the right answer {best.choice_accuracy:.0%} of the time"
    report.recommendation = head


def analyze(cfg: AnalysisConfig, library: TemplateLibrary | None = None):
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
        _recommend(report, cfg.threshold)
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
    return report_from_dict(last.report)


def report_from_dict(data: dict[str, Any]) -> AnalysisReport:
    def decision(d: dict) -> Decision:
        return Decision(
            d["relation"],
            d["strategy"],
            Objective(d["objective"]) if d["objective"] else None,
            d["reason"],
            d.get("evidence", {}),
        )

    relations = []
    for r in data["relations"]:
        scores = [
            TemplateScore(
                s["relation"],
                s["template"],
                s["objective"],
                s["n"],
                s["log_likelihood"],
                tuple(s["log_likelihood_ci"]),
                s["rank"],
                tuple(s["rank_ci"]),
                s.get("choice_accuracy"),
                tuple(s["choice_ci"]) if s.get("choice_ci") else None,
            )
            for s in r["scores"]
        ]
        relations.append(
            RelationReport(
                r["relation"],
                r["heads"],
                decision(r["decision"]),
                {k: decision(v) for k, v in r["votes"].items()},
                scores,
                r["best_template"],
                r["recommendation"],
            )
        )
    return AnalysisReport(
        AnalysisConfig.from_dict(data["config"]), relations, data["model"], data["elapsed_s"], data.get("warnings", [])
    )
