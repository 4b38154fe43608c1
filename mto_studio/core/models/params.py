"""A model's parameter count and size on disk without loading it: from the safetensors headers (exact: the shapes of
the tensors saved, tied weights saved once), else from config.json by formula (T5 and BART shapes)."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

#: a safetensors header larger than this is not read (real ones are well under 10 MB)
MAX_HEADER = 100_000_000
#: saved entries that are not parameters (the header's metadata; BART's logits bias is a buffer)
SKIPPED = frozenset({"__metadata__", "final_logits_bias", "model.final_logits_bias"})


def parameter_count(folder: str | os.PathLike) -> int | None:
    """The number of parameters of the model saved in ``folder``: exact from its safetensors files, else estimated
    from its config.json; None when neither can be read."""
    path = Path(folder)
    counted = safetensors_parameters(path)
    if counted is not None:
        return counted
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config_parameters(config) if isinstance(config, dict) else None


def safetensors_parameters(folder: Path) -> int | None:
    """The sum of the tensor sizes in the folder's safetensors weights (one file or the shards an index names)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        files = [folder / name for name in shards]
    else:
        files = [folder / "model.safetensors"]
    total = 0
    for file in files:
        counted = _header_parameters(file)
        if counted is None:
            return None
        total += counted
    return total


def _header_parameters(file: Path) -> int | None:
    try:
        with file.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) != 8:
                return None
            (length,) = struct.unpack("<Q", raw)
            if length > MAX_HEADER:
                return None
            header = json.loads(handle.read(length))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    return sum(
        math.prod(entry.get("shape", []))
        for name, entry in header.items()
        if name not in SKIPPED and isinstance(entry, dict)
    )


def config_parameters(config: dict) -> int | None:
    """An estimate of the parameter count from a T5/mT5 or BART/mBART config.json; None for other types."""
    model_type = str(config.get("model_type") or "")
    if model_type in ("t5", "mt5", "umt5"):
        return _t5_parameters(config)
    if model_type in ("bart", "mbart"):
        return _bart_parameters(config)
    return None


def _t5_parameters(c: dict) -> int:
    d, vocab = int(c.get("d_model", 512)), int(c.get("vocab_size", 32128))
    inner = int(c.get("num_heads", 8)) * int(c.get("d_kv", 64))
    d_ff = int(c.get("d_ff", 2048))
    ff = (3 if str(c.get("feed_forward_proj", "relu")).startswith("gated") else 2) * d * d_ff
    attention = 4 * d * inner
    enc_layers = int(c.get("num_layers", 6))
    dec_layers = int(c.get("num_decoder_layers") or enc_layers)
    bias = int(c.get("relative_attention_num_buckets", 32)) * int(c.get("num_heads", 8))
    encoder = enc_layers * (attention + ff + 2 * d) + d + bias
    decoder = dec_layers * (2 * attention + ff + 3 * d) + d + bias
    head = 0 if c.get("tie_word_embeddings", True) else vocab * d
    return vocab * d + encoder + decoder + head


def _bart_parameters(c: dict) -> int:
    d, vocab = int(c.get("d_model", 1024)), int(c.get("vocab_size", 50265))
    positions = (int(c.get("max_position_embeddings", 1024)) + 2) * d
    attention = 4 * (d * d + d)
    norm = 2 * d

    def ff(d_ff: int) -> int:
        return 2 * d * d_ff + d_ff + d

    enc_layers, dec_layers = int(c.get("encoder_layers", 12)), int(c.get("decoder_layers", 12))
    encoder = enc_layers * (attention + ff(int(c.get("encoder_ffn_dim", 4096))) + 2 * norm) + positions + norm
    decoder = dec_layers * (2 * attention + ff(int(c.get("decoder_ffn_dim", 4096))) + 3 * norm) + positions + norm
    if c.get("model_type") == "mbart":  # a final layer norm after each stack
        encoder, decoder = encoder + norm, decoder + norm
    return vocab * d + encoder + decoder


def folder_size(folder: str | os.PathLike) -> int:
    """Bytes on disk of the files in ``folder`` and below (links followed once; unreadable files count 0)."""
    total = 0
    for root, _dirs, files in os.walk(os.fspath(folder)):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total
