"""MTO stage 2, unsupervised adaptation: cut unlabeled task-related sentences into (input, target) pairs, label
each Filling or Mapping, and frame it with the template that objective calls for.

Splitters are pluggable (``SPLITTERS``): the built-in "rules" splitter cuts at cue phrases
(resources/adaptation/cues.toml); a pair keeps only targets that are substrings of the sentence.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mto_studio.core.data.heads import Example
from mto_studio.core.errors import ConfigError, DataError
from mto_studio.core.resources import resource
from mto_studio.core.templates import Objective, TemplateLibrary

ADAPT_RELATION = "adapt"
MAX_TARGET_WORDS = 8


@dataclass(frozen=True)
class Cue:
    text: str
    relation: str | None = None


@dataclass(frozen=True)
class Pair:
    sentence: str
    input: str
    target: str
    relation: str
    objective: Objective
    cue: str


def load_cues(path: str | Path | None = None) -> list[Cue]:
    path = Path(path) if path else resource("adaptation", "cues.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the cue table {path}: {exc}", "fix the TOML at that line") from None
    return [Cue(c["text"], c.get("relation")) for c in data.get("cue", [])]


def rule_splitter(sentence: str, cues: list[Cue]) -> tuple[str, str, Cue] | None:
    """(input, target, cue) for the first cue that leaves a 1–8 word target, cutting at its right-most match."""
    text = sentence.strip().rstrip(".!?").strip()
    for cue in cues:
        at = text.rfind(cue.text)
        if at <= 0:
            continue
        left, right = text[: at + len(cue.text)].strip(" ,;"), text[at + len(cue.text) :].strip(" ,;")
        if left and right and 1 <= len(right.split()) <= MAX_TARGET_WORDS and right in sentence:
            return left, right, cue
    return None


SPLITTERS: dict[str, Callable[[str, list[Cue]], tuple[str, str, Cue] | None]] = {"rules": rule_splitter}


def build_pairs(
    sentences: list[str], library: TemplateLibrary, *, splitter: str = "rules", cues: list[Cue] | None = None
) -> list[Pair]:
    """Split and label every sentence that a cue fits; the others are skipped."""
    if splitter not in SPLITTERS:
        raise ConfigError(f"unknown splitter '{splitter}'", f"use one of {', '.join(SPLITTERS)}")
    cues = cues if cues is not None else load_cues()
    split = SPLITTERS[splitter]
    pairs = []
    for sentence in sentences:
        found = split(sentence, cues)
        if found is None:
            continue
        left, right, cue = found
        relation = cue.relation or ADAPT_RELATION
        objective = library.objective_for(relation)[0] if cue.relation else Objective.FILLING
        pairs.append(Pair(sentence, left, right, relation, objective, cue.text))
    return pairs


def read_sentences(source: str, max_sentences: int = 0) -> list[str]:
    path = resource("world", "adaptation.txt") if source in ("world", "builtin:world") else Path(source)
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise DataError(
            f"cannot read adaptation text {path}: {exc.strerror}", "give a text file, one sentence a line"
        ) from None
    if not lines:
        raise DataError(f"adaptation text {path} is empty", "give a text file with one sentence per line")
    return lines[:max_sentences] if max_sentences else lines


def pairs_to_examples(pairs: list[Pair]) -> tuple[list[Example], dict[str, str]]:
    """Examples for training and the objective of each relation (Filling pairs → unsup framing, since the cue is
    already in the input; Mapping pairs → sup framing with the relation as prefix)."""
    examples = [Example(p.relation, p.input, p.target) for p in pairs]
    objectives = {p.relation: p.objective.value for p in pairs}
    return examples, objectives


def write_pairs_tsv(pairs: list[Pair], path: str | Path) -> Path:
    from mto_studio.core.fsio import atomic_write_text

    lines = ["input\ttarget\trelation"] + [f"{p.input}\t{p.target}\t{p.relation}" for p in pairs]
    return atomic_write_text(path, "\n".join(lines) + "\n")
