"""Parse a pattern's text form into slots, with errors that give the column and the fix."""

from __future__ import annotations

from mto_studio.core.errors import TemplateError
from mto_studio.core.templates.model import (
    CHOICE_FORMS,
    MAX_SOFT_LENGTH,
    SOURCE_SLOTS,
    TARGET_SLOTS,
    Slot,
    SlotKind,
)

_BY_NAME = {kind.value: kind for kind in SlotKind if kind is not SlotKind.TEXT}
# Friendly aliases people type (the MTO papers' and research code's names).
_ALIASES = {
    "sentinel": SlotKind.MASK,
    "extra_id": SlotKind.MASK,
    "event": SlotKind.INPUT,
    "head": SlotKind.INPUT,
    "tail": SlotKind.TARGET,
    "phrase_before": SlotKind.REL_BEFORE,
    "relation": SlotKind.REL,
    "prompt": SlotKind.SOFT,
    "options": SlotKind.CHOICES,
    "answer_label": SlotKind.LABEL,
}


def _known() -> str:
    return ", ".join("{" + name + "}" for name in _BY_NAME) + " (and {soft:N}, {choices:numbered})"


def parse_pattern(text: str, side: str) -> tuple[Slot, ...]:
    """Parse ``text`` as the ``side`` ('source' or 'target') pattern. Columns in errors are 1-based."""
    if not isinstance(text, str):
        raise TemplateError(
            f"must be text, got {type(text).__name__}", 'write it as a quoted string, e.g. "{input}"', field=side
        )
    allowed = SOURCE_SLOTS if side == "source" else TARGET_SLOTS
    slots: list[Slot] = []
    literal: list[str] = []
    i, n = 0, len(text)

    def flush() -> None:
        if literal:
            slots.append(Slot(SlotKind.TEXT, text="".join(literal)))
            literal.clear()

    while i < n:
        ch = text[i]
        if ch == "{":
            if i + 1 < n and text[i + 1] == "{":
                literal.append("{")
                i += 2
                continue
            close = text.find("}", i + 1)
            nested = text.find("{", i + 1)
            if close == -1 or (nested != -1 and nested < close):
                raise TemplateError(
                    "'{' is never closed",
                    "close the slot with '}', or write '{{' for a literal brace",
                    field=side,
                    column=i + 1,
                )
            body = text[i + 1 : close].strip()
            flush()
            slots.append(_slot_from_body(body, side, i + 1, allowed))
            i = close + 1
            continue
        if ch == "}":
            if i + 1 < n and text[i + 1] == "}":
                literal.append("}")
                i += 2
                continue
            raise TemplateError(
                "'}' without a matching '{'", "remove it, or write '}}' for a literal brace", field=side, column=i + 1
            )
        literal.append(ch)
        i += 1
    flush()
    return tuple(slots)


def _slot_from_body(body: str, side: str, column: int, allowed: frozenset[SlotKind]) -> Slot:
    name, _, arg = body.partition(":")
    name = name.strip().lower()
    arg = arg.strip()
    kind = _BY_NAME.get(name) or _ALIASES.get(name)
    if kind is None:
        shown = "{" + body + "}"
        raise TemplateError(f"unknown slot {shown}", f"use one of {_known()}", field=side, column=column)
    if kind not in allowed:
        where = "source" if side == "target" else "target"
        raise TemplateError(
            f"slot {{{kind.value}}} cannot be used in the {side}",
            f"move it to the {where} pattern"
            if kind in (SlotKind.INPUT, SlotKind.TARGET)
            else f"the {side} may hold only "
            + ", ".join("{" + k.value + "}" for k in sorted(allowed, key=str) if k is not SlotKind.TEXT),
            field=side,
            column=column,
        )
    if kind is SlotKind.SOFT:
        length = 0
        if arg:
            try:
                length = int(arg)
            except ValueError:
                raise TemplateError(
                    f"soft-prompt length '{arg}' is not a number",
                    "write {soft:8} for eight soft-prompt tokens",
                    field=side,
                    column=column,
                ) from None
            if not 1 <= length <= MAX_SOFT_LENGTH:
                raise TemplateError(
                    f"soft-prompt length {length} is out of range",
                    f"use 1 to {MAX_SOFT_LENGTH} tokens",
                    field=side,
                    column=column,
                )
        return Slot(SlotKind.SOFT, length=length)
    if kind is SlotKind.CHOICES:
        form = arg.lower()
        if form not in CHOICE_FORMS:
            raise TemplateError(
                f"unknown choices form '{arg}'",
                'write {choices} for "choice1: … choice2: …" or {choices:numbered} for "(A) … (B) …"',
                field=side,
                column=column,
            )
        return Slot(SlotKind.CHOICES, form=form)
    if arg:
        raise TemplateError(
            f"slot {{{name}}} takes no argument (got ':{arg}')", f"write {{{kind.value}}}", field=side, column=column
        )
    return Slot(kind)


def block_slots(slots: tuple[Slot, ...]) -> tuple[Slot, ...]:
    """The slots as blocks: rendering puts a space between blocks anyway (see ``join_pieces``), so whitespace-only
    phrases are dropped and phrase text is trimmed; ``pattern_text`` of the result renders the same."""
    blocks = []
    for slot in slots:
        if slot.kind is SlotKind.TEXT:
            if not slot.text.strip():
                continue
            slot = Slot(SlotKind.TEXT, text=slot.text.strip())
        blocks.append(slot)
    return tuple(blocks)
