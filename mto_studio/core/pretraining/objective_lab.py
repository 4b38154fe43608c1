"""The Objective Lab: pre-train a small T5 from scratch on the built-in world with a weighted objective mix.

Objectives (each example of a batch is drawn from one, by weight):
  span        T5 span corruption over packed knowledge sentences (noise density, mean span length)
  salient     salient-span corruption: the knowledge-bearing phrase (the tail) of each sentence is masked
  supervised  the mapping stream: question/instruction → answer pairs of the Mapping relations

`pretrain(config, out_dir)` is a generator of the trainer's event types; send it Stop()/Pause() between steps.
"""

from __future__ import annotations

import platform
import random
import shutil
import time
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import (
    atomic_write_json,
    atomic_write_text,
    check_free_space,
    disk_full_error,
    free_space,
    megabytes,
    writing,
)
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    EventStream,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    pause_point,
)
from mto_studio.core.models.loading import pick_device
from mto_studio.core.pretraining.corpus import build_corpus, corpus_texts, make_batch
from mto_studio.core.pretraining.recipe import (
    STREAMS,
    ModelSection,
    ObjectiveMix,
    PretrainConfig,
    TrainingSection,
    recipe_to_toml,
)
from mto_studio.core.store.locks import FolderLock
from mto_studio.core.store.run_folder import RunLog
from mto_studio.core.world import World, build_world

#: the names the app imports from here; the recipe lives in recipe.py and the data in corpus.py
__all__ = [
    "PRETRAIN_LOG",
    "STREAMS",
    "ModelSection",
    "ObjectiveMix",
    "PretrainConfig",
    "TrainingSection",
    "build_model",
    "corpus_texts",
    "knowledge_check",
    "pretrain",
]
#: the Objective Lab's event log in its output folder (the same format as a run's metrics.jsonl)
PRETRAIN_LOG = "pretrain_log.jsonl"


def build_model(cfg: PretrainConfig, tokenizer):
    return _t5(cfg, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)


def _t5(cfg: PretrainConfig, vocab_size: int, pad_id: int, eos_id: int):
    from transformers import T5Config, T5ForConditionalGeneration

    m = cfg.model
    # T5Config takes the base config's keyword arguments (tie_word_embeddings, ...) that its signature omits
    config = T5Config(  # type: ignore[call-arg]
        vocab_size=vocab_size,
        d_model=m.d_model,
        d_ff=m.d_ff,
        d_kv=m.d_kv,
        num_layers=m.num_layers,
        num_decoder_layers=m.num_decoder_layers,
        num_heads=m.num_heads,
        dropout_rate=m.dropout,
        feed_forward_proj=m.feed_forward_proj,
        tie_word_embeddings=m.tie_embeddings,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        decoder_start_token_id=pad_id,
    )
    return T5ForConditionalGeneration(config)


def space_needed(cfg: PretrainConfig, checkpoints: Path) -> int:
    """Bytes a pre-training run will still write (estimated from the recipe's model, built on the meta device):
    up to KEEP + 1 checkpoints at once (weights and AdamW's two moments), less those already in ``checkpoints``;
    the final model; and room for the tokenizer, the world and the log."""
    import torch

    from mto_studio.core.store.checkpoint import KEEP, checkpoint_bytes, estimate_checkpoint_size

    try:
        with torch.device("meta"):
            model = _t5(cfg, cfg.tokenizer.vocab_size + 100, 0, 1)  # the tokenizer adds 100 sentinels
    except Exception:  # the recipe cannot make a model: building it for real says why, in its place
        return 0
    count = KEEP + 1 if cfg.training.checkpoint_every else 1
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    checkpoints_needed = count * estimate_checkpoint_size(model, best_copy=False) - checkpoint_bytes(checkpoints)
    return max(0, checkpoints_needed) + weights + 5_000_000


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


def pretrain(
    cfg: PretrainConfig, out_dir: str | Path, *, resume: bool = False, run_id: str | None = None
) -> EventStream:
    """Pre-train per ``cfg`` into ``out_dir`` (model, tokenizer, world files, log). A generator of events. It holds
    the folder's lock while it writes there: a second writer gets FolderBusyError before anything is written."""
    with FolderLock(out_dir, what="pre-training folder"):
        return (yield from _pretrain(cfg, Path(out_dir), resume=resume, run_id=run_id))


def _pretrain(cfg: PretrainConfig, out: Path, *, resume: bool, run_id: str | None) -> EventStream:
    import torch
    from transformers import get_scheduler

    from mto_studio.core.models.tokenizer import train_t5_tokenizer
    from mto_studio.core.store.checkpoint import latest_checkpoint, load_checkpoint, remove_temporary, save_checkpoint

    run_id = run_id or f"pretrain-{cfg.name}"
    step = 0
    ckpt_dir = out / "checkpoints"
    remove_temporary(ckpt_dir)  # what killed or failed checkpoint writes left (this job holds the folder's lock)
    check_free_space(out, space_needed(cfg, ckpt_dir), "this pre-training run")

    def disk_full(exc: BaseException) -> RunFailed | None:
        """The failure for a full disk (the last checkpoint stays intact), or None when the disk is not full."""
        full = disk_full_error(exc, "the pre-training folder")
        if full is None:
            return None
        found = latest_checkpoint(ckpt_dir)
        kept, then = (
            (f"the checkpoint of step {int(found.name.split('-')[1])} is intact", "resume")
            if found is not None
            else ("no checkpoint was written yet", "start it again")
        )
        short = max(space_needed(cfg, ckpt_dir) - (free_space(out) or 0), 1)
        reason = f"disk full while writing {full.what} in {out}; {kept}; free about {megabytes(short)} MB and {then}"
        event = RunFailed(run_id, reason, step, str(out))
        try:
            RunLog(out / PRETRAIN_LOG).write(event)  # where space allows
        except (MtoError, OSError):
            pass
        return event

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
        corpus = build_corpus(world, tokenizer)
        torch.manual_seed(cfg.training.seed)
        model = build_model(cfg, tokenizer).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.training.lr, weight_decay=cfg.training.weight_decay)
        scheduler = get_scheduler(
            {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[cfg.training.schedule],
            optimizer,
            num_warmup_steps=cfg.training.warmup_steps,
            num_training_steps=cfg.training.steps,
        )
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
        else:
            shutil.rmtree(ckpt_dir, ignore_errors=True)  # an earlier attempt's: never resumed into this one
            log.path.unlink(missing_ok=True)
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
    except Exception as exc:
        if (failed := disk_full(exc)) is not None:
            yield failed
        elif isinstance(exc, MtoError):
            yield RunFailed(run_id, exc.one_line(), step, str(out))
        else:
            raise
        return

    try:
        loss_fn = torch.nn.CrossEntropyLoss(reduction="none", ignore_index=-100)
        from mto_studio.core.models.generation import pad_batch

        start = time.perf_counter()
        window_tokens, window_start = 0, time.perf_counter()
        stream_loss: dict[str, list[float]] = {name: [] for name in STREAMS}
        recent: list[float] = []
        model.train()
        last: dict[str, Any] = {}

        def knowledge_event(check: dict[str, Any]) -> EvalDone:
            """A zero-shot knowledge check at the current step, as the event the Lab draws."""
            return EvalDone(run_id, step, step * cfg.training.batch_size, check["metrics"], "zero-shot",
                            check["per_relation"], tuple(check["samples"]))  # fmt: skip

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
                evaluated = knowledge_event(knowledge_check(model, tokenizer, world, cfg.training.eval_size, device))
                log.write(evaluated)
                command = (yield evaluated) or command
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
        yield knowledge_event(check)
        with writing("the trained model", out):
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
    except GeneratorExit:
        raise
    except Exception as exc:  # a full disk ends the run resumably; other errors pass as before
        if (failed := disk_full(exc)) is None:
            raise
        yield failed
