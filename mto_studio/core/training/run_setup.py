"""What a run sets up before its first step: the model and its training method, the optimizer, the data and its
batch order; and the files of the run folder that stay as they are while it trains."""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mto_studio.core.errors import ConfigError, MtoError
from mto_studio.core.fsio import atomic_write_json, atomic_write_text
from mto_studio.core.store.run_folder import RunFolder
from mto_studio.core.training.config import Method, TrainConfig

if TYPE_CHECKING:
    from mto_studio.core.training.distributed_rank import Ranks
    from mto_studio.core.training.methods import MethodRun


def environment_info(device: str, threads: int) -> dict[str, Any]:
    import datasets
    import peft
    import tokenizers
    import torch
    import transformers

    from mto_studio import __version__

    return {
        "mto_studio": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "datasets": datasets.__version__,
        "peft": peft.__version__,
        "device": device,
        "threads": threads,
    }


def saved_config(run_dir: Path) -> TrainConfig:
    """The configuration a run folder was trained with (for a resume), with the template as trained."""
    import json

    try:
        saved = json.loads((run_dir / RunFolder.CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{run_dir} is not a resumable run folder ({exc})", "pick a run folder") from None
    saved.pop("resolved_model", None)
    saved.pop("distributed", None)  # how many devices it ran on: the resume's own choice
    saved.setdefault("max_references", 0)  # runs from before the reference cap scored on all references
    cfg = TrainConfig.from_dict(saved)
    if (run_dir / RunFolder.TEMPLATE).is_file():  # the template as trained, even if the library's copy changed
        cfg = cfg.replace(template=str(run_dir / RunFolder.TEMPLATE))
    return cfg


def template_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_rates(cfg: TrainConfig, family) -> TrainConfig:
    """``cfg`` with unset learning rates replaced by ``family``'s rates for the run's method (what the run uses and
    its config.json records)."""
    return cfg.replace(
        lr=cfg.lr if cfg.lr is not None else family.learning_rate(cfg.method.value),
        prompt_lr=cfg.prompt_lr if cfg.prompt_lr is not None else family.learning_rate(Method.PROMPT.value),
    )


def make_adamw(groups, weight_decay: float, device: str):
    """AdamW, fused into one kernel where torch supports it (CPU and CUDA): on a small model the per-tensor loop
    of the default implementation costs a few ms per step."""
    import torch

    if device.startswith(("cpu", "cuda")):
        try:
            return torch.optim.AdamW(groups, weight_decay=weight_decay, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.AdamW(groups, weight_decay=weight_decay)


class RunSetup:
    """Setup shared by a fresh run and a resumed one."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, dist: Ranks | None = None) -> None:
        import torch

        from mto_studio.core.models.family import family_of
        from mto_studio.core.models.loading import load_seq2seq, pick_device, resolve_model_ref
        from mto_studio.core.templates import (
            T5_STYLE,
            SlotKind,
            TemplateLibrary,
            require_sentinel_style,
            template_to_toml,
        )
        from mto_studio.core.training.data import prepare_run_data
        from mto_studio.core.training.methods import METHODS, PromptTuning, enable_checkpointing
        from mto_studio.core.training.precision import available_cores, resolve_precision

        self.dir = run_dir
        self.dist = dist  # a rank of a multi-device run (core.training.distributed), None in one process
        self.device = dist.device if dist is not None else pick_device(cfg.device)
        self.precision = resolve_precision(cfg.precision, self.device)
        threads = cfg.threads or available_cores()
        cfg = cfg.replace(threads=threads, precision=self.precision)
        self.cfg = cfg
        torch.set_num_threads(threads)
        torch.set_flush_denormal(True)  # tiny gradients and Adam moments otherwise hit slow denormal arithmetic
        from mto_studio.core.data.qa_framing import qa_framing

        library = TemplateLibrary(qa_framing=qa_framing)
        template = library.get(cfg.template)
        library.add(template)
        library.check(template)
        self.template = template
        self.template_text = template_to_toml(template)
        concrete = library.concrete(template)
        METHODS[cfg.method].check_template(template, concrete)
        self.model_ref = resolve_model_ref(cfg.model)
        torch.manual_seed(cfg.seed)
        model, tokenizer = load_seq2seq(self.model_ref)
        self.tokenizer = tokenizer
        self.family = family_of(model.config, tokenizer, self.model_ref)
        self.cfg = cfg = resolve_rates(cfg, self.family)
        if cfg.gradient_checkpointing:
            enable_checkpointing(model)
        needs_sentinels = any(t.count(SlotKind.MASK, "source") or t.count(SlotKind.MASK, "target") for t in concrete)
        style = require_sentinel_style(tokenizer, cfg.model) if needs_sentinels else T5_STYLE
        self.data = prepare_run_data(cfg, library, template, tokenizer, style)
        model.to(self.device)
        self.method: MethodRun
        if cfg.method is Method.PROMPT:
            n_tokens = max(t.soft_total for t in concrete)
            phrase_ids = [self._phrase_ids(library, r) for r in self.data.relations]
            self.method = PromptTuning(
                model, cfg, n_tokens=n_tokens, relations=self.data.relations, phrase_ids=phrase_ids, seed=cfg.seed
            )
        else:
            self.method = METHODS[cfg.method](model, cfg)
        self.method.module.to(self.device)
        from transformers import get_scheduler

        self.optimizer = make_adamw(self.method.param_groups(), cfg.weight_decay, self.device)
        self.scheduler = get_scheduler(
            "linear", self.optimizer, num_warmup_steps=cfg.warmup_steps, num_training_steps=cfg.steps
        )
        from mto_studio.core.training.data import BatchSchedule

        self.trainable = [p for group in self.optimizer.param_groups for p in group["params"]]
        lengths = [len(e.source) + len(e.target) for e in self.data.train]
        self.micro = cfg.batch_size // cfg.grad_accum
        self.schedule = BatchSchedule(lengths, self.micro, cfg.seed, cfg.group_by_length)

    # --- disk space ---------------------------------------------------------------------------------------------
    def checkpoint_size(self) -> int:
        """Bytes one checkpoint of this run takes (estimated: weights, AdamW's two moments, the best weights)."""
        from mto_studio.core.store.checkpoint import estimate_checkpoint_size

        return estimate_checkpoint_size(self.method.module, best_copy=self.cfg.select_best)

    def space_needed(self, checkpoints: Path) -> int:
        """Bytes this run will still write: at most KEEP + 1 checkpoints at once (the kept ones and the one being
        written), less what ``checkpoints`` holds already (a resumed run's), plus the saved weights and some room
        for logs and predictions."""
        from mto_studio.core.store.checkpoint import KEEP, checkpoint_bytes

        cfg = self.cfg
        saves = cfg.checkpoint_every or (cfg.eval_every and cfg.eval_every < cfg.steps)
        count = KEEP + 1 if saves else 1  # without periodic checkpoints only Stop writes one
        params = [p for p in self.method.module.parameters() if cfg.method is Method.FINETUNE or p.requires_grad]
        artifact = sum(p.numel() * p.element_size() for p in params) if cfg.save_model else 0
        return max(0, count * self.checkpoint_size() - checkpoint_bytes(checkpoints)) + artifact + 2_000_000

    def initial_loss(self, batches: int = 8) -> float | None:
        """The untrained model's mean loss over ``batches`` micro-batches spread over the first epoch (batches
        grouped by length differ a lot), the start a diverging loss is measured against. In eval mode without
        gradients, so no random number is drawn and training is unchanged; through the method's modules, not
        ``forward`` (which tests count)."""
        import math

        import torch

        per_epoch = self.schedule.per_epoch
        module = self.method.module
        was_training = module.training
        module.eval()
        losses = []
        try:
            with torch.no_grad():
                for m in sorted({i * per_epoch // batches for i in range(min(batches, per_epoch))}):
                    ids, mask, tasks, labels = self.batch(self.schedule(m))
                    inputs = self.method.inputs(ids, tasks)
                    out = self.method.generator(**inputs, attention_mask=mask, labels=labels, use_cache=False)
                    losses.append(float(out.loss))
        finally:
            module.train(was_training)
        mean = sum(losses) / len(losses) if losses else math.nan
        return mean if math.isfinite(mean) else None

    def _phrase_ids(self, library, relation: str) -> list[int]:
        try:
            phrase = library.phrases.lookup(relation)
            text = phrase.connective or phrase.clause.replace("{input}", "")
        except MtoError:
            text = relation
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    # --- one micro-batch --------------------------------------------------------------------------------------
    def batch(self, indices: list[int]):
        import torch

        from mto_studio.core.models.generation import pad_batch

        examples = [self.data.train[i] for i in indices]
        ids, mask = pad_batch([e.source for e in examples], self.tokenizer.pad_token_id)
        labels, _ = pad_batch([e.target for e in examples], 0, label_pad=-100)
        tasks = torch.as_tensor([e.task for e in examples])
        return ids.to(self.device), mask.to(self.device), tasks.to(self.device), labels.to(self.device)

    def evaluate(self, split: str):
        from mto_studio.core.metrics import score_predictions
        from mto_studio.core.models.generation import decode_answers, generate_ids

        heads = self.data.validation if split == "validation" else self.data.test
        if not heads:
            return None
        tasks = self.data.eval_tasks[split]
        sources = self.data.eval_sources[split]
        frames = self.data.eval_frames.get(split) or []
        rebuilt = any(f is not None for f in frames)  # a denoising family rebuilds the source around the answer
        max_new = self.cfg.max_new_tokens
        if rebuilt:
            max_new = max(max_new, min(self.cfg.max_target_length, max_new + max(len(s) for s in sources)))
        generated = generate_ids(
            self.method.generator,
            sources,
            pad_id=self.tokenizer.pad_token_id,
            batch_size=self.cfg.eval_batch_size,
            max_new_tokens=max_new,
            device=self.device,
            encode_inputs=self.method.encode_for_generate(tasks),
        )
        answers = (
            decode_answers(self.tokenizer, generated, frames) if rebuilt else decode_answers(self.tokenizer, generated)
        )
        report = score_predictions(
            [h.relation for h in heads], [h.input for h in heads], answers, [h.references for h in heads]
        )
        if not self.data.qa:
            return report
        return self._with_accuracy(split, heads, report)

    def _with_accuracy(self, split: str, heads, report):
        """A QA run's report: accuracy of the generated texts matched to a choice, and with ranking on
        (``qa_scoring`` 'rank' or 'both') of the choices ranked by the run's model (core.training.qa_eval)."""
        from mto_studio.core.training.qa_eval import add_choice_scores, choice_log_likelihoods

        ranking = None
        if self.cfg.qa_scoring in ("rank", "both"):
            ranking = choice_log_likelihoods(
                self.method,
                self.data.eval_sources[split],
                self.data.eval_tasks[split],
                self.data.eval_choice_targets[split],
                pad_id=self.tokenizer.pad_token_id,
                batch_size=self.cfg.eval_batch_size,
                device=self.device,
            )
        return add_choice_scores(report, [h.choices for h in heads], [h.answer for h in heads], ranking)


def write_static_files(run: RunSetup) -> None:
    """The run folder's files that do not change while it trains: config, template, split, run and environment.
    split.json holds the rows themselves (each training row with its chosen target, each evaluation head with the
    references it is scored on), so the run's data can be rebuilt from it alone; the head-id lists stay for older
    readers."""
    cfg, folder = run.cfg, run.dir
    devices = {"distributed": run.dist.info()} if run.dist is not None else {}  # devices, strategy
    atomic_write_json(folder / RunFolder.CONFIG, {**cfg.to_dict(), "resolved_model": run.model_ref, **devices})
    atomic_write_text(folder / RunFolder.TEMPLATE, run.template_text)
    data = run.data

    def eval_rows(heads) -> list[dict[str, Any]]:
        return [
            {"head_id": h.id, "relation": h.relation, "input": h.input, "references": list(h.references)} for h in heads
        ]

    atomic_write_json(
        folder / RunFolder.SPLIT,
        {
            "train_source": data.train_source,
            "validation_source": data.validation_source,
            "test_source": data.test_source,
            "removed_from_train": data.removed_from_train,
            "relations": data.relations,
            "sample": data.sample.to_dict(),
            "validation_head_ids": [h.id for h in data.validation],
            "test_head_ids": [h.id for h in data.test],
            "train_examples": len(data.train),
            "truncated_examples": data.truncated,
            "targets_per_head": cfg.targets_per_head,
            "max_references": data.max_references,
            "references_capped": data.references_capped,
            "train_rows": [{"relation": r.relation, "input": r.input, "target": r.target} for r in data.train_rows],
            "validation_rows": eval_rows(data.validation),
            "test_rows": eval_rows(data.test),
        },
    )
    atomic_write_json(
        folder / RunFolder.RUN,
        {
            "template": run.template.name,
            "template_sha256": template_hash(run.template_text),
            "seed": cfg.seed,
            "method": cfg.method.value,
            "shots": cfg.shots,
            "created": time.time(),
        },
    )
    atomic_write_json(folder / RunFolder.ENVIRONMENT, {**environment_info(run.device, cfg.threads or 1), **devices})
