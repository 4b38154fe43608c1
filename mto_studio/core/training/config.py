"""Training configuration: one run = model × template × method × k × seed, with every knob documented."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mto_studio.core.config import check_bounds, from_dict, option, seed_option, to_dict
from mto_studio.core.errors import ConfigError
from mto_studio.core.models.loading import DEVICE_HELP

#: the ``precision`` choices (see core/training/precision.py)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


#: the ``prompt.sharing`` choices (see core/training/prompt.py)
PROMPT_SHARING = ("per-relation", "shared", "both")


class Method(StrEnum):
    FINETUNE = "finetune"
    PROMPT = "prompt"
    LORA = "lora"


@dataclass
class PromptSettings:
    reparam: str = option(
        "mlp",
        "how soft prompts are produced: an MLP (best in MTO), an LSTM, or a plain table",
        choices=("mlp", "lstm", "table"),
    )
    init: str = option(
        "phrase",
        "initial prompt embeddings: the relation phrase's words, random vocabulary rows, or uniform noise",
        choices=("phrase", "vocab", "uniform"),
    )
    hidden: int = option(256, "hidden size of the MLP/LSTM reparameterisation", low=8, high=8192)
    sharing: str = option(
        "per-relation",
        "which prompt each example gets: its relation's own, one shared by all relations, or both (each soft "
        "position = the shared prompt's vector + the relation's, the shared part starting at zero)",
        choices=PROMPT_SHARING,
    )
    shared: bool | None = option(
        None, "the old switch, read from older configs: true means sharing = 'shared' (set sharing instead)"
    )

    def __post_init__(self) -> None:
        # older configs and prompt folders said ``shared = true/false``; it maps onto sharing and is then cleared so
        # that sharing alone decides (and dataclasses.replace(sharing=...) is not overridden by a stale flag)
        if self.shared and self.sharing == "per-relation":
            self.sharing = "shared"
        self.shared = None


@dataclass
class LoraSettings:
    r: int = option(8, "LoRA rank", low=1, high=1024)
    alpha: int = option(16, "LoRA scaling (alpha)", low=1, high=4096)
    dropout: float = option(0.05, "LoRA dropout", low=0.0, high=0.9)
    target_modules: list[str] = option(factory=list, help="modules to adapt (empty: PEFT's default for the model)")


@dataclass
class TrainConfig:
    """Everything that defines a run. JSON round-trips; saved in the run folder."""

    data: str = option("world", "training data file ('world' = the built-in world, 'example:NAME' a shipped example)")
    model: str = option("mto-tiny", "model folder, 'mto-tiny' (embedded) or a hub id (offline: local HF cache)")
    template: str = option("unsup-nat", "template name or .toml path")
    method: Method = option(Method.FINETUNE, "finetune, prompt (soft prompts, frozen backbone) or lora")
    validation_data: str | None = option(
        None,
        "validation file the best checkpoint is selected on (None: the "
        "data set's own validation split, else heads held out of the training data)",
    )
    test_data: str | None = option(
        None,
        "test file evaluated once at the end (None: the data set's own test split; "
        "without one the reported score is a validation score, labelled so)",
    )
    columns: str | None = option(None, "explicit column mapping, e.g. input=head,target=tail,relation=rel")
    relations: list[str] = option(factory=list, help="train and evaluate only these relations (empty = all)")
    shots: int | None = option(None, "training heads per relation (None = full data)")
    seed: int = seed_option(0, "seed for sampling, initialisation and data order")
    validation_heads: int = option(
        8, "heads per relation held out of the training file for validation (when there is no validation file)", low=1
    )
    targets_per_head: int = option(1, "training targets per head (0 = all of them)", low=0)
    max_references: int = option(
        3, "reference targets kept per validation/test head (the method's protocol uses 3; 0 = all)", low=0
    )
    steps: int = option(300, "optimizer steps", low=1)
    batch_size: int = option(16, "examples per optimizer step", low=1, high=8192)
    grad_accum: int = option(
        1,
        "micro-batches per step: batch_size is split across them and their gradients summed, so memory holds one "
        "micro-batch of batch_size/grad_accum examples while the update equals the whole batch's",
        low=1,
        high=1024,
    )
    lr: float | None = option(
        None,
        "peak learning rate of the backbone / LoRA weights (unset: the model family's rate for the method, "
        "e.g. 1e-3 for mto-tiny, 1e-4 to fine-tune Flan-T5; the run records the rate it used)",
        low=1e-8,
        high=10.0,
    )
    prompt_lr: float | None = option(
        None,
        "learning rate of the soft prompts (prompt tuning; unset: the model family's rate, 0.03)",
        low=1e-8,
        high=10.0,
    )
    warmup_steps: int = option(20, "linear warm-up steps", low=0)
    weight_decay: float = option(0.0, "AdamW weight decay", low=0.0, high=1.0)
    max_grad_norm: float = option(1.0, "gradient clipping (0 = off)", low=0.0)
    max_source_length: int = option(128, "source tokens kept (longer inputs are truncated)", low=4, high=8192)
    max_target_length: int = option(32, "target tokens kept", low=2, high=4096)
    max_new_tokens: int = option(16, "tokens generated at evaluation (greedy)", low=1, high=1024)
    group_by_length: bool = option(True, "batch examples of similar length together (less padding)")
    eval_every: int = option(50, "steps between validation evaluations (0 = only at the end)", low=0)
    eval_batch_size: int = option(64, "sources per generation batch", low=1)
    max_eval_heads: int = option(0, "cap on validation heads per relation (0 = all)", low=0)
    max_test_heads: int = option(0, "cap on test heads per relation (0 = all)", low=0)
    select_best: bool = option(True, "keep the checkpoint with the best validation score and report its scores")
    qa_scoring: str = option(
        "both",
        "multiple-choice (QA) data: 'generate' (accuracy of the generated text matched to the nearest choice), "
        "'rank' or 'both' (also rank the choices by the model's likelihood: accuracy_ranked)",
        choices=("generate", "rank", "both"),
    )
    checkpoint_every: int = option(0, "steps between resumable checkpoints (0 = at evaluations and on stop)", low=0)
    save_model: bool = option(True, "save the trained weights / prompts / adapter in the run folder")
    keep_checkpoints: bool = option(
        False,
        "keep a finished run's checkpoints (weights and optimizer state, ~3-4x the trainable weights each); by "
        "default they are removed when it finishes (a stopped or failed run always keeps them, to resume)",
    )
    device: str = option("auto", DEVICE_HELP)
    threads: int | None = option(
        None,
        "torch CPU threads (unset: the cores this process may use; the GUI leaves one for the window)",
        low=1,
        high=256,
    )
    precision: str = option(
        "auto",
        "arithmetic of the forward and backward pass: auto (bf16 autocast on CUDA with bf16 support and MPS, fp16 "
        "on older CUDA, fp32 on CPU where bf16 measured slower), fp32, bf16, fp16 (CUDA: with loss scaling); the "
        "weights and the optimizer stay fp32",
        choices=PRECISIONS,
    )
    gradient_checkpointing: bool = option(
        False, "recompute activations in the backward pass instead of keeping them: less memory, ~30% more time"
    )
    prompt: PromptSettings = field(default_factory=PromptSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    objectives: dict[str, str] = option(factory=dict, help="per-relation objective decisions for mixed templates")
    name: str = option("", "a label for the run")

    def __post_init__(self) -> None:
        if isinstance(self.prompt, dict):
            self.prompt = from_dict(PromptSettings, self.prompt, where="prompt.")
        if isinstance(self.lora, dict):
            self.lora = from_dict(LoraSettings, self.lora, where="lora.")
        if isinstance(self.method, str):
            try:
                self.method = Method(self.method)
            except ValueError:
                raise ConfigError(f"unknown method '{self.method}'", "use finetune, prompt or lora") from None
        if self.shots is not None and self.shots < 1:
            raise ConfigError(f"shots must be at least 1, got {self.shots}", "use a whole number or full data")
        if self.batch_size % self.grad_accum:
            raise ConfigError(
                f"batch_size {self.batch_size} is not divisible by grad_accum {self.grad_accum}",
                "pick a batch size that is a multiple of grad_accum",
            )
        check_bounds(self)
        check_bounds(self.prompt, "prompt.")
        check_bounds(self.lora, "lora.")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, data)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        from mto_studio.core.data.sampling import shots_label
        from mto_studio.core.store.run_folder import template_label

        return (
            self.name or f"{template_label(self.template)} {self.method} k={shots_label(self.shots)} seed={self.seed}"
        )
