"""The Objective Lab's data: the world's text as token streams, and batches that mix the objectives (span
corruption, salient-span corruption, the supervised mapping stream) by weight."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mto_studio.core.pretraining.recipe import STREAMS, ObjectiveMix
from mto_studio.core.world import World


@dataclass
class Corpus:
    """The world's training text as token ids, ready to be cut into examples of each objective."""

    sentences: list[tuple[list[int], tuple[int, int]]]  # token ids, tail token span [a, b)
    pairs: list[tuple[list[int], list[int]]]  # question ids (+eos), answer ids (+eos)
    sentinel_ids: list[int]
    eos: int
    pad: int


def corpus_texts(world: World) -> list[str]:
    """All text the tokenizer is trained on: the corpus, questions and answers, and the phrase table (so
    templates over this world tokenize into known pieces)."""
    from mto_studio.core.templates.phrases import ATOMIC_RELATIONS, builtin_phrases

    texts = [s for s, _, _ in world.knowledge_sentences("train")]
    texts += [f"{relation}: PersonX and PersonY" for relation in ATOMIC_RELATIONS]  # task prefixes as one piece
    texts += [q for q, _, _ in world.supervised_pairs("train")] + [a for _, a, _ in world.supervised_pairs("train")]
    for phrase in builtin_phrases().values():
        texts += [phrase.clause.replace("{input}", ""), phrase.connective] * 5
    return texts


def build_corpus(world: World, tokenizer) -> Corpus:
    knowledge = world.knowledge_sentences("train")
    encoded = tokenizer([s for s, _, _ in knowledge], add_special_tokens=False, return_offsets_mapping=True)
    sentences = []
    for ids, offsets, (_, (a, b), _) in zip(encoded["input_ids"], encoded["offset_mapping"], knowledge, strict=True):
        inside = [i for i, (s, e) in enumerate(offsets) if e > a and s < b and e > s]
        sentences.append((ids, (inside[0], inside[-1] + 1)))
    pairs_text = world.supervised_pairs("train")
    questions = tokenizer([q for q, _, _ in pairs_text])["input_ids"]
    answers = tokenizer([a for _, a, _ in pairs_text])["input_ids"]
    sentinels = [tokenizer.convert_tokens_to_ids(f"<extra_id_{i}>") for i in range(100)]
    return Corpus(
        sentences, list(zip(questions, answers, strict=True)), sentinels, tokenizer.eos_token_id, tokenizer.pad_token_id
    )


def _noise_mask(length: int, density: float, mean_span: float, rng: random.Random) -> list[bool]:
    """T5's random-span noise mask: about density·length tokens in about that/mean_span spans."""
    n_noise = min(max(1, round(length * density)), length - 1)
    n_spans = max(1, min(round(n_noise / mean_span), n_noise, length - n_noise))

    def partition(total: int, parts: int) -> list[int]:
        cuts = sorted(rng.sample(range(1, total), parts - 1)) if parts > 1 else []
        return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]

    noise = partition(n_noise, n_spans)
    keep = partition(length - n_noise, n_spans)
    mask: list[bool] = []
    for k, n in zip(keep, noise, strict=True):
        mask += [False] * k + [True] * n
    return mask


def _span_example(corpus: Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
    count = rng.randint(1, mix.max_sentences)
    tokens: list[int] = []
    for ids, _ in rng.sample(corpus.sentences, count):
        tokens += ids
    mask = _noise_mask(len(tokens), mix.noise_density, mix.mean_span_length, rng)
    source: list[int] = []
    target: list[int] = []
    sentinel = 0
    previous = False
    for token, noisy in zip(tokens, mask, strict=True):
        if noisy:
            if not previous:
                source.append(corpus.sentinel_ids[sentinel])
                target.append(corpus.sentinel_ids[sentinel])
                sentinel += 1
            target.append(token)
        else:
            source.append(token)
        previous = noisy
    return source + [corpus.eos], target + [corpus.eos]


def _salient_example(corpus: Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
    count = rng.randint(1, mix.max_salient_sentences)
    source: list[int] = []
    target: list[int] = []
    for n, (ids, (a, b)) in enumerate(rng.sample(corpus.sentences, count)):
        source += ids[:a] + [corpus.sentinel_ids[n]] + ids[b:]
        target += [corpus.sentinel_ids[n]] + ids[a:b]
    return source + [corpus.eos], target + [corpus.eos]


def _supervised_example(corpus: Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
    question, answer = rng.choice(corpus.pairs)
    return list(question), list(answer)


_MAKERS = {"span": _span_example, "salient": _salient_example, "supervised": _supervised_example}


def make_batch(corpus: Corpus, mix: ObjectiveMix, batch_size: int, seed: int, step: int):
    """The batch of ``step``: a pure function of (seed, step), so a resumed run sees the same data."""
    rng = random.Random(f"{seed}:{step}")
    names = [name for name, w in zip(STREAMS, mix.weights(), strict=True) if w > 0]
    weights = [w for w in mix.weights() if w > 0]
    streams = rng.choices(names, weights=weights, k=batch_size)
    examples = [_MAKERS[name](corpus, mix, rng) for name in streams]
    return streams, examples
