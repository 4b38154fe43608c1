"""Prompt tuning: soft-prompt tokens at the template's soft-prompt slots, produced by a reparameterising
network (MLP, LSTM or a plain table), one prompt per relation, one shared, or both; the backbone stays frozen.

Sharing "both" (the method's shared + task prompts): the encoder holds one row per relation plus a last, shared row,
and every soft position j of an example of relation r gets ``prompt[r, j] + prompt[shared, j]``. Adding rather than
concatenating works with any template (prompt-sup has a single soft slot), keeps the prompt length the template
says (so the sharing modes compare at equal length), and sends every position's gradient to both parameter sets.
The shared row starts at zero, so training starts from exactly the per-relation prompts and learns the common part.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from mto_studio.core.errors import ModelError
from mto_studio.core.training.config import PROMPT_SHARING

if TYPE_CHECKING:
    from transformers import PreTrainedModel

PROMPT_WEIGHTS = "prompt.safetensors"
PROMPT_META = "prompt.json"


def prompt_rows(sharing: str, n_relations: int) -> int:
    """Rows of the prompt encoder: one shared, one per relation, or one per relation plus the shared one."""
    return {"shared": 1, "per-relation": n_relations, "both": n_relations + 1}[sharing]


def sharing_of(value: str | bool) -> str:
    """A sharing mode from the current name or the old ``shared`` flag (prompt folders saved before "both")."""
    if isinstance(value, bool):
        return "shared" if value else "per-relation"
    if value not in PROMPT_SHARING:
        raise ModelError(f"unknown prompt sharing '{value}'", f"use one of {', '.join(PROMPT_SHARING)}")
    return value


class PromptEncoder(nn.Module):
    """Produces soft-prompt embeddings [tasks, tokens, d_model] from trainable base embeddings."""

    def __init__(
        self,
        n_tasks: int,
        n_tokens: int,
        d_model: int,
        *,
        reparam: str = "mlp",
        hidden: int = 256,
        init: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.n_tasks, self.n_tokens, self.d_model, self.reparam = n_tasks, n_tokens, d_model, reparam
        #: the reparameterising network's hidden size (0 for a plain table)
        self.hidden = 0 if reparam == "table" else hidden
        base = init.clone() if init is not None else torch.zeros(n_tasks, n_tokens, d_model).uniform_(-0.5, 0.5)
        self.base = nn.Parameter(base)
        if reparam == "mlp":
            # residual MLP with a zero-initialised output: training starts from the initial embeddings
            out = nn.Linear(hidden, d_model)
            self.net = nn.Sequential(nn.Linear(d_model, hidden), nn.Tanh(), out)
            nn.init.zeros_(out.weight)
            nn.init.zeros_(out.bias)
        elif reparam == "lstm":
            self.lstm = nn.LSTM(d_model, hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * hidden, d_model)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        elif reparam != "table":
            raise ValueError(f"unknown reparameterisation {reparam}")

    def forward(self) -> torch.Tensor:
        if self.reparam == "mlp":
            return self.base + self.net(self.base)
        if self.reparam == "lstm":
            hidden, _ = self.lstm(self.base)
            return self.base + self.out(hidden)
        return self.base


def initial_prompts(
    kind: str,
    embeddings: torch.Tensor,
    n_tasks: int,
    n_tokens: int,
    phrase_ids: list[list[int]] | None,
    generator: torch.Generator,
) -> torch.Tensor:
    """Initial base embeddings: the relation phrase's token embeddings (cycled to length), random vocabulary
    rows, or uniform noise scaled to the embedding norm."""
    vocab, d_model = embeddings.shape
    if kind == "phrase" and phrase_ids:
        rows = []
        for ids in phrase_ids:
            ids = [i for i in ids if 0 <= i < vocab] or [0]
            cycled = [ids[j % len(ids)] for j in range(n_tokens)]
            rows.append(embeddings[cycled])
        return torch.stack(rows).detach().clone()
    if kind in ("vocab", "phrase"):
        picks = torch.randint(3, vocab, (n_tasks, n_tokens), generator=generator)
        return embeddings[picks].detach().clone()
    scale = float(embeddings.std())
    return (torch.rand(n_tasks, n_tokens, d_model, generator=generator) * 2 - 1) * scale


def embedding_weight(model: PreTrainedModel) -> torch.Tensor:
    """The model's input embedding matrix [vocab, d_model]."""
    weight = model.get_input_embeddings().weight
    assert isinstance(weight, torch.Tensor), "an embedding layer's weight is a tensor"
    return weight


class SoftPromptModel(nn.Module):
    """Wraps a frozen seq2seq model; ``embed(ids, tasks)`` returns encoder input embeddings in which every
    negative id -(j+1) is replaced by soft-prompt token j of the example's task (see the module doc for sharing)."""

    def __init__(
        self, model: PreTrainedModel, encoder: PromptEncoder, relations: list[str], sharing: str | bool
    ) -> None:
        super().__init__()
        self.model = model
        self.encoder = encoder
        self.relations = list(relations)
        self.sharing = sharing_of(sharing)
        want = prompt_rows(self.sharing, len(self.relations))
        if encoder.n_tasks != want:
            raise ModelError(
                f"{self.sharing} prompts for {len(self.relations)} relations need {want} prompt rows, "
                f"not {encoder.n_tasks}",
                "build the encoder with prompt_rows(sharing, relations)",
            )
        for p in self.model.parameters():
            p.requires_grad_(False)

    @property
    def shared(self) -> bool:
        """One prompt for all relations (the old flag)."""
        return self.sharing == "shared"

    def prompts(self) -> torch.Tensor:
        """The prompt each task index uses, [tasks, tokens, d] (a single row when shared)."""
        prompts = self.encoder()
        if self.sharing == "both":
            return prompts[:-1] + prompts[-1:]
        return prompts

    def embed(self, ids: torch.Tensor, tasks: torch.Tensor) -> torch.Tensor:
        soft = ids < 0
        embeddings = self.model.get_input_embeddings()(ids.clamp(min=0))
        if soft.any():
            prompts = self.prompts()  # [tasks, tokens, d]
            task_index = torch.zeros_like(tasks) if self.shared else tasks
            rows, cols = soft.nonzero(as_tuple=True)
            slots = (-ids[rows, cols] - 1).clamp(max=self.encoder.n_tokens - 1)
            embeddings = embeddings.clone()
            embeddings[rows, cols] = prompts[task_index[rows], slots].to(embeddings.dtype)
        return embeddings

    def save(self, folder: str | Path, *, base_model: str) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.encoder.state_dict().items()}
        tensors["embeddings"] = self.prompts().detach().cpu().contiguous()
        save_file(tensors, str(folder / PROMPT_WEIGHTS))
        meta = {
            "relations": self.relations,
            "sharing": self.sharing,
            "shared": self.shared,  # for readers older than "sharing"
            "n_tokens": self.encoder.n_tokens,
            "d_model": self.encoder.d_model,
            "reparam": self.encoder.reparam,
            "base_model": base_model,
            "hidden": self.encoder.hidden,
        }
        (folder / PROMPT_META).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path, model: PreTrainedModel) -> SoftPromptModel:
        """Reload saved prompts onto ``model`` (the same base model they were trained with). Folders saved before
        sharing modes existed carry only ``shared`` and load as shared or per-relation prompts."""
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / PROMPT_META).read_text())
            tensors = load_file(str(folder / PROMPT_WEIGHTS))
            sharing = sharing_of(meta.get("sharing", bool(meta.get("shared", False))))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read soft prompts in {folder}: {exc}", "pick a run's prompt folder") from exc
        d_model = embedding_weight(model).shape[1]
        if d_model != meta["d_model"]:
            raise ModelError(
                f"these prompts were trained for a model with d_model {meta['d_model']}, not {d_model}",
                f"load them onto {meta['base_model']}",
            )
        n_tasks = prompt_rows(sharing, len(meta["relations"]))
        encoder = PromptEncoder(n_tasks, meta["n_tokens"], d_model, reparam=meta["reparam"], hidden=meta["hidden"])
        tensors.pop("embeddings")
        encoder.load_state_dict(tensors)
        return cls(model, encoder, meta["relations"], sharing)
