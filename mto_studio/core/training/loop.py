"""`train(config, run_dir)`: one run as a generator of typed events.

Send Stop() or Pause() between steps (``generator.send``). Stop saves a checkpoint and ends with status
'stopped'; ``train(None, run_dir, resume=True)`` continues a stopped or crashed run from its last checkpoint and
reaches the same weights and metrics as an uninterrupted run. Setup problems, and too little free disk space for the
run's checkpoints, raise MtoError before anything is written (the CLI prints one line, exit 2); failures while
training (NaN loss, out of memory, a full disk, anything else) end with RunFailed and the reason is written to the run
folder where space allows. A full disk keeps the last checkpoint intact and the run resumable; a run whose loss runs
far above its start, or whose predictions collapse, ends 'diverged' (RunFailed, "diverged: …"). A run that ends
'finished' removes its checkpoints (optimizer state and all; its trained weights are saved apart) unless
``keep_checkpoints``; result.json and RunFinished say how much that freed; it cannot be resumed (nothing to do).
"""

from __future__ import annotations

import json
import math
import shutil
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import (
    DiskFullError,
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
    Event,
    EventStream,
    RunFailed,
    RunFinished,
    RunStarted,
    StepLogged,
    Stop,
    pause_point,
)
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store.run_folder import RunFolder, RunLog
from mto_studio.core.training.config import Method, TrainConfig
from mto_studio.core.training.precision import StepRunner, free_device_memory, is_out_of_memory, out_of_memory_reason
from mto_studio.core.training.results import DivergenceWatch, headline_metric, score_label, scored_info
from mto_studio.core.training.run_setup import RunSetup, saved_config, write_static_files

if TYPE_CHECKING:
    from mto_studio.core.training.distributed_rank import Ranks

LOG_EVERY = 5


def train(
    cfg: TrainConfig | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    run_id: str | None = None,
    dist: Ranks | None = None,
) -> EventStream:
    """Train one run into ``run_dir``. See the module docstring for the protocol. The run, fresh or resumed, holds
    the folder's lock while it writes there; a second writer gets FolderBusyError (naming the holder) before
    anything is written. ``dist``: this is rank 0 of a multi-device run (core.training.distributed)."""
    with RunFolder(run_dir).lock():
        return (yield from _train(cfg, run_dir, resume=resume, run_id=run_id, dist=dist))


def _train(
    cfg: TrainConfig | None, run_dir: str | Path, *, resume: bool, run_id: str | None, dist: Ranks | None
) -> EventStream:
    import torch

    from mto_studio.core.store import checkpoint as stored
    from mto_studio.core.store.checkpoint import latest_checkpoint, load_checkpoint, remove_temporary, save_checkpoint

    run_dir = Path(run_dir)
    run_id = run_id or run_dir.name
    if resume:
        if RunFolder(run_dir).status() is RunStatus.FINISHED:
            raise ConfigError(f"the run in {run_dir} has already finished", "start a new run to train again")
        cfg = saved_config(run_dir)
    if cfg is None:
        raise ConfigError("no training configuration given", "pass a TrainConfig")
    run = RunSetup(cfg, run_dir) if dist is None else RunSetup(cfg, run_dir, dist)  # checks config, model, data
    cfg = run.cfg  # with the learning rates, threads and precision "auto" resolved for this model and device
    checkpoints = run_dir / RunFolder.CHECKPOINTS
    remove_temporary(checkpoints)  # what killed or failed checkpoint writes left (this run holds the folder's lock)
    check_free_space(run_dir, run.space_needed(checkpoints), "this run")
    run_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(run_dir / RunFolder.LOG)
    step = 0
    elapsed_before = 0.0
    best_metric = -math.inf
    best_state: dict[str, torch.Tensor] | None = None
    best_step = 0
    lr_now = f"{cfg.lr:g}{', prompts ' + format(cfg.prompt_lr, 'g') if cfg.method is Method.PROMPT else ''}"
    watch = DivergenceWatch(cfg.warmup_steps, f"lower the learning rate (now {lr_now})")
    if resume:
        found = latest_checkpoint(checkpoints)
        if found is not None:
            state = load_checkpoint(found, model=run.method.module, optimizer=run.optimizer, scheduler=run.scheduler)
            step = int(state["step"])
            elapsed_before = float(state.get("elapsed_s", 0.0))
            best_metric = float(state.get("best_metric", -math.inf))
            best_step = int(state.get("best_step", 0))
            best_state = state["extra_tensors"].get("best")
            watch.restore(state)
    if step == 0:
        watch.start_loss = run.initial_loss()

    def fail(reason: str, status: RunStatus = RunStatus.FAILED, **fields) -> RunFailed:
        """The run's end: the reason goes to result.json and the log where space allows, and to the caller."""
        event = RunFailed(run_id, reason, step, str(run_dir))
        for write in (
            lambda: RunFolder(run_dir).write_result(status, reason=reason, step=step, **fields),
            lambda: log.write(event),
        ):
            try:
                write()
            except (MtoError, OSError):
                pass  # a full disk: the caller (and the store, where it has room) still gets the reason
        return event

    def disk_full(full: DiskFullError) -> RunFailed:
        found = latest_checkpoint(checkpoints)
        kept = (
            f"the checkpoint of step {int(found.name.split('-')[1])} is intact"
            if found is not None
            else "no checkpoint was written yet, so a resume starts at step 0"
        )
        short = max(run.space_needed(checkpoints) - (free_space(run_dir) or 0), run.checkpoint_size())
        resumable = (run_dir / RunFolder.CONFIG).is_file()  # else nothing of the run is on disk yet
        then = "resume" if resumable else "start it again"
        reason = (
            f"disk full while writing {full.what} in {run_dir}; {kept}; free about {megabytes(short)} MB and {then}"
        )
        return fail(reason, resumable=resumable)

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
            **(dist.info() if dist is not None else {}),
        },
        folder=str(run_dir),
        resumed_from=step,
    )
    try:
        if resume:
            log.truncate_after(step)
            if not all((run_dir / name).is_file() for name in RunFolder.STATIC):
                write_static_files(run)  # a full disk cut the first start short
        else:
            shutil.rmtree(checkpoints, ignore_errors=True)  # an earlier attempt's: never resumed into this run
            log.path.unlink(missing_ok=True)
            write_static_files(run)
        log.write(started)
    except Exception as exc:
        if (full := disk_full_error(exc, "the run folder")) is None:
            raise
        yield disk_full(full)
        return

    def checkpoint(reason: str) -> CheckpointSaved:
        extra = {
            "elapsed_s": elapsed_before + time.perf_counter() - start,
            "best_metric": best_metric,
            "best_step": best_step,
            **watch.state(),
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

    start = time.perf_counter()
    window_start, window_tokens, window_losses = time.perf_counter(), 0, []
    runner = StepRunner(run, run.precision) if dist is None else dist.runner(run)

    def counted(tokens: int) -> None:
        nonlocal window_tokens
        window_tokens += tokens

    module = run.method.module
    module.train()
    last_loss = float("nan")
    try:
        command = yield started  # a consumer may throw in what stopped it (e.g. a full disk under the run store)
        while step < cfg.steps:
            step_loss, bad = runner.step(step, counted)
            if bad is not None:
                yield fail(
                    f"the loss became {bad.item()} at step {step + 1}; lower the learning rate (now {lr_now})"
                    " or check the data for empty targets"
                )
                return
            step += 1
            window_losses.append(step_loss)
            last_loss = step_loss
            command = None
            if step % LOG_EVERY == 0 or step == cfg.steps:
                now, smoothed = time.perf_counter(), sum(window_losses) / len(window_losses)
                event: Event = StepLogged(
                    run_id,
                    step,
                    cfg.steps,
                    smoothed,
                    run.scheduler.get_last_lr()[0],
                    step * cfg.batch_size,
                    window_tokens / max(now - window_start, 1e-9),
                    elapsed_before + now - start,
                )
                window_start, window_tokens, window_losses = now, 0, []
                log.write(event)
                command = yield event
                if diverged := watch.logged(step, smoothed):
                    yield fail(diverged, RunStatus.DIVERGED)
                    return
            evaluate_now = cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps
            if evaluate_now:
                report = run.evaluate("validation")
                if report is not None:
                    score = report.overall[headline_metric(report.overall)]  # accuracy on QA
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
                    if diverged := watch.evaluated(report.items, "validation", step):
                        yield fail(diverged, RunStatus.DIVERGED, metrics=report.overall)
                        return
            command = yield from (pause_point if dist is None else dist.pause_point)(run_id, step, command)
            periodic = cfg.checkpoint_every and step % cfg.checkpoint_every == 0
            if isinstance(command, Stop) or periodic or (evaluate_now and not cfg.checkpoint_every):
                reason = "stop" if isinstance(command, Stop) else "periodic"
                answer = yield checkpoint(reason)
                command = answer or command if dist is None else command  # all ranks act on agreed commands only
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
            score = report.overall[headline_metric(report.overall)]  # accuracy on QA
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
            if diverged := watch.evaluated(report.items, "validation", step):
                yield fail(diverged, RunStatus.DIVERGED, metrics=report.overall)
                return
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
        label = score_label(final_split, headline_metric(metrics), checkpoint="best" if cfg.select_best else "last")
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
            if final is not report and (diverged := watch.evaluated(final.items, final_split, scored_step)):
                yield fail(diverged, RunStatus.DIVERGED, metrics=metrics, split=final_split, score_label=label)
                return
        artifact = None
        if cfg.save_model:
            try:
                with writing("the trained weights", run_dir):
                    artifact = run.method.save(run_dir, run.model_ref, run.tokenizer)
            except DiskFullError:
                for name in RunFolder.ARTIFACTS:  # a torn copy: written again on resume
                    shutil.rmtree(run_dir / name, ignore_errors=True)
                raise
        wall = elapsed_before + time.perf_counter() - start
        # checkpoints serve resuming: removed once result.json says finished (a crash in between leaves them)
        freeing = 0 if cfg.keep_checkpoints else stored.folder_bytes(checkpoints)
        atomic_write_json(
            run_dir / RunFolder.RESULT,
            {
                "status": "finished",
                "step": step,
                "split": final_split,
                "score_label": label,
                "scored": scored_info(run.data, final_split, scored_step, select_best=cfg.select_best),
                "metrics": metrics,
                "per_relation": final.per_relation if final is not None else {},
                "best_step": best_step,
                "best_validation_rougeL": best_metric,  # the headline metric's value (accuracy on QA): see below
                "best_validation_metric": headline_metric(metrics),
                "final_loss": last_loss,
                "wall_time_s": wall,
                "artifact": str(artifact) if artifact else None,
                "checkpoints": "kept" if cfg.keep_checkpoints else "removed",
                "freed_bytes": freeing,
            },
        )
        freed = 0 if cfg.keep_checkpoints else stored.remove_checkpoints(checkpoints)
        event = RunFinished(
            run_id,
            "finished",
            step,
            {**metrics, "loss": last_loss, "best_step": best_step, "checkpoints_freed_mb": round(freed / 1e6, 1)},
            str(run_dir),
            wall,
            final_split,
            label,
        )
        log.write(event)
        yield event
    except GeneratorExit:
        raise
    except Exception as exc:  # anything still ends the run cleanly, with the reason on record
        if dist is not None and dist.failed(exc):
            raise  # another rank is gone: the launcher ends the job as lost, resumable
        if (full := disk_full_error(exc, "the run folder")) is not None:
            yield disk_full(full)
        elif is_out_of_memory(exc):
            free_device_memory(run.device)
            yield fail(out_of_memory_reason(exc, step + 1, cfg))
        elif isinstance(exc, MtoError):
            yield fail(exc.one_line())
        else:
            try:
                (run_dir / RunFolder.ERROR).write_text(traceback.format_exc())
            except OSError:
                pass
            what = str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
            yield fail(f"training stopped by an error at step {step + 1}: {what} (details in error.txt)")
