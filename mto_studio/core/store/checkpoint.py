"""Checkpoints: the trainable weights, optimizer, scheduler, RNG states and loop position, written atomically
(a temporary folder renamed into place), so a crash never leaves a half-written checkpoint behind."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mto_studio.core.errors import MtoError

STATE_FILE = "state.json"
WEIGHTS_FILE = "trainable.safetensors"


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that training changes (all of them for fine-tuning; prompts or adapters otherwise)."""
    return {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def save_checkpoint(
    folder: str | Path,
    *,
    step: int,
    model: torch.nn.Module,
    optimizer=None,
    scheduler=None,
    extra: dict[str, Any] | None = None,
    keep: int = 2,
    tensors: dict[str, torch.Tensor] | None = None,
    extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``folder/step-NNNNNNN`` atomically and keep the newest ``keep`` checkpoints (0 = all)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:07d}"
    tmp = folder / f".tmp-step-{step:07d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_file(tensors if tensors is not None else trainable_state(model), str(tmp / WEIGHTS_FILE))
        for name, group in (extra_tensors or {}).items():
            save_file(group, str(tmp / f"{name}.safetensors"))
        torch.save(
            {
                "optimizer": optimizer.state_dict() if optimizer else None,
                "scheduler": scheduler.state_dict() if scheduler else None,
                "rng": rng_state(),
            },
            tmp / "optimizer.pt",
        )
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, "time": time.time(), **(extra or {})}, indent=2))
        for path in tmp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MtoError(
            f"could not write checkpoint {final}: {exc.strerror or exc}",
            "free disk space; the previous checkpoint is intact",
        ) from exc
    if keep:
        for old in list_checkpoints(folder)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    done = [p for p in folder.glob("step-*") if (p / STATE_FILE).is_file() and (p / WEIGHTS_FILE).is_file()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(folder: str | Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(
    path: str | Path, *, model: torch.nn.Module, optimizer=None, scheduler=None, restore_rng: bool = True
) -> dict[str, Any]:
    """Load weights (strictly: every saved tensor must fit the model), optimizer, scheduler and RNG; returns
    the saved state (step and extras)."""
    from safetensors.torch import load_file

    path = Path(path)
    weights = load_file(str(path / WEIGHTS_FILE))
    params = dict(model.named_parameters())
    missing = [k for k in weights if k not in params]
    if missing:
        raise MtoError(
            f"checkpoint {path.name} does not fit this model (e.g. '{missing[0]}')",
            "resume with the same model and method the run started with",
        )
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor.to(params[name].device, params[name].dtype))
    blob = torch.load(path / "optimizer.pt", weights_only=False)
    if optimizer is not None and blob.get("optimizer"):
        optimizer.load_state_dict(blob["optimizer"])
    if scheduler is not None and blob.get("scheduler"):
        scheduler.load_state_dict(blob["scheduler"])
    if restore_rng:
        set_rng_state(blob["rng"])
    state = json.loads((path / STATE_FILE).read_text())
    state["extra_tensors"] = {p.stem: load_file(str(p)) for p in path.glob("*.safetensors") if p.name != WEIGHTS_FILE}
    return state
