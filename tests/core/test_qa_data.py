"""Multiple-choice QA data: every input shape, answers as labels, indices or texts, the error for each bad row,
stable head ids, plain question/answer data unchanged, and the per-example `mixed` rule."""

import json

import pytest

from mto_studio.core.data import ColumnMapping, head_id, load_task_data
from mto_studio.core.data.qa import parse_choices
from mto_studio.core.data.qa_framing import qa_framing, question_form
from mto_studio.core.errors import DataError

ROWS = [
    ("Where is a kettle kept?", ["the garage", "the kitchen", "the attic"], 1),
    ("What do you drink from?", ["a cup", "a shoe", "a hat"], 0),
    ("Which is soft?", ["a rock", "a nail", "a pillow"], 2),
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def lists(tmp_path, answer):
    rows = [{"question": q, "choices": c, "answer": answer(c, a)} for q, c, a in ROWS]
    return write_jsonl(tmp_path / "qa.jsonl", rows)


def check(data, fmt):
    assert data.kind == "qa" and data.answer_format == fmt
    assert [h.answer for h in data.heads] == [a for _, _, a in ROWS]
    assert [h.references for h in data.heads] == [(c[a],) for _, c, a in ROWS]
    assert [h.choices for h in data.heads] == [tuple(c) for _, c, _ in ROWS]
    assert data.relations == ["qa"]
    # the id of a question seen with one set of choices is the completion data's id of (relation, question)
    assert data.heads[0].id == head_id("qa", ROWS[0][0])


@pytest.mark.parametrize(
    ("answer", "fmt"),
    [
        (lambda c, a: "ABC"[a], "label"),
        (lambda c, a: f"({'abc'[a]})", "label"),
        (lambda c, a: a, "index (0-based)"),
        (lambda c, a: a + 1, "index (1-based)"),
        (lambda c, a: str(a + 1), "index (1-based)"),
        (lambda c, a: c[a].upper() + ".", "text"),
    ],
    ids=["label", "paren-label", "index0", "index1", "index1-text", "answer-text"],
)
def test_jsonl_lists_with_each_answer_form(tmp_path, answer, fmt):
    check(load_task_data(lists(tmp_path, answer)), fmt)


def test_index_base_is_assumed_and_said_when_no_row_decides(tmp_path):
    path = write_jsonl(tmp_path / "qa.jsonl", [{"question": "q?", "choices": ["a", "b", "c"], "answer": 1}])
    data = load_task_data(path)
    assert data.heads[0].answer == 1 and data.answer_format == "index (0-based, assumed)"


def test_csv_with_letter_columns(tmp_path):
    path = tmp_path / "qa.csv"
    lines = ["question,A,B,C,D,answer,task"]
    lines += ['"Where is a kettle kept?",the garage,the kitchen,the attic,,B,kitchen']
    lines += ["What do you drink from?,a cup,a shoe,a hat,a bowl,A,kitchen"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = load_task_data(path)
    assert data.kind == "qa" and data.relations == ["kitchen"]
    assert data.heads[0].choices == ("the garage", "the kitchen", "the attic")  # trailing empty cell dropped
    assert data.heads[1].choices == ("a cup", "a shoe", "a hat", "a bowl")
    assert [h.answer for h in data.heads] == [1, 0]
    assert data.mapping.choices == "A|B|C|D"
    # the detected mapping spelt as --columns loads the same data again
    again = load_task_data(path, ColumnMapping.parse(data.mapping.spec()))
    assert again.heads == data.heads


@pytest.mark.parametrize(
    "columns",
    [
        ("choice1", "choice2", "choice3"),
        ("option_a", "option_b", "option_c"),
        ("sol1", "sol2", "sol3"),
        ("answerA", "answerB", "answerC"),
        ("ending0", "ending1", "ending2"),
    ],
)
def test_numbered_and_named_choice_columns(tmp_path, columns):
    rows = [{"question": q, **dict(zip(columns, c, strict=True)), "label": a} for q, c, a in ROWS]
    check(load_task_data(write_jsonl(tmp_path / "qa.jsonl", rows)), "index (0-based)")


@pytest.mark.parametrize(
    "cell",
    [
        lambda c: json.dumps(c),
        lambda c: " ".join(f"{'ABC'[i]}) {t}" for i, t in enumerate(c)),
        lambda c: " ".join(f"({'ABC'[i]}) {t}" for i, t in enumerate(c)),
    ],
    ids=["json-text", "A)", "(A)"],
)
def test_choices_as_text_in_a_csv(tmp_path, cell):
    path = tmp_path / "qa.tsv"
    lines = ["question\tchoices\tanswer"] + [f"{q}\t{cell(c)}\t{'ABC'[a]}" for q, c, a in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check(load_task_data(path), "label")


def test_commonsenseqa_nested_and_hub_shapes(tmp_path):
    nested = [
        {
            "id": str(i),
            "question": {"stem": q, "choices": [{"label": "ABC"[j], "text": t} for j, t in enumerate(c)]},
            "answerKey": "ABC"[a],
        }
        for i, (q, c, a) in enumerate(ROWS)
    ]
    data = load_task_data(write_jsonl(tmp_path / "csqa.jsonl", nested))
    check(data, "label")
    assert data.preset == "qa-nested" and data.mapping.choices == "question.choices"
    assert load_task_data(tmp_path / "csqa.jsonl", ColumnMapping.parse(data.mapping.spec())).heads == data.heads
    hub = [{"question": q, "choices": {"label": list("ABC"), "text": c}, "answerKey": "ABC"[a]} for q, c, a in ROWS]
    check(load_task_data(write_jsonl(tmp_path / "hub.jsonl", hub)), "label")
    # ARC labels its choices 1-4 in some rows: the answer key is read against the row's own labels
    arc = [
        {"question": q, "choices": {"label": ["1", "2", "3"], "text": c}, "answerKey": str(a + 1)} for q, c, a in ROWS
    ]
    assert [h.answer for h in load_task_data(write_jsonl(tmp_path / "arc.jsonl", arc)).heads] == [1, 0, 2]


def test_parse_choices_shapes():
    assert parse_choices("A) the cup B) a red hat C) x") == (["the cup", "a red hat", "x"], None)
    assert parse_choices('["a", "b"]') == (["a", "b"], None)
    assert parse_choices([{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]) == (["x", "y"], ["A", "B"])


def test_plain_question_answer_data_still_loads_as_generation(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nWhy?,because\nHow?,carefully\n", encoding="utf-8")
    data = load_task_data(path)
    assert data.kind == "completion" and data.preset == "question-answer"
    assert data.heads[0].choices == () and data.heads[0].answer is None
    assert data.heads[0].to_dict() == {
        "id": head_id("task", "Why?"),
        "relation": "task",
        "input": "Why?",
        "references": ["because"],
    }


def test_same_question_with_other_choices_gets_its_own_id(tmp_path):
    rows = [
        {"question": "Pick one.", "choices": ["a", "b"], "answer": "A"},
        {"question": "Pick one.", "choices": ["c", "d"], "answer": "B"},
        {"question": "Pick one.", "choices": ["a", "b"], "answer": "A"},  # a repeat: the same head
        {"question": "Only once?", "choices": ["e", "f"], "answer": "A"},
    ]
    data = load_task_data(write_jsonl(tmp_path / "qa.jsonl", rows))
    assert len(data.heads) == 3 and len({h.id for h in data.heads}) == 3
    assert data.heads[0].id != head_id("qa", "Pick one.") and data.heads[2].id == head_id("qa", "Only once?")


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([{"question": "q?", "choices": ["only"], "answer": "A"}], ["row 1 has 1 choice", "2 to 8", "2–8"]),
        ([{"question": "q?", "choices": list("abcdefghi"), "answer": "A"}], ["row 1 has 9 choices", "2–8"]),
        (
            [
                {"question": "q?", "choices": ["a", "b"], "answer": "A"},
                {"question": "r?", "choices": ["c", "d"], "answer": "E"},
            ],
            ["row 2", "label 'E'", "out of range", "A, B"],
        ),
        (
            [{"question": "q?", "choices": ["a cup", "a hat"], "answer": "a shoe"}],
            ["row 1", "'a shoe'", "matches none of its choices", "a cup | a hat", "text of one of the choices"],
        ),
        (
            [
                {"question": "q?", "choices": ["a", "b"], "answer": 0},
                {"question": "r?", "choices": ["c", "d"], "answer": 3},
            ],
            ["row 2", "answer 3", "out of range for 2 choices"],
        ),
        (
            [
                {"question": "q?", "choices": ["x", "y"], "answer": "B"},
                {"question": "r?", "choices": ["c", "d"], "answer": "a cup"},
            ],
            ["mix", "labels (row 1: 'B')", "texts (row 2: 'a cup')", "the same way"],
        ),
        (
            [
                {"question": "q?", "choices": ["x", "y"], "answer": "A"},
                {"question": "r?", "choices": ["c", "d"], "answer": ""},
            ],
            ["row 2 has no answer", "'answer'"],
        ),
        (
            [
                {"question": "q?", "choices": ["x", "y"], "answer": "A"},
                {"question": "q?", "choices": ["x", "y"], "answer": "B"},
            ],
            ["rows 1 and 2", "different answers"],
        ),
    ],
    ids=["one-choice", "nine-choices", "label-range", "no-match", "index-range", "mixed", "no-answer", "conflict"],
)
def test_bad_rows_name_the_row_and_the_fix(tmp_path, rows, words):
    with pytest.raises(DataError) as info:
        load_task_data(write_jsonl(tmp_path / "qa.jsonl", rows))
    text = f"{info.value.message} ({info.value.hint})"
    for word in words:
        assert word in text, text


def test_explicit_choices_mapping(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("q,x,y,gold_idx\nWhere?,here,there,1\nWho?,me,you,0\n", encoding="utf-8")
    data = load_task_data(path, ColumnMapping.parse("input=q,target=gold_idx,choices=x|y"))
    assert data.kind == "qa" and [h.references for h in data.heads] == [("there",), ("me",)]
    with pytest.raises(DataError, match="the column 'z' is not in qa.csv"):
        load_task_data(path, ColumnMapping.parse("input=q,target=gold_idx,choices=x|z"))
    # without choices the same columns load as generation, as before
    assert load_task_data(path, ColumnMapping.parse("input=q,target=gold_idx")).kind == "completion"


def test_a_gap_among_choice_columns_is_an_error(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,A,B,C,answer\nq?,x,,z,A\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 1 has an empty choice in column 'B'"):
        load_task_data(path)


@pytest.mark.parametrize(
    ("question", "choices", "framing"),
    [
        ("The kettle is kept in ___.", ["the garage", "the attic"], "filling"),
        ("The capital of France is", ["Paris", "Rome"], "filling"),
        ("Where would you find a kettle?", ["kitchen", "garage"], "filling"),
        ("What is a kettle used for?", ["boiling water", "storing nails"], "filling"),
        ("How many legs does a spider have?", ["six", "eight"], "filling"),
        (
            "question: why does PersonX do this? event: PersonX repairs the fence",
            ["to save money", "to win"],
            "mapping",
        ),
        ("What will PersonX want next?", ["to rest", "to eat"], "mapping"),
        ("Is it safe to swim after eating?", ["yes", "no"], "mapping"),
        (
            "The kettle is kept in ___.",
            ["a small cupboard next to the sink", "the cold cellar under the old house"],
            "mapping",
        ),
    ],
)
def test_mixed_rule_by_question_form_and_choice_length(question, choices, framing):
    assert qa_framing(question, choices) == framing


def test_question_forms():
    assert question_form("I put it ___ the box.") == "cloze"
    assert question_form("Fragile things are best packed in") == "statement"
    assert question_form("Context: a kettle. Question: which room?") == "noun-question"
    assert question_form("How do you boil water?") == "clause-question"
