"""`mto-studio sweep`: templates × k-shot ladder × seeds × methods as one experiment, with table and plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from mto_studio.cli.common import (
    absolute_model_ref,
    absolute_ref,
    add_backend_options,
    backend_from_args,
    check_out_folder,
    data_checks,
    removed_if_failed,
    split_list,
)
from mto_studio.cli.train_cmd import add_training_options, check_preflight, overrides_from_args

#: more seeds than this in one sweep is a typo, not an experiment (each seed is a full set of runs)
MAX_SEED_COUNT = 1000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="an experiment file (TOML or JSON); flags override it")
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="training data: a file, 'world' (the built-in world, default) or 'example:NAME' (a "
        "shipped example with its own splits; `mto-studio examples` lists them)",
    )
    parser.add_argument("--templates", metavar="A,B", help="templates to compare (default unsup-nat,sup)")
    parser.add_argument("--baseline", help="the template gains are measured against (default sup)")
    parser.add_argument("--shots", metavar="K1,K2", help="k-shot ladder, e.g. 8,32,full (default)")
    parser.add_argument("--seeds", metavar="N|S1,S2", help="number of seeds (0..N-1) or a list (default 3)")
    parser.add_argument("--methods", metavar="M1,M2", help="finetune (default), prompt, lora")
    parser.add_argument("--adapt", action="store_true", help="run the adaptation stage (MTO stage 2) first")
    parser.add_argument("--name", help="experiment name")
    parser.add_argument("--out", required=True, metavar="DIR", help="experiment folder")
    parser.add_argument("--store", metavar="FILE", help="SQLite run store (default DIR/runs.sqlite)")
    parser.add_argument("--resume", action="store_true", help="continue the experiment in --out")
    parser.add_argument("--json", action="store_true", help="print events as JSON lines")
    add_training_options(parser)
    add_backend_options(parser, cluster=True, parallel=True)
    parser.set_defaults(run=run)


def experiment_from_args(args: argparse.Namespace):
    import json

    from mto_studio.core.config import load_toml
    from mto_studio.core.errors import ConfigError
    from mto_studio.core.training.experiment_config import ExperimentConfig

    data: dict = {}
    if args.config:
        path = Path(args.config)
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"cannot read {path}: {exc}", "give a valid JSON or TOML experiment file") from None
        else:
            data = load_toml(path)
    for key, value in (
        ("data", absolute_ref(args.data)),
        ("name", args.name),
        ("baseline", args.baseline),
        ("model", absolute_model_ref(args.model) if args.model != "mto-tiny" or "model" not in data else None),
        ("validation_data", absolute_ref(args.validation_data)),
        ("test_data", absolute_ref(args.test_data)),
        ("columns", args.columns),
    ):
        if value is not None:
            data[key] = value
    if args.templates:
        data["templates"] = split_list(args.templates)
    if args.shots:
        data["shots"] = split_list(args.shots)
    if args.methods:
        data["methods"] = split_list(args.methods)
    if args.relations:
        data["relations"] = split_list(args.relations)
    if args.seeds:
        items = split_list(args.seeds)
        try:
            numbers = [int(s) for s in items]
        except ValueError:
            raise ConfigError(f"bad --seeds '{args.seeds}'", "give a count (3) or a list (0,1,2)") from None
        if len(numbers) == 1 and not 1 <= numbers[0] <= MAX_SEED_COUNT:
            raise ConfigError(f"--seeds {numbers[0]} is not a usable number of seeds",
                              f"give a count from 1 to {MAX_SEED_COUNT} or a list of seeds (0,1,2)")  # fmt: skip
        data["seeds"] = list(range(numbers[0])) if len(numbers) == 1 else numbers
    if args.adapt:
        data.setdefault("adaptation", {})["enabled"] = True
    train = dict(data.get("train", {}))
    train.update(overrides_from_args(args))
    data["train"] = train
    return ExperimentConfig.from_dict(data)


def sweep_preflight(cfg, folder: Path, args: argparse.Namespace):
    """The sweep's estimate (memory of its largest run, the disk of all its runs, the total time), or None when
    the model cannot be read yet (the sweep's own checks then say why)."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.store.locks import folder_in_use
    from mto_studio.core.training.estimate import estimate_sweep, preflight

    if folder_in_use(folder):
        return None  # another process writes it: starting is refused in one line, with no estimate before it
    warnings, example_tokens = data_checks(cfg)
    try:
        estimate = estimate_sweep(cfg, calibrated=args.calibrate, example_tokens=example_tokens)
    except (MtoError, OSError, ValueError, KeyError):
        return None
    found = preflight(estimate, folder)
    found.warnings += warnings
    return found


def run(args: argparse.Namespace) -> int:
    from mto_studio.core.jobs.backends import Backend
    from mto_studio.core.store import RunStore

    backend = backend_from_args(args)
    folder = Path(args.out)
    check_out_folder(folder)
    cfg = None if args.resume else experiment_from_args(args)
    if cfg is not None:
        check_preflight(sweep_preflight(cfg, folder, args), args)
        if backend is not Backend.THREAD:
            from mto_studio.core.store.locks import folder_in_use
            from mto_studio.core.training.experiment import preflight

            if not folder_in_use(folder):
                preflight(cfg)  # a bad grid fails here, before a worker spends seconds starting
    store_path = args.store or folder / "runs.sqlite"
    with removed_if_failed(folder, STORE_FILES):  # bad input found while starting leaves no folder behind
        store = RunStore(store_path)
        store.mark_interrupted()  # runs a dead process left 'running' (a live one holds its folder's lock)
        return _run(args, cfg, folder, store, store_path, backend)


#: what opening the run store creates: a sweep that fails on bad input removes its folder if nothing else is there
STORE_FILES = ("runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm", "runs.sqlite-journal", ".mto-studio.lock")


def experiment_events(args, cfg, folder: Path, store, store_path, backend):
    """The experiment's events. thread: run here. process: the whole experiment in one worker process (which
    starts a worker per run itself with --parallel > 1), this process only relays its events. ray: the experiment
    is driven here and each run is a Ray task."""
    from mto_studio.core.jobs.backends import Backend, run_job
    from mto_studio.core.training.experiment import run_experiment

    if backend is Backend.THREAD:
        return run_experiment(cfg, folder.absolute(), store=store, resume=args.resume)
    if backend is Backend.RAY:
        return run_experiment(cfg, folder.absolute(), store=store, resume=args.resume, parallel=args.parallel,
                              runs_on="ray", cluster=args.cluster)  # fmt: skip
    from mto_studio.core.training.jobs import experiment_spec, supervised

    store.close()  # the worker records; this process's connection would only hold the file open
    parallel = args.parallel or 1
    spec = experiment_spec(None if cfg is None else cfg.to_dict(), folder.absolute(), Path(store_path).absolute(),
                           resume=args.resume, parallel=parallel, runs_on="process" if parallel > 1 else "inline")  # fmt: skip
    return supervised(run_job(spec, backend), folder=folder.absolute(), store_path=store_path)


def _run(args, cfg, folder: Path, store, store_path, backend) -> int:
    from mto_studio.cli.progress import (
        EXIT_DONE,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EventPrinter,
        drive,
        ended_without_result,
        mark_aborted,
        resume_hint,
        say,
        worker_lost_line,
    )
    from mto_studio.core.jobs.events import ExperimentFinished, WorkerLost
    from mto_studio.core.store.run_folder import ExperimentFolder

    resume = resume_hint("mto-studio", "sweep", "--out", folder, *(("--store", args.store) if args.store else ()))
    resume += " --resume"
    try:
        events = experiment_events(args, cfg, folder, store, store_path, backend)
        total = None
        if cfg is not None:
            base = cfg.base_train_config()
            total = len(cfg.runs()) * base.steps + (cfg.adaptation.steps if cfg.adaptation.enabled else 0)
        printer = EventPrinter(args.json, total_steps=total)
        last = drive(events, printer)
    except KeyboardInterrupt:  # a second Ctrl-C: the current run's last periodic checkpoint stays valid
        store.close()
        experiment_id = ExperimentFolder(folder).config().get("experiment_id")
        if isinstance(experiment_id, int) and not mark_aborted(store_path, experiment_id=experiment_id):
            say(f"could not mark the runs interrupted in {store_path}; the store does so when it is next opened")
        say(f"aborted; finished runs and the current run's last checkpoint stay valid; resume with: {resume}")
        return EXIT_INTERRUPTED
    finally:
        store.close()
    if isinstance(last, WorkerLost) or (isinstance(last, ExperimentFinished) and last.status == "interrupted"):
        gone = printer.lost or ([last] if isinstance(last, WorkerLost) else [])
        for lost in gone:  # the runs whose worker died, or the experiment's worker itself
            say(worker_lost_line(lost, resume))
        return EXIT_INTERRUPTED
    if not isinstance(last, ExperimentFinished):
        return ended_without_result("the experiment", last, f"finished runs are kept; resume with: {resume}")
    if last.status == "stopped":
        say(f"stopped; the tables and report in {folder} cover the finished runs only; resume with: {resume}")
        return EXIT_INTERRUPTED
    if not args.json:
        print_accuracy(folder)
        print(f"report: {last.report}")
        print(f"table: {folder / 'results.md'} (CSV: {folder / 'results.csv'}); plots: {folder}/*.png")
    if last.failed_runs:
        say(f"{last.failed_runs} run(s) failed; each one's reason is in its result.json and in the report "
            f"({last.report or folder}); fix the cause and resume with: {resume}")  # fmt: skip
        return EXIT_FAILED
    return EXIT_DONE


def print_accuracy(folder) -> None:
    """For multiple-choice (QA) data: the accuracy table over all relations (mean ± sd over seeds per template and k)."""
    import json

    try:
        tables = json.loads((folder / "tables.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for table in tables:
        if table.get("metric") in ("accuracy", "accuracy_ranked") and table.get("group") == "all relations":
            print(f"{table['label']}:")
            for cell in table["cells"]:
                k = "full" if cell["shots"] == "full" else f"k={cell['shots']}"
                print(f"  {cell['method']} {cell['template']} {k}: {cell['mean']:.3f} ± {cell['sd']:.3f}")
