"""`mto-studio pretrain`: the Objective Lab from the terminal."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--recipe", required=True, metavar="FILE", help="a recipe TOML (see resources/recipes/mto-tiny.toml)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output model folder")
    from mto_studio.cli.common import add_config_flags
    from mto_studio.core.pretraining.recipe import TrainingSection

    group = parser.add_argument_group("training settings (each overrides the recipe's [training] value)")
    names = ["steps", "batch_size", "lr", "eval_every", "threads", "device", "seed"]
    add_config_flags(group, TrainingSection, names, defaults=False)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    from mto_studio.cli.common import add_backend_options

    add_backend_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mto_studio.cli.common import backend_from_args, check_out_folder, config_overrides
    from mto_studio.cli.progress import (
        EXIT_DONE,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EventPrinter,
        drive,
        ended_without_result,
        kept_checkpoint,
        resume_hint,
        say,
        worker_lost_line,
    )
    from mto_studio.core.jobs.events import RunFailed, RunFinished, WorkerLost
    from mto_studio.core.pretraining.objective_lab import PretrainConfig

    backend = backend_from_args(args)
    check_out_folder(args.out)
    cfg = PretrainConfig.load(args.recipe)
    overrides = config_overrides(args)
    if overrides:
        data = cfg.to_dict()
        data["training"].update(overrides)
        cfg = PretrainConfig.from_dict(data)  # validated like the recipe itself
    flags = [word for name, value in overrides.items() for word in (f"--{name.replace('_', '-')}", value)]
    resume = resume_hint("mto-studio", "pretrain", "--recipe", args.recipe, "--out", args.out, *flags, "--resume")
    try:
        last = drive(pretraining_events(cfg, args.out, args.resume, backend), EventPrinter(args.json))
    except KeyboardInterrupt:  # a second Ctrl-C: the step was cut short; the last periodic checkpoint stays valid
        say(f"aborted; {kept_checkpoint(args.out)}; resume with: {resume}")
        return EXIT_INTERRUPTED
    if isinstance(last, WorkerLost):
        say(worker_lost_line(last, resume))
        return EXIT_INTERRUPTED
    if isinstance(last, RunFailed):
        say(f"pre-training failed: {last.reason}")
        return EXIT_FAILED
    if isinstance(last, RunFinished) and last.status == "stopped":
        say(f"stopped at step {last.step} (checkpoint saved); resume with: {resume}")
        return EXIT_INTERRUPTED
    if not isinstance(last, RunFinished):
        return ended_without_result("pre-training", last, f"the last checkpoint is kept; resume with: {resume}")
    print(f"model saved in {args.out}")
    return EXIT_DONE


def pretraining_events(cfg, out: str, resume: bool, backend):
    """Pre-training's events: in this thread, or (process, ray: a local Ray) from a worker, whose death ends it
    with a WorkerLost event (its folder keeps the last checkpoint)."""
    from mto_studio.core.jobs.backends import Backend, run_job

    if backend is Backend.THREAD:
        from mto_studio.core.pretraining.objective_lab import pretrain

        return pretrain(cfg, out, resume=resume)
    from pathlib import Path

    from mto_studio.core.pretraining.jobs import pretrain_spec
    from mto_studio.core.training.jobs import supervised

    spec = pretrain_spec(cfg.to_dict(), Path(out).absolute(), resume=resume)
    return supervised(run_job(spec, backend), folder=Path(out).absolute())
