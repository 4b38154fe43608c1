"""What the GUI shows of multiple-choice QA runs and analyses: accuracy (``accuracy``: generation matched to the
nearest choice; ``accuracy_ranked``: likelihood ranking of the choices) and its labels. A row's choices with the
answer marked: gui/format.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mto_studio.core.training.results import metric_name, score_label

if TYPE_CHECKING:
    from mto_studio.core.analysis.report import RelationReport

#: the metrics a QA run reports next to ROUGE-L, in the order their columns appear
QA_METRICS = ("accuracy", "accuracy_ranked")
#: names for the metrics until the core's metric_name knows them
_NAMES = {"accuracy": "accuracy", "accuracy_ranked": "accuracy (ranked)"}
#: the short column headers of the run tables
QA_COLUMNS = {"accuracy": "accuracy", "accuracy_ranked": "acc. ranked"}


def qa_metric_name(metric: str) -> str:
    name = metric_name(metric)
    return _NAMES.get(metric, name) if name == metric else name


def qa_metrics_in(metrics: Mapping[str, Any] | None) -> list[str]:
    """The QA metrics a metrics dict carries (none for a completion run)."""
    return [m for m in QA_METRICS if isinstance((metrics or {}).get(m), (int, float))]


def qa_score_label(split: str | None, metric: str, *, checkpoint: str = "best") -> str:
    """score_label for a QA metric ("Validation accuracy (best checkpoint)"), whether or not the core names it."""
    label = score_label(split, metric, checkpoint=checkpoint)
    name = metric_name(metric)
    return label.replace(name, qa_metric_name(metric)) if name == metric else label


def label_checkpoint(label: str) -> str:
    """The checkpoint a stored score label names ("last" or "best")."""
    return "last" if "last checkpoint" in label or "(last)" in label else "best"


def finished_label(label: str, split: str, metric: str, *, qa: bool) -> str:
    """Where a finished run's ``metric`` comes from, given its stored score ``label``: a QA run's label names its
    headline (accuracy), so the metric's own label is rebuilt from the split and checkpoint."""
    if not qa or not label:
        return label or split
    return qa_score_label(split, metric, checkpoint=label_checkpoint(label))


# --- the analyzer on QA data: each template's zero-shot choice-ranking accuracy ---------------------------------
def best_accuracy(report: RelationReport) -> float | None:
    """The zero-shot accuracy of the relation's best template (None before the analysis scored it)."""
    score = report.score_of(report.best_template) if report.best_template else None
    value = getattr(score, "accuracy", None)
    return float(value) if isinstance(value, (int, float)) else None


def accuracy_tooltip(report: RelationReport) -> str:
    """Each template's zero-shot accuracy, most accurate first, with its 95% interval and question count."""
    scored = [s for s in report.scores if getattr(s, "accuracy", None) is not None]
    if not scored:
        return "no template was scored on the questions"
    lines = []
    for s in sorted(scored, key=lambda s: s.accuracy or 0.0, reverse=True):
        ci = f" (95% {s.accuracy_ci[0]:.0%}–{s.accuracy_ci[1]:.0%})" if s.accuracy_ci else ""
        best = "  ← best" if s.template == report.best_template else ""
        lines.append(f"{s.template}: {s.accuracy:.0%}{ci} of {s.n} questions{best}")
    return "Zero-shot accuracy (the highest-likelihood choice is the right one):\n" + "\n".join(lines)
