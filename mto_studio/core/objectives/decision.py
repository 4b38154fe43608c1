"""A strategy's verdict on one relation: Filling, Mapping or undecided, with the reason and the evidence; and the
bootstrap interval a strategy uses to say when its evidence does not separate the objectives (inconclusive)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mto_studio.core.templates import Objective

#: evidence key set on a vote whose evidence does not separate the objectives (its objective is then None)
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Decision:
    relation: str
    strategy: str
    objective: Objective | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def inconclusive(self) -> bool:
        """The strategy ran but its evidence did not separate Filling from Mapping."""
        return self.objective is None and bool(self.evidence.get(INCONCLUSIVE))

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "strategy": self.strategy,
            "objective": self.objective.value if self.objective else None,
            "reason": self.reason,
            "evidence": self.evidence,
        }


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


def bootstrap_stat(
    columns: Sequence[Sequence[float]],
    stat: Callable[..., np.ndarray],
    reps: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(*resampled column means)`` with examples resampled jointly
    (paired): ``stat`` takes one array of resampled means per column and returns the statistic per resample."""
    data = [np.asarray(c, dtype=float) for c in columns]
    size = len(data[0])
    if reps == 0 or size <= 1:
        value = float(stat(*[np.array([d.mean()]) for d in data])[0])
        return (value, value)
    picks = np.random.default_rng(seed).integers(0, size, size=(reps, size))
    values = stat(*[d[picks].mean(axis=1) for d in data])
    low, high = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(low), float(high))


def interval_text(low: float, high: float) -> str:
    return f"95% interval {low:+.2f}…{high:+.2f}".replace("-", "−")


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")
