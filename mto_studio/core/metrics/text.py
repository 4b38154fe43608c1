"""Text metrics over heads: ROUGE-L F1 (max over references), exact match, token F1, unique predictions."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from mto_studio.core.metrics.tokenize import UnicodeTokenizer, tokenize
from mto_studio.core.templates.render import SOFT_TOKEN_RE, T5_SENTINEL_RE

_SPECIAL = re.compile(r"</s>|<pad>|<unk>|<s>|<mask>")


def normalize(text: str) -> str:
    """The metric tokens joined by single spaces: lower-cased, punctuation dropped (the SQuAD-style normal form,
    in any script; for ASCII text the same as lower-casing and replacing punctuation and whitespace runs by one
    space)."""
    return " ".join(tokenize(text))


def extract_answer(generated: str, frame: tuple[str, str] | None = None) -> str:
    """The answer in a generated string: for a Filling output ``<extra_id_0> answer <extra_id_1> …`` the text
    of the first span; otherwise the text with special, sentinel and soft tokens removed.

    ``frame`` (Rendered.frame: the text before and after the answer in a rebuilt target, e.g. BART's denoising) is
    taken off the generated full text: the text before when the output starts with it, then the text after when
    what is left ends with it (spacing compared loosely). An output that does not start with the text before is
    returned whole."""
    if frame is not None:
        return _strip_frame(extract_answer(generated), frame)
    text = _SPECIAL.sub(" ", generated)
    match = T5_SENTINEL_RE.search(text)
    if match and not text[: match.start()].strip():
        rest = text[match.end() :]
        following = T5_SENTINEL_RE.search(rest)
        text = rest[: following.start()] if following else rest
    text = T5_SENTINEL_RE.sub(" ", text)
    text = SOFT_TOKEN_RE.sub(" ", text)
    return " ".join(text.split())


def _strip_frame(text: str, frame: tuple[str, str]) -> str:
    before, after = (" ".join(part.split()) for part in frame)
    if not text.startswith(before):
        return text
    text = text[len(before) :].strip()
    if after and text.endswith(after):
        text = text[: len(text) - len(after)].strip()
    return text


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=UnicodeTokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    if not prediction.strip() or not reference.strip():
        return float(normalize(prediction) == normalize(reference) and bool(reference.strip()))
    return _scorer().score(reference, prediction)["rougeL"].fmeasure


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokenize(prediction), tokenize(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def best_over_references(prediction: str, references: Sequence[str]) -> dict[str, float]:
    """Each metric as the max over the head's references."""
    if not references:
        return {"rougeL": 0.0, "exact_match": 0.0, "token_f1": 0.0}
    return {
        "rougeL": max(rouge_l(prediction, r) for r in references),
        "exact_match": max(exact_match(prediction, r) for r in references),
        "token_f1": max(token_f1(prediction, r) for r in references),
    }
