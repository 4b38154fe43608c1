"""Tokenizer-aware rendering: counts, truncation, sentinel checks, soft prompts."""

from mto_studio.core.templates import TemplateLibrary, tokenize_rendered


def test_counts_sentinels_and_eos(tiny_t5_tokenizer):
    library = TemplateLibrary()
    rendered = library.render("unsup-nat", "xIntent", "PersonX buys a ticket", "to see a film")
    pair = tokenize_rendered(tiny_t5_tokenizer, rendered)
    assert pair.sentinels == {"<extra_id_0>": True} and pair.sentinels_ok
    src = pair.source
    assert src.tokens[-1] == "</s>" and src.tokens[-2] == "<extra_id_0>"
    assert src.sentinel[-2] and not any(src.sentinel[:-2])
    assert src.count == len(tiny_t5_tokenizer(rendered.source).input_ids)
    assert pair.target.tokens[0] == "<extra_id_0>" and not pair.target.truncated


def test_truncation_point_is_marked(tiny_t5_tokenizer):
    rendered = TemplateLibrary().render("sup", "xIntent", "PersonX buys a ticket " * 10, "to see a film")
    pair = tokenize_rendered(tiny_t5_tokenizer, rendered, max_source_length=12, max_target_length=3)
    assert pair.source.truncated and pair.source.kept == 12 and pair.source.count > 12
    assert pair.target.truncated and pair.target.kept == 3


def test_unknown_sentinel_is_reported(tiny_t5_tokenizer):
    rendered = TemplateLibrary().render("unsup", "xIntent", "PersonX <extra_id_150> buys", "x")
    pair = tokenize_rendered(tiny_t5_tokenizer, rendered)
    assert pair.sentinels["<extra_id_150>"] is False and not pair.sentinels_ok


def test_soft_prompt_positions_without_soft_tokens(tiny_t5_tokenizer):
    rendered = TemplateLibrary().render("prompt-sup", "xIntent", "PersonX buys a ticket", "fun")
    pair = tokenize_rendered(tiny_t5_tokenizer, rendered)
    assert pair.source.soft[:8] == (True,) * 8 and not any(pair.source.soft[8:])
    assert pair.source.tokens[0] == "<soft_0>" and pair.source.ids[0] == -1
