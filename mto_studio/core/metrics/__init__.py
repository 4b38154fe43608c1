"""Metrics: per-head ROUGE-L/EM/token-F1 with per-relation breakdown and prediction samples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mto_studio.core.metrics.choice import (
    CHOICE_LABELS,
    CHOICE_METRICS,
    ChoiceReport,
    ChoiceScored,
    choice_accuracy,
    choice_report,
    label_index,
    match_choice,
    rank_choices,
    score_choice_predictions,
    score_choice_ranking,
)
from mto_studio.core.metrics.text import (
    best_over_references,
    exact_match,
    extract_answer,
    normalize,
    rouge_l,
    token_f1,
)

METRIC_NAMES = ("rougeL", "exact_match", "token_f1")


@dataclass(frozen=True)
class Scored:
    relation: str
    input: str
    prediction: str
    references: tuple[str, ...]
    scores: dict[str, float]


@dataclass
class MetricReport:
    """Metrics averaged over heads, per relation, plus the number of unique predictions and a sample."""

    overall: dict[str, float]
    per_relation: dict[str, dict[str, float]]
    items: list[Scored] = field(default_factory=list)

    def sample(self, n: int = 12) -> list[dict]:
        """A spread of predictions: every len(items)/n-th one, so each relation shows up."""
        if not self.items:
            return []
        step = max(1, len(self.items) // n)
        return [
            {
                "relation": s.relation,
                "input": s.input,
                "prediction": s.prediction,
                "references": list(s.references),
                "rougeL": round(s.scores["rougeL"], 4),
            }
            for s in self.items[::step][:n]
        ]


def score_predictions(
    relations: Sequence[str], inputs: Sequence[str], predictions: Sequence[str], references: Sequence[Sequence[str]]
) -> MetricReport:
    """Score one prediction per head against that head's references (ROUGE-L = max over references)."""
    items = [
        Scored(rel, inp, pred, tuple(refs), best_over_references(pred, refs))
        for rel, inp, pred, refs in zip(relations, inputs, predictions, references, strict=True)
    ]
    return report_from_items(items)


def report_from_items(items: list[Scored]) -> MetricReport:
    def summarise(group: list[Scored]) -> dict[str, float]:
        if not group:
            return {name: 0.0 for name in METRIC_NAMES} | {"unique_predictions": 0.0, "heads": 0.0}
        out = {name: sum(s.scores[name] for s in group) / len(group) for name in METRIC_NAMES}
        out["unique_predictions"] = float(len({normalize(s.prediction) for s in group}))
        out["heads"] = float(len(group))
        return out

    by_relation: dict[str, list[Scored]] = defaultdict(list)
    for item in items:
        by_relation[item.relation].append(item)
    return MetricReport(summarise(items), {rel: summarise(group) for rel, group in by_relation.items()}, items)


__all__ = [
    "CHOICE_LABELS",
    "CHOICE_METRICS",
    "METRIC_NAMES",
    "ChoiceReport",
    "ChoiceScored",
    "MetricReport",
    "Scored",
    "best_over_references",
    "choice_accuracy",
    "choice_report",
    "exact_match",
    "extract_answer",
    "label_index",
    "match_choice",
    "normalize",
    "rank_choices",
    "report_from_items",
    "rouge_l",
    "score_choice_predictions",
    "score_choice_ranking",
    "score_predictions",
    "token_f1",
]
