"""Helpers for configuration dataclasses: strict building from dicts/TOML, JSON round-trip, help text."""

from __future__ import annotations

import dataclasses
import enum
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mto_studio.core.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")

#: The seeds every random generator in use accepts (numpy's and torch's): 0 to 2^32 - 1.
SEED_MAX = 2**32 - 1
#: Whole numbers beyond this overflow the libraries' 64-bit integers; no setting needs one that large.
INT_MAX = 2**63 - 1


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Any = dataclasses.MISSING,
    choices: tuple | None = None,
    low: float | None = None,
    high: float | None = None,
):
    """A dataclass field carrying help text and simple bounds, used by validation, the CLI and the GUI."""
    metadata = {"help": help, "choices": choices, "low": low, "high": high}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def seed_option(default: int = 0, help: str = "seed") -> Any:
    """A seed field: a whole number from 0 to 2^32 - 1 (what numpy and torch accept)."""
    return option(default, help, low=0, high=SEED_MAX)


def _num(value: float) -> str:
    """A bound as people write it: 4294967295 rather than 4.29497e+09, 1e-08 and 0.5 as they are."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e16):
        return str(int(value))
    return f"{value:g}"


def help_of(cls: type, name: str) -> str:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}.get(name, "")


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """What a config field says about itself: the one source for validation, CLI flags and GUI form rows."""

    name: str
    type: Any  # int, float, str, bool (Optional stripped)
    default: Any
    help: str
    choices: tuple | None
    low: float | None
    high: float | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self, *, with_default: bool = True) -> str:
        """The help with the default and the range, as the CLI prints it (``with_default=False``: where the
        default comes from elsewhere, e.g. a recipe file)."""
        parts = [self.help or self.name.replace("_", " ")]
        shown = with_default and self.default not in (None, dataclasses.MISSING, "")
        extras = [f"default {self.default}"] if shown else []
        if self.low is not None and self.high is not None:
            extras.append(f"{_num(self.low)} to {_num(self.high)}")
        elif self.low is not None:
            extras.append(f"at least {_num(self.low)}")
        return f"{parts[0]} ({'; '.join(extras)})" if extras else parts[0]


def field_info(cls: type, name: str) -> FieldInfo:
    """``cls``'s field ``name`` with its type, default and option() metadata."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name != name:
            continue
        tp = hints[name]
        if typing.get_origin(tp) in (typing.Union, types.UnionType):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        choices: tuple | None
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            choices = tuple(m.value for m in tp)
            tp = str
        else:
            choices = f.metadata.get("choices")
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, enum.Enum):
            default = default.value
        meta = f.metadata
        return FieldInfo(name, tp, default, meta.get("help", ""), choices, meta.get("low"), meta.get("high"))
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def _range_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"use a number from {_num(low)} to {_num(high)}"
    if low is not None:
        return f"use a number of at least {_num(low)}"
    if high is not None:
        return f"use a number of at most {_num(high)}"
    return "use a finite number"


def check_bounds(obj: Any, where: str = "") -> None:
    """Validate choices and bounds declared with :func:`option`; errors name the field and the range. NaN and
    infinity fail every number field, bounded or not (NaN passes any comparison)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        label = f"{where}{f.name}"
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(
                f"{label} = {value!r} is not allowed", f"use one of {', '.join(map(str, meta['choices']))}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        low, high = meta.get("low"), meta.get("high")
        if isinstance(value, float) and not math.isfinite(value):
            advice = _range_text(low, high) + (f" ({meta['help']})" if meta.get("help") else "")
            raise ConfigError(f"{label} = {value} is not a finite number", advice)
        if low is not None and value < low:
            raise ConfigError(f"{label} = {value} is below {low}", meta.get("help") or "raise it")
        if high is not None and value > high:
            raise ConfigError(f"{label} = {value} is above {high}", meta.get("help") or "lower it")
        if isinstance(value, int) and abs(value) > INT_MAX:
            raise ConfigError(f"{label} = {value} is too large", _range_text(low, INT_MAX))


def _convert(tp: Any, value: Any, label: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for arg in args:
            try:
                return _convert(arg, value, label)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{label} must be a table", f"write [{label}] with its fields")
        return from_dict(tp, value, where=f"{label}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{label} must be a list", "write it as [a, b, c]")
        (inner, *_) = typing.get_args(tp) or (Any,)
        items = [_convert(inner, v, label) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{label} must be a table", "write it as {key = value}")
        return dict(value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(
                f"unknown {label} '{value}'", f"use one of {', '.join(str(m.value) for m in tp)}"
            ) from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label} must be true or false, got {value!r}", "write true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{label} must be a whole number, got {value!r}", "e.g. 100")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{label} must be a number, got {value!r}", "e.g. 0.001")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{label} must be text, got {value!r}", 'quote it: "…"')
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are ConfigErrors naming the key."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(f"unknown setting '{where}{unknown[0]}'", f"known settings: {', '.join(fields)}")
    kwargs = {name: _convert(hints[name], value, f"{where}{name}") for name, value in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> Any:
    """JSON-ready dict of a dataclass (enums as values, tuples as lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"file not found: {path}", "check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: syntax error: {exc}", "fix the TOML at that line") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "save it as UTF-8 text") from None
