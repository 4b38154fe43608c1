"""The columns of the analyzer's relation table: their keys, titles and tooltips."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    tooltip: str
    numeric: bool = False


FIXED_COLUMNS = [
    Column("relation", "Relation", "the relation (task) analysed"),
    Column("heads", "Heads", "distinct inputs of this relation in the data", numeric=True),
    Column(
        "decision",
        "Decision",
        "Filling or Mapping; double-click to set it yourself (used by the next run and by “Use this recommendation”)",
    ),
    Column("by", "Decided\nby", "the first strategy, in your order, that decided (inconclusive ones pass it on)"),
    Column(
        "mi",
        "MI",
        "maskability index (DR prefix − DR masked) / DR prefix; at or above the threshold → Filling",
        numeric=True,
    ),
    Column(
        "dr_masked",
        "DR\nmasked",
        "mean 1-based rank of the gold answer's tokens under the masked (Filling) template; lower is better",
        numeric=True,
    ),
    Column(
        "dr_prefix",
        "DR\nprefix",
        "mean 1-based rank of the gold answer's tokens under the prefix (Mapping) template; lower is better",
        numeric=True,
    ),
    Column(
        "ll_masked",
        "LL\nmasked",
        "mean log-likelihood per answer token under the masked template; higher is better",
        numeric=True,
    ),
    Column(
        "ll_prefix",
        "LL\nprefix",
        "mean log-likelihood per answer token under the prefix template; higher is better",
        numeric=True,
    ),
]
BEST_COLUMN = Column(
    "best",
    "Best\ntemplate",
    "the recommended template: the best format fit among the templates of the decided objective",
)

#: QA data only: the best template's zero-shot accuracy (its highest-likelihood choice against the right one)
QA_ACCURACY_COLUMN = Column(
    "accuracy",
    "Zero-shot\naccuracy",
    "QA: the best template's share of questions whose right choice it ranks first",
    True,
)
