"""The built-in world's multiple-choice QA task: shipped files equal the generator's, deterministic draws,
distractors never true, the world's split, both kinds of learned relation, and the `world-qa` reference."""

import filecmp
import json

import pytest

from mto_studio.core.data import load_task_data
from mto_studio.core.data.qa_framing import qa_framing
from mto_studio.core.data.sources import default_ref, describe, is_builtin, split_file
from mto_studio.core.errors import DataError
from mto_studio.core.resources import resource
from mto_studio.core.world import RELATION_KIND, WorldConfig, build_world
from mto_studio.core.world.qa import BLANK, DISTRACTORS, world_qa_task_data, world_questions


@pytest.fixture(scope="module")
def world():
    return build_world()


def test_shipped_qa_files_are_exactly_what_the_generator_makes(tmp_path, world):
    world.save(tmp_path)
    for name in ("world-qa-train.jsonl", "world-qa-test.jsonl"):
        assert filecmp.cmp(tmp_path / name, resource("world", name), shallow=False), name


def test_questions_are_deterministic_and_distractors_never_true(world):
    questions = world_questions(world)
    assert questions == world_questions(build_world())
    assert len(questions) == len(world.facts)
    tails = {(f.relation, f.head): f.tails for f in world.facts}
    pools: dict[str, set[str]] = {}
    for fact in world.facts:
        pools.setdefault(fact.relation, set()).update(fact.tails)
    for q in questions:
        true = tails[(q.relation, q.head)]
        assert len(q.choices) == DISTRACTORS + 1 == len(set(q.choices))
        assert q.choices[q.answer] == true[0]
        assert not set(q.choices[: q.answer] + q.choices[q.answer + 1 :]) & set(true)
        assert set(q.choices) <= pools[q.relation]  # distractors are other heads' tails of the same relation
    # the answer's position is spread over the five labels
    assert {q.answer for q in questions} == set(range(DISTRACTORS + 1))
    # another seed draws other distractors
    other = world_questions(build_world(WorldConfig(seed=14)))
    assert [q.choices for q in other] != [q.choices for q in questions]


def test_both_kinds_of_relation_and_the_mixed_rule_agrees(world):
    questions = world_questions(world, "test")
    assert {q.objective for q in questions} == {"filling", "mapping"}
    for q in questions:
        assert q.objective == RELATION_KIND[q.relation].value
        assert (BLANK in q.question) == (q.objective == "filling")
        assert qa_framing(q.question, q.choices) == q.objective, q


def test_split_follows_the_world(world):
    for split in ("train", "test"):
        data = world_qa_task_data(world, split)
        assert data.kind == "qa" and len(data.heads) == sum(world.split[f.head] == split for f in world.facts)
        assert {q.split for q in world_questions(world, split)} == {split}


def test_world_qa_reference_loads_the_shipped_files(world):
    assert is_builtin("world-qa") and default_ref("world-qa", "test") == "world-qa"
    assert default_ref("world-qa", "validation") is None
    assert describe("world-qa", "test") == "built-in world QA (test)"
    with pytest.raises(DataError, match="no validation file"):
        split_file("world-qa", "validation")
    test = load_task_data("world-qa", split="test")
    assert test.kind == "qa" and test.answer_format == "label"
    assert [h.to_dict() for h in test.heads] == [h.to_dict() for h in world_qa_task_data(world, "test").heads]
    first = json.loads(resource("world", "world-qa-test.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"relation", "question", "choices", "answer", "head", "objective"}
    # the world's completion data is untouched by the QA task
    assert load_task_data("world", split="test").kind == "completion"
