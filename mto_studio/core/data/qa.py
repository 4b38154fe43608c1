"""Multiple-choice QA data: a question, 2–8 choices and the answer, found in a table's columns.

Shapes auto-detected (column names compared case-insensitively):
- a question column (``question``, ``question_stem``, ``stem``, ``goal``) and a choices column (``choices``,
  ``options``, ``candidates``) holding a list, a ``{"label": [...], "text": [...]}`` object (the hub's
  CommonsenseQA), a list of ``{"label", "text"}`` objects, or text: a JSON list or ``"A) … B) …"``;
- a question column and one column per choice: ``A``…``H``, ``choice1``…, ``option_a``…, ``answerA``…,
  ``sol1``…, ``ending0``… (empty trailing cells leave a row with fewer choices);
- CommonsenseQA's own JSONL: ``question: {stem, choices: [{label, text}]}`` with ``answerKey``.
The answer column (``answer``, ``label``, ``answerKey``, ``answer_key``, ``gold``) gives a label (``B``, ``(b)``),
an index (0- or 1-based: 0-based when some answer is 0, 1-based when some answer equals its row's number of
choices, else 0-based, assumed and said so in ``TaskData.answer_format``) or the answer's text. A row's relation
is its ``relation``/``task``/``type`` cell, else the hub dataset's name, else ``qa`` (the same for every split).

A QA head's references hold the answer text (so generation metrics keep working), ``choices`` the choices in
order and ``answer`` the index of the right one. Its id is ``head_id(relation, question)``; only where the same
question text comes with different choices are the choices part of the id.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from mto_studio.core.errors import DataError

MIN_CHOICES, MAX_CHOICES = 2, 8
LABELS = "ABCDEFGH"
QA_RELATION = "qa"

_QUESTION_NAMES = ("question", "question_stem", "stem", "goal")
_CHOICES_NAMES = ("choices", "options", "candidates")
_ANSWER_NAMES = ("answer", "label", "answerkey", "answer_key", "gold")
_RELATION_NAMES = ("relation", "task", "type")
#: One column per choice: a prefix and a letter or number (``A``, ``choice1``, ``option_b``, ``answerA``, ``sol1``).
_CHOICE_COLUMN = re.compile(r"^(|choice|option|answer|sol|ending)[_ ]?([a-h]|[0-9])$")
_INLINE_LABEL = re.compile(r"(?:^|\s)\(?([A-H])\)\s*")
_LABEL_ANSWER = re.compile(r"^\(?([A-Ha-h])\)?[.)]?$")
_INDEX_ANSWER = re.compile(r"^[0-9]+$")
_PUNCTUATION = re.compile(r"[^\w\s\u200c\u200d]")


@dataclass(frozen=True)
class QAMapping:
    """Where a table holds its QA parts: ``choices`` is one column or several (one per choice, in order);
    ``nested`` marks CommonsenseQA's ``question: {stem, choices}`` object."""

    question: str
    choices: tuple[str, ...]
    answer: str
    relation: str | None = None
    default_relation: str = QA_RELATION
    nested: bool = False

    @property
    def choices_spec(self) -> str:
        """How ColumnMapping spells the choices (``choices`` or ``A|B|C|D``)."""
        return "|".join(self.choices)


@dataclass(frozen=True)
class QARow:
    """One usable row: its number (counted from 1), relation, question, choices and the answer's index."""

    row: int
    relation: str
    question: str
    choices: tuple[str, ...]
    answer: int

    @property
    def answer_text(self) -> str:
        return self.choices[self.answer]


def _choice_key(name: str) -> tuple[str, int] | None:
    match = _CHOICE_COLUMN.match(name.lower().strip())
    if not match:
        return None
    prefix, tag = match.groups()
    return prefix, (int(tag) if tag.isdigit() else ord(tag) - ord("a"))


def _choice_columns(columns: list[str]) -> tuple[str, ...]:
    """The longest run of one-per-choice columns of one prefix whose tags count up without a gap (≥ 2)."""
    groups: dict[str, dict[int, str]] = {}
    for column in columns:
        key = _choice_key(column)
        if key is not None:
            groups.setdefault(key[0], {})[key[1]] = column
    best: tuple[str, ...] = ()
    for tags in groups.values():
        start = min(tags)
        if start > 1:
            continue
        run: list[str] = []
        while start + len(run) in tags:
            run.append(tags[start + len(run)])
        if len(run) >= MIN_CHOICES and len(run) > len(best):
            best = tuple(run)
    return best


def detect_qa(columns: list[str], first_row: dict[str, Any] | None = None, dataset_name: str = "") -> QAMapping | None:
    """The QA columns among ``columns`` (None when the table has no choices: plain question → answer data)."""
    lowered = {c.lower().strip(): c for c in columns}
    answer = next((lowered[n] for n in _ANSWER_NAMES if n in lowered), None)
    question = next((lowered[n] for n in _QUESTION_NAMES if n in lowered), None)
    if answer is None or question is None:
        return None
    relation = next((lowered[n] for n in _RELATION_NAMES if n in lowered), None)
    default = dataset_name or QA_RELATION
    cell = (first_row or {}).get(question)
    if isinstance(cell, dict) and "stem" in cell and "choices" in cell:
        return QAMapping(question, (question,), answer, relation, default, nested=True)
    listed = next((lowered[n] for n in _CHOICES_NAMES if n in lowered), None)
    choices = (listed,) if listed else _choice_columns([c for c in columns if c != answer])
    if not choices:
        return None
    return QAMapping(question, choices, answer, relation, default)


# --- cells ------------------------------------------------------------------------------------------------------
def column_values(dataset: Any, name: str) -> list[Any]:
    """A column's cells as Python values (lists and objects kept); JSON-typed columns decoded."""
    feature = dataset.features.get(name) if hasattr(dataset, "features") else None
    table = dataset.with_format("arrow") if hasattr(dataset, "with_format") else dataset
    values = table[name].to_pylist()
    if type(feature).__name__ == "Json":
        values = [None if raw is None else json.loads(raw) for raw in values]
    return values


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return " ".join(str(value).split())


def parse_choices(cell: Any) -> tuple[list[str], list[str] | None]:
    """The choice texts in one cell, and their own labels where the cell gives them (else None)."""
    if isinstance(cell, dict) and "text" in cell:  # {"label": [...], "text": [...]}
        texts = [_text(t) for t in cell.get("text") or []]
        labels = cell.get("label")
        return texts, ([_text(x) for x in labels] if labels and len(labels) == len(texts) else None)
    if isinstance(cell, (list, tuple)):
        if cell and all(isinstance(item, dict) and "text" in item for item in cell):
            labels = [_text(item.get("label")) for item in cell]
            return [_text(item["text"]) for item in cell], (labels if all(labels) else None)
        return [_text(item) for item in cell], None
    text = _text(cell)
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parse_choices(parsed)
    marks = list(_INLINE_LABEL.finditer(text))
    if len(marks) >= MIN_CHOICES and [m.group(1) for m in marks] == list(LABELS[: len(marks)]):
        ends = [m.start() for m in marks[1:]] + [len(text)]
        return [_text(text[m.end() : end]) for m, end in zip(marks, ends, strict=True)], None
    return ([text] if text else []), None


# --- answers ----------------------------------------------------------------------------------------------------
def _answer_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "text"
    if isinstance(value, int) or (isinstance(value, float) and value == int(value)):
        return "index"
    text = _text(value)
    if _INDEX_ANSWER.match(text):
        return "index"
    return "label" if _LABEL_ANSWER.match(text) else "text"


def loose(text: str) -> str:
    """Text compared loosely: NFKC, case-folded, punctuation dropped, spaces collapsed."""
    return " ".join(_PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _text_match(answer: str, choices: list[str]) -> list[int]:
    exact = [i for i, c in enumerate(choices) if c == answer]
    return exact or [i for i, c in enumerate(choices) if loose(c) == loose(answer)]


def _fail(source: str, row: int, problem: str, fix: str) -> DataError:
    return DataError(f"{os.path.basename(source)}: row {row} {problem}", fix)


_ANSWER_FIX = "give each answer as a label (A–H), an index or the text of one of the choices"


def resolve_answers(source: str, rows: list[tuple[int, Any, list[str], list[str] | None]]) -> tuple[list[int], str]:
    """The index of the right choice of each row ``(row, answer cell, choices, own labels)``, and the answers'
    format in words (``label``, ``index (0-based)``, ``index (1-based)``, ``text``…); DataError naming the row."""
    kinds = {_answer_kind(cell) for _, cell, _, _ in rows}
    if len(kinds) > 1:
        if all(len(_text_match(_text(cell), choices)) == 1 for _, cell, choices, _ in rows):
            kinds = {"text"}  # answer texts that happen to look like labels or numbers
        else:
            examples: dict[str, str] = {}
            for row, cell, _, _ in rows:
                examples.setdefault(_answer_kind(cell), f"row {row}: {_text(cell)!r}")
            raise DataError(
                f"{os.path.basename(source)}: the answers mix "
                + ", ".join(f"{kind}s ({where})" for kind, where in sorted(examples.items())),
                "give every answer the same way: all labels (A–H), all indices, or all answer texts",
            )
    kind = kinds.pop()
    if kind == "index":
        numbers = [int(float(_text(cell))) for _, cell, _, _ in rows]
        zero = any(n == 0 for n in numbers)
        one = any(n == len(choices) for n, (_, _, choices, _) in zip(numbers, rows, strict=True))
        if zero and one:
            row = next(r for n, (r, _, c, _) in zip(numbers, rows, strict=True) if n == len(c))
            raise _fail(
                source,
                row,
                "has an index answer equal to its number of choices while other rows answer 0",
                "count every index answer from 0 or every one from 1",
            )
        base = 1 if one else 0
        out = []
        for n, (row, _, choices, _) in zip(numbers, rows, strict=True):
            if not base <= n < len(choices) + base:
                raise _fail(
                    source,
                    row,
                    f"has the answer {n}, out of range for {len(choices)} choices "
                    f"({base}–{len(choices) - 1 + base}, counted from {base})",
                    _ANSWER_FIX,
                )
            out.append(n - base)
        found = "index (1-based)" if one else "index (0-based)" if zero else "index (0-based, assumed)"
        return out, found
    out = []
    for row, cell, choices, labels in rows:
        text = _text(cell)
        if kind == "label":
            mark = _LABEL_ANSWER.match(text)
            letter = mark.group(1).upper() if mark else text
            own = [label.upper() for label in labels] if labels else list(LABELS[: len(choices)])
            if letter not in own:
                raise _fail(
                    source,
                    row,
                    f"has the label {text!r}, out of range for {len(choices)} choices ({', '.join(own)})",
                    _ANSWER_FIX,
                )
            out.append(own.index(letter))
        elif labels and text in labels:  # own labels that are not letters (ARC's "1"…"4")
            out.append(labels.index(text))
        else:
            matches = _text_match(text, choices)
            if len(matches) != 1:
                problem = "matches none of" if not matches else "matches more than one of"
                shown = " | ".join(choices)
                raise _fail(source, row, f"has the answer {text!r}, which {problem} its choices ({shown})", _ANSWER_FIX)
            out.append(matches[0])
    return out, kind


# --- rows -------------------------------------------------------------------------------------------------------
def read_qa_rows(dataset: Any, mapping: QAMapping, source: str) -> tuple[list[QARow], int, str]:
    """The usable rows (rows without a question are skipped and counted) and the answers' format."""
    n = len(dataset)
    questions = column_values(dataset, mapping.question)
    answers = column_values(dataset, mapping.answer)
    relations = column_values(dataset, mapping.relation) if mapping.relation else [None] * n
    columns = [column_values(dataset, c) for c in mapping.choices]
    pending: list[tuple[int, str, str, Any, list[str], list[str] | None]] = []
    skipped = 0
    for i in range(n):
        row = i + 1
        if mapping.nested:
            cell = questions[i] or {}
            question, (choices, labels) = _text(cell.get("stem")), parse_choices(cell.get("choices"))
        elif len(columns) == 1:
            question, (choices, labels) = _text(questions[i]), parse_choices(columns[0][i])
        else:
            question, labels = _text(questions[i]), None
            choices = [_text(col[i]) for col in columns]
            while choices and not choices[-1]:
                choices.pop()
            if "" in choices:
                gap = mapping.choices[choices.index("")]
                raise _fail(
                    source,
                    row,
                    f"has an empty choice in column '{gap}' before others",
                    "fill the choice, or move the choices up so only trailing choice cells are empty",
                )
        if not question:
            skipped += 1
            continue
        if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
            raise _fail(
                source,
                row,
                f"has {len(choices)} choice{'s' * (len(choices) != 1)}; a QA row needs {MIN_CHOICES} to {MAX_CHOICES}",
                "give each question 2–8 non-empty choices",
            )
        if _text(answers[i]) == "":
            raise _fail(source, row, "has no answer", f"fill the '{mapping.answer}' cell: {_ANSWER_FIX}")
        relation = _text(relations[i]) or mapping.default_relation
        pending.append((row, relation, question, answers[i], choices, labels))
    if not pending:
        raise DataError(
            f"no usable rows in {os.path.basename(source)}: {skipped} without a question",
            f"fill the '{mapping.question}' column",
        )
    indices, answer_format = resolve_answers(source, [(r, a, c, lab) for r, _, _, a, c, lab in pending])
    rows = [QARow(r, rel, q, tuple(c), index) for (r, rel, q, _, c, _), index in zip(pending, indices, strict=True)]
    return rows, skipped, answer_format
