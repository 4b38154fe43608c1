"""Benchmark: MTO Studio's trainer on real model shapes against transformers' Seq2SeqTrainer on the same batches.

Shapes (random weights from T5Config, a T5 tokenizer trained on the data; nothing is downloaded):
  small  t5-small: d_model 512, d_ff 2048, 6+6 layers, 8 heads, vocab 32128 (60 M parameters)
  base   t5-base:  d_model 768, d_ff 3072, 12+12 layers, 12 heads, vocab 32128 (223 M parameters)
For each shape and method (full fine-tuning, LoRA r=8 on q/v) both trainers see the same examples in the same
order, batch size, lengths, learning rate and steps. Each measurement runs in a process of its own, so the peak
memory is that run's: the peak resident set (getrusage) on the CPU, torch.cuda.max_memory_allocated on CUDA.
Seconds per step and tokens per second (non-padding source + target tokens) are taken over the steps after the
first 5 (warm-up, allocations, the divergence watch's start value are left out). Ratios are Seq2SeqTrainer / MTO
for time and memory (> 1: MTO is faster / smaller) and MTO / Seq2SeqTrainer for tokens per second.

Run on demand (file names bench_*.py are not collected by pytest):
    .venv/bin/python tests/benchmarks/bench_real_shapes.py --shape small --steps 10
    .venv/bin/python tests/benchmarks/bench_real_shapes.py --shape base --methods lora --device cuda --precision bf16
    .venv/bin/python tests/benchmarks/bench_real_shapes.py --analyzer   # the analyzer timing (bench_analyzer.py)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SHAPES = {
    "small": dict(d_model=512, d_ff=2048, d_kv=64, num_layers=6, num_decoder_layers=6, num_heads=8),
    "base": dict(d_model=768, d_ff=3072, d_kv=64, num_layers=12, num_decoder_layers=12, num_heads=12),
}
VOCAB = 32128
SKIP = 5  # steps left out of the timing (MTO logs every 5 steps: its clock reads at step 5 and at the last step)
LEARNING_RATES = {"finetune": 1e-4, "lora": 1e-3}


def build_model_folder(shape: str, folder: Path, data: str) -> Path:
    """A t5-<shape>-shaped T5 v1.0 (ReLU, tied) with random weights and a tokenizer trained on ``data``'s texts."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    from mto_studio.core.models.tokenizer import train_t5_tokenizer
    from mto_studio.core.training.data import load_for_run

    task = load_for_run(data, None, None)
    texts = [f"{h.input} {h.relation} {' '.join(h.references)}" for h in task.heads]
    tokenizer = train_t5_tokenizer(texts, vocab_size=2000, out_dir=folder)
    torch.manual_seed(0)
    config = T5Config(vocab_size=VOCAB, feed_forward_proj="relu", tie_word_embeddings=True, dropout_rate=0.0,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **SHAPES[shape])  # fmt: skip
    assert len(tokenizer) <= VOCAB
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


def train_config(spec: dict):
    import dataclasses

    from mto_studio.core.training.config import TrainConfig

    values = dict(
        model=spec["model"],
        data=spec["data"],
        template="unsup-nat",
        method=spec["method"],
        steps=spec["steps"],
        batch_size=spec["batch_size"],
        lr=LEARNING_RATES[spec["method"]],
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=1.0,
        group_by_length=False,  # the same batches as the Seq2SeqTrainer's (it does not group by length)
        eval_every=0,
        max_eval_heads=1,
        max_test_heads=1,
        save_model=False,
        device=spec["device"],
        threads=spec["threads"],
    )
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    if "precision" in names:
        values["precision"] = spec["precision"]
    return TrainConfig(**values)


def batches(cfg, tokenizer) -> tuple[list, list[list[int]]]:
    """The run's training examples and the example indices of each step, exactly as MTO's trainer draws them."""
    from mto_studio.core.templates import TemplateLibrary, sentinel_style_for
    from mto_studio.core.training.data import BatchSchedule, prepare_run_data

    library = TemplateLibrary()
    data = prepare_run_data(cfg, library, library.get(cfg.template), tokenizer, sentinel_style_for(tokenizer))
    lengths = [len(e.source) + len(e.target) for e in data.train]
    schedule = BatchSchedule(lengths, cfg.batch_size, cfg.seed, cfg.group_by_length)
    return data.train, [schedule(step) for step in range(cfg.steps)]


def timed_tokens(examples, steps: list[list[int]]) -> int:
    return sum(len(examples[i].source) + len(examples[i].target) for step in steps[SKIP:] for i in step)


def run_ours(spec: dict) -> dict:
    from mto_studio.core.jobs.events import RunFailed, StepLogged
    from mto_studio.core.training.loop import train

    cfg = train_config(spec)
    logged = {}
    with tempfile.TemporaryDirectory() as folder:
        for event in train(cfg, Path(folder) / "run"):
            if isinstance(event, StepLogged):
                logged[event.step] = (event.elapsed_s, event.loss)
            elif isinstance(event, RunFailed):
                raise SystemExit(f"MTO run failed: {event.reason}")
    seconds = logged[cfg.steps][0] - logged[SKIP][0]
    return {"seconds": seconds, "first_loss": logged[SKIP][1], "last_loss": logged[cfg.steps][1]}


def run_hf(spec: dict) -> dict:
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

    cfg = train_config(spec)
    tokenizer = AutoTokenizer.from_pretrained(spec["model"])
    examples, steps = batches(cfg, tokenizer)
    torch.manual_seed(cfg.seed)
    model = AutoModelForSeq2SeqLM.from_pretrained(spec["model"])
    if cfg.method == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=cfg.lora.r,
                                                 lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout))  # fmt: skip

    class Ordered(IterableDataset):
        def __iter__(self):
            for step in steps:
                for index in step:
                    yield {"input_ids": list(examples[index].source), "labels": list(examples[index].target)}

    marks: dict[int, float] = {}
    losses: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in (SKIP, cfg.steps):
                if torch.cuda.is_available() and spec["device"] != "cpu":
                    torch.cuda.synchronize()
                marks[state.global_step] = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    precision = spec["precision"]
    cuda = spec["device"] != "cpu" and torch.cuda.is_available()
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    with tempfile.TemporaryDirectory() as folder:
        args = Seq2SeqTrainingArguments(
            output_dir=folder, per_device_train_batch_size=cfg.batch_size, max_steps=cfg.steps,
            learning_rate=cfg.lr, warmup_steps=0, lr_scheduler_type="linear", weight_decay=0.0,
            max_grad_norm=cfg.max_grad_norm, logging_steps=SKIP, save_strategy="no", eval_strategy="no",
            report_to=[], seed=cfg.seed, dataloader_num_workers=0, disable_tqdm=True, use_cpu=not cuda,
            optim="adamw_torch", bf16=precision == "bf16", fp16=precision == "fp16",
        )  # fmt: skip
        trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=Ordered(), callbacks=[Clock()],
                                 data_collator=DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100))  # fmt: skip
        trainer.train()
    return {"seconds": marks[cfg.steps] - marks[SKIP], "first_loss": losses[0], "last_loss": losses[-1]}


def peak_rss_mb() -> float:
    """This process's peak resident set. Linux: VmHWM (getrusage's ru_maxrss survives exec, so a child would
    report its parent's peak at fork time); elsewhere getrusage (KiB on Linux, bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def child(spec: dict) -> dict:
    """One measurement in this process: the trainer's timing and this process's peak memory."""
    import torch

    torch.set_num_threads(spec["threads"])
    base_rss = peak_rss_mb()
    out = (run_ours if spec["trainer"] == "mto" else run_hf)(spec)
    out["peak_rss_mb"] = peak_rss_mb()
    out["import_rss_mb"] = base_rss
    if torch.cuda.is_available() and spec["device"] != "cpu":
        out["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def measure(spec: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"{spec['trainer']} {spec['method']} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def _row(label: str, r: dict, steps: int, tokens: int, cuda: bool) -> str:
    memory = r.get("cuda_peak_mb") if cuda else r["peak_rss_mb"]
    n = steps - SKIP
    return (f"  {label:<15} {r['seconds'] / n:8.3f} s/step  {tokens / r['seconds']:9.0f} tok/s  "
            f"{memory:8.0f} MB peak  loss {r['first_loss']:.3f} → {r['last_loss']:.3f}")  # fmt: skip


def benchmark(shapes, methods, steps: int, device: str, precision: str, threads: int, batch_size: int, data: str):
    from transformers import AutoTokenizer

    results = {}
    cuda = device.startswith("cuda")
    with tempfile.TemporaryDirectory() as root:
        for shape in shapes:
            started = time.perf_counter()
            folder = build_model_folder(shape, Path(root) / f"t5-{shape}-shaped", data)
            print(f"\nt5-{shape} shape (model built in {time.perf_counter() - started:.0f} s); "
                  f"{steps} steps, batch {batch_size}, {threads} threads, device {device}, precision {precision}; "
                  f"timed: steps {SKIP + 1}-{steps}")  # fmt: skip
            for method in methods:
                spec = dict(model=str(folder), data=data, method=method, steps=steps, batch_size=batch_size,
                            device=device, precision=precision, threads=threads)  # fmt: skip
                examples, plan = batches(train_config(spec), AutoTokenizer.from_pretrained(folder))
                tokens = timed_tokens(examples, plan)
                ours = measure({**spec, "trainer": "mto"})
                hf = measure({**spec, "trainer": "hf"})
                mem = "cuda_peak_mb" if cuda else "peak_rss_mb"
                print(f" {method} (lr {LEARNING_RATES[method]:g}; {tokens / (steps - SKIP):.0f} tokens per step)")
                print(_row("MTO Studio", ours, steps, tokens, cuda))
                print(_row("Seq2SeqTrainer", hf, steps, tokens, cuda))
                ratio = {
                    "time": hf["seconds"] / ours["seconds"],
                    "tokens_per_s": hf["seconds"] / ours["seconds"],
                    "memory": hf[mem] / ours[mem],
                }
                print(f"  ratios          time HF/MTO {ratio['time']:.2f}x, tok/s MTO/HF {ratio['tokens_per_s']:.2f}x, "
                      f"peak memory HF/MTO {ratio['memory']:.2f}x (process after imports: "
                      f"{ours['import_rss_mb']:.0f} MB)")  # fmt: skip
                results[(shape, method)] = {"mto": ours, "hf": hf, "tokens": tokens, "ratio": ratio}
    return results


def analyzer_part() -> None:
    """The analyzer timing of issue 14 item 5, from tests/benchmarks/bench_analyzer.py when it exists."""
    try:
        module = importlib.import_module("tests.benchmarks.bench_analyzer")
    except ImportError as exc:
        print(f"\nanalyzer: skipped (tests/benchmarks/bench_analyzer.py is not importable: {exc})")
        return
    for name in ("benchmark", "run_benchmark", "main"):
        function = getattr(module, name, None)
        if callable(function):
            print(f"\nanalyzer: tests/benchmarks/bench_analyzer.py:{name}()")
            function()
            return
    print("\nanalyzer: skipped (bench_analyzer.py has no benchmark(), run_benchmark() or main())")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=("small", "base", "both"), default="small")
    parser.add_argument("--methods", default="finetune,lora", help="finetune, lora or both (comma-separated)")
    parser.add_argument("--steps", type=int, default=10, help=f"optimizer steps (> {SKIP}; the first {SKIP} untimed)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--data", default="world", help="training data reference (default: the built-in world)")
    parser.add_argument("--analyzer", action="store_true", help="also run the analyzer timing (bench_analyzer.py)")
    parser.add_argument("--no-training", action="store_true", help="only the analyzer part")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.steps <= SKIP:
        parser.error(f"--steps must be above {SKIP} (the first {SKIP} steps are not timed)")
    if not args.no_training:
        shapes = ["small", "base"] if args.shape == "both" else [args.shape]
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        benchmark(shapes, methods, args.steps, args.device, args.precision, args.threads, args.batch_size, args.data)
    if args.analyzer or args.no_training:
        analyzer_part()
    return 0


if __name__ == "__main__":
    sys.exit(main())
