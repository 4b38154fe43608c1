"""Train a T5-style Unigram tokenizer (pad 0, eos 1, unk 2, 100 sentinels) with `tokenizers`, saved in HF format."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from pathlib import Path

SPECIALS = ["<pad>", "</s>", "<unk>"]
# Every printable ASCII character is in the alphabet, so unseen words split into pieces instead of <unk>.
ALPHABET = sorted(set(string.ascii_letters + string.digits + string.punctuation))


def train_t5_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path | None = None):
    """Train on ``texts`` and return a transformers T5 tokenizer (saved to ``out_dir`` when given)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import T5TokenizerFast

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, unk_token="<unk>", initial_alphabet=ALPHABET,
        shrinking_factor=0.75, max_piece_length=16, show_progress=False,
    )
    tokenizer.train_from_iterator(list(texts), trainer)
    vocab = [tuple(item) for item in json.loads(tokenizer.to_str())["model"]["vocab"]]
    hf = T5TokenizerFast(vocab=vocab, extra_ids=100)
    if out_dir is not None:
        hf.save_pretrained(out_dir)
    return hf
