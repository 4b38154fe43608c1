"""Tokenizer-aware rendering: token counts, truncation points and sentinel checks for a rendered pair."""

from __future__ import annotations

from dataclasses import dataclass, field

from mto_studio.core.templates.render import SOFT_TOKEN, SOFT_TOKEN_RE, T5_SENTINEL_RE, Rendered

SOFT_ID = -1  # placeholder id of a soft-prompt position when the tokenizer has no soft tokens


@dataclass(frozen=True)
class TokenView:
    """The tokens of one side. ``kept`` tokens survive truncation at ``max_length`` (EOS included)."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    sentinel: tuple[bool, ...]
    soft: tuple[bool, ...]
    special: tuple[bool, ...]
    max_length: int
    kept: int

    @property
    def count(self) -> int:
        return len(self.tokens)

    @property
    def truncated(self) -> bool:
        return self.count > self.max_length

    def to_json(self) -> dict:
        return {
            "count": self.count,
            "max_length": self.max_length,
            "truncated": self.truncated,
            "kept": self.kept,
            "tokens": list(self.tokens),
        }


@dataclass(frozen=True)
class TokenizedPair:
    source: TokenView
    target: TokenView
    #: sentinel text → whether the tokenizer maps it to exactly one known token
    sentinels: dict[str, bool] = field(default_factory=dict)

    @property
    def sentinels_ok(self) -> bool:
        return all(self.sentinels.values())

    def to_json(self) -> dict:
        return {
            "source": self.source.to_json(),
            "target": self.target.to_json(),
            "sentinels": self.sentinels,
            "sentinels_single_token": self.sentinels_ok,
        }


def _special_ids(tokenizer) -> set[int]:
    return set(getattr(tokenizer, "all_special_ids", []) or [])


def _is_single_token(tokenizer, text: str) -> bool:
    pieces = tokenizer.tokenize(text)
    if len(pieces) != 1:
        return False
    token_id = tokenizer.convert_tokens_to_ids(pieces[0])
    return token_id is not None and token_id != tokenizer.unk_token_id


def _has_soft_tokens(tokenizer) -> bool:
    token_id = tokenizer.convert_tokens_to_ids(SOFT_TOKEN.format(0))
    return token_id is not None and token_id != tokenizer.unk_token_id


def encode_with_soft(tokenizer, text: str) -> tuple[list[int], list[str], list[bool]]:
    """Token ids of ``text`` without BOS or EOS; soft tokens become SOFT_ID when the tokenizer lacks them."""
    ids: list[int]
    tokens: list[str]
    if _has_soft_tokens(tokenizer) or not SOFT_TOKEN_RE.search(text):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        tokens = tokenizer.convert_ids_to_tokens(ids)
        return ids, tokens, [bool(SOFT_TOKEN_RE.fullmatch(t or "")) for t in tokens]
    ids, tokens = [], []
    soft: list[bool] = []
    position = 0
    for match in SOFT_TOKEN_RE.finditer(text):
        chunk = text[position : match.start()]
        if chunk.strip():
            chunk_ids = tokenizer(chunk.strip(), add_special_tokens=False)["input_ids"]
            ids += chunk_ids
            tokens += tokenizer.convert_ids_to_tokens(chunk_ids)
            soft += [False] * len(chunk_ids)
        ids.append(SOFT_ID)
        tokens.append(match.group(0))
        soft.append(True)
        position = match.end()
    tail = text[position:]
    if tail.strip():
        tail_ids = tokenizer(tail.strip(), add_special_tokens=False)["input_ids"]
        ids += tail_ids
        tokens += tokenizer.convert_ids_to_tokens(tail_ids)
        soft += [False] * len(tail_ids)
    return ids, tokens, soft


def adds_bos(tokenizer) -> bool:
    """Whether the tokenizer starts a sequence with its BOS token (BART's ``<s>``; T5 has no BOS)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    ids = tokenizer("a")["input_ids"]
    return bool(ids) and ids[0] == bos


@dataclass(frozen=True)
class ModelSequence:
    """A rendered text as the model sees it, untruncated: ``[BOS] tokens [EOS]``. Soft-prompt positions hold
    -(n+1) for ``<soft_n>`` (the prompt-tuning wrapper replaces them by its embeddings)."""

    ids: tuple[int, ...]
    tokens: tuple[str, ...]
    soft: tuple[bool, ...]
    bos: bool
    eos: bool

    def fit(self, max_length: int) -> tuple[tuple[int, ...], bool]:
        """The ids truncated to ``max_length`` as the tokenizer would: BOS and EOS kept, the text cut between;
        and whether anything was cut."""
        if len(self.ids) <= max_length:
            return self.ids, False
        head = self.ids[: 1 if self.bos else 0]
        tail = self.ids[-1:] if self.eos else ()
        room = max(0, max_length - len(head) - len(tail))
        return head + self.ids[len(head) : len(head) + room] + tail, True


def model_sequence(tokenizer, text: str) -> ModelSequence:
    """The one place a rendered text becomes the model's ids (render's token view, training, generation, scoring):
    the family's BOS when its tokenizer adds one (BART), the text (soft prompts as placeholders), then EOS. For T5
    tokenizers (no BOS) the ids are the text's and EOS, as they always were."""
    ids, tokens, soft = encode_with_soft(tokenizer, text)
    soft_numbers = iter(int(m.group(1)) for m in SOFT_TOKEN_RE.finditer(text))
    ids = [-(next(soft_numbers) + 1) if is_soft else i for i, is_soft in zip(ids, soft, strict=True)]
    bos = adds_bos(tokenizer)
    if bos:
        ids, tokens, soft = [tokenizer.bos_token_id, *ids], [tokenizer.bos_token, *tokens], [False, *soft]
    eos = tokenizer.eos_token_id is not None
    if eos:
        ids, tokens, soft = [*ids, tokenizer.eos_token_id], [*tokens, tokenizer.eos_token], [*soft, False]
    return ModelSequence(tuple(ids), tuple(tokens), tuple(soft), bos, eos)


def encode_for_model(tokenizer, text: str, max_length: int) -> tuple[tuple[int, ...], bool]:
    """``text``'s model ids truncated to ``max_length`` (BOS and EOS kept) and whether it was truncated."""
    return model_sequence(tokenizer, text).fit(max_length)


def _view(tokenizer, text: str, max_length: int, specials: set[int], sentinel_texts: set[str]) -> TokenView:
    sequence = model_sequence(tokenizer, text)
    ids, tokens, soft = sequence.ids, sequence.tokens, sequence.soft
    sentinel = [t in sentinel_texts or bool(T5_SENTINEL_RE.fullmatch(t or "")) for t in tokens]
    special = [i in specials for i in ids]
    return TokenView(
        tuple(tokens), tuple(ids), tuple(sentinel), tuple(soft), tuple(special), max_length, min(len(ids), max_length)
    )


def tokenize_rendered(
    tokenizer, rendered: Rendered, *, max_source_length: int = 512, max_target_length: int = 128
) -> TokenizedPair:
    """Tokenize both sides of ``rendered`` and check that each sentinel is one known token."""
    mask_token = getattr(tokenizer, "mask_token", None)
    texts = set(T5_SENTINEL_RE.findall(rendered.source + " " + rendered.target))
    sentinel_strings = {f"<extra_id_{n}>" for n in texts}
    if mask_token and mask_token in rendered.source:
        sentinel_strings.add(mask_token)
    checks = {s: _is_single_token(tokenizer, s) for s in sorted(sentinel_strings)}
    specials = _special_ids(tokenizer)
    return TokenizedPair(
        source=_view(tokenizer, rendered.source, max_source_length, specials, sentinel_strings),
        target=_view(tokenizer, rendered.target, max_target_length, specials, sentinel_strings),
        sentinels=checks,
    )
