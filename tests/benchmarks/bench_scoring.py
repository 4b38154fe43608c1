"""Benchmark: batched zero-shot scoring against a per-example loop computing the same numbers.
Prints both times and the ratio (goal ≥ 5×) and checks the numbers agree to 1e-4. (The batched path runs the
encoder once per distinct source and reuses its output for every target of that source.)

Run on demand:  .venv/bin/python -m pytest tests/benchmarks/bench_scoring.py -s
            or  .venv/bin/python tests/benchmarks/bench_scoring.py
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def benchmark(n_per_relation: int = 20) -> dict[str, float]:
    import torch

    from mto_studio.core.models.loading import load_seq2seq
    from mto_studio.core.models.scoring import Scorer
    from mto_studio.core.templates import TemplateLibrary
    from mto_studio.core.training.data import load_for_run

    torch.set_num_threads(1)
    model, tokenizer = load_seq2seq("mto-tiny")
    library = TemplateLibrary()
    data = load_for_run("world", None, None, "train")
    by_relation: dict[str, list] = {}
    for head in data.heads:
        by_relation.setdefault(head.relation, []).append(head)
    pairs = []
    for heads in by_relation.values():
        for head in heads[:n_per_relation]:
            for name in ("sup", "sup-nat", "unsup", "unsup-nat", "unsupnat"):
                rendered = library.render(name, head.relation, head.input, head.references[0])
                pairs.append((rendered.source, rendered.target))
    Scorer(model, tokenizer, batch_size=64).score(pairs[:64])  # warm-up
    scorer = Scorer(model, tokenizer, batch_size=64)  # a fresh one: a scorer remembers the pairs it scored
    start = time.perf_counter()
    batched = scorer.score(pairs)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    looped = scorer.score_one_by_one(pairs)
    looped_s = time.perf_counter() - start
    diff_ll = max(abs(a.log_likelihood - b.log_likelihood) for a, b in zip(batched, looped, strict=True))
    diff_rank = max(abs(a.rank - b.rank) for a, b in zip(batched, looped, strict=True))
    out = {
        "pairs": len(pairs),
        "batched_s": batched_s,
        "looped_s": looped_s,
        "speedup": looped_s / batched_s,
        "max_ll_diff": diff_ll,
        "max_rank_diff": diff_rank,
    }
    print(f"\nzero-shot scoring of {len(pairs)} (source, target) pairs with mto-tiny, 1 thread:")
    print(f"  batched (64 per forward pass)  {batched_s:.2f} s")
    print(f"  one forward pass per pair      {looped_s:.2f} s")
    print(f"  speed-up                       {out['speedup']:.1f}x (goal >= 5x)")
    print(f"  largest difference             log-likelihood {diff_ll:.1e}, rank {diff_rank:.1e} (must be < 1e-4)")
    return out


def test_batched_scoring_is_faster_and_identical():
    result = benchmark()
    assert result["max_ll_diff"] < 1e-4 and result["max_rank_diff"] < 1e-4
    print(f"  goal met: {result['speedup'] >= 5}")


if __name__ == "__main__":
    benchmark()
