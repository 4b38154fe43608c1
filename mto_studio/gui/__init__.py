"""The desktop app (PySide6 + pyqtgraph): the only package that imports Qt."""

import sys

if sys.version_info < (3, 12):
    # PySide6 6.12 returns None, True and False without a new reference (QModelIndex.data() of an empty role,
    # QObject.property(), a Python model's data() returning None, pyqtgraph's itemChange, bool results…), as if
    # they were immortal, which they are only from Python 3.12. On 3.11 each such call takes a reference until
    # the interpreter aborts with "deallocating None" / "deallocating True or False" (a table or a chart does that
    # in seconds). Give these singletons a reference count no session can use up, as 3.12 does; ob_refcnt is an
    # object's first field.
    import ctypes

    for _singleton in (None, True, False, NotImplemented, Ellipsis):
        ctypes.c_ssize_t.from_address(id(_singleton)).value += 1 << 40
    del _singleton
