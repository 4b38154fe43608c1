"""The built-in templates follow the method's definitions (issue 15): every one carries the task prefix, the
relation's clause wraps the input where the relation has one (its connective otherwise), `unsupnat` keeps the
sentinel on the target side only, and `mixed` gives Mapping relations `sup-nat`. The connective forms stay
available as `sup-nat-short` / `unsup-nat-short`, and the phrase table stays overridable."""

import pytest

from mto_studio.core.project import Project
from mto_studio.core.templates import (
    BUILTIN_NAMES,
    Objective,
    Phrase,
    TemplateLibrary,
    builtin_phrases,
    parse_template_text,
)

EVENT = "PersonX buys a ticket"
#: a relation the built-in table does not know, given a connective and no clause
SELLS = builtin_phrases().with_entry("Sells", Phrase(connective="and then sells"))


@pytest.fixture(scope="module")
def library():
    return TemplateLibrary()


def test_each_builtin_renders_the_methods_form_for_a_relation_with_a_clause(library):
    want = {name: library.render(name, "xWant", EVENT, "to go home") for name in BUILTIN_NAMES}
    clause = "Once PersonX buys a ticket, PersonX next wants"
    assert (want["sup"].source, want["sup"].target) == ("xWant: PersonX buys a ticket", "to go home")
    assert (want["sup-nat"].source, want["sup-nat"].target) == (f"xWant: {clause}", "to go home")
    assert (want["unsup"].source, want["unsup"].target) == (
        "xWant: PersonX buys a ticket <extra_id_0>",
        "<extra_id_0> to go home",
    )
    assert (want["unsup-nat"].source, want["unsup-nat"].target) == (
        f"xWant: {clause} <extra_id_0>",
        "<extra_id_0> to go home",
    )
    assert (want["unsupnat"].source, want["unsupnat"].target) == (
        "xWant: PersonX buys a ticket",
        "<extra_id_0> to go home",
    )
    intent = library.render("unsup-nat", "xIntent", EVENT, "to see a film")
    assert intent.source == "xIntent: When PersonX buys a ticket, what PersonX has in mind is <extra_id_0>"
    # today's connective forms, kept under their own names
    assert want["sup-nat-short"].source == "PersonX buys a ticket and afterwards PersonX wants"
    assert want["unsup-nat-short"].source == "PersonX buys a ticket and afterwards PersonX wants <extra_id_0>"
    assert (want["unsupnat-short"].source, want["unsupnat-short"].target) == (
        "PersonX buys a ticket and afterwards PersonX wants",
        "<extra_id_0> to go home",
    )


def test_a_relation_with_only_a_connective_gets_the_connective_after_the_input(library):
    rows = {name: library.render(name, "Sells", EVENT, "it", phrases=SELLS) for name in BUILTIN_NAMES}
    assert rows["sup-nat"].source == "Sells: PersonX buys a ticket and then sells"
    assert rows["unsup-nat"].source == "Sells: PersonX buys a ticket and then sells <extra_id_0>"
    assert rows["unsup-nat-short"].source == "PersonX buys a ticket and then sells <extra_id_0>"


def test_unsupnat_puts_no_relation_phrase_in_the_source(library):
    phrase = builtin_phrases()["xWant"]
    row = library.render("unsupnat", "xWant", EVENT, "to go home")
    assert "next wants" not in row.source and phrase.connective not in row.source
    assert row.source == "xWant: PersonX buys a ticket" and row.target.startswith("<extra_id_0> ")
    assert not library.get("unsupnat").uses_phrases


def test_mixed_gives_mapping_relations_sup_nat_and_filling_relations_unsup_nat(library):
    intent = library.render("mixed", "xIntent", EVENT, "to see a film")  # Mapping in the rule table
    assert intent.template == "sup-nat" and intent.objective is Objective.MAPPING
    assert intent.source == library.render("sup-nat", "xIntent", EVENT, "x").source
    react = library.render("mixed", "xReact", EVENT, "happy")  # Filling
    assert react.template == "unsup-nat"
    assert react.source == "xReact: After PersonX buys a ticket, PersonX feels <extra_id_0>"
    assert [t.name for t in library.concrete(library.get("mixed"))] == ["unsup-nat", "sup-nat"]
    # today's mixed, kept: the connective Filling template and sup
    assert [t.name for t in library.concrete(library.get("mixed-short"))] == ["unsup-nat-short", "sup"]
    assert library.render("mixed-short", "xIntent", EVENT, "x").source == "xIntent: PersonX buys a ticket"


def test_a_full_stop_after_the_input_does_not_meet_the_clauses_comma(library):
    row = library.render("unsup-nat", "xReact", "PersonX buys a ticket.", "happy")
    assert row.source == "xReact: After PersonX buys a ticket, PersonX feels <extra_id_0>"


def test_template_and_project_overrides_reach_the_clause_slot(tmp_path, library):
    template = parse_template_text(
        'name = "mine"\nobjective = "filling"\nsource = "{prefix}: {rel_before} {input} {rel_after} {mask}"\n'
        'target = "{mask} {target}"\n[phrases.xWant]\nclause = "Right after {input}, PersonX craves"\n'
    )
    assert library.render(template, "xWant", EVENT).source == (
        "xWant: Right after PersonX buys a ticket, PersonX craves <extra_id_0>"
    )
    project = Project.create(tmp_path / "p")
    project.set_phrase("xWant", Phrase(clause="{input}, and so PersonX longs for"))
    project_library = project.library()
    assert project_library.render("unsup-nat", "xWant", EVENT).source == (
        "xWant: PersonX buys a ticket, and so PersonX longs for <extra_id_0>"
    )
    assert project_library.render("sup-nat", "xWant", EVENT).source == (
        "xWant: PersonX buys a ticket, and so PersonX longs for"
    )
    # a connective override shows in the connective templates; the clause stays the built-in one
    project.set_phrase("xWant", Phrase(connective="and later PersonX craves"))
    project_library = project.library()
    assert project_library.render("unsup-nat-short", "xWant", EVENT).source == (
        "PersonX buys a ticket and later PersonX craves <extra_id_0>"
    )
    assert project_library.render("unsup-nat", "xWant", EVENT).source.startswith("xWant: Once PersonX buys")
