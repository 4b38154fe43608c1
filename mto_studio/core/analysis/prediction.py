"""The prediction check: does the zero-shot ranking of templates predict the ranking after training?"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np

from mto_studio.core.analysis.analyze import AnalysisReport
from mto_studio.core.training.results import RunResult, shots_order


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


@dataclass
class PredictionRow:
    relation: str
    shots: str
    templates: list[str]
    zero_shot: list[float]  # mean log-likelihood per template
    trained: list[float]  # mean test metric over seeds per template
    rho: float | None
    zero_shot_pick: str
    trained_best: str

    @property
    def hit(self) -> bool:
        return self.zero_shot_pick == self.trained_best


@dataclass
class PredictionCheck:
    rows: list[PredictionRow]
    metric: str

    @property
    def hit_rate(self) -> float | None:
        return sum(r.hit for r in self.rows) / len(self.rows) if self.rows else None

    @property
    def mean_rho(self) -> float | None:
        values = [r.rho for r in self.rows if r.rho is not None]
        return statistics.fmean(values) if values else None

    def markdown(self) -> str:
        lines = [
            f"Zero-shot template ranking (mean log-likelihood) vs trained ranking (test {self.metric}, mean over "
            "seeds):",
            "",
            "| relation | k | Spearman ρ | zero-shot pick | best trained | hit |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            rho = "—" if r.rho is None else f"{r.rho:+.2f}"
            lines.append(
                f"| {r.relation} | {r.shots} | {rho} | {r.zero_shot_pick} | {r.trained_best} | "
                f"{'yes' if r.hit else 'no'} |"
            )
        if self.rows:
            rho = "—" if self.mean_rho is None else f"{self.mean_rho:+.2f}"
            lines.append(
                f"\nThe analyzer's pick was the best trained template in {sum(r.hit for r in self.rows)} of "
                f"{len(self.rows)} (relation, k) cells ({self.hit_rate:.0%}); mean Spearman ρ {rho}."
            )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "hit_rate": self.hit_rate,
            "mean_rho": self.mean_rho,
            "rows": [r.__dict__ | {"hit": r.hit} for r in self.rows],
        }


def prediction_check(
    analysis: AnalysisReport, results: list[RunResult], *, metric: str = "rougeL", method: str = "finetune"
) -> PredictionCheck:
    """Per relation and k: Spearman between the zero-shot and the trained template scores, and whether the
    analyzer's recommended template was the best trained one (over the templates both sides have)."""
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
            pick = (
                relation_report.best_template
                if relation_report.best_template in common
                else common[int(np.argmax(zero))]
            )
            rows.append(
                PredictionRow(
                    relation, shots, common, zero, after, spearman(zero, after), pick, common[int(np.argmax(after))]
                )
            )
    return PredictionCheck(rows, metric)
