"""The template engine: slot model, file format, phrase tables, rendering and the built-in library."""

from mto_studio.core.templates.fileformat import (
    TemplateProblems,
    load_template,
    parse_template_text,
    template_from_dict,
    template_to_dict,
    template_to_toml,
)
from mto_studio.core.templates.library import BUILTIN_NAMES, QA_TEMPLATE_NAMES, TemplateLibrary, builtin_template
from mto_studio.core.templates.model import (
    SLOT_LABELS,
    Objective,
    Phrase,
    Slot,
    SlotKind,
    Template,
    join_pieces,
    pattern_text,
)
from mto_studio.core.templates.pattern import parse_pattern
from mto_studio.core.templates.phrases import (
    ATOMIC_RELATIONS,
    PhraseTable,
    builtin_phrases,
    load_phrase_table,
)
from mto_studio.core.templates.render import (
    T5_STYLE,
    Rendered,
    SentinelStyle,
    render,
    require_sentinel_style,
    sentinel_style_for,
    strip_sentinels,
)
from mto_studio.core.templates.tokenized import (
    ModelSequence,
    TokenizedPair,
    TokenView,
    encode_for_model,
    model_sequence,
    tokenize_rendered,
)

__all__ = [
    "QA_TEMPLATE_NAMES",
    "ATOMIC_RELATIONS",
    "BUILTIN_NAMES",
    "SLOT_LABELS",
    "T5_STYLE",
    "ModelSequence",
    "Objective",
    "Phrase",
    "PhraseTable",
    "Rendered",
    "SentinelStyle",
    "Slot",
    "SlotKind",
    "Template",
    "TemplateLibrary",
    "TemplateProblems",
    "TokenView",
    "TokenizedPair",
    "builtin_phrases",
    "builtin_template",
    "encode_for_model",
    "join_pieces",
    "load_phrase_table",
    "load_template",
    "model_sequence",
    "parse_pattern",
    "parse_template_text",
    "pattern_text",
    "render",
    "require_sentinel_style",
    "sentinel_style_for",
    "strip_sentinels",
    "template_from_dict",
    "template_to_dict",
    "template_to_toml",
    "tokenize_rendered",
]
