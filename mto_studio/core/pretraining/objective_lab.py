"""The Objective Lab: pre-train a small T5 from scratch on the built-in world with a weighted objective mix.

Objectives (each example of a batch is drawn from one, by weight):
  span        T5 span corruption over packed knowledge sentences (noise density, mean span length)
  salient     salient-span corruption: the knowledge-bearing phrase (the tail) of each sentence is masked
  supervised  the mapping stream: question/instruction → answer pairs of the Mapping relations

`pretrain(config, out_dir)` is a generator of the trainer's event types; send it Stop()/Pause() between steps.
"""

from __future__ import annotations

import math
import platform
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mto_studio.core.config import check_bounds, from_dict, load_toml, option, to_dict
from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import atomic_write_json, atomic_write_text
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    pause_point,
)
from mto_studio.core.models.loading import pick_device
from mto_studio.core.store.run_folder import RunLog
from mto_studio.core.world import World, WorldConfig, build_world

STREAMS = ("span", "salient", "supervised")
#: the Objective Lab's event log in its output folder (the same format as a run's metrics.jsonl)
PRETRAIN_LOG = "pretrain_log.jsonl"


@dataclass
class TokenizerSection:
    vocab_size: int = option(2000, "pieces in the Unigram vocabulary (100 sentinels come on top)", low=200, high=64000)


@dataclass
class ModelSection:
    d_model: int = option(128, "hidden size", low=16, high=4096)
    d_ff: int = option(512, "feed-forward size", low=16, high=16384)
    num_layers: int = option(3, "encoder layers", low=1, high=48)
    num_decoder_layers: int = option(3, "decoder layers", low=1, high=48)
    num_heads: int = option(4, "attention heads", low=1, high=64)
    d_kv: int = option(32, "size of each attention head", low=4, high=512)
    dropout: float = option(0.0, "dropout rate", low=0.0, high=0.9)
    feed_forward_proj: str = option("gated-gelu", "T5 feed-forward type", choices=("relu", "gated-gelu"))
    tie_embeddings: bool = option(True, "share input and output embeddings (classic T5; halves the vocab weights)")


@dataclass
class ObjectiveMix:
    span: float = option(0.25, "weight of T5 span corruption", low=0.0)
    salient: float = option(0.5, "weight of salient-span corruption (mask the tail)", low=0.0)
    supervised: float = option(0.25, "weight of the supervised mapping stream", low=0.0)
    noise_density: float = option(0.15, "fraction of tokens masked by span corruption", low=0.01, high=0.9)
    mean_span_length: float = option(3.0, "mean length of a corrupted span", low=1.0, high=20.0)
    # One sentence per sequence by default: packing several (each with its own sentinel) kept a 2M-parameter model
    # from learning the sentence-borne facts at all in 6,000 steps, while single sentences learned them in ~1,000.
    max_sentences: int = option(1, "knowledge sentences packed into one span-corruption sequence", low=1, high=32)
    max_salient_sentences: int = option(1, "sentences per salient-span sequence", low=1, high=16)

    def weights(self) -> list[float]:
        return [self.span, self.salient, self.supervised]


@dataclass
class TrainingSection:
    steps: int = option(3000, "optimizer steps", low=1)
    batch_size: int = option(32, "sequences per step", low=1, high=4096)
    lr: float = option(1e-3, "peak learning rate (AdamW)", low=1e-7, high=1.0)
    warmup_steps: int = option(200, "linear warm-up steps", low=0)
    schedule: str = option("cosine", "learning-rate decay after warm-up", choices=("linear", "cosine", "constant"))
    weight_decay: float = option(0.01, "AdamW weight decay", low=0.0, high=1.0)
    seed: int = option(0, "seed for initialisation and data order")
    threads: int = option(1, "torch CPU threads (1 is fastest on 2 shared cores)", low=1, high=256)
    device: str = option("auto", "auto, cpu, cuda or mps")
    log_every: int = option(20, "steps between loss events", low=1)
    eval_every: int = option(500, "steps between zero-shot knowledge checks (0 = only at the end)", low=0)
    eval_size: int = option(200, "probes per zero-shot check", low=1)
    checkpoint_every: int = option(500, "steps between resumable checkpoints (0 = only on stop)", low=0)


@dataclass
class PretrainConfig:
    """A pre-training recipe (resources/recipes/*.toml)."""

    name: str = "mto-tiny"
    description: str = ""
    world: WorldConfig = field(default_factory=WorldConfig)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    model: ModelSection = field(default_factory=ModelSection)
    objectives: ObjectiveMix = field(default_factory=ObjectiveMix)
    training: TrainingSection = field(default_factory=TrainingSection)

    def __post_init__(self) -> None:
        for section in ("tokenizer", "model", "objectives", "training"):
            check_bounds(getattr(self, section), where=f"{section}.")
        if sum(self.objectives.weights()) <= 0:
            raise ConfigError("the objective weights sum to zero", "give span, salient or supervised a weight > 0")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        data = dict(data)
        world = data.pop("world", {})
        cfg = from_dict(cls, data)
        if world:
            if "tail_counts" in world:
                world["tail_counts"] = tuple(world["tail_counts"])
            if "tail_weights" in world:
                world["tail_weights"] = tuple(world["tail_weights"])
            try:
                cfg.world = WorldConfig(**world)
            except TypeError as exc:
                raise ConfigError(
                    f"bad [world] section: {exc}", "known: seed, objects, events, test_fraction"
                ) from None
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        return cls.from_dict(load_toml(path))


# --- corpus -> token streams ---------------------------------------------------------------------------------
@dataclass
class _Corpus:
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


def _build_corpus(world: World, tokenizer) -> _Corpus:
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
    return _Corpus(
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


def _span_example(corpus: _Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
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


def _salient_example(corpus: _Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
    count = rng.randint(1, mix.max_salient_sentences)
    source: list[int] = []
    target: list[int] = []
    for n, (ids, (a, b)) in enumerate(rng.sample(corpus.sentences, count)):
        source += ids[:a] + [corpus.sentinel_ids[n]] + ids[b:]
        target += [corpus.sentinel_ids[n]] + ids[a:b]
    return source + [corpus.eos], target + [corpus.eos]


def _supervised_example(corpus: _Corpus, mix: ObjectiveMix, rng: random.Random) -> tuple[list[int], list[int]]:
    question, answer = rng.choice(corpus.pairs)
    return list(question), list(answer)


_MAKERS = {"span": _span_example, "salient": _salient_example, "supervised": _supervised_example}


def make_batch(corpus: _Corpus, mix: ObjectiveMix, batch_size: int, seed: int, step: int):
    """The batch of ``step``: a pure function of (seed, step), so a resumed run sees the same data."""
    rng = random.Random(f"{seed}:{step}")
    names = [name for name, w in zip(STREAMS, mix.weights(), strict=True) if w > 0]
    weights = [w for w in mix.weights() if w > 0]
    streams = rng.choices(names, weights=weights, k=batch_size)
    examples = [_MAKERS[name](corpus, mix, rng) for name in streams]
    return streams, examples


# --- the loop -------------------------------------------------------------------------------------------------
def build_model(cfg: PretrainConfig, tokenizer):
    from transformers import T5Config, T5ForConditionalGeneration

    m = cfg.model
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=m.d_model,
        d_ff=m.d_ff,
        d_kv=m.d_kv,
        num_layers=m.num_layers,
        num_decoder_layers=m.num_decoder_layers,
        num_heads=m.num_heads,
        dropout_rate=m.dropout,
        feed_forward_proj=m.feed_forward_proj,
        tie_word_embeddings=m.tie_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    return T5ForConditionalGeneration(config)


def knowledge_check(model, tokenizer, world: World, size: int, device: str, seed: int = 0) -> dict[str, Any]:
    """Zero-shot: fill held-out-wording sentences of Filling facts; answer Mapping questions (trained and held-out
    formats). Exact match and ROUGE-L, max over the fact's tails."""
    from mto_studio.core.metrics import score_predictions
    from mto_studio.core.models.generation import generate_answers

    rng = random.Random(seed)
    sets = {
        "fill_heldout": world.fill_probes("heldout"),
        "fill_seen": world.fill_probes("train"),
        "qa_seen": world.question_probes("train"),
        "qa_heldout": world.question_probes("heldout"),
    }
    metrics: dict[str, float] = {}
    per_relation: dict[str, dict[str, float]] = {}
    samples = []
    for name, probes in sets.items():
        chosen = rng.sample(probes, min(size, len(probes)))
        answers = generate_answers(
            model, tokenizer, [p.source for p in chosen], device=device, max_new_tokens=12, batch_size=64
        )
        report = score_predictions(
            [p.relation for p in chosen], [p.source for p in chosen], answers, [p.references for p in chosen]
        )
        metrics[f"{name}_em"] = report.overall["exact_match"]
        metrics[f"{name}_rougeL"] = report.overall["rougeL"]
        if name in ("fill_heldout", "qa_seen"):
            for rel, values in report.per_relation.items():
                per_relation[rel] = {"exact_match": values["exact_match"], "rougeL": values["rougeL"]}
            samples += report.sample(4)
    return {"metrics": metrics, "per_relation": per_relation, "samples": samples}


def pretrain(cfg: PretrainConfig, out_dir: str | Path, *, resume: bool = False, run_id: str | None = None):
    """Pre-train per ``cfg`` into ``out_dir`` (model, tokenizer, world files, log). A generator of events."""
    import torch
    from transformers import get_scheduler

    from mto_studio.core.models.tokenizer import train_t5_tokenizer
    from mto_studio.core.store.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    out = Path(out_dir)
    run_id = run_id or f"pretrain-{cfg.name}"
    step = 0
    try:
        torch.set_num_threads(cfg.training.threads)
        device = pick_device(cfg.training.device)
        out.mkdir(parents=True, exist_ok=True)
        world = build_world(cfg.world)
        tokenizer_dir = out / "tokenizer-build"
        if resume and (out / "checkpoints").is_dir() and (tokenizer_dir / "tokenizer.json").is_file():
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        else:
            tokenizer = train_t5_tokenizer(corpus_texts(world), cfg.tokenizer.vocab_size, tokenizer_dir)
        corpus = _build_corpus(world, tokenizer)
        torch.manual_seed(cfg.training.seed)
        model = build_model(cfg, tokenizer).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.training.lr, weight_decay=cfg.training.weight_decay)
        scheduler = get_scheduler(
            {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[cfg.training.schedule],
            optimizer,
            num_warmup_steps=cfg.training.warmup_steps,
            num_training_steps=cfg.training.steps,
        )
        ckpt_dir = out / "checkpoints"
        log = RunLog(out / PRETRAIN_LOG)
        elapsed_before = 0.0
        if resume:
            found = latest_checkpoint(ckpt_dir)
            if found is None:
                raise MtoError(f"nothing to resume in {out}", "start without --resume")
            state = load_checkpoint(found, model=model, optimizer=optimizer, scheduler=scheduler)
            step = int(state["step"])
            elapsed_before = float(state.get("elapsed_s", 0.0))
            log.truncate_after(step)  # lines a crash logged after the checkpoint are redone
        elif log.path.exists():
            log.path.unlink()
        n_params = sum(p.numel() for p in model.parameters())
        atomic_write_text(out / "recipe.toml", recipe_to_toml(cfg))
        yield RunStarted(
            run_id,
            cfg.name,
            cfg.training.steps,
            {
                "recipe": cfg.to_dict(),
                "parameters": n_params,
                "device": device,
                "vocab": len(tokenizer),
                "sentences": len(corpus.sentences),
                "pairs": len(corpus.pairs),
            },
            folder=str(out),
            resumed_from=step,
        )
    except MtoError as exc:
        yield RunFailed(run_id, exc.one_line(), step, str(out))
        return

    loss_fn = torch.nn.CrossEntropyLoss(reduction="none", ignore_index=-100)
    from mto_studio.core.models.generation import pad_batch

    start = time.perf_counter()
    window_tokens, window_start = 0, time.perf_counter()
    stream_loss: dict[str, list[float]] = {name: [] for name in STREAMS}
    recent: list[float] = []
    model.train()
    last: dict[str, Any] = {}
    while step < cfg.training.steps:
        streams, examples = make_batch(corpus, cfg.objectives, cfg.training.batch_size, cfg.training.seed, step)
        input_ids, attention = pad_batch([e[0] for e in examples], corpus.pad)
        labels, _ = pad_batch([e[1] for e in examples], corpus.pad, label_pad=-100)
        input_ids, attention, labels = input_ids.to(device), attention.to(device), labels.to(device)
        logits = model(input_ids=input_ids, attention_mask=attention, labels=labels).logits
        token_loss = loss_fn(logits.transpose(1, 2), labels)
        valid = (labels != -100).float()
        per_example = (token_loss * valid).sum(1) / valid.sum(1).clamp(min=1)
        loss = (token_loss * valid).sum() / valid.sum()
        if not torch.isfinite(loss):
            save_checkpoint(
                ckpt_dir,
                step=step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                extra={"elapsed_s": elapsed_before + time.perf_counter() - start},
            )
            yield RunFailed(
                run_id,
                f"the loss became {loss.item()} at step {step + 1}: lower the learning rate (now {cfg.training.lr})",
                step,
                str(out),
            )
            return
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        window_tokens += int(attention.sum()) + int(valid.sum())
        recent.append(loss.item())
        for name, value in zip(streams, per_example.tolist(), strict=True):
            stream_loss[name].append(value)
        command = None
        if step % cfg.training.log_every == 0 or step == cfg.training.steps:
            now = time.perf_counter()
            event = StepLogged(
                run_id,
                step,
                cfg.training.steps,
                sum(recent) / len(recent),
                scheduler.get_last_lr()[0],
                step * cfg.training.batch_size,
                window_tokens / max(now - window_start, 1e-9),
                elapsed_before + now - start,
                losses={k: sum(v) / len(v) for k, v in stream_loss.items() if v},
            )
            log.write(event)
            last = {"loss": event.loss, **{f"loss_{k}": v for k, v in event.losses.items()}}
            recent.clear()
            stream_loss = {name: [] for name in STREAMS}
            window_tokens, window_start = 0, now
            command = yield event
        if cfg.training.eval_every and step % cfg.training.eval_every == 0 and step < cfg.training.steps:
            check = knowledge_check(model, tokenizer, world, cfg.training.eval_size, device)
            event = EvalDone(
                run_id,
                step,
                step * cfg.training.batch_size,
                check["metrics"],
                "zero-shot",
                check["per_relation"],
                tuple(check["samples"]),
            )
            log.write(event)
            command = (yield event) or command
        command = yield from pause_point(run_id, step, command)
        periodic = cfg.training.checkpoint_every and step % cfg.training.checkpoint_every == 0
        if periodic or isinstance(command, Stop):
            path = save_checkpoint(
                ckpt_dir,
                step=step,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                extra={"elapsed_s": elapsed_before + time.perf_counter() - start},
            )
            reason = "stop" if isinstance(command, Stop) else "periodic"
            command = (yield CheckpointSaved(run_id, step, str(path), reason)) or command
        if isinstance(command, Stop):
            yield RunFinished(run_id, "stopped", step, last, str(out), elapsed_before + time.perf_counter() - start)
            return

    wall = elapsed_before + time.perf_counter() - start
    check = knowledge_check(model, tokenizer, world, cfg.training.eval_size * 5, device, seed=1)
    yield EvalDone(
        run_id,
        step,
        step * cfg.training.batch_size,
        check["metrics"],
        "zero-shot",
        check["per_relation"],
        tuple(check["samples"]),
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    world.save(out / "world")
    summary = {
        "name": cfg.name,
        "steps": step,
        "wall_time_s": round(wall, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": device,
        "threads": cfg.training.threads,
        "hardware": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPU cores",
        "final_losses": last,
        "knowledge": check["metrics"],
        "per_relation": check["per_relation"],
        "chance_exact_match": world.chance_exact_match(),
        "kinds": world.kinds(),
    }
    atomic_write_json(out / "pretrain_summary.json", summary)
    shutil.rmtree(tokenizer_dir, ignore_errors=True)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    yield CheckpointSaved(run_id, step, str(out), "final")
    yield RunFinished(run_id, "finished", step, {**last, **check["metrics"]}, str(out), wall)


def recipe_to_toml(cfg: PretrainConfig) -> str:
    import tomli_w

    data = cfg.to_dict()
    data["world"]["tail_counts"] = list(data["world"]["tail_counts"])
    data["world"]["tail_weights"] = list(data["world"]["tail_weights"])
    return tomli_w.dumps(data)


def estimate_minutes(cfg: PretrainConfig, ms_per_step: float) -> float:
    return math.ceil(cfg.training.steps * ms_per_step / 60000)
