"""Metrics in any script: identical strings score 1.0, a one-word change scores between 0 and 1, and English scores
are exactly those of rouge_score's default tokenizer (the figures the benchmarks were made with)."""

import re
import string

import pytest
from rouge_score.rouge_scorer import RougeScorer

from mto_studio.core.metrics import score_predictions
from mto_studio.core.metrics.text import exact_match, normalize, rouge_l, token_f1
from mto_studio.core.metrics.tokenize import tokenize

# (reference, the same with one word changed)
SCRIPTS = {
    "persian": ("من هر روز به مدرسه می‌روم", "من هر روز به خانه می‌روم"),
    "japanese": ("私は毎日学校に行きます", "私は毎日図書館に行きます"),
    "russian": ("Я каждый день хожу в школу", "Я каждый день хожу в библиотеку"),
    "greek": ("Πηγαίνω στο σχολείο κάθε μέρα", "Πηγαίνω στη βιβλιοθήκη κάθε μέρα"),
    "thai": ("ฉันไปโรงเรียนทุกวัน", "ฉันไปห้องสมุดทุกวัน"),
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_identical_strings_in_any_script_score_one(script):
    reference, _ = SCRIPTS[script]
    assert tokenize(reference)
    assert rouge_l(reference, reference) == 1.0
    assert token_f1(reference, reference) == 1.0
    assert exact_match(reference, reference) == 1.0
    report = score_predictions(["head"], ["input"], [reference], [(reference,)])
    assert report.overall["rougeL"] == 1.0 and report.overall["token_f1"] == 1.0


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_a_changed_word_scores_between_zero_and_one(script):
    reference, changed = SCRIPTS[script]
    assert 0.0 < rouge_l(changed, reference) < 1.0
    assert 0.0 < token_f1(changed, reference) < 1.0
    assert exact_match(changed, reference) == 0.0


def test_persian_and_japanese_partial_scores():
    # Persian: 6 words, 5 shared; the zero-width non-joiner stays inside "می‌روم"
    persian, persian_changed = SCRIPTS["persian"]
    assert "می\u200cروم" in tokenize(persian)
    assert rouge_l(persian_changed, persian) == pytest.approx(5 / 6)
    # Japanese: one token per character; 11 and 12 characters, 9 in common in order
    japanese, japanese_changed = SCRIPTS["japanese"]
    assert tokenize("学校に") == ["学", "校", "に"]
    assert rouge_l(japanese_changed, japanese) == pytest.approx(2 * 9 / (11 + 12))
    assert token_f1(japanese_changed, japanese) == pytest.approx(2 * 9 / (11 + 12))


def test_case_punctuation_and_width_do_not_count():
    assert exact_match("Я хожу в школу!", "я хожу в школу") == 1.0
    assert rouge_l("«Я хожу в школу»", "я хожу в школу.") == 1.0
    assert exact_match("学校に行きます。", "学校に行きます") == 1.0
    assert exact_match("ｶﾞｯｺｳ", "ガッコウ") == 1.0  # half-width katakana folds to full width (NFKC)


ENGLISH = [
    ("to see a film", "to watch a movie"),
    ("PersonX's friend", "personx s friend"),
    ("to rest.", "to sleep"),
    ("the attic", "the kitchen"),
    ("don't go_home, 2 cats!", "Do not go home with 2 cats"),
    ("", "something"),
    ("!!!", "???"),
    ("   ", ""),
]


def _old_normalize(text: str) -> str:
    return " ".join(re.sub(f"[{re.escape(string.punctuation)}]", " ", text.lower()).split())


@pytest.mark.parametrize(("prediction", "reference"), ENGLISH)
def test_english_scores_are_unchanged(prediction, reference):
    default = RougeScorer(["rougeL"], use_stemmer=False)
    assert tokenize(prediction) == default._tokenizer.tokenize(prediction)
    assert normalize(prediction) == _old_normalize(prediction)
    if prediction.strip() and reference.strip():
        assert rouge_l(prediction, reference) == default.score(reference, prediction)["rougeL"].fmeasure
    assert exact_match(prediction, reference) == float(_old_normalize(prediction) == _old_normalize(reference))
    old_pred, old_ref = _old_normalize(prediction).split(), _old_normalize(reference).split()
    assert tokenize(prediction) == old_pred and tokenize(reference) == old_ref  # so token F1 is unchanged too


def test_english_figures():
    assert rouge_l("to rest", "to sleep") == pytest.approx(0.5)
    assert rouge_l("to watch a movie", "to see a film") == pytest.approx(0.5)
    assert token_f1("don't go home", "do not go home") == pytest.approx(0.5)  # 2 of 4 tokens each way
