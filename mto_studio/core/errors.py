"""User-facing errors: each names the problem and how to fix it; the CLI prints one line, the GUI a dialog."""

from __future__ import annotations


class MtoError(Exception):
    """Base class for every error a user can cause and fix (bad files, bad templates, bad configs)."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message and the fix, on one line."""
        return f"{self.message} — {self.hint}" if self.hint else self.message

    def __reduce__(self):
        """Pickle with every attribute, whatever the subclass's constructor takes: an error raised in a worker
        process reaches the app or CLI as the same type with the same message and fix."""
        return _rebuilt, (type(self), self.args, dict(self.__dict__))


def _rebuilt(cls: type[MtoError], args: tuple, state: dict) -> MtoError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class DataError(MtoError):
    """A data file cannot be read or has no usable columns."""


class ConfigError(MtoError):
    """A configuration value is invalid or inconsistent."""


class ModelError(MtoError):
    """A model or tokenizer cannot be loaded or lacks what a template needs."""


class TemplateError(MtoError):
    """A template is malformed. ``field`` names the part (source, target, objective, …); ``line``/``column``
    locate the problem in the template's text or file where known."""

    def __init__(
        self,
        message: str,
        hint: str = "",
        *,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
        source_name: str | None = None,
    ) -> None:
        self.field = field
        self.line = line
        self.column = column
        self.source_name = source_name
        where = []
        if source_name:
            where.append(source_name)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(f"field '{field}'")
        if column is not None:
            where.append(f"column {column}")
        prefix = f"template {', '.join(where)}: " if where else "template: "
        super().__init__(prefix + message, hint)
        self.bare_message = message
