"""Evaluating a run on multiple-choice (QA) data: accuracy of the generated text matched to the nearest choice, and
of the choices ranked by the run's model (teacher-forced mean log-likelihood of each choice rendered as the target,
batched over (question, choice) pairs, through the run's method so prompt tuning and LoRA score what they train).

The scores join the run's MetricReport: overall and per relation ``accuracy`` and ``matched`` (and, with ranking,
``accuracy_ranked``) next to ROUGE-L, and per item the same keys as 0/1 plus ``choice`` (the matched index, -1 for no
match), so predictions.jsonl lets anyone recompute the accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mto_studio.core.metrics import MetricReport, Scored, match_choice, rank_choices

#: The keys a QA run's metrics carry on top of the completion metrics (``accuracy_ranked`` only when ranking is on).
QA_METRICS = ("accuracy", "matched", "accuracy_ranked")


@torch.no_grad()
def choice_log_likelihoods(
    method,
    sources: Sequence[Sequence[int]],
    tasks: Sequence[int],
    choice_targets: Sequence[Sequence[Sequence[int]]],
    *,
    pad_id: int,
    batch_size: int = 64,
    device: str = "cpu",
) -> list[list[float]]:
    """Per question, each choice's mean log-probability as the target of the question's source (higher = more
    likely). ``method`` is the run's MethodRun (its ``inputs`` place soft prompts); ``batch_size`` (question,
    choice) pairs per forward pass; padding is masked, so any batch size gives the same scores."""
    from mto_studio.core.models.generation import pad_batch

    pairs = [(q, c) for q, targets in enumerate(choice_targets) for c in range(len(targets))]
    scores: list[list[float]] = [[0.0] * len(targets) for targets in choice_targets]
    module = method.module
    was_training = module.training
    module.eval()
    try:
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            ids, mask = pad_batch([sources[q] for q, _ in chunk], pad_id)
            labels, _ = pad_batch([choice_targets[q][c] for q, c in chunk], 0, label_pad=-100)
            task_ids = torch.as_tensor([tasks[q] for q, _ in chunk])
            ids, mask, labels, task_ids = ids.to(device), mask.to(device), labels.to(device), task_ids.to(device)
            out = method.generator(**method.inputs(ids, task_ids), attention_mask=mask, labels=labels, use_cache=False)
            logp = torch.log_softmax(out.logits.float(), dim=-1)
            keep = labels != -100
            gold = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * keep
            means = gold.sum(-1) / keep.sum(-1).clamp(min=1)
            for (q, c), value in zip(chunk, means.tolist(), strict=True):
                scores[q][c] = value
    finally:
        module.train(was_training)
    return scores


def add_choice_scores(
    report: MetricReport,
    choices: Sequence[Sequence[str]],
    answers: Sequence[int],
    ranking: Sequence[Sequence[float]] | None = None,
) -> MetricReport:
    """``report`` (ROUGE-L etc. of the generated texts, one item per question) with accuracy added: each item's
    prediction matched to its question's choices (``match_choice``), and with ``ranking`` the top-scored choice."""
    items = []
    for i, item in enumerate(report.items):
        chosen = match_choice(item.prediction, choices[i])
        extra = {
            "accuracy": float(chosen == answers[i]),
            "matched": float(chosen is not None),
            "choice": float(-1 if chosen is None else chosen),
        }
        if ranking is not None:
            extra["accuracy_ranked"] = float(rank_choices(ranking[i]) == answers[i])
        items.append(Scored(item.relation, item.input, item.prediction, item.references, {**item.scores, **extra}))
    keys = [k for k in QA_METRICS if ranking is not None or k != "accuracy_ranked"]

    def mean(group: list[Scored]) -> dict[str, float]:
        return {k: (sum(s.scores[k] for s in group) / len(group) if group else 0.0) for k in keys}

    per_relation = {
        rel: {**values, **mean([s for s in items if s.relation == rel])} for rel, values in report.per_relation.items()
    }
    return MetricReport({**report.overall, **mean(items)}, per_relation, items)
