"""The Data workbench's view of multiple-choice QA data: each file row's choices (answer marked) and a summary of
the questions (how many, choices per question, how the answers were given, which label is right how often)."""

from __future__ import annotations

from collections import Counter

from PySide6.QtWidgets import QLabel

from mto_studio.core.data import TaskData
from mto_studio.core.data.qa import QAMapping, QARow, read_qa_rows
from mto_studio.core.errors import MtoError
from mto_studio.gui.format import choice_label


def qa_mapping_of(task: TaskData) -> QAMapping | None:
    """The QAMapping a QA task was read with (None for completion data)."""
    mapping = task.mapping
    if task.kind != "qa" or not mapping.choices:
        return None
    nested = mapping.choices == f"{mapping.input}.choices"
    choices = (mapping.input,) if nested else tuple(c.strip() for c in mapping.choices.split("|") if c.strip())
    return QAMapping(mapping.input, choices, mapping.target, mapping.relation, mapping.default_relation, nested)


def qa_rows_by_row(task: TaskData) -> dict[int, QARow]:
    """The file's usable QA rows by row index (counted from 0), as the core read them; empty for completion
    data or when the file cannot be re-read."""
    qa = qa_mapping_of(task)
    if qa is None or task.raw is None:
        return {}
    try:
        rows, _skipped, _format = read_qa_rows(task.raw.dataset, qa, task.raw.source)
    except MtoError:
        return {}
    return {row.row - 1: row for row in rows}


def qa_summary(task: TaskData) -> str:
    """Rich text: "Multiple-choice QA · 1,440 questions · 5 choices each · answers given as label · right
    answer A 20% · B 19% …"."""
    heads = [h for h in task.heads if h.choices]
    counts = Counter(len(h.choices) for h in heads)
    low, high = min(counts, default=0), max(counts, default=0)
    per = f"{low} choices each" if low == high else f"{low}–{high} choices per question"
    answers = Counter(h.answer for h in heads if h.answer is not None)
    spread = " · ".join(f"{choice_label(i)} {answers[i] / max(len(heads), 1):.0%}" for i in sorted(answers))
    mapping = task.mapping
    return (
        f"<b>Multiple-choice QA</b> · {len(heads):,} questions · {per} · answers given as "
        f"<b>{task.answer_format or 'unknown'}</b>"
        f"<br>columns: question <i>{mapping.input}</i>, choices <i>{mapping.choices}</i>, answer <i>{mapping.target}</i>"
        + (f"<br>right answer: {spread}" if spread else "")
    )


class QASummary(QLabel):
    """The QA line under the summary; hidden for completion data."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("qa-summary")
        self.setWordWrap(True)
        self.setVisible(False)

    def set_task(self, task: TaskData | None) -> None:
        qa = task is not None and task.kind == "qa"
        self.setText(qa_summary(task) if qa and task is not None else "")
        self.setVisible(qa)
