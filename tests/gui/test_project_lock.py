"""One window writes a project at a time (issue 13, item 2): the app locks the project it opens, a project another
process holds opens read-only (a dialog and a notice name the holder; Save and template saves are refused and
nothing is written), and opening another project or closing the window lets go of the lock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from mto_studio.core.project import PROJECT_FILE, Project  # noqa: E402
from mto_studio.core.store import FolderBusyError, FolderLock, holder_of  # noqa: E402
from mto_studio.core.store.locks import LOCK_FILE  # noqa: E402

HINT = "close the other MTO Studio window that has it open"


def hold(folder: Path) -> subprocess.Popen:
    """Another process (say, a second MTO Studio window) that holds the project's lock until its stdin closes."""
    code = (
        "import sys; from mto_studio.core.store import FolderLock; "
        f"held = FolderLock({str(folder)!r}, what='project').acquire(); print('held', flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def end(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file of the project folder and its content (the holder's lock file aside)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK_FILE
    }


def test_a_project_another_process_holds_opens_read_only_and_nothing_is_written(window, qtbot, dialogs, tmp_path):
    folder = tmp_path / "held-elsewhere"
    Project.create(folder, "Held elsewhere")
    before = files_of(folder)
    holder = hold(folder)
    try:
        assert window.open_project(str(folder))
        context = window.context
        assert context.project.folder == folder and context.lease.read_only
        (shown,) = dialogs.shown
        assert shown["title"] == "The project is open read-only"
        assert f"project {folder} is in use by PID {holder.pid} since " in shown["text"] and HINT in shown["info"]
        banner = window.banner.text_label.text()
        assert window.banner.isVisible() and f"open read-only because PID {holder.pid} since " in banner
        assert "(read-only)" in window.windowTitle() and "read-only" in window.project_status.text()

        # File ▸ Save: refused with the same message; a template save and a delete too.
        dialogs.shown.clear()
        context.project.name = "Renamed here"
        context.notify_modified()
        assert window.save() is False
        (refused,) = dialogs.shown
        assert refused["title"] == "Cannot save the project"
        assert f"project {folder} is in use by PID {holder.pid} since " in refused["text"] and HINT in refused["info"]
        window.show_workbench("templates")
        designer = window.workbench("templates")
        dialogs.shown.clear()
        designer.new_template()
        assert designer.template is not None and designer.save_current() is False
        (refused,) = dialogs.shown
        assert (
            refused["title"] == "Cannot save the template" and f"in use by PID {holder.pid} since " in refused["text"]
        )
        analyzer = window.workbench("analyzer")  # its analysis.json stays as it is too
        analyzer.results.report_dict = {"relations": []}
        analyzer._save_overrides()
        assert f"in use by PID {holder.pid}" in analyzer.status_label.text()
        assert files_of(folder) == before, "nothing was written to the project folder"
        assert holder_of(folder).pid == holder.pid, "the other process keeps its lock"
    finally:
        end(holder)

    # The other window has closed: opening the project again makes it writable here, and it saves.
    dialogs.shown.clear()
    window.banner.action_button("read-only").click()  # "Open again"; the unsaved edits are discarded (Discard)
    assert context.project.name == "Held elsewhere"
    assert not context.lease.read_only and holder_of(folder).pid == os.getpid()
    assert "read-only" not in window.banner.text_label.text() and "(read-only)" not in window.windowTitle()
    context.project.name = "Saved here"
    assert window.save() and 'name = "Saved here"' in (folder / PROJECT_FILE).read_text()
    assert dialogs.shown == []


def test_a_project_freed_after_it_opened_read_only_still_is_not_overwritten(window, dialogs, tmp_path):
    folder = tmp_path / "held-elsewhere"
    Project.create(folder, "Held elsewhere")
    holder = hold(folder)
    try:
        assert window.open_project(str(folder))
    finally:
        end(holder)
    before = files_of(folder)
    dialogs.shown.clear()
    window.context.project.name = "Stale copy"
    assert window.save() is False, "the other window may have saved meanwhile: the project must be opened again"
    (refused,) = dialogs.shown
    assert "had it open when it was opened here" in refused["text"] and "open it again" in refused["info"]
    assert files_of(folder) == before
    # Save as… is the way out: a copy in another folder, locked and writable.
    assert window.save_as(str(tmp_path / "mine"))
    assert holder_of(tmp_path / "mine").pid == os.getpid() and not window.context.lease.read_only
    assert 'name = "Stale copy"' in (tmp_path / "mine" / PROJECT_FILE).read_text() and files_of(folder) == before


def test_the_project_at_start_up_opens_read_only_when_another_window_has_it(qtbot, default_project, dialogs):
    from mto_studio.gui.context import StudioContext
    from mto_studio.gui.main_window import MainWindow

    holder = hold(default_project.folder)
    try:
        context = StudioContext(Project.load(default_project.folder))
        main = MainWindow(context)
        qtbot.addWidget(main)
        main.show()
        qtbot.waitUntil(lambda: bool(dialogs.shown), timeout=5_000)
        assert f"is in use by PID {holder.pid} since " in dialogs.shown[0]["text"]
        assert main.banner.isVisible() and f"read-only because PID {holder.pid}" in main.banner.text_label.text()
        context.shutdown()
    finally:
        end(holder)


def test_opening_another_project_releases_the_first_and_closing_releases_the_last(window, tmp_path):
    first = window.context.project.folder
    assert holder_of(first).pid == os.getpid(), "the open project is locked"
    with pytest.raises(FolderBusyError):
        FolderLock(first, what="project").acquire()  # a second writer (another handle: another window's view)

    assert window.new_project(str(tmp_path / "second"))
    assert holder_of(first) is None and holder_of(tmp_path / "second").pid == os.getpid()
    assert window.open_project(str(first))
    assert holder_of(tmp_path / "second") is None and holder_of(first).pid == os.getpid()
    assert window.save_as(str(tmp_path / "copy"))
    assert holder_of(first) is None and holder_of(tmp_path / "copy").pid == os.getpid()

    window.close()
    assert holder_of(tmp_path / "copy") is None, "closing the window lets go of the project"
    with FolderLock(tmp_path / "copy", what="project"):
        pass


def test_a_new_project_in_a_folder_another_window_holds_is_refused_before_anything_is_written(
    window, dialogs, tmp_path
):
    folder = tmp_path / "taken"
    folder.mkdir()
    holder = hold(folder)
    try:
        assert window.new_project(str(folder)) is False
        (refused,) = dialogs.shown
        assert refused["title"] == "Cannot create the project" and f"in use by PID {holder.pid}" in refused["text"]
        assert not (folder / PROJECT_FILE).exists() and holder_of(window.context.project.folder).pid == os.getpid()
    finally:
        end(holder)
