"""What a run or a sweep will need, before it starts: peak memory, disk and time, against what this machine has.

Memory: the fp32 weights (+ a half-precision copy under bf16/fp16 autocast), the trainable weights' gradients,
AdamW's two moments and the run's copy of its best weights, plus the activations one micro-batch keeps for the
backward pass (from batch/grad_accum × the max lengths × layers × d_model, d_ff and the attention maps; gradient
checkpointing keeps one layer's), plus the logits and the runtime itself. Disk: what a finished run keeps (the full
model for fine-tuning, the adapter for LoRA, the soft prompts for prompt tuning) and, while it runs, its checkpoints.
Time: a rough figure from the FLOPs (labelled so) unless :func:`calibrate` timed a few real steps.

The model's shape comes from its config.json (the model is built on torch's meta device: no weights are read).
``Preflight.warnings`` is where other checks (e.g. a domain check) add their lines; they are shown with the estimate.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from mto_studio.core.training.config import Method, TrainConfig

#: the process before the model: Python, torch, transformers, tokenizers (measured ~0.45 GB RSS on Linux)
RUNTIME_CPU = 500_000_000
#: a CUDA context and torch's kernels on the GPU
RUNTIME_GPU = 600_000_000
#: sustained FLOP/s assumed per CPU core (fp32) and per accelerator, for the uncalibrated (rough) time
FLOPS_PER_CORE = 3e10
FLOPS_GPU = {"cuda": 5e13, "mps": 3e12}
#: refuse when the estimate exceeds what is available by this factor; warn above WARN_SHARE of it
REFUSE_FACTOR = 1.25
WARN_SHARE = 0.85
#: logs, predictions and small files of one run folder
RUN_FILES = 2_000_000


@dataclass(frozen=True)
class ModelShape:
    parameters: int
    d_model: int
    d_ff: int
    heads: int
    encoder_layers: int
    decoder_layers: int
    vocab: int
    #: (in, out) of every linear layer LoRA adapts by default, or by name (the last part of the module's name)
    linears: tuple[tuple[str, int, int], ...]
    lora_defaults: tuple[str, ...]
    #: bytes of the model folder's other files (config, tokenizer) a fine-tuned model saves beside its weights
    extra_files: int = 0

    def lora_parameters(self, cfg: TrainConfig) -> int:
        targets = set(cfg.lora.target_modules or self.lora_defaults)
        return sum(cfg.lora.r * (n_in + n_out) for name, n_in, n_out in self.linears if name in targets)

    def prompt_parameters(self, cfg: TrainConfig, prompts: int = 8) -> int:
        """The soft prompts' encoder (``prompts`` tasks × 8 tokens, the usual template; small whatever it is)."""
        d, h, s = self.d_model, cfg.prompt.hidden, cfg.prompt
        table = {"shared": 1, "per-relation": prompts, "both": prompts + 1}[s.sharing] * 8 * d
        if s.reparam == "mlp":
            return table + d * h + h + h * d + d
        if s.reparam == "lstm":
            return table + 2 * 4 * (d * h + h * h + 2 * h) + 2 * h * d + d
        return table

    def trainable(self, cfg: TrainConfig) -> int:
        if cfg.method is Method.LORA:
            return self.lora_parameters(cfg)
        if cfg.method is Method.PROMPT:
            return self.prompt_parameters(cfg)
        return self.parameters


@functools.lru_cache(maxsize=16)
def _shape_of_folder(folder: str, stamp: float) -> ModelShape:
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    config = AutoConfig.from_pretrained(folder)
    with torch.device("meta"):
        model = AutoModelForSeq2SeqLM.from_config(config)
    linears = tuple(
        (name.rsplit(".", 1)[-1], m.in_features, m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear)
    )
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

        defaults = tuple(TARGETS.get(config.model_type, ("q", "v")))
    except ImportError:
        defaults = ("q", "v", "q_proj", "v_proj")

    def get(*names: str, default: int = 0) -> int:
        return next((int(v) for n in names if (v := getattr(config, n, None)) is not None), default)

    weights = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".ckpt")
    extra = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file() and not p.name.endswith(weights))
    return ModelShape(
        parameters=sum(p.numel() for p in model.parameters()),  # shared (tied) weights once, as they are saved
        d_model=get("d_model", "hidden_size"),
        d_ff=get("d_ff", "encoder_ffn_dim", "intermediate_size"),
        heads=get("num_heads", "encoder_attention_heads", default=1),
        encoder_layers=get("num_layers", "encoder_layers"),
        decoder_layers=get("num_decoder_layers", "decoder_layers", "num_layers"),
        vocab=get("vocab_size"),
        linears=linears,
        lora_defaults=defaults,
        extra_files=extra,
    )


def model_shape(ref: str | os.PathLike | None) -> ModelShape:
    """The shape of model ``ref`` (a folder, 'mto-tiny' or a cached hub id), cached per folder and config time."""
    from mto_studio.core.models.loading import resolve_model_ref

    folder = resolve_model_ref(ref)
    return _shape_of_folder(folder, (Path(folder) / "config.json").stat().st_mtime)


@dataclass
class Estimate:
    memory: int  # peak bytes of the training process (runtime included), on the CPU or the GPU
    memory_parts: dict[str, int]
    disk_kept: int  # what stays after the runs finish
    disk_peak: int  # the most on disk at once while running (kept + the current run's checkpoints)
    step_seconds: float
    steps: int
    runs: int = 1
    calibrated: bool = False
    device: str = "cpu"
    precision: str = "fp32"
    at_data_lengths: bool = False  # the rough time used the data's mean lengths (else the max lengths)

    @property
    def seconds(self) -> float:
        return self.step_seconds * self.steps


def _activation_bytes(shape: ModelShape, cfg: TrainConfig, precision: str) -> int:
    """What one micro-batch keeps for the backward pass (per token per layer: ~18 d_model-wide tensors, 4 of
    d_ff and the attention maps; decoder layers add cross-attention), plus the logits and their gradients."""
    b = cfg.batch_size // cfg.grad_accum
    s, t = cfg.max_source_length, cfg.max_target_length
    d, f, h = shape.d_model, shape.d_ff, shape.heads
    size = 4 if precision == "fp32" else 2
    encoder = b * s * (18 * d + 4 * f + 4 * h * s)
    decoder = b * t * (28 * d + 4 * f + 4 * h * t + 4 * h * s)
    layers = shape.encoder_layers * encoder + shape.decoder_layers * decoder
    if cfg.gradient_checkpointing:  # layer inputs kept, one layer recomputed at a time
        layers = (shape.encoder_layers * b * s + shape.decoder_layers * b * t) * d + max(encoder, decoder)
    logits = b * t * shape.vocab * 4 * 3  # fp32 logits, their log-softmax and gradient
    return layers * size + logits


def estimate_run(
    cfg: TrainConfig, shape: ModelShape | None = None, *, device: str | None = None, example_tokens: float | None = None
) -> Estimate:
    """The estimate for one run of ``cfg`` (the model's shape read from its folder unless given). ``example_tokens``:
    the data's mean source + target tokens per example (see :func:`data_example_tokens`); without it the time is
    taken at the max lengths, an upper bound that can be 10x the real time on short data."""
    from mto_studio.core.store.checkpoint import CHECKPOINT_OVERHEAD, KEEP

    shape = shape or model_shape(cfg.model)
    device = device or _device(cfg)
    precision = _precision(cfg, device)
    params, trainable = shape.parameters, shape.trainable(cfg)
    parts = {
        "weights": params * 4 + (params * 2 if precision != "fp32" else 0),
        "gradients": trainable * 4,
        "optimizer": trainable * 8,
        "best weights": trainable * 4 if cfg.select_best else 0,
        "activations": _activation_bytes(shape, cfg, precision),
        "runtime": RUNTIME_CPU if device == "cpu" else RUNTIME_GPU,
    }
    if cfg.method is Method.FINETUNE:
        kept = params * 4 + shape.extra_files
    else:
        kept = trainable * 4 + 10_000  # adapter or prompts, config and README
    kept = (kept if cfg.save_model else 0) + RUN_FILES
    saves = cfg.checkpoint_every or (cfg.eval_every and cfg.eval_every < cfg.steps)
    checkpoint = trainable * 4 * (3 + int(cfg.select_best)) + CHECKPOINT_OVERHEAD
    transient = checkpoint * ((KEEP + 1) if saves else 1)
    if cfg.keep_checkpoints:
        kept += checkpoint * KEEP
    step = _rough_step(shape, cfg, device, example_tokens)
    return Estimate(sum(parts.values()), parts, kept, kept + transient, step, cfg.steps, device=device,
                    precision=precision, at_data_lengths=example_tokens is not None)  # fmt: skip


def _device(cfg: TrainConfig) -> str:
    from mto_studio.core.models.loading import pick_device

    return pick_device(cfg.device).split(":")[0]


def _precision(cfg: TrainConfig, device: str) -> str:
    if cfg.precision != "auto":
        return cfg.precision
    return "fp32" if device == "cpu" else "bf16"


def _rough_step(shape: ModelShape, cfg: TrainConfig, device: str, example_tokens: float | None) -> float:
    """Seconds per step from the FLOPs: 2 per weight per token forward, twice that backward (once without weight
    gradients when the backbone is frozen), at the data's mean length when known, else at the max lengths."""
    longest = cfg.max_source_length + cfg.max_target_length
    tokens = cfg.batch_size * (min(example_tokens, longest) if example_tokens else longest)
    passes = 6 if cfg.method is Method.FINETUNE else 4
    flops = passes * shape.parameters * tokens * (1.33 if cfg.gradient_checkpointing else 1.0)
    if device == "cpu":
        from mto_studio.core.training.precision import available_cores

        rate = FLOPS_PER_CORE * (cfg.threads or available_cores())
    else:
        rate = FLOPS_GPU.get(device, 1e12) * (1.0 if cfg.precision != "fp32" else 0.3)
    return flops / rate


def estimate_sweep(
    cfg, shape: ModelShape | None = None, *, calibrated: bool = False, example_tokens: float | None = None
) -> Estimate:
    """A sweep (ExperimentConfig): its runs go one after another, so memory is the largest run's, the disk keeps
    every run's weights plus the checkpoints of the one running, and the times add up (``calibrated``: timed on
    each method's first run)."""
    runs = cfg.runs()
    shape = shape or model_shape(cfg.model)
    firsts = {r.method: r for r in reversed(runs)}
    per_method = {m: estimate_run(r, shape, example_tokens=example_tokens) for m, r in firsts.items()}
    if calibrated:
        per_method = {m: calibrate(firsts[m], e) for m, e in per_method.items()}
    each = [per_method[r.method] for r in runs]
    kept = sum(e.disk_kept for e in each)
    if cfg.adaptation.enabled:  # the adapted model is a saved full model
        kept += shape.parameters * 4 + shape.extra_files
    worst = max(each, key=lambda e: e.memory)
    return Estimate(worst.memory, worst.memory_parts, kept, kept + max(e.disk_peak - e.disk_kept for e in each),
                    sum(e.seconds for e in each) / max(1, sum(e.steps for e in each)),
                    sum(e.steps for e in each), runs=len(runs), calibrated=all(e.calibrated for e in each),
                    device=worst.device, precision=worst.precision,
                    at_data_lengths=worst.at_data_lengths)  # fmt: skip


def calibrate(cfg: TrainConfig, estimate: Estimate, steps: int = 3) -> Estimate:
    """Time ``steps`` real optimizer steps of ``cfg`` (after one warm-up step; nothing is written) and return the
    estimate with that time per step (and, on CUDA, the measured peak memory when it is larger)."""
    import tempfile

    import torch

    from mto_studio.core.training.precision import StepRunner
    from mto_studio.core.training.run_setup import RunSetup

    with tempfile.TemporaryDirectory() as tmp:
        run = RunSetup(cfg, Path(tmp) / "calibration")
    runner = StepRunner(run, run.precision)
    run.method.module.train()
    runner.step(0, lambda _n: None)
    if run.device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        runner.step(i + 1, lambda _n: None)
    if run.device.startswith("cuda"):
        torch.cuda.synchronize()
        estimate.memory = max(estimate.memory, int(torch.cuda.max_memory_allocated()) + RUNTIME_GPU)
    estimate.step_seconds = (time.perf_counter() - start) / steps
    estimate.calibrated = True
    return estimate


def available_memory(device: str) -> int | None:
    """Bytes free for a run on ``device``: the GPU's free memory, else the RAM the OS can give (MemAvailable)."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


#: source + target tokens a template adds to an example's own text (prefix, relation phrase, sentinels, EOS)
TEMPLATE_TOKENS = 10


def data_example_tokens(tokenizer, examples, sample: int = 200) -> float | None:
    """The mean tokens of an example (its input and target with the tokenizer, plus the template's) over an even
    sample of ``examples`` (objects with ``input`` and ``target``); None without examples."""
    examples = list(examples)
    if not examples:
        return None
    picked = examples[:: max(1, len(examples) // sample)][:sample]
    texts = [str(e.input) for e in picked] + [str(e.target) for e in picked]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return sum(len(i) for i in ids) / len(picked) + TEMPLATE_TOKENS


def size_text(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass
class Preflight:
    """An estimate against this machine: ``problems`` refuse the start (unless forced), ``warnings`` are shown."""

    estimate: Estimate
    memory_free: int | None
    disk_free: int | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        e = self.estimate
        what = f"{e.runs} runs" if e.runs > 1 else "this run"
        where = "GPU memory" if e.device != "cpu" else "memory"
        free = f" of {size_text(self.memory_free)} free" if self.memory_free is not None else ""
        disk_free = f" of {size_text(self.disk_free)} free" if self.disk_free is not None else ""
        kind = "measured" if e.calibrated else ("rough" if e.at_data_lengths else "rough, at the max lengths")
        return (
            f"estimate for {what} ({e.device}, {e.precision}): peak {where} {size_text(e.memory)}{free}; "
            f"disk {size_text(e.disk_kept)} kept, {size_text(e.disk_peak)} at most while running{disk_free}; "
            f"time {duration_text(e.seconds)} ({kind}: {e.step_seconds:.2g} s/step × {e.steps} steps)"
        )

    def lines(self) -> list[str]:
        return [self.summary(), *self.problems, *self.warnings]


def preflight(estimate: Estimate, folder: str | os.PathLike, *, memory_free: int | None = -1) -> Preflight:
    """``estimate`` against the free memory and the free disk under ``folder`` (``memory_free`` given by tests)."""
    from mto_studio.core.fsio import free_space

    free = available_memory(estimate.device) if memory_free == -1 else memory_free
    disk = free_space(folder)
    result = Preflight(estimate, free, disk)
    where = "GPU memory" if estimate.device != "cpu" else "memory"
    if free is not None:
        need = estimate.memory
        if need > free * REFUSE_FACTOR:
            result.problems.append(
                f"not enough {where}: the run needs about {size_text(need)} and {size_text(free)} is free; lower "
                "batch_size (with grad_accum to keep the batch), use LoRA, or turn on gradient_checkpointing"
            )
        elif need > free * WARN_SHARE:
            result.warnings.append(f"memory is tight: about {size_text(need)} needed, {size_text(free)} free")
    if disk is not None and estimate.disk_peak > disk:
        result.problems.append(
            f"not enough free disk space for this run in {folder}: about {size_text(estimate.disk_peak)} needed and "
            f"{size_text(disk)} are free; free some space or choose another folder"
        )
    return result
