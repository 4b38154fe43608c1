"""Teacher-forced scoring of rendered pairs: per-example mean log-likelihood and mean 1-based rank of the gold
target tokens (special tokens such as sentinels and EOS are skipped), batched.

The encoder runs once per distinct source (pairs that share a source, such as a gold answer and its distractors,
reuse its output), identical pairs are scored once, and every pair asked for is remembered for the scorer's life:
the analyzer prefetches all the pairs of all templates and relations in one pass (``prefetch`` yields progress
after each forward pass) and its strategies then read the scores back. A pair may carry the character span of the
answer in its target, ``(source, target, (start, end))``: only the target tokens that overlap it are scored (BART's
denoising target is the whole rebuilt text, of which only the filled gap is the answer)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from mto_studio.core.errors import TemplateError
from mto_studio.core.templates.render import SOFT_TOKEN_RE, Rendered

#: (source, target) or (source, target, (answer start, answer end) in the target's characters)
Pair = tuple[str, str] | tuple[str, str, tuple[int, int] | None]


@dataclass(frozen=True)
class PairScore:
    log_likelihood: float  # mean log p(gold token) over scored tokens
    rank: float  # mean 1-based rank of the gold token among the vocabulary
    tokens: int  # number of scored tokens


def _key(pair: Pair) -> tuple[str, str, tuple[int, int] | None]:
    span = pair[2] if len(pair) > 2 else None
    return (pair[0], pair[1], tuple(span) if span is not None else None)  # type: ignore[return-value]


class Scorer:
    """Scores (source, target) texts with one model. ``batch_size`` sources per encoder pass and pairs per decoder
    pass."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_source_length: int = 256,
        max_target_length: int = 64,
    ) -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.batch_size = batch_size
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.skip_ids = set(getattr(tokenizer, "all_special_ids", []) or [])
        sentinels = [tokenizer.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(100)]
        self.skip_ids.update(i for i in sentinels if i is not None and i != tokenizer.unk_token_id)
        self._memo: dict[tuple[str, str, tuple[int, int] | None], PairScore] = {}
        #: forward passes run (encoder and decoder batches), for tests and benchmarks
        self.passes = {"encoder": 0, "decoder": 0}

    def _check(self, pairs: Sequence[Pair]) -> None:
        for pair in pairs:
            if SOFT_TOKEN_RE.search(pair[0]):
                raise TemplateError(
                    "zero-shot scoring cannot use a template with soft-prompt slots (its prompts are not trained yet)",
                    "score the template without {soft}, or train it first",
                )

    def _encode(self, pairs: Sequence[Pair]) -> tuple[list[list[int]], list[list[int]]]:
        self._check(pairs)
        sources = self.tokenizer([p[0] for p in pairs], truncation=True, max_length=self.max_source_length)
        targets = self.tokenizer([p[1] for p in pairs], truncation=True, max_length=self.max_target_length)
        return sources["input_ids"], targets["input_ids"]

    def _answer_masks(self, pairs: Sequence[Pair], targets: list[list[int]]) -> list[list[bool] | None]:
        """Per pair with an answer span: which target tokens overlap it (None: every token may be scored)."""
        out: list[list[bool] | None] = [None] * len(pairs)
        spans = [(i, _key(p)[2]) for i, p in enumerate(pairs) if _key(p)[2] is not None]
        if not spans:
            return out
        texts = [pairs[i][1] for i, _ in spans]
        try:
            enc = self.tokenizer(texts, truncation=True, max_length=self.max_target_length, return_offsets_mapping=True)
        except (NotImplementedError, ValueError):  # a slow tokenizer has no offsets: every target token is scored
            return out
        for (i, span), offsets in zip(spans, enc["offset_mapping"], strict=True):
            start, end = span  # type: ignore[misc]
            out[i] = [b > a and a < end and b > start for a, b in offsets]
            if len(out[i]) != len(targets[i]):  # type: ignore[arg-type]
                out[i] = None
        return out

    def prefetch(self, pairs: Sequence[Pair]) -> Iterator[tuple[int, int]]:
        """Score the pairs not scored yet, yielding (forward passes done, forward passes in all) after each pass."""
        todo: dict[tuple[str, str, tuple[int, int] | None], Pair] = {}
        for pair in pairs:
            key = _key(pair)
            if key not in self._memo and key not in todo:
                todo[key] = pair
        if not todo:
            return
        keys = list(todo)
        batch = [todo[k] for k in keys]
        sources, targets = self._encode(batch)
        masks = self._answer_masks(batch, targets)
        distinct: dict[tuple[int, ...], int] = {}
        source_of = [distinct.setdefault(tuple(s), len(distinct)) for s in sources]
        unique = list(distinct)
        enc_order = sorted(range(len(unique)), key=lambda i: len(unique[i]))
        dec_order = sorted(range(len(batch)), key=lambda i: (len(sources[i]), len(targets[i])))
        enc_batches = [enc_order[s : s + self.batch_size] for s in range(0, len(enc_order), self.batch_size)]
        dec_batches = [dec_order[s : s + self.batch_size] for s in range(0, len(dec_order), self.batch_size)]
        total = len(enc_batches) + len(dec_batches)
        done = 0
        states: list[torch.Tensor | None] = [None] * len(unique)
        with torch.no_grad():
            for chunk in enc_batches:
                for index, hidden in zip(chunk, self._run_encoder([list(unique[i]) for i in chunk]), strict=True):
                    states[index] = hidden
                done += 1
                yield done, total
            for chunk in dec_batches:
                scores = self._run_decoder(
                    [states[source_of[i]] for i in chunk],  # type: ignore[misc]
                    [targets[i] for i in chunk],
                    [masks[i] for i in chunk],
                )
                for index, score in zip(chunk, scores, strict=True):
                    self._memo[keys[index]] = score
                done += 1
                yield done, total

    def _run_encoder(self, sources: list[list[int]]) -> list[torch.Tensor]:
        from mto_studio.core.models.generation import pad_batch

        ids, mask = pad_batch(sources, self.tokenizer.pad_token_id)
        hidden = self.model.get_encoder()(
            input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
        ).last_hidden_state
        self.passes["encoder"] += 1
        return [hidden[row, : len(s)] for row, s in enumerate(sources)]

    def _run_decoder(
        self, states: list[torch.Tensor], targets: list[list[int]], masks: list[list[bool] | None]
    ) -> list[PairScore]:
        from transformers.modeling_outputs import BaseModelOutput

        from mto_studio.core.models.generation import pad_batch

        width = max(s.shape[0] for s in states)
        hidden = states[0].new_zeros((len(states), width, states[0].shape[1]))
        attention = torch.zeros((len(states), width), dtype=torch.long, device=hidden.device)
        for row, state in enumerate(states):
            hidden[row, : state.shape[0]] = state
            attention[row, : state.shape[0]] = 1
        labels, _ = pad_batch(targets, 0, label_pad=-100)
        labels = labels.to(self.device)
        logits = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
            attention_mask=attention,
            labels=labels,
            use_cache=False,
        ).logits.float()
        self.passes["decoder"] += 1
        answer = torch.ones_like(labels, dtype=torch.bool)
        for row, mask in enumerate(masks):
            if mask is not None:
                answer[row, : len(mask)] = torch.as_tensor(mask, dtype=torch.bool)
        return self._reduce_batch(logits, labels, answer)

    def score(self, pairs: Sequence[Pair]) -> list[PairScore]:
        """Scores in the order of ``pairs`` (pairs scored before are not scored again)."""
        for _ in self.prefetch(pairs):
            pass
        return [self._memo[_key(p)] for p in pairs]

    @torch.no_grad()
    def score_one_by_one(self, pairs: Sequence[Pair]) -> list[PairScore]:
        """The same numbers with one full forward pass per pair (the reference the benchmark compares against)."""
        sources, targets = self._encode(pairs)
        masks = self._answer_masks(pairs, targets)
        out = []
        for source, target, mask in zip(sources, targets, masks, strict=True):
            ids = torch.tensor([source], device=self.device)
            labels = torch.tensor([target], device=self.device)
            logits = self.model(input_ids=ids, labels=labels, use_cache=False).logits.float()
            out.append(self._reduce(logits[0], labels[0], mask))
        return out

    def _reduce_batch(self, logits: torch.Tensor, labels: torch.Tensor, answer: torch.Tensor) -> list[PairScore]:
        """All rows at once: gold log-probabilities and ranks for every position, then per-row means over the
        scored (non-special, non-padding, in the answer) positions."""
        skip = torch.as_tensor(sorted(self.skip_ids), device=labels.device, dtype=labels.dtype)
        keep = (labels != -100) & ~torch.isin(labels, skip) & answer
        gold = labels.clamp(min=0)
        log_probs = torch.log_softmax(logits, dim=-1).gather(2, gold[..., None]).squeeze(2)
        gold_logits = logits.gather(2, gold[..., None])
        ranks = (logits > gold_logits).sum(dim=2).float() + 1.0
        counts = keep.sum(dim=1)
        weights = keep.float()
        mean_ll = (log_probs * weights).sum(1) / counts.clamp(min=1)
        mean_rank = (ranks * weights).sum(1) / counts.clamp(min=1)
        return [
            PairScore(float(ll), float(rank), int(n)) if n else PairScore(0.0, 1.0, 0)
            for ll, rank, n in zip(mean_ll.tolist(), mean_rank.tolist(), counts.tolist(), strict=True)
        ]

    def _reduce(self, logits: torch.Tensor, labels: torch.Tensor, mask: list[bool] | None = None) -> PairScore:
        keep = [
            i
            for i, t in enumerate(labels.tolist())
            if t != -100 and t not in self.skip_ids and (mask is None or mask[i])
        ]
        if not keep:
            return PairScore(0.0, 1.0, 0)
        positions = torch.tensor(keep, device=logits.device)
        rows = logits[positions]
        gold = labels[positions]
        log_probs = torch.log_softmax(rows, dim=-1).gather(1, gold[:, None]).squeeze(1)
        gold_logits = rows.gather(1, gold[:, None])
        ranks = (rows > gold_logits).sum(dim=1).float() + 1.0
        return PairScore(float(log_probs.mean()), float(ranks.mean()), len(keep))


def pair_of(rendered: Rendered) -> Pair:
    """The scorer's pair for a rendered example. A rebuilt target (a denoising family's Filling, e.g. BART: the
    whole text with the gap filled) carries its answer's span, so only the answer is scored; other targets are
    scored whole, as before (their special tokens, such as T5's sentinels, are skipped anyway)."""
    span = rendered.answer_span if rendered.rebuilt else None
    return (rendered.source, rendered.target, (span[0], span[1])) if span else (rendered.source, rendered.target)


def score_rendered(scorer: Scorer, rendered: Sequence[Rendered]) -> list[PairScore]:
    return scorer.score([pair_of(r) for r in rendered])
