"""Teacher-forced scoring of rendered pairs: per-example mean log-likelihood and mean 1-based rank of the gold
target tokens (special tokens such as sentinels and EOS are skipped), batched: one forward pass per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mto_studio.core.errors import TemplateError
from mto_studio.core.templates.render import SOFT_TOKEN_RE, Rendered


@dataclass(frozen=True)
class PairScore:
    log_likelihood: float  # mean log p(gold token) over scored tokens
    rank: float  # mean 1-based rank of the gold token among the vocabulary
    tokens: int  # number of scored tokens


class Scorer:
    """Scores (source, target) texts with one model. ``batch_size`` pairs per forward pass."""

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

    def _encode(self, pairs: Sequence[tuple[str, str]]) -> tuple[list[list[int]], list[list[int]]]:
        for source, _ in pairs:
            if SOFT_TOKEN_RE.search(source):
                raise TemplateError(
                    "zero-shot scoring cannot use a template with soft-prompt slots (its prompts are not trained yet)",
                    "score the template without {soft}, or train it first",
                )
        sources = self.tokenizer([s for s, _ in pairs], truncation=True, max_length=self.max_source_length)["input_ids"]
        targets = self.tokenizer([t for _, t in pairs], truncation=True, max_length=self.max_target_length)["input_ids"]
        return sources, targets

    @torch.no_grad()
    def score(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        """Batched: pairs are length-sorted into batches of ``batch_size``; one forward pass each."""
        from mto_studio.core.models.generation import pad_batch

        sources, targets = self._encode(pairs)
        order = sorted(range(len(pairs)), key=lambda i: (len(sources[i]), len(targets[i])))
        out: list[PairScore | None] = [None] * len(pairs)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            ids, mask = pad_batch([sources[i] for i in chunk], self.tokenizer.pad_token_id)
            labels, _ = pad_batch([targets[i] for i in chunk], 0, label_pad=-100)
            logits = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                labels=labels.to(self.device),
                use_cache=False,
            ).logits.float()
            for index, score in zip(chunk, self._reduce_batch(logits, labels.to(self.device)), strict=True):
                out[index] = score
        return out  # type: ignore[return-value]

    @torch.no_grad()
    def score_one_by_one(self, pairs: Sequence[tuple[str, str]]) -> list[PairScore]:
        """The same numbers with one forward pass per pair (the reference the benchmark compares against)."""
        sources, targets = self._encode(pairs)
        out = []
        for source, target in zip(sources, targets, strict=True):
            ids = torch.tensor([source], device=self.device)
            labels = torch.tensor([target], device=self.device)
            logits = self.model(input_ids=ids, labels=labels, use_cache=False).logits.float()
            out.append(self._reduce(logits[0], labels[0]))
        return out

    def _reduce_batch(self, logits: torch.Tensor, labels: torch.Tensor) -> list[PairScore]:
        """All rows at once: gold log-probabilities and ranks for every position, then per-row means over the
        scored (non-special, non-padding) positions."""
        skip = torch.as_tensor(sorted(self.skip_ids), device=labels.device, dtype=labels.dtype)
        keep = (labels != -100) & ~torch.isin(labels, skip)
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

    def _reduce(self, logits: torch.Tensor, labels: torch.Tensor) -> PairScore:
        keep = [i for i, t in enumerate(labels.tolist()) if t != -100 and t not in self.skip_ids]
        if not keep:
            return PairScore(0.0, 1.0, 0)
        positions = torch.tensor(keep, device=logits.device)
        rows = logits[positions]
        gold = labels[positions]
        log_probs = torch.log_softmax(rows, dim=-1).gather(1, gold[:, None]).squeeze(1)
        gold_logits = rows.gather(1, gold[:, None])
        ranks = (rows > gold_logits).sum(dim=1).float() + 1.0
        return PairScore(float(log_probs.mean()), float(ranks.mean()), len(keep))


def score_rendered(scorer: Scorer, rendered: Sequence[Rendered]) -> list[PairScore]:
    return scorer.score([(r.source, r.target) for r in rendered])
