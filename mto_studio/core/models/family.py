"""Model families: what each encoder-decoder family was pre-trained on, and so how MTO Studio frames text for it.

One owner for "which family is this model": the framing of Filling templates (T5's sentinel spans or BART's
denoising), whether sequences start with ``<s>``, whether the family learned natural instructions (Flan), and the
defaults that depend on the family (learning rates per method). Detection reads a config (or ``config.json``) and,
when given, the tokenizer; it never loads weights.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

#: How a family was taught to fill a gap. ``span``: a sentinel in the source, the target is the sentinel followed by
#: the missing span (T5 span corruption). ``denoise``: a mask token in the source, the target is the whole text
#: rebuilt (BART text infilling).
FILLING_SPAN = "span"
FILLING_DENOISE = "denoise"


def _rates(finetune: float, lora: float, prompt: float) -> Mapping[str, float]:
    return MappingProxyType({"finetune": finetune, "lora": lora, "prompt": prompt})


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    #: the pre-training objectives, in words (shown in the model picker and the designer)
    pretrained_on: str
    filling: str = FILLING_SPAN
    #: sequences start with the tokenizer's BOS token (BART); encoders and labels keep it, generation forces it
    bos: bool = False
    #: the family was also trained on natural-language instructions (Flan), so Mapping prompts may be plain questions
    instructions: bool = False
    #: the family's pre-training mixture included supervised "prefix: input" tasks (T5 v1.0)
    task_prefixes: bool = False
    #: peak learning rates with AdamW per training method, for a pre-trained model of this family
    learning_rates: Mapping[str, float] = field(default_factory=lambda: _rates(1e-4, 5e-4, 3e-2))

    @property
    def denoising(self) -> bool:
        return self.filling == FILLING_DENOISE

    def learning_rate(self, method: str) -> float:
        return self.learning_rates.get(str(method), self.learning_rates["finetune"])

    def filling_format(self) -> str:
        """The Filling format this family was pre-trained on, as a one-line example."""
        if self.denoising:
            return "source: … <mask> …  →  target: the whole text, gap filled"
        return "source: … <extra_id_0> …  →  target: <extra_id_0> the missing words"


MTO_TINY = Family(
    "mto-tiny",
    "MTO Studio embedded model",
    "span corruption and question answering on the built-in world only",
    task_prefixes=True,
    learning_rates=_rates(1e-3, 1e-3, 3e-2),  # the defaults every embedded benchmark used
)
T5_V1 = Family(
    "t5",
    "T5 (v1.0)",
    "span corruption on C4, mixed with supervised tasks written as 'prefix: input'",
    task_prefixes=True,
    learning_rates=_rates(3e-4, 1e-3, 3e-2),
)
T5_V11 = Family(
    "t5-v1.1",
    "T5 v1.1 / LM-adapted",
    "span corruption on C4 only (no supervised tasks)",
    learning_rates=_rates(3e-4, 1e-3, 3e-2),
)
FLAN_T5 = Family(
    "flan-t5",
    "Flan-T5",
    "T5 v1.1 span corruption, then instruction tuning on 1,800+ tasks",
    instructions=True,
    task_prefixes=True,
    learning_rates=_rates(1e-4, 5e-4, 3e-2),
)
MT5 = Family("mt5", "mT5", "span corruption on mC4 in 101 languages", learning_rates=_rates(3e-4, 1e-3, 3e-2))
BYT5 = Family(
    "byt5",
    "ByT5",
    "span corruption on bytes (mC4); sentinels are the top byte ids",
    learning_rates=_rates(3e-4, 1e-3, 3e-2),
)
BART = Family(
    "bart",
    "BART",
    "denoising: rebuild the whole text from a corrupted copy (masked spans, shuffled sentences)",
    filling=FILLING_DENOISE,
    bos=True,
    learning_rates=_rates(5e-5, 5e-4, 3e-2),
)
MBART = Family(
    "mbart",
    "mBART",
    "multilingual denoising: rebuild the whole text from a corrupted copy, 25-50 languages",
    filling=FILLING_DENOISE,
    learning_rates=_rates(5e-5, 5e-4, 3e-2),
)
OTHER = Family("other", "other encoder-decoder", "unknown to MTO Studio; Mapping templates are the safe choice")

FAMILIES: tuple[Family, ...] = (MTO_TINY, T5_V1, T5_V11, FLAN_T5, MT5, BYT5, BART, MBART, OTHER)
BY_KEY: Mapping[str, Family] = MappingProxyType({f.key: f for f in FAMILIES})


def _get(config, name: str, default=None):
    if isinstance(config, Mapping):
        return config.get(name, default)
    return getattr(config, name, default)


def family_of(config, tokenizer=None, name: str | os.PathLike = "") -> Family:
    """The family of a model from its config (a transformers config or the dict of config.json), its tokenizer
    when known, and its name or folder (Flan-T5 and T5 v1.1 share a config shape; the name tells them apart)."""
    model_type = str(_get(config, "model_type", "") or "")
    text = str(name).lower().replace("\\", "/")
    tokenizer_class = type(tokenizer).__name__ if tokenizer is not None else str(_get(config, "tokenizer_class") or "")
    if model_type == "bart":
        return BART
    if model_type == "mbart":
        return MBART
    if model_type in ("mt5", "umt5"):
        return MT5
    if model_type == "t5":
        if "ByT5" in tokenizer_class or "byt5" in text or _get(config, "vocab_size") == 384:
            return BYT5
        if text.rstrip("/").endswith("mto-tiny") or "/mto-tiny/" in text:
            return MTO_TINY
        if "flan" in text:
            return FLAN_T5
        if "mt5" in text:
            return MT5
        gated = str(_get(config, "feed_forward_proj", "relu") or "relu").startswith("gated")
        untied = _get(config, "tie_word_embeddings", True) is False
        return T5_V11 if gated or untied or "v1_1" in text or "lm-adapt" in text else T5_V1
    return OTHER


def family_of_folder(folder: str | os.PathLike) -> Family:
    """The family of a saved model folder, from its config.json alone (OTHER when unreadable)."""
    path = Path(folder)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return OTHER
    if not isinstance(config, dict):
        return OTHER
    return family_of(config, name=path)


def family_of_ref(ref: str | os.PathLike | None) -> Family:
    """The family of a model reference (a folder, a cached hub id or mto-tiny) without loading it; OTHER when the
    reference cannot be resolved (the caller reports that when it loads the model)."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.models.loading import resolve_model_ref

    try:
        where = resolve_model_ref(ref)
    except MtoError:
        return OTHER
    family = family_of_folder(where)
    if family in (T5_V11, T5_V1) and ref is not None and "flan" in str(ref).lower():
        return FLAN_T5
    return family


@dataclass(frozen=True)
class FormatMatch:
    """Whether a template matches its model family's pre-training format, in one line for the designer."""

    matches: bool
    text: str


def _filling_match(family: Family, template) -> FormatMatch:
    from mto_studio.core.templates.model import SlotKind

    in_source = template.count(SlotKind.MASK, "source")
    if family is OTHER:
        return FormatMatch(False, "does not match this family's pre-training (unknown): Mapping templates are safer")
    if family.denoising:
        if in_source:
            return FormatMatch(True, f"matches {family.label} denoising: the target is the whole text, gap filled")
        return FormatMatch(False, f"does not match {family.label} denoising: the source has no mask")
    starts = bool(template.target) and template.target[0].kind is SlotKind.MASK
    if in_source and starts:
        return FormatMatch(True, "matches T5 span corruption: sentinel in the source, target = sentinel + span")
    if in_source:
        return FormatMatch(False, "does not match T5 span corruption: the target does not start with the sentinel")
    return FormatMatch(False, "does not match T5 span corruption: the source has no sentinel")


def _mapping_match(family: Family, template) -> FormatMatch:
    from mto_studio.core.templates.model import SlotKind

    kinds = {slot.kind for slot in template.source}
    natural = bool(kinds & {SlotKind.REL, SlotKind.REL_BEFORE, SlotKind.REL_AFTER, SlotKind.TEXT})
    if SlotKind.SOFT in kinds:
        return FormatMatch(False, "Mapping with soft prompts: learned, not a pre-training format")
    if family.instructions and natural and SlotKind.PREFIX not in kinds:
        return FormatMatch(True, f"Mapping: matches {family.label}'s natural-language instructions")
    if family.task_prefixes and SlotKind.PREFIX in kinds:
        return FormatMatch(True, "Mapping: matches T5's task prefixes")
    return FormatMatch(False, f"Mapping: does not match this family's pre-training ({family.pretrained_on})")


def format_match(family: Family, template, parts=()) -> FormatMatch:
    """Which of ``family``'s pre-training formats ``template`` (core.templates.Template) matches. A mixed template
    is judged by its concrete ``parts`` (TemplateLibrary.concrete)."""
    from mto_studio.core.templates.model import Objective

    if template.is_mixed:
        found = [format_match(family, part) for part in parts if not part.is_mixed]
        if not found:
            return FormatMatch(False, "mixed: pick its Filling and Mapping templates")
        return FormatMatch(all(f.matches for f in found), "; ".join(f.text for f in found))
    if template.objective is Objective.FILLING:
        return _filling_match(family, template)
    return _mapping_match(family, template)
