"""The report of runs compared in the Runs view: a table of the runs with each score's label, the settings in which
they differ, their validation curves, and each experiment's own report copied alongside (markdown + PNG)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mto_studio.core.data.sampling import references_text
from mto_studio.core.store.run_folder import template_label
from mto_studio.core.store.sqlite import ExperimentRow, RunRow
from mto_studio.core.training.report import PROTOCOL_NOTE, plot_curves, reference_cap, write_report
from mto_studio.core.training.results import RunResult, metric_text, shots_text

#: the picture of the curves as the Runs view draws them, which the report shows when it is given
CHART_FILE = "compare-curves.png"
VALIDATION_NOTE = (
    "Runs scored on *validation* had no test split: their score is the validation score of the checkpoint chosen on "
    "those same heads, so it is optimistic. Curves are validation scores during training."
)


def run_score(run: RunRow, name: str) -> float | None:
    value = run.metrics.get(name)
    return float(value) if isinstance(value, (int, float)) else None


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and key != "objectives":
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def value_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "(none)"
    return str(value)


def config_diff(configs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The settings (flattened TrainConfig fields but the name) in which ``configs`` differ, and each one's values as
    text, one per config. One config differs in nothing."""
    flat = [flatten(c) for c in configs]
    keys = sorted({k for f in flat for k in f} - {"name"})
    fields = [k for k in keys if len({repr(f.get(k)) for f in flat}) > 1] if len(flat) > 1 else []
    return fields, [[value_text(f.get(k)) for f in flat] for k in fields]


def runs_table(runs: Sequence[RunRow]) -> str:
    """The runs as a markdown table: what each one trained, its status, its scores and what they are scored on
    (multiple-choice runs add accuracy, and ranked accuracy where measured, next to ROUGE-L)."""
    qa = [m for m in ("accuracy", "accuracy_ranked") if any(run_score(r, m) is not None for r in runs)]
    names = {"accuracy": "accuracy", "accuracy_ranked": "accuracy (ranked)"}
    lines = [
        "| run | template | method | k | seed | status | scored on | "
        + "".join(f"{names[m]} | " for m in qa)
        + "ROUGE-L | EM | note |",
        "|---" * (10 + len(qa)) + "|",
    ]
    for run in runs:
        scored = run.metrics.get("score_label") or ""
        lines.append(
            f"| {run.name} | {template_label(run.template)} | {run.method or ''} | "
            f"{shots_text(run.shots or 'full')} | {'' if run.seed is None else run.seed} | "
            f"{run.status} | {scored} | "
            + "".join(f"{metric_text(run_score(run, m))} | " for m in qa)
            + f"{metric_text(run_score(run, 'rougeL'))} | "
            f"{metric_text(run_score(run, 'exact_match'))} | {(run.reason or '').replace('|', '/')} |"
        )
    note = f"\n\n{VALIDATION_NOTE}" if any(r.scored_on == "validation" for r in runs) else ""
    references = references_note(runs)
    return "\n".join(lines) + note + (f"\n\n{references}" if references else "")


def references_note(runs: Sequence[RunRow]) -> str:
    """Which references the runs' scores are measured against: the cap per head, with the runs of each cap when
    they differ (a run from before the cap existed kept all of a head's references)."""
    by_cap: dict[str, list[str]] = {}
    for run in runs:
        by_cap.setdefault(references_text(reference_cap(run.config)), []).append(run.name)
    if not by_cap:
        return ""
    if len(by_cap) == 1:
        return f"References: each head is scored on its best match over {next(iter(by_cap))} ({PROTOCOL_NOTE})."
    parts = "; ".join(f"{cap}: {', '.join(names)}" for cap, names in by_cap.items())
    return f"References per scored head differ between runs ({parts}); {PROTOCOL_NOTE}."


def settings_table(runs: Sequence[RunRow]) -> str:
    """The settings in which ``runs`` differ as a markdown table, one column per run ("" when none differs)."""
    fields, values = config_diff([r.config for r in runs])
    if not fields:
        return ""
    names = [f"#{r.id}" for r in runs]
    rows = ["| setting | " + " | ".join(names) + " |", "|---" * (1 + len(names)) + "|"]
    rows += [f"| {f} | " + " | ".join(v) + " |" for f, v in zip(fields, values, strict=True)]
    return "\n".join(rows)


def experiments_of(runs: Sequence[RunRow], experiments: Sequence[ExperimentRow]) -> list[ExperimentRow]:
    """The experiments (among ``experiments``) that ``runs`` belong to, each once, in the runs' order."""
    by_id = {e.id: e for e in experiments}
    return list({r.experiment_id: by_id[r.experiment_id] for r in runs if r.experiment_id in by_id}.values())


def copy_experiment_report(experiment: ExperimentRow, folder: Path) -> Path | None:
    """Copy an experiment's own report (markdown, plots, tables) into ``folder``/experiment-<id>; None if it has
    none."""
    source = Path(experiment.folder) if experiment.folder else None
    if source is None or not (source / "report.md").is_file():
        return None
    target = folder / f"experiment-{experiment.id}"
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.suffix in (".md", ".png", ".csv", ".json"):
            shutil.copy2(path, target / path.name)
    return target / "report.md"


def write_compare_report(
    folder: str | Path,
    runs: Sequence[RunRow],
    experiments: Sequence[ExperimentRow] = (),
    *,
    chart: Path | None = None,
    compared: Sequence[RunRow] | None = None,
) -> list[Path]:
    """Write report.md on ``runs`` into ``folder``, with their validation curves and the own report of each of
    ``experiments`` they belong to. ``chart`` is a picture of the compared curves already in ``folder``;
    ``compared`` are the runs whose settings are diffed (all of ``runs`` when None). Returns the files written,
    report.md first."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = [chart] if chart is not None else []
    sections = [f"## Runs\n\n{runs_table(runs)}"]
    if chart is not None:
        sections.append(f"## Curves as compared in MTO Studio\n\n![compared curves]({chart.name})")
    results = [found for r in runs if (found := RunResult.from_folder(r.folder)) is not None]
    if results:
        curves = plot_curves(
            results, folder / "validation-curves.png", title="Validation ROUGE-L (mean ± sd over seeds)"
        )
        written.append(curves)
        sections.append(f"## Validation curves\n\n![validation curves]({curves.name})")
    settings = settings_table(runs if compared is None else compared)
    if settings:
        sections.append(f"## Settings that differ\n\n{settings}")
    for experiment in experiments_of(runs, experiments):
        copied = copy_experiment_report(experiment, folder)
        if copied is not None:
            written.append(copied)
            sections.append(
                f"## Experiment {experiment.name}\n\nIts own report: "
                f"[{copied.relative_to(folder)}]({copied.relative_to(folder).as_posix()})"
            )
    report = write_report(
        folder, f"MTO Studio: {len(runs)} run(s) compared", sections, run_folders=[r.folder for r in runs]
    )
    written.insert(0, report)
    return written
