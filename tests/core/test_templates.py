"""The template engine: parsing, validation with located errors, rendering, the library and phrases."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mto_studio.core.errors import ModelError, TemplateError
from mto_studio.core.templates import (
    ATOMIC_RELATIONS,
    BUILTIN_NAMES,
    Objective,
    Phrase,
    SentinelStyle,
    SlotKind,
    TemplateLibrary,
    builtin_phrases,
    parse_pattern,
    parse_template_text,
    pattern_text,
    render,
    require_sentinel_style,
    strip_sentinels,
    template_to_toml,
)

EVENT = "PersonX buys a ticket"


@pytest.fixture(scope="module")
def library():
    return TemplateLibrary()


def test_builtins_exist_and_render_as_the_method_describes(library):
    assert set(BUILTIN_NAMES) <= set(library.names())
    r = {name: library.render(name, "xIntent", EVENT, "to see a film") for name in BUILTIN_NAMES}
    assert (r["sup"].source, r["sup"].target) == ("xIntent: PersonX buys a ticket", "to see a film")
    clause = "When PersonX buys a ticket, what PersonX has in mind is"
    assert r["sup-nat"].source == f"xIntent: {clause}"
    assert r["sup-nat"].target == "to see a film"
    assert r["unsup"].source == "xIntent: PersonX buys a ticket <extra_id_0>"
    assert r["unsup-nat"].source == f"xIntent: {clause} <extra_id_0>"
    assert r["unsup-nat"].target == "<extra_id_0> to see a film"
    assert (r["unsupnat"].source, r["unsupnat"].target) == (r["sup"].source, "<extra_id_0> to see a film")
    assert r["unsup-nat-short"].source == "PersonX buys a ticket because PersonX wants <extra_id_0>"
    assert r["sup-nat-short"].source == "PersonX buys a ticket because PersonX wants"
    # mixed: xIntent is a Mapping relation in the rule table, xAttr a Filling one
    assert r["mixed"].source == r["sup-nat"].source and r["mixed"].template == "sup-nat"
    attr = library.render("mixed", "xAttr", EVENT, "thrifty")
    assert attr.template == "unsup-nat" and attr.source.endswith("people would call PersonX <extra_id_0>")


def test_mixed_uses_analysis_decisions_over_rules_and_maps_undecided_relations():
    library = TemplateLibrary(objectives={"xIntent": Objective.FILLING})
    assert library.render("mixed", "xIntent", EVENT, "x").template == "unsup-nat"
    assert library.objective_for("Causes") == (Objective.MAPPING, "fallback")
    assert library.objective_for("xAttr") == (Objective.FILLING, "rules")


def test_sentinels_are_numbered_in_order_and_bart_uses_its_mask_token():
    template = parse_template_text(
        'name = "two"\nobjective = "filling"\nsource = "{input} {mask} and {mask}"\ntarget = "{mask} {target} {mask}"\n'
    )
    out = render(template, "xWant", EVENT, "rest")
    assert out.source == "PersonX buys a ticket <extra_id_0> and <extra_id_1>"
    assert out.target == "<extra_id_0> rest <extra_id_1>"
    assert out.n_sentinels == 2
    bart = render(template, "xWant", EVENT, "rest", style=SentinelStyle("mask", "<mask>"))
    assert bart.source == "PersonX buys a ticket <mask> and <mask>" and bart.target == "rest"


def test_model_without_sentinels_or_mask_gets_a_clear_error():
    class NoMask:
        unk_token_id = 2
        mask_token = None

        def convert_tokens_to_ids(self, token):
            return 2

    with pytest.raises(ModelError, match="no sentinel tokens.*use a mapping template"):
        require_sentinel_style(NoMask(), "my-model")


def test_clause_tier_wraps_the_input_and_overrides_apply():
    template = parse_template_text(
        'name = "clause"\nobjective = "filling"\nsource = "{rel_before} {input} {rel_after} {mask}"\n'
        'target = "{mask} {target}"\n[phrases.xReact]\nclause = "Right after {input}, PersonX is"\n'
    )
    out = render(template, "xReact", EVENT, "happy")
    assert out.source == "Right after PersonX buys a ticket, PersonX is <extra_id_0>"
    plain = render(template, "xNeed", EVENT, "money")
    assert plain.source == "Before PersonX buys a ticket, PersonX first had <extra_id_0>"


def test_soft_prompts_render_as_numbered_tokens_and_count(library):
    template = library.get("prompt-unsup-nat")
    assert template.soft_slots == [(0, 4), (5, 4)] or [n for _, n in template.soft_slots] == [4, 4]
    out = render(template, "xIntent", EVENT, "fun")
    assert out.source.startswith("<soft_0><soft_1><soft_2><soft_3> PersonX")
    assert "<soft_7> <extra_id_0>" in out.source and out.soft_total == 8
    assert strip_sentinels(out.source) == "PersonX buys a ticket because PersonX wants"


def test_text_form_round_trips(library):
    for name in library.names():
        template = library.get(name)
        again = parse_template_text(template_to_toml(template))
        assert again.source == template.source and again.target == template.target
        assert again.objective == template.objective and again.filling == template.filling
    slots = parse_pattern("{prefix}: {input}", "source")
    assert [s.kind for s in slots] == [SlotKind.PREFIX, SlotKind.TEXT, SlotKind.INPUT]
    assert pattern_text(slots) == "{prefix}: {input}"
    assert pattern_text(parse_pattern("{input}{mask}", "source")) == "{input} {mask}"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (
            'name = "t"\nobjective = "filling"\nsource = "{input} {foo}"\ntarget = "{mask} {target}"\n',
            r"line 3, field 'source', column 9: unknown slot \{foo\}",
        ),
        (
            'name = "t"\n\nobjective = "filling"\n\nsource = "{input} {bar}"\ntarget = "{mask} {target}"\n',
            r"line 5, field 'source', column 9: unknown slot \{bar\}",
        ),
        (
            'name = "t"\nobjective = "filling"\nsource = "{input} {mask} {mask}"\ntarget = "{mask} {target}"\n',
            "field 'target'.*mismatched sentinels: the source has 2, the target 1",
        ),
        (
            'name = "t"\nobjective = "filling"\nsource = "{input} {mask}"\ntarget = "{target}"\n',
            "mismatched sentinels: the source has 1, the target 0",
        ),
        ('name = "t"\nobjective = "mapping"\nsource = "{input}\ntarget = "{target}"\n', "line 3.*syntax error"),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{input}"\ntarget = "{target}"\ncolour = "red"\n',
            "line 5, field 'colour': unknown field 'colour'",
        ),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{input} {mask}"\ntarget = "{target}"\n',
            "a mapping template has no sentinels",
        ),
        (
            'name = "t"\nobjective = "sideways"\nsource = "{input}"\ntarget = "{target}"\n',
            "unknown objective 'sideways'",
        ),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{prefix}"\ntarget = "{target}"\n',
            r"must hold \{input\} exactly once",
        ),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{input} {target}"\ntarget = "{target}"\n',
            r"slot \{target\} cannot be used in the source",
        ),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{input} {soft:0}"\ntarget = "{target}"\n',
            "soft-prompt length 0 is out of range",
        ),
        (
            'name = "t"\nobjective = "mapping"\nsource = "{input"\ntarget = "{target}"\n',
            r"column 1: '\{' is never closed",
        ),
        ('name = "t"\nobjective = "mixed"\nfilling = "unsup-nat"\n', "a mixed template needs 'mapping'"),
    ],
)
def test_bad_templates_say_where_and_how_to_fix(text, pattern):
    with pytest.raises(TemplateError, match=pattern) as info:
        parse_template_text(text)
    assert info.value.hint, "every template error carries a fix"


def test_missing_phrase_is_a_template_error():
    with pytest.raises(TemplateError, match="no relation phrase for 'Frobnicates'"):
        TemplateLibrary().render("unsup-nat", "Frobnicates", "x", "y")


def test_phrase_table_covers_all_atomic_relations_in_two_tiers():
    table = builtin_phrases()
    assert len(ATOMIC_RELATIONS) == 23
    for relation in ATOMIC_RELATIONS:
        phrase = table.lookup(relation)
        assert phrase.clause.count("{input}") == 1, relation
        assert phrase.connective, relation
    edited = table.with_entry("xIntent", Phrase(clause="{input}, aiming", connective="in order"))
    assert (
        render(TemplateLibrary().get("unsup-nat"), "xIntent", EVENT, "x", phrases=edited).source
        == "xIntent: PersonX buys a ticket, aiming <extra_id_0>"
    )
    assert (
        render(TemplateLibrary().get("unsup-nat-short"), "xIntent", EVENT, "x", phrases=edited).source
        == "PersonX buys a ticket in order <extra_id_0>"
    )


def test_mixed_library_checks_references():
    library = TemplateLibrary()
    bad = parse_template_text('name = "m"\nobjective = "mixed"\nfilling = "sup"\nmapping = "sup"\n')
    with pytest.raises(TemplateError, match="'sup' is a mapping template, not filling"):
        library.check(bad)


PIECES = st.sampled_from(
    [
        "{input}",
        "{target}",
        "{mask}",
        "{rel}",
        "{soft:3}",
        "{soft:x}",
        "{prefix}",
        "{bogus}",
        "{",
        "}",
        "{{",
        "}}",
        " ",
        "text",
        ":",
        "\n",
        '"',
        "'",
        "=",
        "[phrases.x]",
        "name",
        "source",
        "objective",
        "filling",
        "mixed",
        "#",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map("".join), st.text(max_size=40))
def test_random_template_text_only_raises_template_errors(structured, noise):
    for text in (
        structured,
        noise,
        f'name = "t"\nobjective = "filling"\nsource = "{structured}"\ntarget = "{noise}"\n',
        f'name = "t"\nobjective = "mapping"\nsource = """{noise}"""\n',
    ):
        try:
            parse_template_text(text)
        except TemplateError as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["source", "target"]))
def test_random_patterns_only_raise_template_errors(text, side):
    try:
        parse_pattern(text, side)
    except TemplateError as exc:
        assert exc.field == side
