"""Benchmark: does the MTO effect show on the embedded model? k-shot fine-tuning (k = 8, 32, 128 heads per
relation, 3 seeds) with the Filling template `unsup-nat` against the conventional `sup` and `sup-nat`, reported
separately for the world's Filling and Mapping relations (mean ± sd over seeds, relative gain over sup).

Run on demand (about 20 minutes on 2 CPU cores):
    .venv/bin/python tests/benchmarks/bench_mto_effect.py --out /tmp/mto-effect [--card]
``--card`` writes the tables into resources/models/mto-tiny/README.md. ``--templates A,B,…`` (names or .toml paths)
and ``--baseline`` compare other templates, e.g. the method's forms against the connective ones (issue 15):
    --templates unsup-nat,unsup-nat-short,sup-nat,sup-nat-short,sup --shots 8,32 --seeds 2 --steps 150
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

WHAT_MATTERED = """## What it took for the effect to appear

The first world gave each head random tails and packed several sentences (each with its own sentinel) into one
pre-training sequence. After 8,000 steps the model still answered at chance: it had learned the format of every
relation and none of the facts. Four changes, each measured, made the knowledge learnable and the comparison fair:

1. **Structured knowledge.** Each head got a hidden category per relation group (objects; event feelings; event
   purposes), its tails drawn from that category's share of the pool. A 2M-parameter model then learns the Mapping
   facts from question/answer pairs in ~800 steps (loss 0.63 → 0.15), where random tails stayed at 0.63.
2. **One sentence per sequence.** With packing, sentence-borne (Filling) facts stayed at chance after 6,000 steps
   while question-borne ones reached 0.88; with single sentences both were learned by ~2,000 steps.
3. **Every word a template adds must occur in pre-training.** A word the model never saw has an untrained embedding
   (no real pre-trained model has that): "is typically kept in" broke the Filling template for AtLocation until the
   corpus used "typically" (in another wording), and likewise "used", "usually", "seen … as", "because", "but", "result".
4. **Sentences without a full stop.** Templates end in "… <extra_id_0>" with nothing after it; when every corpus
   sentence ended in a period the model filled "garage." and dropped "the". Half the corpus now ends without one.
5. **The task prefix of a Mapping relation must be a pre-training format.** With four question styles but never
   "xEffect: …", the relation's name kept an untrained embedding; under `sup` the gold answers of xEffect ranked
   99th and the likelihood probe called the relation Filling (8 of 9 relations right). Adding "relation: input" as
   a fifth style (what a multi-task pre-training mixture gives a real T5) made it 9 of 9. The same run lost Filling
   knowledge (held-out EM 0.33 → 0.21); moving 5% of the batches from the supervised stream to salient-span
   corruption (0.50/0.25 → 0.55/0.20) brought it back (0.34).
6. **No connective may belong to one relation only.** The xReact template says "… so PersonX feels <extra_id_0>",
   but in the corpus "so" appeared only in xAttr's "…, so people think PersonX is …": the model answered "is
   stubborn", and with 5 probe examples xReact came out Mapping. One more xReact sentence with "so" ("…, so now
   PersonX feels …") fixed it (gold-token rank under the Filling template 209 → 1.4) and lifted held-out Filling
   EM from 0.34 to 0.48.
"""

SETTINGS = {
    "steps": 300,
    "batch_size": 16,
    "lr": 1e-3,
    "eval_every": 25,
    "warmup_steps": 10,
    "save_model": False,
    "max_eval_heads": 8,
    "threads": 1,
}


def run(
    out: Path,
    shots: list[str],
    seeds: list[int],
    steps: int,
    templates: list[str] | None = None,
    baseline: str = "sup",
) -> str:
    from mto_studio.core.jobs.events import ExperimentFinished, RunFinished
    from mto_studio.core.training.experiment import run_experiment, write_outputs
    from mto_studio.core.training.experiment_config import ExperimentConfig

    cfg = ExperimentConfig(
        name="MTO effect on mto-tiny",
        templates=templates or ["unsup-nat", "sup", "sup-nat"],
        baseline=baseline,
        shots=shots,
        seeds=seeds,
        train={**SETTINGS, "steps": steps},
    )
    start = time.perf_counter()
    resume = (out / "experiment.json").exists()
    for event in run_experiment(None if resume else cfg, out, resume=resume):
        if isinstance(event, RunFinished):
            print(f"  run finished: {event.run_id} rougeL {event.metrics.get('rougeL', 0):.3f}", flush=True)
        if isinstance(event, ExperimentFinished):
            print(f"experiment {event.status} in {time.perf_counter() - start:.0f} s; report {event.report}")
    tables, _ = write_outputs(cfg, out, cfg.runs())
    text = "\n".join(t.markdown() for t in tables if t.group != "all relations")
    print(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/mto-effect")
    parser.add_argument("--shots", default="8,32,128")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=SETTINGS["steps"])
    parser.add_argument(
        "--templates",
        default="unsup-nat,sup,sup-nat",
        help="comma-separated template names or .toml paths (e.g. unsup-nat-short to compare the connective form)",
    )
    parser.add_argument("--baseline", default="sup", help="the template the gains are measured against")
    parser.add_argument("--card", action="store_true", help="write the tables into mto-tiny's model card")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    tables = run(
        out, args.shots.split(","), list(range(args.seeds)), args.steps, args.templates.split(","), args.baseline
    )
    if args.card:
        from mto_studio.core.models.loading import embedded_model_dir
        from mto_studio.core.models.model_card import write_model_card

        section = (
            "## Few-shot fine-tuning: matched template vs the conventional one\n\n"
            f"`tests/benchmarks/bench_mto_effect.py`: full fine-tuning on k heads per relation of the world's "
            f"training split, {args.steps} steps, batch {SETTINGS['batch_size']}, lr {SETTINGS['lr']}, the best "
            f"checkpoint on 8 validation heads per relation, evaluated on the test split; seeds "
            f"0–{args.seeds - 1}. Test ROUGE-L and exact match, mean ± sd over seeds, relative gain over "
            "`sup`.\n\n" + tables
        )
        write_model_card(embedded_model_dir(), effect_section=section, notes=WHAT_MATTERED)
        print("model card updated")


if __name__ == "__main__":
    main()
