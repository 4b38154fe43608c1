"""What an experiment writes and shows: run folder names, relation groups, the result tables (markdown, CSV,
JSON), plots and report.md, built from the run folders (so a resumed or parallel experiment gives the same files)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from mto_studio.core.errors import MtoError
from mto_studio.core.fsio import atomic_write_json, atomic_write_text, disk_full_error, is_disk_full
from mto_studio.core.jobs.events import RunQueued
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store import RunStore
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.templates import TemplateLibrary
from mto_studio.core.training.config import TrainConfig
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


def collect_results(folder: Path, runs: list[TrainConfig]) -> list[RunResult]:
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
    results = collect_results(folder, runs)
    relations = relations_of(folder, runs)
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


def relations_of(folder: Path, runs: list[TrainConfig]) -> list[str]:
    for i, run in enumerate(runs):
        relations = ExperimentFolder(folder).run(run_folder_name(i, run)).split().get("relations")
        if relations:
            return list(relations)
    return []


def current_tables(cfg: ExperimentConfig, folder: Path, runs: list[TrainConfig]) -> tuple[list[dict[str, Any]], int]:
    """The ROUGE-L table of each relation group over the runs finished so far (as TableUpdated carries them), and
    how many runs have finished."""
    results = collect_results(folder, runs)
    relations = relations_of(folder, runs)
    tables = [
        experiment_table(cfg, results, members, group).to_dict() for group, members in relation_groups(cfg, relations)
    ]
    return tables, len(results)


@dataclass(frozen=True)
class PlannedRun:
    """Run ``index`` of an experiment: its configuration (the adapted model in place) and its folder."""

    index: int
    cfg: TrainConfig
    folder: Path

    def queued(self, experiment_id: int, total: int, *, skipped: bool = False) -> RunQueued:
        cfg = self.cfg
        shots = "full" if cfg.shots is None else str(cfg.shots)
        return RunQueued(experiment_id, self.index, total, self.folder.name, cfg.label, cfg.template,
                         cfg.method.value, shots, cfg.seed, skipped)  # fmt: skip


def unless_disk_full(write: Callable[[], object]) -> None:
    """A write that records a failure or a status; skipped on a full disk (the reason still travels in events)."""
    try:
        write()
    except (MtoError, OSError) as exc:
        if not is_disk_full(exc):
            raise


def record_failure(
    store: RunStore | None, run_dir: Path, cfg: TrainConfig, experiment_id: int, reason: str, *, resumable: bool
) -> None:
    """A run that failed before it could say so itself: its row and result.json say why, where space allows; a
    ``resumable`` one (the disk was full) continues from its checkpoint when the experiment is resumed."""
    if store is not None:
        row = partial(store.upsert_run, run_dir, name=cfg.label, experiment_id=experiment_id, config=cfg.to_dict())
        unless_disk_full(lambda: store.set_run_status(row(), "failed", reason))
    unless_disk_full(lambda: RunFolder(run_dir).write_result(RunStatus.FAILED, reason=reason, resumable=resumable))


def disk_full_reason(exc: MtoError, run_dir: Path, store: RunStore | None) -> str:
    """Why a run stopped when a write outside it (the run store) found the disk full."""
    from mto_studio.core.store.checkpoint import latest_checkpoint

    full = disk_full_error(exc, f"the run store {store.path}" if store is not None else "the run folder")
    found = latest_checkpoint(run_dir / RunFolder.CHECKPOINTS)
    kept = f"the checkpoint of step {int(found.name.split('-')[1])} is intact" if found else "no checkpoint was written"
    return f"{full.message if full else exc.message}; {kept}; free disk space and resume"
