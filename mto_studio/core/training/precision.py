"""How a training step computes: the arithmetic (fp32, or bf16/fp16 autocast with loss scaling for fp16), one
optimizer step over ``grad_accum`` micro-batches, and what an out-of-memory error means for the user.

``precision = auto`` picks bf16 autocast on CUDA devices that support it (fp16 with a GradScaler on older ones),
bf16 on Apple's MPS where it works, and fp32 on the CPU: measured on this project's 2-core AMD EPYC (AVX-512 BF16),
a t5-small-shaped step (batch 8, 64 → 16 tokens) took longer under CPU bf16 autocast than in fp32 (see
docs/NOTES.md), and fp32 keeps the embedded model's runs bit-identical to before. The weights and AdamW's state stay
fp32 whatever the precision; only the forward and backward arithmetic changes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mto_studio.core.errors import ConfigError

if TYPE_CHECKING:
    from mto_studio.core.training.config import TrainConfig


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _bf16_works(device: str) -> bool:
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_bf16_supported())
    try:
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16):
            torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


def resolve_precision(precision: str, device: str) -> str:
    """The arithmetic a run on ``device`` uses for ``precision`` (auto → fp32, bf16 or fp16; raises ConfigError
    where the device cannot do what was asked)."""
    kind = device.split(":")[0]
    if precision == "auto":
        if kind == "cpu":
            return "fp32"
        return "bf16" if _bf16_works(device) else ("fp16" if kind == "cuda" else "fp32")
    if precision == "fp16" and kind == "cpu":
        raise ConfigError("precision fp16 needs a GPU (CUDA or MPS)", "use bf16 or fp32 on the CPU")
    if precision == "bf16" and kind != "cpu" and not _bf16_works(device):
        raise ConfigError(f"this {kind} device does not compute in bf16", "use fp16 or fp32 (or precision auto)")
    return precision


@dataclass
class StepRunner:
    """One optimizer step: ``grad_accum`` micro-batches through the method under the run's precision, gradient
    clipping and the optimizer; fp16 scales the loss (a step whose gradients overflow is skipped by the scaler)."""

    run: Any  # RunSetup
    precision: str

    def __post_init__(self) -> None:
        import torch

        self.device_type = self.run.device.split(":")[0]
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        self.scaler = None
        if self.precision == "fp16":
            self.scaler = torch.amp.GradScaler(self.device_type)

    def autocast(self):
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()  # fp32: exactly the code path of before (bit-identical runs)
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, step: int, on_tokens) -> tuple[float, Any]:
        """Train step ``step`` (0-based); returns (mean loss, None) or (nan, the non-finite loss tensor)."""
        import torch

        run, cfg = self.run, self.run.cfg
        run.optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for j in range(cfg.grad_accum):
            ids, mask, tasks, labels = run.batch(run.schedule(step * cfg.grad_accum + j))
            with self.autocast():
                loss = run.method.forward(ids, mask, tasks, labels).loss
            if not torch.isfinite(loss):
                return float("nan"), loss
            scaled = loss / cfg.grad_accum
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            step_loss += loss.item() / cfg.grad_accum
            on_tokens(int(mask.sum()) + int((labels != -100).sum()))
        apply_gradients(run, cfg, self.scaler)
        return step_loss, None


def apply_gradients(run, cfg, scaler) -> None:
    """The end of every training step, one process or many: unscale (fp16), clip, step the optimizer and the
    learning-rate schedule."""
    import torch

    if scaler is not None:
        scaler.unscale_(run.optimizer)
    if cfg.max_grad_norm:
        torch.nn.utils.clip_grad_norm_(run.trainable, cfg.max_grad_norm, foreach=True)
    if scaler is not None:
        scaler.step(run.optimizer)
        scaler.update()
    else:
        run.optimizer.step()
    run.scheduler.step()


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (CUDA, MPS), Python's MemoryError, or a RuntimeError saying so (CPU allocators)."""
    import torch

    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    words = ("out of memory", "can't allocate memory", "cannot allocate memory")
    return isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in words)


def out_of_memory_reason(exc: BaseException, step: int, cfg: TrainConfig) -> str:
    """The reason a run that ran out of memory at (1-based) batch ``step`` ends with, naming what to change."""
    from mto_studio.core.training.config import Method

    typed = f" ({type(exc).__name__})" if type(exc) is not RuntimeError else ""
    micro = cfg.batch_size // cfg.grad_accum
    size = f"batch_size {cfg.batch_size}" + (
        f" in {cfg.grad_accum} micro-batches of {micro}" if cfg.grad_accum > 1 else ""
    )
    fixes = ["lower batch_size", "use grad_accum"]
    if cfg.method is Method.FINETUNE:
        fixes.append("LoRA")
    if not cfg.gradient_checkpointing:
        fixes.append("gradient_checkpointing")
    return f"out of memory at step {step}{typed} with {size}: {', '.join(fixes[:-1])}, or {fixes[-1]}"


def free_device_memory(device: str) -> None:
    """Give back what a failed step left cached on the GPU (nothing to do on the CPU)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    elif device.startswith("mps") and hasattr(torch, "mps"):
        torch.mps.empty_cache()
