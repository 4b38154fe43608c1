"""A Unicode-aware word tokenizer for the text metrics, shared by ROUGE-L, token F1 and exact match.

rouge_score's default tokenizer keeps only ``[a-z0-9]`` runs, so text in any other script has no tokens and scores
0.0 against itself. This one lower-cases (after NFKC, which folds full-width and presentation forms), takes runs of
Unicode letters and digits (with their combining marks and the zero-width joiners Persian writes inside words) as
words, and makes each character of a script written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) a token
of its own. On ASCII text it gives exactly the default tokenizer's tokens, so English scores do not change.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Scripts written without spaces between words: one token per character (with its combining marks).
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3005\u3006"  # 々 〆
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana (and its phonetic extensions)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs, extension A, compatibility
    "\U00020000-\U0003134f"  # CJK ideograph extensions B-G
)
_JOINERS = "\u200c\u200d"  # zero-width non-joiner / joiner, written inside Persian (and Indic) words
# Code points that can hold combining marks: the BMP, the SMP and the variation selectors supplement.
_MARK_SPANS = ((0, 0x1FFFF), (0xE0100, 0xE01EF))


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    marks = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in _mark_ranges()) + _JOINERS
    letter = rf"(?![{_UNSPACED}])[^\W_]"  # a Unicode letter or digit outside the unspaced scripts
    return re.compile(rf"[{_UNSPACED}][{marks}]*|{letter}(?:{letter}|[{marks}])*")


def _mark_ranges() -> list[tuple[int, int]]:
    """The ranges of combining marks (categories Mn, Mc, Me), which ``\\w`` does not match."""
    ranges: list[tuple[int, int]] = []
    for first, last in _MARK_SPANS:
        start = None
        for cp in range(first, last + 2):
            is_mark = cp <= last and unicodedata.category(chr(cp)).startswith("M")
            if is_mark and start is None:
                start = cp
            elif not is_mark and start is not None:
                ranges.append((start, cp - 1))
                start = None
    return ranges


def tokenize(text: str) -> list[str]:
    """The lower-cased word tokens of ``text`` in any script (see the module docstring)."""
    return _token_re().findall(unicodedata.normalize("NFKC", text).lower())


class UnicodeTokenizer:
    """The tokenizer object rouge_score's RougeScorer takes (``tokenize(text) -> list[str]``)."""

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text)
