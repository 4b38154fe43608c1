"""Render a template on a row: source and target strings, sentinels numbered, soft prompts marked."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mto_studio.core.errors import ModelError, TemplateError
from mto_studio.core.templates.model import Objective, Slot, SlotKind, Template, join_pieces
from mto_studio.core.templates.phrases import PhraseTable, builtin_phrases

SOFT_TOKEN = "<soft_{}>"
SOFT_TOKEN_RE = re.compile(r"<soft_(\d+)>")
T5_SENTINEL = "<extra_id_{}>"
T5_SENTINEL_RE = re.compile(r"<extra_id_(\d+)>")
MAX_T5_SENTINELS = 100


@dataclass(frozen=True)
class SentinelStyle:
    """How sentinels are written. ``t5``: <extra_id_N>. ``mask``: the model's mask token in the source
    (BART); target sentinels are dropped because such models generate the filled text itself. ``denoise``: the
    family was pre-trained to rebuild the whole text (BART, mBART), so a Filling template's target becomes the
    source text with each gap filled (see ``Rendered.rebuilt``)."""

    kind: str = "t5"
    mask_token: str | None = None
    denoise: bool = False

    def source(self, index: int) -> str:
        if self.kind == "t5":
            return T5_SENTINEL.format(index)
        return self.mask_token or "<mask>"

    def target(self, index: int) -> str:
        return T5_SENTINEL.format(index) if self.kind == "t5" else ""


T5_STYLE = SentinelStyle("t5")


def sentinel_style_for(tokenizer, family=None) -> SentinelStyle | None:
    """T5 sentinels if the tokenizer has <extra_id_0> as one token, else its mask token, else None. A mask-token
    model rebuilds the whole text (BART's denoising) unless ``family`` (core.models.family.Family) says its
    Filling format is T5's span corruption."""
    if tokenizer is None:
        return T5_STYLE
    vocab_has = getattr(tokenizer, "convert_tokens_to_ids", None)
    if vocab_has is not None:
        token_id = tokenizer.convert_tokens_to_ids(T5_SENTINEL.format(0))
        if token_id is not None and token_id != tokenizer.unk_token_id:
            return T5_STYLE
    mask = getattr(tokenizer, "mask_token", None)
    if mask:
        return SentinelStyle("mask", mask, denoise=family is None or family.filling == "denoise")
    return None


def require_sentinel_style(tokenizer, model_name: str = "this model") -> SentinelStyle:
    style = sentinel_style_for(tokenizer)
    if style is None:
        raise ModelError(
            f"{model_name} has no sentinel tokens (<extra_id_0>) and no mask token",
            "use a mapping template such as 'sup' or 'sup-nat', or a T5-family model",
        )
    return style


@dataclass(frozen=True)
class Rendered:
    """One rendered pair. ``template`` is the concrete template used (for mixed: the per-relation pick)."""

    template: str
    objective: Objective
    relation: str
    input: str
    target_value: str
    source: str
    target: str
    references: tuple[str, ...] = ()
    n_sentinels: int = 0
    soft_total: int = 0
    #: [start, end) character offsets of the answer inside ``target``: for a Filling template the text of the first
    #: gap (after its sentinel, or where the gap was in a rebuilt target), for a Mapping one the whole target
    #: (stripped); None when the answer cannot be told apart (an empty target)
    answer_span: tuple[int, int] | None = None
    #: the target is the whole source text with each gap filled (a denoising family's Filling, e.g. BART): the
    #: answer is ``target[answer_span[0]:answer_span[1]]`` and ``frame`` is the text around it
    rebuilt: bool = False
    #: QA: the question's choices (as rendered, whether or not the template shows them) and the right one's index
    choices: tuple[str, ...] = ()
    answer_index: int | None = None

    @property
    def answer_label(self) -> str:
        """QA: the right choice's letter ("B"), else ""."""
        return CHOICE_LABELS[self.answer_index] if self.answer_index is not None else ""

    @property
    def answer(self) -> str:
        return self.target[self.answer_span[0] : self.answer_span[1]] if self.answer_span else ""

    @property
    def frame(self) -> tuple[str, str] | None:
        """For a rebuilt target: the text before and after the answer (what extraction strips); else None."""
        if not self.rebuilt or self.answer_span is None:
            return None
        return self.target[: self.answer_span[0]], self.target[self.answer_span[1] :]

    def to_json(self) -> dict:
        record: dict[str, Any] = {
            "template": self.template,
            "objective": self.objective.value,
            "relation": self.relation,
            "input": self.input,
            "source": self.source,
            "target": self.target,
            "references": list(self.references),
        }
        if self.rebuilt:
            record["answer"] = self.answer
        if self.choices:
            record |= {"choices": list(self.choices), "answer_index": self.answer_index}
        return record


def _tidy(text: str) -> str:
    text = " ".join(text.split())
    text = re.sub(r"\s+([.,:;!?])", r"\1", text)  # an empty slot must not leave " ."
    text = re.sub(r"([.!?])\.", r"\1", text)  # "sentence.. " when the input ends with a full stop
    return text.strip()


CHOICE_LABELS = "ABCDEFGH"


def choices_text(choices: Sequence[str], form: str = "") -> str:
    """The choices as a {choices} slot writes them: "choice1: X choice2: Y" (the method's form) or, numbered,
    "(A) X (B) Y"."""
    if form == "numbered":
        return " ".join(f"({CHOICE_LABELS[i]}) {c}" for i, c in enumerate(choices))
    return " ".join(f"choice{i + 1}: {c}" for i, c in enumerate(choices))


def _qa_values(template: Template, choices: tuple[str, ...], answer: int | None) -> None:
    """A template with QA slots needs a question's choices (and, for {label}, its answer)."""
    kinds = {s.kind for s in template.source + template.target}
    if SlotKind.CHOICES in kinds and not choices or SlotKind.LABEL in kinds and answer is None:
        raise TemplateError(
            f"template '{template.name}' is for multiple-choice (QA) data: it has a "
            f"{'{choices}' if SlotKind.CHOICES in kinds else '{label}'} slot, but this row has no "
            + ("choices" if not choices else "answer"),
            "use QA data (question, choices, answer; e.g. --data world-qa), or a completion template such as "
            "'sup' or 'unsup-nat'",
        )
    if answer is not None and not 0 <= answer < min(len(choices), len(CHOICE_LABELS)):
        raise TemplateError(
            f"answer index {answer} is out of range for {len(choices)} choices", "check the row's answer"
        )


def _phrase_piece(kind: SlotKind, relation: str, phrases: PhraseTable) -> str:
    phrase = phrases.lookup(relation)
    if kind is SlotKind.REL:
        text = phrase.connective or phrase.clause_parts()[1]
    else:
        before, after = phrase.clause_parts()
        text = before if kind is SlotKind.REL_BEFORE else after
        if not phrase.clause and kind is SlotKind.REL_AFTER:
            text = phrase.connective
    return text


def _render_side(
    slots: tuple[Slot, ...],
    template: Template,
    relation: str,
    input_text: str,
    target_text: str,
    phrases: PhraseTable,
    sentinel: Callable[[int], str],
    choices: tuple[str, ...] = (),
    answer: int | None = None,
) -> tuple[str, int, int]:
    pieces: list[str] = []
    masks = 0
    soft = 0
    for slot in slots:
        kind = slot.kind
        if kind is SlotKind.TEXT:
            pieces.append(slot.text)
        elif kind is SlotKind.PREFIX:
            pieces.append(template.prefix if template.prefix is not None else relation)
        elif kind is SlotKind.INPUT:
            pieces.append(input_text)
        elif kind is SlotKind.TARGET:
            pieces.append(target_text)
        elif kind is SlotKind.CHOICES:
            pieces.append(choices_text(choices, slot.form))
        elif kind is SlotKind.LABEL:
            pieces.append(CHOICE_LABELS[answer] if answer is not None else "")
        elif kind is SlotKind.MASK:
            if masks >= MAX_T5_SENTINELS:
                raise TemplateError(f"more than {MAX_T5_SENTINELS} sentinels", "use fewer {mask} slots")
            pieces.append(sentinel(masks))
            masks += 1
        elif kind is SlotKind.SOFT:
            length = slot.length or template.soft_length
            pieces.append("".join(SOFT_TOKEN.format(soft + j) for j in range(length)))
            soft += length
        else:
            pieces.append(_phrase_piece(kind, relation, phrases))
    kept = [p for p in pieces if p]
    for i, piece in enumerate(kept):
        # "PersonX buys a ticket." + "because …" / ", PersonX feels": a full stop cannot precede a lower-case
        # continuation nor a clause's comma.
        following = next((p.lstrip() for p in kept[i + 1 :] if p.strip()), "")
        if piece is input_text and (following[:1].islower() or following[:1] in ",;:"):
            kept[i] = piece.rstrip(" .")
    return _tidy(join_pieces(kept)), masks, soft


def render(
    template: Template,
    relation: str,
    input_text: str,
    target_text: str = "",
    *,
    references: tuple[str, ...] = (),
    phrases: PhraseTable | None = None,
    style: SentinelStyle = T5_STYLE,
    resolve: Callable[[Template, str], Template] | None = None,
    choices: Sequence[str] = (),
    answer: int | None = None,
) -> Rendered:
    """Render ``template`` for one row. Mixed templates need ``resolve`` (see TemplateLibrary.resolver). QA rows
    give ``choices`` and ``answer`` (the right choice's index; ``target_text`` is its text)."""
    choices = tuple(choices)
    if template.is_mixed:
        if resolve is None:
            raise TemplateError(
                f"'{template.name}' is a mixed template and needs the library to pick per relation",
                "render it through TemplateLibrary.render",
            )
        concrete = resolve(template, relation)
        phrases = (phrases or builtin_phrases()).overridden(template.phrases)
        return render(
            concrete,
            relation,
            input_text,
            target_text,
            references=references,
            phrases=phrases,
            style=style,
            choices=choices,
            answer=answer,
        )
    _qa_values(template, choices, answer)
    table = (phrases or builtin_phrases()).overridden(template.phrases)
    qa = (choices, answer)
    source, n_src, soft = _render_side(
        template.source, template, relation, input_text, target_text, table, style.source, *qa
    )
    marked, _, _ = _render_side(
        template.target, template, relation, input_text, target_text, table, T5_STYLE.target, *qa
    )
    rebuilt = style.denoise and template.objective is Objective.FILLING
    if rebuilt:
        marked_source, _, _ = _render_side(
            template.source, template, relation, input_text, target_text, table, T5_STYLE.source, *qa
        )
        target, span = _rebuild(marked_source, _gap_fills(marked))
    else:
        target, _, _ = _render_side(
            template.target, template, relation, input_text, target_text, table, style.target, *qa
        )
        span = _answer_span(target, marked, template.objective is Objective.FILLING)
    return Rendered(
        template=template.name,
        objective=template.objective,
        relation=relation,
        input=input_text,
        target_value=target_text,
        source=source,
        target=target,
        references=tuple(references),
        n_sentinels=n_src,
        soft_total=soft,
        answer_span=span,
        rebuilt=rebuilt,
        choices=choices,
        answer_index=answer,
    )


def _gap_fills(marked_target: str) -> list[str]:
    """The text of each gap in a target written with T5 sentinels (``<extra_id_0> a <extra_id_1> b`` → [a, b]);
    a target without sentinels fills the first gap whole."""
    parts = T5_SENTINEL_RE.split(marked_target)
    if len(parts) == 1:
        return [marked_target.strip()]
    fills: dict[int, str] = {}
    for number, text in zip(parts[1::2], parts[2::2], strict=True):
        fills.setdefault(int(number), text.strip())
    return [fills.get(i, "") for i in range(max(fills) + 1)]


_START, _END = "\x00", "\x01"  # mark the answer while the rebuilt text is tidied (neither is whitespace)


def _rebuild(marked_source: str, fills: list[str]) -> tuple[str, tuple[int, int] | None]:
    """The source with each sentinel replaced by its gap's text (soft prompts dropped); fills for gaps the source
    lacks go at its end (a template with the sentinel on the target side only). Returns the text and the answer's
    character span (the first gap's)."""
    text = SOFT_TOKEN_RE.sub(" ", marked_source)
    used: set[int] = set()

    def fill(match: re.Match) -> str:
        index = int(match.group(1))
        used.add(index)
        piece = fills[index] if index < len(fills) else ""
        return f"{_START}{piece}{_END}" if index == 0 else piece

    text = T5_SENTINEL_RE.sub(fill, text)
    extra = [f"{_START}{f}{_END}" if i == 0 else f for i, f in enumerate(fills) if i not in used]
    text = _tidy(" ".join([text, *extra]))
    start = text.find(_START)
    if start < 0:
        return text, None
    text = text.replace(_START, "", 1)
    end = text.find(_END)
    text = text.replace(_END, "", 1)
    return text, (start, end)


def _answer_span(target: str, marked: str, filling: bool) -> tuple[int, int] | None:
    """Where the first gap's text (Filling) or the whole answer (Mapping) sits in a target written as is."""
    answer = _gap_fills(marked)[0] if filling else target.strip()
    if not answer:
        return None
    match = T5_SENTINEL_RE.search(target) if filling else None
    start = target.find(answer, match.end() if match else 0)
    return (start, start + len(answer)) if start >= 0 else None


def strip_sentinels(text: str) -> str:
    """Remove sentinel and soft tokens from generated text (for metrics)."""
    text = T5_SENTINEL_RE.sub(" ", text)
    text = SOFT_TOKEN_RE.sub(" ", text)
    return " ".join(text.split())


def objective_map_of(decisions: Mapping[str, Objective | str]) -> dict[str, Objective]:
    return {rel: Objective(str(v)) for rel, v in decisions.items()}
