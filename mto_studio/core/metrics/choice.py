"""Accuracy for multiple-choice QA: a generated text matched to the nearest choice, or the choices ranked by a
model's scores.

Matching (``match_choice``), first rule that decides wins:
1. the output equals a choice after normalisation (``normalize``: NFKC, lower case, Unicode words);
2. the output is a choice's label: ``B``, ``(b)``, ``b)``, ``B.``, ``choice 2``, ``option B``, ``answer: b`` or a
   bare number ``2`` (labels A–H and numbers 1–8 count from the first choice, as "choice1: …" inlines them);
3. the choice with the highest ROUGE-L to the output, token F1 breaking a tie; a tie on both, or no word in
   common with any choice, is no match (None: counted wrong).

Ranking (``rank_choices``): the index of the highest score (e.g. each choice's summed or mean log-likelihood as
the answer of the example); a tie for the top is no prediction. The batched scoring itself lives with the model
code; it hands one score per choice per example to ``score_choice_ranking``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mto_studio.core.metrics.text import extract_answer, normalize, rouge_l, token_f1

CHOICE_LABELS = "ABCDEFGH"
CHOICE_METRICS = ("accuracy", "matched")
_LABEL = re.compile(
    r"^(?:(?:the\s+)?(?:correct\s+)?(?:answer|choice|option)(?:\s+is)?\s*[:.]?\s*)?\(?([a-h]|[1-8])\)?[.:)]?$"
)


def label_index(text: str, n_choices: int) -> int | None:
    """The choice a label names (``B``, ``(b)``, ``choice 2``, ``2`` → 1), or None."""
    match = _LABEL.match(" ".join(unicodedata.normalize("NFKC", text).lower().split()))
    if not match:
        return None
    tag = match.group(1)
    index = int(tag) - 1 if tag.isdigit() else ord(tag) - ord("a")
    return index if 0 <= index < n_choices else None


def match_choice(prediction: str, choices: Sequence[str]) -> int | None:
    """The index of the choice ``prediction`` names or is nearest to, else None (the rules are in the module
    docstring). Sentinels, special and soft tokens are taken off first."""
    text = extract_answer(prediction)
    wanted = normalize(text)
    if not wanted or not choices:
        return None
    exact = [i for i, choice in enumerate(choices) if normalize(choice) == wanted]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        return None
    by_label = label_index(text, len(choices))
    if by_label is not None:
        return by_label
    scored = [(rouge_l(text, choice), token_f1(text, choice)) for choice in choices]
    best = max(scored)
    if best[0] <= 0.0 and best[1] <= 0.0:
        return None
    winners = [i for i, score in enumerate(scored) if score == best]
    return winners[0] if len(winners) == 1 else None


def rank_choices(scores: Sequence[float]) -> int | None:
    """The index of the highest score (higher = more likely); None for no scores, a NaN or a tie at the top."""
    if not scores or any(math.isnan(s) for s in scores):
        return None
    top = max(scores)
    winners = [i for i, s in enumerate(scores) if s == top]
    return winners[0] if len(winners) == 1 else None


@dataclass(frozen=True)
class ChoiceScored:
    """One question: what the model chose (None = no match) against the right choice."""

    relation: str
    input: str
    prediction: str  # the generated text, or the chosen choice's text when ranking
    choice: int | None
    answer: int
    choices: tuple[str, ...]

    @property
    def correct(self) -> bool:
        return self.choice == self.answer


@dataclass
class ChoiceReport:
    """Accuracy (and the share of outputs matched to any choice) over questions, overall and per relation."""

    overall: dict[str, float]
    per_relation: dict[str, dict[str, float]]
    items: list[ChoiceScored] = field(default_factory=list)

    def sample(self, n: int = 12) -> list[dict]:
        step = max(1, len(self.items) // n) if self.items else 1
        return [
            {
                "relation": s.relation,
                "input": s.input,
                "prediction": s.prediction,
                "choice": None if s.choice is None else CHOICE_LABELS[s.choice],
                "answer": CHOICE_LABELS[s.answer],
                "choices": list(s.choices),
                "correct": s.correct,
            }
            for s in self.items[::step][:n]
        ]


def _summary(group: list[ChoiceScored]) -> dict[str, float]:
    if not group:
        return {"accuracy": 0.0, "matched": 0.0, "heads": 0.0}
    return {
        "accuracy": sum(s.correct for s in group) / len(group),
        "matched": sum(s.choice is not None for s in group) / len(group),
        "heads": float(len(group)),
    }


def choice_report(items: list[ChoiceScored]) -> ChoiceReport:
    by_relation: dict[str, list[ChoiceScored]] = defaultdict(list)
    for item in items:
        by_relation[item.relation].append(item)
    return ChoiceReport(_summary(items), {rel: _summary(group) for rel, group in by_relation.items()}, items)


def score_choice_predictions(
    relations: Sequence[str],
    inputs: Sequence[str],
    predictions: Sequence[str],
    choices: Sequence[Sequence[str]],
    answers: Sequence[int],
) -> ChoiceReport:
    """Accuracy of generated texts, each matched to the nearest of its question's choices."""
    items = [
        ChoiceScored(rel, inp, pred, match_choice(pred, opts), ans, tuple(opts))
        for rel, inp, pred, opts, ans in zip(relations, inputs, predictions, choices, answers, strict=True)
    ]
    return choice_report(items)


def score_choice_ranking(
    relations: Sequence[str],
    inputs: Sequence[str],
    scores: Sequence[Sequence[float]],
    choices: Sequence[Sequence[str]],
    answers: Sequence[int],
) -> ChoiceReport:
    """Accuracy of ranking: per question one score per choice (higher = more likely), the top one chosen."""
    items = []
    for rel, inp, per_choice, opts, ans in zip(relations, inputs, scores, choices, answers, strict=True):
        if len(per_choice) != len(opts):
            raise ValueError(f"{len(per_choice)} scores for {len(opts)} choices of {inp!r}")
        chosen = rank_choices(per_choice)
        items.append(ChoiceScored(rel, inp, "" if chosen is None else opts[chosen], chosen, ans, tuple(opts)))
    return choice_report(items)


def choice_accuracy(chosen: Sequence[int | None], answers: Sequence[int]) -> float:
    """The share of questions whose chosen index is the answer (None counts wrong; 0.0 for no questions)."""
    if not answers:
        return 0.0
    return sum(c == a for c, a in zip(chosen, answers, strict=True)) / len(answers)
