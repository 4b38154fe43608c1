"""Small models of real architectures, built once per session from transformers config classes with random weights
and tokenizers trained here on the test data's words (nothing is downloaded):

- ``t5-v1.0``: T5Config, ReLU feed-forward, tied input/output embeddings (t5-small's shape, shrunk);
- ``t5-v1.1``: T5Config, gated-GELU, untied LM head (T5 v1.1 and Flan-T5's shape);
- ``mt5``: MT5Config (gated-GELU, untied), a T5 Unigram tokenizer;
- ``bart``: BartConfig (learned positions, ``decoder_start`` = ``</s>``, ``forced_bos`` = ``<s>`` as bart-large) with
  a byte-level BPE tokenizer whose specials are ``<s> <pad> </s> <unk> <mask>`` (0-3 as in facebook/bart-*; <mask> 4).

Folder names say nothing about the family (``arch-0``…), so detection must come from the config alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

#: family key in mto_studio.core.models.family → what the session builds
FAMILY_OF_BUILD = {"t5-v1.0": "t5", "t5-v1.1": "t5-v1.1", "mt5": "mt5", "bart": "bart"}
BUILDS = tuple(FAMILY_OF_BUILD)
D_MODEL = 32


@dataclass(frozen=True)
class RealModel:
    name: str  # one of BUILDS
    folder: Path
    family: str  # the key family_of must give

    @property
    def bos(self) -> bool:
        return self.name == "bart"

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.folder)


def data_texts(data_tsv: Path) -> list[str]:
    """The words of a TSV (head, relation phrase, tail) as tokenizer training text, with the templates' phrases."""
    from mto_studio.core.templates import TemplateLibrary

    lines = []
    for path in (data_tsv, data_tsv.with_name("small-test.tsv")):
        lines += [line.replace("\t", " ") for line in path.read_text().splitlines()[1:]]
    library = TemplateLibrary()
    for relation in ("AtLocation", "xIntent"):
        for template in ("sup", "sup-nat", "unsup-nat"):
            rendered = library.render(template, relation, "PersonX", ANSWER)
            lines += [rendered.source, rendered.target]
    return lines * 5


def _t5_config(config_class, vocab_size: int, **changes):
    base = dict(
        vocab_size=vocab_size,
        d_model=D_MODEL,
        d_ff=D_MODEL * 2,
        d_kv=8,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        dropout_rate=0.0,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    base.update(changes)
    return config_class(**base)


def build_t5_like(folder: Path, texts: list[str], kind: str, seed: int = 0) -> Path:
    import torch
    from transformers import MT5Config, MT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration

    from mto_studio.core.models.tokenizer import train_t5_tokenizer

    tokenizer = train_t5_tokenizer(texts, vocab_size=400, out_dir=folder)
    torch.manual_seed(seed)
    if kind == "t5-v1.0":
        config = _t5_config(T5Config, len(tokenizer), feed_forward_proj="relu", tie_word_embeddings=True)
        model = T5ForConditionalGeneration(config)
    elif kind == "t5-v1.1":
        config = _t5_config(T5Config, len(tokenizer), feed_forward_proj="gated-gelu", tie_word_embeddings=False)
        model = T5ForConditionalGeneration(config)
    else:
        config = _t5_config(MT5Config, len(tokenizer), feed_forward_proj="gated-gelu", tie_word_embeddings=False)
        model = MT5ForConditionalGeneration(config)
    model.save_pretrained(folder)
    return folder


def train_bart_tokenizer(texts: list[str], folder: Path, vocab_size: int = 600):
    """A byte-level BPE tokenizer (RoBERTa/BART style) trained with `tokenizers`, saved as a BART tokenizer."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, BartTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)  # as facebook/bart-base
    BartTokenizer(vocab=model["vocab"], merges=merges, mask_token=mask).save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def build_bart(folder: Path, texts: list[str], seed: int = 0) -> Path:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    tokenizer = train_bart_tokenizer(texts, folder)
    assert tokenizer.convert_ids_to_tokens([0, 1, 2, 3, 4]) == ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    torch.manual_seed(seed)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=D_MODEL,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=D_MODEL * 2,
        decoder_ffn_dim=D_MODEL * 2,
        max_position_embeddings=160,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        init_std=0.3,  # logits wide enough for LoRA and soft prompts to move a random model in a few steps
    )
    model = BartForConditionalGeneration(config)
    # as facebook/bart-large's config has them: generation starts </s> <s> (transformers 5 keeps no generation
    # settings in the model config, so they go to generation_config.json as in a downloaded BART)
    model.generation_config = GenerationConfig(bos_token_id=0, pad_token_id=1, eos_token_id=2,
                                               decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2)  # fmt: skip
    model.save_pretrained(folder)
    assert json.loads((folder / "generation_config.json").read_text())["forced_bos_token_id"] == 0
    return folder


def build_real_model(name: str, folder: Path, texts: list[str], seed: int = 0) -> RealModel:
    folder.mkdir(parents=True, exist_ok=True)
    if name == "bart":
        build_bart(folder, texts, seed)
    else:
        build_t5_like(folder, texts, name, seed)
    return RealModel(name, folder, FAMILY_OF_BUILD[name])


@pytest.fixture(scope="session")
def real_data(small_world_tsv) -> Path:
    """2 relations × 14 heads of the built-in world (``small-test.tsv`` beside it holds 6 other heads of each)."""
    return small_world_tsv


@pytest.fixture(scope="session")
def real_models(tmp_path_factory, real_data) -> dict[str, RealModel]:
    """Every architecture, built once: {build name: RealModel}. Folders are named arch-N (no family hint)."""
    texts = data_texts(real_data)
    root = tmp_path_factory.mktemp("real-models")
    return {name: build_real_model(name, root / f"arch-{i}", texts) for i, name in enumerate(BUILDS)}


@pytest.fixture(params=BUILDS)
def real_model(request, real_models) -> RealModel:
    return real_models[request.param]


@pytest.fixture(scope="session")
def constant_answer_data(tmp_path_factory, real_data) -> Path:
    """The small world's heads with every tail replaced by one constant answer (``ANSWER``), test file beside it:
    a model that learned the task must reproduce the answer word for word, its first word included."""
    folder = tmp_path_factory.mktemp("constant")
    for name in ("small.tsv", "small-test.tsv"):
        rows = real_data.with_name(name).read_text().splitlines()
        body = [f"{line.split(chr(9))[0]}\t{line.split(chr(9))[1]}\t{ANSWER}" for line in rows[1:]]
        (folder / name).write_text("\n".join([rows[0], *body]) + "\n")
    return folder / "small.tsv"


#: a target whose first word is a frequent, short one: the word a mis-framed BART drops
ANSWER = "the dog to come"
