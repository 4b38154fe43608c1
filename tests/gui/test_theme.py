"""Every colour of the GUI is named in gui/theme.py: no other GUI module spells out a hex colour."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

import mto_studio.gui

GUI = Path(mto_studio.gui.__file__).parent
THEME = GUI / "theme.py"
#: "#rrggbb" or "#rrggbbaa", not an HTML character reference such as "&#128512;"
HEX_COLOUR = re.compile(r"(?<!&)#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6})\b")
STRING_TOKENS = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}


def hex_colours(source: str) -> list[tuple[int, str]]:
    """(line, literal) of each hex colour inside a string of ``source``; comments do not count."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in STRING_TOKENS:
            for match in HEX_COLOUR.finditer(token.string):
                found.append((token.start[0] + token.string.count("\n", 0, match.start()), match.group()))
    return found


def test_the_scan_finds_colours_in_strings_only():
    source = (
        "# fixed in #123456, see issue #1\n"
        'A = "#c92a2a"\n'
        "B = f\"<span style='color:{x}; background:#FFF5F580'>\"\n"
        'C = """one\n  border: 1px solid #adb5bd;"""\n'
        'D = "#1f2a3x &#128512; #12345 issue #1"\n'
    )
    assert hex_colours(source) == [(2, "#c92a2a"), (3, "#FFF5F580"), (5, "#adb5bd")]


def test_gui_colours_come_from_the_theme():
    literals = [
        f"{path.relative_to(GUI.parent.parent)}:{line}: {colour}"
        for path in sorted(GUI.rglob("*.py"))
        if path != THEME
        for line, colour in hex_colours(path.read_text(encoding="utf-8"))
    ]
    if literals:
        pytest.fail("hex colours outside gui/theme.py (name them in the theme):\n" + "\n".join(literals))
