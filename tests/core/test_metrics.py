"""Metrics: ROUGE-L as the max over references per head, EM, token F1, unique predictions, answers."""

import pytest

from mto_studio.core.metrics import extract_answer, score_predictions


def test_rouge_is_the_max_over_references_and_averaged_over_heads():
    report = score_predictions(
        ["xIntent", "xIntent", "AtLocation"],
        ["PersonX buys a ticket", "PersonX naps", "cup"],
        ["to see a film", "to rest", "the attic"],
        [("to watch a movie", "to see a film"), ("to sleep",), ("the kitchen", "a cupboard")],
    )
    items = report.items
    assert items[0].scores["rougeL"] == 1.0 and items[0].scores["exact_match"] == 1.0
    assert items[1].scores["rougeL"] == pytest.approx(2 / 3 * 0 + 0.5)  # "to rest" vs "to sleep": LCS 1 of 2
    assert items[2].scores["rougeL"] == pytest.approx(0.5)  # "the attic" vs "the kitchen"
    assert report.overall["rougeL"] == pytest.approx((1 + 0.5 + 0.5) / 3)
    assert report.overall["unique_predictions"] == 3
    assert report.per_relation["xIntent"]["rougeL"] == pytest.approx(0.75)
    assert report.per_relation["AtLocation"]["heads"] == 1
    assert items[1].scores["token_f1"] == pytest.approx(0.5)


def test_extract_answer_takes_the_first_span():
    assert extract_answer("<pad> <extra_id_0> to see a film <extra_id_1> more</s>") == "to see a film"
    assert extract_answer("<pad> to see a film</s>") == "to see a film"
    assert extract_answer("<pad><extra_id_0></s>") == ""
