"""PySide6 6.12 on Python 3.11 drops a reference to None/True/False at each conversion it treats as immortal;
importing mto_studio.gui must make that harmless (a table view or a pyqtgraph chart otherwise aborts the
interpreter within seconds)."""

import sys

import pytest

pytest.importorskip("PySide6")


def test_singletons_cannot_be_exhausted_by_pyside():
    from PySide6.QtCore import QObject

    import mto_studio.gui  # noqa: F401 - the import applies the guard

    holder = QObject()
    for _ in range(2000):
        assert holder.property("no-such-property") is None
        assert holder.signalsBlocked() is False
    for singleton in (None, True, False):
        assert sys.getrefcount(singleton) > 1 << 39, f"{singleton} can still be deallocated by the PySide6 bug"
