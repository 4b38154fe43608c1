"""The Objective Lab's recipe (resources/recipes/*.toml): the world, the tokenizer, the model's size, the objective
mix and the training settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mto_studio.core.config import SEED_MAX, check_bounds, from_dict, load_toml, option, seed_option, to_dict
from mto_studio.core.errors import ConfigError
from mto_studio.core.models.loading import DEVICE_HELP
from mto_studio.core.world import WorldConfig

#: the objectives a batch draws its examples from, in the order of ObjectiveMix.weights()
STREAMS = ("span", "salient", "supervised")


@dataclass
class TokenizerSection:
    vocab_size: int = option(2000, "pieces in the Unigram vocabulary (100 sentinels come on top)", low=200, high=64000)


@dataclass
class ModelSection:
    d_model: int = option(128, "hidden size", low=16, high=4096)
    d_ff: int = option(512, "feed-forward size", low=16, high=16384)
    num_layers: int = option(3, "encoder layers", low=1, high=48)
    num_decoder_layers: int = option(3, "decoder layers", low=1, high=48)
    num_heads: int = option(4, "attention heads", low=1, high=64)
    d_kv: int = option(32, "size of each attention head", low=4, high=512)
    dropout: float = option(0.0, "dropout rate", low=0.0, high=0.9)
    feed_forward_proj: str = option("gated-gelu", "T5 feed-forward type", choices=("relu", "gated-gelu"))
    tie_embeddings: bool = option(True, "share input and output embeddings (classic T5; halves the vocab weights)")


@dataclass
class ObjectiveMix:
    span: float = option(0.25, "weight of T5 span corruption", low=0.0)
    salient: float = option(0.5, "weight of salient-span corruption (mask the tail)", low=0.0)
    supervised: float = option(0.25, "weight of the supervised mapping stream", low=0.0)
    noise_density: float = option(0.15, "fraction of tokens masked by span corruption", low=0.01, high=0.9)
    mean_span_length: float = option(3.0, "mean length of a corrupted span", low=1.0, high=20.0)
    # One sentence per sequence by default: packing several (each with its own sentinel) kept a 2M-parameter model
    # from learning the sentence-borne facts at all in 6,000 steps, while single sentences learned them in ~1,000.
    max_sentences: int = option(1, "knowledge sentences packed into one span-corruption sequence", low=1, high=32)
    max_salient_sentences: int = option(1, "sentences per salient-span sequence", low=1, high=16)

    def weights(self) -> list[float]:
        return [self.span, self.salient, self.supervised]


@dataclass
class TrainingSection:
    steps: int = option(3000, "optimizer steps", low=1)
    batch_size: int = option(32, "sequences per step", low=1, high=4096)
    lr: float = option(1e-3, "peak learning rate (AdamW)", low=1e-7, high=1.0)
    warmup_steps: int = option(200, "linear warm-up steps", low=0)
    schedule: str = option("cosine", "learning-rate decay after warm-up", choices=("linear", "cosine", "constant"))
    weight_decay: float = option(0.01, "AdamW weight decay", low=0.0, high=1.0)
    seed: int = seed_option(0, "seed for initialisation and data order")
    threads: int = option(1, "torch CPU threads (1 is fastest on 2 shared cores)", low=1, high=256)
    device: str = option("auto", DEVICE_HELP)
    log_every: int = option(20, "steps between loss events", low=1)
    eval_every: int = option(500, "steps between zero-shot knowledge checks (0 = only at the end)", low=0)
    eval_size: int = option(200, "probes per zero-shot check", low=1)
    checkpoint_every: int = option(500, "steps between resumable checkpoints (0 = only on stop)", low=0)


@dataclass
class PretrainConfig:
    """A pre-training recipe (resources/recipes/*.toml)."""

    name: str = "mto-tiny"
    description: str = ""
    world: WorldConfig = field(default_factory=WorldConfig)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    model: ModelSection = field(default_factory=ModelSection)
    objectives: ObjectiveMix = field(default_factory=ObjectiveMix)
    training: TrainingSection = field(default_factory=TrainingSection)

    def __post_init__(self) -> None:
        for section in ("tokenizer", "model", "objectives", "training"):
            check_bounds(getattr(self, section), where=f"{section}.")
        if sum(self.objectives.weights()) <= 0:
            raise ConfigError("the objective weights sum to zero", "give span, salient or supervised a weight > 0")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        data = dict(data)
        world = data.pop("world", {})
        cfg = from_dict(cls, data)
        if world:
            if "tail_counts" in world:
                world["tail_counts"] = tuple(world["tail_counts"])
            if "tail_weights" in world:
                world["tail_weights"] = tuple(world["tail_weights"])
            try:
                cfg.world = WorldConfig(**world)
            except TypeError as exc:
                raise ConfigError(
                    f"bad [world] section: {exc}", "known: seed, objects, events, test_fraction"
                ) from None
            _check_world(cfg.world)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        return cls.from_dict(load_toml(path))


def _check_world(world: WorldConfig) -> None:
    """The [world] section's numbers (WorldConfig is a plain dataclass, without option() bounds)."""
    whole = {"seed": (0, SEED_MAX), "objects": (1, None), "events": (1, None)}
    for name, (low, high) in whole.items():
        value = getattr(world, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            wanted = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise ConfigError(f"world.{name} = {value!r} is out of range", f"use a whole number {wanted}")
    fraction = world.test_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
        raise ConfigError(f"world.test_fraction = {fraction!r} is out of range", "use a number from 0 to below 1")


def recipe_to_toml(cfg: PretrainConfig) -> str:
    import tomli_w

    data = cfg.to_dict()
    data["world"]["tail_counts"] = list(data["world"]["tail_counts"])
    data["world"]["tail_weights"] = list(data["world"]["tail_weights"])
    return tomli_w.dumps(data)


def estimate_minutes(cfg: PretrainConfig, ms_per_step: float) -> float:
    return math.ceil(cfg.training.steps * ms_per_step / 60000)
