"""Does the model know the data's words? Before training, measure how the model's tokenizer fragments a sample of
the task's text (inputs and targets) and warn when it splits common words into pieces ("a d ds", "collect ion"),
or when the embedded model, which knows only the built-in world, meets other data.

Thresholds, from measurements (docs/NOTES.md "Domain check"; words counted per occurrence, T5 Unigram tokenizers):
a tokenizer on text of its own domain gives 1.00 pieces per word and 0% of the words in 3 or more pieces (the
embedded one on the world; one trained on ATOMIC on ATOMIC); on a foreign domain 1.5-2.6 pieces per word and
15-47% (the embedded tokenizer on the shipped ATOMIC example: 1.53 and 15% on its training file, 2.31 and 38% on
its validation file; 35-51% of the words are outside the built-in world, 0% for the world's own data).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

#: more pieces per word than this, on average: the tokenizer does not know the text's words
MAX_PIECES_PER_WORD = 1.5
#: a larger share of the words split into 3 or more pieces: the same
MAX_SPLIT3_SHARE = 0.15
#: for the embedded model: a larger share of word occurrences outside the built-in world is "not its world"
MAX_UNKNOWN_SHARE = 0.10
#: at most this many texts are read (the first ones; the check must take well under a second)
SAMPLE_TEXTS = 2000
#: families whose tokenizers are byte- or character-level by design: many pieces per word is normal for them
BYTE_LEVEL = frozenset({"byt5"})
EMBEDDED_FAMILY = "mto-tiny"
NOT_YOUR_DOMAIN = "this model does not know your domain: choose a pre-trained model"

_WORD = re.compile(r"[^\W\d_]+")
_MARKERS = "▁Ġ"


@dataclass(frozen=True)
class DomainReport:
    """How a tokenizer splits a text sample's words (counted per occurrence) and what to tell the user."""

    family: str
    words: int  #: word occurrences read
    distinct: int  #: distinct words
    pieces_per_word: float
    split3_share: float  #: share of word occurrences split into 3 or more pieces
    unknown_share: float | None  #: share outside the built-in world (embedded model only)
    #: the most frequent words split into 3 or more pieces, with their pieces ("adds" → "a d ds")
    fragmented: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        text = (
            f"{self.pieces_per_word:.2f} pieces per word; {self.split3_share:.0%} of the words in 3 or more pieces "
            f"({self.words:,} words read)"
        )
        if self.unknown_share is not None:
            text += f"; {self.unknown_share:.0%} outside the built-in world"
        return text


def _family_key(family) -> str:
    return str(getattr(family, "key", family) or "")


def word_pieces(tokenizer, word: str) -> list[str]:
    """The pieces the tokenizer splits ``word`` into (as the word appears after a space), word markers dropped."""
    pieces = tokenizer.tokenize(" " + word)
    cleaned = [piece.lstrip(_MARKERS).removeprefix("##") for piece in pieces]
    return [piece for piece in cleaned if piece]


def domain_report(tokenizer, texts: Iterable[str], family, *, sample: int = SAMPLE_TEXTS) -> DomainReport:
    """Measure the fragmentation of ``texts`` (the first ``sample``) by ``tokenizer`` and decide the warnings."""
    key = _family_key(family)
    counts: Counter[str] = Counter()
    for number, text in enumerate(texts):
        if number >= sample:
            break
        counts.update(_WORD.findall(str(text)))
    total = sum(counts.values())
    if not total:
        return DomainReport(key, 0, 0, 0.0, 0.0, None)
    pieces = {word: word_pieces(tokenizer, word) for word in counts}
    pieces_per_word = sum(len(pieces[w]) * n for w, n in counts.items()) / total
    split3 = sum(n for w, n in counts.items() if len(pieces[w]) >= 3) / total
    fragmented = tuple((word, " ".join(pieces[word])) for word, _n in counts.most_common() if len(pieces[word]) >= 3)[
        :6
    ]
    unknown = None
    if key == EMBEDDED_FAMILY:
        known = world_words()
        unknown = sum(n for w, n in counts.items() if w.lower() not in known) / total
    warnings = []
    if unknown is not None and unknown > MAX_UNKNOWN_SHARE:
        warnings.append(
            f"{NOT_YOUR_DOMAIN} ({unknown:.0%} of the words are not in the built-in world the embedded model "
            "was trained on; its predictions on this data will be nonsense)"
        )
    fragments = pieces_per_word > MAX_PIECES_PER_WORD or split3 > MAX_SPLIT3_SHARE
    if fragments and key not in BYTE_LEVEL:
        examples = ", ".join(f'"{word}" → "{split}"' for word, split in fragmented[:3])
        warnings.append(
            f"the model's tokenizer fragments this data: {pieces_per_word:.1f} pieces per word, "
            f"{split3:.0%} of the words in 3 or more pieces"
            + (f" (e.g. {examples})" if examples else "")
            + "; a model pre-trained on text like yours will learn faster and predict better"
        )
    return DomainReport(key, total, len(counts), pieces_per_word, split3, unknown, fragmented, tuple(warnings))


def domain_warnings(tokenizer, texts: Iterable[str], family) -> list[str]:
    """The warnings of :func:`domain_report` (an empty list when the tokenizer knows the data's words).
    ``family`` is a :class:`~mto_studio.core.models.family.Family` or its key."""
    return list(domain_report(tokenizer, texts, family).warnings)


def task_texts(examples: Sequence, limit: int = SAMPLE_TEXTS) -> list[str]:
    """Inputs and targets of a task's examples (objects with ``input`` and ``target``), spread over the data."""
    step = max(1, len(examples) // max(1, limit // 2))
    texts: list[str] = []
    for example in examples[::step]:
        texts += [str(example.input), str(example.target)]
    return texts[:limit]


@lru_cache(maxsize=1)
def world_words() -> frozenset[str]:
    """Every word (lower case) of the built-in world: its heads, tails, sentences and questions."""
    from mto_studio.core.world import build_world
    from mto_studio.core.world.lexicon import QUESTIONS, SENTENCES

    world = build_world()
    words: set[str] = set()
    for fact in world.facts:
        for text in (fact.head, fact.relation, *fact.tails):
            words.update(w.lower() for w in _WORD.findall(text))
    pending: list[object] = [SENTENCES, QUESTIONS]
    while pending:  # relation → split → patterns ("{h} is kept in {t}.")
        item = pending.pop()
        if isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list | tuple):
            pending += item
        else:
            words.update(w.lower() for w in _WORD.findall(str(item)))
    return frozenset(words)
