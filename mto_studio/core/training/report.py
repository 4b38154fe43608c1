"""Experiment reports: learning-curve and k-shot ladder PNGs (matplotlib, Agg: no display, no Qt) and markdown."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mto_studio.core.data.sampling import references_text
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.store.run_folder import ExperimentFolder, RunFolder
from mto_studio.core.templates.colours import library_colours
from mto_studio.core.training.results import ResultTable, RunResult, shots_order


def _figure(width: float = 9.0, height: float = 5.0):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def validation_curves(
    results: list[RunResult], metric: str = "rougeL", relations: list[str] | None = None
) -> dict[tuple[str, str, str], dict[int, list[float]]]:
    """(method, template, k) → step → [value per seed] of the validation metric, read from metrics.jsonl."""
    curves: dict[tuple[str, str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        seen: set[int] = set()  # logs written before final evaluations were marked repeat the last step
        for event in RunFolder(r.folder).events():
            if (
                event.get("event") != "EvalDone"
                or event.get("split") != "validation"
                or event.get("final")
                or event["step"] in seen
            ):
                continue
            seen.add(event["step"])
            if relations:
                parts = [
                    (v[metric], v.get("heads", 1.0))
                    for rel, v in event["per_relation"].items()
                    if rel in relations and metric in v
                ]
                if not parts:
                    continue
                value = sum(a * w for a, w in parts) / sum(w for _, w in parts)
            else:
                value = event["metrics"].get(metric)
            if value is not None:
                curves[(r.method, r.template, r.shots)][event["step"]].append(value)
    return curves


def plot_curves(
    results: list[RunResult],
    path: str | Path,
    *,
    metric: str = "rougeL",
    relations: list[str] | None = None,
    title: str = "",
    colours: dict[str, str] | None = None,
) -> Path:
    """Validation metric against steps; one colour per template (``colours``, else the app's scheme for the built-in
    templates), one line style per k (full data solid); seeds as mean ± sd bands."""
    curves = validation_curves(results, metric, relations)
    figure = _figure()
    axes = figure.add_subplot(1, 1, 1)
    templates = list(dict.fromkeys(t for _, t, _ in curves))
    colours = {**library_colours(templates), **(colours or {})}
    shots = sorted({k for _, _, k in curves}, key=shots_order)
    styles = ["-", "--", ":", "-."]
    for (method, template, k), by_step in sorted(
        curves.items(), key=lambda item: (templates.index(item[0][1]), shots_order(item[0][2]))
    ):
        steps = sorted(by_step)
        means = [statistics.fmean(by_step[s]) for s in steps]
        sds = [statistics.stdev(by_step[s]) if len(by_step[s]) > 1 else 0.0 for s in steps]
        color = colours[template]
        style = "-" if k == "full" else styles[1 + shots.index(k) % (len(styles) - 1)]
        label = f"{template} · {'full data' if k == 'full' else f'k={k}'}"
        if len({m for m, _, _ in curves}) > 1:
            label += f" · {method}"
        axes.plot(steps, means, style, color=color, label=label, linewidth=1.8)
        axes.fill_between(
            steps,
            [m - s for m, s in zip(means, sds, strict=True)],
            [m + s for m, s in zip(means, sds, strict=True)],
            color=color,
            alpha=0.15,
            linewidth=0,
        )
    axes.set_xlabel("training step")
    axes.set_ylabel(f"validation {metric}")
    axes.set_title(title or "Learning curves: few-shot vs full data (mean ± sd over seeds)")
    axes.grid(alpha=0.3)
    if curves:
        axes.legend(fontsize=8, ncol=2, loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


def plot_ladder(
    table: ResultTable, path: str | Path, *, title: str = "", colours: dict[str, str] | None = None
) -> Path:
    """Final metric against k (few-shot ladder to full data), one line per template, error bars = sd."""
    figure = _figure(7.5, 4.8)
    axes = figure.add_subplot(1, 1, 1)
    shots = table.shots
    palette = {**library_colours([t for _, t in table.rows]), **(colours or {})}
    for method, template in table.rows:
        cells = [table.cell(method, template, s) for s in shots]
        found = [(j, c) for j, c in enumerate(cells) if c is not None]
        xs = [j for j, _ in found]
        means = [c.mean for _, c in found]
        sds = [c.sd for _, c in found]
        label = template + (" (baseline)" if template == table.baseline else "")
        if len({m for m, _ in table.rows}) > 1:
            label += f" · {method}"
        axes.errorbar(xs, means, yerr=sds, marker="o", capsize=4, color=palette[template], label=label)
    axes.set_xticks(range(len(shots)))
    axes.set_xticklabels(["full" if s == "full" else f"k={s}" for s in shots])
    axes.set_ylabel(table.label)
    axes.set_title(title or f"{table.label} by training size — {table.group}")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


#: why evaluation heads keep at most 3 references by default, said wherever the cap is stated
PROTOCOL_NOTE = "the method's protocol scores each head on up to 3 references; set max_references to change it"


def reference_cap(config: dict[str, Any]) -> int | None:
    """The references per evaluation head a run was scored with, from its config (0 = all); None for a run from
    before the cap existed (it kept all of them)."""
    value = config.get("max_references")
    return int(value) if isinstance(value, int) else None


def scope_text(split: str | None, heads: int | None, cap: int | None) -> str:
    """What a score is measured on, e.g. "test, 30 heads, ≤3 references each"."""
    parts = [split or "", f"{heads} heads" if heads is not None else "", references_text(cap)]
    return ", ".join(p for p in parts if p)


def scoring_scopes(run_folders: Iterable[str | Path]) -> list[str]:
    """The distinct scopes (``scope_text``) of the finished runs in ``run_folders``, in first-seen order."""
    scopes: dict[str, None] = {}
    for path in run_folders:
        folder = RunFolder(path)
        scored = folder.result().get("scored")
        if not isinstance(scored, dict):
            continue
        heads = scored.get("heads")
        scope = scope_text(
            scored.get("split"), heads if isinstance(heads, int) else None, reference_cap(folder.config())
        )
        scopes[scope] = None
    return list(scopes)


def scoring_section(run_folders: Iterable[str | Path]) -> str:
    """A report line stating what its scores are measured on, the reference cap included ("" when no run has a
    score yet)."""
    scopes = scoring_scopes(run_folders)
    if not scopes:
        return ""
    return (
        f"**Scores** are ROUGE-L / exact match ({'; '.join(scopes)}): the best match over a head's kept references, "
        + (f"averaged over heads ({PROTOCOL_NOTE}).")
    )


def write_report(
    folder: str | Path, title: str, sections: list[str], *, run_folders: Sequence[str | Path] | None = None
) -> Path:
    """report.md in ``folder``: the title, a line stating what the scores are measured on (read from
    ``run_folders``, by default the experiment's runs/ under ``folder``), then ``sections``."""
    path = Path(folder) / "report.md"
    if run_folders is None:
        runs = Path(folder) / ExperimentFolder.RUNS
        run_folders = sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []
    scoring = scoring_section(run_folders)
    atomic_write_text(path, f"# {title}\n\n" + "\n\n".join([*([scoring] if scoring else []), *sections]) + "\n")
    return path
