"""Training methods, one class each, resolved by name: full fine-tuning, prompt tuning, LoRA (PEFT)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mto_studio.core.errors import ConfigError, ModelError
from mto_studio.core.templates import Template
from mto_studio.core.training.config import Method, TrainConfig
from mto_studio.core.training.prompt import (
    PromptEncoder,
    SoftPromptModel,
    embedding_weight,
    initial_prompts,
    prompt_rows,
)

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel


class MethodRun:
    """The trainable view of a model for one method."""

    name = ""

    def __init__(self, model: PreTrainedModel, cfg: TrainConfig) -> None:
        self.base = model
        self.cfg = cfg
        self.module: nn.Module = model

    @staticmethod
    def check_template(template: Template, concrete: list[Template]) -> None:
        if any(t.soft_total for t in concrete):
            raise ConfigError(
                f"template '{template.name}' has soft-prompt slots, which only prompt tuning trains",
                "use --method prompt, or a template without {soft}",
            )

    def param_groups(self) -> list[dict[str, Any]]:
        params = [p for p in self.module.parameters() if p.requires_grad]
        return [{"params": params, "lr": self.cfg.lr}]

    def inputs(self, ids: torch.Tensor, tasks: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"input_ids": ids}

    def forward(self, ids, mask, tasks, labels):
        # no key/value cache while training: building it costs time and memory for nothing
        return self.generator(**self.inputs(ids, tasks), attention_mask=mask, labels=labels, use_cache=False)

    @property
    def generator(self) -> nn.Module:
        """The module whose .generate() decodes (the base model, or the PEFT wrapper)."""
        return self.base

    def encode_for_generate(self, tasks_of: list[int]):
        return None

    def save(self, folder: Path, base_model: str, tokenizer) -> Path:
        target = folder / "model"
        self.base.save_pretrained(target, safe_serialization=True)
        tokenizer.save_pretrained(target)
        return target

    def trainable_count(self) -> tuple[int, int]:
        total = sum(p.numel() for p in self.module.parameters())
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad), total


class FineTune(MethodRun):
    name = Method.FINETUNE


class PromptTuning(MethodRun):
    name = Method.PROMPT
    module: SoftPromptModel

    def __init__(
        self,
        model: PreTrainedModel,
        cfg: TrainConfig,
        *,
        n_tokens: int,
        relations: list[str],
        phrase_ids: list[list[int]],
        seed: int,
    ) -> None:
        super().__init__(model, cfg)
        settings = cfg.prompt
        embeddings = embedding_weight(model)
        shared = settings.sharing == "shared"
        generator = torch.Generator().manual_seed(seed)
        phrases = [sum(phrase_ids, [])] if shared else phrase_ids
        n_init = 1 if shared else len(relations)
        init = initial_prompts(settings.init, embeddings.detach().cpu(), n_init, n_tokens, phrases, generator)
        if settings.sharing == "both":  # the shared row starts at zero: training starts from the relations' prompts
            init = torch.cat([init, torch.zeros_like(init[:1])])
        encoder = PromptEncoder(
            prompt_rows(settings.sharing, len(relations)),
            n_tokens,
            embeddings.shape[1],
            reparam=settings.reparam,
            hidden=settings.hidden,
            init=init,
        ).to(embeddings.device)
        self.module = SoftPromptModel(model, encoder, relations, settings.sharing)

    @staticmethod
    def check_template(template: Template, concrete: list[Template]) -> None:
        missing = [t.name for t in concrete if not t.soft_total]
        if missing:
            raise ConfigError(
                f"prompt tuning needs soft-prompt slots, and template '{missing[0]}' has none",
                "add {soft:8} to the source (e.g. template prompt-unsup-nat), or use finetune/lora",
            )

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": list(self.module.encoder.parameters()), "lr": self.cfg.prompt_lr}]

    def inputs(self, ids, tasks):
        return {"inputs_embeds": self.module.embed(ids, tasks)}

    def encode_for_generate(self, tasks_of: list[int]):
        def encode(ids, mask, indices):
            tasks = torch.as_tensor([tasks_of[i] for i in indices], device=ids.device)
            return self.module.embed(ids, tasks)

        return encode

    def save(self, folder: Path, base_model: str, tokenizer) -> Path:
        return self.module.save(folder / "prompt", base_model=base_model)


class Lora(MethodRun):
    name = Method.LORA
    module: PeftModel

    def __init__(self, model: PreTrainedModel, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        from peft import LoraConfig, TaskType, get_peft_model

        settings = cfg.lora
        try:
            config = LoraConfig(
                task_type=TaskType.SEQ_2_SEQ_LM,
                r=settings.r,
                lora_alpha=settings.alpha,
                lora_dropout=settings.dropout,
                target_modules=settings.target_modules or None,
            )
            self.module = get_peft_model(model, config)
        except ValueError as exc:
            raise ConfigError(
                f"LoRA cannot adapt this model: {exc}",
                "name its attention projections in lora.target_modules, e.g. q,v",
            ) from exc

    @property
    def generator(self) -> nn.Module:
        return self.module

    def save(self, folder: Path, base_model: str, tokenizer) -> Path:
        target = folder / "lora"
        self.module.save_pretrained(str(target))
        meta = json.loads((target / "adapter_config.json").read_text())
        meta["base_model_name_or_path"] = base_model
        (target / "adapter_config.json").write_text(json.dumps(meta, indent=2))
        return target


def enable_checkpointing(model: PreTrainedModel) -> None:
    """Gradient checkpointing: activations are recomputed in the backward pass instead of kept (less memory, more
    time). Non-reentrant, so it works with a frozen backbone (LoRA, soft prompts) without inputs that need grad."""
    if not getattr(model, "supports_gradient_checkpointing", False):
        raise ConfigError(
            f"{type(model).__name__} does not support gradient checkpointing", "turn gradient_checkpointing off"
        )
    if hasattr(model, "activation_checkpointing_enable"):  # transformers 5 renamed it
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False


METHODS: dict[Method, type[MethodRun]] = {Method.FINETUNE: FineTune, Method.PROMPT: PromptTuning, Method.LORA: Lora}


def load_lora(folder: str | Path, model: nn.Module) -> nn.Module:
    from peft import PeftModel

    try:
        return PeftModel.from_pretrained(model, str(folder))
    except Exception as exc:
        raise ModelError(f"cannot load the LoRA adapter in {folder}: {exc}", "load it onto its base model") from exc
