"""Run an experiment (templates × k × seeds × methods, optionally after the adaptation stage) as one generator of
events, recording every run in the store and rebuilding the result table as runs finish."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import (
    DiskFullError,
    NotEnoughSpaceError,
    atomic_write_json,
    atomic_write_text,
    disk_full_error,
    is_disk_full,
    mentions_disk_full,
)
from mto_studio.core.jobs.events import (
    EventStream,
    ExperimentFinished,
    ExperimentStarted,
    RunFailed,
    RunFinished,
    RunQueued,
    Stop,
    TableUpdated,
)
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import FolderBusyError, RunStore, recorded_run
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.training.adaptation import adapt, read_sentences
from mto_studio.core.training.config import Method, TrainConfig
from mto_studio.core.training.experiment_config import ExperimentConfig
from mto_studio.core.training.report import plot_curves, plot_ladder, write_report
from mto_studio.core.training.results import ResultTable, RunResult, build_table, metric_name


def run_folder_name(index: int, cfg: TrainConfig) -> str:
    return ExperimentFolder.run_name(index, cfg.template, cfg.method.value, cfg.shots, cfg.seed)


def relation_kinds(cfg: ExperimentConfig, relations: list[str]) -> dict[str, str]:
    """Filling/Mapping per relation: the experiment's decisions, else the built-in world's construction (for
    world data), else the rule table. Undecided relations are left out."""
    from mto_studio.core.data.sources import WORLD_ALIASES, WORLD_QA_ALIASES
    from mto_studio.core.templates.rules import builtin_rules

    kinds: dict[str, str] = {}
    world_kinds = {}
    if cfg.data in WORLD_ALIASES + WORLD_QA_ALIASES:
        from mto_studio.core.world import RELATION_KIND

        world_kinds = {r: k.value for r, k in RELATION_KIND.items()}
    rules = builtin_rules()
    for relation in relations:
        if relation in cfg.objectives:
            kinds[relation] = cfg.objectives[relation]
        elif relation in world_kinds:
            kinds[relation] = world_kinds[relation]
        elif (ruled := rules.decide(relation)) is not None:
            kinds[relation] = ruled.value
    return kinds


def relation_groups(cfg: ExperimentConfig, relations: list[str]) -> list[tuple[str, list[str] | None]]:
    kinds = relation_kinds(cfg, relations)
    groups: list[tuple[str, list[str] | None]] = [("all relations", None)]
    for kind in ("filling", "mapping"):
        members = [r for r in relations if kinds.get(r) == kind]
        if members and len(members) < len(relations):
            groups.append((f"{kind.capitalize()} relations", members))
    return groups


def preflight(cfg: ExperimentConfig) -> list[TrainConfig]:
    """Check everything that can be checked before the first run, so a bad grid fails at once (exit 2)."""
    from mto_studio.core.data import sample_heads
    from mto_studio.core.models.loading import resolve_model_ref
    from mto_studio.core.training.data import load_splits
    from mto_studio.core.training.methods import METHODS

    runs = cfg.runs()
    library = TemplateLibrary()
    for name in cfg.templates:
        template = library.get(name)
        library.add(template)
        library.check(template)
        concrete = library.concrete(template)
        for method in cfg.methods:
            METHODS[Method(method)].check_template(template, concrete)
    resolve_model_ref(cfg.model)
    splits = load_splits(cfg.base_train_config())  # all three splits, so a bad file fails before the first run
    for k in {r.shots for r in runs}:
        sample_heads(splits.pool, k, 0)
    if cfg.adaptation.enabled:
        read_sentences(cfg.adaptation.source, 1)
    return runs


def _collect(folder: Path, runs: list[TrainConfig]) -> list[RunResult]:
    results = []
    for i, run in enumerate(runs):
        found = RunResult.from_folder(ExperimentFolder(folder).run(run_folder_name(i, run)).path)
        if found is not None:
            results.append(found)
    return results


def write_outputs(
    cfg: ExperimentConfig,
    folder: Path,
    runs: list[TrainConfig],
    *,
    extra_sections: Sequence[str] = (),
    closing_sections: Sequence[str] = (),
) -> tuple[list[ResultTable], Path]:
    """Tables (markdown, CSV, JSON), learning curves and ladder PNGs, and report.md for what has finished."""
    results = _collect(folder, runs)
    relations = _relations_of(folder, runs)
    colours = experiment_colours(cfg)
    tables = []
    sections = [
        f"Experiment **{cfg.name}**: templates {', '.join(cfg.templates)}; k = {', '.join(cfg.shots)}; "
        f"seeds {', '.join(map(str, cfg.seeds))}; methods {', '.join(cfg.methods)}; model `{cfg.model}`; "
        f"data `{cfg.data}`. {len(results)} of {len(runs)} runs finished.",
        data_section(cfg, results),
        *extra_sections,
    ]
    csv_parts = []
    # multiple-choice runs carry accuracy: shown first (the headline), ROUGE-L next to it
    metrics = [m for m in ("accuracy", "accuracy_ranked") if any(m in r.metrics for r in results)]
    metrics += ["rougeL", "exact_match"]
    for group, members in relation_groups(cfg, relations):
        group_tables = []
        for metric in metrics:
            table = experiment_table(cfg, results, members, group, metric)
            group_tables.append(table)
            csv_parts.append(table.csv())
        tables += group_tables
        suffix = "" if members is None else "-" + group.split()[0].lower()
        rouge = group_tables[0]  # the headline: accuracy for QA runs, else ROUGE-L
        curves = plot_curves(
            results,
            folder / f"curves{suffix}.png",
            metric=rouge.metric,
            relations=members,
            title=f"Validation {metric_name(rouge.metric)}, {group}: few-shot vs full data (mean ± sd over seeds)",
            colours=colours,
        )
        ladder = plot_ladder(
            rouge, folder / f"ladder{suffix}.png", title=f"{rouge.label} by training size, {group}", colours=colours
        )
        sections.append(
            f"## {group}\n\n" + "\n".join(t.markdown() for t in group_tables) + "\n"
            f"![learning curves]({curves.name})\n\n![k-shot ladder]({ladder.name})"
        )
    atomic_write_text(folder / "results.md", "\n\n".join(t.markdown() for t in tables))
    atomic_write_text(folder / "results.csv", csv_parts[0] + "".join(p.split("\n", 1)[1] for p in csv_parts[1:]))
    atomic_write_json(folder / "tables.json", [t.to_dict() for t in tables])
    report = write_report(folder, f"MTO Studio report: {cfg.name}", [*sections, *closing_sections])
    return tables, report


def experiment_colours(cfg: ExperimentConfig) -> dict[str, str]:
    """The experiment's template colours, as the Trainer draws them (project templates by their file's objective)."""
    from mto_studio.core.store.run_folder import template_label
    from mto_studio.core.templates.colours import template_colours

    library = TemplateLibrary()
    names = [template_label(ref) for ref in cfg.templates]
    objectives, own_names = {}, {}
    for ref, name in zip(cfg.templates, names, strict=True):
        try:
            template = library.get(ref)  # a project template's file is read once
        except MtoError:
            continue
        objectives[name] = template.objective
        own_names[name] = template.name  # a template file's own name may differ from its stem
    colours = template_colours(names, objectives)
    for name, own in own_names.items():
        colours.setdefault(own, colours[name])
    return colours


def experiment_table(
    cfg: ExperimentConfig, results: list[RunResult], members: list[str] | None, group: str, metric: str = "rougeL"
) -> ResultTable:
    """The template × k table of ``metric`` over the relations ``members`` (None: all), labelled by where its
    scores come from (or will, before a run has finished)."""
    expected_split, checkpoint = expected_scoring(cfg)
    return build_table(
        results,
        metric=metric,
        baseline=cfg.baseline,
        relations=members,
        group=group,
        template_order=cfg.templates,
        expected_split=expected_split,
        checkpoint=checkpoint,
    )


def expected_scoring(cfg: ExperimentConfig) -> tuple[str, str]:
    """Where an experiment's scores come from before any run has finished: ("test" | "validation", "best" |
    "last")."""
    from mto_studio.core.data.sources import resolve_split

    try:
        split = "test" if resolve_split(cfg.data, cfg.test_data, "test") else "validation"
    except MtoError:
        split = "validation"
    return split, "best" if cfg.base_train_config().select_best else "last"


def data_section(cfg: ExperimentConfig, results: list[RunResult]) -> str:
    """Where the report's numbers come from: the three splits, and a warning when there is no test split."""
    from mto_studio.core.data.sources import describe, resolve_split

    base = cfg.base_train_config()
    validation_ref = resolve_split(cfg.data, cfg.validation_data, "validation")
    test_ref = resolve_split(cfg.data, cfg.test_data, "test")
    validation = (
        describe(validation_ref, "validation")
        if validation_ref
        else f"{base.validation_heads} heads per relation held out of the training data"
    )
    lines = [
        "**Data splits.**",
        f"- train: `{cfg.data}`",
        f"- validation (checkpoint selection): {validation}",
        f"- test: {describe(test_ref, 'test') if test_ref else 'none'}",
    ]
    splits = {r.split for r in results}
    if (not test_ref or "validation" in splits) and base.select_best:
        lines.append(
            "\nThere is no test split, so every score below is a **validation score of the best checkpoint**, "
            "chosen on those same validation heads: optimistic, not an estimate of quality on new data."
        )
    elif not test_ref or "validation" in splits:
        lines.append(
            "\nThere is no test split, so every score below is a **validation score of the last weights** "
            "(no checkpoint was chosen)."
        )
    else:
        lines.append(
            "\nScores below are test scores: the test heads were used neither for training nor for choosing "
            "the checkpoint."
        )
    if base.max_test_heads and test_ref:
        lines.append(f"Test heads capped at {base.max_test_heads} per relation.")
    return "\n".join(lines)


def _relations_of(folder: Path, runs: list[TrainConfig]) -> list[str]:
    for i, run in enumerate(runs):
        relations = ExperimentFolder(folder).run(run_folder_name(i, run)).split().get("relations")
        if relations:
            return list(relations)
    return []


def run_experiment(
    cfg: ExperimentConfig | None, folder: str | Path, *, store: RunStore | None = None, resume: bool = False
) -> EventStream:
    """Run (or resume) an experiment into ``folder``. Send Stop() to stop after the current step: the current run
    is checkpointed and the experiment can be resumed later. The experiment holds the folder's lock while it runs:
    a second writer gets FolderBusyError (naming the holder) before anything is written."""
    with ExperimentFolder(folder).lock():
        return (yield from _run_experiment(cfg, Path(folder), store=store, resume=resume))


def _run_experiment(cfg: ExperimentConfig | None, folder: Path, *, store: RunStore | None, resume: bool) -> EventStream:
    from mto_studio.core.training.loop import train

    saved_id = None
    if resume:
        saved = ExperimentFolder(folder).config()
        if "config" not in saved:
            raise ConfigError(
                f"{folder} holds no experiment to resume (no readable {ExperimentFolder.CONFIG})",
                "pick an experiment folder",
            )
        cfg = ExperimentConfig.from_dict(saved["config"])
        saved_id = saved.get("experiment_id")
    if cfg is None:
        raise ConfigError("no experiment configuration given", "pass an ExperimentConfig")
    runs = preflight(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    experiment_id = 0
    if store is not None:
        known = {e.id for e in store.experiments()}
        experiment_id = saved_id if saved_id in known else store.create_experiment(cfg.name, cfg.to_dict(), folder)
        store.set_experiment_status(experiment_id, "running")
    ExperimentFolder(folder).write_config({"experiment_id": experiment_id, "config": cfg.to_dict()})
    yield ExperimentStarted(
        experiment_id, cfg.name, len(runs), str(folder), cfg.to_dict(), tuple(r.label for r in runs)
    )

    def finish(status: str, failed: int = 0, extra: Sequence[str] = ()) -> ExperimentFinished:
        try:
            tables, report = write_outputs(cfg, folder, runs, extra_sections=list(extra))
        except Exception as exc:
            if (full := disk_full_error(exc, "the report")) is None:
                raise
            if store is not None:
                _unless_disk_full(lambda: store.set_experiment_status(experiment_id, "failed"))
            raise DiskFullError(
                f"{full.what} in {folder}", folder, "free disk space and resume: the finished runs are kept"
            ) from exc
        if store is not None:
            _unless_disk_full(lambda: store.set_experiment_status(experiment_id, status))
        return ExperimentFinished(experiment_id, status, str(folder), str(report), failed)

    model_override = None
    if cfg.adaptation.enabled:
        model_override = yield from adapt(cfg, folder, store, experiment_id)
        if model_override is None:
            yield finish("stopped")
            return

    failed = 0
    for index, run_cfg in enumerate(runs):
        if model_override:
            run_cfg = run_cfg.replace(model=model_override)
        run_dir = ExperimentFolder(folder).run(run_folder_name(index, run_cfg)).path
        status = RunFolder(run_dir).status()
        queued = partial(
            RunQueued,
            experiment_id=experiment_id,
            index=index,
            total=len(runs),
            run_id=run_dir.name,
            label=run_cfg.label,
            template=run_cfg.template,
            method=run_cfg.method.value,
            shots="full" if run_cfg.shots is None else str(run_cfg.shots),
            seed=run_cfg.seed,
        )
        if status is RunStatus.FINISHED:
            yield queued(skipped=True)
            continue
        resumable = RunFolder(run_dir).is_resumable()
        out_of_space = False
        command = yield queued()
        if isinstance(command, Stop):
            yield finish("stopped", failed)
            return
        try:
            events = train(None if resumable else run_cfg, run_dir, resume=resumable)
            if store is not None:  # the run's row is made once it has locked its folder
                events = recorded_run(
                    events, store, run_dir, name=run_cfg.label, experiment_id=experiment_id, config=run_cfg.to_dict()
                )
            command = None
            stopped = False
            while True:
                try:
                    event = events.send(command)
                except StopIteration:
                    break
                if isinstance(event, RunFailed):
                    failed += 1
                    out_of_space = mentions_disk_full(event.reason)
                if isinstance(event, RunFinished) and event.status == "stopped":
                    stopped = True
                command = yield event
        except FolderBusyError:
            raise  # another process trains this run now: nothing of its folder or row is ours to write
        except MtoError as exc:
            failed += 1
            out_of_space = isinstance(exc, NotEnoughSpaceError) or is_disk_full(exc)
            reason = exc.one_line()
            if out_of_space and not isinstance(exc, NotEnoughSpaceError):
                reason = _disk_full_reason(exc, run_dir, store)
            _record_failure(store, run_dir, run_cfg, experiment_id, reason, resumable=out_of_space)
            yield RunFailed(run_dir.name, reason, 0, str(run_dir))
            if not out_of_space:
                continue
        if out_of_space:  # the next runs would fail alike: the experiment ends, resumable once there is room
            yield finish("failed", failed)
            return
        if stopped:
            yield finish("stopped", failed)
            return
        results = _collect(folder, runs)
        relations = _relations_of(folder, runs)
        tables = [
            experiment_table(cfg, results, members, group).to_dict()
            for group, members in relation_groups(cfg, relations)
        ]
        yield TableUpdated(experiment_id, tuple(tables), len(results), len(runs))
    yield finish("finished", failed)


def _unless_disk_full(write: Callable[[], object]) -> None:
    """A write that records a failure or a status; skipped on a full disk (the reason still travels in events)."""
    try:
        write()
    except (MtoError, OSError) as exc:
        if not is_disk_full(exc):
            raise


def _record_failure(
    store: RunStore | None, run_dir: Path, cfg: TrainConfig, experiment_id: int, reason: str, *, resumable: bool
) -> None:
    """A run that failed before it could say so itself: its row and result.json say why, where space allows; a
    ``resumable`` one (the disk was full) continues from its checkpoint when the experiment is resumed."""
    if store is not None:
        row = partial(store.upsert_run, run_dir, name=cfg.label, experiment_id=experiment_id, config=cfg.to_dict())
        _unless_disk_full(lambda: store.set_run_status(row(), "failed", reason))
    _unless_disk_full(lambda: RunFolder(run_dir).write_result(RunStatus.FAILED, reason=reason, resumable=resumable))


def _disk_full_reason(exc: MtoError, run_dir: Path, store: RunStore | None) -> str:
    """Why a run stopped when a write outside it (the run store) found the disk full."""
    from mto_studio.core.store.checkpoint import latest_checkpoint

    full = disk_full_error(exc, f"the run store {store.path}" if store is not None else "the run folder")
    found = latest_checkpoint(run_dir / RunFolder.CHECKPOINTS)
    kept = f"the checkpoint of step {int(found.name.split('-')[1])} is intact" if found else "no checkpoint was written"
    return f"{full.message if full else exc.message}; {kept}; free disk space and resume"
