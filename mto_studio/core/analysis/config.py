"""The settings of an objective-match analysis (the `analyze` command's flags and the Analyzer's form)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mto_studio.core.config import check_bounds, from_dict, option, seed_option, to_dict
from mto_studio.core.errors import ConfigError
from mto_studio.core.objectives.strategies import STRATEGIES, strategy_names


@dataclass
class AnalysisConfig:
    data: str = option("world", "data file ('world' = the built-in world's training split)")
    model: str = option("mto-tiny", "model folder, 'mto-tiny' or a hub id (offline: from the local Hugging Face cache)")
    columns: str | None = option(None, "explicit column mapping")
    relations: list[str] = option(factory=list, help="relations to analyse (empty = all)")
    templates: list[str] = option(
        factory=lambda: ["sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"],
        help="candidate templates to rank zero-shot (left at this default on QA data: the library's QA templates)",
    )
    strategies: list[str] = option(
        factory=lambda: ["probe", "classifier", "rules"],
        help="decision strategies, in the order they decide (an inconclusive one passes on to the next)",
    )
    n: int = option(5, "examples per relation for the probe and the ranking", low=1, high=10000)
    seed: int = seed_option(0, "seed for choosing examples and for the bootstrap")
    threshold: float = option(0.30, "MI at or above which the probe says Filling", low=-10.0, high=1.0)
    masked_template: str = option("unsup-nat", "the probe's masked (Filling) template")
    prefix_template: str = option("sup", "the probe's prefix (Mapping) template")
    distractors: int = option(
        9,
        "wrong answers each gold target competes with in the knowledge check (0 = off; QA data uses its own choices)",
        low=0,
        high=99,
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
