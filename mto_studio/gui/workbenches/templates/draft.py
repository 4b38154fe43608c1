"""The designer's draft model, free of Qt: one template as the editor shows it (fields as typed, slot blocks), its
validation field by field, and what each slot kind becomes on an example row."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.data import Head
from mto_studio.core.data.qa import LABELS
from mto_studio.core.errors import TemplateError
from mto_studio.core.templates import (
    Objective,
    Phrase,
    Slot,
    SlotKind,
    Template,
    TemplateLibrary,
    parse_pattern,
    template_from_dict,
)
from mto_studio.core.templates.pattern import block_slots

NEW_SOURCE = "{input} {rel} {mask}"
NEW_TARGET = "{mask} {target}"
FIELDS = (
    "name",
    "description",
    "objective",
    "source",
    "target",
    "prefix",
    "soft_length",
    "filling",
    "mapping",
    "general",
)


@dataclass
class Draft:
    """What the editor shows for one template: the fields as typed (possibly invalid) and the slot blocks."""

    key: str
    saved_name: str | None  # the project template it edits; None while never saved
    builtin: bool
    name: str
    objective: str
    description: str = ""
    source_text: str = ""
    target_text: str = ""
    source_slots: tuple[Slot, ...] = ()
    target_slots: tuple[Slot, ...] = ()
    prefix: str = ""
    soft_length: int = 8
    filling: str = "unsup-nat"
    mapping: str = "sup-nat"  # the method gives Mapping relations sup-nat in a mixed template
    phrases: dict[str, Phrase] = field(default_factory=dict)  # template-level overrides, kept as they are
    baseline: dict[str, Any] = field(default_factory=dict)
    last_valid: Template | None = None

    @classmethod
    def from_template(cls, template: Template, key: str, *, saved: bool = True) -> Draft:
        draft = cls(
            key=key,
            saved_name=template.name if saved and not template.builtin else None,
            builtin=template.builtin,
            name=template.name,
            objective=template.objective.value,
            description=template.description,
            source_text=template.source_text,
            target_text=template.target_text,
            source_slots=block_slots(template.source),
            target_slots=block_slots(template.target),
            prefix=template.prefix or "",
            soft_length=template.soft_length,
            filling=template.filling or "unsup-nat",
            mapping=template.mapping or "sup-nat",
            phrases=dict(template.phrases),
            last_valid=template,
        )
        if draft.objective == Objective.MIXED.value and not draft.source_text:
            draft.source_text, draft.target_text = NEW_SOURCE, NEW_TARGET
            draft.source_slots = block_slots(parse_pattern(NEW_SOURCE, "source"))
            draft.target_slots = block_slots(parse_pattern(NEW_TARGET, "target"))
        draft.baseline = draft.to_dict() if saved else {}
        return draft

    def to_dict(self) -> dict[str, Any]:
        """The template file's fields, as ``template_from_dict`` validates them."""
        data: dict[str, Any] = {"name": self.name, "description": self.description, "objective": self.objective}
        if self.objective == Objective.MIXED.value:
            data["filling"], data["mapping"] = self.filling, self.mapping
        else:
            data["source"], data["target"] = self.source_text, self.target_text
        if self.prefix:
            data["prefix"] = self.prefix
        data["soft_length"] = self.soft_length
        if self.phrases:
            data["phrases"] = {
                r: {k: v for k, v in (("clause", p.clause), ("connective", p.connective)) if v}
                for r, p in self.phrases.items()
            }
        return data

    @property
    def modified(self) -> bool:
        return not self.builtin and self.to_dict() != self.baseline

    @property
    def unsaved(self) -> bool:
        return self.saved_name is None and not self.builtin


def validate_draft(draft: Draft, library: TemplateLibrary) -> tuple[Template | None, dict[str, TemplateError]]:
    """The template the draft describes, or None, and every error found, by field. Each side's pattern is parsed
    on its own so both can show an error at once."""
    errors: dict[str, TemplateError] = {}
    if draft.objective != Objective.MIXED.value:
        for side, text in (("source", draft.source_text), ("target", draft.target_text)):
            try:
                parse_pattern(text, side)
            except TemplateError as exc:
                errors[side] = exc
    template = None
    try:
        template = template_from_dict(draft.to_dict())
        library.check(template)
    except TemplateError as exc:
        errors.setdefault(exc.field if exc.field in FIELDS else "general", exc)
        template = None
    if not draft.builtin and draft.name != draft.saved_name and draft.name in library:
        errors.setdefault(
            "name",
            TemplateError(f"a template named '{draft.name}' already exists", "choose another name", field="name"),
        )
        template = None
    return (template if not errors else None), errors


def error_html(error: TemplateError) -> str:
    """The error as rich text for the field's inline label: the message, the column, the fix."""
    where = f" (column {error.column})" if error.column else ""
    hint = f"<br>Fix: {html.escape(error.hint)}" if error.hint else ""
    return f"<b>{html.escape(error.bare_message)}</b>{where}{hint}"


#: how phrase_examples passes a QA row's choices to a choices block (which writes them in its slot's form)
CHOICES_SEPARATOR = "\x1f"


def phrase_examples(template: Template | None, head: Head, library: TemplateLibrary) -> dict[SlotKind, str]:
    """What each slot kind becomes on ``head`` (shown inside the blocks)."""
    examples = {SlotKind.INPUT: head.input, SlotKind.TARGET: head.references[0]}
    prefix = template.prefix if template is not None and template.prefix is not None else None
    examples[SlotKind.PREFIX] = prefix if prefix is not None else head.relation
    table = library.phrases.overridden(template.phrases if template is not None else None)
    if head.relation in table or head.relation.lower() in {r.lower() for r in table}:
        phrase = table.lookup(head.relation)
        before, after = phrase.clause_parts()
        examples[SlotKind.REL] = phrase.connective or after
        examples[SlotKind.REL_BEFORE] = before
        examples[SlotKind.REL_AFTER] = after if phrase.clause else phrase.connective
    if head.choices:  # QA: the block writes the choices in its form; the label is the right choice's letter
        examples[SlotKind.CHOICES] = CHOICES_SEPARATOR.join(head.choices)
        if head.answer is not None:
            examples[SlotKind.LABEL] = LABELS[head.answer]
    return examples
