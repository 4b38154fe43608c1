"""Family framing: BART's <s> and denoising target are handled alike in render, training, scoring and generation;
T5 stays as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mto_studio.core.templates import (
    SentinelStyle,
    TemplateLibrary,
    parse_template_text,
    sentinel_style_for,
    tokenize_rendered,
)

HEADS = [  # (head, tail): each tail's first word differs, so a dropped first word shows
    ("PersonX calls PersonY", "to invite PersonY"),
    ("PersonX opens the door", "the dog to come"),
    ("PersonX buys a ticket", "see a film"),
    ("PersonX cooks dinner", "feed the family"),
    ("PersonX writes a letter", "thank a friend"),
]
TEST_HEADS = [("PersonX washes the car", "a clean car"), ("PersonX sings a song", "cheer PersonY up")]


def build_tiny_bart(folder: Path, texts: list[str], seed: int = 0) -> Path:
    """A 2+2-layer BART (d_model 32, random weights) with a byte-level BPE tokenizer trained on ``texts``; like
    facebook/bart-*: <s>=0 <pad>=1 </s>=2, decoder start </s>, generation forces <s> first."""
    import torch
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts * 5, trainer)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
    )
    model = BartForConditionalGeneration(config)
    model.generation_config.forced_bos_token_id = 0
    model.save_pretrained(folder)
    return folder


def _world_lines(heads) -> list[str]:
    return ["head\trelation\ttail"] + [f"{h}\txIntent\t{t}" for h, t in heads]


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    from mto_studio.core.models.loading import load_seq2seq

    folder = tmp_path_factory.mktemp("bart")
    library = TemplateLibrary()
    texts = []
    for head, tail in HEADS + TEST_HEADS:
        for name in ("unsup-nat", "unsup-nat-short", "sup", "sup-nat"):
            r = library.render(name, "xIntent", head, tail)
            texts += [r.source.replace("<extra_id_0>", ""), r.target.replace("<extra_id_0>", "")]
    build_tiny_bart(folder, texts)
    model, tokenizer = load_seq2seq(str(folder))
    return folder, model, tokenizer


# --- T5: the ids every mto-tiny run was trained on stay exactly as they were ---------------------------------------
T5_IDS = {  # computed with the code before family framing, on the embedded model's tokenizer (unsup-nat-short is
    # the form unsup-nat had until issue 15)
    ("unsup-nat-short", 128): ((3, 131, 5, 232, 64, 3, 65, 2079, 1), (2079, 6, 1059, 5, 566, 1)),
    ("sup", 128): ((77, 7, 3, 131, 5, 232, 1), (6, 1059, 5, 566, 1)),
    ("prompt-unsup-nat", 128): (
        (-1, -2, -3, -4, 3, 131, 5, 232, 64, 3, 65, -5, -6, -7, -8, 2079, 1),
        (2079, 6, 1059, 5, 566, 1),
    ),
    ("unsup-nat-short", 5): ((3, 131, 5, 232, 1), (2079, 6, 1059, 5, 1)),
}


@pytest.fixture(scope="module")
def mto_tiny_tokenizer():
    from mto_studio.core.models.loading import load_tokenizer

    return load_tokenizer("mto-tiny")


@pytest.mark.parametrize(("name", "length"), list(T5_IDS))
def test_t5_ids_are_unchanged(mto_tiny_tokenizer, name, length):
    from mto_studio.core.training.data import encode

    style = sentinel_style_for(mto_tiny_tokenizer)
    assert style == SentinelStyle("t5")
    rendered = TemplateLibrary().render(name, "xIntent", "PersonX buys a ticket", "to see a film", style=style)
    assert not rendered.rebuilt and rendered.answer == "to see a film"
    assert rendered.target.startswith("<extra_id_0>") == (name != "sup")
    source, target = T5_IDS[(name, length)]
    assert encode(mto_tiny_tokenizer, rendered.source, length)[0] == source
    assert encode(mto_tiny_tokenizer, rendered.target, length)[0] == target
    view = tokenize_rendered(mto_tiny_tokenizer, rendered, max_source_length=length, max_target_length=length)
    assert view.source.ids[: view.source.kept - 1] == source[:-1] and view.source.tokens[-1] == "</s>"


# --- BART: one encoding for render, training and scoring -----------------------------------------------------------
@pytest.mark.parametrize("name", ["unsup-nat", "sup", "sup-nat", "unsupnat"])
def test_bart_render_count_training_ids_and_scorer_ids_agree(bart, name):
    from mto_studio.core.models.scoring import Scorer
    from mto_studio.core.training.data import encode

    _, model, tokenizer = bart
    rendered = TemplateLibrary().render(
        name, "xIntent", "PersonX opens the door", "the dog to come", style=sentinel_style_for(tokenizer)
    )
    scorer_sources, scorer_targets = Scorer(model, tokenizer, max_source_length=128, max_target_length=128)._encode(
        [(rendered.source, rendered.target)]
    )
    view = tokenize_rendered(tokenizer, rendered, max_source_length=128, max_target_length=128)
    for text, side, scored in (
        (rendered.source, view.source, scorer_sources),
        (rendered.target, view.target, scorer_targets),
    ):
        ids, cut = encode(tokenizer, text, 128)
        assert not cut and ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
        assert side.count == len(ids) == len(tokenizer(text)["input_ids"])
        assert list(ids) == list(side.ids) == tokenizer(text)["input_ids"] == list(scored[0])
    long = rendered.source + " and then" * 20
    assert list(encode(tokenizer, long, 9)[0]) == tokenizer(long, truncation=True, max_length=9)["input_ids"]


def test_bart_filling_target_is_the_whole_text_with_the_gap_filled(bart):
    _, _, tokenizer = bart
    library = TemplateLibrary()
    style = sentinel_style_for(tokenizer)
    assert style.kind == "mask" and style.denoise

    def show(name):
        return library.render(name, "xIntent", "PersonX opens the door", "the dog to come", style=style)

    fill = show("unsup-nat-short")
    assert fill.source == "PersonX opens the door because PersonX wants <mask>"
    assert fill.target == "PersonX opens the door because PersonX wants the dog to come"
    assert fill.rebuilt and fill.answer == "the dog to come"
    assert fill.frame == ("PersonX opens the door because PersonX wants ", "")
    assert fill.to_json()["answer"] == "the dog to come"
    # the sentinel on the target side only: the text is rebuilt and continued, no longer sup-nat's bare answer
    assert show("unsupnat").target == "xIntent: PersonX opens the door the dog to come"
    assert show("sup-nat").target == "the dog to come"
    assert show("prompt-unsup-nat").target == fill.target  # soft prompts are not rebuilt
    assert show("mixed").target in (fill.target, "the dog to come")
    assert not show("sup").rebuilt and show("sup").answer == "the dog to come"
    middle = parse_template_text(
        'name = "middle"\nobjective = "filling"\nsource = "{input} so that {mask} comes."\ntarget = "{mask} {target}"\n'
    )
    gap = library.render(middle, "xIntent", "PersonX opens the door", "the dog", style=style)
    assert gap.target == "PersonX opens the door so that the dog comes." and gap.answer == "the dog"
    assert gap.frame == ("PersonX opens the door so that ", " comes.")
    # a mask style built by hand (no family) keeps the bare span, as before
    assert library.render("unsup-nat", "xIntent", "PersonX", "x", style=SentinelStyle("mask", "<mask>")).target == "x"


def test_extraction_takes_the_answer_out_of_the_rebuilt_text():
    from mto_studio.core.metrics import extract_answer

    frame = ("PersonX opens the door because PersonX wants ", ".")
    assert extract_answer("</s><s>PersonX opens the door because PersonX wants the dog to come.</s>", frame) == (
        "the dog to come"
    )
    # no closing text generated: the rest after the opening text
    assert extract_answer("<s>PersonX opens the door because PersonX  wants the dog</s><pad>", frame) == "the dog"
    # the frame does not match: the whole output
    assert extract_answer("<s>PersonX writes a letter because PersonX wants thanks</s>", frame) == (
        "PersonX writes a letter because PersonX wants thanks"
    )
    assert extract_answer("<pad> <extra_id_0> to see a film <extra_id_1></s>") == "to see a film"


def test_bart_trained_on_unsup_nat_rebuilds_the_text_and_keeps_the_first_word(bart, tmp_path):
    from mto_studio.core.data.heads import head_id
    from mto_studio.core.models.generation import decode_answers, generate_ids
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.training.config import TrainConfig
    from mto_studio.core.training.data import encode
    from mto_studio.core.training.loop import train

    folder, _, _ = bart
    (tmp_path / "train.tsv").write_text("\n".join(_world_lines(HEADS)) + "\n")
    (tmp_path / "test.tsv").write_text("\n".join(_world_lines(TEST_HEADS)) + "\n")
    cfg = TrainConfig(
        model=str(folder),
        data=str(tmp_path / "train.tsv"),
        test_data=str(tmp_path / "test.tsv"),
        template="unsup-nat",
        steps=70,
        batch_size=8,
        lr=1e-2,
        warmup_steps=5,
        eval_every=1000,
        validation_heads=1,
        threads=1,
    )
    events = list(train(cfg, tmp_path / "run"))
    assert events[-1].status == "finished", events[-1]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    chosen = set(json.loads((tmp_path / "run" / "split.json").read_text())["sample"]["head_ids"])
    model, tokenizer = load_seq2seq(result["artifact"])
    library = TemplateLibrary()
    style = sentinel_style_for(tokenizer)
    rendered = [library.render("unsup-nat", "xIntent", h, t, style=style) for h, t in HEADS]
    trained = [r for r in rendered if head_id("xIntent", r.input) in chosen]
    assert len(trained) == len(HEADS) - 1 and "the dog to come" in [r.target_value for r in trained]
    sources = [encode(tokenizer, r.source, 128)[0] for r in trained]
    generated = generate_ids(model, sources, pad_id=tokenizer.pad_token_id, max_new_tokens=40)
    texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
    assert texts == [r.target for r in trained]  # the whole text, first word of the answer included
    answers = decode_answers(tokenizer, generated, [r.frame for r in trained])
    assert answers == [r.target_value for r in trained]
    for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines():
        assert "<s>" not in json.loads(line)["prediction"]


def test_format_match_per_family():
    from mto_studio.core.models.family import BART, FLAN_T5, MTO_TINY, T5_V11, format_match

    library = TemplateLibrary()

    def said(family, name):
        template = library.get(name)
        match = format_match(family, template, library.concrete(template) if template.is_mixed else ())
        return match.matches, match.text

    assert said(T5_V11, "unsup-nat") == (
        True,
        "matches T5 span corruption: sentinel in the source, target = sentinel + span",
    )
    assert not said(T5_V11, "unsupnat")[0] and "source has no sentinel" in said(T5_V11, "unsupnat")[1]
    assert said(BART, "unsup-nat")[1] == "matches BART denoising: the target is the whole text, gap filled"
    assert said(FLAN_T5, "sup-nat-short") == (True, "Mapping: matches Flan-T5's natural-language instructions")
    assert said(FLAN_T5, "sup") == (True, "Mapping: matches T5's task prefixes")
    assert said(MTO_TINY, "sup")[0] and not said(T5_V11, "sup")[0]
    assert said(MTO_TINY, "mixed")[0] and "; Mapping: matches T5's task prefixes" in said(MTO_TINY, "mixed")[1]
