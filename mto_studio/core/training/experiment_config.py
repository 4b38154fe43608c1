"""Experiment configuration: a grid of templates × k-shot ladder × seeds × methods, run in sequence."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.config import SEED_MAX, check_bounds, from_dict, option, to_dict
from mto_studio.core.data.sampling import parse_shots, shots_label
from mto_studio.core.errors import ConfigError
from mto_studio.core.store.run_folder import template_label
from mto_studio.core.training.config import Method, TrainConfig


@dataclass
class AdaptationSettings:
    """MTO stage 2: train on pairs cut from unlabeled task-related sentences before few-shot fine-tuning."""

    enabled: bool = option(False, "adapt the model on unlabeled sentences before the few-shot runs")
    source: str = option("world", "a text file with one sentence per line ('world' = the built-in adaptation text)")
    splitter: str = option("rules", "how sentences are cut into input and target (see core/training/adaptation)")
    steps: int = option(300, "adaptation steps", low=1)
    lr: float = option(1e-3, "adaptation learning rate", low=1e-8, high=10.0)
    max_sentences: int = option(0, "use at most this many sentences (0 = all)", low=0)


@dataclass
class ExperimentConfig:
    """A sweep. ``train`` holds TrainConfig overrides shared by every run (steps, lr, batch_size, …)."""

    name: str = option("experiment", "a label for the experiment")
    data: str = option("world", "training data ('world' = the built-in world)")
    validation_data: str | None = option(None, "validation data (None: the data set's own, else held-out heads)")
    test_data: str | None = option(
        None, "test data (None: the data set's own test split; else validation scores, labelled so)"
    )
    columns: str | None = option(None, "explicit column mapping")
    relations: list[str] = option(factory=list, help="relations to include (empty = all)")
    model: str = option("mto-tiny", "model folder, 'mto-tiny' or a hub id (offline: from the local Hugging Face cache)")
    templates: list[str] = option(factory=lambda: ["unsup-nat", "sup"], help="templates to compare")
    baseline: str = option("sup", "the template every other one is compared against")
    shots: list[str] = option(factory=lambda: ["8", "32", "full"], help="k-shot ladder (heads per relation)")
    seeds: list[int] = option(factory=lambda: [0, 1, 2], help="seeds per cell")
    methods: list[str] = option(factory=lambda: ["finetune"], help="finetune, prompt and/or lora")
    train: dict[str, Any] = option(factory=dict, help="TrainConfig settings shared by all runs")
    objectives: dict[str, str] = option(factory=dict, help="per-relation objective decisions (for mixed)")
    adaptation: AdaptationSettings = field(default_factory=AdaptationSettings)

    def __post_init__(self) -> None:
        if isinstance(self.adaptation, dict):
            self.adaptation = from_dict(AdaptationSettings, self.adaptation, where="adaptation.")
        if not self.templates:
            raise ConfigError("an experiment needs at least one template", "e.g. templates = ['unsup-nat', 'sup']")
        if not self.seeds:
            raise ConfigError("an experiment needs at least one seed", "e.g. seeds = [0, 1, 2]")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
                raise ConfigError(f"seed {seed!r} is out of range", f"seeds are whole numbers from 0 to {SEED_MAX}")
        if not self.shots:
            raise ConfigError("an experiment needs at least one shot count", "e.g. shots = ['8', '32', 'full']")
        self.shots = [shots_label(parse_shots(s)) for s in self.shots]
        for method in self.methods:
            if method not in {m.value for m in Method}:
                raise ConfigError(f"unknown method '{method}'", "use finetune, prompt or lora")
        if self.baseline not in self.templates:
            self.baseline = self.templates[-1] if "sup" not in self.templates else "sup"
        check_bounds(self.adaptation, "adaptation.")
        self.base_train_config()  # validates the overrides

    def base_train_config(self) -> TrainConfig:
        reserved = {
            "data",
            "validation_data",
            "test_data",
            "columns",
            "relations",
            "model",
            "template",
            "method",
            "shots",
            "seed",
            "objectives",
        }
        bad = reserved & set(self.train)
        if bad:
            raise ConfigError(
                f"'{sorted(bad)[0]}' is set by the experiment grid, not in [train]",
                "set it at the top level of the experiment",
            )
        try:
            return TrainConfig.from_dict(
                {
                    **self.train,
                    "data": self.data,
                    "validation_data": self.validation_data,
                    "test_data": self.test_data,
                    "columns": self.columns,
                    "relations": list(self.relations),
                    "model": self.model,
                    "objectives": dict(self.objectives),
                }
            )
        except TypeError as exc:
            raise ConfigError(f"bad [train] settings: {exc}", "see TrainConfig for the known settings") from None

    def runs(self) -> list[TrainConfig]:
        """Every run of the grid, in the order they execute (method, k, template, seed)."""
        base = self.base_train_config()
        out = []
        for method, k, template, seed in itertools.product(self.methods, self.shots, self.templates, self.seeds):
            out.append(
                dataclasses.replace(
                    base,
                    template=template,
                    method=Method(method),
                    shots=parse_shots(k),
                    seed=seed,
                    name=f"{template_label(template)} · {method} · k={k} · seed {seed}",
                )
            )
        return out

    @staticmethod
    def total_runs(data: dict[str, Any]) -> int | None:
        """How many runs a saved experiment's grid has (the adaptation stage counts as one); None if unreadable."""
        try:
            cfg = ExperimentConfig.from_dict(data)
        except Exception:  # a config from another version: the caller falls back to what it has seen
            return None
        return len(cfg.runs()) + (1 if cfg.adaptation.enabled else 0)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        data = dict(data)
        if "shots" in data:
            data["shots"] = [str(s) for s in data["shots"]]
        return from_dict(cls, data)
