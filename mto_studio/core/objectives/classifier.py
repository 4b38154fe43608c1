"""The classifier strategy: a small seq2seq model (the embedded mto-tiny) fine-tuned on (input | target |
phrase) → "filling"/"mapping" from relations whose objective is known (the built-in world's, by construction),
and checked on relations it did not see (3-fold cross-validation over relations).

Its inputs do not depend on the model being analysed, so the trained weights are cached (see classifier_cache):
the first analysis trains (with progress events), the following ones load. A classifier no better than chance on
held-out relations, or whose margin's bootstrap interval includes 0, is inconclusive and decides nothing."""

from __future__ import annotations

import random
from collections.abc import Generator

from mto_studio.core.errors import MtoError
from mto_studio.core.jobs.events import Progress
from mto_studio.core.objectives.classifier_cache import ClassifierCache
from mto_studio.core.objectives.decision import INCONCLUSIVE, Decision, bootstrap_ci, interval_text, signed
from mto_studio.core.templates import Objective

LABELS = {Objective.FILLING: "filling", Objective.MAPPING: "mapping"}
EXAMPLES_PER_RELATION = 40
FOLDS = 3
#: two labels: a classifier must beat this on relations it did not see to be believed
CHANCE = 0.5
#: a progress event every this many training steps
PROGRESS_EVERY = 10


def _text(relation: str, head, target: str, library) -> str:
    try:
        phrase = library.phrases.lookup(relation).connective
    except MtoError:
        phrase = ""
    return f"objective of: {head.input} | {target} | {phrase}"


def _labelled_world():
    """(relation → heads, relation → objective) of the built-in world's training split."""
    from mto_studio.core.training.data import load_for_run
    from mto_studio.core.world import RELATION_KIND

    data = load_for_run("world", None, None, "train")
    heads: dict[str, list] = {}
    for head in data.heads:
        heads.setdefault(head.relation, []).append(head)
    return heads, {r: RELATION_KIND[r] for r in heads}


def _train(pairs: list[tuple[str, str]], steps: int, seed: int, label: str) -> Generator[Progress, None, object]:
    """Fine-tune a fresh mto-tiny; yields a Progress every PROGRESS_EVERY steps and returns the model."""
    import torch

    from mto_studio.core.models.generation import pad_batch
    from mto_studio.core.models.loading import load_seq2seq

    torch.manual_seed(seed)
    model, tokenizer = load_seq2seq(None)
    sources = tokenizer([s for s, _ in pairs], truncation=True, max_length=96)["input_ids"]
    targets = tokenizer([t for _, t in pairs])["input_ids"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = random.Random(seed)
    model.train()
    for step in range(steps):
        batch = rng.sample(range(len(pairs)), min(16, len(pairs)))
        ids, mask = pad_batch([sources[i] for i in batch], tokenizer.pad_token_id)
        labels, _ = pad_batch([targets[i] for i in batch], 0, label_pad=-100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % PROGRESS_EVERY == 0 or step + 1 == steps:
            yield Progress(
                f"classifier:{label}", step + 1, steps, f"training the classifier ({label}): step {step + 1}"
            )
    return model.eval()


def _margins(scorer, texts: list[str]) -> list[float]:
    """log p(filling) − log p(mapping) per text (one pass: the encoder runs once per text for both labels)."""
    scores = scorer.score([(t, label) for label in ("filling", "mapping") for t in texts])
    filling, mapping = scores[: len(texts)], scores[len(texts) :]
    return [f.log_likelihood - m.log_likelihood for f, m in zip(filling, mapping, strict=True)]


def _scorer(model):
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.models.scoring import Scorer

    _, tokenizer = load_seq2seq(None)
    return Scorer(model, tokenizer)


def classify_relations(relations: list[str], ctx, strategy_name: str) -> Generator:
    """Decisions per relation; Progress events while the classifier trains (first use of a cache key only)."""
    from mto_studio.core.models.loading import embedded_model_dir

    if not (embedded_model_dir() / "config.json").is_file():
        for relation in relations:
            yield Decision(
                relation,
                strategy_name,
                None,
                "the embedded model mto-tiny is missing, so the classifier cannot be trained",
            )
        return
    known_heads, known = _labelled_world()
    rng = random.Random(ctx.seed)
    names = sorted(known)
    rng.shuffle(names)
    folds = [names[i::FOLDS] for i in range(FOLDS)]

    def pairs_for(rels: list[str]) -> list[tuple[str, str]]:
        out = []
        for rel in rels:
            for head in sorted(known_heads[rel], key=lambda h: h.id)[:EXAMPLES_PER_RELATION]:
                out.append((_text(rel, head, head.references[0], ctx.library), LABELS[known[rel]]))
        return out

    cache = ClassifierCache(ctx.classifier_steps, ctx.seed, [pairs_for(names), *(pairs_for(f) for f in folds)])

    def model_for(part: str, pairs: list[tuple[str, str]], seed: int) -> Generator[Progress, None, object]:
        model = cache.load(part)
        if model is None:
            model = yield from _train(pairs, ctx.classifier_steps, seed, part)
            cache.save(part, model)
        return model

    scorers = {}
    held_out_hits = []
    accuracy = cache.held_out_accuracy(FOLDS)
    for i, fold in enumerate(folds):
        train_rels = [r for r in names if r not in fold]
        model = yield from model_for(f"fold{i}", pairs_for(train_rels), ctx.seed + i)
        scorers[i] = _scorer(model)
        for rel in fold if accuracy is None else []:
            texts = [_text(rel, h, h.references[0], ctx.library) for h in known_heads[rel][:EXAMPLES_PER_RELATION]]
            margin = sum(_margins(scorers[i], texts)) / len(texts)
            predicted = Objective.FILLING if margin >= 0 else Objective.MAPPING
            held_out_hits.append(predicted is known[rel])
    if accuracy is None:
        accuracy = sum(held_out_hits) / len(held_out_hits)
        cache.save_held_out_accuracy(accuracy)
    full_scorer = None
    for relation in relations:
        heads = ctx.examples(relation, max(ctx.n, 10))
        if not heads:
            yield Decision(relation, strategy_name, None, f"{relation} has no examples")
            continue
        fold_index = next((i for i, fold in enumerate(folds) if relation in fold), None)
        if fold_index is not None:
            scorer = scorers[fold_index]
            how = "trained without this relation"
        else:
            if full_scorer is None:
                full_scorer = _scorer((yield from model_for("full", pairs_for(names), ctx.seed + FOLDS)))
            scorer = full_scorer
            how = "trained on every labelled relation"
        texts = [_text(relation, h, h.references[0], ctx.library) for h in heads]
        margins = _margins(scorer, texts)
        margin = sum(margins) / len(margins)
        low, high = bootstrap_ci(margins, ctx.bootstrap, ctx.seed)
        predicted = Objective.FILLING if margin >= 0 else Objective.MAPPING
        evidence = {
            "margin": margin,
            "margin_ci": [low, high],
            "held_out_accuracy": accuracy,
            "n": len(heads),
            "training_relations": len(names),
            "cached": cache.hits > 0,
        }
        why = ""
        if accuracy <= CHANCE:
            why = f"held-out-relation accuracy {accuracy:.0%} is not above chance ({CHANCE:.0%})"
        elif low <= 0 <= high and ctx.bootstrap:
            why = f"margin {signed(margin)} nats, {interval_text(low, high)} includes 0"
        if why:
            yield Decision(
                relation,
                strategy_name,
                None,
                f"inconclusive ({why}); it leans {predicted.value}",
                {**evidence, INCONCLUSIVE: True, "leaning": predicted.value},
            )
            continue
        yield Decision(
            relation,
            strategy_name,
            predicted,
            f"classifier says {predicted.value} (margin {margin:+.2f} nats, {interval_text(low, high)}, {how}; "
            f"held-out-relation accuracy {accuracy:.0%})",
            evidence,
        )
