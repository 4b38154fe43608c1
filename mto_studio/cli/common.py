"""Options and helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path


def add_data_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--data",
        required=required,
        metavar="FILE",
        help="CSV, TSV, JSONL/JSON or Parquet file, 'world', 'example:NAME' (a shipped example's "
        "training split) or a hub dataset id when online",
    )
    parser.add_argument(
        "--columns", metavar="SPEC", help="explicit column mapping, e.g. input=head,target=tail,relation=rel"
    )
    parser.add_argument(
        "--format",
        dest="data_format",
        choices=["csv", "tsv", "json", "jsonl", "parquet"],
        help="file format when the suffix does not tell",
    )
    parser.add_argument(
        "--keep-none", action="store_true", help="keep rows whose target is empty or 'none' (dropped by default)"
    )


def load_data_from_args(args: argparse.Namespace):
    from mto_studio.core.data import ColumnMapping, load_task_data

    mapping = ColumnMapping.parse(args.columns) if args.columns else None
    return load_task_data(args.data, mapping, fmt=args.data_format, keep_none=args.keep_none)


def library_with(template_refs: list[str], folder: str | None = None):
    """The template library plus any template files named by path; returns (library, templates)."""
    from mto_studio.core.templates import TemplateLibrary

    library = TemplateLibrary()
    if folder:
        library.load_folder(folder)
    templates = []
    for ref in template_refs:
        template = library.get(ref)
        if template.name not in library or library.get(template.name) is not template:
            library.add(template)
        library.check(template)
        templates.append(template)
    return library, templates


def add_config_flags(parser: argparse._ActionsContainer, cls: type, names: list[str], *, defaults: bool = True) -> None:
    """One flag per config field, built from the field's own type, help, default, range and choices (nothing is
    typed twice). A flag left out keeps the config's default; ``config_overrides`` collects the given ones.
    ``defaults=False`` leaves the field defaults out of the help (the values come from a file, e.g. a recipe)."""
    from mto_studio.core.config import field_info

    for name in names:
        info = field_info(cls, name)
        if info.type is bool:  # --name / --no-name; left out: the config's default
            parser.add_argument(info.flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=info.describe(with_default=defaults).replace("%", "%%"))  # fmt: skip
            continue
        kind = info.type if info.type in (int, float, str) else str
        parser.add_argument(info.flag, dest=name, type=kind, choices=info.choices, help=info.describe(with_default=defaults).replace("%", "%%"),
                            metavar=None if info.choices else name.split("_")[-1].upper())  # fmt: skip
    parser.set_defaults(_config_flags=[*(parser.get_default("_config_flags") or []), *names])


def config_overrides(args: argparse.Namespace) -> dict:
    """The config flags the user gave (see ``add_config_flags``)."""
    return {name: getattr(args, name) for name in getattr(args, "_config_flags", []) if getattr(args, name, None)
            is not None}  # fmt: skip


def absolute_ref(value: str | None) -> str | None:
    """A data path as an absolute path (so a run resumes from any folder); built-in references and hub ids stay."""
    from pathlib import Path

    from mto_studio.core.data.sources import is_builtin

    if not value or is_builtin(value) or not Path(value).expanduser().exists():
        return value
    return str(Path(value).expanduser().resolve())


def absolute_model_ref(value: str | None) -> str | None:
    """A model folder as an absolute path (so a run resumes from any folder); 'mto-tiny' and hub ids stay as typed
    (a hub id resolves from the local Hugging Face cache wherever the run is resumed)."""
    from mto_studio.core.models.loading import EMBEDDED_MODEL

    if not value or value in (EMBEDDED_MODEL, "embedded") or not Path(value).expanduser().exists():
        return value
    return str(Path(value).expanduser().resolve())


def split_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def check_out_folder(path: str | Path, flag: str = "--out") -> None:
    """Refuse, before anything runs or is written, an output folder that cannot be one: a file, a path under a
    file, or a place this user cannot write (raises ConfigError: one line, exit 2)."""
    import os

    from mto_studio.core.errors import ConfigError

    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder", f"give {flag} a folder (it is created if missing)")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{flag} {path} is not a folder: {existing} is a file", f"give {flag} a path whose parents are folders"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {path} is not writable ({existing})", "choose a folder you can write to")


def check_out_file(path: str | Path, flag: str = "--out") -> None:
    """The same for an output file: its folder must be one this user can write to, and it must not be a folder."""
    from mto_studio.core.errors import ConfigError

    if Path(path).expanduser().is_dir():
        raise ConfigError(f"{flag} {path} is a folder, not a file", f"give {flag} a file name, e.g. analysis.json")
    check_out_folder(Path(path).expanduser().parent, flag)


@contextmanager
def removed_if_failed(folder: str | Path, leftovers: tuple[str, ...] = ()):
    """A command that creates ``folder`` and then fails leaves nothing behind: the folder is removed again when it
    did not exist before and holds nothing but ``leftovers`` (e.g. an empty run store)."""
    import shutil

    folder = Path(folder)
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed and folder.is_dir() and all(p.name in leftovers for p in folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
        raise


def data_checks(cfg) -> tuple[list[str], float | None]:
    """What the data tells the estimate before a run or sweep (``cfg``: its config): the domain check's warnings
    (the model's tokenizer against the training data) and the mean tokens per example; ([], None) when either
    cannot be read yet (the run's own checks then say why)."""
    from mto_studio.core.errors import MtoError
    from mto_studio.core.models.domain import domain_warnings, task_texts
    from mto_studio.core.models.family import family_of_ref
    from mto_studio.core.models.loading import load_tokenizer
    from mto_studio.core.training.data import load_for_run
    from mto_studio.core.training.estimate import data_example_tokens

    try:
        task = load_for_run(cfg.data, cfg.columns, cfg.relations or None)
        tokenizer = load_tokenizer(cfg.model)
    except (MtoError, OSError, ValueError):
        return [], None
    warnings = domain_warnings(tokenizer, task_texts(task.examples), family_of_ref(cfg.model))
    return warnings, data_example_tokens(tokenizer, task.examples)


def add_backend_options(parser: argparse.ArgumentParser, *, cluster: bool = False, parallel: bool = False) -> None:
    """--backend (what executes the work), and where asked --cluster (a Ray cluster) and --parallel (runs at once)."""
    parser.add_argument(
        "--backend",
        metavar="thread|process|ray",
        help="what executes the work: 'process' (a worker process of its own, the default; a crash or kill there "
        "leaves the run resumable), 'thread' (in this process) or 'ray' (Ray tasks; needs the cluster extra). "
        "Default: $MTO_BACKEND, else process",
    )
    if cluster:
        parser.add_argument(
            "--cluster",
            metavar="ADDRESS",
            help="with --backend ray: 'auto' (join the cluster running on this machine) or ray://HOST:PORT (a "
            "remote one); without it a local Ray starts. Run folders must be on a path every node shares",
        )
    if parallel:
        parser.add_argument(
            "--parallel",
            type=int,
            metavar="N",
            help="runs at once (process or ray backend), each with its share of the CPU threads; default 1, "
            "with ray: all runs (Ray queues them by the CPUs they ask for)",
        )


def backend_from_args(args: argparse.Namespace):
    """The backend the options name, checked before anything runs (ConfigError: one line, exit 2): --cluster only
    with ray, --parallel N >= 1 and above 1 only with process or ray, ray only when Ray is installed."""
    from mto_studio.core.errors import ConfigError
    from mto_studio.core.jobs.backends import Backend, default_backend, require_ray

    backend = Backend.parse(args.backend) if args.backend else default_backend()
    cluster = getattr(args, "cluster", None)
    if cluster is not None and backend is not Backend.RAY:
        raise ConfigError(
            f"--cluster {cluster} needs the Ray backend (this run would use '{backend}')",
            f"add --backend ray to run on the cluster {cluster}, or leave out --cluster",
        )
    parallel = getattr(args, "parallel", None)
    if parallel is not None and parallel < 1:
        raise ConfigError(f"--parallel {parallel} is not a number of runs", "give --parallel 1 or more")
    if parallel is not None and parallel > 1 and backend is Backend.THREAD:
        raise ConfigError(
            f"--parallel {parallel} needs runs in worker processes; the thread backend runs one at a time",
            "add --backend process (or ray), or leave out --parallel",
        )
    if backend is Backend.RAY:
        require_ray()
        from mto_studio.core.jobs.ray_backend import connect

        connect(cluster)  # a bad or unreachable address: one line and exit 2, before any folder is made
    return backend
