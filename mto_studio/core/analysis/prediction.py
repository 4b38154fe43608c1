"""The prediction check: does the zero-shot ranking of templates predict the ranking after training?

A rank correlation over two templates is ±1 by construction, so ρ is only reported for cells with at least
``MIN_TEMPLATES`` trained templates; the number of templates is stated with every ρ, and the analyzer's own
recommendation is always among those trained (``templates_to_check``) so a hit means what it says."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mto_studio.core.analysis.analyze import AnalysisReport
from mto_studio.core.training.results import RunResult, shots_order

#: the fewest templates a Spearman ρ is reported over (with two it is ±1 whatever the scores)
MIN_TEMPLATES = 3


def _average_ranks(values: list[float]) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=float)
    sorted_values = np.asarray(values, dtype=float)[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation with average ranks for ties; None when undefined (n < 2 or a constant)."""
    if len(a) != len(b) or len(a) < 2:
        return None
    ra, rb = _average_ranks(a), _average_ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def templates_to_check(
    analysis: AnalysisReport, wanted: Sequence[str] = (), *, minimum: int = MIN_TEMPLATES
) -> list[str]:
    """The concrete templates to train so the check is meaningful: ``wanted`` (those the analysis scored), every
    template the analyzer recommends for some relation, then further scored candidates (in the analysis's order)
    until there are ``minimum``. Fewer only when the analysis scored fewer."""
    scored = list(analysis.config.templates)
    out: list[str] = [t for t in wanted if t in scored]
    for relation in analysis.relations:
        if relation.best_template and relation.best_template not in out:
            out.append(relation.best_template)
    for template in scored:
        if len(out) >= minimum:
            break
        if template not in out:
            out.append(template)
    return out


def _templates_phrase(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return f"{low} templates" if low == high else f"{low}–{high} templates"


def _cells(n: int) -> str:
    return f"{n} cell" if n == 1 else f"{n} cells"


@dataclass
class PredictionRow:
    relation: str
    shots: str
    templates: list[str]
    zero_shot: list[float]  # mean log-likelihood per template
    trained: list[float]  # mean test metric over seeds per template
    rho: float | None  # None below MIN_TEMPLATES templates or when a side is constant
    recommended: str | None  # the analyzer's recommended template for the relation
    trained_best: str | None  # None when every trained template scored the same (no winner)

    @property
    def n(self) -> int:
        return len(self.templates)

    @property
    def hit(self) -> bool | None:
        """Was the analyzer's recommendation the best trained template? None when it was not trained or when all
        trained templates tie (nothing to predict)."""
        if self.recommended is None or self.recommended not in self.templates or self.trained_best is None:
            return None
        return self.recommended == self.trained_best

    def rho_text(self) -> str:
        if self.rho is not None:
            return f"{self.rho:+.2f} (over {self.n} templates)"
        if self.n < MIN_TEMPLATES:
            return f"undefined ({self.n} templates; needs {MIN_TEMPLATES})"
        return f"undefined (ties over {self.n} templates)"


@dataclass
class PredictionCheck:
    rows: list[PredictionRow]
    metric: str

    @property
    def judged(self) -> list[PredictionRow]:
        """The rows a hit or miss can be counted for: the recommended template was trained and not all tied."""
        return [r for r in self.rows if r.hit is not None]

    @property
    def hits(self) -> int:
        return sum(bool(r.hit) for r in self.rows)

    @property
    def hit_rate(self) -> float | None:
        return self.hits / len(self.judged) if self.judged else None

    @property
    def rho_rows(self) -> list[PredictionRow]:
        return [r for r in self.rows if r.rho is not None]

    @property
    def mean_rho(self) -> float | None:
        values = [r.rho for r in self.rho_rows if r.rho is not None]
        return statistics.fmean(values) if values else None

    def summary(self) -> str:
        """One line: hits with the number of templates they were chosen among, and ρ with its template count."""
        if not self.rows:
            return "No (relation, k) cell has two trained templates that the analysis also scored: nothing to check."
        counts = [r.n for r in self.judged] or [r.n for r in self.rows]
        if self.judged:
            hits = (
                f"the analyzer's recommendation was the best trained template in {self.hits} of {len(self.judged)} "
                f"(relation, k) cells ({self.hit_rate:.0%}), among {_templates_phrase(counts)}"
            )
        else:
            hits = "no hit can be counted: the recommended templates were not trained or all trained templates tie"
        untrained = sum(r.recommended not in r.templates for r in self.rows)
        tied = sum(r.trained_best is None and r.recommended in r.templates for r in self.rows)
        if self.judged and untrained:
            hits += f"; {_cells(untrained)} without their recommended template left out"
        if self.judged and tied:
            hits += f"; {_cells(tied)} where all trained templates tie left out"
        rho_rows = self.rho_rows
        if self.mean_rho is not None:
            rho = f"mean Spearman ρ {self.mean_rho:+.2f} over {_templates_phrase([r.n for r in rho_rows])}"
            if len(rho_rows) < len(self.rows):
                rho += f" ({len(rho_rows)} of {len(self.rows)} cells; ρ is undefined in the others)"
        else:
            most = max(r.n for r in self.rows)
            rho = (
                f"Spearman ρ undefined: {most} trained templates per cell at most, and a rank correlation needs "
                f"{MIN_TEMPLATES} or more (over two it is ±1 by construction)"
                if most < MIN_TEMPLATES
                else "Spearman ρ undefined: the scores tie in every cell"
            )
        return hits[0].upper() + hits[1:] + "; " + rho + "."

    def markdown(self) -> str:
        lines = [
            f"Zero-shot template ranking (mean log-likelihood) vs trained ranking (test {self.metric}, mean over "
            f"seeds); ρ needs at least {MIN_TEMPLATES} templates:",
            "",
            "| relation | k | templates | Spearman ρ | recommended | best trained | hit |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            if r.recommended not in r.templates:
                hit = "not trained"
            else:
                hit = "all tie" if r.hit is None else ("yes" if r.hit else "no")
            lines.append(
                f"| {r.relation} | {r.shots} | {', '.join(r.templates)} | {r.rho_text()} | {r.recommended or '—'} | "
                f"{r.trained_best or '— (all tie)'} | {hit} |"
            )
        lines.append("\n" + self.summary())
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "min_templates": MIN_TEMPLATES,
            "hits": self.hits,
            "judged": len(self.judged),
            "hit_rate": self.hit_rate,
            "mean_rho": self.mean_rho,
            "rho_cells": len(self.rho_rows),
            "summary": self.summary(),
            "rows": [r.__dict__ | {"n": r.n, "hit": r.hit} for r in self.rows],
        }


def prediction_check(
    analysis: AnalysisReport, results: list[RunResult], *, metric: str = "rougeL", method: str = "finetune"
) -> PredictionCheck:
    """Per relation and k: Spearman between the zero-shot and the trained template scores (over the templates both
    sides have; None below MIN_TEMPLATES), and whether the analyzer's recommended template was the best trained one.
    Templates the analysis did not score (e.g. ``mixed``) are not part of the check."""
    rows = []
    for relation_report in analysis.relations:
        relation = relation_report.relation
        by_shots: dict[str, dict[str, list[float]]] = {}
        for result in results:
            if result.method != method or relation not in result.per_relation:
                continue
            value = result.per_relation[relation].get(metric)
            if value is not None:
                by_shots.setdefault(result.shots, {}).setdefault(result.template, []).append(value)
        for shots in sorted(by_shots, key=shots_order):
            trained = by_shots[shots]
            scored = [s for s in relation_report.scores if s.template in trained]
            common = [s.template for s in scored]
            if len(common) < 2:
                continue
            zero = [s.log_likelihood for s in scored]
            after = [statistics.fmean(trained[t]) for t in common]
            rho = spearman(zero, after) if len(common) >= MIN_TEMPLATES else None
            best: str | None = common[int(np.argmax(after))]
            recommended = relation_report.best_template
            if min(after) == max(after):
                best = None  # every template scored the same: no ranking to predict
            elif recommended in common and after[common.index(recommended)] == max(after):
                best = recommended  # a tie for first counts for the recommendation
            rows.append(PredictionRow(relation, shots, common, zero, after, rho, recommended, best))
    return PredictionCheck(rows, metric)
