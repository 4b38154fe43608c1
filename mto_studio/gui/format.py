"""Text helpers every view shares: escaping for Qt rich text, durations, and the threads advice."""

from __future__ import annotations

import html
from typing import Any

THREADS_TIP = (
    "torch CPU threads. Leave a core free for the window: on a 2-core machine shared with other work, OpenMP "
    "threads that wait on each other ran 2–20× slower in our measurements. Raise it on a machine with many idle "
    "cores."
)


def esc(text: Any) -> str:
    """``text`` safe inside a rich-text label's text (quotes stay: it is never put in an attribute)."""
    return html.escape(str(text), quote=False)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# --- multiple-choice QA: a question's choices with the right one marked -------------------------------------
CHOICE_LABELS = "ABCDEFGH"
ANSWER_MARK = "✓"


def choice_label(index: int) -> str:
    return CHOICE_LABELS[index] if 0 <= index < len(CHOICE_LABELS) else str(index + 1)


def choices_text(choices: tuple[str, ...] | list[str], answer: int | None) -> str:
    """One line: "A) the cellar  ✓B) the attic  C) …" (the right choice marked)."""
    return "  ".join(
        f"{ANSWER_MARK if i == answer else ''}{choice_label(i)}) {choice}" for i, choice in enumerate(choices)
    )


def choices_tooltip(choices: tuple[str, ...] | list[str], answer: int | None) -> str:
    """One choice a line, the answer named."""
    lines = [
        f"{ANSWER_MARK if i == answer else '  '} {choice_label(i)}) {choice}"
        + ("   ← the answer" if i == answer else "")
        for i, choice in enumerate(choices)
    ]
    return "\n".join(lines)
