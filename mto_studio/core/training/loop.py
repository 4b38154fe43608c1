"""`train(config, run_dir)`: one run as a generator of typed events.

Send Stop() or Pause() between steps (``generator.send``). Stop saves a checkpoint and ends with status
'stopped'; ``train(None, run_dir, resume=True)`` continues a stopped or crashed run from its last checkpoint and
reaches the same weights and metrics as an uninterrupted run. Setup problems raise MtoError (the CLI prints one
line, exit 2); failures while training (NaN loss, out of memory, anything else) end with RunFailed and the reason
is written to the run folder.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from pathlib import Path

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import atomic_write_json, atomic_write_text
from mto_studio.core.jobs.events import (
    CheckpointSaved,
    EvalDone,
    Event,
    EventStream,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    pause_point,
)
from mto_studio.core.store.run_folder import RunFolder, RunLog
from mto_studio.core.training.config import Method, TrainConfig
from mto_studio.core.training.results import score_label
from mto_studio.core.training.run_setup import RunSetup, write_static_files

LOG_EVERY = 5


def train(
    cfg: TrainConfig | None, run_dir: str | Path, *, resume: bool = False, run_id: str | None = None
) -> EventStream:
    """Train one run into ``run_dir``. See the module docstring for the protocol. The run, fresh or resumed, holds
    the folder's lock while it writes there; a second writer gets FolderBusyError (naming the holder) before
    anything is written."""
    with RunFolder(run_dir).lock():
        return (yield from _train(cfg, run_dir, resume=resume, run_id=run_id))


def _train(cfg: TrainConfig | None, run_dir: str | Path, *, resume: bool, run_id: str | None) -> EventStream:
    import torch

    from mto_studio.core.store.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

    run_dir = Path(run_dir)
    run_id = run_id or run_dir.name
    if resume:
        try:
            saved = json.loads((run_dir / RunFolder.CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{run_dir} is not a resumable run folder ({exc})", "pick a run folder") from None
        saved.pop("resolved_model", None)
        cfg = TrainConfig.from_dict(saved)
    if cfg is None:
        raise ConfigError("no training configuration given", "pass a TrainConfig")
    run = RunSetup(cfg, run_dir)  # checks the config, the model and the data before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(run_dir / RunFolder.LOG)
    step = 0
    elapsed_before = 0.0
    best_metric = -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    best_step = 0
    if resume:
        found = latest_checkpoint(run_dir / RunFolder.CHECKPOINTS)
        if found is not None:
            state = load_checkpoint(found, model=run.method.module, optimizer=run.optimizer, scheduler=run.scheduler)
            step = int(state["step"])
            elapsed_before = float(state.get("elapsed_s", 0.0))
            best_metric = float(state.get("best_metric", -math.inf))
            best_step = int(state.get("best_step", 0))
            best_state = state["extra_tensors"].get("best")
        log.truncate_after(step)
    else:
        if log.path.exists():
            log.path.unlink()
        write_static_files(run)
    trainable, total = run.method.trainable_count()
    started = RunStarted(
        run_id,
        cfg.label,
        cfg.steps,
        {
            **cfg.to_dict(),
            "trainable_parameters": trainable,
            "parameters": total,
            "device": run.device,
            "train_examples": len(run.data.train),
            "validation_heads": len(run.data.validation),
            "test_heads": len(run.data.test),
        },
        folder=str(run_dir),
        resumed_from=step,
    )
    log.write(started)
    command = yield started

    def checkpoint(reason: str) -> CheckpointSaved:
        extra = {
            "elapsed_s": elapsed_before + time.perf_counter() - start,
            "best_metric": best_metric,
            "best_step": best_step,
        }
        path = save_checkpoint(
            run_dir / RunFolder.CHECKPOINTS,
            step=step,
            model=run.method.module,
            optimizer=run.optimizer,
            scheduler=run.scheduler,
            extra=extra,
            extra_tensors={"best": best_state} if best_state is not None else None,
        )
        event = CheckpointSaved(run_id, step, str(path), reason)
        log.write(event)
        return event

    def fail(reason: str) -> RunFailed:
        atomic_write_json(run_dir / RunFolder.RESULT, {"status": "failed", "reason": reason, "step": step})
        event = RunFailed(run_id, reason, step, str(run_dir))
        log.write(event)
        return event

    start = time.perf_counter()
    window_start, window_tokens, window_losses = time.perf_counter(), 0, []
    module = run.method.module
    module.train()
    last_loss = float("nan")
    try:
        while step < cfg.steps:
            run.optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for j in range(cfg.grad_accum):
                ids, mask, tasks, labels = run.batch(run.schedule(step * cfg.grad_accum + j))
                loss = run.method.forward(ids, mask, tasks, labels).loss
                if not torch.isfinite(loss):
                    yield fail(
                        f"the loss became {loss.item()} at step {step + 1}; lower the learning rate "
                        f"(now {cfg.lr:g}{', prompts ' + format(cfg.prompt_lr, 'g') if cfg.method is Method.PROMPT else ''})"
                        " or check the data for empty targets"
                    )
                    return
                (loss / cfg.grad_accum).backward()
                step_loss += loss.item() / cfg.grad_accum
                window_tokens += int(mask.sum()) + int((labels != -100).sum())
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(run.trainable, cfg.max_grad_norm, foreach=True)
            run.optimizer.step()
            run.scheduler.step()
            step += 1
            window_losses.append(step_loss)
            last_loss = step_loss
            command = None
            if step % LOG_EVERY == 0 or step == cfg.steps:
                now = time.perf_counter()
                event: Event = StepLogged(
                    run_id,
                    step,
                    cfg.steps,
                    sum(window_losses) / len(window_losses),
                    run.scheduler.get_last_lr()[0],
                    step * cfg.batch_size,
                    window_tokens / max(now - window_start, 1e-9),
                    elapsed_before + now - start,
                )
                window_start, window_tokens, window_losses = now, 0, []
                log.write(event)
                command = yield event
            evaluate_now = cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps
            if evaluate_now:
                report = run.evaluate("validation")
                if report is not None:
                    score = report.overall["rougeL"]
                    improved = score > best_metric
                    if improved:
                        best_metric, best_step = score, step
                        best_state = {
                            k: v.detach().cpu().clone() for k, v in module.named_parameters() if v.requires_grad
                        }
                    event = EvalDone(
                        run_id,
                        step,
                        step * cfg.batch_size,
                        report.overall,
                        "validation",
                        report.per_relation,
                        tuple(report.sample()),
                        improved,
                    )
                    log.write(event)
                    command = (yield event) or command
            command = yield from pause_point(run_id, step, command)
            periodic = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
            if isinstance(command, Stop) or periodic or (evaluate_now and not cfg.checkpoint_every):
                reason = "stop" if isinstance(command, Stop) else "periodic"
                command = (yield checkpoint(reason)) or command
            if isinstance(command, Stop):
                event = RunFinished(
                    run_id,
                    "stopped",
                    step,
                    {"loss": last_loss},
                    str(run_dir),
                    elapsed_before + time.perf_counter() - start,
                )
                atomic_write_json(run_dir / RunFolder.RESULT, {"status": "stopped", "step": step})
                log.write(event)
                yield event
                return

        # --- the end: final validation, pick the best weights, test, save ---------------------------------------
        report = run.evaluate("validation")
        if report is not None:
            score = report.overall["rougeL"]
            improved = score > best_metric
            if improved or best_state is None:
                best_metric, best_step = score, step
                best_state = None  # the current weights are the best
            event = EvalDone(
                run_id,
                step,
                step * cfg.batch_size,
                report.overall,
                "validation",
                report.per_relation,
                tuple(report.sample()),
                improved,
            )
            log.write(event)
            yield event
        restored = False
        if cfg.select_best and best_state is not None:
            restored = True
            with torch.no_grad():
                params = dict(module.named_parameters())
                for name, tensor in best_state.items():
                    params[name].copy_(tensor.to(params[name].device))
        scored_step = best_step if cfg.select_best else step
        # The reported score: the test split when there is one (never mixed with validation); else the validation
        # score of the kept weights. The last curve point above is logged once; a re-evaluation of restored
        # weights is the run's result, not another curve point (final=True, at the step of those weights).
        final_split = "test" if run.data.test else "validation"
        final = run.evaluate("test") if final_split == "test" else (run.evaluate("validation") if restored else report)
        metrics = dict(final.overall) if final is not None else {}
        scored_heads = run.data.test if final_split == "test" else run.data.validation
        heads = len(scored_heads)
        refs = sorted({len(h.references) for h in scored_heads}) or [0]
        label = score_label(final_split, checkpoint="best" if cfg.select_best else "last")
        if final is not None:
            if final is not report:
                event = EvalDone(
                    run_id,
                    scored_step,
                    scored_step * cfg.batch_size,
                    final.overall,
                    final_split,
                    final.per_relation,
                    tuple(final.sample()),
                    False,
                    final=True,
                )
                log.write(event)
                yield event
            lines = [
                json.dumps(
                    {
                        "relation": s.relation,
                        "input": s.input,
                        "prediction": s.prediction,
                        "references": list(s.references),
                        **s.scores,
                    },
                    ensure_ascii=False,
                )
                for s in final.items
            ]
            atomic_write_text(run_dir / RunFolder.PREDICTIONS, "\n".join(lines) + "\n")
        artifact = None
        if cfg.save_model:
            artifact = run.method.save(run_dir, run.model_ref, run.tokenizer)
        wall = elapsed_before + time.perf_counter() - start
        validation_from = (
            run.data.validation_source or f"{len(run.data.validation)} heads held out of the training data"
        )
        atomic_write_json(
            run_dir / RunFolder.RESULT,
            {
                "status": "finished",
                "step": step,
                "split": final_split,
                "score_label": label,
                "scored": {
                    "split": final_split,
                    "heads": heads,
                    "checkpoint_step": scored_step,
                    "checkpoint": "best validation" if cfg.select_best else "last",
                    "references": f"best match over all of a head's references ({refs[0]}–{refs[-1]} per head)",
                    "source": run.data.test_source if final_split == "test" else validation_from,
                    "selected_on": validation_from if cfg.select_best else None,
                    "note": (
                        "test heads were used neither for training nor for choosing the checkpoint"
                        if final_split == "test"
                        else "no test split: the same validation heads chose the checkpoint, so the score is optimistic"
                        if cfg.select_best
                        else "no test split: a validation score of the last weights (no checkpoint was chosen)"
                    ),
                },
                "metrics": metrics,
                "per_relation": final.per_relation if final is not None else {},
                "best_step": best_step,
                "best_validation_rougeL": best_metric,
                "final_loss": last_loss,
                "wall_time_s": wall,
                "artifact": str(artifact) if artifact else None,
            },
        )
        event = RunFinished(
            run_id,
            "finished",
            step,
            {**metrics, "loss": last_loss, "best_step": best_step},
            str(run_dir),
            wall,
            final_split,
            label,
        )
        log.write(event)
        yield event
    except GeneratorExit:
        raise
    except (torch.OutOfMemoryError, MemoryError) as exc:
        yield fail(
            f"out of memory at step {step + 1} ({type(exc).__name__}) with batch size {cfg.batch_size}: "
            f"lower batch_size (or raise grad_accum) or max_source_length"
        )
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            yield fail(
                f"out of memory at step {step + 1} with batch size {cfg.batch_size}: lower batch_size "
                f"(or raise grad_accum) or max_source_length"
            )
        else:
            (run_dir / RunFolder.ERROR).write_text(traceback.format_exc())
            yield fail(f"training stopped by an error at step {step + 1}: {exc} (details in error.txt)")
    except MtoError as exc:
        yield fail(exc.one_line())
    except Exception as exc:  # anything else still ends the run cleanly, with the reason on record
        (run_dir / RunFolder.ERROR).write_text(traceback.format_exc())
        yield fail(
            f"training stopped by an error at step {step + 1}: {type(exc).__name__}: {exc} (details in error.txt)"
        )
