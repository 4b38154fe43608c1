"""The local Hugging Face cache: where it is, a hub id's cached snapshot folder, and the encoder-decoders it holds.

The cache's place is read from the environment at each call (``HF_HUB_CACHE``, else ``HF_HOME``/hub, …), not from
``huggingface_hub.constants``, which fixes it when the library is first imported."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: model types whose models are encoder-decoders (configs that do not say ``is_encoder_decoder`` themselves)
SEQ2SEQ_TYPES = frozenset({"t5", "mt5", "umt5", "longt5", "bart", "mbart", "marian", "pegasus", "pegasus_x",
                           "bigbird_pegasus", "led", "plbart", "m2m_100", "nllb-moe", "blenderbot",
                           "blenderbot-small", "fsmt", "prophetnet", "mvp", "switch_transformers",
                           "encoder-decoder"})  # fmt: skip


def hub_cache_dir() -> Path:
    """The folder huggingface_hub caches models in, honouring HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE and HF_HOME."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return Path(os.path.expandvars(os.environ[name])).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.path.expandvars(os.environ["HF_HOME"])).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def cached_snapshot(repo_id: str, cache_dir: Path | None = None) -> Path | None:
    """The snapshot folder of ``repo_id`` in the cache (the one ``refs/main`` names, else the newest that holds a
    config.json), or None when the model is not cached or ``repo_id`` is not a hub id."""
    from huggingface_hub import try_to_load_from_cache

    cache = cache_dir or hub_cache_dir()
    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=cache)
    except Exception:  # not a valid hub id (HFValidationError), or an unreadable cache
        return None
    if isinstance(found, str):
        return Path(found).parent
    snapshots = cache / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    try:
        folders = [p for p in snapshots.iterdir() if (p / "config.json").is_file()]
    except OSError:
        return None
    return max(folders, key=lambda p: p.stat().st_mtime) if folders else None


@dataclass(frozen=True)
class CachedModel:
    """An encoder-decoder in the local Hugging Face cache."""

    repo_id: str
    folder: Path  #: the snapshot folder (loads offline)
    size_bytes: int  #: the repository's size on disk (all its cached revisions)
    model_type: str  #: the config's model_type (t5, mt5, bart, …)


def cached_models(cache_dir: Path | None = None) -> list[CachedModel]:
    """The encoder-decoder models in the local Hugging Face cache, by repo id. Reads each snapshot's config.json
    only (no weights, no transformers import); an empty list when there is no cache."""
    from huggingface_hub import scan_cache_dir

    cache = cache_dir or hub_cache_dir()
    if not cache.is_dir():
        return []
    try:
        info = scan_cache_dir(cache)
    except Exception:  # CacheNotFound, or a cache this user cannot read
        return []
    found = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        folder = cached_snapshot(repo.repo_id, cache)
        model_type = _seq2seq_type(folder / "config.json") if folder else None
        if folder and model_type:
            found.append(CachedModel(repo.repo_id, folder, repo.size_on_disk, model_type))
    return sorted(found, key=lambda m: m.repo_id.lower())


def _seq2seq_type(config_file: Path) -> str | None:
    """The model_type of an encoder-decoder's config.json, or None (not one, or unreadable)."""
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    model_type = str(config.get("model_type") or "")
    if config.get("is_encoder_decoder") is True or model_type in SEQ2SEQ_TYPES:
        return model_type or "unknown"
    return None
