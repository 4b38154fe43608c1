"""The built-in world's multiple-choice QA task: one question per fact, its true tail among distractors.

- **Question.** A Filling relation's fact (learned from sentences in pre-training) is asked as a cloze of its first
  training sentence, the tail replaced by a blank: "The kettle is kept in ___." A Mapping relation's fact (learned
  as question → answer) is asked in its first training question format: "question: why does PersonX do this?
  event: PersonX repairs the fence". The per-example `mixed` rule (core/data/qa_framing.py) frames the first as
  Filling and the second as Mapping, as the facts were learned.
- **Choices.** The answer is the fact's first tail; ``DISTRACTORS`` (4) others are drawn from the tails other heads
  have for the same relation, never one of this fact's own tails; the five are shuffled. Every draw uses a
  ``random.Random`` seeded with the world's seed, the relation and the head, so questions are the same on every
  machine and do not change when other facts do.
- **Split.** A question falls on its head's side of the world's train/test split; files
  ``world-qa-train.jsonl`` and ``world-qa-test.jsonl`` (``relation``, ``question``, ``choices``, ``answer`` as a
  label A–E, and ``head`` and ``objective`` for reference), written with the world's other files.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mto_studio.core.data.heads import Example, TaskData, qa_heads
from mto_studio.core.data.loading import ColumnMapping
from mto_studio.core.data.qa import LABELS, QA_RELATION, QARow
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.templates.model import Objective
from mto_studio.core.world import lexicon as L

if TYPE_CHECKING:
    from mto_studio.core.world.generate import Fact, World

DISTRACTORS = 4
BLANK = "___"
QA_SPLITS = ("train", "test")


@dataclass(frozen=True)
class WorldQuestion:
    relation: str
    head: str
    question: str
    choices: tuple[str, ...]
    answer: int
    objective: str  # "filling" | "mapping": how the fact was learned in pre-training
    split: str

    def to_row(self) -> dict[str, object]:
        return {
            "relation": self.relation,
            "question": self.question,
            "choices": list(self.choices),
            "answer": LABELS[self.answer],
            "head": self.head,
            "objective": self.objective,
        }


def question_text(fact: Fact) -> str:
    """The question that asks for ``fact``'s tail: a cloze for Filling relations, the first training question
    format for Mapping ones."""
    if fact.objective is Objective.FILLING:
        from mto_studio.core.world.generate import _fill

        sentence, (start, end) = _fill(L.SENTENCES[fact.relation]["train"][0], fact.head, "\x00")
        return sentence[:start] + BLANK + sentence[end:]
    return L.QUESTIONS[fact.relation]["train"][0].format(h=fact.head)


def world_questions(world: World, split: str | None = None, distractors: int = DISTRACTORS) -> list[WorldQuestion]:
    """One question per fact of ``split`` (all when None), in the world's fact order."""
    pools: dict[str, dict[str, None]] = {}
    for fact in world.facts:
        for tail in fact.tails:
            pools.setdefault(fact.relation, {}).setdefault(tail, None)
    out = []
    for fact in world.facts:
        side = world.split[fact.head]
        if split is not None and side != split:
            continue
        rng = random.Random(f"{world.config.seed}\x1fqa\x1f{fact.relation}\x1f{fact.head}")
        others = [tail for tail in pools[fact.relation] if tail not in fact.tails]
        choices = [fact.tails[0], *rng.sample(others, min(distractors, len(others)))]
        rng.shuffle(choices)
        out.append(
            WorldQuestion(
                fact.relation,
                fact.head,
                question_text(fact),
                tuple(choices),
                choices.index(fact.tails[0]),
                fact.objective.value,
                side,
            )
        )
    return out


def world_qa_task_data(world: World, split: str | None = None) -> TaskData:
    """The QA task of ``split`` as TaskData (kind "qa"), without going through the files."""
    questions = world_questions(world, split)
    rows = [QARow(i + 1, q.relation, q.question, q.choices, q.answer) for i, q in enumerate(questions)]
    return TaskData(
        source=f"built-in world QA ({split or 'all'})",
        format="memory",
        columns=["relation", "question", "choices", "answer"],
        mapping=ColumnMapping("question", "answer", "relation", QA_RELATION, choices="choices"),
        preset="qa",
        examples=[Example(r.relation, r.question, r.answer_text) for r in rows],
        heads=qa_heads(rows),
        kind="qa",
        answer_format="label",
    )


def save_world_qa(world: World, folder: str | Path) -> list[Path]:
    """Write ``world-qa-train.jsonl`` and ``world-qa-test.jsonl`` into ``folder``."""
    written = []
    for split in QA_SPLITS:
        lines = [json.dumps(q.to_row(), ensure_ascii=False) for q in world_questions(world, split)]
        path = Path(folder) / f"world-qa-{split}.jsonl"
        atomic_write_text(path, "\n".join(lines) + "\n")
        written.append(path)
    return written
