"""`mto-studio render`: render a template on rows of a data file."""

from __future__ import annotations

import argparse
import json

from mto_studio.cli.common import add_data_options, library_with, load_data_from_args


def configure(parser: argparse.ArgumentParser) -> None:
    add_data_options(parser)
    parser.add_argument("--template", required=True, metavar="NAME|FILE", help="template name or .toml file")
    parser.add_argument("--rows", type=int, default=5, metavar="N", help="number of heads to render (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON lines")
    parser.add_argument(
        "--tokenizer",
        metavar="DIR",
        help="model folder whose tokenizer counts tokens (mto-tiny for the embedded model)",
    )
    from mto_studio.core.config import field_info
    from mto_studio.core.training.config import TrainConfig

    for name in ("max_source_length", "max_target_length"):  # what training keeps, so truncation shows as it will be
        info = field_info(TrainConfig, name)
        parser.add_argument(info.flag, type=int, default=info.default, metavar="N", help=info.describe())
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mto_studio.core.errors import ConfigError
    from mto_studio.core.templates import T5_STYLE, require_sentinel_style, tokenize_rendered

    if args.rows < 1:
        raise ConfigError(f"--rows must be at least 1, got {args.rows}", "e.g. --rows 3")
    from mto_studio.core.config import field_info
    from mto_studio.core.training.config import TrainConfig

    for name in ("max_source_length", "max_target_length"):
        info, value = field_info(TrainConfig, name), getattr(args, name)
        if not (info.low or 0) <= value <= (info.high or value):
            raise ConfigError(f"{info.flag} {value} is out of range", f"give {info.describe()}")
    library, (template,) = library_with([args.template])
    data = load_data_from_args(args)
    from mto_studio.core.data.qa_framing import qa_framing
    from mto_studio.core.training.data import check_qa_fit

    check_qa_fit(data, library, template)  # a QA template on completion data: one clear error
    library.qa_framing = qa_framing  # the per-example QA mixed rule (qa-mixed)
    tokenizer = None
    style = T5_STYLE
    if args.tokenizer:
        from mto_studio.core.models.loading import load_tokenizer

        tokenizer = load_tokenizer(args.tokenizer)
        style = require_sentinel_style(tokenizer, args.tokenizer)
        if not args.json:
            from mto_studio.core.models.family import OTHER, family_of_ref, format_match

            family = family_of_ref(args.tokenizer)
            if family is not OTHER:
                match = format_match(family, template, library.concrete(template) if template.is_mixed else ())
                print(f"{family.label}: {match.text}")
    for head in data.heads[: args.rows]:
        rendered = library.render_head(template, head, style=style)
        tokens = None
        if tokenizer is not None:
            tokens = tokenize_rendered(
                tokenizer, rendered, max_source_length=args.max_source_length, max_target_length=args.max_target_length
            )
        if args.json:
            record = rendered.to_json()
            if tokens is not None:
                record["tokens"] = tokens.to_json()
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(f"[{rendered.relation}] {rendered.input}")
            print(f"  source: {rendered.source}")
            print(f"  target: {rendered.target}")
            if rendered.choices:
                marked = [f"{'*' if i == rendered.answer_index else ' '}{c}" for i, c in enumerate(rendered.choices)]
                print(
                    f"  choices: {' | '.join(marked)}  (answer {rendered.answer_label}; template {rendered.template})"
                )
            if rendered.rebuilt:
                print(f"  answer: {rendered.answer}")
            if len(rendered.references) > 1:
                print(f"  references: {' | '.join(rendered.references)}")
            if tokens is not None:
                warn = "" if tokens.sentinels_ok else "  (a sentinel is not a single token!)"
                cut = " (truncated)" if tokens.source.truncated or tokens.target.truncated else ""
                print(f"  tokens: source {tokens.source.count}, target {tokens.target.count}{cut}{warn}")
    return 0
