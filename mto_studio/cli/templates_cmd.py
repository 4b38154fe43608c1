"""`mto-studio templates`: list the template library."""

from __future__ import annotations

import argparse
import json
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", help="also load the templates in this folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object per template")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mto_studio.core.templates import TemplateLibrary, template_to_dict

    library = TemplateLibrary()
    if args.folder:
        for error in library.load_folder(args.folder):
            print(f"mto-studio: warning: skipped {error.one_line()}", file=sys.stderr)
    for template in library:
        if args.json:
            print(json.dumps(template_to_dict(template) | {"builtin": template.builtin}, ensure_ascii=False))
            continue
        if template.is_mixed:
            pattern = f"filling → {template.filling}, mapping → {template.mapping}"
        else:
            pattern = f"{template.source_text}  →  {template.target_text}"
        print(f"{template.name:<18} {template.objective.value:<8} {pattern}")
        if template.description:
            print(f"{'':<18} {template.description}")
    return 0
