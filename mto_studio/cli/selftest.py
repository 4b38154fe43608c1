"""`mto-studio --self-test`: check the installation end to end; exit 0, or print what failed and exit 1."""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

CHECKS: list[tuple[str, Callable[[Path], str]]] = []


def check(name: str):
    def wrap(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        CHECKS.append((name, fn))
        return fn

    return wrap


@check("import the core libraries")
def _imports(tmp: Path) -> str:
    import datasets  # noqa: F401
    import tokenizers  # noqa: F401
    import torch
    import transformers

    return f"torch {torch.__version__}, transformers {transformers.__version__}"


@check("render the built-in templates")
def _render(tmp: Path) -> str:
    from mto_studio.core.templates import BUILTIN_NAMES, TemplateLibrary

    library = TemplateLibrary()
    out = library.render("unsup-nat", "xIntent", "PersonX buys a ticket", "to see a film")
    assert out.source.endswith("<extra_id_0>") and out.target.startswith("<extra_id_0>"), out
    for name in BUILTIN_NAMES:
        library.render(name, "xAttr", "PersonX buys a ticket", "thrifty")
    return f"{len(BUILTIN_NAMES)} templates"


def run_self_test() -> int:
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mto-selftest-") as folder:
        for name, fn in CHECKS:
            start = time.perf_counter()
            try:
                detail = fn(Path(folder))
                print(f"ok    {name} ({time.perf_counter() - start:.1f} s) {detail}")
            except Exception as exc:  # report every failure, keep checking
                failures += 1
                print(f"FAIL  {name}: {type(exc).__name__}: {exc}")
                traceback.print_exc(limit=3, file=sys.stdout)
    print("self-test passed" if not failures else f"self-test FAILED ({failures} check(s))")
    return 0 if not failures else 1
