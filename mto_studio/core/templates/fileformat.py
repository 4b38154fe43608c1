"""The template file format (TOML), its validation, and writing templates back to text.

    name = "unsup-nat"
    description = "Input, relation phrase, sentinel: the Filling template"
    objective = "filling"            # filling | mapping | mixed
    source = "{input} {rel} {mask}"
    target = "{mask} {target}"
    # optional:
    prefix = "question"              # text for {prefix}; default: the relation's name
    soft_length = 8                  # length of a bare {soft}
    [phrases.xIntent]                # override the relation-phrase table for this template
    clause = "When {input}, PersonX's aim is"
    connective = "because PersonX wanted"

A mixed template has ``filling = "NAME"`` and ``mapping = "NAME"`` instead of source and target; with
``objective = "mixed-qa"`` it picks per example by the method's QA rule (core.data.qa_framing) instead of per relation.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from mto_studio.core.errors import TemplateError
from mto_studio.core.templates.model import MAX_SOFT_LENGTH, Objective, Phrase, Slot, SlotKind, Template
from mto_studio.core.templates.pattern import parse_pattern

FIELDS = (
    "format",
    "name",
    "description",
    "objective",
    "source",
    "target",
    "prefix",
    "soft_length",
    "phrases",
    "filling",
    "mapping",
)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
#: Tokens that rendering writes itself; typed as text they would slip past the sentinel and soft-prompt checks.
LITERAL_TOKEN_RE = re.compile(r"<extra_id_\d+>|<mask>|<soft_\d+>", re.IGNORECASE)


def _line_of(text: str | None, key: str) -> int | None:
    if not text:
        return None
    # [ \t], not \s: \s would match the newline of a blank line before the key and give its line
    pattern = re.compile(rf"^[ \t]*{re.escape(key)}[ \t]*=", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


class TemplateProblems(TemplateError):
    """Every problem found in one template, reported at once. ``problems`` lists them (each a TemplateError with
    its field, line and column); ``field``/``line``/``column`` are the first one's, for editors that mark one."""

    def __init__(self, problems: list[TemplateError], source_name: str | None = None) -> None:
        listed = "; ".join(f"{i}) {_located(p)}" for i, p in enumerate(problems, start=1))
        super().__init__(f"{len(problems)} problems: {listed}", "fix each as its note says", source_name=source_name)
        self.problems = problems
        first = problems[0]
        self.field, self.line, self.column = first.field, first.line, first.column


def _located(problem: TemplateError) -> str:
    where = [f"line {problem.line}"] if problem.line is not None else []
    where += [f"field '{problem.field}'"] if problem.field else []
    where += [f"column {problem.column}"] if problem.column is not None else []
    fix = f" (fix: {problem.hint})" if problem.hint else ""
    return (f"{', '.join(where)}: " if where else "") + problem.bare_message + fix


class _Problems:
    """Collects a template's problems so that one error reports them all."""

    def __init__(self, text: str | None, source_name: str | None) -> None:
        self.text = text
        self.source_name = source_name
        self.items: list[TemplateError] = []

    def add(self, message: str, hint: str, key: str | None = None, column: int | None = None) -> None:
        line = _line_of(self.text, key) if key else None
        self.items.append(
            TemplateError(message, hint, field=key, line=line, column=column, source_name=self.source_name)
        )

    def raise_if_any(self) -> None:
        if len(self.items) == 1:
            raise self.items[0]
        if self.items:
            ordered = sorted(self.items, key=lambda p: (p.line is None, p.line or 0))
            raise TemplateProblems(ordered, self.source_name)


def _literal_sentinels(text: Any, key: str, problems: _Problems, what: str) -> None:
    """Sentinel or soft-prompt tokens typed as text: rejected with the slot to write instead (rendering numbers
    ``{mask}`` slots itself, so a typed ``<extra_id_2>`` would bypass the sentinel checks)."""
    if not isinstance(text, str):
        return
    for match in LITERAL_TOKEN_RE.finditer(text):
        token = match.group(0)
        slot = "{soft:N}" if token.startswith("<soft") else "{mask}"
        problems.add(
            f"the {what} holds the sentinel text '{token}'",
            f"write {slot} instead: sentinels are numbered in order when the template is rendered",
            key,
            match.start() + 1 if key in ("source", "target") else None,
        )


def template_from_dict(
    data: dict[str, Any],
    *,
    text: str | None = None,
    source_name: str | None = None,
    builtin: bool = False,
    path: str | None = None,
) -> Template:
    """Validate a parsed mapping and build a Template. Every problem is reported at once (TemplateProblems when
    there are several); each names the field and, with ``text``, the line."""
    if not isinstance(data, dict):
        raise TemplateError("the template must be a table of fields", 'start with name = "…"', source_name=source_name)
    problems = _Problems(text, source_name)
    fail = problems.add
    for key in data:
        if key not in FIELDS:
            close = [f for f in FIELDS if f[:3] == str(key)[:3]]
            hint = f"did you mean '{close[0]}'?" if close else f"known fields: {', '.join(FIELDS)}"
            fail(f"unknown field '{key}'", hint, str(key))

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        fail("missing name", 'add name = "my-template"', "name" if "name" in data else None)
    elif not _NAME_RE.match(name):
        fail(f"bad name '{name}'", "use letters, digits, '-', '_', '.' (up to 64 characters)", "name")
    description = data.get("description", "")
    if not isinstance(description, str):
        fail("description must be text", 'write description = "…"', "description")

    raw_objective = data.get("objective")
    objective: Objective | None = None
    per_example = False
    if raw_objective is None:
        fail("missing objective", 'add objective = "filling", "mapping", "mixed" or "mixed-qa"')
    else:
        wanted = str(raw_objective).strip().lower()
        per_example = wanted == "mixed-qa"
        try:
            objective = Objective("mixed" if per_example else wanted)
        except ValueError:
            fail(f"unknown objective '{raw_objective}'", 'use "filling", "mapping", "mixed" or "mixed-qa"', "objective")

    prefix = data.get("prefix")
    if prefix is not None and not isinstance(prefix, str):
        fail("prefix must be text", 'write prefix = "question"', "prefix")
    _literal_sentinels(prefix, "prefix", problems, "prefix")
    soft_length = data.get("soft_length", 8)
    if isinstance(soft_length, bool) or not isinstance(soft_length, int) or not 1 <= soft_length <= MAX_SOFT_LENGTH:
        fail(f"soft_length must be a whole number from 1 to {MAX_SOFT_LENGTH}", "e.g. soft_length = 8", "soft_length")
    phrases = _parse_phrases(data.get("phrases", {}), problems)

    if objective is Objective.MIXED:
        names = _mixed_parts(data, fail)
        problems.raise_if_any()
        return Template(
            name=str(name), objective=objective, description=description, prefix=prefix, soft_length=soft_length,
            phrases=phrases, builtin=builtin, path=path, filling=names["filling"], mapping=names["mapping"],
            per_example=per_example,
        )  # fmt: skip

    for key in ("filling", "mapping"):
        if key in data and objective is not None:
            fail(f"'{key}' is only for mixed templates", 'remove it, or set objective = "mixed"', key)
    patterns = {}
    for key in ("source", "target"):
        if key not in data:
            example = '"{input} {rel} {mask}"' if key == "source" else '"{mask} {target}"'
            fail(f"missing {key} pattern", f"add {key} = {example}")
            continue
        _literal_sentinels(data[key], key, problems, key)
        try:
            patterns[key] = parse_pattern(data[key], key)
        except TemplateError as exc:
            fail(exc.bare_message, exc.hint, key, exc.column)
    if len(patterns) == 2:
        _check_structure(patterns["source"], patterns["target"], objective, fail)
    problems.raise_if_any()
    assert objective is not None
    return Template(
        name=str(name), objective=objective, description=description, prefix=prefix, soft_length=soft_length,
        phrases=phrases, builtin=builtin, path=path, source=patterns["source"], target=patterns["target"],
    )  # fmt: skip


def _mixed_parts(data: dict[str, Any], fail) -> dict[str, str]:
    for key in ("source", "target"):
        if key in data:
            fail(
                f"a mixed template has no {key} pattern",
                'name its two templates with filling = "…" and mapping = "…"',
                key,
            )
    names = {}
    for key in ("filling", "mapping"):
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            fail(
                f"a mixed template needs '{key}'",
                f'add {key} = "NAME" (a {key} template)',
                key if key in data else None,
            )
        else:
            names[key] = value.strip()
    return names


def _parse_phrases(raw: Any, problems: _Problems) -> dict[str, Phrase]:
    fail = problems.add
    if not isinstance(raw, dict):
        fail("phrases must be a table of relations", "write [phrases.xIntent] then clause/connective", "phrases")
        return {}
    out: dict[str, Phrase] = {}
    for relation, entry in raw.items():
        if isinstance(entry, str):
            entry = {"connective": entry}
        if not isinstance(entry, dict):
            fail(f"phrase for '{relation}' must be a table", 'give clause = "…" and/or connective = "…"', "phrases")
            continue
        unknown = set(entry) - {"clause", "connective"}
        if unknown:
            fail(f"unknown key(s) {sorted(unknown)} in phrase for '{relation}'", "use clause and connective", "phrases")
        clause, connective = entry.get("clause", ""), entry.get("connective", "")
        if not isinstance(clause, str) or not isinstance(connective, str):
            fail(f"phrase for '{relation}' must be text", "quote the clause and the connective", "phrases")
            continue
        if clause and clause.count("{input}") != 1:
            fail(
                f"the clause for '{relation}' must hold {{input}} exactly once",
                'e.g. clause = "After {input}, PersonX feels"',
                "phrases",
            )
        for part, value in (("clause", clause), ("connective", connective)):
            _literal_sentinels(value, "phrases", problems, f"{part} for '{relation}'")
        out[str(relation)] = Phrase(clause=clause, connective=connective)
    return out


def _check_structure(source: tuple[Slot, ...], target: tuple[Slot, ...], objective: Objective | None, fail) -> None:
    def count(kind: SlotKind, slots: tuple[Slot, ...]) -> int:
        return sum(1 for slot in slots if slot.kind is kind)

    n_input = count(SlotKind.INPUT, source)
    if n_input != 1:
        fail(
            f"the source must hold {{input}} exactly once (found {n_input})",
            "put one {input} in the source pattern",
            "source",
        )
    n_target = count(SlotKind.TARGET, target) + count(SlotKind.LABEL, target)
    if n_target != 1:
        fail(
            f"the target must hold {{target}} (or, for QA, {{label}}) exactly once (found {n_target})",
            'e.g. target = "{mask} {target}" or "{target}"',
            "target",
        )
    src_masks, tgt_masks = count(SlotKind.MASK, source), count(SlotKind.MASK, target)
    if objective is Objective.MAPPING and (src_masks or tgt_masks):
        fail(
            "a mapping template has no sentinels",
            'remove {mask}, or set objective = "filling"',
            "source" if src_masks else "target",
        )
    elif src_masks and tgt_masks not in (src_masks, src_masks + 1):
        fail(
            f"mismatched sentinels: the source has {src_masks}, the target {tgt_masks}",
            f"the target must repeat the source's {src_masks} sentinel(s) in order (optionally one closing "
            f'sentinel more), e.g. target = "{" ".join(["{mask}"] * src_masks)} {{target}}"',
            "target",
        )
    elif objective is Objective.FILLING and not tgt_masks:
        fail(
            "a filling template's target must start with a sentinel",
            'e.g. target = "{mask} {target}", or set objective = "mapping"',
            "target",
        )


def parse_template_text(
    text: str, *, source_name: str | None = None, builtin: bool = False, path: str | None = None
) -> Template:
    """Parse a TOML template; syntax errors give the line number."""
    if not isinstance(text, str):
        raise TemplateError("template text must be a string", "read the file as UTF-8 text", source_name=source_name)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        message = getattr(exc, "msg", str(exc))
        if line is None:
            found = re.search(r"line (\d+), column (\d+)", str(exc))
            if found:
                line, column = int(found.group(1)), int(found.group(2))
            message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise TemplateError(
            f"syntax error: {message}",
            "fix the TOML at that line (strings need quotes)",
            line=line,
            column=column,
            source_name=source_name,
        ) from None
    return template_from_dict(data, text=text, source_name=source_name, builtin=builtin, path=path)


def load_template(path: str | os.PathLike, *, builtin: bool = False) -> Template:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(
            f"file not found: {path}", "check the path, or give a built-in name (mto-studio templates)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read {path}: {exc}", "save the template as UTF-8 text") from None
    return parse_template_text(text, source_name=path.name, builtin=builtin, path=str(path))


def template_to_dict(template: Template) -> dict[str, Any]:
    data: dict[str, Any] = {"format": 1, "name": template.name}
    if template.description:
        data["description"] = template.description
    data["objective"] = template.objective_text
    if template.is_mixed:
        data["filling"] = template.filling
        data["mapping"] = template.mapping
    else:
        data["source"] = template.source_text
        data["target"] = template.target_text
    if template.prefix is not None:
        data["prefix"] = template.prefix
    if template.soft_length != 8:
        data["soft_length"] = template.soft_length
    if template.phrases:
        data["phrases"] = {
            rel: {k: v for k, v in (("clause", p.clause), ("connective", p.connective)) if v}
            for rel, p in template.phrases.items()
        }
    return data


def template_to_toml(template: Template) -> str:
    return tomli_w.dumps(template_to_dict(template))
