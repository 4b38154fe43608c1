"""Accuracy for multiple-choice QA: nearest-choice matching (any script), labels, ties, and likelihood ranking."""

import math

import pytest

from mto_studio.core.metrics import (
    choice_accuracy,
    label_index,
    match_choice,
    rank_choices,
    score_choice_predictions,
    score_choice_ranking,
)

CHOICES = ["the garage", "the kitchen cupboard", "a shoe box", "the attic"]


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("the kitchen cupboard", 1),  # exact
        ("The Kitchen Cupboard.", 1),  # exact after normalisation
        ("<extra_id_0> a shoe box <extra_id_1>", 2),  # a Filling output's span
        ("B", 1),
        ("(b)", 1),
        ("d)", 3),
        ("choice 2", 1),
        ("choice3", 2),
        ("option C", 2),
        ("answer: A", 0),
        ("4", 3),
        ("in the kitchen", 1),  # nearest by ROUGE-L
        ("a box", 2),
        ("kitchen garage", 0),  # ROUGE-L 0.5 to "the garage", 0.4 to "the kitchen cupboard"
        ("garage attic", None),  # a tie on ROUGE-L and token F1: no match
        ("a bicycle", 2),  # "a" is the only word in common with any choice ("a shoe box")
        ("nothing here", None),
        ("", None),
        ("E", None),  # a label beyond the choices
        ("9", None),
    ],
)
def test_match_choice(prediction, expected):
    assert match_choice(prediction, CHOICES) == expected


def test_a_choice_that_looks_like_a_label_matches_as_text_first():
    assert match_choice("2", ["1", "2", "3"]) == 1  # the text "2" is choice index 1, not label 2 (also index 1)
    assert match_choice("3", ["3", "2", "1"]) == 0
    assert match_choice("b", ["a", "b"]) == 1


def test_duplicate_choices_are_no_match():
    assert match_choice("the attic", ["the attic", "The attic!", "the garage"]) is None


def test_persian_and_japanese_choices():
    persian = ["کتاب\u200cخانه", "مدرسه", "بیمارستان"]
    assert match_choice("کتاب\u200cخانه", persian) == 0
    assert match_choice("در مدرسه", persian) == 1
    japanese = ["図書館", "学校", "病院"]
    assert match_choice("学校", japanese) == 1
    assert match_choice("学校です", japanese) == 1  # nearest by per-character ROUGE-L
    assert match_choice("ｂ", japanese) == 1  # a full-width label, folded by NFKC


def test_label_index():
    assert label_index("(C)", 3) == 2 and label_index("the answer is b", 2) == 1
    assert label_index("C", 2) is None and label_index("cat", 4) is None


def test_rank_choices():
    assert rank_choices([-3.2, -1.1, -5.0]) == 1
    assert rank_choices([-1.0, -1.0, -5.0]) is None  # a tie at the top
    assert rank_choices([]) is None and rank_choices([0.0, math.nan]) is None


def test_accuracy_over_heads_per_relation():
    report = score_choice_predictions(
        ["AtLocation", "AtLocation", "xIntent", "xIntent"],
        ["q1", "q2", "q3", "q4"],
        ["the attic", "B", "to win", "zzz"],
        [CHOICES, CHOICES, ["to win", "to lose"], ["to win", "to lose"]],
        [3, 0, 0, 1],
    )
    assert report.overall["accuracy"] == 0.5 and report.overall["matched"] == 0.75
    assert report.per_relation["AtLocation"]["accuracy"] == 0.5 and report.per_relation["xIntent"]["heads"] == 2
    sample = report.sample()
    assert sample[0]["choice"] == "D" and sample[0]["answer"] == "D" and sample[0]["correct"]
    assert sample[3]["choice"] is None and not sample[3]["correct"]


def test_ranking_report_and_its_input_check():
    report = score_choice_ranking(
        ["r", "r"], ["q1", "q2"], [[-1.0, -2.0], [-3.0, -0.5]], [["a", "b"], ["c", "d"]], [0, 0]
    )
    assert report.overall["accuracy"] == 0.5 and report.items[1].prediction == "d"
    with pytest.raises(ValueError, match="1 scores for 2 choices"):
        score_choice_ranking(["r"], ["q"], [[-1.0]], [["a", "b"]], [0])
    assert choice_accuracy([0, None, 2], [0, 1, 2]) == pytest.approx(2 / 3)
    assert choice_accuracy([], []) == 0.0
