"""`mto-studio analyze`: which objective each relation matches, and how templates rank zero-shot."""

from __future__ import annotations

import argparse
import json
import sys

from mto_studio.cli.common import add_config_flags, config_overrides, split_list

#: AnalysisConfig fields with a flag of their own (help, default and range come from the field)
ANALYSIS_FLAGS = ["n", "seed", "threshold", "masked_template", "prefix_template", "distractors"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="world",
        metavar="FILE",
        help="data file, 'world' (the built-in world, default) or 'example:NAME'",
    )
    parser.add_argument("--model", default="mto-tiny", metavar="DIR", help="model folder (default mto-tiny)")
    parser.add_argument("--columns", metavar="SPEC", help="explicit column mapping")
    parser.add_argument("--relations", metavar="R1,R2", help="only these relations")
    parser.add_argument(
        "--templates", metavar="A,B,C", help="candidate templates (default sup,sup-nat,unsup,unsup-nat,unsupnat)"
    )
    parser.add_argument("--strategy", default="all", help="rules, probe, classifier, a list (probe,rules) or all")
    from mto_studio.core.analysis.analyze import AnalysisConfig

    add_config_flags(parser, AnalysisConfig, ANALYSIS_FLAGS)
    parser.add_argument("--out", metavar="FILE", help="also write the report as JSON")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run)


def strategies_from(text: str) -> list[str]:
    from mto_studio.core.objectives.strategies import strategy_names

    return strategy_names() if text == "all" else split_list(text)


def run(args: argparse.Namespace) -> int:
    from mto_studio.core.analysis.analyze import AnalysisConfig, AnalysisDone, analyze, report_from_dict
    from mto_studio.core.fsio import atomic_write_json
    from mto_studio.core.jobs.events import Progress

    data = {
        "data": args.data,
        "model": args.model,
        "columns": args.columns,
        "strategies": strategies_from(args.strategy),
        **config_overrides(args),
        "relations": split_list(args.relations) if args.relations else [],
    }
    if args.templates:
        data["templates"] = split_list(args.templates)
    cfg = AnalysisConfig.from_dict(data)
    from tqdm import tqdm

    bar = None
    report = None
    for event in analyze(cfg):
        if isinstance(event, Progress) and not args.json:
            if bar is None and event.total > 1:
                bar = tqdm(total=event.total, unit="step", file=sys.stderr, dynamic_ncols=True)
            if bar is not None:
                bar.n = event.done
                bar.set_description(event.message[:40])
                bar.refresh()
        elif isinstance(event, AnalysisDone):
            report = event.report
    if bar is not None:
        bar.close()
    assert report is not None, "analyze() ends with AnalysisDone unless it is stopped"
    if args.out:
        atomic_write_json(args.out, report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(report_from_dict(report).table())
    return 0
