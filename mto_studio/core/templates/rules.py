"""The rule table: relation name → Filling or Mapping, editable; unknown relations stay undecided."""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

import tomli_w

from mto_studio.core.errors import ConfigError
from mto_studio.core.fsio import atomic_write_text
from mto_studio.core.resources import resource
from mto_studio.core.templates.model import Objective


class RuleTable:
    """Relation → Objective. ``decide`` returns None for a relation the table does not know."""

    def __init__(self, entries: dict[str, Objective] | None = None) -> None:
        self.entries: dict[str, Objective] = dict(entries or {})

    def decide(self, relation: str) -> Objective | None:
        if relation in self.entries:
            return self.entries[relation]
        lowered = {k.lower(): v for k, v in self.entries.items()}
        return lowered.get(relation.lower())

    def with_entry(self, relation: str, objective: Objective | None) -> RuleTable:
        entries = dict(self.entries)
        if objective is None:
            entries.pop(relation, None)
        else:
            entries[relation] = Objective(objective)
        return RuleTable(entries)

    def to_toml(self) -> str:
        return tomli_w.dumps(
            {
                "filling": sorted(r for r, o in self.entries.items() if o is Objective.FILLING),
                "mapping": sorted(r for r, o in self.entries.items() if o is Objective.MAPPING),
            }
        )

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(path, self.to_toml())

    @classmethod
    def from_toml(cls, text: str, source: str = "rule table") -> RuleTable:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: syntax error: {exc}", "fix the TOML at that line") from None
        entries: dict[str, Objective] = {}
        for key, objective in (("filling", Objective.FILLING), ("mapping", Objective.MAPPING)):
            values = data.get(key, [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ConfigError(f"{source}: '{key}' must be a list of relation names", 'e.g. filling = ["xAttr"]')
            for rel in values:
                if rel in entries and entries[rel] is not objective:
                    raise ConfigError(f"{source}: '{rel}' is listed as both filling and mapping", "keep it in one list")
                entries[rel] = objective
        return cls(entries)

    @classmethod
    def load(cls, path: str | os.PathLike) -> RuleTable:
        path = Path(path)
        try:
            return cls.from_toml(path.read_text(encoding="utf-8"), source=path.name)
        except OSError as exc:
            raise ConfigError(f"cannot read rule table {path}: {exc.strerror}", "check the path") from None


@lru_cache(maxsize=1)
def builtin_rules() -> RuleTable:
    return RuleTable.load(resource("objectives", "rules.toml"))
