"""Seeded, deterministic k-shot sampling of heads, stratified by relation, and train/validation splits.

``k`` counts heads *per relation* (the MTO convention: a few-shot size is a number of distinct inputs for each
task). For each relation the heads are put in a seeded order that depends only on the seed, the relation and
the head ids, and the first k are taken; so for one seed the 8-shot set is inside the 32-shot set, and the
result does not depend on the order of rows in the file. ``k = "all"`` (or None) is full data.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mto_studio.core.data.heads import Head
from mto_studio.core.errors import ConfigError, DataError
from mto_studio.core.fsio import atomic_write_json

FULL = "all"


def parse_shots(value: str | int | None) -> int | None:
    """Parse a k value: an integer ≥ 1, or 'all'/'full'/None for full data (returned as None)."""
    if value is None:
        return None
    if isinstance(value, int):
        k = value
    else:
        text = str(value).strip().lower()
        if text in ("all", "full", ""):
            return None
        try:
            k = int(text)
        except ValueError as exc:
            raise ConfigError(f"bad shot count '{value}'", "use a whole number of heads, or 'full'") from exc
    if k < 1:
        raise ConfigError(f"shot count must be at least 1, got {k}", "use a whole number ≥ 1, or 'full'")
    return k


def shots_label(k: int | None) -> str:
    return "full" if k is None else str(k)


def _order_key(seed: int, relation: str, head: Head) -> str:
    return hashlib.sha256(f"{seed}\x1f{relation}\x1f{head.id}".encode()).hexdigest()


@dataclass(frozen=True)
class HeadSample:
    """The heads chosen for one (k, seed): their ids per relation, saveable and reloadable."""

    k: int | None
    seed: int
    head_ids: tuple[str, ...]
    per_relation: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": shots_label(self.k),
            "seed": self.seed,
            "per_relation": self.per_relation,
            "head_ids": list(self.head_ids),
        }

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> HeadSample:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                parse_shots(data["k"]), int(data["seed"]), tuple(data["head_ids"]), dict(data.get("per_relation", {}))
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read the split file {path}: {exc}", "re-create it by sampling again") from exc


def sample_heads(
    heads: list[Head],
    k: int | str | None,
    seed: int,
    *,
    relations: list[str] | None = None,
    strict: bool = True,
) -> HeadSample:
    """Choose k heads per relation with ``seed``. With ``strict``, a relation with fewer than k heads is an
    error naming it; otherwise it contributes all of its heads."""
    k = parse_shots(k) if not isinstance(k, int) else parse_shots(k)
    by_relation: dict[str, list[Head]] = {}
    for head in heads:
        by_relation.setdefault(head.relation, []).append(head)
    wanted = relations if relations is not None else list(by_relation)
    chosen: list[str] = []
    counts: dict[str, int] = {}
    for relation in wanted:
        pool = by_relation.get(relation, [])
        if not pool:
            raise DataError(f"relation '{relation}' has no heads in the data", "pick relations that the data has")
        if k is not None and k > len(pool) and strict:
            raise ConfigError(
                f"k={k} is larger than the {len(pool)} heads of relation '{relation}'",
                f"use k ≤ {len(pool)} or 'full'",
            )
        ordered = sorted(pool, key=lambda h: _order_key(seed, relation, h))
        take = ordered if k is None else ordered[:k]
        chosen.extend(h.id for h in take)
        counts[relation] = len(take)
    return HeadSample(k, seed, tuple(chosen), counts)


def split_heads(heads: list[Head], fraction: float, seed: int) -> tuple[list[Head], list[Head]]:
    """Split heads into (kept, held-out) with about ``fraction`` of each relation held out (at least one
    per relation when it has two or more heads). Deterministic for a seed."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"held-out fraction must be between 0 and 1, got {fraction}", "use e.g. 0.2")
    by_relation: dict[str, list[Head]] = {}
    for head in heads:
        by_relation.setdefault(head.relation, []).append(head)
    held: set[str] = set()
    for relation, pool in by_relation.items():
        if len(pool) < 2:
            continue
        ordered = sorted(pool, key=lambda h: _order_key(seed + 7919, relation, h))
        n_held = min(len(pool) - 1, max(1, round(len(pool) * fraction)))
        held.update(h.id for h in ordered[:n_held])
    return [h for h in heads if h.id not in held], [h for h in heads if h.id in held]
