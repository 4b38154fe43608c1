"""Benchmark: MTO Studio's trainer against transformers' Seq2SeqTrainer on the same tiny T5, data, batches and
steps. Prints both throughputs, their ratio (goal ≥ 1.2×) and the largest difference between the loss curves.

Run on demand:  .venv/bin/python -m pytest tests/benchmarks/bench_trainer.py -s
            or  .venv/bin/python tests/benchmarks/bench_trainer.py [--steps 300]
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


def build_model_folder(folder: Path) -> Path:
    """The embedded model's architecture with fresh weights (seed 0), or mto-tiny's tokenizer when shipped."""
    import torch

    from mto_studio.core.models.tokenizer import train_t5_tokenizer
    from mto_studio.core.pretraining.objective_lab import PretrainConfig, build_model, corpus_texts
    from mto_studio.core.resources import resource
    from mto_studio.core.world import build_world

    recipe = PretrainConfig.load(resource("recipes", "mto-tiny.toml"))
    shipped = resource("models", "mto-tiny")
    if (shipped / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(shipped)
    else:
        tokenizer = train_t5_tokenizer(corpus_texts(build_world(recipe.world)), recipe.tokenizer.vocab_size)
    torch.manual_seed(0)
    model = build_model(recipe, tokenizer)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_ours(cfg) -> tuple[float, list[float], int]:
    from mto_studio.core.jobs.events import RunStarted, StepLogged
    from mto_studio.core.training.loop import train

    with tempfile.TemporaryDirectory() as folder:
        start = None
        losses = []
        tokens = 0
        for event in train(cfg, Path(folder) / "run"):
            if isinstance(event, RunStarted):
                start = time.perf_counter()
            elif isinstance(event, StepLogged):
                losses.append(event.loss)
                tokens += event.tokens_per_s * 0  # throughput is measured from wall time below
                if event.step == cfg.steps:
                    seconds = time.perf_counter() - start
    return seconds, losses, tokens


def run_hf(cfg, model_dir: Path, *, same_batches: bool = True) -> tuple[float, list[float]]:
    """Seq2SeqTrainer fed exactly the batches our trainer uses (an IterableDataset in our order), or, with
    ``same_batches=False``, the same examples through its own default sampler."""
    import torch
    from torch.utils.data import IterableDataset
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
        TrainerCallback,
    )

    from mto_studio.core.templates import T5_STYLE, TemplateLibrary
    from mto_studio.core.training.data import BatchSchedule, prepare_run_data

    torch.manual_seed(cfg.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSeq2SeqLM.from_pretrained(model_dir)
    library = TemplateLibrary()
    data = prepare_run_data(cfg, library, library.get(cfg.template), tokenizer, T5_STYLE)
    lengths = [len(e.source) + len(e.target) for e in data.train]
    schedule = BatchSchedule(lengths, cfg.batch_size, cfg.seed, cfg.group_by_length)

    class Ordered(IterableDataset):
        def __iter__(self):
            for step in range(cfg.steps):
                for index in schedule(step):
                    example = data.train[index]
                    yield {"input_ids": list(example.source), "labels": list(example.target)}

    if not same_batches:
        from datasets import Dataset

        train_dataset = Dataset.from_list([{"input_ids": list(e.source), "labels": list(e.target)} for e in data.train])
    else:
        train_dataset = Ordered()
    losses: list[float] = []
    marks: dict[str, float] = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            marks["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == cfg.steps:
                marks["end"] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as folder:
        args = Seq2SeqTrainingArguments(
            output_dir=folder,
            per_device_train_batch_size=cfg.batch_size,
            max_steps=cfg.steps,
            learning_rate=cfg.lr,
            warmup_steps=cfg.warmup_steps,
            lr_scheduler_type="linear",
            weight_decay=0.0,
            max_grad_norm=cfg.max_grad_norm,
            logging_steps=5,
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            seed=cfg.seed,
            data_seed=cfg.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
            use_cpu=True,
            optim="adamw_torch",
            logging_first_step=False,
        )
        trainer = Seq2SeqTrainer(
            model=model,
            args=args,
            train_dataset=train_dataset,
            data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100),
            callbacks=[Clock()],
        )
        trainer.train()
    return marks["end"] - marks["start"], losses


def _compare(label: str, ours: tuple, hf: tuple, steps: int) -> dict[str, float]:
    (our_seconds, our_losses, _), (hf_seconds, hf_losses) = ours, hf
    n = min(len(hf_losses), len(our_losses))
    diffs = [abs(a - b) / max(abs(b), 1e-9) for a, b in zip(our_losses[:n], hf_losses[:n], strict=True)]
    tail = max(1, n // 4)
    out = {
        "steps": steps,
        "ours_s": our_seconds,
        "hf_s": hf_seconds,
        "speedup": hf_seconds / our_seconds,
        "max_rel_loss_diff": max(diffs),
        "tail_loss_ours": sum(our_losses[-tail:]) / tail,
        "tail_loss_hf": sum(hf_losses[-tail:]) / tail,
        "first_loss": our_losses[0],
        "last_loss": our_losses[-1],
    }
    print(f"\n{label}")
    print(f"  MTO Studio      {steps / our_seconds:.1f} steps/s ({our_seconds:.1f} s)")
    print(f"  Seq2SeqTrainer  {steps / hf_seconds:.1f} steps/s ({hf_seconds:.1f} s)")
    print(f"  speed-up        {out['speedup']:.2f}x (goal >= 1.2x)")
    print(
        f"  loss curves     {n} points every 5 steps; largest relative difference {out['max_rel_loss_diff']:.2e}; "
        f"mean of the last quarter {out['tail_loss_ours']:.3f} vs {out['tail_loss_hf']:.3f}"
    )
    return out


def benchmark(steps: int = 300) -> dict[str, dict[str, float]]:
    """Two comparisons in one run: (1) identical batches, which isolates the training loop and must give the same
    loss curve; (2) each trainer as shipped: ours batches examples of similar length (less padding), the
    Seq2SeqTrainer uses its default random sampler."""
    import torch

    from mto_studio.core.training.config import TrainConfig

    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        model_dir = build_model_folder(Path(folder) / "model")
        base = dict(
            model=str(model_dir),
            data="world",
            template="unsup-nat",
            steps=steps,
            batch_size=16,
            lr=1e-3,
            warmup_steps=20,
            eval_every=0,
            save_model=False,
            max_test_heads=1,
            max_eval_heads=1,
            threads=1,
        )
        same = TrainConfig(**base, group_by_length=False)
        results["same_batches"] = _compare(
            f"(1) identical batches ({steps} steps, batch 16, 1 thread)", run_ours(same), run_hf(same, model_dir), steps
        )
        shipped = TrainConfig(**base, group_by_length=True)
        results["defaults"] = _compare(
            f"(2) each trainer's defaults ({steps} steps, batch 16, 1 thread)",
            run_ours(shipped),
            run_hf(shipped, model_dir, same_batches=False),
            steps,
        )
    return results


def test_trainer_throughput_against_seq2seq_trainer():
    results = benchmark()
    assert results["same_batches"]["max_rel_loss_diff"] < 1e-4, "same batches must give the same loss curve"
    shipped = results["defaults"]
    assert abs(shipped["tail_loss_ours"] - shipped["tail_loss_hf"]) / shipped["tail_loss_hf"] < 0.15
    print(
        f"\n  goal (>= 1.2x) met: identical batches {results['same_batches']['speedup'] >= 1.2}, "
        f"defaults {shipped['speedup'] >= 1.2}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=300)
    benchmark(parser.parse_args().steps)
