"""Filling-vs-Mapping decision strategies, one class each, registered by name: the rule table, the likelihood
probe, and a small trained classifier. Each returns a Decision with its evidence; None means undecided.

On QA data (heads with choices) the rules strategy summarises the method's per-example rule (``qa_framing``) over
the relation's questions, the probe renders the questions with their choices (the answer as the target), and the
classifier, trained on completion data, abstains."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mto_studio.core.data import Head
from mto_studio.core.errors import ModelError, TemplateError
from mto_studio.core.objectives.decision import INCONCLUSIVE, Decision, bootstrap_stat, interval_text, signed
from mto_studio.core.templates import Objective, SlotKind, Template, TemplateLibrary
from mto_studio.core.templates.rules import RuleTable, builtin_rules

__all__ = ["STRATEGIES", "Decision", "Strategy", "StrategyContext", "register", "render_head", "strategy_names"]


@dataclass
class StrategyContext:
    """What a strategy may use: the heads per relation, the library, a scorer (probe), the settings."""

    heads: dict[str, list[Head]]
    library: TemplateLibrary
    n: int = 5
    seed: int = 0
    threshold: float = 0.30
    masked_template: str = "unsup-nat"
    prefix_template: str = "sup"
    scorer: Any = None  # models.scoring.Scorer, for the probe
    style: Any = None  # templates.SentinelStyle
    rules: RuleTable | None = None
    classifier_steps: int = 150
    bootstrap: int = 1000  # resamples for the intervals that say whether a vote is conclusive

    def examples(self, relation: str, n: int | None = None) -> list[Head]:
        """n heads of the relation, seeded (all of them when it has fewer)."""
        pool = sorted(self.heads.get(relation, []), key=lambda h: h.id)
        n = n or self.n
        if len(pool) <= n:
            return pool
        return random.Random(f"{self.seed}:{relation}").sample(pool, n)

    def is_qa(self, relation: str) -> bool:
        """The relation's heads are multiple-choice questions."""
        return any(h.choices for h in self.heads.get(relation, []))


def render_head(
    ctx: StrategyContext, template: Template | str, head: Head, target: str | None = None, answer: int | None = None
) -> Any:
    """``head`` rendered by ``template`` with ``target`` (its first reference by default) as the answer; a QA head
    brings its choices and the index of the choice given (``answer``; the right one by default)."""
    return ctx.library.render_head(template, head, target, style=ctx.style, answer=answer)


STRATEGIES: dict[str, type[Strategy]] = {}


def register(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    def wrap(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return wrap


class Strategy:
    name = ""
    #: "all" consults strategies in this order; the first that decides, decides.
    priority = 0

    def decide(self, relations: list[str], ctx: StrategyContext) -> Iterator[Any]:
        """Decisions, one per relation (long-running strategies may also yield jobs.events.Progress)."""
        raise NotImplementedError

    def pairs(self, relations: list[str], ctx: StrategyContext) -> list[tuple[str, str]]:
        """The (source, target) pairs ``decide`` will score, so the caller can score them all in one pass."""
        return []


@register("rules")
class RuleStrategy(Strategy):
    """The rule table: a prior, not evidence, so it comes last in "all" and decides what the others could not."""

    priority = 3

    def decide(self, relations, ctx):
        table = ctx.rules or builtin_rules()
        for relation in relations:
            if ctx.is_qa(relation):
                yield qa_rule_decision(relation, ctx.heads[relation], self.name)
                continue
            objective = table.decide(relation)
            if objective is None:
                yield Decision(relation, self.name, None, f"'{relation}' is not in the rule table (undecided)")
            else:
                yield Decision(relation, self.name, objective, f"the rule table lists {relation} as {objective.value}")


def qa_rule_decision(relation: str, heads: list[Head], name: str = "rules") -> Decision:
    """The method's per-example QA rule (``qa_framing``: question form and choice length) summarised over the
    relation's questions: Filling when most are Filling-framed, Mapping when most are Mapping-framed, inconclusive
    on an even split. Evidence: ``rule`` = "qa_framing", ``filling_share``, ``filling`` and ``questions``."""
    from mto_studio.core.data.qa_framing import FILLING, qa_framing

    framed = [qa_framing(h.input, h.choices) for h in heads if h.choices]
    filling, total = framed.count(FILLING), len(framed)
    share = filling / total if total else 0.0
    evidence: dict[str, Any] = {"rule": "qa_framing", "filling_share": share, "filling": filling, "questions": total}
    said = f"qa_framing frames {filling} of {total} questions as Filling ({share:.0%})"
    if not total or filling * 2 == total:
        evidence[INCONCLUSIVE] = bool(total)
        return Decision(relation, name, None, f"inconclusive ({said}: an even split)" if total else said, evidence)
    objective = Objective.FILLING if filling * 2 > total else Objective.MAPPING
    return Decision(relation, name, objective, said, evidence)


def check_probe_templates(masked: Template, prefix: Template) -> None:
    if not masked.count(SlotKind.MASK, "source"):
        raise TemplateError(
            f"template '{masked.name}' has no sentinel in its source, so it cannot be the probe's masked template",
            "pick a filling template such as unsup-nat",
        )
    if masked.count(SlotKind.MASK, "target") == 0:
        raise TemplateError(
            f"the probe's masked template '{masked.name}' must start its target with a sentinel",
            'e.g. target = "{mask} {target}"',
        )
    if prefix.count(SlotKind.MASK, "source") or prefix.count(SlotKind.MASK, "target"):
        raise TemplateError(
            f"template '{prefix.name}' has sentinels, so it cannot be the probe's prefix template",
            "pick a mapping template such as sup",
        )
    for template in (masked, prefix):
        if template.soft_total:
            raise TemplateError(
                f"template '{template.name}' has soft-prompt slots, which are untrained zero-shot",
                "pick a template without {soft}",
            )


@register("probe")
class ProbeStrategy(Strategy):
    """The likelihood probe: mean 1-based rank of the gold target tokens under a masked and a prefix template;
    MI = (DR_prefix − DR_masked) / DR_prefix; Filling when MI ≥ threshold."""

    priority = 1

    def decide(self, relations, ctx):
        if ctx.scorer is None:
            raise ModelError("the likelihood probe needs a model", "choose a model for the analysis")
        masked = ctx.library.get(ctx.masked_template)
        prefix = ctx.library.get(ctx.prefix_template)
        check_probe_templates(masked, prefix)
        for relation in relations:
            heads = ctx.examples(relation)
            warning = ""
            if len(heads) < 2:
                yield Decision(
                    relation,
                    self.name,
                    None,
                    f"{relation} has {len(heads)} example(s); the probe needs at least 2 (asked for {ctx.n})",
                    {"n": len(heads)},
                )
                continue
            if len(heads) < ctx.n:
                warning = f"only {len(heads)} of the {ctx.n} examples asked for exist"
            scores = {t.name: ctx.scorer.score(_probe_pairs(t, heads, ctx)) for t in (masked, prefix)}
            yield _probe_decision(relation, scores[masked.name], scores[prefix.name], ctx, warning, self.name)

    def pairs(self, relations, ctx):
        masked = ctx.library.get(ctx.masked_template)
        prefix = ctx.library.get(ctx.prefix_template)
        out = []
        for relation in relations:
            heads = ctx.examples(relation)
            if len(heads) >= 2:
                for template in (masked, prefix):
                    out.extend(_probe_pairs(template, heads, ctx))
        return out


def _probe_pairs(template: Template, heads: list[Head], ctx: StrategyContext) -> list:
    from mto_studio.core.models.scoring import pair_of

    return [pair_of(render_head(ctx, template, h)) for h in heads]


def _probe_decision(relation: str, masked, prefix, ctx: StrategyContext, warning: str, name: str) -> Decision:
    n = len(masked)
    dr_masked = sum(s.rank for s in masked) / n
    dr_prefix = sum(s.rank for s in prefix) / n
    mi = (dr_prefix - dr_masked) / dr_prefix if dr_prefix else 0.0
    low, high = bootstrap_stat(
        [[s.rank for s in masked], [s.rank for s in prefix]],
        lambda m, p: (p - m) / p,
        ctx.bootstrap,
        ctx.seed,
    )
    objective = Objective.FILLING if mi >= ctx.threshold else Objective.MAPPING
    sign = "≥" if mi >= ctx.threshold else "<"
    evidence: dict[str, Any] = {
        "mi": mi,
        "mi_ci": [low, high],
        "dr_masked": dr_masked,
        "dr_prefix": dr_prefix,
        "threshold": ctx.threshold,
        "ll_masked": sum(s.log_likelihood for s in masked) / n,
        "ll_prefix": sum(s.log_likelihood for s in prefix) / n,
        "n": n,
        "masked_template": ctx.masked_template,
        "prefix_template": ctx.prefix_template,
    }
    if warning:
        evidence["warning"] = warning
    tail = f" (gold-token rank {dr_masked:.1f} masked vs {dr_prefix:.1f} prefix, n={n})" + (
        f"; {warning}" if warning else ""
    )
    why = ""
    if ctx.bootstrap and low <= 0 <= high:
        why = "includes 0"
    elif ctx.bootstrap and low < ctx.threshold <= high:
        why = f"includes the threshold {ctx.threshold:.2f}"
    if why:
        evidence.update({INCONCLUSIVE: True, "leaning": objective.value})
        return Decision(
            relation, name, None, f"inconclusive (MI {signed(mi)}, {interval_text(low, high)} {why}){tail}", evidence
        )
    return Decision(
        relation,
        name,
        objective,
        f"MI {mi:.2f} {sign} {ctx.threshold:.2f} ({interval_text(low, high)}){tail}",
        evidence,
    )


@register("classifier")
class ClassifierStrategy(Strategy):
    priority = 2

    def decide(self, relations, ctx):
        from mto_studio.core.objectives.classifier import classify_relations

        qa = [r for r in relations if ctx.is_qa(r)]
        for relation in qa:  # undecided, not inconclusive: the vote is passed over without a note
            yield Decision(
                relation,
                self.name,
                None,
                "abstains on QA data (it is trained on completion data): the probe and the qa_framing rule decide",
                {"qa": True},
            )
        rest = [r for r in relations if r not in qa]
        if rest:
            yield from classify_relations(rest, ctx, self.name)


def strategy_names() -> list[str]:
    return sorted(STRATEGIES, key=lambda n: STRATEGIES[n].priority)
