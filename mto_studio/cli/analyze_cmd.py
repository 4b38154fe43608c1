"""`mto-studio analyze`: which objective each relation matches, and how templates rank zero-shot."""

from __future__ import annotations

import argparse
import json
import sys

from mto_studio.cli.common import absolute_model_ref, add_config_flags, check_out_file, config_overrides, split_list

#: AnalysisConfig fields with a flag of their own (help, default and range come from the field)
ANALYSIS_FLAGS = ["n", "seed", "threshold", "masked_template", "prefix_template", "distractors"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        default="world",
        metavar="FILE",
        help="data file, 'world' (the built-in world, default) or 'example:NAME'",
    )
    parser.add_argument("--model", default="mto-tiny", metavar="DIR", help="model folder, hub id or mto-tiny (default)")
    parser.add_argument("--columns", metavar="SPEC", help="explicit column mapping")
    parser.add_argument("--relations", metavar="R1,R2", help="only these relations")
    parser.add_argument(
        "--templates",
        metavar="A,B,C",
        help="candidate templates (default sup,sup-nat,unsup,unsup-nat,unsupnat; on QA data such as world-qa the "
        "library's QA templates, each ranked by its zero-shot accuracy on the questions' choices)",
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


class AnalysisBar:
    """The analysis's Progress events as a tqdm bar on stderr (none with --json): it moves during every phase
    (scoring passes, each strategy's relations, the classifier's training steps, the ranking)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bar = None

    def __call__(self, event) -> None:
        from mto_studio.core.jobs.events import Progress

        if not isinstance(event, Progress) or self.as_json:
            return
        if self.bar is None and event.total > 1:
            from tqdm import tqdm

            self.bar = tqdm(total=event.total, unit="step", file=sys.stderr, dynamic_ncols=True)
        if self.bar is not None:
            if event.total != self.bar.total:  # the scoring passes and classifier steps join the total as known
                self.bar.total = event.total
            self.bar.n = event.done
            self.bar.set_description(event.message[:48])
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    from mto_studio.cli.progress import EXIT_DONE, EXIT_INTERRUPTED, Interrupts, drive, ended_without_result, say
    from mto_studio.core.analysis.analyze import (
        AnalysisCancelled,
        AnalysisConfig,
        AnalysisDone,
        analyze,
        report_from_dict,
    )
    from mto_studio.core.fsio import atomic_write_json

    data = {
        "data": args.data,
        "model": absolute_model_ref(args.model),
        "columns": args.columns,
        "strategies": strategies_from(args.strategy),
        **config_overrides(args),
        "relations": split_list(args.relations) if args.relations else [],
    }
    if args.templates:
        data["templates"] = split_list(args.templates)
    cfg = AnalysisConfig.from_dict(data)
    if args.out:
        check_out_file(args.out)  # before the analysis: its result must have somewhere to go
    last = drive(analyze(cfg), AnalysisBar(args.json), Interrupts("stopping the analysis (Ctrl-C again aborts)…"))
    if isinstance(last, AnalysisCancelled):
        wrote = f"; nothing was written to {args.out}" if args.out else ""
        say(f"analysis stopped after {last.done} of {last.total} steps{wrote}; run it again to analyse")
        return EXIT_INTERRUPTED
    if not isinstance(last, AnalysisDone):
        return ended_without_result("the analysis", last, "nothing was written; run it again")
    report = last.report
    if args.out:
        atomic_write_json(args.out, report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(report_from_dict(report).table())
    return EXIT_DONE
