"""`mto-studio demo`: the whole MTO workflow, headless, on the embedded default — analyse the built-in world, run a
few-shot ladder against full data with fine-tuning (the analyzer's pick `mixed`, `sup`, and every template the
analyzer recommends) and with prompt tuning (the prompt templates), check whether the zero-shot ranking predicted
the trained one (over at least three templates), and write a report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mto_studio.core.analysis.config import AnalysisConfig
    from mto_studio.core.analysis.report import AnalysisReport
    from mto_studio.core.store import RunStore
    from mto_studio.core.training.experiment_config import ExperimentConfig

#: The prompt-tuning ladder's templates, in order; those that are not built in (yet) are skipped.
PROMPT_TEMPLATES: tuple[str, ...] = ("prompt-sup", "prompt-unsup-nat", "prompt-mixed")
#: The templates the analysis ranks zero-shot (the prediction check trains the recommended ones and more).
ANALYSIS_TEMPLATES = ["sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"]

#: (quick, full) settings. Quick (one seed, k = 8 and full) took 4 min on two shared CPU cores.
PLANS: dict[bool, dict[str, Any]] = {
    True: {
        "n": 10,
        # concrete templates the fine-tuning ladder always trains; the analyzer's recommendations are added, and
        # more candidates until the prediction check has at least three
        "check": ["sup", "unsup-nat"],
        "shots": ["8", "full"],
        "seeds": [0],
        "train": {
            "steps": 120,
            "batch_size": 16,
            "lr": 1e-3,
            "eval_every": 40,
            "warmup_steps": 10,
            "max_eval_heads": 4,
            "max_test_heads": 20,
            "save_model": False,
        },
    },
    False: {
        "n": 20,
        "check": list(ANALYSIS_TEMPLATES),
        "shots": ["8", "32", "128", "full"],
        "seeds": [0, 1, 2],
        "train": {
            "steps": 400,
            "batch_size": 16,
            "lr": 1e-3,
            "eval_every": 50,
            "warmup_steps": 20,
            "save_model": False,
        },
    },
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="report folder")
    parser.add_argument("--quick", action="store_true", help="a smaller grid that finishes in minutes")
    parser.add_argument("--model", default="mto-tiny", metavar="DIR", help="model (default: the embedded mto-tiny)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted demo in --out")
    parser.add_argument("--steps", type=int, help="training steps per run (quick: 120, full: 400)")
    parser.add_argument("--seeds", type=int, help="seeds per cell (quick: 1, full: 3)")
    parser.add_argument("--shots", metavar="K1,K2", help="the k-shot ladder (quick: 8,full)")
    parser.add_argument(
        "--strategies",
        metavar="S1,S2",
        help="the analyzer's decision strategies, in order (default: the analyzer's own, probe,classifier,rules)",
    )
    parser.set_defaults(run=run)


def prompt_templates() -> list[str]:
    """The prompt-tuning ladder: PROMPT_TEMPLATES that are built in."""
    from mto_studio.core.templates import TemplateLibrary

    library = TemplateLibrary()
    return [name for name in PROMPT_TEMPLATES if name in library]


def _plan(args: argparse.Namespace) -> dict[str, Any]:
    plan = {**PLANS[args.quick], "train": dict(PLANS[args.quick]["train"])}
    if args.steps:
        plan["train"]["steps"] = args.steps
        plan["train"]["eval_every"] = max(1, min(plan["train"]["eval_every"], args.steps // 2))
    if args.seeds:
        plan["seeds"] = list(range(args.seeds))
    if args.shots:
        plan["shots"] = [s.strip() for s in args.shots.split(",") if s.strip()]
    return plan


def analysis_config(args: argparse.Namespace, plan: dict[str, Any]) -> AnalysisConfig:
    """The demo's analysis: the analyzer's own strategy order (an inconclusive strategy passes on to the next)
    unless --strategies names others."""
    from mto_studio.core.analysis.config import AnalysisConfig

    cfg = AnalysisConfig(model=args.model, n=plan["n"], templates=list(ANALYSIS_TEMPLATES))
    if args.strategies:
        cfg = AnalysisConfig.from_dict(cfg.to_dict() | {"strategies": [s.strip() for s in args.strategies.split(",")]})
    return cfg


def _analyse(args: argparse.Namespace, plan: dict[str, Any], out: Path) -> AnalysisReport:
    from mto_studio.core.analysis.analyze import AnalysisDone, analyze, report_from_dict
    from mto_studio.core.fsio import atomic_write_json
    from mto_studio.core.jobs.events import Progress

    report_data = None
    for event in analyze(analysis_config(args, plan)):
        if isinstance(event, Progress) and event.total > 1 and event.done % 5 == 0:
            print(f"   {event.done}/{event.total} {event.message}", flush=True)
        elif isinstance(event, AnalysisDone):
            report_data = event.report
    assert report_data is not None, "analyze() ends with AnalysisDone unless it is stopped"
    atomic_write_json(out / "analysis.json", report_data)
    return report_from_dict(report_data)


def _ladder(cfg: ExperimentConfig, folder: Path, store: RunStore, resume: bool) -> tuple[ExperimentConfig, int | None]:
    """Run (or resume) one ladder; the config it ran with and None, or an exit code when it did not finish."""
    from mto_studio.cli.progress import EXIT_INTERRUPTED, EventPrinter, drive, ended_without_result, say
    from mto_studio.core.jobs.events import ExperimentFinished
    from mto_studio.core.store.run_folder import ExperimentFolder
    from mto_studio.core.training.experiment import run_experiment
    from mto_studio.core.training.experiment_config import ExperimentConfig

    saved = ExperimentFolder(folder).config().get("config") if resume and folder.is_dir() else None
    if saved is not None:
        cfg = ExperimentConfig.from_dict(saved)
    last = drive(
        run_experiment(None if saved is not None else cfg, folder, store=store, resume=saved is not None),
        EventPrinter(total_steps=len(cfg.runs()) * cfg.base_train_config().steps),
    )
    fix = f"mto-studio demo --out {folder.parent} --resume"
    if not isinstance(last, ExperimentFinished):
        return cfg, ended_without_result(f"the demo's {cfg.name}", last, f"finished runs are kept; resume with: {fix}")
    if last.status != "finished":
        say(f"stopped; resume with: {fix}")
        return cfg, EXIT_INTERRUPTED
    return cfg, None


def _analysis_section(analysis: AnalysisReport, model: str, n: int) -> tuple[str, int]:
    from mto_studio.core.analysis.report import decided_by, decision_word
    from mto_studio.core.world import RELATION_KIND

    rows = []
    agree = 0
    for r in analysis.relations:
        kind = RELATION_KIND.get(r.relation)
        agree += r.objective is not None and r.objective is kind
        probe = r.votes.get("probe")
        mi = f"{probe.evidence['mi']:+.2f}" if probe is not None and "mi" in probe.evidence else "—"
        rows.append(
            f"| {r.relation} | {kind.value if kind else '—'} | {decision_word(r.decision)} | {decided_by(r.decision)} "
            f"| {mi} | {r.best_template or '—'} |"
        )
    text = (
        "## 1. Objective analysis (zero-shot, before any training)\n\n"
        f"Model `{model}`, {n} examples per relation, strategies in order "
        f"({', '.join(analysis.config.strategies)}; an inconclusive one passes the decision on). The built-in world "
        "was built so that we know which objective taught each relation; the decision is compared with it.\n\n"
        "| relation | by construction | decision | decided by | MI | recommended template |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + f"\n\nAgreement with the construction: {agree} of "
        f"{len(analysis.relations)} relations ({agree / max(1, len(analysis.relations)):.0%}).\n\n"
        f"```\n{analysis.table()}```"
    )
    return text, agree


def _prompt_section(tables: list, folder_name: str, cfg: ExperimentConfig) -> str:
    parts = [
        "## 2b. Prompt tuning: the same ladder with soft prompts (frozen model)\n\n"
        f"Templates {', '.join(cfg.templates)}; k = {', '.join(cfg.shots)}; seeds "
        f"{', '.join(map(str, cfg.seeds))}; baseline {cfg.baseline}. Only the soft prompts are trained."
    ]
    for table in tables:
        if table.metric == "rougeL":
            parts.append(f"### Prompt tuning, {table.group}\n\n{table.markdown()}")
    parts.append(f"![prompt-tuning ladder]({folder_name}/ladder.png)")
    return "\n\n".join(parts)


def run(args: argparse.Namespace) -> int:
    from mto_studio.core.analysis.prediction import prediction_check, templates_to_check
    from mto_studio.core.analysis.report import decided_by, decision_word
    from mto_studio.core.fsio import atomic_write_json
    from mto_studio.core.store import RunStore
    from mto_studio.core.training.experiment import _collect, write_outputs
    from mto_studio.core.training.experiment_config import ExperimentConfig

    plan = _plan(args)
    analysis_config(args, plan)  # a bad --strategies fails here (exit 2), before any work
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"1/4 analysing the built-in world with {args.model} …", flush=True)
    analysis = _analyse(args, plan, out)
    print(analysis.table())
    analysis_text, agree = _analysis_section(analysis, args.model, plan["n"])
    for r in analysis.relations:
        print(
            f"   {r.relation}: {decision_word(r.decision)} (decided by {decided_by(r.decision)}); "
            f"recommended template {r.best_template or '—'}"
        )
    print(f"   the analysis matches the world's construction on {agree} of {len(analysis.relations)} relations")
    decided = analysis.decisions()
    checked = templates_to_check(analysis, plan["check"])
    print(f"   the prediction check trains {len(checked)} templates: {', '.join(checked)}", flush=True)

    common: dict[str, Any] = {
        "model": args.model,
        "shots": plan["shots"],
        "seeds": plan["seeds"],
        "objectives": decided,
        "train": plan["train"],
    }
    suffix = " (quick)" if args.quick else ""
    finetune_cfg = ExperimentConfig(
        name="MTO demo" + suffix, templates=["mixed", *checked], baseline="sup", methods=["finetune"], **common
    )
    prompts = prompt_templates()
    prompt_cfg = ExperimentConfig(
        name="MTO demo, prompt tuning" + suffix,
        templates=prompts,
        baseline=prompts[0],
        methods=["prompt"],
        **common,
    )
    store = RunStore(out / "runs.sqlite")
    try:
        print(f"2/4 fine-tuning ladder vs full data: the analyzer's pick (mixed), {', '.join(checked)} …", flush=True)
        finetune_cfg, code = _ladder(finetune_cfg, out / "experiment", store, args.resume)
        if code is not None:
            return code
        print(f"3/4 prompt-tuning ladder vs full data: {', '.join(prompts)} …", flush=True)
        prompt_cfg, code = _ladder(prompt_cfg, out / "prompt", store, args.resume)
        if code is not None:
            return code
    finally:
        store.close()

    print("4/4 prediction check and report …", flush=True)
    results = _collect(out / "experiment", finetune_cfg.runs())
    check = prediction_check(analysis, results)
    print("Did the zero-shot ranking predict the trained one?")
    print(check.markdown())
    prompt_tables, _ = write_outputs(prompt_cfg, out / "prompt", prompt_cfg.runs())
    closing = [
        _prompt_section(prompt_tables, "prompt", prompt_cfg),
        "## 3. Did the zero-shot ranking predict the trained one?\n\n" + check.markdown(),
        f"Total wall time {time.perf_counter() - started:.0f} s.",
    ]
    _, report = write_outputs(
        finetune_cfg, out / "experiment", finetune_cfg.runs(), extra_sections=[analysis_text], closing_sections=closing
    )
    final = out / "report.md"
    text = report.read_text().replace("](curves", "](experiment/curves").replace("](ladder", "](experiment/ladder")
    final.write_text(text.replace("## all relations", "## 2. Few-shot ladder vs full data: all relations", 1))
    atomic_write_json(out / "prediction.json", check.to_dict())
    print(f"report: {final}  ({time.perf_counter() - started:.0f} s)")
    return 0
