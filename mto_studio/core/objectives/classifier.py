"""The classifier strategy: a small seq2seq model (the embedded mto-tiny) fine-tuned on (input | target |
phrase) → "filling"/"mapping" from relations whose objective is known (the built-in world's, by construction),
and checked on relations it did not see (3-fold cross-validation over relations)."""

from __future__ import annotations

import random
from collections.abc import Iterator

from mto_studio.core.errors import MtoError
from mto_studio.core.objectives.decision import Decision
from mto_studio.core.templates import Objective

LABELS = {Objective.FILLING: "filling", Objective.MAPPING: "mapping"}
EXAMPLES_PER_RELATION = 40
FOLDS = 3


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


def _train(pairs: list[tuple[str, str]], steps: int, seed: int):
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
    for _ in range(steps):
        batch = rng.sample(range(len(pairs)), min(16, len(pairs)))
        ids, mask = pad_batch([sources[i] for i in batch], tokenizer.pad_token_id)
        labels, _ = pad_batch([targets[i] for i in batch], 0, label_pad=-100)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), tokenizer


def _predict(model, tokenizer, texts: list[str]) -> tuple[Objective, float]:
    """Compare the likelihood of the two labels, averaged over the relation's examples."""
    from mto_studio.core.models.scoring import Scorer

    scorer = Scorer(model, tokenizer)
    filling = scorer.score([(t, "filling") for t in texts])
    mapping = scorer.score([(t, "mapping") for t in texts])
    margin = sum(f.log_likelihood - m.log_likelihood for f, m in zip(filling, mapping, strict=True)) / len(texts)
    return (Objective.FILLING if margin >= 0 else Objective.MAPPING), margin


def classify_relations(relations: list[str], ctx, strategy_name: str) -> Iterator:
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

    models = {}
    held_out_hits = []
    for i, fold in enumerate(folds):
        train_rels = [r for r in names if r not in fold]
        model, tokenizer = _train(pairs_for(train_rels), ctx.classifier_steps, ctx.seed + i)
        models[i] = (model, tokenizer)
        for rel in fold:
            texts = [_text(rel, h, h.references[0], ctx.library) for h in known_heads[rel][:EXAMPLES_PER_RELATION]]
            predicted, _ = _predict(model, tokenizer, texts)
            held_out_hits.append(predicted is known[rel])
    accuracy = sum(held_out_hits) / len(held_out_hits)
    full_model = None
    for relation in relations:
        heads = ctx.examples(relation, max(ctx.n, 10))
        if not heads:
            yield Decision(relation, strategy_name, None, f"{relation} has no examples")
            continue
        fold_index = next((i for i, fold in enumerate(folds) if relation in fold), None)
        if fold_index is not None:
            model, tokenizer = models[fold_index]
            how = "trained without this relation"
        else:
            if full_model is None:
                full_model = _train(pairs_for(names), ctx.classifier_steps, ctx.seed + FOLDS)
            model, tokenizer = full_model
            how = "trained on every labelled relation"
        texts = [_text(relation, h, h.references[0], ctx.library) for h in heads]
        predicted, margin = _predict(model, tokenizer, texts)
        yield Decision(
            relation,
            strategy_name,
            predicted,
            f"classifier says {predicted.value} (margin {margin:+.2f} nats, {how}; "
            f"held-out-relation accuracy {accuracy:.0%})",
            {"margin": margin, "held_out_accuracy": accuracy, "n": len(heads), "training_relations": len(names)},
        )
