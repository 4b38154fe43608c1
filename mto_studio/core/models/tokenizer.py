"""Train a T5-style Unigram tokenizer (pad 0, eos 1, unk 2, 100 sentinels) with `tokenizers`, saved in HF format.

On a small, closed-vocabulary corpus the Unigram trainer alone keeps fragments ("▁", "is"; "▁ke", "p", "t")
instead of frequent whole words, which lengthens every sequence and slows learning. So the vocabulary is built in
two parts: every word and punctuation mark of the corpus as one piece (scored by frequency), plus the trainer's
subword pieces, scored below any whole word, so that words the corpus never saw still split into pieces.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

SPECIALS = ["<pad>", "</s>", "<unk>"]
# Every printable ASCII character is in the alphabet, so unseen words split into pieces instead of <unk>.
ALPHABET = sorted(set(string.ascii_letters + string.digits + string.punctuation))
_WORD = re.compile(r"[A-Za-z0-9]+|'[A-Za-z]+|[^\sA-Za-z0-9]")
WORD_SCORES = (-1.0, -5.0)  # most and least frequent corpus word
SUBWORD_OFFSET = -6.0  # subword pieces score below every whole word


def train_t5_tokenizer(texts: Iterable[str], vocab_size: int, out_dir: str | Path | None = None):
    """Train on ``texts`` and return a transformers T5 tokenizer (saved to ``out_dir`` when given)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import T5Tokenizer

    texts = list(texts)
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        unk_token="<unk>",
        initial_alphabet=ALPHABET,
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(dict.fromkeys(texts)), trainer)
    subwords = [
        (piece, score) for piece, score in json.loads(tokenizer.to_str())["model"]["vocab"] if piece not in SPECIALS
    ]

    counts: Counter[str] = Counter()
    for text in texts:
        for match in _WORD.finditer(text):
            token = match.group(0)
            starts_word = match.start() == 0 or text[match.start() - 1].isspace()
            counts["▁" + token if starts_word else token] += 1
    if counts:
        high, low = WORD_SCORES
        top = math.log(max(counts.values()))
        words = [(piece, low + (high - low) * (math.log(n) / top if top else 1.0)) for piece, n in counts.most_common()]
    else:
        words = []
    seen = {piece for piece, _ in words}
    vocab = [(s, 0.0) for s in SPECIALS] + words
    vocab += [(piece, score + SUBWORD_OFFSET) for piece, score in subwords if piece not in seen]
    hf = T5Tokenizer(vocab=vocab, extra_ids=100)
    if out_dir is not None:
        hf.save_pretrained(out_dir)
    return hf
