"""QA templates: the choices slots (inlined, numbered, omitted), {label}, the built-in QA templates rendered on a
world-qa head, the per-example mixed rule, and the errors for QA templates on completion data."""

import pytest

from mto_studio.core.data import load_task_data
from mto_studio.core.data.qa_framing import qa_framing
from mto_studio.core.errors import TemplateError
from mto_studio.core.templates import QA_TEMPLATE_NAMES, TemplateLibrary, parse_template_text, template_to_toml

CHOICES = ("the hallway closet", "the cellar", "the workshop")
Q = "The photo frame is kept in ___."


@pytest.fixture(scope="module")
def world_qa():
    return load_task_data("world-qa", None, split="train")


@pytest.fixture()
def library():
    return TemplateLibrary(qa_framing=qa_framing)


def qa_template(source: str, target: str = "{target}", objective: str = "mapping"):
    return parse_template_text(f'name = "t"\nobjective = "{objective}"\nsource = "{source}"\ntarget = "{target}"\n')


def test_choices_slots_inline_number_or_omit(library):
    inlined = library.render(qa_template("{input} {choices}"), "AtLocation", Q, "the cellar", choices=CHOICES, answer=1)
    assert inlined.source == (
        "The photo frame is kept in ___ choice1: the hallway closet choice2: the cellar choice3: the workshop"
    )
    numbered = library.render(
        qa_template("{input} {choices:numbered}", "{label}"), "AtLocation", Q, "the cellar", choices=CHOICES, answer=1
    )
    assert numbered.source == "The photo frame is kept in ___. (A) the hallway closet (B) the cellar (C) the workshop"
    assert numbered.target == "B" and numbered.answer_label == "B"
    omitted = library.render("sup", "AtLocation", Q, "the cellar", choices=CHOICES, answer=1)
    plain = library.render("sup", "AtLocation", Q, "the cellar")
    assert (omitted.source, omitted.target) == (plain.source, plain.target)
    for rendered in (inlined, numbered, omitted):
        assert rendered.choices == CHOICES and rendered.answer_index == 1


def test_slots_round_trip_and_bad_form_is_named():
    template = qa_template("{input} {choices:numbered}", "{label}")
    assert template.uses_choices
    again = parse_template_text(template_to_toml(template))
    assert again.source == template.source and again.target == template.target
    with pytest.raises(TemplateError, match="unknown choices form 'letters'"):
        qa_template("{input} {choices:letters}")
    with pytest.raises(TemplateError, match="cannot be used in the target"):
        qa_template("{input}", "{choices}")


def test_builtin_qa_templates_on_a_world_qa_head(library, world_qa):
    assert set(QA_TEMPLATE_NAMES) <= set(library.qa_names())
    assert "sup" not in library.qa_names()
    head = world_qa.heads[0]  # AtLocation, "The photo frame is kept in ___.", answer (B) the cellar
    inline = " ".join(f"choice{i + 1}: {c}" for i, c in enumerate(head.choices))

    def show(name):
        return library.render(
            name, head.relation, head.input, head.references[0], choices=head.choices, answer=head.answer
        )

    assert (show("qa-sup").source, show("qa-sup").target) == (f"AtLocation: {head.input[:-1]} {inline}", "the cellar")
    assert show("qa-sup-label").target == "B"
    assert show("qa-sup-label").source.endswith(
        "(A) the hallway closet (B) the cellar (C) the workshop (D) the laundry room (E) a wooden chest"
    )
    unsup = show("qa-unsup")
    assert unsup.source == f"{head.input[:-1]} {inline} the correct choice is <extra_id_0>"
    assert unsup.target == "<extra_id_0> the cellar" and unsup.answer == "the cellar"


def test_mixed_qa_applies_the_rule_per_example(library, world_qa):
    picked = {}
    for head in world_qa.heads[::7]:
        rendered = library.render(
            "qa-mixed", head.relation, head.input, head.references[0], choices=head.choices, answer=head.answer
        )
        want = "qa-unsup" if qa_framing(head.input, head.choices) == "filling" else "qa-sup"
        assert rendered.template == want
        picked.setdefault(want, head.relation)
    assert set(picked) == {"qa-unsup", "qa-sup"}
    # the same relation, two question forms: the question decides, not the relation
    long_choices = ("wrap it in a cloth and keep it in a box", "leave it out in the sun all day long")
    per_question = [
        library.render("qa-mixed", "qa", q, c[0], choices=c, answer=0).template
        for q, c in (("Where is bread kept?", ("the pantry", "the roof")), ("How do you keep bread?", long_choices))
    ]
    assert per_question == ["qa-unsup", "qa-sup"]


def test_qa_templates_on_completion_rows_are_a_clear_error(library):
    for name in ("qa-sup", "qa-unsup", "qa-sup-label"):
        with pytest.raises(TemplateError, match="multiple-choice .QA. data.*no choices") as caught:
            library.render(name, "xIntent", "PersonX buys a ticket", "to see a film")
        assert "world-qa" in caught.value.hint and "'sup'" in caught.value.hint
    with pytest.raises(TemplateError, match="mixed-qa"):
        library.render("qa-mixed", "xIntent", "PersonX buys a ticket", "to see a film")


def test_mixed_qa_file_form_round_trips():
    text = 'name = "m"\nobjective = "mixed-qa"\nfilling = "qa-unsup"\nmapping = "qa-sup"\n'
    template = parse_template_text(text)
    assert template.is_mixed and template.per_example and template.uses_choices
    assert 'objective = "mixed-qa"' in template_to_toml(template)
