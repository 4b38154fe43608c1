"""Seeded, deterministic k-shot sampling of heads, stratified by relation, and train/validation splits.

``k`` counts heads *per relation* (the MTO convention: a few-shot size is a number of distinct inputs for each
task). For each relation the heads are put in a seeded order that depends only on the seed, the relation and
the head ids, and the first k are taken; so for one seed the 8-shot set is inside the 32-shot set, and the
result does not depend on the order of rows in the file. ``k = "all"`` (or None) is full data.

Training *rows* are nested too: the target a head trains on is chosen by a seeded order of its references that
depends only on the seed, the head and its reference texts (``training_targets``), never on k or on which other heads
were sampled; so every training row at k = 8 is a training row at k = 32 and at full data. Evaluation heads keep at
most ``max_references`` references (``cap_references``): the first ones in file order, the same for every seed and
template, as the method's protocol scores test heads on up to 3 references.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mto_studio.core.data.heads import Example, Head
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


def _target_key(seed: int, head: Head, reference: str) -> str:
    return hashlib.sha256(f"{seed}\x1f{head.relation}\x1f{head.id}\x1ftarget\x1f{reference}".encode()).hexdigest()


def training_targets(head: Head, seed: int, per_head: int) -> tuple[str, ...]:
    """The targets ``head`` trains on with ``seed``: all of its references when ``per_head`` is 0 or covers them (in
    file order), else the first ``per_head`` of a seeded order keyed on (seed, head, reference text), so the choice is
    the same whatever k and whichever other heads were sampled."""
    refs = head.references
    if per_head == 0 or len(refs) <= per_head:
        return tuple(refs)
    order = sorted(range(len(refs)), key=lambda i: (_target_key(seed, head, refs[i]), i))
    return tuple(refs[i] for i in order[:per_head])


def cap_references(heads: list[Head], cap: int) -> tuple[list[Head], int]:
    """``heads`` with at most ``cap`` references each (0 = all): the first ``cap`` in file order, the same for every
    seed, template and k. Returns the heads and how many of them lost references."""
    if not cap:
        return heads, 0
    out = [replace(h, references=h.references[:cap]) if len(h.references) > cap else h for h in heads]
    return out, sum(len(h.references) > cap for h in heads)


def references_text(cap: int | None) -> str:
    """How a score's references are described: "≤3 references each", "all references" (cap 0, or a run from before
    the cap existed: None)."""
    return f"≤{cap} reference{'s' if cap != 1 else ''} each" if cap else "all references"


def rows_from_split(split: dict[str, Any]) -> list[Example] | None:
    """The training rows saved in a run's split.json (relation, input, target, in training order); None for a
    split.json written before rows were saved (it holds head ids only: the rows cannot be told from it)."""
    rows = split.get("train_rows")
    if rows is None:
        return None
    try:
        return [Example(str(r["relation"]), str(r["input"]), str(r["target"])) for r in rows]
    except (KeyError, TypeError) as exc:
        raise DataError(f"split.json's train_rows are malformed: {exc}", "re-create the run to write it again") from exc


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
