"""Benchmark: the objective analyzer on a t5-base-shaped model (issue 14, item 5).

A random-weight T5 with T5Config's defaults (d_model 768, d_ff 3072, 12+12 layers, 12 heads, vocab 32128; 223 M
parameters) and a T5 tokenizer trained on the data; 23 relations (ATOMIC's names from the built-in phrase table,
each given the heads and tails of a built-in world relation, reused in turn), n = 5, the default templates and
9 distractors, 2 torch threads. Nothing is downloaded.

Printed, against named baselines:
  - new path: the whole analysis (probe, rules, classifier from its cache, ranking) over the 23 relations, against
    the goal of 5 minutes and against the 40 minutes measured before (issue 14);
  - old path: the scoring as the analyzer did it before (one call per probe template and per ranking template,
    every pair through the full model, the encoder once per pair), timed on ``old_relations`` relations and
    scaled to 23; the ratio old / new, and the largest difference between the two paths' numbers (must be < 1e-5);
  - the classifier: its first training (once per cache key; before, on every analysis) and a cached call.

Run on demand (not collected by pytest):
    .venv/bin/python tests/benchmarks/bench_analyzer.py                      # full: 23 relations
    .venv/bin/python tests/benchmarks/bench_analyzer.py --relations 4 --old-relations 1   # reduced
From bench_real_shapes.py: ``benchmark()`` (the defaults).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

GOAL_S = 5 * 60
BEFORE_S = 40 * 60  # issue 14: ≈1 min 45 s per relation at n = 5, ≈40 min for 23 relations (classifier included)
HEADS_PER_RELATION = 12


def write_data(path: Path, relations: int) -> list[str]:
    """``relations`` relations named after the phrase table's (ATOMIC's), each with a world relation's facts."""
    from mto_studio.core.templates.phrases import builtin_phrases
    from mto_studio.core.world import build_world

    world = build_world()
    by_relation: dict[str, list] = {}
    for fact in world.facts:
        by_relation.setdefault(fact.relation, []).append(fact)
    sources = sorted(r for r, facts in by_relation.items() if len(facts) >= HEADS_PER_RELATION)
    names = list(builtin_phrases())[:relations]
    lines = ["head\trelation\ttail"]
    for i, name in enumerate(names):
        for fact in by_relation[sources[i % len(sources)]][:HEADS_PER_RELATION]:
            lines.append(f"{fact.head}\t{name}\t{fact.tails[0]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return names


def build_t5_base(folder: Path, texts: list[str]) -> Path:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from mto_studio.core.models.tokenizer import train_t5_tokenizer

    train_t5_tokenizer(texts, 2000, out_dir=folder)
    torch.manual_seed(0)
    config = T5Config(decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)  # the defaults: t5-base's shape
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def legacy_score(scorer, pairs):
    """The scoring as it was before: pairs length-sorted into batches, each through the whole model."""
    import torch

    from mto_studio.core.models.generation import pad_batch

    sources, targets = scorer._encode(pairs)
    order = sorted(range(len(pairs)), key=lambda i: (len(sources[i]), len(targets[i])))
    out = [None] * len(pairs)
    with torch.no_grad():
        for start in range(0, len(order), scorer.batch_size):
            chunk = order[start : start + scorer.batch_size]
            ids, mask = pad_batch([sources[i] for i in chunk], scorer.tokenizer.pad_token_id)
            labels, _ = pad_batch([targets[i] for i in chunk], 0, label_pad=-100)
            logits = scorer.model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).logits.float()
            answer = torch.ones_like(labels, dtype=torch.bool)
            for index, score in zip(chunk, scorer._reduce_batch(logits, labels, answer), strict=True):
                out[index] = score
    return out


def old_path(model_dir: Path, data: Path, relations: list[str], n: int) -> tuple[float, float]:
    """Seconds the old scoring took over ``relations`` (its calls, in its order) and the largest difference
    between its numbers and the new scorer's."""
    from mto_studio.core.analysis.analyze import _plan_ranking
    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.models.scoring import Scorer
    from mto_studio.core.objectives.strategies import ProbeStrategy, StrategyContext
    from mto_studio.core.templates import T5_STYLE, TemplateLibrary
    from mto_studio.core.training.data import load_for_run

    cfg = _config(model_dir, data, relations, n)
    model, tokenizer = load_seq2seq(str(model_dir))
    heads: dict[str, list] = {}
    for head in load_for_run(str(data), None, relations, "train").heads:
        heads.setdefault(head.relation, []).append(head)
    library = TemplateLibrary()
    ctx = StrategyContext(heads=heads, library=library, n=n, scorer=None, style=T5_STYLE)
    templates = [library.get(t) for t in cfg.templates]
    calls = []
    for relation in relations:
        probe = ProbeStrategy().pairs([relation], ctx)
        calls += [probe[: len(probe) // 2], probe[len(probe) // 2 :]]
        for plan in _plan_ranking(relation, templates, ctx, cfg):
            calls += [plan.gold, plan.candidates]
    scorer = Scorer(model, tokenizer, batch_size=cfg.batch_size)
    start = time.perf_counter()
    old = [legacy_score(scorer, pairs) for pairs in calls]
    seconds = time.perf_counter() - start
    new = [scorer.score(pairs) for pairs in calls]
    diff = max(
        max(abs(a.log_likelihood - b.log_likelihood), abs(a.rank - b.rank))
        for o, w in zip(old, new, strict=True)
        for a, b in zip(o, w, strict=True)
    )
    return seconds, diff


def _config(model_dir: Path, data: Path, relations: list[str], n: int, strategies=("probe", "classifier", "rules")):
    from mto_studio.core.analysis.analyze import AnalysisConfig

    return AnalysisConfig(
        data=str(data), model=str(model_dir), relations=relations, n=n, strategies=list(strategies), device="cpu"
    )


def classifier_once(relations: list[str]) -> tuple[float, float]:
    """Seconds of the classifier's first training (into an empty cache) and of a cached call."""
    from mto_studio.core.objectives.classifier import classify_relations
    from mto_studio.core.objectives.strategies import StrategyContext
    from mto_studio.core.templates import TemplateLibrary

    ctx = StrategyContext(heads={}, library=TemplateLibrary())
    times = []
    for _ in range(2):
        start = time.perf_counter()
        list(classify_relations(relations, ctx, "classifier"))
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def benchmark(relations: int = 23, n: int = 5, old_relations: int = 1, threads: int = 2) -> dict[str, float]:
    import torch

    from mto_studio.core.analysis.analyze import AnalysisDone, analyze
    from mto_studio.core.jobs.events import Progress

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="bench-analyzer-") as tmp:
        folder = Path(tmp)
        os.environ["MTO_CACHE_DIR"] = str(folder / "cache")  # a cold classifier cache, left behind with the folder
        names = write_data(folder / "data.tsv", relations)
        texts = (folder / "data.tsv").read_text(encoding="utf-8").replace("\t", " ").splitlines()
        model_dir = build_t5_base(folder / "t5-base-shaped", texts)

        cold_s, warm_s = classifier_once(names)
        start = time.perf_counter()
        gaps, last = [], start
        done = None
        for event in analyze(_config(model_dir, folder / "data.tsv", names, n)):
            now = time.perf_counter()
            if isinstance(event, Progress):
                gaps.append(now - last)
                last = now
            done = event
        new_s = time.perf_counter() - start
        assert isinstance(done, AnalysisDone)
        old_s, diff = old_path(model_dir, folder / "data.tsv", names[:old_relations], n)
    old_scaled = old_s / old_relations * relations
    out = {
        "relations": relations,
        "new_s": new_s,
        "old_scoring_s": old_scaled,
        "ratio_old_scoring": old_scaled / new_s,
        "ratio_before": BEFORE_S * relations / 23 / new_s,
        "classifier_first_s": cold_s,
        "classifier_cached_s": warm_s,
        "longest_progress_gap_s": max(gaps),
        "max_diff": diff,
    }
    print(
        f"\nanalyzer on a t5-base-shaped T5 (223 M, random weights), {relations} relations, n={n}, {threads} threads:"
    )
    print(f"  new path, whole analysis (classifier cached)   {new_s:7.1f} s   goal <= {GOAL_S} s: {new_s <= GOAL_S}")
    print(
        f"  before (issue 14: 40 min for 23 relations)     {BEFORE_S * relations / 23:7.1f} s   "
        f"ratio {out['ratio_before']:.1f}x"
    )
    print(
        f"  old scoring path, {old_relations} relation(s) scaled to {relations}   {old_scaled:7.1f} s   "
        f"ratio {out['ratio_old_scoring']:.1f}x (old scoring alone / new whole analysis)"
    )
    print(f"  classifier: first training {cold_s:.1f} s (before: on every analysis), cached {warm_s:.1f} s")
    print(f"  longest wait between progress events          {max(gaps):7.1f} s")
    print(f"  largest difference old vs new numbers          {diff:.1e} (must be < 1e-5)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relations", type=int, default=23)
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--old-relations", type=int, default=1, help="relations the old path is timed on (scaled)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    benchmark(args.relations, args.n, args.old_relations, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
