"""A strategy's verdict on one relation: Filling, Mapping or undecided, with the reason and the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.templates import Objective


@dataclass(frozen=True)
class Decision:
    relation: str
    strategy: str
    objective: Objective | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "strategy": self.strategy,
            "objective": self.objective.value if self.objective else None,
            "reason": self.reason,
            "evidence": self.evidence,
        }
