"""The domain check (issue 14): the model's tokenizer fragments the data, or the embedded model meets data that is
not its built-in world. Measured on the embedded tokenizer, the world and the shipped ATOMIC example."""

import pytest

from mto_studio.core.data import build_task_data
from mto_studio.core.data.loading import load_table
from mto_studio.core.data.sources import split_file
from mto_studio.core.models.domain import NOT_YOUR_DOMAIN, domain_report, domain_warnings, task_texts, word_pieces
from mto_studio.core.models.family import BY_KEY
from mto_studio.core.models.loading import load_tokenizer
from mto_studio.core.models.tokenizer import train_t5_tokenizer


def _texts(ref: str) -> list[str]:
    return task_texts(build_task_data(load_table(split_file(ref, "train")), None).examples)


@pytest.fixture(scope="module")
def world_texts():
    return _texts("world")


@pytest.fixture(scope="module")
def atomic_texts():
    return _texts("example:atomic2020-xintent")


@pytest.fixture(scope="module")
def embedded():
    return load_tokenizer("mto-tiny")


def test_the_embedded_model_on_its_world_is_quiet(embedded, world_texts):
    report = domain_report(embedded, world_texts, "mto-tiny")
    assert report.words > 1000 and report.pieces_per_word < 1.05 and report.split3_share < 0.01
    assert report.unknown_share == 0.0 and report.warnings == ()


def test_the_embedded_model_on_atomic_does_not_know_the_domain(embedded, atomic_texts):
    warnings = domain_warnings(embedded, atomic_texts, BY_KEY["mto-tiny"])
    assert len(warnings) == 2 and warnings[0].startswith(NOT_YOUR_DOMAIN)
    assert "fragments this data" in warnings[1] and "pieces per word" in warnings[1]
    report = domain_report(embedded, atomic_texts, "mto-tiny")
    assert report.pieces_per_word > 1.5 and report.split3_share > 0.15 and report.unknown_share > 0.3
    assert report.fragmented and all(len(split.split()) >= 3 for _word, split in report.fragmented)
    assert f'"{report.fragmented[0][0]}" → "{report.fragmented[0][1]}"' in warnings[1]


def test_a_tokenizer_trained_on_the_data_is_quiet_and_fragments_other_text(atomic_texts, world_texts):
    tokenizer = train_t5_tokenizer(atomic_texts, 2000)
    assert domain_warnings(tokenizer, atomic_texts, "t5") == []
    warnings = domain_warnings(tokenizer, world_texts, "t5")
    assert len(warnings) == 1 and "fragments this data" in warnings[0], "not the embedded model: no world check"
    assert domain_warnings(tokenizer, world_texts, "byt5") == [], "byte-level families split words by design"


def test_word_pieces_drop_word_markers(embedded):
    assert word_pieces(embedded, "the") == ["the"]
    assert "".join(word_pieces(embedded, "adds")) == "adds"


def test_no_text_no_warning(embedded):
    report = domain_report(embedded, ["", "123 456"], "mto-tiny")
    assert report.words == 0 and report.warnings == ()
