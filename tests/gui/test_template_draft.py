"""The template designer's draft model, without a QApplication: fields as typed, validation by field, slot examples;
and draft.py imports no Qt."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")  # the templates package itself imports the (Qt) designer

from mto_studio.core.data import Head  # noqa: E402
from mto_studio.core.templates import Slot, SlotKind, TemplateLibrary  # noqa: E402
from mto_studio.gui.workbenches.templates.draft import (  # noqa: E402
    NEW_SOURCE,
    NEW_TARGET,
    Draft,
    error_html,
    phrase_examples,
    validate_draft,
)

DRAFT_PY = Path(__file__).resolve().parents[2] / "mto_studio" / "gui" / "workbenches" / "templates" / "draft.py"


@pytest.fixture
def library():
    return TemplateLibrary()


def project_draft(library, name="sup"):
    """An editable draft of a built-in, as Duplicate makes it."""
    template = library.get(name).with_changes(name=f"{name}-copy", builtin=False, path=None)
    return Draft.from_template(template, "*draft-1", saved=False)


def test_a_builtin_opens_read_only_and_unmodified(library):
    draft = Draft.from_template(library.get("sup"), "sup")
    assert draft.builtin and draft.saved_name is None and not draft.modified and not draft.unsaved
    assert draft.source_text == "{prefix}: {input}"
    assert draft.source_slots == (Slot(SlotKind.PREFIX), Slot(SlotKind.TEXT, text=":"), Slot(SlotKind.INPUT))
    draft.name = "renamed"
    assert not draft.modified, "a built-in is never modified"


def test_a_new_draft_is_unsaved_and_valid(library):
    draft = project_draft(library)
    assert draft.unsaved and not draft.builtin
    template, errors = validate_draft(draft, library)
    assert errors == {} and template is not None and template.name == "sup-copy"


def test_a_bad_pattern_is_the_error_of_its_own_field(library):
    draft = project_draft(library)
    draft.source_text = "{input} {inptu}"
    draft.target_text = "{target} {oops"
    template, errors = validate_draft(draft, library)
    assert template is None and set(errors) == {"source", "target"}, "both sides report at once"
    assert errors["source"].column == 9 and "unknown slot {inptu}" in error_html(errors["source"])
    assert "column 9" in error_html(errors["source"]) and "Fix: " in error_html(errors["source"])


def test_a_taken_name_is_an_error_on_the_name(library):
    draft = project_draft(library)
    draft.name = "unsup-nat"
    template, errors = validate_draft(draft, library)
    assert template is None and set(errors) == {"name"} and "already exists" in errors["name"].bare_message


def test_to_dict_follows_the_objective(library):
    draft = project_draft(library)
    assert draft.to_dict()["source"] == "{prefix}: {input}" and "filling" not in draft.to_dict()
    mixed = Draft.from_template(library.get("mixed"), "mixed")
    assert (mixed.source_text, mixed.target_text) == (NEW_SOURCE, NEW_TARGET), "mixed drafts start from a pattern"
    assert {"filling", "mapping"} <= set(mixed.to_dict()) and "source" not in mixed.to_dict()


def test_phrase_examples_show_what_each_slot_becomes(library):
    head = Head("h1", "xIntent", "PersonX naps", ("to rest",))
    examples = phrase_examples(library.get("unsup-nat"), head, library)
    assert examples[SlotKind.INPUT] == "PersonX naps" and examples[SlotKind.TARGET] == "to rest"
    assert examples[SlotKind.PREFIX] == "xIntent" and examples[SlotKind.REL] == "because PersonX wants"
    unknown = phrase_examples(None, Head("h2", "NoSuchRelation", "x", ("y",)), library)
    assert SlotKind.REL not in unknown, "a relation without a phrase gets no example"


QT_BLOCKED = """
import importlib.util, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt', 'shiboken6'):
            raise ImportError('Qt is blocked in this test: ' + name)
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location('draft', sys.argv[1])  # alone: the package's __init__ imports Qt
draft = importlib.util.module_from_spec(spec)
sys.modules['draft'] = draft
spec.loader.exec_module(draft)
from mto_studio.core.templates import TemplateLibrary
library = TemplateLibrary()
d = draft.Draft.from_template(library.get('sup').with_changes(name='x', builtin=False), 'x', saved=False)
d.source_text = '{input} {inptu}'
print(sorted(draft.validate_draft(d, library)[1]))
"""


def test_draft_py_works_with_qt_blocked():
    done = subprocess.run(
        [sys.executable, "-c", QT_BLOCKED, str(DRAFT_PY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['source']"
