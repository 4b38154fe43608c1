"""The analysis report: per relation, the decision with each strategy's vote and the zero-shot scores of the
candidate templates; the recommendation in words; and the report rebuilt from its JSON form.

On QA data (``kind`` "qa") each template's score also has ``accuracy``: the share of its ``n`` questions whose
right choice has the highest mean log-likelihood under the template (with ``accuracy_ci``); the best template is
then the most accurate (log-likelihood breaking ties). Reports saved before these fields load with None/"completion".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mto_studio.core.analysis.config import AnalysisConfig
from mto_studio.core.objectives.strategies import Decision
from mto_studio.core.templates import Objective


@dataclass(frozen=True)
class TemplateScore:
    relation: str
    template: str
    objective: str
    n: int
    log_likelihood: float
    log_likelihood_ci: tuple[float, float]
    rank: float
    rank_ci: tuple[float, float]
    choice_accuracy: float | None = None
    choice_ci: tuple[float, float] | None = None
    #: QA data: zero-shot accuracy over the n questions (the highest-likelihood choice against the right one)
    accuracy: float | None = None
    accuracy_ci: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class RelationReport:
    relation: str
    heads: int
    decision: Decision
    votes: dict[str, Decision]
    scores: list[TemplateScore] = field(default_factory=list)
    best_template: str | None = None
    recommendation: str = ""

    @property
    def objective(self) -> Objective | None:
        return self.decision.objective

    def score_of(self, template: str) -> TemplateScore | None:
        return next((s for s in self.scores if s.template == template), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relation": self.relation,
            "heads": self.heads,
            "decision": self.decision.to_dict(),
            "votes": {k: v.to_dict() for k, v in self.votes.items()},
            "scores": [s.to_dict() for s in self.scores],
            "best_template": self.best_template,
            "recommendation": self.recommendation,
        }


@dataclass
class AnalysisReport:
    config: AnalysisConfig
    relations: list[RelationReport]
    model: str
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)
    #: the data's kind: "completion" or "qa"
    kind: str = "completion"

    def decisions(self) -> dict[str, str]:
        """relation → 'filling'/'mapping' for every decided relation (what "use this recommendation" applies)."""
        return {r.relation: r.objective.value for r in self.relations if r.objective is not None}

    def best_templates(self) -> dict[str, str]:
        return {r.relation: r.best_template for r in self.relations if r.best_template}

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "model": self.model,
            "elapsed_s": self.elapsed_s,
            "warnings": self.warnings,
            "kind": self.kind,
            "relations": [r.to_dict() for r in self.relations],
            "decisions": self.decisions(),
        }

    def table(self) -> str:
        """The per-relation table the CLI prints."""
        names = self.config.templates
        qa = any(s.accuracy is not None for r in self.relations for s in r.scores)
        header = ["relation", "questions" if self.kind == "qa" else "heads", "decision", "by", "MI", "MI 95%"]
        header += ["DR mask/prefix"] + [f"LL {t}" for t in names]
        if qa:
            header += ["n"] + [f"acc {t}" for t in names]
        rows = [header]
        for r in self.relations:
            probe = r.votes.get("probe")
            mi = f"{probe.evidence['mi']:+.2f}" if probe and "mi" in probe.evidence else "—"
            low_high = probe.evidence.get("mi_ci") if probe else None
            mi_ci = f"{low_high[0]:+.2f}…{low_high[1]:+.2f}" if low_high else "—"
            dr = (
                f"{probe.evidence['dr_masked']:.1f}/{probe.evidence['dr_prefix']:.1f}"
                if probe and "dr_masked" in probe.evidence
                else "—"
            )
            cells = []
            for name in names:
                score = r.score_of(name)
                mark = "*" if name == r.best_template else ""
                cells.append(f"{score.log_likelihood:.2f}{mark}" if score else "—")
            if qa:
                cells.append(str(max((s.n for s in r.scores), default=0)))
                for name in names:
                    score = r.score_of(name)
                    mark = "*" if name == r.best_template else ""
                    has = score is not None and score.accuracy is not None
                    cells.append(f"{score.accuracy:.2f}{mark}" if has else "—")  # type: ignore[union-attr]
            rows.append(
                [
                    r.relation,
                    str(r.heads),
                    decision_word(r.decision),
                    decided_by(r.decision),
                    mi,
                    mi_ci,
                    dr,
                    *cells,
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        out = "\n".join(lines)
        out += "\n\nLL = mean log-likelihood per gold target token (format fit; * = recommended)."
        if qa:
            out += (
                "\nacc = zero-shot accuracy: the share of the n questions scored per relation whose right choice has"
                " the highest mean log-likelihood under the template."
            )
        out += " Votes and advice:\n"
        for r in self.relations:
            votes = ", ".join(f"{k} {decision_word(v)}" for k, v in r.votes.items())
            out += f"  {r.recommendation}  [votes: {votes}]\n"
        for warning in self.warnings:
            out += f"warning: {warning}\n"
        return out


def decision_word(decision: Decision) -> str:
    """'filling', 'mapping', 'inconclusive' (the strategy ran but its evidence did not separate them) or
    'undecided'."""
    if decision.objective is not None:
        return decision.objective.value
    return "inconclusive" if decision.inconclusive else "undecided"


def decided_by(decision: Decision) -> str:
    """The deciding strategy, with those that were inconclusive before it: 'rules (probe inconclusive)'."""
    passed = decision.evidence.get("fell_through") or []
    return decision.strategy + (f" ({', '.join(passed)} inconclusive)" if passed else "")


def recommend(report: RelationReport, threshold: float) -> None:
    """Pick the relation's best template and write its recommendation in words."""
    decision = report.decision
    matching = [s for s in report.scores if decision.objective and s.objective == decision.objective.value]
    pool = matching or report.scores
    if pool:
        report.best_template = max(pool, key=_merit).template
    head = report.relation + ": "
    if decision.objective is None:
        head += f"undecided: {decision.reason}" if "inconclusive" in decision.reason else "undecided"
    elif decision.evidence.get("fell_through_notes"):
        head += (
            f"{decision.evidence['fell_through_notes']} → {decision.strategy}: {decision.objective.value.capitalize()}"
        )
    else:
        head += decision.objective.value.capitalize()
        if "mi" in decision.evidence:
            sign = "≥" if decision.evidence["mi"] >= threshold else "<"
            head += f" (MI {decision.evidence['mi']:.2f} {sign} {threshold:.2f})"
        elif decision.evidence.get("rule") == "qa_framing":
            share = decision.evidence["filling_share"]
            head += f" ({decision.strategy}: qa_framing frames {share:.0%} of the questions as Filling)"
        else:
            head += f" ({decision.strategy})"
    best = report.score_of(report.best_template) if report.best_template else None
    if best is not None:
        head += f"; best template {best.template}"
        others = [s for s in report.scores if s.template != best.template]
        rival = (
            report.score_of("sup")
            if best.template != "sup" and report.score_of("sup")
            else (max(others, key=lambda s: s.log_likelihood) if others else None)
        )
        if best.accuracy is not None:
            head += f", zero-shot accuracy {best.accuracy:.0%} on {best.n} questions"
            others_acc = [s for s in others if s.accuracy is not None]
            if others_acc:
                runner = max(others_acc, key=_merit)
                head += f" ({runner.template}: {runner.accuracy:.0%})"
        elif rival:
            ratio = math.exp(best.log_likelihood - rival.log_likelihood)
            if ratio >= 1:
                head += f", {ratio:.1f}× likelier per token than {rival.template}"
            else:
                head += (
                    f" (the best {best.objective} template; {rival.template} is {1 / ratio:.1f}× likelier per token)"
                )
        if best.choice_accuracy is not None:
            head += f"; picks the right answer {best.choice_accuracy:.0%} of the time"
    report.recommendation = head


def _merit(score: TemplateScore) -> tuple[float, float]:
    """What makes a template best: its QA accuracy when it has one, then its gold log-likelihood."""
    return (score.accuracy if score.accuracy is not None else 0.0, score.log_likelihood)


def report_from_dict(data: dict[str, Any]) -> AnalysisReport:
    def decision(d: dict) -> Decision:
        return Decision(
            d["relation"],
            d["strategy"],
            Objective(d["objective"]) if d["objective"] else None,
            d["reason"],
            d.get("evidence", {}),
        )

    relations = []
    for r in data["relations"]:
        scores = [
            TemplateScore(
                s["relation"],
                s["template"],
                s["objective"],
                s["n"],
                s["log_likelihood"],
                tuple(s["log_likelihood_ci"]),
                s["rank"],
                tuple(s["rank_ci"]),
                s.get("choice_accuracy"),
                tuple(s["choice_ci"]) if s.get("choice_ci") else None,
                s.get("accuracy"),
                tuple(s["accuracy_ci"]) if s.get("accuracy_ci") else None,
            )
            for s in r["scores"]
        ]
        relations.append(
            RelationReport(
                r["relation"],
                r["heads"],
                decision(r["decision"]),
                {k: decision(v) for k, v in r["votes"].items()},
                scores,
                r["best_template"],
                r["recommendation"],
            )
        )
    return AnalysisReport(
        AnalysisConfig.from_dict(data["config"]),
        relations,
        data["model"],
        data["elapsed_s"],
        data.get("warnings", []),
        data.get("kind", "completion"),
    )
