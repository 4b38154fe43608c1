"""The `mto-studio` command line: subcommands over the core; no subcommand launches the GUI.

Exit codes: 0 done, 1 the run failed (its reason is stored), 2 bad input (one line on stderr), 130 interrupted
(Ctrl-C or SIGTERM; the work stopped resumably, see ``progress.drive``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from mto_studio import __version__
from mto_studio.core.runtime import prepare_environment

#: name → (module path, help); modules are imported only when their command runs, so `--help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "templates": ("mto_studio.cli.templates_cmd", "list the template library"),
    "examples": ("mto_studio.cli.examples_cmd", "list the example data sets shipped with MTO Studio"),
    "render": ("mto_studio.cli.render_cmd", "render a template on rows of a data file"),
    "train": ("mto_studio.cli.train_cmd", "train one run: fine-tuning, prompt tuning or LoRA"),
    "sweep": ("mto_studio.cli.sweep_cmd", "run an experiment: templates × k-shot ladder × seeds × methods"),
    "pretrain": ("mto_studio.cli.pretrain_cmd", "pre-train a small T5 with an objective mix (Objective Lab)"),
    "analyze": ("mto_studio.cli.analyze_cmd", "decide Filling vs Mapping per relation and rank templates zero-shot"),
    "demo": ("mto_studio.cli.demo_cmd", "the whole MTO workflow on the embedded default, as a report"),
}
#: the commands that drive long work (Ctrl-C stops them resumably)
JOBS = ("train", "sweep", "pretrain", "analyze", "demo")
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EPILOG = (
    "exit codes: 0 done, 1 the run failed (its reason is stored), 2 bad input, 130 interrupted (Ctrl-C or SIGTERM "
    "stops a run after its current step with a checkpoint; a second Ctrl-C aborts at once; --resume continues)"
)


def register(name: str, module: str, help_text: str) -> None:
    COMMANDS[name] = (module, help_text)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="mto-studio",
        description="MTO Studio: match tasks to the pre-training objectives of encoder-decoder models. "
        "Without a command, opens the desktop app.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"mto-studio {__version__}")
    parser.add_argument("--self-test", action="store_true", help="check the installation end to end and exit")
    # used by --self-test inside a packaged bundle, where sys.executable is this program, not Python
    parser.add_argument("--window-check", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        epilog = EPILOG if name in JOBS else None
        command_parser = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        importlib.import_module(module).configure(command_parser)
    return parser


def _fail(message: str) -> int:
    print(f"mto-studio: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    prepare_environment()
    from mto_studio.core.errors import MtoError
    from mto_studio.core.fsio import DiskFullError

    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    try:
        if args.self_test:
            from mto_studio.cli.selftest import run_self_test

            return run_self_test()
        if args.window_check:
            from mto_studio.gui.app import self_test_window

            return self_test_window()
        if run is None:
            return _launch_gui(parser)
        return int(run(args) or 0)
    except DiskFullError as exc:  # met outside a run (a report, the experiment file): the work failed, exit 1
        print(f"mto-studio: error: {exc.one_line()}", file=sys.stderr)
        return 1
    except MtoError as exc:
        return _fail(exc.one_line())
    except KeyboardInterrupt:  # before or after a job is driven (``progress.drive`` handles the signals during one)
        print("mto-studio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


def _launch_gui(parser: argparse.ArgumentParser) -> int:
    try:
        from mto_studio.gui.app import run_app
    except ImportError:
        parser.print_help()
        return 0
    return run_app([])
