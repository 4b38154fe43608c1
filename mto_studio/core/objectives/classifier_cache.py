"""The classifier strategy's trained weights, cached in the user's cache folder (runtime.cache_dir(), or
$MTO_CACHE_DIR) so that it trains once, not on every analysis.

Keyed by everything the training depends on: the classifier's code version, the family and weights of the model it
fine-tunes (the embedded mto-tiny), its training pairs (hashed), steps and seed, and the torch version. Each part
(three folds and the full model) is one safetensors file, written atomically; a file that cannot be read or does
not fit the model is ignored (and replaced when the part is trained again)."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

#: bump when the classifier's training changes in a way its inputs do not show
CLASSIFIER_VERSION = 1

log = logging.getLogger(__name__)


def _embedded_fingerprint() -> tuple[str, str]:
    """(family key, sha256 of the embedded model's config and weights)."""
    from mto_studio.core.models.family import family_of_folder
    from mto_studio.core.models.loading import embedded_model_dir

    folder = embedded_model_dir()
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        path = folder / name
        if path.is_file():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return family_of_folder(folder).key, digest.hexdigest()


def classifier_key(steps: int, seed: int, pair_sets: list[list[tuple[str, str]]]) -> str:
    import torch

    family, weights = _embedded_fingerprint()
    data = hashlib.sha256(json.dumps(pair_sets, ensure_ascii=False).encode("utf-8")).hexdigest()
    parts = {
        "version": CLASSIFIER_VERSION,
        "family": family,
        "weights": weights,
        "data": data,
        "steps": steps,
        "seed": seed,
        "torch": torch.__version__.split("+")[0],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def classifier_cache_dir() -> Path:
    from mto_studio.core.runtime import cache_dir

    return cache_dir() / "objective-classifier"


def _unique_state(model) -> dict:
    """The state dict without tied aliases (the embedding shared with the head is kept once)."""
    seen: set[int] = set()
    out = {}
    for name, tensor in model.state_dict().items():
        if tensor.data_ptr() in seen:
            continue
        seen.add(tensor.data_ptr())
        out[name] = tensor
    return out


class ClassifierCache:
    """Load and save the classifier's parts (``fold0``… and ``full``) under one key."""

    def __init__(self, steps: int, seed: int, pair_sets: list[list[tuple[str, str]]]) -> None:
        self.key = classifier_key(steps, seed, pair_sets)
        self.folder = classifier_cache_dir() / self.key
        self.hits = 0
        self.misses = 0

    def path(self, part: str) -> Path:
        return self.folder / f"{part}.safetensors"

    def load(self, part: str):
        """The trained model of ``part``, or None when it is not cached (or its file is unreadable)."""
        from safetensors.torch import load as load_tensors

        from mto_studio.core.models.loading import load_seq2seq

        path = self.path(part)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            state = load_tensors(path.read_bytes())
            model, _ = load_seq2seq(None)
            if set(state) != set(_unique_state(model)):
                raise ValueError("the cached weights do not fit mto-tiny")
            model.load_state_dict(state, strict=False)  # tied aliases follow the weights they share
        except Exception as exc:  # a torn or foreign file: train again and replace it
            log.warning("ignoring the cached classifier %s: %s", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return model.eval()

    def held_out_accuracy(self, folds: int) -> float | None:
        """The folds' accuracy on the relations they did not see, when the folds and it were cached together."""
        if not all(self.path(f"fold{i}").is_file() for i in range(folds)):
            return None
        try:
            value = json.loads((self.folder / "held_out.json").read_text(encoding="utf-8"))["accuracy"]
            return float(value) if 0.0 <= float(value) <= 1.0 else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_held_out_accuracy(self, accuracy: float) -> None:
        from mto_studio.core.errors import MtoError
        from mto_studio.core.fsio import atomic_write_json

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.folder / "held_out.json", {"accuracy": accuracy})
        except (OSError, MtoError) as exc:
            log.warning("could not cache the classifier's accuracy in %s: %s", self.folder, exc)

    def save(self, part: str, model) -> None:
        """Write the part's weights atomically; a cache that cannot be written only costs the next run a retrain."""
        from safetensors.torch import save as save_tensors

        from mto_studio.core.errors import MtoError
        from mto_studio.core.fsio import atomic_write_bytes

        state = {name: tensor.detach().clone().contiguous() for name, tensor in _unique_state(model).items()}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path(part), save_tensors(state))
        except (OSError, MtoError) as exc:
            log.warning("could not cache the classifier in %s: %s", self.folder, exc)
