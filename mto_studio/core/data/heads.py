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
from dataclasses import dataclass, field, replace
from typing import Any

from mto_studio.core.data.checks import column_cells
from mto_studio.core.data.loading import ColumnMapping, Detection, RawTable, detect_columns, load_table
from mto_studio.core.data.qa import QAMapping, QARow, detect_qa, read_qa_rows
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
    """A (relation, input) pair with its references; a QA head (``choices`` given) is one question, its
    references hold the answer text and ``answer`` the index of the right choice."""

    id: str
    relation: str
    input: str
    references: tuple[str, ...]
    choices: tuple[str, ...] = ()
    answer: int | None = None

    @property
    def is_qa(self) -> bool:
        return bool(self.choices)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "relation": self.relation,
            "input": self.input,
            "references": list(self.references),
        }
        if self.choices:
            out |= {"choices": list(self.choices), "answer": self.answer}
        return out


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
    #: "completion" (input → target) or "qa" (multiple choice: every head has choices and an answer index)
    kind: str = "completion"
    #: for QA: how the file gave its answers ("label", "index (0-based)", "index (1-based)", "text", …)
    answer_format: str = ""

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
        return replace(self, examples=examples, heads=heads, dropped_none=0, dropped_empty_input=0)

    def summary(self) -> str:
        rel = ", ".join(f"{r} {n}" for r, n in self.head_counts().items())
        if self.kind == "qa":
            return f"{len(self.heads)} questions ({rel}); answers given as {self.answer_format}"
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
    """Apply a column mapping (auto-detected when None) and the none policy to a loaded table. A table with
    choices (auto-detected, or ``choices`` in the mapping) becomes QA data (see core/data/qa.py)."""
    qa = _qa_mapping(raw, mapping)
    if qa is not None:
        return build_qa_task_data(raw, qa)
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


def _qa_mapping(raw: RawTable, mapping: ColumnMapping | None) -> QAMapping | None:
    if mapping is not None:
        if not mapping.choices:
            return None
        nested = mapping.choices == f"{mapping.input}.choices"  # CommonsenseQA's question: {stem, choices}
        choices = (mapping.input,) if nested else tuple(c.strip() for c in mapping.choices.split("|") if c.strip())
        for column in (mapping.input, mapping.target, mapping.relation, *choices):
            if column is not None and column not in raw.columns:
                raise DataError(
                    f"the column '{column}' is not in {os.path.basename(raw.source)} (columns: {raw.columns})",
                    "fix the column mapping",
                )
        return QAMapping(mapping.input, choices, mapping.target, mapping.relation, mapping.default_relation, nested)
    first = raw.dataset[0] if len(raw.dataset) else None
    name = raw.source.split(":", 1)[0] if raw.format == "hub" else ""
    return detect_qa(raw.columns, first, name)


def qa_heads(rows: list[QARow], source: str = "<memory>") -> list[Head]:
    """One head per question (rows repeating a question with the same choices and answer are one head; with
    another answer they are an error). The choices join the id only where one question text has several sets."""
    sets: dict[tuple[str, str], set[tuple[str, ...]]] = {}
    for row in rows:
        sets.setdefault((row.relation, row.question), set()).add(row.choices)
    heads: dict[tuple[str, str, tuple[str, ...]], tuple[int, Head]] = {}
    for row in rows:
        key = (row.relation, row.question, row.choices)
        if key in heads:
            first, head = heads[key]
            if head.answer != row.answer:
                raise DataError(
                    f"{os.path.basename(source)}: rows {first} and {row.row} ask the same question with the same "
                    f"choices but give different answers",
                    "keep one of the two rows, or correct its answer",
                )
            continue
        text = row.question
        if len(sets[(row.relation, row.question)]) > 1:
            text = "\x1e".join((row.question, *row.choices))
        head = Head(
            head_id(row.relation, text), row.relation, row.question, (row.answer_text,), row.choices, row.answer
        )
        heads[key] = (row.row, head)
    return [head for _, head in heads.values()]


def build_qa_task_data(raw: RawTable, qa: QAMapping) -> TaskData:
    """QA rows of a loaded table as TaskData of kind "qa"."""
    rows, skipped, answer_format = read_qa_rows(raw.dataset, qa, raw.source)
    choices = f"{qa.question}.choices" if qa.nested else qa.choices_spec
    mapping = ColumnMapping(qa.question, qa.answer, qa.relation, qa.default_relation, choices=choices)
    return TaskData(
        source=raw.source,
        format=raw.format,
        columns=raw.columns,
        mapping=mapping,
        preset="qa-nested" if qa.nested else "qa",
        examples=[Example(r.relation, r.question, r.answer_text) for r in rows],
        heads=qa_heads(rows, raw.source),
        dropped_empty_input=skipped,
        raw=raw,
        kind="qa",
        answer_format=answer_format,
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
