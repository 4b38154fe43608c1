"""Filling-vs-Mapping decision strategies, one class each, registered by name: the rule table, the likelihood
probe, and a small trained classifier. Each returns a Decision with its evidence; None means undecided."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mto_studio.core.data import Head
from mto_studio.core.errors import ModelError, TemplateError
from mto_studio.core.objectives.decision import Decision
from mto_studio.core.templates import Objective, SlotKind, Template, TemplateLibrary
from mto_studio.core.templates.rules import RuleTable, builtin_rules

__all__ = ["STRATEGIES", "Decision", "Strategy", "StrategyContext", "register", "strategy_names"]


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

    def examples(self, relation: str, n: int | None = None) -> list[Head]:
        """n heads of the relation, seeded (all of them when it has fewer)."""
        pool = sorted(self.heads.get(relation, []), key=lambda h: h.id)
        n = n or self.n
        if len(pool) <= n:
            return pool
        return random.Random(f"{self.seed}:{relation}").sample(pool, n)


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

    def decide(self, relations: list[str], ctx: StrategyContext) -> Iterator[Decision]:
        raise NotImplementedError


@register("rules")
class RuleStrategy(Strategy):
    priority = 2

    def decide(self, relations, ctx):
        table = ctx.rules or builtin_rules()
        for relation in relations:
            objective = table.decide(relation)
            if objective is None:
                yield Decision(relation, self.name, None, f"'{relation}' is not in the rule table (undecided)")
            else:
                yield Decision(relation, self.name, objective, f"the rule table lists {relation} as {objective.value}")


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
            rendered = {
                t.name: [ctx.library.render(t, h.relation, h.input, h.references[0], style=ctx.style) for h in heads]
                for t in (masked, prefix)
            }
            scores = {name: ctx.scorer.score([(r.source, r.target) for r in items]) for name, items in rendered.items()}
            dr_masked = sum(s.rank for s in scores[masked.name]) / len(heads)
            dr_prefix = sum(s.rank for s in scores[prefix.name]) / len(heads)
            mi = (dr_prefix - dr_masked) / dr_prefix if dr_prefix else 0.0
            objective = Objective.FILLING if mi >= ctx.threshold else Objective.MAPPING
            sign = "≥" if mi >= ctx.threshold else "<"
            evidence = {
                "mi": mi,
                "dr_masked": dr_masked,
                "dr_prefix": dr_prefix,
                "threshold": ctx.threshold,
                "ll_masked": sum(s.log_likelihood for s in scores[masked.name]) / len(heads),
                "ll_prefix": sum(s.log_likelihood for s in scores[prefix.name]) / len(heads),
                "n": len(heads),
                "masked_template": masked.name,
                "prefix_template": prefix.name,
            }
            if warning:
                evidence["warning"] = warning
            yield Decision(
                relation,
                self.name,
                objective,
                f"MI {mi:.2f} {sign} {ctx.threshold:.2f} "
                f"(gold-token rank {dr_masked:.1f} masked vs {dr_prefix:.1f} prefix, n={len(heads)})"
                + (f"; {warning}" if warning else ""),
                evidence,
            )


@register("classifier")
class ClassifierStrategy(Strategy):
    priority = 3

    def decide(self, relations, ctx):
        from mto_studio.core.objectives.classifier import classify_relations

        yield from classify_relations(relations, ctx, self.name)


def strategy_names() -> list[str]:
    return sorted(STRATEGIES, key=lambda n: STRATEGIES[n].priority)
