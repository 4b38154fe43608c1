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
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mto_studio.cli.common import check_out_folder, config_overrides
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
    )
    from mto_studio.core.jobs.events import RunFailed, RunFinished
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, pretrain

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
        last = drive(pretrain(cfg, args.out, resume=args.resume), EventPrinter(args.json))
    except KeyboardInterrupt:  # a second Ctrl-C: the step was cut short; the last periodic checkpoint stays valid
        say(f"aborted; {kept_checkpoint(args.out)}; resume with: {resume}")
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
