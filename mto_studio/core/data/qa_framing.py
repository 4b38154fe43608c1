"""The method's per-example `mixed` rule for QA: Filling or Mapping, by question form and choice length.

The rule (``qa_framing``), in order:

1. **Long choices → Mapping.** When the choices average more than ``max_words`` words (4), the answer is a text to
   generate, not a gap to fill: ``"How do you keep bread fresh?"`` with ``"wrap it in a cloth and keep it in a
   box"`` … → ``mapping``. (4, not 3: the built-in world's Filling uses, "carry spare batteries", "keep soup
   warm", average up to 3.4 words over five choices; CommonsenseQA's choices average under 2.)
2. **A cloze → Filling.** A blank (``___``, ``<blank>``, ``[MASK]``) is where the answer goes:
   ``"The kettle is kept in ___."`` → ``filling`` (the verbalizer puts the sentinel there).
3. **A statement → Filling.** Text with no question mark, which the answer continues: ``"Fragile things are
   best packed in"`` or ``"The capital of France is"`` → ``filling``.
4. **A wh-question asking for a noun phrase → Filling**: ``where``, ``who``, ``whom``, ``whose``, ``which``,
   ``when``, ``how many``/``how much``, and ``what`` followed by a noun or a form of *be* (``"What is a kettle
   used for?"``, ``"What colour is snow?"``) → ``filling`` ("… the correct choice is <extra_id_0>").
5. **Any other question → Mapping**: ``why``/``how`` questions, ``what`` + an auxiliary or a verb (``"What
   will PersonX want next?"``, ``"What happens to PersonX?"``) and yes/no questions (``"Is it safe to …?"``) ask
   for a clause or an explanation → ``mapping`` (generate the answer).

A prefix such as ``question:`` or a context before the question does not matter: the first sentence that ends in
a question mark is the question. The result is a string equal to ``Objective``'s value (``"filling"`` or
``"mapping"``), so templates take it as ``Objective(qa_framing(question, choices))``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

FILLING, MAPPING = "filling", "mapping"
#: Choices longer than this on average (in words) are texts to generate: Mapping.
MAX_FILLING_WORDS = 4.0

_BLANK = re.compile(r"_{2,}|<blank>|\[blank\]|\[mask\]|<mask>", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_NOUN_WH = frozenset({"where", "who", "whom", "whose", "which", "when"})
#: After "what": forms of *be* ask for a noun phrase; these ask for a clause.
_CLAUSE_AFTER_WHAT = frozenset(
    "do does did will would can could should shall may might must has have had happens happened happen "
    "causes caused makes made".split()
)
_AMOUNT = frozenset({"many", "much", "long", "old", "far", "big", "tall"})


def mean_words(choices: Sequence[str]) -> float:
    """The choices' average length in words (0 for no choices)."""
    return sum(len(c.split()) for c in choices) / len(choices) if choices else 0.0


def question_form(question: str) -> str:
    """``cloze``, ``statement``, ``noun-question`` (asks for a noun phrase) or ``clause-question``."""
    if _BLANK.search(question):
        return "cloze"
    if "?" not in question:
        return "statement"
    asked = question[: question.index("?")]
    words = [w.lower() for w in _WORD.findall(asked)]
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if word in _NOUN_WH:
            return "noun-question"
        if word == "how":
            return "noun-question" if following in _AMOUNT else "clause-question"
        if word == "why":
            return "clause-question"
        if word == "what":
            return "clause-question" if following in _CLAUSE_AFTER_WHAT else "noun-question"
    return "clause-question"  # a yes/no question, or one without a wh-word


def qa_framing(question: str, choices: Sequence[str], max_words: float = MAX_FILLING_WORDS) -> str:
    """``"filling"`` or ``"mapping"`` for one QA example (the rule is in the module docstring)."""
    if mean_words(choices) > max_words:
        return MAPPING
    return FILLING if question_form(question) in ("cloze", "statement", "noun-question") else MAPPING
