"""The slot model of a template (MTO_METHOD §2) and its text form.

A template has a source pattern and a target pattern. Each pattern is a sequence of slots written in braces
between literal text:

    source: [prefix] [soft prompt] [phrase-before] {input} [soft prompt] [relation phrase] [soft prompt] [sentinel]
    target: [sentinel] [phrase-in-target] {target}

Slots (text form → meaning):
  {prefix}        the task prefix: the relation's name (``xIntent``), or the template's ``prefix`` text
  {soft:N}        N trainable soft-prompt tokens (prompt tuning); ``{soft}`` uses the template's soft_length
  {rel_before}    the part of the relation's clause phrase that comes before the input ("After"); empty when the
                  relation has no clause
  {input}         the row's input (the head)
  {rel}           the relation's connective phrase, which continues the input ("so PersonX feels")
  {rel_after}     the part of the relation's clause phrase that comes after the input; the connective when the
                  relation has no clause. So ``{rel_before} {input} {rel_after}`` is "the clause where there is one,
                  the connective otherwise" (the method's preference, used by the built-ins since issue 15)
  {mask}          a sentinel; numbered in order of appearance: <extra_id_0>, <extra_id_1>, …
  {target}        the row's target (target pattern only); for QA data the answer's text
  {choices}       QA only: the choices inlined as the method writes them, "choice1: X choice2: Y …" (source only);
                  ``{choices:numbered}`` writes "(A) X (B) Y …"; a template without it leaves the choices out
  {label}         QA only: the answer's letter label ("B") (target pattern only)
Anything else is literal text ("phrase" blocks in the designer); ``{{`` and ``}}`` write literal braces.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Objective(StrEnum):
    FILLING = "filling"
    MAPPING = "mapping"
    MIXED = "mixed"

    def __str__(self) -> str:
        return self.value


class SlotKind(StrEnum):
    TEXT = "text"
    PREFIX = "prefix"
    SOFT = "soft"
    REL_BEFORE = "rel_before"
    INPUT = "input"
    REL = "rel"
    REL_AFTER = "rel_after"
    MASK = "mask"
    TARGET = "target"
    CHOICES = "choices"
    LABEL = "label"

    def __str__(self) -> str:
        return self.value


#: What the designer calls each slot, in the words of MTO_METHOD §2.
SLOT_LABELS: dict[SlotKind, str] = {
    SlotKind.TEXT: "phrase",
    SlotKind.PREFIX: "prefix",
    SlotKind.SOFT: "soft prompt",
    SlotKind.REL_BEFORE: "phrase before",
    SlotKind.INPUT: "input",
    SlotKind.REL: "relation phrase",
    SlotKind.REL_AFTER: "relation phrase (after)",
    SlotKind.MASK: "sentinel",
    SlotKind.TARGET: "target",
    SlotKind.CHOICES: "choices",
    SlotKind.LABEL: "answer label",
}
#: The forms of a {choices} slot: "" = inlined "choice1: X choice2: Y", "numbered" = "(A) X (B) Y".
CHOICE_FORMS = ("", "numbered")
#: The slots that need multiple-choice (QA) data.
QA_SLOTS = frozenset({SlotKind.CHOICES, SlotKind.LABEL})

SOURCE_SLOTS = frozenset(
    {
        SlotKind.TEXT,
        SlotKind.PREFIX,
        SlotKind.SOFT,
        SlotKind.REL_BEFORE,
        SlotKind.INPUT,
        SlotKind.REL,
        SlotKind.REL_AFTER,
        SlotKind.MASK,
        SlotKind.CHOICES,
    }
)
TARGET_SLOTS = frozenset(
    {
        SlotKind.TEXT,
        SlotKind.REL_BEFORE,
        SlotKind.REL,
        SlotKind.REL_AFTER,
        SlotKind.MASK,
        SlotKind.TARGET,
        SlotKind.LABEL,
    }
)
MAX_SOFT_LENGTH = 512


@dataclass(frozen=True)
class Slot:
    kind: SlotKind
    text: str = ""  # literal text (TEXT slots only)
    length: int = 0  # soft-prompt length (SOFT slots only; 0 = the template's default)
    form: str = ""  # CHOICES slots only: "" (inlined) or "numbered"

    def to_text(self) -> str:
        if self.kind is SlotKind.TEXT:
            return self.text.replace("{", "{{").replace("}", "}}")
        if self.kind is SlotKind.SOFT and self.length:
            return f"{{soft:{self.length}}}"
        if self.kind is SlotKind.CHOICES and self.form:
            return f"{{choices:{self.form}}}"
        return f"{{{self.kind.value}}}"

    @property
    def label(self) -> str:
        return SLOT_LABELS[self.kind]


def needs_space(before: str, after: str) -> bool:
    """Whether two adjacent pieces need a space between them: both sides touch non-space characters, and
    the second does not start with closing punctuation nor the first end with an opening bracket."""
    if not before or not after or before[-1].isspace() or after[0].isspace():
        return False
    return after[0] not in ".,:;!?)]" and before[-1] not in "([/"


def join_pieces(pieces: list[str]) -> str:
    """Join rendered pieces with the spacing rule of :func:`needs_space`."""
    out = ""
    for piece in pieces:
        if not piece:
            continue
        if needs_space(out, piece):
            out += " "
        out += piece
    return out


def pattern_text(slots: tuple[Slot, ...] | list[Slot]) -> str:
    """The text form of a slot sequence; blocks are spaced as rendering spaces them."""
    return join_pieces([slot.to_text() for slot in slots])


@dataclass(frozen=True)
class Phrase:
    """A relation's two phrase tiers: a clause that wraps the input (holds ``{input}`` once) and a
    connective that continues it."""

    clause: str = ""
    connective: str = ""

    def clause_parts(self) -> tuple[str, str]:
        if "{input}" in self.clause:
            before, after = self.clause.split("{input}", 1)
            return before.strip(), after.strip()
        return "", self.clause.strip()


@dataclass(frozen=True)
class Template:
    """A parsed, validated template. Mixed templates name a Filling and a Mapping template instead of
    patterns; each relation is rendered with the one its objective calls for."""

    name: str
    objective: Objective
    source: tuple[Slot, ...] = ()
    target: tuple[Slot, ...] = ()
    description: str = ""
    prefix: str | None = None
    soft_length: int = 8
    phrases: dict[str, Phrase] = field(default_factory=dict)
    filling: str | None = None  # mixed only
    mapping: str | None = None  # mixed only
    #: mixed only: pick per example by the method's QA rule (core.data.qa_framing) instead of per relation; written
    #: as objective = "mixed-qa"
    per_example: bool = False
    builtin: bool = False
    path: str | None = None

    @property
    def source_text(self) -> str:
        return pattern_text(self.source)

    @property
    def target_text(self) -> str:
        return pattern_text(self.target)

    @property
    def is_mixed(self) -> bool:
        return self.objective is Objective.MIXED

    def count(self, kind: SlotKind, side: str = "source") -> int:
        return sum(1 for s in (self.source if side == "source" else self.target) if s.kind is kind)

    @property
    def soft_slots(self) -> list[tuple[int, int]]:
        """(slot index, length) of every soft-prompt slot in the source."""
        return [(i, s.length or self.soft_length) for i, s in enumerate(self.source) if s.kind is SlotKind.SOFT]

    @property
    def soft_total(self) -> int:
        return sum(n for _, n in self.soft_slots)

    @property
    def uses_phrases(self) -> bool:
        kinds = {s.kind for s in self.source + self.target}
        return bool(kinds & {SlotKind.REL, SlotKind.REL_BEFORE, SlotKind.REL_AFTER})

    @property
    def uses_choices(self) -> bool:
        """Whether the template needs multiple-choice (QA) data: a {choices} or {label} slot, or the per-example QA
        mixed rule (a mixed template whose parts use choices is told by the library: TemplateLibrary.uses_choices)."""
        kinds = {s.kind for s in self.source + self.target}
        return bool(kinds & QA_SLOTS) or self.per_example

    @property
    def objective_text(self) -> str:
        """The objective as the file writes it ("mixed-qa" for the per-example QA rule)."""
        return "mixed-qa" if self.per_example else self.objective.value

    def with_changes(self, **changes) -> Template:
        return replace(self, **changes)
