"""The template library: built-ins from resources/templates, plus user and project templates, by name."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mto_studio.core.errors import TemplateError
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.resources import resource
from mto_studio.core.templates.fileformat import load_template, template_to_toml
from mto_studio.core.templates.model import Objective, Template
from mto_studio.core.templates.phrases import PhraseTable, builtin_phrases
from mto_studio.core.templates.render import T5_STYLE, Rendered, SentinelStyle, render

if TYPE_CHECKING:
    from mto_studio.core.templates.rules import RuleTable

#: The method's templates (MTO_METHOD §1, checked against its code in issue 15: task prefix, clause tier first), then
#: the connective, prefix-free forms they had before issue 15 (better on mto-tiny's Filling relations, which it
#: learned from connective sentences and never under a task prefix).
BUILTIN_NAMES = (
    "sup",
    "sup-nat",
    "unsup",
    "unsup-nat",
    "unsupnat",
    "mixed",
    "sup-nat-short",
    "unsup-nat-short",
    "unsupnat-short",
    "mixed-short",
)
#: The built-in multiple-choice (QA) templates (issue 15): Mapping generating the answer text or its label, Filling
#: with the sentinel where the answer goes, and the method's per-example mixed. Kept out of BUILTIN_NAMES, whose
#: templates render completion rows (callers render every one of them on a completion row).
QA_TEMPLATE_NAMES = ("qa-sup", "qa-sup-label", "qa-unsup", "qa-mixed")
#: The per-example QA rule's signature: (question, choices) -> "filling" | "mapping" (core.data.qa_framing).
QAFraming = Callable[[str, Sequence[str]], str]
#: Mixed templates fall back to Mapping for relations no decision covers (the conventional choice).
UNDECIDED_FALLBACK = Objective.MAPPING


@lru_cache(maxsize=1)
def _builtin_templates() -> tuple[Template, ...]:
    folder = resource("templates")
    return tuple(load_template(p, builtin=True) for p in sorted(folder.glob("*.toml")))


class TemplateLibrary:
    """Templates by name. Later additions shadow earlier ones (project > user > built-in)."""

    def __init__(
        self,
        templates: Iterable[Template] = (),
        *,
        with_builtins: bool = True,
        phrases: PhraseTable | None = None,
        rules: RuleTable | None = None,
        objectives: Mapping[str, Objective] | None = None,
        qa_framing: QAFraming | None = None,
    ) -> None:
        self._templates: dict[str, Template] = {}
        if with_builtins:
            for template in _builtin_templates():
                self._templates[template.name] = template
        for template in templates:
            self.add(template)
        # imported here: the rule table module itself imports the template model (Objective)
        from mto_studio.core.templates.rules import builtin_rules

        self.phrases = phrases or builtin_phrases()
        self.rules = rules or builtin_rules()
        #: Per-relation objective decisions (e.g. from the analyzer); they win over the rule table.
        self.objectives: dict[str, Objective] = dict(objectives or {})
        #: The per-example rule of "mixed-qa" templates (core.data.qa_framing.qa_framing; the data layer is a
        #: sibling of this one, so the caller hands it in). Without it such templates fall back to the relation's
        #: objective, as a mixed template does.
        self.qa_framing = qa_framing

    # --- registry ---------------------------------------------------------------------------------------
    def add(self, template: Template) -> None:
        self._templates[template.name] = template

    def remove(self, name: str) -> None:
        template = self.get(name)
        if template.builtin:
            raise TemplateError(f"'{name}' is built in and cannot be removed", "duplicate it and edit the copy")
        del self._templates[name]

    def names(self) -> list[str]:
        builtin_order = {n: i for i, n in enumerate(BUILTIN_NAMES + QA_TEMPLATE_NAMES)}
        return sorted(self._templates, key=lambda n: (n not in builtin_order, builtin_order.get(n, 0), n))

    def __contains__(self, name: str) -> bool:
        return name in self._templates

    def __iter__(self):
        return iter(self._templates[n] for n in self.names())

    def get(self, name_or_path: str) -> Template:
        """A template by name, or loaded from a .toml path."""
        if name_or_path in self._templates:
            return self._templates[name_or_path]
        if name_or_path.endswith(".toml") or os.sep in name_or_path or Path(name_or_path).is_file():
            return load_template(name_or_path)
        raise TemplateError(
            f"unknown template '{name_or_path}'",
            f"use one of {', '.join(self.names())}, or a path to a .toml template file",
        )

    def load_folder(self, folder: str | os.PathLike) -> list[TemplateError]:
        """Add every template file in ``folder``; returns the errors of files that failed (they are skipped)."""
        errors: list[TemplateError] = []
        for path in sorted(Path(folder).glob("*.toml")):
            try:
                self.add(load_template(path))
            except TemplateError as exc:
                errors.append(exc)
        return errors

    def save(self, template: Template, folder: str | os.PathLike) -> Path:
        path = Path(folder) / f"{template.name}.toml"
        atomic_write_text(path, template_to_toml(template))
        self.add(template.with_changes(path=str(path), builtin=False))
        return path

    # --- mixed templates ----------------------------------------------------------------------------------
    def objective_for(self, relation: str) -> tuple[Objective, str]:
        """The objective for ``relation`` and what decided it: 'analysis', 'rules' or 'fallback'."""
        if relation in self.objectives:
            return self.objectives[relation], "analysis"
        ruled = self.rules.decide(relation)
        if ruled is not None:
            return ruled, "rules"
        return UNDECIDED_FALLBACK, "fallback"

    def uses_choices(self, template: Template | str) -> bool:
        """Whether ``template`` (or, for a mixed one, one of its parts) needs multiple-choice (QA) data."""
        if isinstance(template, str):
            template = self.get(template)
        if template.uses_choices:
            return True
        return template.is_mixed and any(
            t.uses_choices for t in self.concrete(template) if t is not template and not t.is_mixed
        )

    def qa_names(self) -> list[str]:
        """The templates for QA data: those whose name starts with "qa-" or that use choices."""
        out = []
        for name in self.names():
            try:
                if name.startswith("qa-") or self.uses_choices(name):
                    out.append(name)
            except TemplateError:
                continue  # a mixed template naming a missing part
        return out

    def example_objective(self, relation: str, question: str, choices: Sequence[str]) -> Objective:
        """The per-example QA rule's pick for one question (the relation's objective without the rule)."""
        if self.qa_framing is not None and choices:
            return Objective(self.qa_framing(question, choices))
        return self.objective_for(relation)[0]

    def resolve(
        self, template: Template, relation: str, question: str | None = None, choices: Sequence[str] = ()
    ) -> Template:
        """The concrete template used for ``relation`` (the template itself unless it is mixed); a per-example
        ("mixed-qa") template picks by the QA rule on ``question`` and ``choices``."""
        if not template.is_mixed:
            return template
        if template.per_example and question is not None:
            objective = self.example_objective(relation, question, choices)
        else:
            objective, _ = self.objective_for(relation)
        name = _part_name(template, objective)
        concrete = self.get(name)
        if concrete.is_mixed:
            raise TemplateError(
                f"mixed template '{template.name}' points at another mixed template '{name}'",
                "name a filling and a mapping template",
                field="filling",
            )
        return concrete

    def concrete(self, template: Template) -> list[Template]:
        """The concrete templates behind ``template``: itself, or a mixed template's filling and mapping ones."""
        if not template.is_mixed:
            return [template]
        return [self.get(_part_name(template, Objective.FILLING)), self.get(_part_name(template, Objective.MAPPING))]

    def check(self, template: Template) -> None:
        """Library-level checks (mixed references exist and have the right objectives)."""
        if not template.is_mixed:
            return
        for key, want in (("filling", Objective.FILLING), ("mapping", Objective.MAPPING)):
            name = getattr(template, key)
            if name not in self._templates:
                raise TemplateError(
                    f"'{name}' is not in the library", f"set {key} to one of {', '.join(self.names())}", field=key
                )
            if self._templates[name].objective is not want:
                raise TemplateError(
                    f"'{name}' is a {self._templates[name].objective} template, not {want}",
                    f"pick a {want} template for '{key}'",
                    field=key,
                )

    def render_head(
        self,
        template: Template | str,
        head: Any,
        target: str | None = None,
        *,
        style: SentinelStyle = T5_STYLE,
        answer: int | None = None,
    ) -> Rendered:
        """A head (core.data's ``Head``: relation, input, references, choices, answer) rendered with ``target`` (its
        first reference by default); a QA head brings its choices, and ``answer`` (the right choice by default)."""
        return self.render(
            template,
            head.relation,
            head.input,
            head.references[0] if target is None else target,
            references=head.references,
            style=style,
            choices=head.choices,
            answer=head.answer if answer is None else answer,
        )

    def render(
        self,
        template: Template | str,
        relation: str,
        input_text: str,
        target_text: str = "",
        *,
        references: tuple[str, ...] = (),
        style: SentinelStyle = T5_STYLE,
        phrases: PhraseTable | None = None,
        choices: Sequence[str] = (),
        answer: int | None = None,
    ) -> Rendered:
        """One row rendered; QA rows give ``choices`` and ``answer`` (the right choice's index)."""
        if isinstance(template, str):
            template = self.get(template)
        if template.per_example and not choices:
            raise TemplateError(
                f"template '{template.name}' picks Filling or Mapping per question (mixed-qa) and needs "
                "multiple-choice data, but this row has no choices",
                "use QA data (e.g. --data world-qa), or the per-relation template 'mixed'",
            )

        def resolve(t: Template, rel: str) -> Template:
            return self.resolve(t, rel, input_text, choices)

        return render(
            template,
            relation,
            input_text,
            target_text,
            references=references,
            phrases=phrases or self.phrases,
            style=style,
            resolve=resolve,
            choices=choices,
            answer=answer,
        )


def builtin_template(name: str) -> Template:
    return TemplateLibrary().get(name)


def _part_name(template: Template, objective: Objective) -> str:
    """The template a mixed template uses for ``objective``: its filling one, else its mapping one."""
    name = template.filling if objective is Objective.FILLING else template.mapping
    if name is None:
        key = "filling" if objective is Objective.FILLING else "mapping"
        raise TemplateError(
            f"mixed template '{template.name}' names no {key} template", f'add {key} = "NAME"', field=key
        )
    return name
