"""The result table of an experiment: template × k, mean ± sd over seeds, relative gain over a baseline."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mto_studio.core.data.sampling import parse_shots
from mto_studio.core.jobs.status import RunStatus
from mto_studio.core.store.run_folder import RunFolder

METRIC_NAMES = {
    "rougeL": "ROUGE-L",
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "exact_match": "exact match",
    "bleu": "BLEU",
    "accuracy": "accuracy",
    "accuracy_ranked": "accuracy (ranked)",
    "matched": "matched to a choice",
}


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def headline_metric(metrics: dict[str, Any]) -> str:
    """The metric a run is reported and selected by: accuracy for multiple-choice (QA) runs, else ROUGE-L."""
    return "accuracy" if "accuracy" in metrics else "rougeL"


def score_label(split: str | None, metric: str = "rougeL", *, checkpoint: str = "best") -> str:
    """How a reported score is labelled everywhere (Trainer, Runs, tables, reports, result.json): the split it was
    measured on and, for validation, that the same heads chose the checkpoint (so it is optimistic)."""
    name = metric_name(metric)
    if split == "test":
        return f"Test {name}"
    if split == "validation":
        return f"Validation {name} ({'best' if checkpoint == 'best' else 'last'} checkpoint)"
    if split == "mixed":
        return f"{name} (mixed: some runs on test, some on validation)"
    return name


def scored_info(data: Any, split: str, checkpoint_step: int, *, select_best: bool) -> dict[str, Any]:
    """result.json's "scored": where a run's reported score comes from (``data``: the run's RunData)."""
    heads = data.test if split == "test" else data.validation
    refs = sorted({len(h.references) for h in heads}) or [0]
    validation_from = data.validation_source or f"{len(data.validation)} heads held out of the training data"
    return {
        "split": split,
        "heads": len(heads),
        "checkpoint_step": checkpoint_step,
        "checkpoint": "best validation" if select_best else "last",
        "references": references_note(refs, getattr(data, "max_references", 0), getattr(data, "references_capped", 0)),
        "max_references": getattr(data, "max_references", 0),
        "source": data.test_source if split == "test" else validation_from,
        "selected_on": validation_from if select_best else None,
        "note": (
            "test heads were used neither for training nor for choosing the checkpoint"
            if split == "test"
            else "no test split: the same validation heads chose the checkpoint, so the score is optimistic"
            if select_best
            else "no test split: a validation score of the last weights (no checkpoint was chosen)"
        ),
    }


def references_note(counts: list[int], cap: int, capped: int) -> str:
    """How many references a head's best match is taken over: "best match over up to 3 of a head's references
    (the method's protocol; 8 heads had more)" or, uncapped, "… over all of a head's references (1–6 per head)"."""
    span = f"{counts[0]}–{counts[-1]}" if counts[0] != counts[-1] else str(counts[0])
    if not cap:
        return f"best match over all of a head's references ({span} per head)"
    more = f"; {capped} heads had more, scored on their first {cap}" if capped else ""
    return f"best match over up to {cap} of a head's references ({span} per head; the method's protocol{more})"


def short_score_label(label: str) -> str:
    """A score label for a narrow column: "Validation ROUGE-L (best checkpoint)" → "val ROUGE-L (best)"."""
    return label.replace("Validation ", "val ").replace("Test ", "test ").replace(" checkpoint)", ")")


def splits_label(splits: set[str], metric: str = "rougeL", checkpoint: str = "best") -> str:
    """The label for a table built from runs whose scores come from ``splits`` (empty: no run finished yet, so no
    split is claimed)."""
    if len(splits) > 1:
        return score_label("mixed", metric)
    return score_label(next(iter(splits)) if splits else None, metric, checkpoint=checkpoint)


@dataclass(frozen=True)
class RunResult:
    """What a finished run contributes to the table."""

    template: str
    method: str
    shots: str
    seed: int
    metrics: dict[str, float]
    per_relation: dict[str, dict[str, float]] = field(default_factory=dict)
    folder: str = ""
    #: where the metrics come from: "test" or "validation" (no test split: the kept weights' validation score)
    split: str = "validation"
    #: which weights were scored: "best" (chosen on validation) or "last"
    checkpoint: str = "best"

    def score(self, metric: str, relations: list[str] | None = None) -> float | None:
        """The metric overall, or averaged over ``relations`` weighted by their head counts."""
        if not relations:
            return self.metrics.get(metric)
        picked = [
            (v[metric], v.get("heads", 1.0)) for r, v in self.per_relation.items() if r in relations and metric in v
        ]
        if not picked:
            return None
        weight = sum(w for _, w in picked)
        return sum(v * w for v, w in picked) / weight if weight else None

    @classmethod
    def from_folder(cls, folder: str | Path) -> RunResult | None:
        run_folder = RunFolder(folder)
        result, config, run = run_folder.result(), run_folder.config(), run_folder.run_info()
        if result.get("status") != RunStatus.FINISHED or not config or "template" not in run:
            return None
        shots = config.get("shots")
        return cls(
            run["template"],
            config["method"],
            "full" if shots is None else str(shots),
            int(config["seed"]),
            result.get("metrics", {}),
            result.get("per_relation", {}),
            str(folder),
            str(result.get("split") or "validation"),
            "last" if result.get("scored", {}).get("checkpoint") == "last" else "best",
        )


def shots_order(label: str) -> float:
    k = parse_shots(label)
    return math.inf if k is None else float(k)


@dataclass(frozen=True)
class Cell:
    method: str
    template: str
    shots: str
    values: tuple[float, ...]
    gain: float | None  # relative to the baseline's mean at the same (method, k); None when undefined

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def sd(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self, with_gain: bool = True) -> str:
        if not self.values:
            return "—"
        # one seed has no spread: say so rather than print "± 0.000"
        out = f"{self.mean:.3f} ± {self.sd:.3f}" if self.n > 1 else f"{self.mean:.3f} (1 seed)"
        if with_gain and self.gain is not None:
            out += f" ({self.gain * 100:+.0f}%)"
        return out


@dataclass
class ResultTable:
    metric: str
    baseline: str
    cells: list[Cell]
    group: str = "all relations"
    #: the splits the runs' scores come from ("test"; "validation" when the data has no test split; empty when
    #: no run has finished)
    splits: tuple[str, ...] = ()
    #: which weights were scored: "best" (chosen on validation) or "last"
    checkpoint: str = "best"

    @property
    def label(self) -> str:
        """e.g. "Test ROUGE-L" or "Validation ROUGE-L (best checkpoint)"."""
        return splits_label(set(self.splits), self.metric, self.checkpoint)

    @property
    def shots(self) -> list[str]:
        return sorted({c.shots for c in self.cells}, key=shots_order)

    @property
    def rows(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for c in self.cells:
            seen.setdefault((c.method, c.template), None)
        return list(seen)

    def cell(self, method: str, template: str, shots: str) -> Cell | None:
        for c in self.cells:
            if (c.method, c.template, c.shots) == (method, template, shots):
                return c
        return None

    def markdown(self) -> str:
        shots = self.shots
        head = "| method | template | " + " | ".join("full" if s == "full" else f"k={s}" for s in shots) + " |"
        lines = [f"**{self.label}** on {self.group}; mean ± sd over seeds (relative gain over `{self.baseline}`)"]
        if "validation" in self.splits:
            lines.append(
                "\nNo test split: these are validation scores of the checkpoint that the same validation "
                "heads selected, so they are optimistic. Add a test file for an unbiased estimate."
                if self.checkpoint == "best"
                else "\nNo test split: these are validation scores of each run's last weights."
            )
        lines += ["", head, "|" + "---|" * (len(shots) + 2)]
        for method, template in self.rows:
            name = f"`{template}`" + (" (baseline)" if template == self.baseline else "")
            cells = [self.cell(method, template, s) for s in shots]
            lines.append(
                f"| {method} | {name} | "
                + " | ".join(c.text(template != self.baseline) if c else "—" for c in cells)
                + " |"
            )
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(
            [
                "group",
                "metric",
                "scored_on",
                "method",
                "template",
                "shots",
                "n",
                "mean",
                "sd",
                "gain_vs_baseline",
                "values",
            ]
        )
        split = "+".join(sorted(set(self.splits)))
        for c in self.cells:
            writer.writerow(
                [
                    self.group,
                    self.metric,
                    split,
                    c.method,
                    c.template,
                    c.shots,
                    c.n,
                    f"{c.mean:.6f}",
                    f"{c.sd:.6f}",
                    "" if c.gain is None else f"{c.gain:.6f}",
                    " ".join(f"{v:.6f}" for v in c.values),
                ]
            )
        return buffer.getvalue()

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "group": self.group,
            "splits": list(self.splits),
            "label": self.label,
            "checkpoint": self.checkpoint,
            "cells": [
                {
                    "method": c.method,
                    "template": c.template,
                    "shots": c.shots,
                    "values": list(c.values),
                    "mean": c.mean,
                    "sd": c.sd,
                    "gain": c.gain,
                }
                for c in self.cells
            ],
        }


def build_table(
    results: list[RunResult],
    *,
    metric: str = "rougeL",
    baseline: str = "sup",
    relations: list[str] | None = None,
    group: str = "all relations",
    template_order: list[str] | None = None,
    expected_split: str | None = None,
    checkpoint: str = "best",
) -> ResultTable:
    """``expected_split``: where scores will come from, for the label while no run has finished."""
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in sorted(results, key=lambda r: r.seed):
        score = r.score(metric, relations)
        if score is not None:
            values[(r.method, r.template, r.shots)].append(score)
    order = {t: i for i, t in enumerate(template_order or [])}
    keys = sorted(values, key=lambda k: (k[0], order.get(k[1], len(order)), k[1], shots_order(k[2])))
    cells = []
    for method, template, shots in keys:
        base = values.get((method, baseline, shots))
        mean = statistics.fmean(values[(method, template, shots)])
        gain = None
        if base and template != baseline:
            base_mean = statistics.fmean(base)
            gain = (mean - base_mean) / base_mean if base_mean > 0 else None
        cells.append(Cell(method, template, shots, tuple(values[(method, template, shots)]), gain))
    splits = tuple(sorted({r.split for r in results})) or ((expected_split,) if expected_split else ())
    checkpoints = {r.checkpoint for r in results} or {checkpoint}
    return ResultTable(metric, baseline, cells, group, splits, "last" if checkpoints == {"last"} else "best")


def shots_text(shots: str) -> str:
    return "full" if shots in ("full", "None", "") else f"k={shots}"


def metric_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value):.3f}"


# --- divergence ------------------------------------------------------------------------------------------------
#: a logged (smoothed) loss above this many times the untrained model's, and LOSS_MARGIN above it ...
LOSS_RISE = 3.0
LOSS_MARGIN = 1.0
#: ... at this many logs in a row after warm-up: the run diverged
RISEN_LOGS = 2
#: predictions collapsed: at most this many distinct answers over at least COLLAPSE_HEADS heads whose references
#: have at least DIVERSE_REFERENCES distinct answers
COLLAPSED_ANSWERS = 2
COLLAPSE_HEADS = 10
DIVERSE_REFERENCES = 5


@dataclass
class DivergenceWatch:
    """Decides whether a run has diverged, from its losses and its evaluations: the logged (smoothed) loss far above
    ``start_loss``, the untrained model's (``LOSS_RISE`` × and ``LOSS_MARGIN`` more), at ``RISEN_LOGS`` logs in a row
    after warm-up; or the predictions collapsed to one or two answers while the references are diverse and the logged
    loss is no lower than at the start, after warm-up (a model that has not learnt yet collapses too, but its loss
    falls). A NaN
    loss fails a run on its own. ``state()`` goes into checkpoints, so a resumed run decides as an uninterrupted
    one."""

    warmup_steps: int
    fix: str = "lower the learning rate"
    start_loss: float | None = None
    last_loss: float | None = None
    risen: int = 0

    def state(self) -> dict[str, Any]:
        return {"start_loss": self.start_loss, "last_loss": self.last_loss, "risen_logs": self.risen}

    def restore(self, state: dict[str, Any]) -> None:
        self.start_loss = state.get("start_loss")
        self.last_loss = state.get("last_loss")
        self.risen = int(state.get("risen_logs") or 0)

    def logged(self, step: int, loss: float) -> str | None:
        """After a logged loss (the mean since the last log): the reason the run diverged, or None."""
        self.last_loss = loss
        if self.start_loss is None:  # a run resumed from a checkpoint that predates the watch
            self.start_loss = loss
        start = self.start_loss
        risen = loss > LOSS_RISE * start and loss > start + LOSS_MARGIN
        self.risen = self.risen + 1 if risen and step > self.warmup_steps else 0
        if self.risen < RISEN_LOGS:
            return None
        return (
            f"diverged: the training loss rose from {start:.3g} (the untrained model's) to {loss:.3g} at step "
            f"{step}, more than {LOSS_RISE:g}× its start; {self.fix}"
        )

    def evaluated(self, items: Sequence[Any], split: str, step: int) -> str | None:
        """After an evaluation (``items``: Scored, with prediction and references): the reason the run diverged
        (its predictions collapsed while its loss did not fall), or None."""
        from mto_studio.core.metrics import normalize

        if len(items) < COLLAPSE_HEADS or self.start_loss is None or self.last_loss is None:
            return None
        if step <= self.warmup_steps:
            return None  # not yet at its full learning rate: an untrained model collapses too
        answers = Counter(normalize(item.prediction) for item in items)
        references = {tuple(sorted(normalize(r) for r in item.references)) for item in items}
        if len(answers) > COLLAPSED_ANSWERS or len(references) < DIVERSE_REFERENCES:
            return None
        if self.last_loss < self.start_loss:
            return None  # still learning: an undertrained model, not a diverged one
        top = next(item.prediction for item in items if normalize(item.prediction) == answers.most_common(1)[0][0])
        example = f"'{top.strip()[:40]}'" if top.strip() else "an empty answer"
        return (
            f"diverged: at step {step} the {len(items)} {split} predictions collapsed to {len(answers)} distinct "
            f"answer{'s' if len(answers) > 1 else ''} (e.g. {example}) though the references hold "
            f"{len(references)}, and the training loss ({self.last_loss:.3g}) is no lower than at the start "
            f"({self.start_loss:.3g}); {self.fix}"
        )
