"""Checkpoints: the trainable weights, optimizer, scheduler, RNG states and loop position, written atomically
(a temporary folder renamed into place), so a crash never leaves a half-written checkpoint behind. A write that fails
(a full disk: DiskFullError) removes its temporary folder; those a killed process left are removed by
``remove_temporary`` when the next run starts in the folder. A run that finishes removes its checkpoints
(``remove_checkpoints``): they exist to resume, and its trained weights are saved apart."""

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
from mto_studio.core.fsio import DiskFullError, is_disk_full

STATE_FILE = "state.json"
WEIGHTS_FILE = "trainable.safetensors"
#: checkpoints kept by default; while the next one is written there is one more on disk
KEEP = 2
TEMPORARY = ".tmp-step-*"
#: what a checkpoint holds besides tensors (RNG states, scheduler, JSON, file headers), generously
CHECKPOINT_OVERHEAD = 200_000


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
    keep: int = KEEP,
    tensors: dict[str, torch.Tensor] | None = None,
    extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write ``folder/step-NNNNNNN`` atomically and keep the newest ``keep`` checkpoints (0 = all)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    final = folder / f"step-{step:07d}"
    tmp = folder / f".tmp-step-{step:07d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        save_file(tensors if tensors is not None else trainable_state(model), str(tmp / WEIGHTS_FILE))
        for name, group in (extra_tensors or {}).items():
            save_file(group, str(tmp / f"{name}.safetensors"))
        blob = {
            "optimizer": optimizer.state_dict() if optimizer else None,
            "scheduler": scheduler.state_dict() if scheduler else None,
            "rng": rng_state(),
        }
        # through a Python file object, so a full disk's OSError stays in the chain of torch's RuntimeError
        with open(tmp / "optimizer.pt", "wb") as handle:
            torch.save(blob, handle)
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, "time": time.time(), **(extra or {})}, indent=2))
        for path in tmp.iterdir():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            raise DiskFullError(
                f"the checkpoint of step {step}", final, "free disk space; the previous checkpoint is intact"
            ) from exc
        if isinstance(exc, OSError):
            raise MtoError(
                f"could not write checkpoint {final}: {exc.strerror or exc}",
                "check that the folder is writable; the previous checkpoint is intact",
            ) from exc
        raise
    if keep:
        for old in list_checkpoints(folder)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def remove_temporary(folder: str | Path) -> int:
    """Remove the temporary folders that checkpoint writes cut short (a killed process, a full disk) left in
    ``folder``; call it while holding the run's folder lock (no other writer is then mid-write). Returns how many."""
    removed = 0
    for tmp in Path(folder).glob(TEMPORARY):
        shutil.rmtree(tmp, ignore_errors=True)
        removed += not tmp.exists()
    return removed


def checkpoint_bytes(folder: str | Path) -> int:
    """Bytes the checkpoints in ``folder`` take now."""
    total = 0
    for path in Path(folder).glob("step-*/*"):
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def folder_bytes(folder: str | Path) -> int:
    """Bytes the files under ``folder`` take (0 when it does not exist)."""
    total = 0
    for path in Path(folder).rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            pass
    return total


def remove_checkpoints(folder: str | Path) -> int:
    """Remove ``folder`` (a finished run's checkpoints: weights, optimizer state, best weights, temporary writes)
    and return the bytes freed. What cannot be removed (a file held open on Windows) stays and is not counted."""
    folder = Path(folder)
    before = folder_bytes(folder)
    shutil.rmtree(folder, ignore_errors=True)
    return before - folder_bytes(folder)


def estimate_checkpoint_size(model: torch.nn.Module, *, moments: int = 2, best_copy: bool = True) -> int:
    """Bytes one checkpoint of ``model`` takes: its trainable weights, the optimizer's ``moments`` per weight (AdamW
    keeps two), a copy of the best weights when the run keeps one, and the rest (RNG states, headers)."""
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return trainable * (1 + moments + int(best_copy)) + CHECKPOINT_OVERHEAD


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
