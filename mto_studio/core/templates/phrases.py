"""The relation-phrase table: built-in phrases for the 23 ATOMIC-2020 relations, user-overridable."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import tomli_w

from mto_studio.core.errors import TemplateError
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.resources import resource
from mto_studio.core.templates.model import Phrase

ATOMIC_RELATIONS = (
    "xIntent",
    "xNeed",
    "xWant",
    "xEffect",
    "xReact",
    "xAttr",
    "xReason",
    "oWant",
    "oEffect",
    "oReact",
    "isAfter",
    "isBefore",
    "HasSubEvent",
    "Causes",
    "HinderedBy",
    "isFilledBy",
    "AtLocation",
    "ObjectUse",
    "CapableOf",
    "HasProperty",
    "MadeUpOf",
    "Desires",
    "NotDesires",
)


class PhraseTable(Mapping[str, Phrase]):
    """Relation → Phrase, layered: later layers (project, template) override earlier ones per field."""

    def __init__(self, entries: Mapping[str, Phrase] | None = None) -> None:
        self._entries: dict[str, Phrase] = dict(entries or {})

    def __getitem__(self, relation: str) -> Phrase:
        return self._entries[relation]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, relation: str) -> Phrase:
        """The phrase for ``relation``; falls back to a case-insensitive match."""
        if relation in self._entries:
            return self._entries[relation]
        lowered = {k.lower(): v for k, v in self._entries.items()}
        if relation.lower() in lowered:
            return lowered[relation.lower()]
        raise TemplateError(
            f"no relation phrase for '{relation}'",
            f"add a phrase for '{relation}' in the phrase table, or use a template without relation phrases (sup)",
            field="phrases",
        )

    def overridden(self, overrides: Mapping[str, Phrase] | None) -> PhraseTable:
        if not overrides:
            return self
        merged = dict(self._entries)
        for rel, phrase in overrides.items():
            base = merged.get(rel, Phrase())
            merged[rel] = Phrase(clause=phrase.clause or base.clause, connective=phrase.connective or base.connective)
        return PhraseTable(merged)

    def with_entry(self, relation: str, phrase: Phrase) -> PhraseTable:
        merged = dict(self._entries)
        merged[relation] = phrase
        return PhraseTable(merged)

    def to_toml(self) -> str:
        return tomli_w.dumps(
            {rel: {"clause": p.clause, "connective": p.connective} for rel, p in self._entries.items()}
        )

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(path, self.to_toml())


def phrase_table_from_toml(text: str, source_name: str = "phrase table") -> PhraseTable:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"syntax error: {exc}", "fix the TOML at that line", source_name=source_name) from None
    entries: dict[str, Phrase] = {}
    for rel, entry in data.items():
        if not isinstance(entry, dict):
            raise TemplateError(
                f"entry '{rel}' must be a table with clause and connective",
                f'write [{rel}] then clause = "…"',
                source_name=source_name,
            )
        clause, connective = str(entry.get("clause", "")), str(entry.get("connective", ""))
        if clause and clause.count("{input}") != 1:
            raise TemplateError(
                f"the clause for '{rel}' must hold {{input}} exactly once",
                'e.g. clause = "After {input}, PersonX feels"',
                source_name=source_name,
            )
        entries[rel] = Phrase(clause=clause, connective=connective)
    return PhraseTable(entries)


def load_phrase_table(path: str | os.PathLike) -> PhraseTable:
    path = Path(path)
    try:
        return phrase_table_from_toml(path.read_text(encoding="utf-8"), source_name=path.name)
    except OSError as exc:
        raise TemplateError(f"cannot read phrase table {path}: {exc}", "check the path") from None


@lru_cache(maxsize=1)
def builtin_phrases() -> PhraseTable:
    """The shipped table (resources/phrases/relations.toml)."""
    return load_phrase_table(resource("phrases", "relations.toml"))
