"""One optimizer step on one rank of a multi-device run (see ``core.training.distributed``).

Each rank takes examples ``rank::world`` of every global micro-batch. Its loss (a mean over its target tokens) is
weighted by ``world × its tokens / all ranks' tokens`` before the backward pass, so the gradients DDP averages are
the gradient of the whole batch's mean loss, as in one process, and the logged loss is the whole batch's. A rank
whose shard is empty (a short last batch) runs one example with weight 0, so every rank takes part in every
collective. Fine-tuning and LoRA train through Accelerate's DDP wrapper of the model; prompt tuning's trainable
prompts sit outside the model's forward (they make its input embeddings), so their gradients are averaged with one
all-reduce of the flattened gradients, which is what DDP does for a single bucket.
"""

from __future__ import annotations

import contextlib
from typing import Any

from mto_studio.core.training.config import Method
from mto_studio.core.training.precision import StepRunner, apply_gradients


class ShardedStepRunner(StepRunner):
    def __init__(self, run: Any, precision: str, ranks: Any) -> None:
        super().__init__(run, precision)
        self.ranks = ranks
        self.ddp = None
        if run.cfg.method is not Method.PROMPT:
            # device placement is the run's own (RunSetup put the model on the rank's device)
            self.ddp = ranks.accelerator.prepare_model(run.method.generator, device_placement=False)

    def step(self, step: int, on_tokens) -> tuple[float, Any]:
        import torch
        import torch.distributed as dist

        run, cfg, ranks = self.run, self.run.cfg, self.ranks
        run.optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for j in range(cfg.grad_accum):
            batch = run.schedule(step * cfg.grad_accum + j)
            mine = batch[ranks.rank :: ranks.world]
            ids, mask, tasks, labels = run.batch(mine or batch[:1])
            own = torch.tensor(
                [float((labels != -100).sum()), float(mask.sum())] if mine else [0.0, 0.0], device=ids.device
            )
            counts = own.clone()
            dist.all_reduce(counts)
            weight = ranks.world * float(own[0]) / max(float(counts[0]), 1.0)
            last = j == cfg.grad_accum - 1
            sync = self.ddp.no_sync() if self.ddp is not None and not last else contextlib.nullcontext()
            with sync:
                with self.autocast():
                    loss = self._loss(ids, mask, tasks, labels) * weight
                whole = loss.detach().clone()
                dist.all_reduce(whole)
                whole /= ranks.world
                if not torch.isfinite(whole):
                    return float("nan"), whole
                scaled = loss / cfg.grad_accum
                (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            step_loss += whole.item() / cfg.grad_accum
            on_tokens(int(counts.sum()))
        if self.ddp is None:
            self._average_gradients()
        apply_gradients(run, cfg, self.scaler)
        return step_loss, None

    def _loss(self, ids, mask, tasks, labels):
        method = self.run.method
        if self.ddp is None:
            return method.forward(ids, mask, tasks, labels).loss
        return self.ddp(**method.inputs(ids, tasks), attention_mask=mask, labels=labels, use_cache=False).loss

    def _average_gradients(self) -> None:
        import torch
        import torch.distributed as dist

        params = [p for p in self.run.trainable if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.ranks.world
        offset = 0
        for p, g in zip(params, grads, strict=True):
            p.grad = flat[offset : offset + g.numel()].view_as(p).clone()
            offset += g.numel()
