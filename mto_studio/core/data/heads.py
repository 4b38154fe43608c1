"""Rows grouped into heads: one head is a (relation, input) pair with all its reference targets.

Policy for empty and "none" targets: ATOMIC marks "no inference" with the tail ``none``. Such rows carry no
knowledge to learn or to score, so by default they are dropped (counted in ``TaskData.dropped_none``), and a
head whose every target was dropped disappears. ``keep_none=True`` keeps them as the literal text ``none``.
Rows with an empty input are always dropped (``dropped_empty_input``).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.data.checks import column_cells
from mto_studio.core.data.loading import ColumnMapping, Detection, RawTable, detect_columns, load_table
from mto_studio.core.errors import DataError

NONE_TARGETS = frozenset({"", "none", "null", "n/a", "na", "-"})


def head_id(relation: str, input_text: str) -> str:
    """A short, stable id for a head, the same on every machine and run."""
    digest = hashlib.sha1(f"{relation}\x1f{input_text}".encode()).hexdigest()
    return digest[:12]


@dataclass(frozen=True)
class Example:
    relation: str
    input: str
    target: str


@dataclass(frozen=True)
class Head:
    id: str
    relation: str
    input: str
    references: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "relation": self.relation, "input": self.input, "references": list(self.references)}


@dataclass
class TaskData:
    """A mapped data set: its rows (after the none policy) and their heads, in first-seen order."""

    source: str
    format: str
    columns: list[str]
    mapping: ColumnMapping
    preset: str | None
    examples: list[Example]
    heads: list[Head]
    dropped_none: int = 0
    dropped_empty_input: int = 0
    raw: RawTable | None = field(default=None, repr=False)

    @property
    def relations(self) -> list[str]:
        seen: dict[str, None] = {}
        for head in self.heads:
            seen.setdefault(head.relation, None)
        return list(seen)

    def head_counts(self) -> dict[str, int]:
        return dict(Counter(h.relation for h in self.heads))

    def row_counts(self) -> dict[str, int]:
        return dict(Counter(e.relation for e in self.examples))

    def heads_by_id(self) -> dict[str, Head]:
        return {h.id: h for h in self.heads}

    def subset(self, head_ids: list[str] | set[str]) -> TaskData:
        wanted = set(head_ids)
        heads = [h for h in self.heads if h.id in wanted]
        keep = {(h.relation, h.input) for h in heads}
        examples = [e for e in self.examples if (e.relation, e.input) in keep]
        return TaskData(
            self.source, self.format, self.columns, self.mapping, self.preset, examples, heads, raw=self.raw
        )

    def summary(self) -> str:
        rel = ", ".join(f"{r} {n}" for r, n in self.head_counts().items())
        return f"{len(self.examples)} rows, {len(self.heads)} heads ({rel})"


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a numeric column
        return ""
    return " ".join(str(value).split())


def group_heads(examples: list[Example]) -> list[Head]:
    """Group examples into heads in first-seen order; references keep their order, duplicates removed."""
    refs: dict[tuple[str, str], dict[str, None]] = {}
    for ex in examples:
        refs.setdefault((ex.relation, ex.input), {}).setdefault(ex.target, None)
    return [Head(head_id(rel, inp), rel, inp, tuple(targets)) for (rel, inp), targets in refs.items()]


def build_task_data(raw: RawTable, mapping: ColumnMapping | None = None, *, keep_none: bool = False) -> TaskData:
    """Apply a column mapping (auto-detected when None) and the none policy to a loaded table."""
    detection = Detection(mapping, None) if mapping else detect_columns(raw.columns)
    mapping = detection.mapping
    for role, column in (("input", mapping.input), ("target", mapping.target), ("relation", mapping.relation)):
        if column is not None and column not in raw.columns:
            raise DataError(
                f"the {role} column '{column}' is not in {os.path.basename(raw.source)} (columns: {raw.columns})",
                "fix the column mapping",
            )
    # Whole columns through Arrow (indexing a datasets Column row by row costs ~50 µs a row: minutes for ATOMIC);
    # a cell that is not text or a number, or holds a NUL, is a DataError naming the column and the row.
    inputs = column_cells(raw.dataset, mapping.input, raw.source)
    targets = column_cells(raw.dataset, mapping.target, raw.source)
    relations = column_cells(raw.dataset, mapping.relation, raw.source) if mapping.relation else None
    examples: list[Example] = []
    dropped_none = dropped_empty = 0
    for i, (inp, tgt) in enumerate(zip(inputs, targets, strict=True)):
        inp, tgt = _clean(inp), _clean(tgt)
        rel = _clean(relations[i]) if relations is not None else mapping.default_relation
        rel = rel or mapping.default_relation
        if not inp:
            dropped_empty += 1
            continue
        if tgt.lower() in NONE_TARGETS:
            if not keep_none:
                dropped_none += 1
                continue
            tgt = tgt or "none"
        examples.append(Example(rel, inp, tgt))
    if not examples:
        raise DataError(
            f"no usable rows in {os.path.basename(raw.source)}: {dropped_empty} without input, "
            f"{dropped_none} with an empty or 'none' target",
            "check the column mapping, or keep 'none' targets",
        )
    return TaskData(
        source=raw.source,
        format=raw.format,
        columns=raw.columns,
        mapping=mapping,
        preset=detection.preset,
        examples=examples,
        heads=group_heads(examples),
        dropped_none=dropped_none,
        dropped_empty_input=dropped_empty,
        raw=raw,
    )


def load_task_data(
    source: str | os.PathLike,
    mapping: ColumnMapping | None = None,
    *,
    fmt: str | None = None,
    keep_none: bool = False,
    split: str = "train",
) -> TaskData:
    """Load a file, a built-in data set's ``split`` or a hub id and map it into heads in one call."""
    return build_task_data(load_table(source, fmt=fmt, split=split), mapping, keep_none=keep_none)


def task_data_from_examples(examples: list[Example], source: str = "<memory>") -> TaskData:
    """Build TaskData from in-memory examples (the built-in world, adaptation pairs, tests)."""
    if not examples:
        raise DataError("no examples given", "provide at least one (relation, input, target) row")
    return TaskData(
        source=source,
        format="memory",
        columns=["relation", "input", "target"],
        mapping=ColumnMapping(input="input", target="target", relation="relation"),
        preset="input-target-relation",
        examples=list(examples),
        heads=group_heads(list(examples)),
    )
