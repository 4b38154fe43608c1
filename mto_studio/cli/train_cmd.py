"""`mto-studio train`: one run (fine-tuning, prompt tuning or LoRA) with a progress bar."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mto_studio.cli.common import (
    absolute_model_ref,
    absolute_ref,
    add_backend_options,
    add_config_flags,
    backend_from_args,
    check_out_folder,
    config_overrides,
    data_checks,
    split_list,
)
from mto_studio.core.training.config import TrainConfig as TRAIN_CONFIG

#: TrainConfig fields with a flag of their own (help, default and range come from the field); others: --set
TRAIN_FLAGS = ["steps", "lr", "prompt_lr", "batch_size", "grad_accum", "eval_every", "device", "threads", "precision",
               "gradient_checkpointing"]  # fmt: skip


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by train and sweep (they map onto TrainConfig)."""
    parser.add_argument(
        "--model",
        default="mto-tiny",
        metavar="DIR",
        help="model folder, 'mto-tiny' (embedded, default) or a hub id (offline: from the local Hugging Face cache)",
    )
    parser.add_argument(
        "--validation-data",
        metavar="FILE",
        help="validation file the best checkpoint is chosen on (default: the data set's own, else "
        "heads held out of the training data)",
    )
    parser.add_argument(
        "--test-data",
        metavar="FILE",
        help="test file scored once at the end (default: the data set's own; without one the "
        "reported score is a validation score, and says so)",
    )
    parser.add_argument("--columns", metavar="SPEC", help="explicit column mapping, e.g. input=head,target=tail")
    parser.add_argument("--relations", metavar="R1,R2", help="only these relations")
    add_config_flags(parser, TRAIN_CONFIG, TRAIN_FLAGS)
    parser.add_argument(
        "--force",
        action="store_true",
        help="start even when the estimate says the run will not fit in memory or on disk",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="time a few real steps first, so the time estimate is measured rather than rough",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other TrainConfig setting, e.g. --set warmup_steps=50 (repeatable)",
    )


def overrides_from_args(args: argparse.Namespace) -> dict:
    import json

    from mto_studio.core.errors import ConfigError

    out: dict = config_overrides(args)
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"bad --set '{item}'", "write --set key=value")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def check_preflight(pre, args: argparse.Namespace) -> None:
    """Show the estimate before the start (stdout; stderr with --json, where stdout holds only events) and refuse
    (ConfigError, exit 2) when it clearly does not fit, unless --force."""
    import sys

    from mto_studio.core.errors import ConfigError

    if pre is None:
        return  # the estimate could not read the model: the run's own checks say why
    if pre.problems and not args.force:
        raise ConfigError(f"{pre.problems[0]} ({pre.summary()})", "or pass --force to start anyway")
    for i, line in enumerate(pre.lines()):
        print(line if i == 0 else f"warning: {line}", file=sys.stderr if args.json else sys.stdout, flush=True)


def run_preflight(cfg, folder: Path, args: argparse.Namespace):
    """The estimate of one run against this machine, or None when the model cannot be read yet."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.store.locks import folder_in_use
    from mto_studio.core.training.estimate import calibrate, estimate_run, preflight

    if folder_in_use(folder):
        return None  # another process writes it: starting is refused in one line, with no estimate before it
    warnings, example_tokens = data_checks(cfg)
    try:
        estimate = estimate_run(cfg, example_tokens=example_tokens)
    except (MtoError, OSError, ValueError, KeyError):
        return None
    if args.calibrate:
        estimate = calibrate(cfg, estimate)
    found = preflight(estimate, folder)
    found.warnings += warnings
    return found


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="world",
        metavar="FILE",
        help="training data: a file, 'world' (the built-in world, default) or 'example:NAME' (a "
        "shipped example with its own splits; `mto-studio examples` lists them)",
    )
    parser.add_argument("--template", default="unsup-nat", metavar="NAME|FILE", help="template (default unsup-nat)")
    parser.add_argument("--method", default="finetune", help="finetune (default), prompt or lora")
    parser.add_argument("--shots", default="full", metavar="K", help="heads per relation, or 'full' (default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/<time>-<template>)")
    parser.add_argument("--store", metavar="FILE", help="also record the run in this SQLite run store")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or crashed run from its checkpoint")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines instead of a progress bar")
    add_training_options(parser)
    add_backend_options(parser, cluster=True)
    parser.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="train this one run data-parallel on N devices through Accelerate (N GPUs, or N CPU processes with "
        "gloo): each takes its share of every batch; checkpoints, resume and events as for one device",
    )
    parser.add_argument(
        "--strategy",
        default="ddp",
        metavar="ddp|fsdp",
        help="with --devices: ddp (a copy of the model per device, default) or fsdp (sharded; not available yet)",
    )
    parser.set_defaults(run=run)


def training_events(cfg, folder: Path, resume: bool, backend, args: argparse.Namespace):
    """The run's events: in this thread, or (process, ray) from a worker, supervised so that the worker's death
    ends the run 'interrupted' in the store (``--store``) with a WorkerLost event."""
    from mto_studio.core.jobs.backends import Backend, run_job

    if args.devices > 1:
        from mto_studio.core.training.distributed import distributed_train
        from mto_studio.core.training.jobs import supervised

        config = None if cfg is None else cfg.to_dict()
        events = distributed_train(
            config, str(folder.absolute()), resume=resume, devices=args.devices, strategy=args.strategy
        )
        return supervised(events, folder=folder.absolute(), store_path=args.store)
    if backend is Backend.THREAD:
        from mto_studio.core.training.loop import train

        return train(cfg, folder, resume=resume)
    from mto_studio.core.training.jobs import supervised, train_spec

    spec = train_spec(None if cfg is None else cfg.to_dict(), folder.absolute(), resume=resume, run_id=folder.name)
    events = run_job(spec, backend, cluster=args.cluster)
    return supervised(events, folder=folder.absolute(), store_path=args.store)


def check_devices(args: argparse.Namespace, backend) -> None:
    """--devices N >= 1; above 1 the ranks are local processes of their own: not with --backend thread or ray."""
    from mto_studio.core.errors import ConfigError
    from mto_studio.core.jobs.backends import Backend

    if args.devices < 1:
        raise ConfigError(f"--devices {args.devices} is not a number of devices", "give --devices 1 or more")
    if args.devices > 1 and args.backend and backend is not Backend.PROCESS:
        raise ConfigError(
            f"--devices {args.devices} starts one worker process per device; it does not combine with "
            f"--backend {backend}",
            "leave out --backend (or give --backend process)",
        )


def run(args: argparse.Namespace) -> int:
    from mto_studio.cli.progress import (
        EXIT_DONE,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EventPrinter,
        Interrupts,
        drive,
        ended_without_result,
        kept_checkpoint,
        mark_aborted,
        resume_hint,
        say,
        worker_lost_line,
    )
    from mto_studio.core.data import parse_shots
    from mto_studio.core.jobs.events import RunFailed, RunFinished, WorkerLost
    from mto_studio.core.store import RunStore, recorded
    from mto_studio.core.training.config import TrainConfig

    backend = backend_from_args(args)
    check_devices(args, backend)
    if args.resume:
        folder = Path(args.resume)
        cfg = None
    else:
        cfg = TrainConfig.from_dict(
            {
                "data": absolute_ref(args.data),
                "template": args.template,
                "method": args.method,
                "shots": parse_shots(args.shots),
                "seed": args.seed,
                "model": absolute_model_ref(args.model),
                "validation_data": absolute_ref(args.validation_data),
                "test_data": absolute_ref(args.test_data),
                "columns": args.columns,
                "relations": split_list(args.relations) if args.relations else [],
                **overrides_from_args(args),
            }
        )
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = Path(args.out) if args.out else Path("runs") / f"{stamp}-{Path(args.template).stem}-{cfg.method}"
    check_out_folder(folder)
    if cfg is not None:
        check_preflight(run_preflight(cfg, folder, args), args)
    events = training_events(cfg, folder, bool(args.resume), backend, args)
    store = None
    run_pk = None
    if args.store:
        store = RunStore(args.store)
        store.mark_interrupted()  # runs a dead process left 'running' (a live one holds its folder's lock)
        run_pk = store.upsert_run(
            folder.absolute(), name=cfg.label if cfg else folder.name, config=cfg.to_dict() if cfg else {}
        )
        events = recorded(events, store, run_pk)
    extra = [
        *(("--store", args.store) if args.store else ()),
        *(("--devices", args.devices) if args.devices > 1 else ()),
    ]
    resume = resume_hint("mto-studio", "train", "--resume", folder, *extra)
    interrupts = Interrupts()
    try:
        last = drive(events, EventPrinter(args.json), interrupts)
    except KeyboardInterrupt:  # a second Ctrl-C: the step was cut short; the last periodic checkpoint stays valid
        if store is not None:
            store.close()
            if run_pk is not None and not mark_aborted(args.store, run_id=run_pk):
                say(f"could not mark the run interrupted in {args.store}; the store does so when it is next opened")
        say(f"aborted; {kept_checkpoint(folder)}; resume with: {resume}")
        return EXIT_INTERRUPTED
    finally:
        if store is not None:
            store.close()
    if isinstance(last, WorkerLost):
        say(worker_lost_line(last, resume))
        return EXIT_INTERRUPTED
    if isinstance(last, RunFailed):
        say(f"run failed: {last.reason}")  # on stderr, also with --json (stdout then holds the RunFailed event)
        return EXIT_FAILED
    if isinstance(last, RunFinished) and last.status == "stopped":
        say(f"stopped at step {last.step} (checkpoint saved); resume with: {resume}")
        return EXIT_INTERRUPTED
    if not isinstance(last, RunFinished):
        return ended_without_result("the run", last, f"its folder keeps the last checkpoint; resume with: {resume}")
    if interrupts.requested:
        say(f"{interrupts.received} came after the last step: the run finished")
    if not args.json:
        if "accuracy" in last.metrics:  # multiple-choice (QA) data: accuracy is the headline
            ranked = last.metrics.get("accuracy_ranked")
            from mto_studio.core.training.results import score_label

            checkpoint = "last" if "last checkpoint" in (last.score_label or "") else "best"
            print(
                f"{score_label(last.split, 'accuracy', checkpoint=checkpoint)}: {last.metrics['accuracy']:.3f} (generated answer matched to the "
                f"nearest choice; {last.metrics.get('matched', 0.0):.0%} matched a choice)"
                + ("" if ranked is None else f"; ranked by likelihood: {ranked:.3f}")
            )
        print(f"run folder: {folder}")
    return EXIT_DONE
