"""PySide6 6.12.0 on Python 3.11 took a reference to None/True/False away at each conversion it treated as
immortal, until the interpreter aborted ("deallocating None") within seconds of using a table or a chart. The
pinned PySide6 must not do that: conversions leave the singletons' reference counts unchanged."""

import sys

import pytest

pytest.importorskip("PySide6")


def test_pyside_conversions_keep_singleton_reference_counts():
    from PySide6.QtCore import QObject

    holder = QObject()
    before = {repr(s): sys.getrefcount(s) for s in (None, True, False)}
    for _ in range(2000):
        assert holder.property("no-such-property") is None
        assert holder.signalsBlocked() is False
    after = {repr(s): sys.getrefcount(s) for s in (None, True, False)}
    for name, count in before.items():
        assert abs(after[name] - count) < 100, f"PySide6 leaks or drops references to {name}: {count} -> {after[name]}"
