"""What the designer previews (Qt-free): a spread of rows, rendered and tokenized, and template diffs."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from mto_studio.core.data import Head
from mto_studio.core.errors import MtoError
from mto_studio.core.templates import (
    T5_STYLE,
    Rendered,
    SentinelStyle,
    Slot,
    Template,
    TemplateLibrary,
    TokenizedPair,
    tokenize_rendered,
)
from mto_studio.core.templates.pattern import block_slots

Status = Literal["same", "changed", "removed", "added"]


def spread_heads(heads: list[Head], count: int, relation: str | None = None) -> list[Head]:
    """``count`` heads taken round-robin over relations (in first-seen order), so a preview shows the variety of
    the data rather than the first relation only; or the first ``count`` heads of ``relation``."""
    if relation:
        return [h for h in heads if h.relation == relation][:count]
    by_relation: dict[str, list[Head]] = {}
    for head in heads:
        by_relation.setdefault(head.relation, []).append(head)
    picked: list[Head] = []
    depth = 0
    while len(picked) < count and any(depth < len(group) for group in by_relation.values()):
        for group in by_relation.values():
            if depth < len(group) and len(picked) < count:
                picked.append(group[depth])
        depth += 1
    return picked


@dataclass(frozen=True)
class PreviewRow:
    """One previewed head: its rendering and tokens, or the error that stopped it (e.g. a missing phrase)."""

    head: Head
    rendered: Rendered | None = None
    tokens: TokenizedPair | None = None
    error: MtoError | None = None


def build_preview(
    library: TemplateLibrary,
    template: Template,
    heads: list[Head],
    *,
    tokenizer=None,
    style: SentinelStyle | None = None,
    max_source_length: int = 128,
    max_target_length: int = 32,
) -> list[PreviewRow]:
    rows = []
    for head in heads:
        try:
            rendered = library.render_head(template, head, style=style or T5_STYLE)  # QA heads bring choices
        except MtoError as exc:
            rows.append(PreviewRow(head, error=exc))
            continue
        tokens = None
        if tokenizer is not None:
            tokens = tokenize_rendered(
                tokenizer, rendered, max_source_length=max_source_length, max_target_length=max_target_length
            )
        rows.append(PreviewRow(head, rendered, tokens))
    return rows


@dataclass(frozen=True)
class AlignedSlot:
    a: Slot | None
    b: Slot | None
    status: Status


def _slot_key(slot: Slot) -> tuple:
    return slot.kind, slot.text, slot.length, slot.form


def align_slots(a: tuple[Slot, ...], b: tuple[Slot, ...]) -> list[AlignedSlot]:
    """Align two slot sequences as blocks (see ``block_slots``): equal runs are 'same'; replaced runs pair up as
    'changed', and what is left over on one side is 'removed' (only in a) or 'added' (only in b)."""
    a, b = block_slots(a), block_slots(b)
    aligned: list[AlignedSlot] = []
    matcher = difflib.SequenceMatcher(a=[_slot_key(s) for s in a], b=[_slot_key(s) for s in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            aligned += [AlignedSlot(a[i], b[j], "same") for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        left, right = list(a[i1:i2]), list(b[j1:j2])
        paired = min(len(left), len(right))
        aligned += [AlignedSlot(left[k], right[k], "changed") for k in range(paired)]
        aligned += [AlignedSlot(s, None, "removed") for s in left[paired:]]
        aligned += [AlignedSlot(None, s, "added") for s in right[paired:]]
    return aligned


def word_diff(a: str, b: str) -> tuple[list[tuple[str, Status]], list[tuple[str, Status]]]:
    """Words of ``a`` and ``b`` marked 'same', or 'removed' (a only) / 'added' (b only)."""
    wa, wb = a.split(), b.split()
    left: list[tuple[str, Status]] = []
    right: list[tuple[str, Status]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        if op == "equal":
            left += [(w, "same") for w in wa[i1:i2]]
            right += [(w, "same") for w in wb[j1:j2]]
        else:
            left += [(w, "removed") for w in wa[i1:i2]]
            right += [(w, "added") for w in wb[j1:j2]]
    return left, right
