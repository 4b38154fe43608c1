"""Data import: formats, column detection, heads, the none policy, k-shot sampling."""

import json

import pandas as pd
import pytest

from mto_studio.core.data import (
    ColumnMapping,
    HeadSample,
    detect_columns,
    load_task_data,
    sample_heads,
    split_heads,
)
from mto_studio.core.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def frame(atomic_validation):
    return pd.read_csv(atomic_validation, sep="\t", quoting=3, keep_default_na=False)


def test_atomic_tsv_loads_with_heads_and_references(atomic_validation):
    data = load_task_data(atomic_validation)
    assert data.preset == "atomic"
    assert data.mapping == ColumnMapping(input="input_text", target="target_text", relation="prefix")
    # 90 rows, 11 of them with the ATOMIC "none" tail, which the default policy drops
    assert len(data.examples) == 79 and data.dropped_none == 11
    assert len(data.heads) == 30  # 4 of the 34 heads had only "none" tails
    assert data.relations == ["xIntent"]
    first = data.heads[0]
    assert first.input == "PersonX accepts PersonY invitation"
    assert first.references[:2] == ("to enjoy his time", "the appreciation")
    # one head lists "to be polite" twice: references are de-duplicated, rows are not
    assert sum(len(h.references) for h in data.heads) == 78
    assert len(load_task_data(atomic_validation, keep_none=True).examples) == 90


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet", "json"])
def test_other_formats_give_the_same_heads(tmp_path, frame, atomic_validation, suffix):
    path = tmp_path / f"copy.{suffix}"
    if suffix == "jsonl":
        frame.to_json(path, orient="records", lines=True)
    elif suffix == "json":
        path.write_text(json.dumps(frame.to_dict(orient="records")))
    elif suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    reference = load_task_data(atomic_validation)
    copy = load_task_data(path)
    assert [h.to_dict() for h in copy.heads] == [h.to_dict() for h in reference.heads]


def test_head_relation_tail_and_question_answer(tmp_path):
    hrt = tmp_path / "kb.csv"
    hrt.write_text("head,relation,tail\ncup,AtLocation,kitchen\ncup,AtLocation,cupboard\npen,ObjectUse,write\n")
    data = load_task_data(hrt)
    assert data.preset == "head-relation-tail"
    assert [(h.relation, h.input, h.references) for h in data.heads] == [
        ("AtLocation", "cup", ("kitchen", "cupboard")),
        ("ObjectUse", "pen", ("write",)),
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"Question": "2+2?", "Answer": "4"}\n{"Question": "3+3?", "Answer": "6"}\n')
    data = load_task_data(qa)
    assert data.preset == "question-answer"
    assert data.heads[1].relation == "task" and data.heads[1].references == ("6",)


def test_explicit_mapping_and_its_errors(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("q,a,kind\nwhy,because,xReason\n")
    with pytest.raises(DataError, match="no recognisable columns.*--columns"):
        load_task_data(path)
    data = load_task_data(path, ColumnMapping.parse("input=q,target=a,relation=kind"))
    assert (data.heads[0].relation, data.heads[0].input) == ("xReason", "why")
    with pytest.raises(DataError, match="'nope' is not in odd.csv"):
        load_task_data(path, ColumnMapping.parse("input=nope,target=a"))
    with pytest.raises(DataError, match="lacks target"):
        ColumnMapping.parse("input=q")
    assert detect_columns(["INPUT", "Target"]).mapping.input == "INPUT"


def test_none_policy_drops_by_default_and_keeps_on_request(tmp_path):
    path = tmp_path / "none.tsv"
    path.write_text(
        "prefix\tinput_text\ttarget_text\nxWant\tPersonX naps\tnone\nxWant\tPersonX naps\tto rest\n"
        "xWant\tPersonX sings\tNone\nxWant\t\tto eat\n"
    )
    data = load_task_data(path)
    assert data.dropped_none == 2 and data.dropped_empty_input == 1
    assert [(h.input, h.references) for h in data.heads] == [("PersonX naps", ("to rest",))]
    kept = load_task_data(path, keep_none=True)
    assert [(h.input, h.references) for h in kept.heads] == [
        ("PersonX naps", ("none", "to rest")),
        ("PersonX sings", ("None",)),
    ]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.csv", "data file not found"),
        ("", "empty.csv", "data file is empty"),
        ("input,target\n", "header_only.csv", "has no rows"),
        ("{not json", "bad.jsonl", "cannot read bad.jsonl as JSONL"),
        ("a,b\n1,2\n", "data.xlsx", "unsupported data format"),
    ],
)
def test_bad_files_raise_data_errors_that_name_the_file(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_task_data(path)


def test_hub_ids_are_refused_offline_with_a_hint():
    with pytest.raises(DataError, match="MTO_ONLINE=1"):
        load_task_data("allenai/atomic")


def _world_heads():
    from mto_studio.core.data import Example, task_data_from_examples

    examples = [Example(rel, f"{rel} head {i}", f"tail {i}") for rel in ("A", "B", "C") for i in range(20)]
    return task_data_from_examples(examples).heads


def test_sampler_is_stratified_seeded_nested_and_order_independent(tmp_path):
    heads = _world_heads()
    s8 = sample_heads(heads, 8, seed=3)
    assert s8.per_relation == {"A": 8, "B": 8, "C": 8}
    assert sample_heads(heads, 8, seed=3) == s8
    assert sorted(sample_heads(list(reversed(heads)), 8, seed=3).head_ids) == sorted(s8.head_ids)
    assert sample_heads(heads, 8, seed=4).head_ids != s8.head_ids
    s16 = sample_heads(heads, 16, seed=3)
    assert set(s8.head_ids) < set(s16.head_ids)
    full = sample_heads(heads, "full", seed=3)
    assert full.k is None and len(full.head_ids) == 60
    path = s8.save(tmp_path / "split.json")
    assert HeadSample.load(path) == s8


def test_sampler_rejects_k_larger_than_a_relation():
    with pytest.raises(ConfigError, match="k=21 is larger than the 20 heads of relation 'A'"):
        sample_heads(_world_heads(), 21, seed=0)
    with pytest.raises(ConfigError, match="at least 1"):
        sample_heads(_world_heads(), 0, seed=0)


def test_split_heads_holds_out_a_fraction_per_relation():
    heads = _world_heads()
    kept, held = split_heads(heads, 0.25, seed=1)
    assert len(held) == 15 and len(kept) == 45
    assert {h.relation for h in held} == {"A", "B", "C"}
    assert not {h.id for h in kept} & {h.id for h in held}
    assert split_heads(heads, 0.25, seed=1) == (kept, held)
